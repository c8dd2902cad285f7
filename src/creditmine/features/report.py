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
    "at_a_glance", "benchmark_figures", "benchmark_summary", "data_dictionary_html", "data_profile", "default_rate_html",
    "default_rate_table", "plot_default_rates", "plot_missingness", "profile_html",
]


def at_a_glance(profile: dict, cached: bool, seconds: float):
    """The report's opening panel: the table's size, its samples and default rate, and what to check.

    Warns when the plots cannot render Chinese, when there is no out-of-time sample or no outcome,
    and names the sources missing for most applications.
    """
    from creditmine.reports.glance import panel
    from creditmine.reports.style import cjk_font, cjk_font_note
    from creditmine.reports.tables import count, percent

    splits = profile.get("splits", {})
    labelled = sum(v for k, v in splits.items() if k != "unlabelled")
    warnings, look = [], []
    if not cjk_font():
        warnings.append(html.escape(cjk_font_note()))
    if not splits.get("oot"):
        warnings.append("No out-of-time applications: stages 02-04 cannot test the models on unseen data "
                        "(check split.oot_start in the params).")
    if not labelled:
        warnings.append("No labelled application: no model can be trained.")
    thin = sorted(((share, source) for source, share in profile.get("missing_share_by_source", {}).items()
                   if share >= 0.5), reverse=True)
    if thin:
        look.append("<b>Thin files</b>: features of " + ", ".join(
            f"{html.escape(source)} ({percent(share)})" for share, source in thin) + " are missing for most "
            "applications; each source has a missing indicator among the features.")
    look.append("<b>Default rate by product and year</b>: a trend between years is what the out-of-time test meets.")
    look.append(html.escape(cjk_font_note()))
    figures = [
        ("applications", count(profile.get("rows"))),
        ("features", count(profile.get("features"))),
        ("train / holdout / out of time", " / ".join(count(splits.get(s, 0)) for s in ("train", "holdout", "oot"))),
        ("default rate, labelled applications", percent(profile.get("default_rate"))),
        ("built", f"{'reused from cache' if cached else 'computed'} in {seconds:,.1f} s"),
    ]
    level, verdict = ("amber", "CHECK") if warnings else ("green", "READY")
    body = "".join(f"<p><b>Warning:</b> {w}</p>" for w in warnings)
    return panel("Feature table", verdict, level, figures, look, f"<div class=\"cm-why\">{body}</div>" if body else "")


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


def profile_html(profile: dict[str, pd.DataFrame], max_rows: int = 25):
    """The profile's tables under their names, formatted (HTML).

    Columns without any missing value are counted, not listed; the default rates are left to their
    own section of the report (`default_rate_html`); long tables are collapsed.
    """
    from creditmine.reports.tables import HTML, table_html

    parts = []
    for name, frame in profile.items():
        title = name.replace("_", " ")
        if name == "default_rates":
            continue
        if name in ("missing", "columns") and "missing_share" in frame:
            gaps = frame[frame["missing_share"] > 0].sort_values("missing_share", ascending=False, kind="stable")
            complete = len(frame) - len(gaps)
            parts.append(table_html(gaps, f"{title}: columns with missing values ({len(gaps)})", max_rows=max_rows,
                                    empty="No column has a missing value.",
                                    note=f"{complete} of {len(frame)} columns have no missing value." if complete else None))
            if name == "columns":
                parts.append(table_html(frame, f"every column ({len(frame)})", collapsed=True))
            continue
        parts.append(table_html(frame, title, max_rows=max_rows))
    return HTML("\n".join(parts))


def data_dictionary_html(catalog: list[FeatureSpec]):
    """The data dictionary (every feature, both descriptions, unit, window, risk direction), collapsed (HTML)."""
    from creditmine.reports.tables import HTML, table_html

    frame = catalog_frame(catalog)
    arrows = {1: "↑ riskier", -1: "↓ safer", 0: "· unknown"}
    frame["risk_direction"] = frame["risk_direction"].map(arrows)
    columns = ["name", "source", "kind", "window_months", "unit", "risk_direction", "description_en",
               "description_zh", "reason_group"]
    counts = frame.groupby("source", sort=True).size().rename("features").reset_index()
    return HTML(table_html(counts, f"{len(frame)} features from {len(counts)} sources")
                + table_html(frame[columns], "Every feature", collapsed=True,
                             formats={"window_months": "count"}))


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


def default_rate_html(features: pd.DataFrame):
    """`default_rate_table` formatted, as a product-by-year grid of default rates (HTML)."""
    from creditmine.reports.tables import HTML, table_html

    table = default_rate_table(features)
    grid = table.pivot(index="product", columns="year", values="default_rate")
    grid.columns = [f"default rate {c}" for c in grid.columns]
    counts = table.pivot(index="product", columns="year", values="labelled")
    counts.columns = [f"labelled {c}" for c in counts.columns]
    return HTML(table_html(grid.reset_index(), "Default rate of labelled applications by product and year",
                           formats={c: "percent" for c in grid.columns})
                + table_html(counts.reset_index(), "Labelled applications by product and year",
                             formats={c: "count" for c in counts.columns}, collapsed=True)
                + table_html(table, "Every product and year: applications, labelled, defaults", collapsed=True,
                             formats={"defaults": "count", "labelled": "count"}))


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
    """The committed figures of benchmarks/features.py: a one-line summary above the figures (collapsed)."""
    from creditmine.reports.tables import HTML, table_html

    path = Path(root) / "benchmarks" / "results" / "features.json"
    if not path.is_file():
        return HTML("<p>No benchmark figures yet: run <code>.venv/bin/python benchmarks/features.py</code>.</p>")
    figures = json.loads(path.read_text())
    line = html.escape(benchmark_summary(figures))

    frame = pd.DataFrame({"figure": [k.replace("_", " ") for k in figures], "value": list(figures.values())})
    return HTML(f"<p><b>{line}</b></p>" + table_html(frame, "Every figure", formats={"value": _figure_text},
                                                      collapsed=True))


def _figure_text(value) -> str:
    from creditmine.reports.tables import number

    if isinstance(value, list):
        return ", ".join(number(v) for v in value)
    return number(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


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
