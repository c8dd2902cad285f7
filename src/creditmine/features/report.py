"""What the stage 01 report shows: the raw-data profile, the data dictionary, missingness and default rates.

Each function returns something a notebook cell displays as is (an HTML block, a table, a saved
plot), and decides by itself what applies to the data source, so the notebook has no branches.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pandas as pd

from creditmine.features.catalog import FeatureSpec, catalog_frame

__all__ = [
    "benchmark_figures", "benchmark_summary", "data_dictionary_html", "data_profile", "default_rate_table", "plot_default_rates",
    "plot_missingness", "profile_html",
]


def data_profile(cfg) -> dict[str, pd.DataFrame]:
    """A profile of the input data: the raw tables for the synthetic world or ingested files
    (`creditmine.data.profile.profile_tables`), the file's columns for a tabular data set.

    Returns
    -------
    dict of name -> DataFrame, in display order.
    """
    if cfg.params.data.source == "tabular":
        from creditmine.features.tabular import read_tabular

        path = cfg.resolve(cfg.params.data.tabular.path)
        raw = read_tabular(path)
        columns = pd.DataFrame({
            "column": raw.columns,
            "dtype": [str(t) for t in raw.dtypes],
            "distinct_values": [int(raw[c].nunique()) for c in raw.columns],
            "missing_share": [float(raw[c].isna().mean()) for c in raw.columns],
        })
        table = pd.DataFrame([{"file": path.name, "rows": len(raw), "columns": raw.shape[1],
                               "target": cfg.params.data.tabular.target_column}])
        return {"tables": table, "columns": columns}
    from creditmine.data.profile import profile_tables

    return profile_tables(cfg.data_dir)


def profile_html(profile: dict[str, pd.DataFrame], max_rows: int = 60):
    """The profile's tables one after another under their names, as an HTML block."""
    from IPython.display import HTML

    parts = []
    for name, frame in profile.items():
        shown = frame.head(max_rows)
        note = f"<p><i>first {max_rows} of {len(frame)} rows</i></p>" if len(frame) > max_rows else ""
        parts.append(f"<h4>{html.escape(name.replace('_', ' '))}</h4>"
                     f"{shown.to_html(index=False, float_format=lambda v: f'{v:,.4g}', border=0)}{note}")
    return HTML("\n".join(parts))


def data_dictionary_html(catalog: list[FeatureSpec]):
    """The data dictionary (every feature, both descriptions, unit, window, risk direction) as HTML."""
    from IPython.display import HTML

    frame = catalog_frame(catalog)
    arrows = {1: "↑ riskier", -1: "↓ safer", 0: "· unknown"}
    frame["risk_direction"] = frame["risk_direction"].map(arrows)
    columns = ["name", "source", "kind", "window_months", "unit", "risk_direction", "description_en",
               "description_zh", "reason_group"]
    return HTML(frame[columns].to_html(index=False, border=0, classes="data-dictionary"))


def default_rate_table(features: pd.DataFrame) -> pd.DataFrame:
    """Applications, labelled applications and the default rate by product and application year
    (year "all" when the data have no application date)."""
    years = pd.to_datetime(features["applied_at"]).dt.year
    year = years.astype("Int64").astype(str).where(years.notna(), "all")
    frame = features.assign(year=year.to_numpy())
    grouped = frame.groupby(["product", "year"], dropna=False)
    table = grouped.agg(applications=("application_id", "size"),
                        labelled=("default_12m", "count"),
                        defaults=("default_12m", "sum"),
                        default_rate=("default_12m", "mean")).reset_index()
    return table


def plot_missingness(features: pd.DataFrame, catalog: list[FeatureSpec], path: str | os.PathLike):
    """Mean share of missing values of the features of each source, and of applications with no
    record of the source (its missing indicator); saved as PNG and returned for display."""
    import matplotlib.pyplot as plt

    from creditmine.reports.style import apply_style

    apply_style()
    names = [s.name for s in catalog]
    sources = pd.Series({s.name: s.source for s in catalog})
    share = features[names].isna().mean().groupby(sources).mean().sort_values()
    indicators = {s.source: float(features[s.name].mean()) for s in catalog if s.name == f"{s.source}_missing"}
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(share) + 1.2))
    ax.barh(share.index, share.to_numpy(), color="#4c72b0", label="features missing (mean share)")
    if indicators:
        values = [indicators.get(s, float("nan")) for s in share.index]
        ax.scatter(values, share.index, color="#e07b39", zorder=3, label="applications without the source")
    ax.set_xlabel("share of applications")
    ax.set_xlim(0, 1)
    ax.set_title("Missing values by source 各数据源缺失比例")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_default_rates(features: pd.DataFrame, path: str | os.PathLike):
    """Default rate of labelled applications by product and application year; saved and returned."""
    import matplotlib.pyplot as plt

    from creditmine.reports.style import apply_style

    apply_style()
    table = default_rate_table(features)
    table = table[table["labelled"] > 0]
    pivot = table.pivot(index="product", columns="year", values="default_rate")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    pivot.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set_ylabel("default rate (12 months)")
    ax.set_xlabel("")
    ax.set_title("Default rate by product and year 各产品分年度违约率")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(title="year", fontsize=8)
    return _save(fig, path)


def benchmark_figures(root: str | os.PathLike):
    """The committed figures of benchmarks/features.py: a one-line summary above the full table."""
    from IPython.display import HTML

    path = Path(root) / "benchmarks" / "results" / "features.json"
    if not path.is_file():
        return HTML("<p>No benchmark figures yet: run <code>.venv/bin/python benchmarks/features.py</code>.</p>")
    figures = json.loads(path.read_text())
    line = html.escape(benchmark_summary(figures))
    table = pd.DataFrame([figures]).to_html(index=False, border=0)
    return HTML(f"<p><b>{line}</b></p>{table}")


def benchmark_summary(figures: dict) -> str:
    """One line: size, time and memory of the stage, and its speed-up over the pandas reference."""
    return (
        f"{figures['applications']:,} applications of {figures.get('enterprises', 0):,} enterprises "
        f"({figures['invoice_rows']:,} invoice rows): features in {figures['seconds']:.0f} s with "
        f"{figures['peak_rss_mb'] / 1024:.1f} GiB peak memory on {figures.get('cores', '?')} cores, "
        f"{figures['speedup']:.1f}x faster than the plain-pandas reference ({figures['pandas_seconds']:.0f} s)."
    )


def _save(fig, path):
    import matplotlib.pyplot as plt
    from IPython.display import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return Image(filename=str(path))
