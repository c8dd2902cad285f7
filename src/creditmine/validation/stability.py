"""Population stability: PSI of the score, CSI per feature, and the missing-rate of each data source
per month (a feed that goes dark shows as a jump to 100 %)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "csi_table", "plot_psi_by_month", "plot_source_missing", "psi", "psi_by_month",
    "quantile_edges", "source_missing_by_month",
]

# An empty bin would make ln(a/e) infinite; it counts as half an observation instead (the usual
# continuity correction), which keeps small months from exploding the index.
_EMPTY_BIN_COUNT = 0.5


def psi(expected, actual, bins: int = 10, edges: np.ndarray | None = None) -> float:
    """Population stability index PSI = sum_b (a_b - e_b) ln(a_b / e_b) between a reference
    (`expected`, e.g. development) and a current (`actual`) sample.

    Numeric values are cut at the reference's quantiles (`bins` bins, or the given `edges`); missing
    values form a bin of their own; an empty bin counts as half an observation. Values below 0.10 are usually
    read as stable, 0.10-0.25 as a shift to watch, above 0.25 as a material shift (Siddiqi 2006).
    """
    expected_share, actual_share = bin_shares(expected, actual, bins=bins, edges=edges)
    return _psi_from_shares(expected_share, actual_share)


def bin_shares(expected, actual, bins: int = 10, edges: np.ndarray | None = None,
               categorical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the reference and current samples in common bins (missing values as a last bin);
    an empty bin gets half an observation, bins empty in both samples are dropped."""
    e = pd.Series(np.asarray(expected, dtype=object if categorical else float))
    a = pd.Series(np.asarray(actual, dtype=object if categorical else float))
    if len(e) == 0 or len(a) == 0:
        raise ValueError(f"PSI needs two non-empty samples; got {len(e)} and {len(a)} rows")
    if categorical:
        e_codes, a_codes = _category_codes(e, a)
    else:
        if edges is None:
            edges = quantile_edges(e, bins)
        e_codes, a_codes = _numeric_codes(e, edges), _numeric_codes(a, edges)
    size = int(max(e_codes.max(), a_codes.max())) + 1
    e_count = np.bincount(e_codes, minlength=size).astype(float)
    a_count = np.bincount(a_codes, minlength=size).astype(float)
    # a bin empty in both samples carries no information; drop it before the correction
    used = (e_count > 0) | (a_count > 0)
    e_count, a_count = e_count[used], a_count[used]
    e_share = np.where(e_count > 0, e_count, _EMPTY_BIN_COUNT) / len(e_codes)
    a_share = np.where(a_count > 0, a_count, _EMPTY_BIN_COUNT) / len(a_codes)
    return e_share, a_share


def quantile_edges(values, bins: int = 10) -> np.ndarray:
    """Inner cut points at the quantiles of the non-missing `values`, duplicates removed."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return np.array([])
    return np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))


def psi_by_month(reference, values, months, bins: int = 10, min_size: int = 1) -> pd.DataFrame:
    """PSI of `values` in each month against the `reference` sample (same bins for every month).

    Returns month, n, psi and judged (False for months with fewer than `min_size` rows, whose PSI
    is shown but too noisy to judge).
    """
    edges = quantile_edges(reference, bins)
    frame = pd.DataFrame({"month": pd.to_datetime(pd.Series(months)).dt.to_period("M").dt.to_timestamp(),
                          "value": np.asarray(values, dtype=float)})
    rows = []
    for month, part in frame.groupby("month", sort=True):
        rows.append({"month": month, "n": len(part),
                     "psi": psi(reference, part["value"], edges=edges), "judged": len(part) >= min_size})
    return pd.DataFrame(rows, columns=["month", "n", "psi", "judged"])


def csi_table(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str] | None = None,
              bins: int = 10) -> pd.DataFrame:
    """Characteristic stability index (the PSI of each feature) between two samples.

    `kinds[column]` is "numeric" or "categorical" (from the feature catalog); numeric by default.
    Returns feature, csi, sorted from the most shifted.
    """
    kinds = kinds or {}
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise ValueError(f"current sample lacks feature columns: {', '.join(missing[:5])}")
    rows = []
    for column in reference.columns:
        categorical = kinds.get(column) == "categorical" or not pd.api.types.is_numeric_dtype(reference[column])
        e, a = bin_shares(reference[column], current[column], bins=bins, categorical=categorical)
        rows.append({"feature": column, "kind": "categorical" if categorical else "numeric",
                     "csi": _psi_from_shares(e, a)})
    table = pd.DataFrame(rows, columns=["feature", "kind", "csi"])
    return table.sort_values("csi", ascending=False, kind="stable").reset_index(drop=True)


def source_missing_by_month(features: pd.DataFrame, sources: dict[str, list[str]], dates) -> pd.DataFrame:
    """Share of applications per month with no data from each source.

    An application has no data from a source when every feature of that source is missing.
    `sources` maps a source name to its numeric feature columns (from the catalog).

    Returns a table indexed by month, one column per source, values in [0, 1].
    """
    month = pd.to_datetime(pd.Series(dates, index=features.index)).dt.to_period("M").dt.to_timestamp()
    dark = {}
    for source, columns in sources.items():
        present = [c for c in columns if c in features.columns]
        if present:
            dark[source] = features[present].isna().all(axis=1).astype(float)
    if not dark:
        return pd.DataFrame(index=pd.Index([], name="month"))
    table = pd.DataFrame(dark).groupby(month.rename("month")).mean()
    return table.sort_index()


def plot_psi_by_month(table: pd.DataFrame, green: float, amber: float, title: str = "PSI of the score by month"):
    """Bar chart of monthly PSI with the amber and red bands."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    colours = np.where(table["psi"] < green, "#2e7d32", np.where(table["psi"] < amber, "#f9a825", "#c62828"))
    colours = np.where(table["judged"], colours, "#bdbdbd")
    ax.bar(table["month"].dt.strftime("%Y-%m"), table["psi"], color=colours)
    ax.axhline(green, color="#f9a825", linestyle="--", linewidth=1)
    ax.axhline(amber, color="#c62828", linestyle="--", linewidth=1)
    judged = table.loc[table["judged"], "psi"]
    # months too small to judge can dwarf the rest; keep the judged months and the bands readable
    top = max(2 * amber, 1.2 * float(judged.max()) if len(judged) else 0.0)
    if float(table["psi"].max()) > top:
        ax.set_ylim(0, top)
    ax.set(ylabel="PSI against development", title=title + " (grey: not judged)")
    ax.tick_params(axis="x", rotation=90, labelsize=6)
    fig.tight_layout()
    return fig


def plot_source_missing(table: pd.DataFrame, title: str = "Applications without data, by source and month"):
    """Lines of the monthly missing-rate of each source."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    for source in table.columns:
        ax.plot(table.index, table[source], marker=".", label=source)
    ax.set(ylabel="share of applications with no data", ylim=(-0.02, 1.02), title=title)
    if len(table.columns):
        ax.legend(fontsize=7, ncol=3)
    else:
        ax.text(0.5, 0.5, "no source missing in any month", ha="center", transform=ax.transAxes)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _psi_from_shares(e: np.ndarray, a: np.ndarray) -> float:
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_codes(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    v = values.to_numpy(dtype=float)
    codes = np.searchsorted(edges, v, side="right")
    codes[np.isnan(v)] = len(edges) + 1  # missing values: their own bin, after the last
    return codes


def _category_codes(e: pd.Series, a: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    e = e.astype(object).where(e.notna(), "<missing>").astype(str)
    a = a.astype(object).where(a.notna(), "<missing>").astype(str)
    levels = {level: code for code, level in enumerate(sorted(set(e) | set(a)))}
    return e.map(levels).to_numpy(dtype=int), a.map(levels).to_numpy(dtype=int)
