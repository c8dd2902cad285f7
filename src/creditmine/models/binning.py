"""The scorecard's binning rules, kept as plain data so that one function bins an application at fit
time, at predict time and in the JSON scorer; the WoE and IV of a binning; and the literals of its
SQL export.

Rules that make fit and predict agree: numeric bins are [lower, upper) intervals between the split
points; a missing value falls in the feature's Missing bin, a value listed in `special_values` in
its Special bin; a category not seen in training is scored as missing.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from creditmine.models.base import category_label

OTHER = "(other)"
"""The label of the categories a high-cardinality feature groups together (and of unseen ones)."""

__all__ = [
    "MISSING", "OTHER", "SPECIAL", "bin_index", "categories", "g_test_pvalue", "holdout_iv", "is_numeric", "labels", "numeric", "quote", "score_json",
    "sql_float", "sql_string", "vif", "woe_iv",
]

SPECIAL, MISSING = "Special", "Missing"


def score_json(spec: dict | str, frame: pd.DataFrame) -> np.ndarray:
    """Score applications with a scorecard exported by `ScorecardModel.to_json` (no model object).

    Parameters
    ----------
    spec : the JSON text or its parsed dict.
    frame : one row per application with the scorecard's feature columns.

    Returns
    -------
    ndarray (n,) of scores (sums of whole points, as float64).
    """
    if isinstance(spec, str):
        spec = json.loads(spec)
    total = np.zeros(len(frame))
    for feature in spec["features"]:
        name = feature["name"]
        if name not in frame.columns:
            raise ValueError(f"frame lacks the scorecard feature column {name!r}")
        column = frame[name]
        missing = column.isna().to_numpy()
        if feature["kind"] == "numeric":
            values = numeric(column, name)
            points = np.asarray(feature["points"], dtype=float)[
                np.searchsorted(np.asarray(feature["splits"], dtype=float), np.nan_to_num(values), side="right")
            ]
            special = np.isin(values, np.asarray(feature["special_values"], dtype=float))
            points = np.where(special, feature["special_points"], points)
        else:
            lookup = {c: p for group, p in zip(feature["groups"], feature["points"]) for c in group}
            unseen = feature.get("other_points", feature["missing_points"])
            points = np.array([lookup.get(category_label(v), unseen) for v in column], dtype=float)
        total += np.where(missing, feature["missing_points"], points)
    return total


def group_rare(values: np.ndarray, max_categories: int | None) -> tuple[np.ndarray, list[str] | None]:
    """Labels with all but the `max_categories - 1` most frequent (ties by label) replaced by OTHER.

    Returns the labels and the kept categories (None when there are not more than `max_categories`).
    """
    present = pd.Series([v for v in values if v is not None], dtype=object)
    if max_categories is None or present.nunique() <= max_categories:
        return values, None
    counts = present.value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = sorted(label for label, _ in order[: max_categories - 1])
    keep = set(kept)
    return np.array([v if v is None or v in keep else OTHER for v in values], dtype=object), kept


def bin_index(spec: dict, column: pd.Series, feature: str) -> np.ndarray:
    """Bin of each value: regular bins 0..k-1, then Special (k), then Missing (k+1); an unseen
    category goes to the group holding OTHER when the feature was grouped, else to Missing."""
    n_regular = len(spec["labels"]) - 2
    special_bin, missing_bin = n_regular, n_regular + 1
    missing = pd.isna(column).to_numpy()
    if spec["kind"] == "numeric":
        values = numeric(column, feature)
        index = np.searchsorted(np.asarray(spec["splits"], dtype=float), np.nan_to_num(values), side="right")
        if spec["special_values"]:
            index = np.where(np.isin(values, np.asarray(spec["special_values"], dtype=float)), special_bin, index)
    else:
        lookup = {c: i for i, group in enumerate(spec["groups"]) for c in group}
        unseen = spec.get("other_group")
        unseen = missing_bin if unseen is None else unseen
        index = np.array([lookup.get(v, unseen) for v in categories(column)], dtype=int)
    return np.where(missing, missing_bin, index).astype(int)


def woe_iv(count: np.ndarray, bads: np.ndarray, smoothing: float) -> tuple[list[float], float]:
    """WoE per bin and the information value, from (weighted) counts and bads per bin.

    WoE = ln(good share / bad share) with the shares taken after the pseudo-counts, and IV = sum of
    (good share - bad share) x WoE over the same shares: every term is (a - b) ln(a / b) >= 0, so the
    IV is non-negative by construction. Pseudo-counts go only where a non-empty bin lacks goods or
    bads: elsewhere they could reorder close bins and break the monotone trend the binning
    guaranteed. An empty bin has WoE 0 and adds nothing.
    """
    count, bads = np.asarray(count, dtype=float), np.asarray(bads, dtype=float)
    goods = count - bads
    pseudo = np.where((count > 0) & ((goods <= 0) | (bads <= 0)), smoothing, 0.0)
    g, b = goods + pseudo, bads + pseudo
    g_share, b_share = g / max(g.sum(), 1e-12), b / max(b.sum(), 1e-12)
    both = (g_share > 0) & (b_share > 0)
    woe = np.zeros(len(count))
    woe[both] = np.log(g_share[both] / b_share[both])
    woe = np.where(count > 0, woe, 0.0)
    iv = float(np.sum(np.where(both & (count > 0), (g_share - b_share) * woe, 0.0)))
    return [float(w) for w in woe], max(iv, 0.0)


def holdout_iv(spec: dict, column: pd.Series, y: np.ndarray, w: np.ndarray | None, feature: str) -> float:
    """A binning's training WoE on other rows: sum of (good share - bad share) x training WoE there.

    Noise binned to fit the training rows earns an IV there but little here; a real signal keeps it.
    """
    index = bin_index(spec, column, feature)
    weight = np.ones(len(y)) if w is None else w
    goods = np.bincount(index, weights=weight * (1 - y), minlength=len(spec["woe"]))
    bads = np.bincount(index, weights=weight * y, minlength=len(spec["woe"]))
    shares = goods / max(goods.sum(), 1e-12) - bads / max(bads.sum(), 1e-12)
    return float(np.sum(shares * np.asarray(spec["woe"])))


def g_test_pvalue(count, bads) -> float:
    """p-value of the likelihood-ratio (G) test that the bins' default rates are equal (df = bins - 1).

    Weighted counts are scaled to their number of rows' worth before the test is read.
    """
    from scipy import stats

    count, bads = np.asarray(count, dtype=float), np.asarray(bads, dtype=float)
    keep = count > 0
    count, bads = count[keep], bads[keep]
    if len(count) < 2 or bads.sum() <= 0 or bads.sum() >= count.sum():
        return 1.0
    goods = count - bads
    rate = bads.sum() / count.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(bads > 0, bads * np.log(bads / (count * rate)), 0.0) + \
            np.where(goods > 0, goods * np.log(goods / (count * (1 - rate))), 0.0)
    return float(stats.chi2.sf(2.0 * terms.sum(), len(count) - 1))


def vif(W: np.ndarray) -> list[float]:
    if W.shape[1] == 1:
        return [1.0]
    corr = np.corrcoef(W, rowvar=False)
    return [float(v) for v in np.diag(np.linalg.pinv(corr))]


def labels(spec: dict) -> list[str]:
    if spec["kind"] == "numeric":
        edges = [-np.inf, *spec["splits"], np.inf]
        regular = [
            f"{'(' if np.isinf(lo) else '['}{lo:.6g}, {hi:.6g})" for lo, hi in zip(edges[:-1], edges[1:])
        ]
    else:
        regular = ["[" + ", ".join(group) + "]" for group in spec["groups"]] or ["(all)"]
    return [*regular, SPECIAL, MISSING]


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def numeric(column: pd.Series, feature: str) -> np.ndarray:
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError):
        as_number = pd.to_numeric(column, errors="coerce")
        bad = as_number.isna() & column.notna()
        row = bad.idxmax()
        raise ValueError(f"column {feature!r}: expected numbers, row {row} has {column[row]!r}") from None


def categories(column: pd.Series) -> np.ndarray:
    """Category labels as strings (missing stays None), the one mapping used everywhere."""
    return np.array([category_label(v) for v in column.tolist()], dtype=object)


def sql_float(value: float) -> str:
    """A DOUBLE literal that round-trips exactly (exponent notation is DOUBLE in SQL engines)."""
    if np.isinf(value):
        return "CAST('Infinity' AS DOUBLE)" if value > 0 else "CAST('-Infinity' AS DOUBLE)"
    return format(float(value), ".17e")


def sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def quote(identifier: str) -> str:
    return '"' + str(identifier).replace('"', '""') + '"'
