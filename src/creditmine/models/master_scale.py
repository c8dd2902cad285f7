"""The rating master scale: grades 1 (best) .. G with PD boundaries, shares and observed default rates."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("grade", "pd_lower", "pd_upper", "pd_mean", "count", "share", "defaults", "observed_default_rate")


def fit_master_scale(pd_: np.ndarray, y: np.ndarray | None, grades: int, method: str = "quantile") -> pd.DataFrame:
    """Grade boundaries from development PDs.

    Parameters
    ----------
    pd_ : calibrated 12-month PDs of the development applications, in [0, 1].
    y : their outcomes (1 = default) or None; gives the observed default rate per grade.
    grades : number of grades G; grade 1 holds the lowest PDs.
    method : "quantile" (equal shares of development applications) or "geometric" (log-spaced PD
        boundaries between the 1st and 99th percentiles of development PDs).

    Returns
    -------
    DataFrame with one row per grade: grade, pd_lower, pd_upper (a PD in [pd_lower, pd_upper)
    has this grade; grade 1 starts at 0 and grade G ends at 1), pd_mean, count, share (of the
    development applications), defaults, observed_default_rate (NaN when the grade is empty).
    """
    pd_ = np.asarray(pd_, dtype=float)
    if len(pd_) == 0 or not np.isfinite(pd_).all():
        raise ValueError("master scale needs finite PDs of at least one application")
    if method == "quantile":
        inner = np.quantile(pd_, np.arange(1, grades) / grades)
    elif method == "geometric":
        low, high = np.quantile(np.clip(pd_, 1e-12, 1), [0.01, 0.99])
        inner = np.geomspace(low, max(high, low * (1 + 1e-9)), grades + 1)[1:-1]
    else:
        raise ValueError(f"master scale method must be quantile or geometric; got {method!r}")
    table, _ = merged_scale(np.maximum.accumulate(inner), pd_, y, grades)
    return table


def merged_scale(inner: np.ndarray, pd_: np.ndarray, y, grades: int) -> tuple[pd.DataFrame, str]:
    """The grade table from inner boundaries after merging tied and empty grades, and what was merged.

    Tied boundaries (many development PDs alike, e.g. a scorecard with few distinct scores) would
    leave grades that no PD can reach; a grade that holds no development PD is joined to its
    neighbour (the one below, or above for the first). Grades are then numbered 1..k, k <= `grades`.
    """
    inner = np.unique(np.asarray(inner, dtype=float))
    inner = inner[(inner > 0.0) & (inner < 1.0)]
    while len(inner):
        bounds = np.concatenate([[0.0], inner, [1.0 + 1e-12]])
        counts = np.bincount(np.searchsorted(inner, pd_, side="right"), minlength=len(bounds) - 1)
        empty = np.flatnonzero(counts == 0)
        if not len(empty):
            break
        first = int(empty[0])
        inner = np.delete(inner, first - 1 if first > 0 else 0)
    bounds = np.concatenate([[0.0], inner, [1.0 + 1e-12]])
    k = len(bounds) - 1
    note = "" if k == grades else (
        f"master scale: {grades} grades asked, {k} kept: development PDs take {len(np.unique(pd_))} distinct values, "
        "and tied or empty grades were merged (grades are numbered 1..{k}; the policy's grade lists apply to them)"
    ).replace("{k}", str(k))
    return grade_table(bounds[:-1], bounds[1:], pd_, y), note


def assign_grades(pd_: np.ndarray, master_scale: pd.DataFrame) -> np.ndarray:
    """Grade (int, 1 = best) of each PD: the grade whose [pd_lower, pd_upper) holds it."""
    inner = np.asarray(master_scale["pd_lower"], dtype=float)[1:]
    return np.searchsorted(inner, np.asarray(pd_, dtype=float), side="right").astype(int) + 1


def grade_table(pd_lower, pd_upper, pd_: np.ndarray, y: np.ndarray | None) -> pd.DataFrame:
    """Count, share, mean PD and observed default rate per grade of the given applications."""
    scale = pd.DataFrame({"grade": np.arange(1, len(pd_lower) + 1), "pd_lower": pd_lower, "pd_upper": pd_upper})
    grade = assign_grades(pd_, scale)
    count = np.bincount(grade, minlength=len(scale) + 1)[1:]
    pd_sum = np.bincount(grade, weights=pd_, minlength=len(scale) + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale["pd_mean"] = np.where(count > 0, pd_sum / np.maximum(count, 1), np.nan)
        scale["count"] = count
        scale["share"] = count / max(len(pd_), 1)
        if y is not None:
            y = np.asarray(y, dtype=float)
            known = ~np.isnan(y)
            defaults = np.bincount(grade[known], weights=y[known], minlength=len(scale) + 1)[1:]
            known_count = np.bincount(grade[known], minlength=len(scale) + 1)[1:]
            scale["defaults"] = defaults.astype(int)
            scale["observed_default_rate"] = np.where(known_count > 0, defaults / np.maximum(known_count, 1), np.nan)
        else:
            scale["defaults"] = 0
            scale["observed_default_rate"] = np.nan
    scale["pd_upper"] = np.minimum(scale["pd_upper"], 1.0)
    return scale[list(COLUMNS)]
