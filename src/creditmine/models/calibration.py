"""Calibration of raw log-odds of default to a 12-month PD: isotonic or Platt, chosen out of fold."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from creditmine.config.models import CalibrationParams

METHODS = ("isotonic", "sigmoid")
_P = CalibrationParams()


class LogOddsCalibrator(TransformerMixin, BaseEstimator):
    """Map a model's raw log-odds of default to a calibrated PD.

    The fitted state is plain numbers and arrays (no nested scikit-learn objects), so a saved model
    trusts no extra types.

    Parameters
    ----------
    method : "auto", "isotonic" or "sigmoid" (Platt). "auto" fits both in stratified folds of the
        calibration data and keeps the one with the lower out-of-fold log loss.
    folds : number of folds of the "auto" comparison.
    pd_floor : smallest PD returned (and 1 - pd_floor the largest), a probability in (0, 0.1).
    random_state : seed of the folds.

    Attributes
    ----------
    method_ : the method used.
    cv_log_loss_ : dict method -> mean out-of-fold log loss (nats per application); empty unless "auto".
    slope_, intercept_ : Platt parameters, PD = 1 / (1 + exp(-(slope_ * z + intercept_))).
    thresholds_z_, thresholds_pd_ : isotonic step function (log-odds -> PD), interpolated linearly.
    """

    def __init__(self, method: str = _P.method, folds: int = _P.folds, pd_floor: float = _P.pd_floor,
                 random_state: int = 0):
        self.method = method
        self.folds = folds
        self.pd_floor = pd_floor
        self.random_state = random_state

    @classmethod
    def from_params(cls, params: CalibrationParams, random_state: int = 0) -> "LogOddsCalibrator":
        return cls(**params.model_dump(), random_state=random_state)

    def fit(self, z, y) -> "LogOddsCalibrator":
        """Fit on raw log-odds `z` (n,) and outcomes `y` (n,) in {0, 1}."""
        z, y = _check_inputs(z, y)
        if self.method not in ("auto", *METHODS):
            raise ValueError(f"calibration method must be auto, isotonic or sigmoid; got {self.method!r}")
        if len(np.unique(y)) < 2:
            raise ValueError(f"calibration data need defaults and non-defaults; got only y={y[0]} in {len(y)} rows")
        self.cv_log_loss_ = {}
        method = self.method
        if method == "auto":
            folds = min(self.folds, int(np.bincount(y).min()))
            if folds < 2:
                method = "sigmoid"
            else:
                self.cv_log_loss_ = self._compare(z, y, folds)
                method = min(self.cv_log_loss_, key=self.cv_log_loss_.get)
        self.method_ = method
        self.slope_, self.intercept_, self.thresholds_z_, self.thresholds_pd_ = _fit_one(method, z, y)
        return self

    def transform(self, z) -> np.ndarray:
        """Calibrated PD (n,), probabilities in [pd_floor, 1 - pd_floor]."""
        check_is_fitted(self, "method_")
        z = np.asarray(z, dtype=float).ravel()
        pd_ = _apply(self.method_, z, self.slope_, self.intercept_, self.thresholds_z_, self.thresholds_pd_)
        return np.clip(pd_, self.pd_floor, 1.0 - self.pd_floor)

    def _compare(self, z: np.ndarray, y: np.ndarray, folds: int) -> dict[str, float]:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        losses = {m: 0.0 for m in METHODS}
        for fit_rows, test_rows in splitter.split(z.reshape(-1, 1), y):
            for m in METHODS:
                fitted = _fit_one(m, z[fit_rows], y[fit_rows])
                p = np.clip(_apply(m, z[test_rows], *fitted), self.pd_floor, 1 - self.pd_floor)
                yt = y[test_rows]
                losses[m] += -np.sum(yt * np.log(p) + (1 - yt) * np.log(1 - p))
        return {m: float(v / len(y)) for m, v in losses.items()}


def _fit_one(method: str, z: np.ndarray, y: np.ndarray):
    if method == "sigmoid":
        # weak penalty: Platt scaling is two parameters fitted on thousands of rows
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
        return float(lr.coef_[0, 0]), float(lr.intercept_[0]), np.empty(0), np.empty(0)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y)
    return 0.0, 0.0, np.asarray(iso.X_thresholds_, dtype=float), np.asarray(iso.y_thresholds_, dtype=float)


def _apply(method, z, slope, intercept, thresholds_z, thresholds_pd) -> np.ndarray:
    if method == "sigmoid":
        return 1.0 / (1.0 + np.exp(-(slope * z + intercept)))
    return np.interp(z, thresholds_z, thresholds_pd)


def _check_inputs(z, y) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(z, dtype=float).ravel()
    y = np.asarray(y).ravel()
    if len(z) != len(y):
        raise ValueError(f"log-odds and outcomes differ in length: {len(z)} != {len(y)}")
    if not np.isfinite(z).all():
        raise ValueError(f"log-odds must be finite; {int((~np.isfinite(z)).sum())} are not")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"outcomes must be 0 or 1; row {int(np.flatnonzero(bad)[0])} has {y[bad][0]!r}")
    return z, y.astype(int)
