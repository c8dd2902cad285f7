"""Saving and loading fitted credit models with skops, trusting exactly the types they hold, never pickle."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TRUSTED_TYPES", "load_model_file", "save_model_file"]

# Every type a saved ScorecardModel or GbmModel holds beyond skops' defaults (numpy, builtins,
# scikit-learn estimators): our own classes and the booster's tree predictor. A test proves the
# list exact with skops.io.get_untrusted_types on saved models.
TRUSTED_TYPES = (
    "creditmine.models.calibration.LogOddsCalibrator",
    "creditmine.models.components.MasterScale",
    "creditmine.models.components.PointsScale",
    "creditmine.models.gbm.GbmModel",
    "creditmine.models.scorecard.ScorecardModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def save_model_file(model, path: str | os.PathLike) -> Path:
    """Write a fitted model to `path` (.skops); refuses a model holding a type not in TRUSTED_TYPES."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        path.unlink()
        raise TypeError(f"{path}: the model holds types outside TRUSTED_TYPES: {untrusted}")
    return path


def load_model_file(path: str | os.PathLike):
    """Load a model saved by `save_model_file`; never runs code of a type outside TRUSTED_TYPES.

    Raises
    ------
    FileNotFoundError : no such file. TypeError : the file names an untrusted type.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved model")
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise TypeError(f"{path}: refusing to load types outside TRUSTED_TYPES: {untrusted}")
    return sio.load(path, trusted=list(TRUSTED_TYPES))
