"""Calibration of raw log-odds of default to a 12-month PD: isotonic or Platt, chosen out of fold,
increasing by construction, then the central tendency (long-run rate plus margin of conservatism)
as a shift of the log-odds intercept."""

from __future__ import annotations

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from creditmine.config.models import CalibrationParams
from creditmine.models.long_run import long_run_rate, margin_components, shift_to_mean, shifted

METHODS = ("isotonic", "sigmoid")
_P = CalibrationParams()
_MOC = _P.margin_of_conservatism.model_dump()


class LogOddsCalibrator(TransformerMixin, BaseEstimator):
    """Map a model's raw log-odds of default to a calibrated PD, increasing by construction.

    The fitted state is plain numbers and arrays (no nested scikit-learn objects), so a saved model
    trusts no extra types.

    Parameters
    ----------
    method : "auto", "isotonic" or "sigmoid" (Platt). "auto" fits both in stratified folds of the
        calibration data and keeps the one with the lower out-of-fold log loss.
    folds : number of folds of the "auto" comparison.
    pd_floor : smallest PD returned (and 1 - pd_floor the largest), a probability in (0, 0.1).
    min_defaults : with fewer defaults (or fewer non-defaults) in the calibration data, the raw
        log-odds are kept as they are (slope 1, intercept 0: `method_` "raw"), with a note; a map
        fitted on a handful of defaults is noise, and can reverse the ranking.
    target, long_run_default_rate, long_run_average, margin_of_conservatism : the central tendency
        set by `anchor` (see `CalibrationParams`).
    random_state : seed of the folds.

    Attributes
    ----------
    method_ : the method used ("isotonic", "sigmoid" or "raw").
    note_ : why the method asked for was not used ("" when it was).
    cv_log_loss_ : dict method -> mean out-of-fold log loss (nats per application); empty unless "auto".
    slope_, intercept_ : Platt parameters, PD = 1 / (1 + exp(-(slope_ * z + intercept_))); slope_ > 0.
    thresholds_z_, thresholds_pd_ : isotonic step function (log-odds -> PD), interpolated linearly.
    shift_ : the central tendency's shift of the log-odds (0 until `anchor`).
    central_tendency_ : what `anchor` found (target, long-run rate, margin components, shift).
    """

    def __init__(self, method: str = _P.method, folds: int = _P.folds, pd_floor: float = _P.pd_floor,
                 min_defaults: int = _P.min_defaults, target: str = _P.target,
                 long_run_default_rate: float | None = _P.long_run_default_rate,
                 long_run_average: str = _P.long_run_average,
                 margin_of_conservatism: dict = _MOC, random_state: int = 0):
        self.method = method
        self.folds = folds
        self.pd_floor = pd_floor
        self.min_defaults = min_defaults
        self.target = target
        self.long_run_default_rate = long_run_default_rate
        self.long_run_average = long_run_average
        self.margin_of_conservatism = margin_of_conservatism
        self.random_state = random_state

    @classmethod
    def from_params(cls, params: CalibrationParams, random_state: int = 0) -> LogOddsCalibrator:
        return cls(**params.model_dump(), random_state=random_state)

    def fit(self, z, y, sample_weight=None) -> LogOddsCalibrator:
        """Fit on raw log-odds `z` (n,) and outcomes `y` (n,) in {0, 1}, optionally weighted."""
        z, y = _check_inputs(z, y)
        w = _check_weights(sample_weight, len(y))
        if self.method not in ("auto", *METHODS):
            raise ValueError(f"calibration method must be auto, isotonic or sigmoid; got {self.method!r}")
        if len(np.unique(y)) < 2:
            raise ValueError(f"calibration data need defaults and non-defaults; got only y={y[0]} in {len(y)} rows")
        self.cv_log_loss_ = {}
        self.note_ = ""
        self.shift_, self.central_tendency_ = 0.0, {}
        fewest = int(np.bincount(y, minlength=2).min())
        if fewest < self.min_defaults:
            self.note_ = (f"the calibration sample has {int(y.sum())} defaults and {int((1 - y).sum())} non-defaults, "
                          f"fewer than calibration.min_defaults = {self.min_defaults}: the raw log-odds are kept "
                          "(slope 1, intercept 0)")
            self._set("raw", (1.0, 0.0, np.empty(0), np.empty(0)))
            return self
        method = self.method
        if method == "auto":
            folds = min(self.folds, fewest)
            if folds < 2:
                method = "sigmoid"
            else:
                self.cv_log_loss_ = self._compare(z, y, w, folds)
                method = min(self.cv_log_loss_, key=self.cv_log_loss_.get)
        fitted = _fit_one(method, z, y, w)
        if method == "sigmoid" and not fitted[0] > 0:
            # a slope that is not positive would reverse (or erase) the model's ranking: keep the raw
            # slope and fit the level only
            self.note_ = (f"Platt scaling fitted slope {fitted[0]:+.3f}, which would not keep the model's ranking: "
                          "the raw slope 1 is kept and only the intercept is fitted")
            method, fitted = "sigmoid", (1.0, _intercept_only(z, y, w), np.empty(0), np.empty(0))
        self._set(method, fitted)
        return self

    def anchor(self, z_population, y_history, years=None, population_weights=None) -> LogOddsCalibrator:
        """Set the central tendency after the map is fitted: a shift of the log-odds intercept.

        Parameters
        ----------
        z_population : raw log-odds of the population whose mean PD is set (the current portfolio).
        y_history : outcomes of the labelled history (the long-run rate's loans).
        years : application year of each of `y_history`, or None.
        population_weights : weights of the population's applications, or None.

        The target mean PD is the long-run rate (given, or over `y_history`) for `target` "long_run",
        the population's calibrated mean PD for "observed"; times 1 + the margin of conservatism.
        """
        check_is_fitted(self, "method_")
        self.shift_ = 0.0
        before = self.transform(z_population)
        unclipped = _apply(self.method_, np.asarray(z_population, dtype=float).ravel(), self.slope_, self.intercept_,
                           self.thresholds_z_, self.thresholds_pd_)
        w = None if population_weights is None else _check_weights(population_weights, len(before))
        history = np.asarray(y_history, dtype=float)
        given = self.long_run_default_rate is not None
        if self.target == "long_run":
            rate, by_year = (float(self.long_run_default_rate), []) if given else \
                long_run_rate(history, years, self.long_run_average)
            source = "given (calibration.long_run_default_rate)" if given else \
                f"{self.long_run_average} over {len(history)} labelled loans of the development history"
        elif self.target == "observed":
            rate, by_year = float(np.average(before, weights=w)), []
            source = "the calibrated mean PD of the population (target: observed)"
        else:
            raise ValueError(f"calibration target must be observed or long_run; got {self.target!r}")
        moc = margin_components(rate, len(history), dict(self.margin_of_conservatism or {}))
        target = rate * (1.0 + moc["add_on"])
        self.shift_ = shift_to_mean(unclipped, target, w, self.pd_floor)
        self.central_tendency_ = {
            "target": self.target, "long_run_default_rate": rate, "long_run_source": source, "by_year": by_year,
            "margin_of_conservatism": moc, "target_mean_pd": target, "population": len(before),
            "population_mean_pd_before": float(np.average(before, weights=w)),
            "population_mean_pd_after": float(np.average(self.transform(z_population), weights=w)),
            "log_odds_shift": self.shift_,
        }
        return self

    def transform(self, z) -> np.ndarray:
        """Calibrated PD (n,), probabilities in [pd_floor, 1 - pd_floor]; non-decreasing in z."""
        check_is_fitted(self, "method_")
        z = np.asarray(z, dtype=float).ravel()
        pd_ = _apply(self.method_, z, self.slope_, self.intercept_, self.thresholds_z_, self.thresholds_pd_)
        shift = getattr(self, "shift_", 0.0)
        if shift:
            pd_ = shifted(pd_, shift)
        return np.clip(pd_, self.pd_floor, 1.0 - self.pd_floor)

    def _set(self, method: str, fitted) -> None:
        self.method_ = method
        self.slope_, self.intercept_, self.thresholds_z_, self.thresholds_pd_ = fitted

    def _compare(self, z: np.ndarray, y: np.ndarray, w: np.ndarray, folds: int) -> dict[str, float]:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        losses = {m: 0.0 for m in METHODS}
        for fit_rows, test_rows in splitter.split(z.reshape(-1, 1), y):
            for m in METHODS:
                fitted = _fit_one(m, z[fit_rows], y[fit_rows], w[fit_rows])
                p = np.clip(_apply(m, z[test_rows], *fitted), self.pd_floor, 1 - self.pd_floor)
                yt, wt = y[test_rows], w[test_rows]
                losses[m] += -np.sum(wt * (yt * np.log(p) + (1 - yt) * np.log(1 - p)))
        return {m: float(v / w.sum()) for m, v in losses.items()}


def _fit_one(method: str, z: np.ndarray, y: np.ndarray, w: np.ndarray):
    if method == "sigmoid":
        # weak penalty: Platt scaling is two parameters fitted on thousands of rows
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y, sample_weight=w)
        return float(lr.coef_[0, 0]), float(lr.intercept_[0]), np.empty(0), np.empty(0)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True).fit(z, y, sample_weight=w)
    return 0.0, 0.0, np.asarray(iso.X_thresholds_, dtype=float), np.asarray(iso.y_thresholds_, dtype=float)


def _intercept_only(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The intercept b with slope 1 whose weighted mean PD sigmoid(z + b) is the weighted default rate."""
    rate = float(np.average(y, weights=w))
    return shift_to_mean(special.expit(z), rate, w)


def _apply(method, z, slope, intercept, thresholds_z, thresholds_pd) -> np.ndarray:
    if method in ("sigmoid", "raw"):
        return 1.0 / (1.0 + np.exp(-(slope * z + intercept)))
    return np.interp(z, thresholds_z, thresholds_pd)


def _check_weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=float).ravel()
    if len(w) != n or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"sample weights must be {n} finite non-negative numbers with a positive sum")
    return w


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
