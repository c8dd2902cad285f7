"""Params YAML -> validated, immutable configuration of one pipeline run.

Every stage reads its settings from here and nowhere else. `load` fails fast with a one-line
message naming the file and the key, before any stage runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from creditmine.config.base import Section
from creditmine.config.data import DataParams, SyntheticParams, TabularParams
from creditmine.config.explain import ExplainParams
from creditmine.config.features import FeatureParams
from creditmine.config.monitoring import MonitoringParams, ProductionParams
from creditmine.config.models import (
    CalibrationParams, GbmParams, MasterScaleParams, ModelParams, ScaleParams, ScorecardParams, SearchSpace,
)
from creditmine.config.policy import LimitRule, PolicyParams
from creditmine.config.products import ProductParams
from creditmine.config.split import SplitParams
from creditmine.config.tracking import TrackingParams
from creditmine.config.validation import Thresholds, ValidationParams

__all__ = [
    "CalibrationParams", "ConfigError", "DataParams", "ExplainParams", "FeatureParams", "GbmParams",
    "LimitRule", "MasterScaleParams", "ModelParams", "MonitoringParams", "Params", "PolicyParams", "ProductParams",
    "ProductionParams", "RunConfig", "ScaleParams", "ScorecardParams", "SearchSpace", "SplitParams", "SyntheticParams",
    "TabularParams", "Thresholds", "TrackingParams", "ValidationParams", "load", "project_root",
    "resolve_tracking_env", "resolve_tracking_uri",
]


class ConfigError(ValueError):
    """A params file is missing, unreadable or invalid; the message is one line."""


class Params(Section):
    """The whole params file."""

    name: str = Field("default", pattern=r"^[A-Za-z0-9_.-]+$", description="names this configuration")
    seed: int = 42
    products: tuple[str, ...] = Field(
        ..., min_length=1, description="product names, each defined in params/products/<name>.yaml"
    )
    data: DataParams = DataParams()
    features: FeatureParams = FeatureParams()
    split: SplitParams = SplitParams()
    models: ModelParams = ModelParams()
    explain: ExplainParams = ExplainParams()
    validation: ValidationParams = ValidationParams()
    mlflow: TrackingParams = TrackingParams()
    monitoring: MonitoringParams = MonitoringParams()


@dataclass(frozen=True)
class RunConfig:
    """A validated params file bound to a project root and a run name."""

    params: Params
    params_path: Path
    root: Path
    run_name: str
    products: dict[str, ProductParams] = field(default_factory=dict)

    # -- derived locations (runs/, reports/, data/ and mlruns/ are git-ignored) --
    @property
    def run_dir(self) -> Path:
        return self.root / "runs" / self.run_name

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports" / self.run_name

    @property
    def data_dir(self) -> Path:
        """Where the raw tables of this configuration live (shared by runs with equal data params)."""
        if self.params.data.source == "files":
            return self.resolve(self.params.data.files_dir)
        return self.root / "data" / f"{self.params.data.source}-{self.data_hash}"

    def resolve(self, path: str | os.PathLike) -> Path:
        """A path from the params, relative to the project root."""
        p = Path(path)
        return p if p.is_absolute() else (self.root / p).resolve()

    def product(self, name: str) -> ProductParams:
        try:
            return self.products[name]
        except KeyError:
            raise ConfigError(
                f"unknown product '{name}'; {self.params_path} defines {', '.join(self.products)}"
            ) from None

    @property
    def tracking_uri(self) -> str:
        """Params first, then MLFLOW_TRACKING_URI, then the embedded SQLite store; a relative path
        in either (``sqlite:///mlruns/mlflow.db``, ``mlruns``) is resolved against the project root,
        so every command and notebook, wherever it runs, uses one store."""
        if self.params.mlflow.tracking_uri:
            return resolve_tracking_uri(self.params.mlflow.tracking_uri, self.root)
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return resolve_tracking_uri(os.environ["MLFLOW_TRACKING_URI"], self.root)
        return f"sqlite:///{(self.root / 'mlruns' / 'mlflow.db').as_posix()}"

    @property
    def artifact_location(self) -> str:
        return self.resolve(self.params.mlflow.artifact_location).as_uri()

    @property
    def params_hash(self) -> str:
        return _digest(self.params.model_dump(mode="json"), {k: v.model_dump(mode="json") for k, v in self.products.items()})

    @property
    def data_hash(self) -> str:
        return _digest(self.params.data.model_dump(mode="json"), self.params.seed)[:12]


def load(params_file: str | os.PathLike, run_name: str | None = None, root: str | os.PathLike | None = None) -> RunConfig:
    """Load and validate a params file and the product files it names.

    Parameters
    ----------
    params_file : path of the YAML file.
    run_name : names runs/<run_name>/ and reports/<run_name>/; the params' `name` when absent.
    root : project root; by default the parent of the `params/` folder holding the file, else the
        current directory.
    """
    path = Path(params_file)
    raw = _read_yaml(path)
    params = _validate(Params, raw, path)
    product_dir = path.resolve().parent / "products"
    products = {}
    for name in params.products:
        product_file = product_dir / f"{name}.yaml"
        if not product_file.is_file():
            raise ConfigError(f"{path}: product '{name}' has no file {product_file}: create it (at least "
                              f"`name: {name}`; `creditmine init` writes one) or drop '{name}' from `products`")
        product = _validate(ProductParams, _read_yaml(product_file), product_file)
        if product.name != name:
            raise ConfigError(f"{product_file}: name '{product.name}' does not match the file name '{name}'")
        products[name] = product
    if root is None:
        parent = path.resolve().parent
        root = parent.parent if parent.name == "params" else Path.cwd()
    return RunConfig(
        params=params,
        params_path=path,
        root=Path(root).resolve(),
        run_name=run_name or params.name,
        products=products,
    )


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
TRACKING_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def resolve_tracking_uri(uri: str, root: str | os.PathLike) -> str:
    """An MLflow store URI whose relative path is made absolute against `root`.

    ``sqlite:///mlruns/mlflow.db`` -> ``sqlite:////<root>/mlruns/mlflow.db``; ``file:mlruns`` and a
    plain ``mlruns`` likewise; absolute paths and server URIs (http, https, databricks, ...) are
    returned unchanged.
    """
    if not uri:
        return uri
    root = Path(root)
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if not path or path.startswith("/") or path.startswith(":memory:") or re.match(r"^[A-Za-z]:[/\\]", path):
            return uri
        return f"sqlite:///{(root / path).resolve().as_posix()}"
    if uri.startswith("file:"):
        rest = uri[len("file:"):]
        if rest.startswith("/"):
            return uri
        return (root / rest).resolve().as_uri()
    if (_SCHEME.match(uri) and not re.match(r"^[A-Za-z]:[/\\]", uri)) or uri in ("databricks", "databricks-uc"):
        return uri
    path = Path(uri).expanduser()
    return str(path if path.is_absolute() else (root / path).resolve())


def resolve_tracking_env(root: str | os.PathLike) -> None:
    """Rewrite MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI, when set to a relative path, as absolute
    against `root`, so that subprocesses (papermill kernels running in notebooks/) and MLflow itself
    see the same store."""
    for name in TRACKING_ENV:
        value = os.environ.get(name)
        if value:
            os.environ[name] = resolve_tracking_uri(value, root)


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above `start` (the current directory) holding pyproject.toml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "params").is_dir():
            return folder
    return here


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML ({first_line})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top, got {type(data).__name__}")
    return data


def _validate(model: type[Section], raw: dict, path: Path):
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """The errors of a ValidationError on one line, each naming its dotted key."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{key}'")
        elif err["type"] == "missing":
            parts.append(f"missing key '{key}'")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            parts.append(f"key '{key}': {err['msg']}{shown}")
    return "; ".join(parts)


def _digest(*objects) -> str:
    blob = json.dumps(objects, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()
