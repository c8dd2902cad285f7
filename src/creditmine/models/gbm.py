"""Monotone gradient boosting: scikit-learn's HistGradientBoostingClassifier with a seeded search."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from creditmine.config.models import CardinalityGuard, GbmParams, ModelParams
from creditmine.models.base import CreditModel, category_label, grouping, shared_components
from creditmine.models.binning import OTHER, group_rare
from creditmine.models.calibration import LogOddsCalibrator
from creditmine.models.components import MasterScale, PointsScale

AUTO_FOLDS, AUTO_FOLDS_BELOW_ROWS = 5, 5000
"""search_folds "auto": 5-fold scoring of the trials below 5,000 training rows, the holdout above."""
SEARCHED = ("learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
_P = GbmParams()
_THREADS = ModelParams().threads
_MAX_CATEGORIES = CardinalityGuard().max_categories


class GbmModel(CreditModel):
    """Gradient boosting of default with monotone constraints.

    A categorical column is coded 0..k-1 in the order of its categories' training default rates
    (smoothed by half a default), and the trees split the codes by thresholds: for a binary target
    the best split of categories is contiguous in that order (Fisher 1958; LightGBM does the
    same), and unlike the booster's bitset splits it keeps shap's TreeExplainer exact. A missing
    or unseen category becomes NaN, which the trees route like any missing value.
    `transform_features(X)` gives exactly the matrix the booster was fitted on, so that
    `shap.TreeExplainer(model.estimator_)` explains `model.transform_features(X)` in log-odds.

    Parameters
    ----------
    categorical_features : names of categorical columns (non-numeric columns are categorical anyway).
    risk_directions : feature -> +1 / -1 / 0; numeric features with +1 (-1) get an increasing
        (decreasing) monotone constraint on the log-odds of default when `monotone`.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization : booster
        settings of the first trial (the params' values).
    class_weight : "balanced" or None.
    early_stopping, validation_fraction, n_iter_no_change : early stopping on a stratified
        validation fold drawn from the training data by the booster.
    search_trials : number of extra random trials, drawn with `random_state` from `search_space`
        (name -> (low, high); None: the params' default space); each trial is scored by AUC on the validation applications given to
        `fit` (the in-time holdout), and the best one is kept.
    search_folds : when > 0 ("auto": 5 below `AUTO_FOLDS_BELOW_ROWS` training rows, else 0), trials
        are scored instead by the mean AUC of a stratified k-fold
        cross-validation on the training data, and the best settings are refitted on all of it
        (steadier than one small holdout on small data sets).
    search_rows : with more than one trial and more training rows than this, trials are fitted on a
        stratified sample of `search_rows` training rows and the chosen settings are refitted on
        all of them (the search costs a few full fits less); None = every trial on all rows.
    scale, calibration, grading, random_state, progress : as in `ScorecardModel`.
    n_threads : OpenMP threads while fitting and predicting; None = all cores.
    max_categories : a categorical feature with more training categories keeps its
        `max_categories - 1` most frequent ones and codes the rest (and unseen ones) as one group;
        None keeps every category (stage 02 sets it from `models.guards.cardinality`).

    Attributes
    ----------
    estimator_ : the fitted HistGradientBoostingClassifier of the best trial.
    model_features_ : column names of `transform_features`.
    categories_ : categorical feature -> category labels in code order.
    grouped_ : grouped categorical feature -> the categories kept by name (the rest are "(other)").
    empty_features_ : features with no value in the training data; transformed to a constant 0.
    trials_ : list of dicts: trial, the searched settings, n_iter (after early stopping), score
        ("validation_auc" or "cv_auc"), auc, seconds, chosen.
    """

    def __init__(
        self,
        categorical_features=(),
        risk_directions=None,
        max_iter: int = _P.max_iter,
        learning_rate: float = _P.learning_rate,
        max_leaf_nodes: int = _P.max_leaf_nodes,
        min_samples_leaf: int = _P.min_samples_leaf,
        l2_regularization: float = _P.l2_regularization,
        class_weight=_P.class_weight,
        early_stopping: bool = _P.early_stopping,
        validation_fraction: float = _P.validation_fraction,
        n_iter_no_change: int = _P.n_iter_no_change,
        search_trials: int = _P.search_trials,
        search_space=None,
        search_folds: int | str = _P.search_folds,
        search_rows: int | None = _P.search_rows,
        monotone: bool = _P.monotone,
        max_categories: int | None = _MAX_CATEGORIES,
        scale: PointsScale | None = None,
        calibration: LogOddsCalibrator | None = None,
        grading: MasterScale | None = None,
        n_threads: int | None = _THREADS,
        random_state: int = 0,
        progress: bool = False,
    ):
        self.categorical_features = categorical_features
        self.risk_directions = risk_directions
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.search_trials = search_trials
        self.search_space = search_space
        self.search_folds = search_folds
        self.search_rows = search_rows
        self.monotone = monotone
        self.max_categories = max_categories
        self.scale = scale
        self.calibration = calibration
        self.grading = grading
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    @classmethod
    def from_params(cls, models, categorical_features=(), risk_directions=None, seed: int = 0, progress=False):
        """A gradient boosting configured from the `models` params section (`ModelParams`)."""
        return cls(
            categorical_features=tuple(categorical_features), risk_directions=dict(risk_directions or {}),
            **models.gbm.model_dump(), **shared_components(models), n_threads=models.threads,
            max_categories=grouping(models),
            random_state=seed, progress=progress,
        )

    def fit(self, X, y, X_val=None, y_val=None, **fit_params) -> GbmModel:
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return super().fit(X, y, X_val, y_val, **fit_params)

    fit.__doc__ = CreditModel.fit.__doc__

    # -- fitting --------------------------------------------------------------------------------
    def _fit_raw(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
                 w: np.ndarray | None = None, w_val: np.ndarray | None = None) -> None:
        directions = dict(self.risk_directions or {})
        categorical = set(self.categorical_features)
        self.categories_ = {}
        self.grouped_ = {}
        for column in X.columns:
            if column in categorical or not _is_numeric(X[column]):
                labels, kept = group_rare(_labels(X[column]).to_numpy(dtype=object), self.max_categories)
                labels = pd.Series([np.nan if v is None or pd.isna(v) else v for v in labels], index=X.index, dtype=object)
                self.categories_[str(column)] = _categories_by_default_rate(labels, y, w)
                if kept is not None:
                    self.grouped_[str(column)] = kept
        self.model_features_ = [str(c) for c in X.columns]
        # a column with no value in training teaches nothing (and the booster's binning rejects it)
        self.empty_features_ = [str(c) for c in X.columns if X[c].isna().all()]
        is_categorical = [c in self.categories_ for c in self.model_features_]
        monotone = [
            0 if cat or not self.monotone else int(np.sign(directions.get(c, 0)))
            for c, cat in zip(self.model_features_, is_categorical)
        ]
        matrix, matrix_val = self.transform_features(X), self.transform_features(X_val)
        self.trials_ = []
        best = None
        settings_list = self._trial_settings()
        rows = np.arange(len(y))
        if self.search_rows and len(settings_list) > 1 and len(y) > self.search_rows:
            rows, _ = train_test_split(
                rows, train_size=self.search_rows, stratify=y, random_state=self.random_state
            )
            rows = np.sort(rows)
        sample, y_sample = matrix[rows], y[rows]
        w_sample = None if w is None else w[rows]
        folds = self.search_folds
        if folds == "auto":
            folds = AUTO_FOLDS if len(y) < AUTO_FOLDS_BELOW_ROWS else 0
        self.search_folds_ = int(folds)
        for trial, settings in enumerate(tqdm(settings_list, desc="gbm search", disable=not self.progress, leave=False)):
            started = time.perf_counter()
            if self.search_folds_:
                splitter = StratifiedKFold(self.search_folds_, shuffle=True, random_state=self.random_state)
                aucs, iters = [], []
                for fit_rows, test_rows in splitter.split(sample, y_sample):
                    booster = self._booster(settings, monotone).fit(
                        sample[fit_rows], y_sample[fit_rows], sample_weight=_take(w_sample, fit_rows))
                    aucs.append(roc_auc_score(y_sample[test_rows], booster.decision_function(sample[test_rows]),
                                              sample_weight=_take(w_sample, test_rows)))
                    iters.append(booster.n_iter_)
                auc, n_iter, booster = float(np.mean(aucs)), int(np.mean(iters)), None
            else:
                booster = self._booster(settings, monotone).fit(sample, y_sample, sample_weight=w_sample)
                auc = float(roc_auc_score(y_val, booster.decision_function(matrix_val), sample_weight=w_val))
                n_iter = int(booster.n_iter_)
            self.trials_.append({
                "trial": trial, **settings, "n_iter": n_iter, "rows": len(rows),
                "score": "cv_auc" if self.search_folds_ else "validation_auc", "auc": auc,
                "seconds": round(time.perf_counter() - started, 3), "chosen": False,
            })
            if best is None or auc > best[0]:
                best = (auc, trial, booster)
        self.trials_[best[1]]["chosen"] = True
        if best[2] is None or len(rows) < len(y):
            best = (*best[:2], self._booster(settings_list[best[1]], monotone).fit(matrix, y, sample_weight=w))
        self.estimator_ = best[2]
        self.monotonic_cst_ = monotone

    def _refit_raw(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None) -> None:
        """The chosen trial's settings refitted on all rows (categories keep their codes)."""
        chosen = next(t for t in self.trials_ if t["chosen"])
        settings = {k: chosen[k] for k in SEARCHED}
        self.estimator_ = self._booster(settings, self.monotonic_cst_).fit(self.transform_features(X), y, sample_weight=w)

    def _booster(self, settings: dict, monotone: list[int]) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            monotonic_cst=monotone, class_weight=self.class_weight,
            early_stopping=self.early_stopping, validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change, scoring="loss",
            random_state=self.random_state, **settings,
        )

    def _trial_settings(self) -> list[dict]:
        """The params' settings first, then `search_trials` seeded random draws."""
        first = {k: getattr(self, k) for k in SEARCHED}
        space = dict(self.search_space if self.search_space is not None else _P.search_space.model_dump())
        rng = np.random.default_rng(self.random_state)
        trials = [first]
        for _ in range(self.search_trials):
            draw = dict(first)
            if "learning_rate" in space:
                low, high = space["learning_rate"]
                draw["learning_rate"] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            for name in ("max_leaf_nodes", "min_samples_leaf"):
                if name in space:
                    low, high = space[name]
                    draw[name] = int(rng.integers(int(low), int(high) + 1))
            if "l2_regularization" in space:
                low, high = space["l2_regularization"]
                draw["l2_regularization"] = float(rng.uniform(low, high))
            trials.append(draw)
        return trials

    # -- scoring --------------------------------------------------------------------------------
    def transform_features(self, X: pd.DataFrame) -> np.ndarray:
        """The float matrix the booster sees: numeric columns as numbers, categories as codes."""
        check_is_fitted(self, "model_features_")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame with the columns {self.model_features_}; got {type(X).__name__}")
        lacking = [c for c in self.model_features_ if c not in X.columns]
        if lacking:
            raise ValueError(f"X lacks the gradient boosting's feature columns {lacking}")
        out = np.empty((len(X), len(self.model_features_)), dtype=float)
        for j, column in enumerate(self.model_features_):
            if column in self.empty_features_:
                out[:, j] = 0.0
            elif column in self.categories_:
                codes = {c: float(i) for i, c in enumerate(self.categories_[column])}
                labels = _labels(X[column])
                if column in getattr(self, "grouped_", {}) and OTHER in codes:
                    # a grouped feature: rare and unseen categories take the code of the group
                    labels = labels.where(labels.isna() | labels.isin(codes.keys()), OTHER)
                out[:, j] = labels.map(codes).to_numpy(dtype=float, na_value=np.nan)
            else:
                out[:, j] = _numeric(X[column], column)
        return out

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (uncalibrated) log-odds of default from the booster."""
        check_is_fitted(self, "estimator_")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.estimator_.decision_function(self.transform_features(X))


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _take(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[rows]


def _categories_by_default_rate(labels: pd.Series, y: np.ndarray, w: np.ndarray | None = None) -> list[str]:
    """Category labels ordered by smoothed (weighted) training default rate (ties by label)."""
    weight = np.ones(len(y)) if w is None else w
    frame = pd.DataFrame({"label": labels.to_numpy(), "bad": y * weight, "weight": weight}).dropna(subset=["label"])
    stats = frame.groupby("label", sort=True)[["bad", "weight"]].sum()
    rate = (stats["bad"] + 0.5) / (stats["weight"] + 1.0)
    return [str(k) for k, _ in sorted(rate.items(), key=lambda kv: (kv[1], kv[0]))]


def _labels(column: pd.Series) -> pd.Series:
    """Category labels as strings, missing as NaN (the same rule as the scorecard)."""
    labels = [category_label(v) for v in column.tolist()]
    return pd.Series([np.nan if v is None else v for v in labels], index=column.index, dtype=object)


def _numeric(column: pd.Series, feature: str) -> np.ndarray:
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError):
        as_number = pd.to_numeric(column, errors="coerce")
        row = (as_number.isna() & column.notna()).idxmax()
        raise ValueError(f"column {feature!r}: expected numbers, row {row} has {column[row]!r}") from None
