"""Stage 05's first half: one MLflow run per pipeline execution and product, with full lineage.

`log_pipeline_run` gathers what stages 01-04 wrote into one run: params, every metric, the executed
notebooks and HTML reports, the scorecard table, the data dictionary, the model card, the input
tables with their SHA-256 digests, the git commit and whether the tree was dirty. The registration
adds `manifest.json` (the SHA-256 of every artifact and model file, built from the store's own
bytes; `creditmine.governance.service`). Artifact layout of a run::

    manifest.json                 (at registration) sha256 of every file below and of the model's, under model/
    inputs.json                   the input tables: path, rows, sha256
    config/params.yaml, config/product.yaml, config/policy.json
    01_build_features/ data_dictionary.csv catalog.json profile.json
    02_train/ models.json scorecard_table.csv master_scale.csv train_metrics.json scores.parquet
    03_explain/ explain.json plots/*.png
    04_validate/ validation.json model_card.md model_card.html plots/*.png
    reports/ 01_build_features.{ipynb,html} <product>/0N_<stage>.{ipynb,html} (stages 01-04)
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from creditmine import artifacts
from creditmine.config import RunConfig
from creditmine.config.tracking import TrackingParams
from creditmine.registry import manifest as mf
from creditmine.registry.states import TAG_PRIMARY, TAG_VERDICT, experiment_name
from creditmine.registry.store import connect, ensure_experiment, git_state, with_retries

__all__ = ["log_pipeline_run", "log_version_run"]
_MAX_PARAM_CHARS = 6000
_BATCH = 100


def _stage_files(where: artifacts.Layout) -> list[tuple[artifacts.Stage, Path, bool]]:
    """The stage outputs copied into the run: (stage, file, required)."""
    return [
        (artifacts.FEATURES, where.data_dictionary, False),
        (artifacts.FEATURES, where.catalog, False),
        (artifacts.FEATURES, where.profile, False),
        (artifacts.TRAIN, where.models_meta, True),
        (artifacts.TRAIN, where.scorecard_table, False),
        (artifacts.TRAIN, where.master_scale, False),
        (artifacts.TRAIN, where.train_metrics, False),
        (artifacts.TRAIN, where.scores, True),
        (artifacts.EXPLAIN, where.explain_summary, False),
        (artifacts.VALIDATE, where.validation, True),
        (artifacts.VALIDATE, where.model_card_md, True),
        (artifacts.VALIDATE, where.model_card_html, False),
    ]


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
    client, run_id, metrics = _open_run(cfg, product)
    _log_metrics(client, run_id, metrics, cfg.params.mlflow)
    return run_id


def log_version_run(cfg: RunConfig, product: str):
    """`log_pipeline_run` with the decision model logged into the run, before its metrics.

    MLflow links a run's metrics to a model logged into it by reading each metric's history, one
    request per metric (~480 here, minutes against a team server); logged first, the model meets
    no metrics and the metrics are then logged once, carrying its model id.

    Returns
    -------
    (run_id, mlflow.models.model.ModelInfo)
    """
    from creditmine.decision.package import log_decision_model

    client, run_id, metrics = _open_run(cfg, product)
    info = log_decision_model(cfg, product, run_id)
    _log_metrics(client, run_id, metrics, cfg.params.mlflow, model_id=info.model_id)
    return run_id, info


def _open_run(cfg: RunConfig, product: str):
    """Create the run with its tags, params, inputs and artifacts; return (client, run_id, metrics)."""
    from mlflow.entities import Param, RunTag

    where = artifacts.layout(cfg, product)
    settings = cfg.params.mlflow
    validation = artifacts.read_validation(where)
    primary = artifacts.read_models_meta(where)["primary"]
    commit, dirty = git_state(cfg.root)

    with tempfile.TemporaryDirectory(prefix="creditmine-run-") as tmp:
        staging = Path(tmp)
        _stage_artifacts(cfg, where, staging)
        inputs = _input_tables(cfg)
        (staging / "inputs.json").write_text(json.dumps(inputs, indent=1) + "\n", encoding="utf-8")

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
        }
        for name, light in _lights(validation).items():
            tags[f"light.{name}"] = light
        run = with_retries(
            lambda: client.create_run(experiment_id, run_name=f"{cfg.run_name}-{product}", tags=tags), settings
        )
        run_id = run.info.run_id
        param_items = [Param(k, v) for k, v in _flat_params(cfg, product).items()]
        for start in range(0, len(param_items), _BATCH):
            with_retries(lambda s=start: client.log_batch(run_id, params=param_items[s:s + _BATCH]), settings)
        with_retries(lambda: client.log_batch(run_id, tags=[RunTag("mlflow.note.content", _run_note(validation, cfg, product))]), settings)
        _log_inputs(client, run_id, inputs, settings)
        client.log_artifacts(run_id, str(staging))
        with_retries(lambda: client.set_terminated(run_id, "FINISHED"), settings)
    return client, run_id, _run_metrics(where, validation)


def _log_metrics(client, run_id: str, metrics: dict[str, float], settings: TrackingParams,
                 model_id: str | None = None) -> None:
    """Every metric at step 0, in batches; linked to the logged model `model_id` when given."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(k, v, now, 0, model_id=model_id) for k, v in metrics.items()]
    for start in range(0, len(items), _BATCH):
        with_retries(lambda s=start: client.log_batch(run_id, metrics=items[s:s + _BATCH]), settings)


def _stage_artifacts(cfg: RunConfig, where: artifacts.Layout, staging: Path) -> None:
    """Copy the stage outputs, plots, reports (stages 01-04) and config into the run's layout."""
    for stage, source, required in _stage_files(where):
        if not source.is_file():
            if required:
                raise artifacts.StageOutputMissing(source, stage, where)
            continue
        _copy(source, staging / stage.name / source.name)
    for stage in (artifacts.EXPLAIN, artifacts.VALIDATE):
        plots = where.plots(stage)
        for png in sorted(plots.glob("*.png")) if plots.is_dir() else ():
            _copy(png, staging / stage.name / "plots" / png.name)
    for stage in artifacts.STAGES:
        if stage is artifacts.REGISTER:
            continue  # this stage's own report is its receipt, written after the version exists
        for path in where.report(stage):
            if path.is_file():
                relative = path.relative_to(where.reports_dir)
                _copy(path, staging / "reports" / relative)
    _copy(Path(cfg.params_path), staging / "config" / "params.yaml")
    product_file = Path(cfg.params_path).resolve().parent / "products" / f"{where.product}.yaml"
    if product_file.is_file():
        _copy(product_file, staging / "config" / "product.yaml")
    (staging / "config" / "policy.json").write_text(
        json.dumps(cfg.product(where.product).policy.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8"
    )


def _input_tables(cfg: RunConfig) -> list[dict]:
    """The raw tables and the feature table: name, path, bytes and sha256."""
    candidates = []
    if cfg.data_dir.is_dir():
        candidates += sorted(p for p in cfg.data_dir.iterdir() if p.suffix in (".parquet", ".csv") and p.is_file())
    features = artifacts.layout(cfg).features_table
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
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
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


def _run_metrics(where: artifacts.Layout, validation: dict) -> dict[str, float]:
    """Every numeric figure of validation.json (unprefixed, `development_auc` among them) and
    train_metrics.json (``train.``)."""
    metrics = _numeric_leaves(validation.get("metrics", {}))
    metrics.update(_numeric_leaves({k: v for k, v in validation.items() if k not in ("metrics", "lights", "verdict")}, "validation."))
    if where.train_metrics.is_file():
        metrics.update(_numeric_leaves(artifacts.read_train_metrics(where), "train."))
    return metrics


def _numeric_leaves(obj, prefix: str = "") -> dict[str, float]:
    """Flatten nested dicts/lists to dotted keys, keeping finite numbers (bools excluded)."""
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


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
