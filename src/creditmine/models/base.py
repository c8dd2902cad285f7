"""What every credit model shares: calibrated PD, points on the PDO scale and master-scale grades."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from creditmine.models.calibration import LogOddsCalibrator
from creditmine.models.components import MasterScale, PointsScale

#: Share of the training rows set aside for calibration when `fit` gets no validation data.
VALIDATION_SHARE = 0.2


class CreditModel(ClassifierMixin, BaseEstimator):
    """Base of the scorecard and the gradient boosting: a scikit-learn classifier of default.

    Subclasses implement `_fit_raw(X, y, X_val, y_val, w, w_val)` (learn the raw model; w, w_val are
    the rows' weights or None) and
    `decision_function(X)` (raw log-odds of default). `fit` then calibrates the raw log-odds on the
    validation data and builds the master scale on the development data (train + validation).
    Fitted tables are kept as plain records (lists), so that skops saves them without trusting
    pandas; the DataFrame views are properties.

    The shared parts are components, parameters of every subclass: `scale` (a `PointsScale`),
    `calibration` (an unfitted `LogOddsCalibrator`) and `grading` (an unfitted `MasterScale`); None
    takes the component with its defaults (those of the params sections).
    """

    # -- the public API of every credit model ---------------------------------------------------
    def fit(self, X: pd.DataFrame, y, X_val: pd.DataFrame | None = None, y_val=None, *, sample_weight=None,
            sample_weight_val=None, X_anchor: pd.DataFrame | None = None, y_history=None,
            history_years=None) -> CreditModel:
        """Fit on development applications.

        Parameters
        ----------
        X : DataFrame of features, one row per application.
        y : outcomes, 1 = default within 12 months, 0 = not.
        X_val, y_val : validation applications (the in-time holdout), used for early stopping and
            the hyper-parameter choice (gbm), the holdout check of the scorecard's selection and
            for calibration. When absent, a stratified `VALIDATION_SHARE` of X is set aside for
            them, and the raw model is then refitted on all of X with those choices fixed.
        sample_weight, sample_weight_val : weights of the rows of X and X_val (reject inference);
            None weighs every row 1.
        X_anchor : the population whose mean PD the central tendency sets (the current portfolio);
            None: the development applications (X and X_val).
        y_history, history_years : the labelled history of the long-run default rate (booked loans'
            outcomes and their application years); None: y and y_val, without years.

        After the raw model and the calibration map, the calibration's `anchor` shifts the log-odds
        intercept to the central tendency, and the master scale is fitted on the shifted
        development PDs.
        """
        X = _check_frame(X, "X")
        y = _check_target(y, len(X), "y")
        w = _check_weight(sample_weight, len(X), "sample_weight")
        set_aside = X_val is None
        if set_aside:
            all_X, all_y, all_w = X, y, w
            rows = np.arange(len(X))
            fit_rows, val_rows = train_test_split(
                rows, test_size=VALIDATION_SHARE, stratify=y, random_state=self.random_state
            )
            X, X_val, y, y_val = X.iloc[fit_rows], X.iloc[val_rows], y[fit_rows], y[val_rows]
            w, w_val = (None, None) if w is None else (w[fit_rows], w[val_rows])
        else:
            X_val = _check_frame(X_val, "X_val")[list(X.columns)]
            y_val = _check_target(y_val, len(X_val), "y_val")
            w_val = _check_weight(sample_weight_val, len(X_val), "sample_weight_val")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.classes_ = np.array([0, 1])
        self._fit_raw(X, y, X_val, y_val, w, w_val)
        calibration = clone(self.calibration if self.calibration is not None else LogOddsCalibrator())
        self.calibrator_ = calibration.set_params(random_state=self.random_state).fit(
            self.decision_function(X_val), y_val, sample_weight=w_val
        )
        if set_aside:
            # the choices (features, trial) and the calibration map are made on the set-aside fifth;
            # the raw model is then refitted on every row with those choices fixed
            self._refit_raw(all_X, all_y, all_w)
        development = pd.concat([X, X_val])
        y_dev = np.concatenate([y, y_val])
        anchor = development if X_anchor is None or len(X_anchor) == 0 else X_anchor[list(X.columns)]
        history = y_dev if y_history is None else np.asarray(y_history, dtype=float)
        self.calibrator_.anchor(self.decision_function(anchor), history,
                                None if y_history is None else history_years)
        grading = clone(self.grading if self.grading is not None else MasterScale())
        self.grading_ = grading.fit(self.predict_pd(development), y_dev)
        return self

    def _refit_raw(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None) -> None:
        """Refit the raw model on more rows with the choices of `_fit_raw` kept (subclasses)."""
        raise NotImplementedError

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): column 1 is the calibrated 12-month PD, column 0 its complement."""
        pd_ = self.predict_pd(X)
        return np.column_stack([1.0 - pd_, pd_])

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated 12-month probability of default (n,), in [pd_floor, 1 - pd_floor]."""
        check_is_fitted(self, "calibrator_")
        return self.calibrator_.transform(self.decision_function(X))

    def credit_score(self, X: pd.DataFrame) -> np.ndarray:
        """Points on the PDO scale (higher is safer) from the calibrated PD."""
        return self.points_scale.points(self.predict_pd(X))

    def grade(self, X: pd.DataFrame) -> np.ndarray:
        """Master-scale grade (int, 1 = best .. G) of the calibrated PD."""
        check_is_fitted(self, "grading_")
        return self.grading_.grade(self.predict_pd(X))

    @property
    def points_scale(self) -> PointsScale:
        """The points scale in use (`scale`, or the default one)."""
        return self.scale if self.scale is not None else PointsScale()

    @property
    def master_scale_(self) -> pd.DataFrame:
        """grade, pd_lower, pd_upper, pd_mean, count, share, defaults, observed_default_rate."""
        check_is_fitted(self, "grading_")
        return self.grading_.table_

    def _more_tags(self):  # scikit-learn < 1.6
        return {"requires_y": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def grouping(models) -> int | None:
    """`max_categories` of both models: the cardinality guard's, when it groups (else None)."""
    guard = models.guards.cardinality
    return guard.max_categories if guard.action == "group" else None


def shared_components(models) -> dict:
    """The shared parts of both models from the `models` params section (`ModelParams`)."""
    return {
        "scale": PointsScale.from_params(models.scale),
        "calibration": LogOddsCalibrator.from_params(models.calibration),
        "grading": MasterScale.from_params(models.master_scale),
    }


def category_label(value) -> str | None:
    """The label of a categorical value everywhere (fit, predict, JSON, SQL); None when missing.

    Booleans read 'true' / 'false', as SQL engines cast them to text; anything else is `str(value)`.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def _check_frame(X, name: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame of features with named columns; got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError(f"{name} has no rows")
    return X


def _check_weight(weight, n: int, name: str) -> np.ndarray | None:
    if weight is None:
        return None
    values = np.asarray(weight, dtype=float).ravel()
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} rows")
    if not np.isfinite(values).all() or (values < 0).any():
        row = int(np.flatnonzero(~np.isfinite(values) | (values < 0))[0])
        raise ValueError(f"{name} must be finite and non-negative; row {row} has {values[row]!r}")
    return values


def _check_target(y, n: int, name: str) -> np.ndarray:
    values = np.asarray(y, dtype=float).ravel()
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} rows")
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be 0/1 outcomes (matured only); row {row} has {values[row]!r}")
    if len(np.unique(values)) < 2:
        raise ValueError(f"{name} needs both defaults and non-defaults; all {n} rows are {values[0]:.0f}")
    return values.astype(int)
