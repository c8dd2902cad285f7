"""Typed readers and writers of every stage output.

Each reader names the file and the stage to run when the file is missing (`StageOutputMissing`),
and checks the columns or keys later stages rely on; each writer creates its folder. JSON is
strict (NaN and infinities become null) and UTF-8 with Chinese kept as text.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.artifacts.catalog import FeatureSpec, catalog_frame, read_catalog_file, write_catalog_file
from creditmine.artifacts.layout import Layout
from creditmine.artifacts.model_files import load_model_file, save_model_file
from creditmine.artifacts.names import (
    ALL_SPLITS, EXPLAIN, FEATURES, MODEL_NAMES, REGISTER, TRAIN, VALIDATE, Stage,
)

__all__ = [
    "FEATURE_KEY_COLUMNS", "SCORE_KEY_COLUMNS", "StageOutputMissing", "read_catalog",
    "read_explain_summary", "read_features", "read_json", "read_master_scale", "read_model",
    "read_models", "read_models_meta", "read_profile", "read_registration", "read_scores",
    "read_train_metrics", "read_validation", "write_catalog", "write_explain_summary",
    "write_features", "write_json", "write_master_scale", "write_model", "write_models_meta",
    "write_model_card", "write_profile", "write_registration", "write_scores", "write_train_metrics",
    "write_validation",
]

FEATURE_KEY_COLUMNS = (
    "application_id", "enterprise_id", "product", "applied_at", "requested_amount_cny",
    "term_months", "default_12m", "split",
)
"""Columns that precede the features in features.parquet (product is also a catalogued feature)."""

SCORE_KEY_COLUMNS = ("application_id", "enterprise_id", "applied_at", "product", "split", "default_12m")
"""Columns of scores.parquet before pd_<model>, score_<model>, grade_<model> of each model."""


class StageOutputMissing(FileNotFoundError):
    """A stage output that a later stage needs is not there; the message says which stage to run."""

    def __init__(self, path: Path, stage: Stage, where: Layout):
        super().__init__(
            f"{path}: not found; run {stage.describe(where.product)} of run '{where.run_name}' first"
        )
        self.path, self.stage = path, stage


# -- stage 01 ---------------------------------------------------------------------------------

def write_features(where: Layout, frame: pd.DataFrame) -> Path:
    missing = [c for c in FEATURE_KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"feature table lacks key columns {missing}")
    return _write_parquet(where.features_table, frame)


def read_features(where: Layout, columns: list[str] | None = None) -> pd.DataFrame:
    """features.parquet (all columns, or `columns`); checks the key columns a stage relies on."""
    frame = _read_parquet(where.features_table, FEATURES, where, columns)
    wanted = [c for c in ("application_id", "product", "default_12m", "split") if columns is None or c in columns]
    _require_columns(frame, wanted, where.features_table)
    return frame


def write_catalog(where: Layout, specs: list[FeatureSpec]) -> Path:
    """catalog.json and the data dictionary (data_dictionary.csv) made from it."""
    write_catalog_file(specs, where.catalog)
    catalog_frame(specs).to_csv(where.data_dictionary, index=False)
    return where.catalog


def read_catalog(where: Layout) -> list[FeatureSpec]:
    _exists(where.catalog, FEATURES, where)
    return read_catalog_file(where.catalog)


def write_profile(where: Layout, profile: dict) -> Path:
    return write_json(where.profile, profile)


def read_profile(where: Layout) -> dict:
    return read_json(where.profile, FEATURES, where)


# -- stage 02 ---------------------------------------------------------------------------------

def write_model(where: Layout, name: str, model) -> Path:
    return save_model_file(model, where.model_file(name))


def read_model(where: Layout, name: str):
    """One fitted model of stage 02 (skops, trusting exactly its types)."""
    _exists(where.model_file(name), TRAIN, where)
    return load_model_file(where.model_file(name))


def read_models(where: Layout) -> dict:
    """{"scorecard": ScorecardModel, "gbm": GbmModel} of stage 02."""
    return {name: read_model(where, name) for name in MODEL_NAMES}


def write_models_meta(where: Layout, meta: dict) -> Path:
    return write_json(where.models_meta, meta)


def read_models_meta(where: Layout) -> dict:
    """models.json: primary, challenger, features, calibration, the models' own settings."""
    meta = read_json(where.models_meta, TRAIN, where)
    for key in ("primary", "challenger", "features", "models"):
        if key not in meta:
            raise ValueError(f"{where.models_meta}: key '{key}' is missing")
    return meta


def write_scores(where: Layout, scores: pd.DataFrame) -> Path:
    return _write_parquet(where.scores, scores)


def read_scores(where: Layout, columns: list[str] | None = None) -> pd.DataFrame:
    """scores.parquet; checks that every split is one of ALL_SPLITS."""
    scores = _read_parquet(where.scores, TRAIN, where, columns)
    _require_columns(scores, [c for c in ("application_id", "split") if columns is None or c in columns], where.scores)
    if "split" in scores:
        bad = ~scores["split"].isin(ALL_SPLITS)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{where.scores}: column 'split' row {row} is {scores['split'].iloc[row]!r}; "
                             f"expected one of {', '.join(ALL_SPLITS)}")
    return scores


def write_master_scale(where: Layout, table: pd.DataFrame) -> Path:
    where.master_scale.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(where.master_scale, index=False)
    return where.master_scale


def read_master_scale(where: Layout, model: str | None = None) -> pd.DataFrame:
    """master_scale.csv of both models (column `model`), or of one."""
    _exists(where.master_scale, TRAIN, where)
    table = pd.read_csv(where.master_scale)
    _require_columns(table, ["model", "grade", "pd_lower", "pd_upper"], where.master_scale)
    return table if model is None else table[table["model"] == model].reset_index(drop=True)


def write_train_metrics(where: Layout, metrics: dict) -> Path:
    return write_json(where.train_metrics, metrics)


def read_train_metrics(where: Layout) -> dict:
    return read_json(where.train_metrics, TRAIN, where)


# -- stage 03 ---------------------------------------------------------------------------------

def write_explain_summary(where: Layout, summary: dict) -> Path:
    return write_json(where.explain_summary, summary)


def read_explain_summary(where: Layout, required: bool = True) -> dict | None:
    """explain.json; None when absent and not `required` (validation runs without stage 03)."""
    if not required and not where.explain_summary.is_file():
        return None
    return read_json(where.explain_summary, EXPLAIN, where)


# -- stage 04 ---------------------------------------------------------------------------------

def write_validation(where: Layout, document: dict) -> Path:
    return write_json(where.validation, document)


def read_validation(where: Layout) -> dict:
    """validation.json: verdict, gating, lights, metrics, skipped."""
    document = read_json(where.validation, VALIDATE, where)
    for key in ("verdict", "lights", "metrics"):
        if key not in document:
            raise ValueError(f"{where.validation}: key '{key}' is missing")
    return document


def write_model_card(where: Layout, markdown: str, html: str) -> tuple[Path, Path]:
    where.model_card_md.parent.mkdir(parents=True, exist_ok=True)
    where.model_card_md.write_text(markdown, encoding="utf-8")
    where.model_card_html.write_text(html, encoding="utf-8")
    return where.model_card_md, where.model_card_html


# -- stage 05 ---------------------------------------------------------------------------------

def write_registration(where: Layout, registration: dict) -> Path:
    return write_json(where.registration, registration)


def read_registration(where: Layout) -> dict:
    return read_json(where.registration, REGISTER, where)


# -- JSON and Parquet -------------------------------------------------------------------------

def write_json(path: str | os.PathLike, obj) -> Path:
    """Strict, indented UTF-8 JSON; numpy scalars become numbers, NaN and infinities null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(json.loads(json.dumps(obj, default=_plain))), indent=1, ensure_ascii=False,
                      allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_json(path: Path, stage: Stage, where: Layout) -> dict:
    """A JSON object written by a stage; StageOutputMissing when absent, ValueError when not an object."""
    _exists(path, stage, where)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def _read_parquet(path: Path, stage: Stage, where: Layout, columns) -> pd.DataFrame:
    _exists(path, stage, where)
    if columns is not None:
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        lacking = [c for c in columns if c not in present]
        if lacking:
            raise ValueError(f"{path}: missing column(s) {', '.join(lacking)}")
    return pd.read_parquet(path, columns=columns)


def _exists(path: Path, stage: Stage, where: Layout) -> None:
    if not path.is_file():
        raise StageOutputMissing(path, stage, where)


def _require_columns(frame: pd.DataFrame, columns, path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}")


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
