"""The trend report: every monitoring date of a version side by side (`reports/monitor/<product>/trend.html`).

Built from the `monitor.json` of each as-of date (stage 06's outputs), latest first in the text and
in time order in the plots; one self-contained HTML file (inline style and PNG), like the monthly
reports, with the latest verdict and why at the top.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from creditmine import artifacts

__all__ = ["trend_table", "write_trend_report"]

_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
_FIGURES = (
    ("psi_score", "PSI of the score"), ("csi_max", "largest CSI"), ("approve_share", "approval rate"),
    ("mean_pd_approved", "mean PD of approvals"), ("bad_input_share", "referred for bad input"),
    ("early_default_ratio", "early defaults / expected"), ("expected_auc_approved", "expected AUC (label-free)"),
    ("matured_auc", "AUC of matured loans"),
)


def trend_table(cfg, product: str, model: str, version) -> pd.DataFrame:
    """One row per monitoring date of `model` `version`: verdict and the key figures."""
    where = artifacts.monitor_layout(cfg, product, "trend")
    rows = []
    for path in where.all_summaries():
        summary = json.loads(path.read_text(encoding="utf-8"))
        if summary.get("model") != model or str(summary.get("version")) != str(version):
            continue
        metrics = summary.get("metrics", {})
        rows.append({"as_of": summary["as_of"], "verdict": summary["verdict"],
                     "decisions": summary.get("facts", {}).get("decisions_in_month"),
                     **{key: metrics.get(key) for key, _ in _FIGURES},
                     "jeffreys_pvalue_min": metrics.get("jeffreys_pvalue_min"),
                     "why": " | ".join(summary.get("why", []))})
    return pd.DataFrame(rows).sort_values("as_of").reset_index(drop=True) if rows else pd.DataFrame()


def write_trend_report(cfg, product: str, model: str, version) -> Path:
    """Write the trend report of a version and return its path."""
    from creditmine.reports.style import apply_style

    apply_style()
    table = trend_table(cfg, product, model, version)
    path = artifacts.monitor_layout(cfg, product, "trend").trend_report
    path.parent.mkdir(parents=True, exist_ok=True)
    if table.empty:
        path.write_text(f"<html><body><p>No monitoring of {html.escape(model)} version {version} yet.</p></body></html>",
                        encoding="utf-8")
        return path
    latest = table.iloc[-1]
    reds = table[table["verdict"] == "red"]
    first_red = f"first red as of {reds['as_of'].iloc[0]}" if len(reds) else "never red"
    reasons = "".join(f"<li>{html.escape(line)}</li>" for line in str(latest["why"]).split(" | ") if line) \
        or "<li>every gating test that could be judged is green</li>"
    styled = (table.drop(columns=["why"]).style
              .apply(lambda col: [f"background-color: {_tint(v)}" for v in col], subset=["verdict"])
              .format({c: "{:.3f}" for c in table.columns if c not in ("as_of", "verdict", "decisions", "why")},
                      na_rep="").hide(axis="index"))
    body = [
        f'<div style="background:{_COLOURS.get(latest["verdict"], "#616161")};color:white;padding:0.6em 1em;'
        f'font-size:1.4em">Monitoring of {html.escape(model)} version {version}: '
        f'<b>{str(latest["verdict"]).upper()}</b> as of {latest["as_of"]}</div>',
        f"<p>{len(table)} monitoring dates, {first_red}; {int((table['verdict'] == 'red').sum())} red, "
        f"{int((table['verdict'] == 'amber').sum())} amber, {int((table['verdict'] == 'green').sum())} green.</p>",
        f"<p><b>Why (latest):</b></p><ul>{reasons}</ul>",
        "<h3>Verdict and key figures per monitoring date</h3>", styled.to_html(),
        "<h3>Over time</h3>", _image(_figure(table)),
        "<p>Monthly reports: " + ", ".join(
            f'<a href="{html.escape(d)}.html">{html.escape(d)}</a>' for d in table["as_of"]) + "</p>",
    ]
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>creditmine · monitoring trend · "
            f"{html.escape(product)}</title><style>body{{font-family:sans-serif;margin:1.5em;max-width:1200px}}"
            "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px}"
            "</style></head><body>" + "\n".join(body) + "</body></html>")
    path.write_text(page, encoding="utf-8")
    return path


def _figure(table: pd.DataFrame) -> Figure:
    present = [(k, t) for k, t in _FIGURES if k in table and pd.to_numeric(table[k], errors="coerce").notna().any()]
    cols = 2
    rows = max(1, int(np.ceil(len(present) / cols)))
    fig = Figure(figsize=(10, 2.6 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    x = np.arange(len(table))
    colours = [_COLOURS.get(v, "#616161") for v in table["verdict"]]
    for ax, (key, title) in zip(axes, present):
        values = pd.to_numeric(table[key], errors="coerce").to_numpy(float)
        ax.plot(x, values, color="#1f4e79", linewidth=1)
        ax.scatter(x, values, c=colours, s=22, zorder=3)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(x, table["as_of"].str[:7], rotation=90, fontsize=6)
    for ax in axes[len(present):]:
        ax.set_visible(False)
    fig.suptitle("Monthly figures (points coloured by the month's verdict)", fontsize=10)
    fig.tight_layout()
    return fig


def _image(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return f'<img alt="trend" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _tint(value) -> str:
    return {"green": "#c8e6c9", "amber": "#ffe082", "red": "#ef9a9a"}.get(value, "")
