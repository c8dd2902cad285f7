"""Reason codes: the top reasons that pushed an application's PD up, as statements in English and
Chinese from the feature catalog.

API (what the decision model calls)
-----------------------------------
``coder = ReasonCoder(catalog, top_k=4).fit(model)`` once, with a fitted creditmine model
(`GbmModel` or `ScorecardModel`) and the catalog (`read_catalog(...)`); then, per request or
batch, ``coder.explain(X, ids)`` returns the long table (application_id, model, rank,
reason_group, feature, value, contribution, statement_en, statement_zh): at most `top_k` rows
per application, rank 1 the strongest; ``to_wide(table)`` gives one row per application with
reason_1_en .. reason_k_zh. ``coder.rank(contributions)`` and ``coder.statements(...)`` are the two
steps on their own, for callers that already hold SHAP values.

Reference points (what a reason's `contribution`, in log-odds of default, is measured against):
- gradient boosting: the exact path-dependent SHAP value (`HistGradientBoostingExplainer`),
  against the background of the training rows that grew the trees (the base value);
- scorecard: the points the characteristic lost against its best bin, in log-odds:
  coefficient x WoE(x) minus the lowest coefficient x WoE over the characteristic's populated
  bins (so "points below the characteristic's best points" times ln 2 / pdo, without rounding).
Features of one reason group (e.g. the same signal over 3, 6 and 12 months) are summed before
ranking, so one signal takes one place; the statement names the group's strongest feature with
its value. Only groups that push the PD up (sum > 0) become reasons.

Measured on this machine (2 shared cores; the default gradient boosting: 300 trees of 31 leaves,
109 features; `benchmarks/explain.py`, figures in benchmarks/results/explain.json): one
application from its booster row, SHAP + the top 4 reasons ranked and stated in both languages
(`rank` and `statements`, as the decision model serves it) p50 0.5 ms, p99 0.9 ms, of which SHAP
0.3 ms. `explain` on a one-row DataFrame takes about 8 ms, nearly all of it the model's pandas
`transform_features` (and about 1 ms the reason DataFrame); with `matrix_contributions` the
caller can reuse the matrix it scored the PD with. 100,000 applications: SHAP about 9 s, reasons
from SHAP about 2 s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["REASON_COLUMNS", "ReasonCoder", "to_wide", "top_reason_agreement"]

# up to this many (feature, value) pairs, statements are formatted one pair at a time
FEW_STATEMENTS = 16
REASON_COLUMNS = (
    "application_id", "model", "rank", "reason_group", "feature", "value", "contribution",
    "statement_en", "statement_zh",
)


class ReasonCoder(BaseEstimator):
    """Turn per-feature log-odds contributions into ranked, grouped reason statements.

    Parameters
    ----------
    catalog : sequence of `FeatureSpec` (name, reason_group, reason_en, reason_zh,
        description_en, description_zh, kind).
    top_k : reasons per application (params explain.top_reasons).
    model_name : the `model` column of the table ("gbm", "scorecard"); taken from the model's
        type when None.

    Attributes (after `fit`)
    ------------------------
    features_ : the model's explained features (columns of the contribution matrix).
    groups_ : reason group names; ``group_index_[i]`` is the group of ``features_[i]``.
    kind_ : "gbm" or "scorecard".
    """

    def __init__(self, catalog: Sequence, top_k: int = 4, model_name: str | None = None):
        self.catalog = catalog
        self.top_k = top_k
        self.model_name = model_name

    def fit(self, model=None, features: Sequence[str] | None = None) -> "ReasonCoder":
        """Bind to a fitted model (or, with `features` alone, to a contribution matrix's columns)."""
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1; got {self.top_k}")
        self.kind_ = None
        if model is not None:
            if hasattr(model, "contributions"):
                self.kind_ = "scorecard"
                features = list(model.features_)
                self.best_contribution_ = _best_bin_contribution(model)
            elif hasattr(model, "estimator_"):
                from creditmine.explain.attributions import HistGradientBoostingExplainer
                self.kind_ = "gbm"
                features = [str(f) for f in model.model_features_]
                self.explainer_ = HistGradientBoostingExplainer().fit(model.estimator_)
            else:
                raise TypeError(f"cannot code reasons for a {type(model).__name__}")
            self.model_ = model
        if features is None:
            raise ValueError("fit needs a model or the list of features")
        specs = {s.name: s for s in self.catalog}
        self.features_ = [str(f) for f in features]
        self.specs_ = [_spec_for(f, specs) for f in self.features_]
        group_names = [s.reason_group if s is not None else f for s, f in zip(self.specs_, self.features_)]
        self.groups_, self.group_index_ = np.unique(np.asarray(group_names, dtype=object), return_inverse=True)
        self.groups_ = [str(g) for g in self.groups_]
        self.value_columns_ = [s.name if s is not None else f for s, f in zip(self.specs_, self.features_)]
        # built once, so that ranking one application is a few small array operations
        n_features, n_groups = len(self.features_), len(self.groups_)
        self.membership_ = np.zeros((n_features, n_groups))
        self.membership_[np.arange(n_features), self.group_index_] = 1.0
        # each group's columns in ascending order, padded with n_features (a column of -inf)
        sizes = np.bincount(self.group_index_, minlength=n_groups)
        self.group_columns_ = np.full((n_groups, max(1, sizes.max(initial=0))), n_features, dtype=np.int64)
        for g in range(n_groups):
            members = np.flatnonzero(self.group_index_ == g)
            self.group_columns_[g, :len(members)] = members
        return self

    # -- the whole thing ---------------------------------------------------------------------
    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Per-feature log-odds pushing the PD up, against this model's reference (n, features)."""
        check_is_fitted(self, "features_")
        if self.kind_ == "gbm":
            matrix = np.asarray(self.model_.transform_features(X), dtype=np.float64)
            return self.explainer_.shap_values(matrix)
        if self.kind_ == "scorecard":
            c = self.model_.contributions(X)[self.features_].to_numpy(dtype=float)
            return np.maximum(c - self.best_contribution_, 0.0)
        raise ValueError("fit the ReasonCoder with a model to explain feature rows")

    def matrix_contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Gradient boosting only: SHAP values of ``model.transform_features(X)`` already computed
        by the caller (saves transforming the rows twice when the PD is scored from it too)."""
        check_is_fitted(self, "features_")
        if self.kind_ != "gbm":
            raise ValueError(f"matrix_contributions needs a gradient boosting; this coder explains a {self.kind_}")
        return self.explainer_.shap_values(np.asarray(matrix, dtype=np.float64))

    def explain(self, X: pd.DataFrame, ids=None) -> pd.DataFrame:
        """Reason table of the applications X (feature columns); `ids` their application ids."""
        contributions = self.contributions(X)
        ids = np.asarray(X.index if ids is None else ids)
        return self.table(contributions, X, ids)

    def table(self, contributions: np.ndarray, X: pd.DataFrame, ids) -> pd.DataFrame:
        """Reason table from a contribution matrix (rows of X, columns `features_`)."""
        check_is_fitted(self, "features_")
        contributions = np.asarray(contributions, dtype=float)
        if contributions.shape != (len(X), len(self.features_)):
            raise ValueError(
                f"contributions have shape {contributions.shape}; expected ({len(X)}, {len(self.features_)})"
            )
        row, feature, group_sum = self.rank(contributions)
        rank = _ranks(row)
        values = self._values(X, row, feature)
        en, zh = self.statements(feature, values)
        model = self.model_name or self.kind_ or "model"
        return pd.DataFrame({
            "application_id": np.asarray(ids)[row],
            "model": model,
            "rank": rank.astype(np.int8),
            "reason_group": np.asarray(self.groups_, dtype=object)[self.group_index_[feature]],
            "feature": np.asarray(self.features_, dtype=object)[feature],
            "value": values,
            "contribution": group_sum,
            "statement_en": en,
            "statement_zh": zh,
        })

    # -- the steps ------------------------------------------------------------------------------
    def rank(self, contributions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top `top_k` reason groups per row, strongest first, among groups with a positive sum.

        Returns
        -------
        row : ndarray (m,), row of each reason; feature : ndarray (m,), the column of the group's
        strongest feature; group_sum : ndarray (m,), the group's summed log-odds (> 0).
        """
        check_is_fitted(self, "features_")
        n = contributions.shape[0]
        n_groups = len(self.groups_)
        sums = contributions @ self.membership_
        k = min(self.top_k, n_groups)
        if k == 0 or n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        top = np.argpartition(-sums, k - 1, axis=1)[:, :k] if k < n_groups else np.tile(np.arange(n_groups), (n, 1))
        top_sums = np.take_along_axis(sums, top, axis=1)
        order = np.argsort(-top_sums, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_sums = np.take_along_axis(top_sums, order, axis=1)
        keep = top_sums > 0
        row = np.repeat(np.arange(n), k).reshape(n, k)[keep]
        groups = top[keep]
        return row, self._strongest_feature(contributions, row, groups), top_sums[keep]

    def statements(self, feature: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """English and Chinese statements for (feature column, value) pairs, formatted per feature."""
        check_is_fitted(self, "features_")
        if len(feature) <= FEW_STATEMENTS:
            return self._few_statements(feature, values)
        en = np.empty(len(feature), dtype=object)
        zh = np.empty(len(feature), dtype=object)
        for f in np.unique(feature):
            at = np.flatnonzero(feature == f)
            spec = self.specs_[f]
            name = self.features_[f]
            en[at], zh[at] = _format(spec, name, values[at])
        return en, zh

    # -- helpers --------------------------------------------------------------------------------
    def _few_statements(self, feature: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`statements` one pair at a time, the same texts as `_format` (equal values of a feature
        take the first one's text): for one application's few reasons, cheaper than the array
        operations per feature."""
        en = np.empty(len(feature), dtype=object)
        zh = np.empty(len(feature), dtype=object)
        formatted = {}
        for m in range(len(feature)):
            f, value = int(feature[m]), values[m]
            template_en, template_zh, missing_en, missing_zh = _templates(self.specs_[f], self.features_[f])
            if pd.isna(value):
                en[m], zh[m] = missing_en, missing_zh
                continue
            texts = formatted.setdefault(f, {})
            if value not in texts:
                texts[value] = (_fill(template_en, value), _fill(template_zh, value))
            en[m], zh[m] = texts[value]
        return en, zh

    def _strongest_feature(self, contributions: np.ndarray, row: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """The column of the largest contribution of group ``groups[m]`` in row ``row[m]``: the
        first of its columns holding the maximum, ignoring NaN; column 0 when none exceeds -inf.

        Only the (row, group) pairs that are reasons are looked at, so one application costs a
        few array operations rather than one pass per feature.
        """
        if len(row) == 0:
            return np.zeros(0, dtype=np.int64)
        columns = self.group_columns_[groups]                      # (m, largest group)
        values = np.full((len(row), columns.shape[1]), -np.inf)
        real = columns < contributions.shape[1]                     # the padding stays -inf
        values[real] = contributions[np.broadcast_to(row[:, None], columns.shape)[real], columns[real]]
        values[np.isnan(values)] = -np.inf
        best = np.argmax(values, axis=1)
        found = values[np.arange(len(row)), best] > -np.inf
        return np.where(found, columns[np.arange(len(row)), best], 0)

    def _values(self, X: pd.DataFrame, row: np.ndarray, feature: np.ndarray) -> np.ndarray:
        """The applicant's value of each reason's feature (object: floats, or category strings)."""
        values = np.empty(len(row), dtype=object)
        for f in np.unique(feature):
            at = np.flatnonzero(feature == f)
            column = self.value_columns_[f]
            if column not in X.columns:
                raise ValueError(f"the feature rows lack column '{column}' needed for reason statements")
            series = X[column]
            picked = series.to_numpy()[row[at]]
            values[at] = picked
        return values


def to_wide(table: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """One row per (application_id, model): reason_1_en, reason_1_zh, ... reason_k_zh (None when absent)."""
    wide = table.pivot_table(
        index=["application_id", "model"], columns="rank",
        values=["statement_en", "statement_zh"], aggfunc="first",
    )
    out = pd.DataFrame(index=wide.index)
    for r in range(1, top_k + 1):
        for lang in ("en", "zh"):
            key = (f"statement_{lang}", r)
            out[f"reason_{r}_{lang}"] = wide[key] if key in wide.columns else None
    return out.reset_index()


def top_reason_agreement(table: pd.DataFrame, first: str, second: str) -> dict:
    """Share of applications whose rank-1 reason group is the same under two models.

    Counted over applications with a rank-1 reason under both models.
    """
    top = table[table["rank"] == 1].pivot_table(
        index="application_id", columns="model", values="reason_group", aggfunc="first"
    )
    if first not in top.columns or second not in top.columns:
        return {"applications": 0, "agree": 0, "share": None}
    both = top[[first, second]].dropna()
    agree = int((both[first] == both[second]).sum())
    return {"applications": int(len(both)), "agree": agree,
            "share": agree / len(both) if len(both) else None}


def _spec_for(feature: str, specs: dict):
    """The catalog entry of a model feature: the same name, else the longest name it starts with."""
    if feature in specs:
        return specs[feature]
    candidates = [name for name in specs if feature.startswith(name + "_") or feature.startswith(name + "=")]
    return specs[max(candidates, key=len)] if candidates else None


def _best_bin_contribution(model) -> np.ndarray:
    """Per characteristic: the lowest coefficient x WoE over its populated bins (the best points)."""
    table = model.scorecard_table_
    table = table[table["count"] > 0]
    best = (table["coefficient"] * table["woe"]).groupby(table["feature"]).min()
    return best.reindex(list(model.features_)).fillna(0.0).to_numpy(dtype=float)


def _ranks(row: np.ndarray) -> np.ndarray:
    """1, 2, ... within runs of equal `row` (rows come grouped and in rank order)."""
    if len(row) == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, row[1:] != row[:-1]]
    run_start = np.maximum.accumulate(np.where(start, np.arange(len(row)), 0))
    return np.arange(len(row)) - run_start + 1


def _format(spec, name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statements of one feature for many values: each distinct value is formatted once."""
    missing = np.asarray(pd.isna(values), dtype=bool)
    en = np.empty(len(values), dtype=object)
    zh = np.empty(len(values), dtype=object)
    template_en, template_zh, en[missing], zh[missing] = _templates(spec, name)
    present = np.flatnonzero(~missing)
    if len(present):
        # each distinct value formatted once, the first of equal values standing for them all
        # (what pandas.factorize does, without building a Series for an application's 4 reasons)
        first = {}
        codes = np.fromiter((first.setdefault(v, len(first)) for v in values[present]), dtype=np.int64,
                            count=len(present))
        uniques = list(first)
        en[present] = np.asarray([_fill(template_en, v) for v in uniques], dtype=object)[codes]
        zh[present] = np.asarray([_fill(template_zh, v) for v in uniques], dtype=object)[codes]
    return en, zh


def _templates(spec, name: str) -> tuple[str, str, str, str]:
    """The feature's statement templates (English, Chinese) and its texts for a missing value."""
    if spec is None:
        return name + " = {value}", name + " = {value}", f"No record: {name}", f"无记录：{name}"
    return (spec.reason_en, spec.reason_zh, f"No record: {spec.description_en}",
            f"无记录：{spec.description_zh}")


def _fill(template: str, value) -> str:
    """The template with its value; a numeric format on a category falls back to plain text."""
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    try:
        return template.format(value=value)
    except (ValueError, TypeError):
        return _plain(template).format(value=value)


def _plain(template: str) -> str:
    """The template with every `{value:spec}` turned into `{value}`."""
    return re.sub(r"\{value(![rsa])?(:[^}]*)?\}", "{value}", template)
