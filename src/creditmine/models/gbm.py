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

from creditmine.models.base import CreditModel, category_label

SEARCHED = ("learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")


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
        (name -> (low, high)); each trial is scored by AUC on the validation applications given to
        `fit` (the in-time holdout), and the best one is kept.
    search_folds : when > 0, trials are scored instead by the mean AUC of a stratified k-fold
        cross-validation on the training data, and the best settings are refitted on all of it
        (steadier than one small holdout on small data sets).
    search_rows : with more than one trial and more training rows than this, trials are fitted on a
        stratified sample of `search_rows` training rows and the chosen settings are refitted on
        all of them (the search costs a few full fits less); None = every trial on all rows.
    base_points, base_odds, pdo : points scale of `credit_score`.
    calibration, calibration_folds, pd_floor, grades, master_scale, validation_share,
    random_state, progress : as in `ScorecardModel`.
    n_threads : OpenMP threads while fitting and predicting; None = all cores.

    Attributes
    ----------
    estimator_ : the fitted HistGradientBoostingClassifier of the best trial.
    model_features_ : column names of `transform_features`.
    categories_ : categorical feature -> category labels in code order.
    empty_features_ : features with no value in the training data; transformed to a constant 0.
    trials_ : list of dicts: trial, the searched settings, n_iter (after early stopping), score
        ("validation_auc" or "cv_auc"), auc, seconds, chosen.
    """

    def __init__(
        self,
        categorical_features=(),
        risk_directions=None,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        class_weight=None,
        early_stopping: bool = True,
        validation_fraction: float = 0.15,
        n_iter_no_change: int = 20,
        search_trials: int = 0,
        search_space=None,
        search_folds: int = 0,
        search_rows: int | None = None,
        monotone: bool = True,
        base_points: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        calibration: str = "auto",
        calibration_folds: int = 5,
        pd_floor: float = 0.0003,
        grades: int = 10,
        master_scale: str = "quantile",
        validation_share: float = 0.2,
        n_threads: int | None = 1,
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
        self.base_points = base_points
        self.base_odds = base_odds
        self.pdo = pdo
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.pd_floor = pd_floor
        self.grades = grades
        self.master_scale = master_scale
        self.validation_share = validation_share
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    @classmethod
    def from_params(cls, models, categorical_features=(), risk_directions=None, seed: int = 0, progress=False):
        """A gradient boosting configured from the `models` params section (`ModelParams`)."""
        g, s = models.gbm, models.scorecard
        return cls(
            categorical_features=tuple(categorical_features), risk_directions=dict(risk_directions or {}),
            max_iter=g.max_iter, learning_rate=g.learning_rate, max_leaf_nodes=g.max_leaf_nodes,
            min_samples_leaf=g.min_samples_leaf, l2_regularization=g.l2_regularization,
            class_weight=g.class_weight, early_stopping=g.early_stopping,
            validation_fraction=g.validation_fraction, n_iter_no_change=g.n_iter_no_change,
            search_trials=g.search_trials,
            search_space={k: tuple(v) for k, v in g.search_space.model_dump().items()},
            search_folds=g.search_folds, search_rows=g.search_rows,
            monotone=g.monotone, base_points=s.base_points, base_odds=s.base_odds, pdo=s.pdo,
            calibration=models.calibration, calibration_folds=models.calibration_folds,
            pd_floor=models.pd_floor, grades=models.grades, master_scale=models.master_scale,
            n_threads=models.threads, random_state=seed, progress=progress,
        )

    def fit(self, X, y, X_val=None, y_val=None) -> "GbmModel":
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return super().fit(X, y, X_val, y_val)

    fit.__doc__ = CreditModel.fit.__doc__

    # -- fitting --------------------------------------------------------------------------------
    def _fit_raw(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray) -> None:
        directions = dict(self.risk_directions or {})
        categorical = set(self.categorical_features)
        self.categories_ = {}
        for column in X.columns:
            if column in categorical or not _is_numeric(X[column]):
                self.categories_[str(column)] = _categories_by_default_rate(_labels(X[column]), y)
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
        for trial, settings in enumerate(tqdm(settings_list, desc="gbm search", disable=not self.progress, leave=False)):
            started = time.perf_counter()
            if self.search_folds:
                splitter = StratifiedKFold(self.search_folds, shuffle=True, random_state=self.random_state)
                aucs, iters = [], []
                for fit_rows, test_rows in splitter.split(sample, y_sample):
                    booster = self._booster(settings, monotone).fit(sample[fit_rows], y_sample[fit_rows])
                    aucs.append(roc_auc_score(y_sample[test_rows], booster.decision_function(sample[test_rows])))
                    iters.append(booster.n_iter_)
                auc, n_iter, booster = float(np.mean(aucs)), int(np.mean(iters)), None
            else:
                booster = self._booster(settings, monotone).fit(sample, y_sample)
                auc = float(roc_auc_score(y_val, booster.decision_function(matrix_val)))
                n_iter = int(booster.n_iter_)
            self.trials_.append({
                "trial": trial, **settings, "n_iter": n_iter, "rows": len(rows),
                "score": "cv_auc" if self.search_folds else "validation_auc", "auc": auc,
                "seconds": round(time.perf_counter() - started, 3), "chosen": False,
            })
            if best is None or auc > best[0]:
                best = (auc, trial, booster)
        self.trials_[best[1]]["chosen"] = True
        if best[2] is None or len(rows) < len(y):
            best = (*best[:2], self._booster(settings_list[best[1]], monotone).fit(matrix, y))
        self.estimator_ = best[2]
        self.monotonic_cst_ = monotone

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
        space = dict(self.search_space or {})
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
                out[:, j] = _labels(X[column]).map(codes).to_numpy(dtype=float, na_value=np.nan)
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


def _categories_by_default_rate(labels: pd.Series, y: np.ndarray) -> list[str]:
    """Category labels ordered by smoothed training default rate (ties by label)."""
    frame = pd.DataFrame({"label": labels.to_numpy(), "bad": y}).dropna(subset=["label"])
    stats = frame.groupby("label", sort=True)["bad"].agg(["sum", "count"])
    rate = (stats["sum"] + 0.5) / (stats["count"] + 1.0)
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
