"""Stage 05 in MLflow: one run per pipeline execution and product, with lineage, and its registration.

`log_pipeline_run` gathers what stages 01-04 wrote (see docs/architecture.md, "Stage outputs") into
one MLflow run: params, every metric, the executed notebooks and HTML reports, the scorecard table,
the data dictionary, the model card, the input tables with their SHA-256 digests, the git commit and
whether the tree was dirty, and `manifest.json`, the SHA-256 of every artifact. `register_version`
then registers the decision model logged into that run as a new version of `creditmine-<product>`,
extends the manifest with the model's own files, and records the registration in the audit trail.

Artifact layout of a run::

    manifest.json                 sha256 of every file below (and of the model's, under model/)
    inputs.json                   the input tables: path, rows, sha256
    config/params.yaml, config/product.yaml, config/policy.json
    01_build_features/ data_dictionary.csv catalog.json profile.json
    02_train/ models.json scorecard_table.csv master_scale.csv train_metrics.json scores.parquet
    03_explain/ explain.json plots/*.png
    04_validate/ validation.json model_card.md model_card.html plots/*.png
    reports/ 01_build_features.{ipynb,html} <product>/0N_<stage>.{ipynb,html}

Stage 05's own notebook and HTML cannot be in the manifest before stage 05 finishes: the pipeline
adds them afterwards with `attach_reports`, which logs them, extends the manifest, updates the
version's `manifest_hash` tag and records an `amend-manifest` entry in the audit trail (allowed only
while the version is pending review).

Several pipeline runs may share one embedded SQLite store: the store's first use (schema creation)
and every registry write run under a file lock beside the database (`store_lock`), and writes that
still meet "database is locked" are retried (`with_retries`).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

from filelock import FileLock

from creditmine.config import RunConfig
from creditmine.config.tracking import TrackingParams
from creditmine.registry import audit, manifest as mf

ENV_DEVELOPER = "CREDITMINE_DEVELOPER"
CHAMPION, PREVIOUS_CHAMPION = "champion", "previous-champion"
# version tags written at registration and by the review actions
TAG_STATE, TAG_VERDICT, TAG_MANIFEST = "review_state", "validation_verdict", "manifest_hash"
TAG_DEVELOPER, TAG_REVIEWER, TAG_COMMENT = "developer", "reviewer", "review_comment"
TAG_REVIEWED_AT, TAG_PRIMARY = "reviewed_at", "primary_model"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
MODEL_PREFIX = "model/"
# written by MLflow into a downloaded copy of a registered model, not stored with it
_DOWNLOAD_ONLY = ("registered_model_meta",)

# stage outputs copied into the run: (stage, file, required)
_STAGE_FILES = (
    ("01_build_features", "data_dictionary.csv", False),
    ("01_build_features", "catalog.json", False),
    ("01_build_features", "profile.json", False),
    ("02_train", "models.json", True),
    ("02_train", "scorecard_table.csv", False),
    ("02_train", "master_scale.csv", False),
    ("02_train", "train_metrics.json", False),
    ("02_train", "scores.parquet", True),
    ("03_explain", "explain.json", False),
    ("04_validate", "validation.json", True),
    ("04_validate", "model_card.md", True),
    ("04_validate", "model_card.html", False),
)
_PLOT_STAGES = ("03_explain", "04_validate")
_MAX_PARAM_CHARS = 6000
_BATCH = 100


def log_pipeline_run(cfg: RunConfig, product: str) -> str:
    """Log stages 01-04 of one product into a new MLflow run (stage 05's first half).

    Parameters
    ----------
    cfg : the validated run configuration (its `tracking_uri`, `artifact_location`, stage dirs).
    product : a product of `cfg.products`.

    Returns
    -------
    str, the MLflow run id (the run is left FINISHED; later logging may resume it).

    Raises
    ------
    FileNotFoundError naming a required stage output that is missing.
    """
    from mlflow.entities import Metric, Param, RunTag

    cfg.product(product)
    settings = cfg.params.mlflow
    validation = _read_json(cfg.stage_dir("04_validate", product) / "validation.json")
    models_meta = _read_json(cfg.stage_dir("02_train", product) / "models.json")
    primary = models_meta.get("primary") or cfg.primary_model(product)
    commit, dirty = git_state(cfg.root)

    with tempfile.TemporaryDirectory(prefix="creditmine-run-") as tmp:
        staging = Path(tmp)
        _stage_artifacts(cfg, product, staging)
        inputs = _input_tables(cfg)
        (staging / "inputs.json").write_text(json.dumps(inputs, indent=1) + "\n", encoding="utf-8")
        manifest = mf.build_manifest(staging)
        manifest_hash = mf.write_manifest(manifest, staging / mf.MANIFEST_FILE)

        client = connect(cfg.tracking_uri, settings)
        experiment_id = ensure_experiment(client, experiment_name(cfg, product), cfg, settings)
        tags = {
            "mlflow.source.git.commit": commit or "",
            "git_commit": commit or "unknown",
            "git_dirty": str(dirty).lower(),
            "run_name": cfg.run_name,
            "product": product,
            "params_file": str(cfg.params_path),
            "params_hash": cfg.params_hash,
            TAG_PRIMARY: primary,
            TAG_VERDICT: str(validation.get("verdict", "unknown")),
            TAG_MANIFEST: manifest_hash,
            TAG_DEVELOPER: developer_identity(cfg.root),
        }
        for name, light in _lights(validation).items():
            tags[f"light.{name}"] = light
        run = with_retries(
            lambda: client.create_run(experiment_id, run_name=f"{cfg.run_name}-{product}", tags=tags), settings
        )
        run_id = run.info.run_id
        params = _flat_params(cfg, product)
        metrics = _run_metrics(cfg, product, validation, primary)
        now = int(time.time() * 1000)
        param_items = [Param(k, v) for k, v in params.items()]
        metric_items = [Metric(k, v, now, 0) for k, v in metrics.items()]
        for start in range(0, max(len(param_items), len(metric_items)), _BATCH):
            with_retries(lambda s=start: client.log_batch(
                run_id, metrics=metric_items[s:s + _BATCH], params=param_items[s:s + _BATCH]
            ), settings)
        with_retries(lambda: client.log_batch(run_id, tags=[RunTag("mlflow.note.content", _run_note(validation, cfg, product))]), settings)
        _log_inputs(client, run_id, inputs, settings)
        client.log_artifacts(run_id, str(staging))
        with_retries(lambda: client.set_terminated(run_id, "FINISHED"), settings)
    return run_id


def register_version(cfg: RunConfig, product: str, run_id: str, model_uri: str, developer: str | None = None):
    """Register the model logged in `run_id` as a new version of `creditmine-<product>`, pending review.

    The run's manifest is extended with the model's files (under ``model/``); the version gets the
    model card as its description and the tags `validation_verdict`, `review_state` (``pending``),
    `manifest_hash`, `developer` and `primary_model`; no alias is touched. The registration is the
    version's first audit-trail entry, and `05_register/registration.json` records run id, model
    name, version and manifest hash.

    Parameters
    ----------
    cfg, product : as for `log_pipeline_run`.
    run_id : the run returned by `log_pipeline_run`.
    model_uri : the logged model (``models:/m-...`` as returned by ``log_model``, or ``runs:/...``).
    developer : who built the model; ``CREDITMINE_DEVELOPER``, the git user or the OS user when None.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
    """
    settings = cfg.params.mlflow
    client = connect(cfg.tracking_uri, settings)
    run = client.get_run(run_id)
    name = model_name(cfg, product)
    developer = developer or developer_identity(cfg.root)
    model_card = (cfg.stage_dir("04_validate", product) / "model_card.md").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="creditmine-reg-") as tmp:
        tmp = Path(tmp)
        run_manifest = mf.read_manifest(_download(client, run_id, mf.MANIFEST_FILE, tmp / "run"))
        model_dir = _download_model(model_uri, tmp / "model", cfg.tracking_uri)
        model_manifest = mf.build_manifest(model_dir, prefix=MODEL_PREFIX, exclude=(mf.MANIFEST_FILE, *_DOWNLOAD_ONLY))
        full = mf.merge(run_manifest, model_manifest)
        manifest_hash = mf.write_manifest(full, tmp / mf.MANIFEST_FILE)
        client.log_artifact(run_id, str(tmp / mf.MANIFEST_FILE))
    with_retries(lambda: client.set_tag(run_id, TAG_MANIFEST, manifest_hash), settings)
    tags = {
        TAG_VERDICT: run.data.tags.get(TAG_VERDICT, "unknown"),
        TAG_STATE: PENDING,
        TAG_MANIFEST: manifest_hash,
        TAG_DEVELOPER: developer,
        TAG_PRIMARY: run.data.tags.get(TAG_PRIMARY, ""),
        "product": product,
        "run_name": cfg.run_name,
    }
    model_id = model_uri[len("models:/"):] if model_uri.startswith("models:/m-") else None
    with store_lock(cfg.tracking_uri, settings):
        if not _exists(lambda: client.get_registered_model(name)):
            with_retries(lambda: client.create_registered_model(
                name, description=f"Credit model of the product '{product}' (creditmine); review with `creditmine review`."
            ), settings)
        version = with_retries(lambda: client.create_model_version(
            name, source=model_uri, run_id=run_id, tags=tags, description=model_card, model_id=model_id
        ), settings)
        audit.append(
            cfg.tracking_uri, "register", name, version.version, developer,
            comment=f"registered from run {run_id} ({cfg.run_name})",
            details={"run_id": run_id, "manifest_hash": manifest_hash, "verdict": tags[TAG_VERDICT],
                     "model_uri": model_uri, "git_commit": run.data.tags.get("git_commit", "unknown")},
            client=client, lock_timeout_s=settings.lock_timeout_s,
        )
    out = cfg.stage_dir("05_register", product)
    out.mkdir(parents=True, exist_ok=True)
    (out / "registration.json").write_text(json.dumps({
        "run_id": run_id, "model_name": name, "version": int(version.version),
        "manifest_hash": manifest_hash, "tracking_uri": cfg.tracking_uri,
    }, indent=1) + "\n", encoding="utf-8")
    return client.get_model_version(name, version.version)


def attach_reports(cfg: RunConfig, product: str, run_id: str, paths) -> str:
    """Log stage 05's executed notebook and HTML report into its run and extend the manifest.

    Each file is logged under ``reports/`` at its path relative to `cfg.reports_dir` (its name
    alone when outside). The versions registered from the run get the new `manifest_hash` tag and an
    `amend-manifest` audit entry. Refused (ValueError) once a version of the run has left review
    state ``pending``: an approved version's artifacts never change.

    Returns
    -------
    str, the new manifest hash.
    """
    settings = cfg.params.mlflow
    client = connect(cfg.tracking_uri, settings)
    versions = client.search_model_versions(f"run_id='{run_id}'")
    for v in versions:
        if v.tags.get(TAG_STATE) != PENDING:
            raise ValueError(f"{v.name} version {v.version} is {v.tags.get(TAG_STATE)}; its artifacts can no longer change")
    with tempfile.TemporaryDirectory(prefix="creditmine-att-") as tmp:
        tmp = Path(tmp)
        staging = tmp / "stage"
        for path in map(Path, paths):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: report to attach not found")
            try:
                relative = path.resolve().relative_to(cfg.reports_dir.resolve()).as_posix()
            except ValueError:
                relative = path.name
            target = staging / "reports" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        current = mf.read_manifest(_download(client, run_id, mf.MANIFEST_FILE, tmp / "run"))
        full = mf.merge(current, mf.build_manifest(staging))
        manifest_hash = mf.write_manifest(full, staging / mf.MANIFEST_FILE)
        client.log_artifacts(run_id, str(staging))
    with_retries(lambda: client.set_tag(run_id, TAG_MANIFEST, manifest_hash), settings)
    for v in versions:
        with store_lock(cfg.tracking_uri, settings):
            with_retries(lambda v=v: client.set_model_version_tag(v.name, v.version, TAG_MANIFEST, manifest_hash), settings)
            audit.append(
                cfg.tracking_uri, "amend-manifest", v.name, v.version, v.tags.get(TAG_DEVELOPER, "pipeline"),
                comment="stage 05 reports attached",
                details={"manifest_hash": manifest_hash, "added": sorted(set(full["files"]) - set(current["files"]))},
                client=client, lock_timeout_s=settings.lock_timeout_s,
            )
    return manifest_hash


def manifest_table(cfg: RunConfig, run_id: str):
    """The run's manifest as a DataFrame: artifact path, sha256 (hex), top folder; sorted by path."""
    import pandas as pd

    client = connect(cfg.tracking_uri, cfg.params.mlflow)
    with tempfile.TemporaryDirectory(prefix="creditmine-man-") as tmp:
        manifest = mf.read_manifest(_download(client, run_id, mf.MANIFEST_FILE, Path(tmp)))
    table = pd.DataFrame(sorted(manifest["files"].items()), columns=["artifact", "sha256"])
    table.insert(0, "group", table["artifact"].str.split("/").str[0])
    return table


def champion_development_auc(cfg: RunConfig, product: str) -> float | None:
    """The development AUC (metric `development_auc` of its run) of the `champion` of creditmine-<product>.

    None when the model has no champion (or is not registered yet).
    """
    client = connect(cfg.tracking_uri, cfg.params.mlflow)
    champion = champion_version(client, model_name(cfg, product))
    if champion is None or not champion.run_id:
        return None
    value = client.get_run(champion.run_id).data.metrics.get("development_auc")
    return None if value is None else float(value)


def champion_version(client, name: str, alias: str = CHAMPION):
    """The ModelVersion holding `alias` in registered model `name`, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def check_version_artifacts(client, name: str, version) -> list[str]:
    """What no longer matches for a version: manifest hash vs tag, run artifacts, model files.

    Returns
    -------
    list of one-line problems; empty when the run's `manifest.json` still hashes to the version's
    `manifest_hash` tag and every listed file (run artifacts and model files) has its listed hash.
    """
    mv = client.get_model_version(name, str(version))
    expected = mv.tags.get(TAG_MANIFEST)
    if not expected:
        return [f"{name} version {mv.version} has no {TAG_MANIFEST} tag"]
    problems = []
    with tempfile.TemporaryDirectory(prefix="creditmine-chk-") as tmp:
        tmp = Path(tmp)
        run_dir = Path(_download(client, mv.run_id, "", tmp / "run"))
        manifest_file = run_dir / mf.MANIFEST_FILE
        if not manifest_file.is_file():
            return [f"run {mv.run_id} has no {mf.MANIFEST_FILE}"]
        try:
            manifest = mf.read_manifest(manifest_file)
        except ValueError as exc:
            return [str(exc)]
        if mf.manifest_hash(manifest) != expected:
            problems.append(f"{mf.MANIFEST_FILE} of run {mv.run_id} no longer hashes to the registered {expected[:12]}")
        run_part = {"algorithm": mf.ALGORITHM, "files": {k: v for k, v in manifest["files"].items() if not k.startswith(MODEL_PREFIX)}}
        model_part = {"algorithm": mf.ALGORITHM, "files": {
            k: v for k, v in manifest["files"].items()
            if k.startswith(MODEL_PREFIX) and k[len(MODEL_PREFIX):] not in _DOWNLOAD_ONLY
        }}
        run_check = mf.check_files(run_part, run_dir)
        if not run_check.ok:
            problems.append(f"run artifacts: {run_check.describe()}")
        if model_part["files"]:
            try:
                model_dir = _download_model(mv.source, tmp / "model", _uri(client))
            except Exception as exc:  # noqa: BLE001 - any store error means the files cannot be checked
                return [*problems, f"model files of {mv.source} cannot be read ({str(exc).splitlines()[0]})"]
            model_check = mf.check_files(model_part, model_dir, prefix=MODEL_PREFIX)
            if not model_check.ok:
                problems.append(f"model files: {model_check.describe()}")
    return problems


def read_run_json(client, run_id: str, artifact_path: str) -> dict | None:
    """A JSON artifact of a run, or None when the run does not have it."""
    with tempfile.TemporaryDirectory(prefix="creditmine-json-") as tmp:
        try:
            local = _download(client, run_id, artifact_path, Path(tmp))
        except Exception:  # noqa: BLE001 - absent artifact: MLflow raises store-specific errors
            return None
        return json.loads(Path(local).read_text(encoding="utf-8"))


def download_run_artifacts(client, run_id: str, artifact_path: str, dst: Path) -> Path | None:
    """Download one artifact file or folder of a run into `dst`; None when absent."""
    try:
        return Path(_download(client, run_id, artifact_path, dst))
    except Exception:  # noqa: BLE001 - absent artifact
        return None


def connect(tracking_uri: str, settings: TrackingParams | None = None):
    """An MlflowClient on `tracking_uri` (tracking and registry), its store created under the lock.

    The first use of an SQLite store creates its schema; four processes doing that at once fail with
    "database is locked" or duplicate tables, so the first touch runs under `store_lock`.
    """
    from mlflow import MlflowClient

    settings = settings or TrackingParams()
    _prepare_sqlite_dir(tracking_uri)
    with store_lock(tracking_uri, settings):
        # constructing the client may already open (and migrate) the store
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        with_retries(lambda: client.search_experiments(max_results=1), settings)
        with_retries(lambda: client.search_registered_models(max_results=1), settings)
    return client


@contextlib.contextmanager
def store_lock(tracking_uri: str, settings: TrackingParams | None = None):
    """An inter-process file lock beside an SQLite store (no-op for other stores).

    A store on a read-only file system (a served model reading a mounted copy) cannot hold a lock
    file and needs none, since nobody writes to it: the lock is then skipped.
    """
    path = _sqlite_file(tracking_uri)
    if path is None or (path.parent.is_dir() and not os.access(path.parent, os.W_OK)):
        yield
        return
    settings = settings or TrackingParams()
    with FileLock(str(path) + ".lock", timeout=settings.lock_timeout_s):
        yield


def with_retries(action, settings: TrackingParams | None = None):
    """Run `action()`, retrying with doubling waits while SQLite reports 'database is locked'."""
    settings = settings or TrackingParams()
    wait = settings.retry_wait_s
    for attempt in range(settings.write_retries + 1):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - MLflow wraps the sqlite3 error in several types
            if "database is locked" not in str(exc) or attempt == settings.write_retries:
                raise
            time.sleep(wait)
            wait *= 2


def ensure_experiment(client, name: str, cfg: RunConfig | None = None, settings: TrackingParams | None = None) -> str:
    """The id of experiment `name`, created (with the configured artifact location) when absent."""
    with store_lock(_uri(client), settings):
        existing = client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        location = cfg.artifact_location if cfg is not None else None
        if location:
            Path(unquote(urlparse(location).path)).mkdir(parents=True, exist_ok=True)
        return with_retries(lambda: client.create_experiment(name, artifact_location=location), settings)


def experiment_name(cfg: RunConfig, product: str) -> str:
    return f"{cfg.params.mlflow.experiment_prefix}-{product}"


def model_name(cfg: RunConfig, product: str) -> str:
    return f"{cfg.params.mlflow.model_prefix}-{product}"


def git_state(root: str | os.PathLike) -> tuple[str | None, bool]:
    """(HEAD commit, whether tracked or untracked files differ from it); (None, False) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, False
    return commit or None, bool(status.strip())


def developer_identity(root: str | os.PathLike | None = None) -> str:
    """Who develops: ``CREDITMINE_DEVELOPER``, else git's user.name, else the OS user."""
    if os.environ.get(ENV_DEVELOPER):
        return os.environ[ENV_DEVELOPER].strip()
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], cwd=root or ".", capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or getpass.getuser()


def development_auc(scores, primary: str) -> float | None:
    """AUC of the primary model's PD on the development (split ``train``) rows of scores.parquet."""
    column = f"pd_{primary}"
    if column not in scores or "split" not in scores or "default_12m" not in scores:
        return None
    rows = scores[(scores["split"] == "train") & scores["default_12m"].notna()]
    bad = rows["default_12m"].to_numpy() == 1
    n_bad, n_good = int(bad.sum()), int((~bad).sum())
    if n_bad == 0 or n_good == 0:
        return None
    ranks = rows[column].rank(method="average").to_numpy()
    return float((ranks[bad].sum() - n_bad * (n_bad + 1) / 2) / (n_bad * n_good))


# -- helpers -------------------------------------------------------------------------------------

def _stage_artifacts(cfg: RunConfig, product: str, staging: Path) -> None:
    """Copy the stage outputs, plots, reports and config into the artifact layout under `staging`."""
    for stage, name, required in _STAGE_FILES:
        source = cfg.stage_dir(stage, None if stage == "01_build_features" else product) / name
        if not source.is_file():
            if required:
                raise FileNotFoundError(f"{source}: stage {stage} output needed by stage 05 is missing (run stage {stage[:2]} first)")
            continue
        _copy(source, staging / stage / name)
    for stage in _PLOT_STAGES:
        plots = cfg.stage_dir(stage, product) / "plots"
        for png in sorted(plots.glob("*.png")) if plots.is_dir() else ():
            _copy(png, staging / stage / "plots" / png.name)
    reports = cfg.reports_dir
    for path in sorted(reports.glob("01_build_features.*")) if reports.is_dir() else ():
        _copy(path, staging / "reports" / path.name)
    product_reports = reports / product
    for path in sorted(product_reports.rglob("*")) if product_reports.is_dir() else ():
        if path.is_file() and not path.name.startswith("05_register"):
            _copy(path, staging / "reports" / product / path.relative_to(product_reports))
    _copy(Path(cfg.params_path), staging / "config" / "params.yaml")
    product_file = Path(cfg.params_path).resolve().parent / "products" / f"{product}.yaml"
    if product_file.is_file():
        _copy(product_file, staging / "config" / "product.yaml")
    (staging / "config" / "policy.json").write_text(
        json.dumps(cfg.product(product).policy.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8"
    )


def _input_tables(cfg: RunConfig) -> list[dict]:
    """The raw tables and the feature table: name, path, bytes and sha256."""
    candidates = []
    if cfg.data_dir.is_dir():
        candidates += sorted(p for p in cfg.data_dir.iterdir() if p.suffix in (".parquet", ".csv") and p.is_file())
    features = cfg.stage_dir("01_build_features") / "features.parquet"
    if features.is_file():
        candidates.append(features)
    return [
        {"name": p.stem, "path": str(p), "bytes": p.stat().st_size, "sha256": mf.file_sha256(p)}
        for p in candidates
    ]


def _log_inputs(client, run_id: str, inputs: list[dict], settings: TrackingParams) -> None:
    """Record each input table as an MLflow dataset input (digest: first 32 hex of its sha256)."""
    if not inputs:
        return
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.entities import DatasetInput, InputTag

    datasets = []
    for item in inputs:
        with warnings.catch_warnings():
            # a file URI matches two registered local sources of the same class; either is right
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            source = resolve_dataset_source(Path(item["path"]).resolve().as_uri())
        dataset = MetaDataset(source=source, name=item["name"], digest=item["sha256"][:32])
        context = "features" if item["name"] == "features" else "raw"
        datasets.append(DatasetInput(dataset._to_mlflow_entity(), tags=[
            InputTag("mlflow.data.context", context), InputTag("sha256", item["sha256"]),
        ]))
    with_retries(lambda: client.log_inputs(run_id, datasets=datasets), settings)


def _run_metrics(cfg: RunConfig, product: str, validation: dict, primary: str) -> dict[str, float]:
    """Every numeric figure of validation.json (unprefixed) and train_metrics.json (``train.``)."""
    import pandas as pd

    metrics = _numeric_leaves(validation.get("metrics", {}))
    metrics.update(_numeric_leaves({k: v for k, v in validation.items() if k not in ("metrics", "lights", "verdict")}, "validation."))
    train_file = cfg.stage_dir("02_train", product) / "train_metrics.json"
    if train_file.is_file():
        metrics.update(_numeric_leaves(_read_json(train_file), "train."))
    # stage 04 reports the development AUC; recompute it from the scores only when it does not
    auc = None if "development_auc" in metrics else development_auc(
        pd.read_parquet(cfg.stage_dir("02_train", product) / "scores.parquet"), primary
    )
    if auc is not None:
        metrics["development_auc"] = auc
    return metrics


def _numeric_leaves(obj, prefix: str = "") -> dict[str, float]:
    """Flatten nested dicts/lists to dotted keys, keeping finite numbers (bools excluded)."""
    import math
    import re

    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            # {"auc_oot": {"value": .., "ci_low": ..}} logs auc_oot and auc_oot.ci_low
            part = "" if key == "value" else f"{re.sub(r'[^A-Za-z0-9_./ -]', '_', str(key))}."
            out.update(_numeric_leaves(value, prefix + part))
    elif isinstance(obj, (list, tuple)) and len(obj) <= 50:
        for i, value in enumerate(obj):
            out.update(_numeric_leaves(value, f"{prefix}{i}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
        out[prefix.rstrip(".")] = float(obj)
    return out


def _lights(validation: dict) -> dict[str, str]:
    """test -> light colour from validation.json's `lights`.

    Accepts the stage-04 list of ``{"test", "value", "light", ...}`` records, or a mapping of test
    to a colour (or to such a record).
    """
    raw = validation.get("lights") or {}
    if isinstance(raw, list):
        raw = {item.get("test"): item for item in raw if isinstance(item, dict) and item.get("test")}
    lights = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            value = value.get("light") or value.get("colour") or value.get("color") or value.get("status")
        if isinstance(value, str):
            lights[str(name)] = value
    return lights


def _flat_params(cfg: RunConfig, product: str) -> dict[str, str]:
    out = {}
    def walk(obj, prefix):
        if isinstance(obj, dict) and obj:
            for k, v in obj.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix.rstrip(".")] = json.dumps(obj, default=str) if not isinstance(obj, str) else obj
    walk(cfg.params.model_dump(mode="json"), "")
    walk(cfg.product(product).model_dump(mode="json"), "product.")
    out["run_name"] = cfg.run_name
    return {k: v[:_MAX_PARAM_CHARS] for k, v in out.items()}


def _run_note(validation: dict, cfg: RunConfig, product: str) -> str:
    lights = ", ".join(f"{k}: {v}" for k, v in _lights(validation).items())
    return f"Pipeline run `{cfg.run_name}`, product `{product}`. Validation verdict: **{validation.get('verdict', 'unknown')}**. {lights}"


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: stage output needed by stage 05 is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _download(client, run_id: str, artifact_path: str, dst: Path) -> str:
    dst.mkdir(parents=True, exist_ok=True)
    return client.download_artifacts(run_id, artifact_path, str(dst))


def _download_model(model_uri: str, dst: Path, tracking_uri: str) -> Path:
    """The files of a logged model, in `dst`.

    A ``models:/m-<id>`` URI is resolved to the logged model's artifact location through a client
    on `tracking_uri`: MLflow's own resolution of such URIs uses the process-wide tracking URI.
    """
    import mlflow.artifacts
    from mlflow import MlflowClient

    dst.mkdir(parents=True, exist_ok=True)
    location = model_uri
    if model_uri.startswith("models:/m-"):
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        location = client.get_logged_model(model_uri[len("models:/"):]).artifact_location
    return Path(mlflow.artifacts.download_artifacts(
        artifact_uri=location, dst_path=str(dst), tracking_uri=tracking_uri
    ))


def _exists(getter) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        getter()
        return True
    except MlflowException:
        return False


def _uri(client) -> str:
    """The tracking URI a client was made for."""
    return client.tracking_uri


def _sqlite_file(tracking_uri: str) -> Path | None:
    if not tracking_uri.startswith("sqlite:///") or ":memory:" in tracking_uri:
        return None
    return Path(unquote(tracking_uri[len("sqlite:///"):])).resolve()


def _prepare_sqlite_dir(tracking_uri: str) -> None:
    path = _sqlite_file(tracking_uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
