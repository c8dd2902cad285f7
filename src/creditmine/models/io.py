"""Saving and loading fitted credit models with skops, trusting exactly the types they hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import skops.io as sio

# Every type a saved ScorecardModel or GbmModel holds beyond skops' defaults (numpy, builtins,
# scikit-learn estimators): our own classes and the booster's tree predictor. A test proves the
# list exact with skops.io.get_untrusted_types on saved models.
TRUSTED_TYPES = (
    "creditmine.models.calibration.LogOddsCalibrator",
    "creditmine.models.gbm.GbmModel",
    "creditmine.models.scorecard.ScorecardModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)

MODEL_NAMES = ("scorecard", "gbm")


def save_model(model, path: str | os.PathLike) -> Path:
    """Write a fitted model to `path` (.skops); refuses a model holding a type not in TRUSTED_TYPES."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        path.unlink()
        raise TypeError(f"{path}: the model holds types outside models.io.TRUSTED_TYPES: {untrusted}")
    return path


def load_model(path: str | os.PathLike):
    """Load a model saved by `save_model`; never runs code of a type outside TRUSTED_TYPES."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved model (run stage 02 first)")
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise TypeError(f"{path}: refusing to load types outside models.io.TRUSTED_TYPES: {untrusted}")
    return sio.load(path, trusted=list(TRUSTED_TYPES))


def load_models(stage_dir: str | os.PathLike) -> dict:
    """The fitted models of a stage 02 folder: {"scorecard": ScorecardModel, "gbm": GbmModel}."""
    stage_dir = Path(stage_dir)
    return {name: load_model(stage_dir / "models" / f"{name}.skops") for name in MODEL_NAMES}


def read_models_meta(stage_dir: str | os.PathLike) -> dict:
    """The content of `models.json` of a stage 02 folder (primary, challenger, features, ...)."""
    path = Path(stage_dir) / "models.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run stage 02 first)")
    return json.loads(path.read_text(encoding="utf-8"))
