"""SHAP attributions in PD log-odds space: exact TreeSHAP for the gradient boosting, closed form for
the scorecard, and the additivity check that a stage fails on.

Two explainers, one result type (`Attributions`):

- `HistGradientBoostingExplainer`: exact *path-dependent* TreeSHAP of a fitted scikit-learn
  `HistGradientBoostingClassifier`, the same values as
  ``shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")`` (the tests pin the
  two together to 1e-9), computed by creditmine's own kernels: shap's C++ path runs at a few
  hundred rows/s for a 300-tree, 31-leaf model on this machine. A leaf's share of feature i is
  ``v (o_i - z_i) * integral of prod_{j != i} (z_j (1-t) + o_j t) dt`` (the Shapley weight
  ``k!(d-k-1)!/d!`` is the Beta integral of ``t^k (1-t)^(d-k-1)``), where o_j = 1 when the row
  satisfies the path's conditions on j and z_j is the path's cover of j. It depends on the row
  only through the bits o, so by default `fit` precomputes it for every bit pattern, in tables
  shared by groups of leaves (`creditmine.explain._treeshap_plan`: their memory is estimated
  first and bounded by params explain.treeshap_memory_mb), and a row costs one look-up per group.
  Over the budget, the *path kernel* (`creditmine.explain._treeshap`) evaluates the integrals
  per row with Gauss-Legendre quadrature (exact for these polynomials), sums over leaves shared
  up the tree as in Linear TreeSHAP (Yu et al. 2022); it also gives the interaction values.
  Background: the training rows that grew the trees (node counts), so the base value is the
  count-weighted mean raw log-odds of the trees.
- `ScorecardExplainer`: the scorecard's log-odds are ``intercept + sum_j contribution_j(x_j)``
  (coefficient x WoE), additive and one feature per term, so the exact interventional SHAP value
  against a background is ``contribution_j(x) - mean_background contribution_j``: closed form.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from creditmine.config.explain import ExplainParams
from creditmine.explain._trees import booster_column_order, flatten_trees

__all__ = [
    "AdditivityError", "Attributions", "HistGradientBoostingExplainer", "ScorecardExplainer",
    "check_additivity", "explain_model", "model_frame",
]

DEFAULT_MEMORY_BUDGET_MB = ExplainParams.model_fields["treeshap_memory_mb"].default
# rows per thread batch of the table kernel: 256 explained 100,000 rows about 20 % faster than 64
TABLE_BATCH_ROWS = 256
# the table kernels' arrays, in their argument order (see creditmine.explain._treeshap_plan)
LOOKUP_ARRAYS = ("tree_ranges", "split_int", "split_threshold", "category_left", "pattern_int",
                 "group_int", "member_int", "add_int", "table")


class AdditivityError(ValueError):
    """base value + contributions differ from the model output by more than the tolerance."""


@dataclass
class Attributions:
    """Per-row, per-feature attributions of one model's raw log-odds of default.

    Attributes
    ----------
    values : DataFrame (n_rows, n_features), log-odds each feature adds to the base value
        (positive pushes the PD up); columns are the model's feature names, index the rows of X.
    base_value : float, log-odds of the reference (the background's expected raw output).
    output : ndarray (n_rows,), the model's raw log-odds (`decision_function`) for the rows.
    method : dict, how the values were computed (algorithm, background, library versions).
    """

    values: pd.DataFrame
    base_value: float
    output: np.ndarray
    method: dict = field(default_factory=dict)

    @property
    def additivity_error(self) -> float:
        """max |base value + sum of contributions - model output| over the rows, in log-odds."""
        if len(self.values) == 0:
            return 0.0
        total = self.base_value + self.values.to_numpy().sum(axis=1)
        return float(np.max(np.abs(total - self.output)))

    def to_frame(self, ids: pd.Series | np.ndarray) -> pd.DataFrame:
        """application_id, one column per feature, base_value, output: the stage's shap_<model>.parquet."""
        frame = self.values.reset_index(drop=True).copy()
        frame.insert(0, "application_id", np.asarray(ids))
        frame["base_value"] = self.base_value
        frame["output"] = self.output
        return frame


def explain_model(model, X: pd.DataFrame, background: pd.DataFrame | None = None,
                  memory_budget_mb: float | None = None) -> Attributions:
    """SHAP attributions of a creditmine model's raw log-odds (`decision_function`) for the rows X.

    Parameters
    ----------
    model : a fitted creditmine `GbmModel` (has `estimator_` and `transform_features`) or
        `ScorecardModel` (has `contributions`).
    X : DataFrame of features with the model's `feature_names_in_` columns.
    background : rows whose mean contribution is the scorecard's reference (the training sample);
        unused by the gradient boosting, whose reference is the data that grew its trees.
    memory_budget_mb : MiB the boosting's precomputed TreeSHAP tables may take (params
        explain.treeshap_memory_mb); beyond it the path kernel runs instead.
    """
    if hasattr(model, "contributions"):
        if background is None:
            raise ValueError("the scorecard's SHAP values need a background sample (training rows)")
        return ScorecardExplainer().fit(model, background).explain(X)
    if hasattr(model, "estimator_") and hasattr(model, "transform_features"):
        matrix = np.asarray(model.transform_features(X), dtype=np.float64)
        explainer = HistGradientBoostingExplainer(memory_budget_mb=memory_budget_mb).fit(model.estimator_)
        values = explainer.shap_values(matrix)
        names = [str(n) for n in getattr(model, "model_features_", range(matrix.shape[1]))]
        output = np.asarray(model.decision_function(X), dtype=float).ravel()
        return Attributions(
            values=pd.DataFrame(values, columns=names, index=X.index),
            base_value=explainer.expected_value_, output=output, method=explainer.method_,
        )
    raise TypeError(
        f"cannot explain a {type(model).__name__}: expected a GbmModel (estimator_, "
        "transform_features) or a ScorecardModel (contributions)"
    )


def check_additivity(attributions: Attributions, tolerance: float, label: str) -> float:
    """Raise `AdditivityError` when base + contributions misses the output by more than `tolerance`.

    Returns the maximum absolute error (log-odds), for the report.
    """
    error = attributions.additivity_error
    if not np.isfinite(error) or error > tolerance:
        worst = int(np.argmax(np.abs(
            attributions.base_value + attributions.values.to_numpy().sum(axis=1) - attributions.output
        )))
        raise AdditivityError(
            f"{label}: base value + SHAP contributions differ from the model's log-odds by {error:.3g} "
            f"(row {attributions.values.index[worst]!r}); the tolerance is {tolerance:g} "
            "(params explain.additivity_tolerance)"
        )
    return error


def model_frame(model, frame: pd.DataFrame, source: str = "features") -> pd.DataFrame:
    """The model's input columns (`feature_names_in_`) of a feature table, with a clear error."""
    names = [str(n) for n in model.feature_names_in_]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"{source}: the model needs columns that are missing: {', '.join(missing[:10])}")
    return frame[names]


class HistGradientBoostingExplainer(BaseEstimator):
    """Exact path-dependent TreeSHAP for a binary `HistGradientBoostingClassifier`, in raw log-odds.

    Parameters
    ----------
    batch_rows : up to this many rows run on the calling thread alone (no thread start-up); more
        are split in batches per thread, of this many rows for the path kernel (memory per
        thread about nodes x quadrature points x batch_rows x 24 bytes), of up to
        TABLE_BATCH_ROWS for the tables (which measured fastest there).
    memory_budget_mb : MiB the precomputed tables may take (None: params
        explain.treeshap_memory_mb, 256); their size is estimated before they are built, and
        beyond the budget the explainer uses the path kernel (same values, about 5x slower).

    Attributes (after `fit`)
    ------------------------
    expected_value_ : float, base value in log-odds: the baseline plus each tree's
        count-weighted mean leaf value (the trees' training data as background).
    n_features_in_ : int, columns of the matrix the estimator was fitted on.
    kernel_ : "tables" (precomputed per-group tables) or "paths" (the tables exceed the budget).
    table_memory_mb_ : float, estimated MiB of the tables (inf for a leaf of over 40 features).
    quadrature_points_ : int, most Gauss-Legendre points of a tree for the path kernel: ceil(d/2)
        for d the most distinct features on one of its root-to-leaf paths.
    method_ : dict, a description for the report.

    Notes
    -----
    Measured on this machine (2 shared cores, 300 trees of 31 leaves, 109 features; figures in
    benchmarks/results/explain.json): fitting builds 66 MiB of tables in about 1.5 s; then one
    row takes 0.3 ms (p99 0.6 ms) on the calling thread, and 100,000 rows about 8 s on both
    cores, 5x the path kernel, exact to 1e-14 against it. The kernels are compiled by numba on
    first use and cached on disk.
    """

    def __init__(self, batch_rows: int = 64, memory_budget_mb: float | None = None):
        self.batch_rows = batch_rows
        self.memory_budget_mb = memory_budget_mb

    def fit(self, estimator) -> "HistGradientBoostingExplainer":
        """Read the trees of a fitted HistGradientBoostingClassifier (binary) into flat tables,
        and precompute the leaf shares when they fit in the memory budget."""
        check_is_fitted(estimator, "_predictors")
        if getattr(estimator, "n_trees_per_iteration_", 1) != 1:
            raise ValueError("only binary HistGradientBoostingClassifier models can be explained")
        if self.batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1; got {self.batch_rows}")
        budget_mb = DEFAULT_MEMORY_BUDGET_MB if self.memory_budget_mb is None else float(self.memory_budget_mb)
        if budget_mb < 0:
            raise ValueError(f"memory_budget_mb must be at least 0; got {self.memory_budget_mb}")
        tables, expected, max_distinct = flatten_trees(estimator)
        self.estimator_ = estimator
        # with categorical features the booster reorders its columns (categories first)
        self.column_order_ = booster_column_order(estimator)
        self.tables_ = tables
        self.expected_value_ = float(np.ravel(estimator._baseline_prediction)[0] + expected)
        self.n_features_in_ = int(estimator.n_features_in_)
        # per tree, ceil(d/2) Gauss-Legendre points on [0, 1] for d its most distinct features on a path
        tree_points = np.maximum(1, -(-tables["tree_distinct"] // 2))
        self.quadrature_points_ = int(tree_points.max())
        self.quadrature_nodes_ = np.zeros((len(tree_points), self.quadrature_points_))
        self.quadrature_weights_ = np.zeros((len(tree_points), self.quadrature_points_))
        for q in np.unique(tree_points):
            nodes, weights = np.polynomial.legendre.leggauss(int(q))
            self.quadrature_nodes_[tree_points == q, :q] = (nodes + 1.0) / 2.0
            self.quadrature_weights_[tree_points == q, :q] = weights / 2.0
        tables["tree_points"] = tree_points.astype(np.int64)
        self._fit_tables(tables, budget_mb)
        self.method_ = {
            "algorithm": "exact TreeSHAP, path-dependent (equal to shap.TreeExplainer with "
                         "feature_perturbation='tree_path_dependent'), vectorised kernel",
            "kernel": self.kernel_,
            "kernel_detail": (
                f"leaf shares precomputed per group of leaves at fit ({self.table_memory_mb_:.1f} MiB), "
                "one table look-up per group and row" if self.kernel_ == "tables" else
                f"path polynomials per row: the tables would take {self.table_memory_mb_:.1f} MiB, "
                f"over the budget of {budget_mb:g} MiB"
            ),
            "background": "the training rows that grew the trees (node sample counts)",
            "output_space": "raw log-odds of default (decision_function, before calibration)",
            "trees": int(len(estimator._predictors)),
            "quadrature_points": self.quadrature_points_,
            "table_memory_mb": round(self.table_memory_mb_, 2) if np.isfinite(self.table_memory_mb_) else None,
            "memory_budget_mb": budget_mb,
            # the version only: importing shap takes seconds, and a served model loads this
            "shap_version": _distribution_version("shap"),
        }
        return self

    def _fit_tables(self, tables: dict, budget_mb: float) -> None:
        """Estimate the tables; build them and the kernels' scratch when within the budget."""
        from creditmine.explain._treeshap_plan import build_tables, plan_tables

        plan = plan_tables(tables)
        self.table_memory_mb_ = plan.estimated_bytes / 2 ** 20
        self.kernel_ = "tables" if plan.feasible and self.table_memory_mb_ <= budget_mb else "paths"
        self.lookup_ = None
        if self.kernel_ == "tables":
            lookup = build_tables(tables, plan)
            self.lookup_ = tuple(lookup[name] for name in LOOKUP_ARRAYS)
            self.lookup_scratch_ = int(lookup["max_scratch"])
            # one application online: buffers owned by the explainer, taken under a lock that a
            # concurrent caller does not wait for (it allocates its own)
            self._row_work = np.empty((3, self.lookup_scratch_), dtype=np.int64)
            self._work = np.empty((3, self.lookup_scratch_, self.batch_rows), dtype=np.int64)
        self._work_lock = threading.Lock()

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_work_lock", None)       # locks do not pickle; a new one on load
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._work_lock = threading.Lock()

    def shap_values(self, X) -> np.ndarray:
        """SHAP values (n_rows, n_features) of the raw log-odds for the matrix X (float, NaN allowed)."""
        matrix = self._booster_matrix(X)
        values = self._run(matrix) if self.lookup_ is None else self._run_tables(matrix)
        return self._to_original_columns(values)

    def interaction_values(self, X, features) -> np.ndarray:
        """SHAP interaction values with a few features: (n_rows, len(features), n_features).

        ``out[r, a, i]`` is the interaction of feature ``features[a]`` with feature i (log-odds, one
        half of the symmetric pair, as shap reports it); ``out[r, a, features[a]]`` is the main
        effect, so that each ``out[r, a, :]`` sums to the SHAP value of ``features[a]``.
        """
        check_is_fitted(self, "tables_")
        matrix = self._booster_matrix(X)
        features = [int(f) for f in features]
        booster_column = {int(o): b for b, o in enumerate(self.column_order_)} if self.column_order_ is not None else None
        shap_values = self._to_original_columns(self._run(matrix))
        out = np.empty((matrix.shape[0], len(features), matrix.shape[1]))
        for a, feature in enumerate(features):
            inner = booster_column[feature] if booster_column is not None else feature
            on = self._to_original_columns(self._run(matrix, cond_feature=inner, cond_on=True))
            off = self._to_original_columns(self._run(matrix, cond_feature=inner, cond_on=False))
            out[:, a, :] = (on - off) / 2.0
            out[:, a, feature] = 0.0
            out[:, a, feature] = shap_values[:, feature] - out[:, a, :].sum(axis=1)
        return out

    def _booster_matrix(self, X) -> np.ndarray:
        check_is_fitted(self, "tables_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} columns; got shape {X.shape}")
        if self.column_order_ is not None:
            X = self.estimator_._preprocess_X(X, reset=False)
        return np.ascontiguousarray(X, dtype=np.float64)

    def _run(self, matrix: np.ndarray, cond_feature: int = -1, cond_on: bool = False) -> np.ndarray:
        from creditmine.explain._treeshap import tree_shap

        t = self.tables_
        return tree_shap(
            matrix, t["tree_start"], t["parent"], t["feature"], t["threshold"], t["missing_left"],
            t["is_left"], t["cover"], t["previous"], t["is_leaf"], t["value"], t["left"],
            t["right"], t["category"], t["category_left"], t["tree_points"], self.quadrature_nodes_,
            self.quadrature_weights_, int(t["max_nodes"]),
            batch_rows=int(self.batch_rows), cond_feature=int(cond_feature), cond_on=bool(cond_on),
        )

    def _run_tables(self, matrix: np.ndarray) -> np.ndarray:
        import numba

        from creditmine.explain._treeshap_tables import explain_parallel, explain_serial

        n_rows = matrix.shape[0]
        if n_rows > self.batch_rows:
            # up to TABLE_BATCH_ROWS rows per batch (a tree's tables stay in cache while they are
            # read), but at least one batch per thread
            per_thread = -(-n_rows // numba.get_num_threads())
            batch = max(int(self.batch_rows), min(TABLE_BATCH_ROWS, per_thread))
            return explain_parallel(matrix, batch, self.lookup_scratch_, *self.lookup_)
        out = np.zeros(matrix.shape)
        if self._work_lock.acquire(blocking=False):
            try:
                explain_serial(matrix, out, self._row_work, self._work, *self.lookup_)
            finally:
                self._work_lock.release()
        else:
            explain_serial(matrix, out, np.empty_like(self._row_work), np.empty_like(self._work), *self.lookup_)
        return out

    def _to_original_columns(self, values: np.ndarray) -> np.ndarray:
        if self.column_order_ is None:
            return values
        out = np.empty_like(values)
        out[:, self.column_order_] = values
        return out


class ScorecardExplainer(BaseEstimator):
    """Closed-form SHAP values of a scorecard: contribution minus its background mean, per feature.

    Attributes (after `fit`)
    ------------------------
    background_mean_ : Series, mean log-odds contribution of each characteristic in the background.
    expected_value_ : float, intercept + sum of the background means (log-odds).
    method_ : dict, a description for the report.
    """

    def fit(self, model, background: pd.DataFrame) -> "ScorecardExplainer":
        """Learn the reference: the mean contribution of each characteristic over `background`."""
        check_is_fitted(model, "intercept_")
        if len(background) == 0:
            raise ValueError("the scorecard background sample has no rows")
        contributions = model.contributions(background)
        self.model_ = model
        self.background_mean_ = contributions.mean(axis=0)
        self.expected_value_ = float(np.ravel(model.intercept_)[0] + self.background_mean_.sum())
        self.method_ = {
            "algorithm": "closed form: the scorecard is additive in one WoE term per characteristic, "
                         "so SHAP = coefficient x WoE(x) - its background mean",
            "background": f"{len(background)} training applications (mean contribution per characteristic)",
            "output_space": "raw log-odds of default (decision_function, before calibration)",
        }
        return self

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Attributions of the rows X (DataFrame with the scorecard's input columns)."""
        check_is_fitted(self, "background_mean_")
        contributions = self.model_.contributions(X)
        values = contributions - self.background_mean_
        output = np.asarray(self.model_.decision_function(X), dtype=float).ravel()
        return Attributions(
            values=values.set_axis(X.index), base_value=self.expected_value_, output=output,
            method=dict(self.method_),
        )


def _distribution_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
