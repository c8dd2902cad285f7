"""What a monitored version is compared with: its development sample, decided by the version itself.

The version's files come through the deployment gate's checks (`check_deployable`: the trail
records it approved, its manifest hashes to the value signed at registration) and its verified
local copy; the development sample is the feature table its run records in `inputs.json` (a
manifest-checked artifact), read only when the file still has the SHA-256 recorded there. The
sample's rows of the product's scope and of `monitoring.reference_splits` are decided by the
version's own decision engine, so the production decisions and the reference come from the same
code and model: score, grade, decision and reasons alike.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Reference", "ReferenceUnavailable", "load_reference"]


class ReferenceUnavailable(ValueError):
    """The monitored version's development sample cannot be read or does not match its record."""


@dataclass
class Reference:
    """The monitored version and its development sample.

    Attributes
    ----------
    model, version, run_id : the registered version.
    product : the product (params/products/<product>.yaml) of the version.
    engine : the version's `DecisionEngine`, from its verified local copy.
    catalog : the feature catalog (FeatureSpec list).
    features : the model's input features, in order.
    sample : the development rows of the product's scope (key columns and features).
    decisions : the engine's decisions on `sample` (the model's output columns).
    importance : feature -> share of the mean absolute log-odds contribution on `sample`.
    development_auc : the AUC at initial validation (validation.json's development_auc).
    n_grades : grades of the master scale.
    features_path, features_sha256 : the development feature table and its recorded digest.
    """

    model: str
    version: str
    run_id: str
    product: str
    engine: object
    catalog: list
    features: list[str]
    sample: pd.DataFrame
    decisions: pd.DataFrame
    importance: pd.Series
    development_auc: float
    n_grades: int
    features_path: Path
    features_sha256: str
    splits: tuple[str, ...] = ()
    kinds: dict = field(default_factory=dict)

    @property
    def scored(self) -> np.ndarray:
        return (self.decisions["grade"] > 0).to_numpy()


_CACHE: dict = {}


def load_reference(tracking_uri: str, model: str, version, product: str, splits=("train", "holdout"),
                   application_products=()) -> Reference:
    """The version and its development sample (see the module's description).

    Within one process a version's reference is built once (the gate is asked every time: a version
    refused since is refused here too).

    Raises
    ------
    creditmine.registry.gate.DeploymentRefused : the version is not approved, or its files changed.
    ReferenceUnavailable : the development feature table is gone or changed since registration.
    """
    from creditmine.registry.gate import check_deployable

    deployable = check_deployable(model, version, tracking_uri, monitoring_block=False)
    key = (tracking_uri, model, str(version), deployable.manifest_hash, tuple(splits), tuple(application_products))
    if key in _CACHE:
        return _CACHE[key]
    _CACHE[key] = reference = _build(deployable, model, version, product, splits, application_products)
    return reference


def _build(deployable, model, version, product, splits, application_products) -> Reference:
    from creditmine.decision.inputs import validate_applications
    from creditmine.decision.model import DecisionEngine
    from creditmine.registry import manifest as mf

    local = deployable.local_copy()
    data = next((p.parent for p in sorted(local.rglob("config.json"))), None)
    if data is None:
        raise ReferenceUnavailable(f"{model} version {version}: the decision model has no data folder")
    engine = DecisionEngine.from_folder(data)
    registry = deployable.registry
    with tempfile.TemporaryDirectory(prefix="creditmine-monitor-") as tmp:
        files = {}
        for name in ("inputs.json", "04_validate/validation.json"):
            path = registry.download(f"{registry.run_artifact_uri(deployable.run_id)}/{name}", Path(tmp) / name.replace("/", "_"))
            path = path if path.is_file() else next(path.rglob(Path(name).name))
            recorded = _manifest_sha(deployable.manifest, name)
            if recorded is not None and mf.file_sha256(path) != recorded:
                raise ReferenceUnavailable(f"{model} version {version}: {name} no longer matches the manifest")
            files[name] = json.loads(path.read_text(encoding="utf-8"))
    features_entry = next((i for i in files["inputs.json"] if i.get("name") == "features"), None)
    if features_entry is None:
        raise ReferenceUnavailable(f"{model} version {version}: its run records no feature table in inputs.json")
    features_path = Path(features_entry["path"])
    if not features_path.is_file():
        raise ReferenceUnavailable(f"{features_path}: the development feature table of {model} version {version} "
                              f"(run {deployable.run_id}, inputs.json) is not on this machine")
    if mf.file_sha256(features_path) != features_entry["sha256"]:
        raise ReferenceUnavailable(f"{features_path}: changed since {model} version {version} was registered "
                              f"(its SHA-256 differs from the one in the run's inputs.json)")
    table = pd.read_parquet(features_path)
    keep = table["split"].isin(splits).to_numpy().copy()
    if application_products:
        keep &= table["product"].isin(application_products).to_numpy()
    sample = table[keep].drop(columns=["split"]).reset_index(drop=True)
    if not len(sample):
        raise ReferenceUnavailable(f"{features_path}: no development rows of splits {', '.join(splits)} "
                              f"in the product's scope")
    decisions = engine.decide(sample)
    batch = validate_applications(sample, engine.input_spec)
    valid = batch.valid
    columns = {k: v[valid] for k, v in batch.columns.items()}
    _, contributions = engine.pd_and_contributions(columns)
    magnitude = np.abs(contributions).mean(axis=0)
    importance = pd.Series(magnitude / magnitude.sum() if magnitude.sum() > 0 else magnitude,
                           index=[str(f) for f in engine.reason_coder.features_]).sort_values(ascending=False)
    validation = files["04_validate/validation.json"]
    dev_auc = validation.get("development_auc", validation.get("metrics", {}).get("development_auc"))
    catalog = engine.catalog
    return Reference(
        model=model, version=str(version), run_id=deployable.run_id, product=product, engine=engine,
        catalog=catalog, features=list(engine.input_spec.feature_names), sample=sample, decisions=decisions,
        importance=importance, development_auc=float(dev_auc) if dev_auc is not None else float("nan"),
        n_grades=int(len(engine.credit_model.master_scale_)), features_path=features_path,
        features_sha256=features_entry["sha256"], splits=tuple(splits),
        kinds={s.name: s.kind for s in catalog},
    )


def _manifest_sha(manifest: dict, name: str) -> str | None:
    entry = (manifest.get("files") or {}).get(name)
    if isinstance(entry, dict):
        return entry.get("sha256")
    return entry
