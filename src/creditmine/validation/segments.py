"""Performance by segment (product, industry, district, size) and the financial-inclusion view of
first-time borrowers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from creditmine.validation.metrics import auc

__all__ = ["inclusion_analysis", "plot_segments", "segment_table", "size_bands"]


def segment_table(frame: pd.DataFrame, by: str, *, y: str, pd_column: str, grade: str,
                  approve_grades, min_size: int, min_defaults: int) -> pd.DataFrame:
    """AUC, bad rate and approval rate per value of `frame[by]`.

    Approval rate counts every application of the segment (approved = grade in `approve_grades`);
    bad rate and AUC use the labelled ones (`y` not missing). A segment with fewer than `min_size`
    labelled applications or `min_defaults` defaults is flagged `judged=False` ("too small to
    judge") and its AUC is left out of any light.

    Returns segment, applications, labelled, defaults, bad_rate, auc, approval_rate, judged, note.
    """
    for column in (by, y, pd_column, grade):
        if column not in frame.columns:
            raise KeyError(f"segment table: column '{column}' is not in the scores/features frame")
    approve = set(int(g) for g in approve_grades)
    rows = []
    keys = frame[by].astype(object).where(frame[by].notna(), "<missing>")
    for value, part in frame.groupby(keys, sort=True):
        labelled = part[part[y].notna()]
        n_lab, defaults = len(labelled), int(labelled[y].sum())
        judged = n_lab >= min_size and defaults >= min_defaults
        value_auc = auc(labelled[y], labelled[pd_column]) if n_lab and 0 < defaults < n_lab else float("nan")
        rows.append({
            "segment": str(value), "applications": len(part), "labelled": n_lab, "defaults": defaults,
            "bad_rate": defaults / n_lab if n_lab else float("nan"), "auc": value_auc,
            "approval_rate": float(part[grade].isin(approve).mean()),
            "judged": judged,
            "note": "" if judged else f"too small to judge (< {min_size} labelled or < {min_defaults} defaults)",
        })
    table = pd.DataFrame(rows, columns=["segment", "applications", "labelled", "defaults", "bad_rate",
                                        "auc", "approval_rate", "judged", "note"])
    table.insert(0, "by", by)
    return table


def size_bands(values, bands: int = 4) -> pd.Series:
    """Quantile bands of a size measure (employees, capital, amount), labelled with their ranges."""
    v = pd.Series(np.asarray(values, dtype=float))
    if v.notna().sum() == 0:
        return pd.Series(["<missing>"] * len(v), dtype=object)
    cut = pd.qcut(v, q=bands, duplicates="drop")
    # number the bands so that they sort from small to large
    labels = {interval: f"{k + 1}: {interval}" for k, interval in enumerate(cut.cat.categories)}
    return pd.Series([labels.get(x, "<missing>") if pd.notna(x) else "<missing>" for x in cut], dtype=object)


def inclusion_analysis(frame: pd.DataFrame, first_time, *, y: str, pd_column: str, grade: str,
                       approve_grades) -> dict[str, float]:
    """Approval of first-time borrowers against the others, and at an equal-bad-rate cut-off.

    At the policy's cut-off (grades in `approve_grades`) the approved labelled loans have a bad
    rate B. The alternative asks how many first-time borrowers could be approved if they were held
    to the same bad rate B: first-time applications are approved from the lowest PD up while the
    observed bad rate of those approved stays at or below B.

    Returns first_time_applications, first_time_approval_rate, others_approval_rate,
    approval_ratio (first-time / others), portfolio_bad_rate_approved (B),
    first_time_bad_rate_approved, equal_bad_rate_pd_cutoff and equal_bad_rate_approval_rate.
    """
    first = np.asarray(first_time, dtype=bool)
    if len(first) != len(frame):
        raise ValueError(f"first_time has {len(first)} rows but the frame has {len(frame)}")
    approve = frame[grade].isin([int(g) for g in approve_grades]).to_numpy()
    labelled = frame[y].notna().to_numpy()
    outcome = frame[y].to_numpy(dtype=float)
    nan = float("nan")
    out = {
        "first_time_applications": int(first.sum()),
        "first_time_approval_rate": float(approve[first].mean()) if first.any() else nan,
        "others_approval_rate": float(approve[~first].mean()) if (~first).any() else nan,
    }
    out["approval_ratio"] = (out["first_time_approval_rate"] / out["others_approval_rate"]
                             if out["others_approval_rate"] else nan)
    approved_lab = approve & labelled
    bad_rate = float(outcome[approved_lab].mean()) if approved_lab.any() else nan
    out["portfolio_bad_rate_approved"] = bad_rate
    first_approved = approved_lab & first
    out["first_time_bad_rate_approved"] = float(outcome[first_approved].mean()) if first_approved.any() else nan
    candidates = first & labelled
    if candidates.any() and np.isfinite(bad_rate):
        order = np.argsort(frame[pd_column].to_numpy(dtype=float)[candidates], kind="stable")
        sorted_pd = frame[pd_column].to_numpy(dtype=float)[candidates][order]
        running = np.cumsum(outcome[candidates][order]) / np.arange(1, candidates.sum() + 1)
        within = np.flatnonzero(running <= bad_rate + 1e-12)
        k = int(within.max()) + 1 if len(within) else 0
        out["equal_bad_rate_pd_cutoff"] = float(sorted_pd[k - 1]) if k else nan
        out["equal_bad_rate_approval_rate"] = k / int(candidates.sum())
    else:
        out["equal_bad_rate_pd_cutoff"] = nan
        out["equal_bad_rate_approval_rate"] = nan
    return out


def plot_segments(table: pd.DataFrame, title: str):
    """Bad rate and approval rate per segment; segments too small to judge are greyed."""
    fig = Figure(figsize=(7, max(2.5, 0.3 * len(table) + 1)))
    ax = fig.subplots()
    positions = np.arange(len(table))
    judged = table["judged"].to_numpy(dtype=bool)
    ax.barh(positions - 0.2, table["approval_rate"], height=0.4, label="approval rate",
            color=np.where(judged, "#1565c0", "#bdbdbd"))
    ax.barh(positions + 0.2, table["bad_rate"].fillna(0), height=0.4, label="bad rate",
            color=np.where(judged, "#c62828", "#e0e0e0"))
    ax.set_yticks(positions, [s[:28] for s in table["segment"]], fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="share", title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
