"""What stage 03 found for one product (`ExplainResult`), shown as tables and plots in its report."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExplainResult", "benchmark_figures", "mask_id"]


@dataclass
class ExplainResult:
    """What stage 03 found for one product; tables and plot paths for the notebook.

    Attributes
    ----------
    stage_dir : runs/<run>/<product>/03_explain/.
    summary : the content of explain.json.
    importance : DataFrame model, feature, mean_abs_shap (log-odds), rank.
    sign_check : DataFrame model, feature, expected_direction, rows, correlation, status, ok.
    stability : DataFrame model, by, segment, rows, judged, spearman, overlap.
    reasons : the reason table (REASON_COLUMNS) of every explained out-of-time application.
    plots : name -> PNG path.
    """

    stage_dir: Path
    summary: dict
    importance: object
    sign_check: object
    stability: object
    reasons: object
    interactions: object
    plots: dict = field(default_factory=dict)

    def at_a_glance(self):
        """The report's opening panel: whether the explanations hold, and the figures that say so."""
        from creditmine.reports import explain

        return explain.at_a_glance(self.summary)

    def checks(self):
        """The one-screen summary as a DataFrame: one row per check, with its verdict."""
        from creditmine.reports import explain

        return explain.checks(self.summary)

    def summary_table(self):
        """The one-screen summary for the validator: one row per check, its verdict coloured (a Styler)."""
        from creditmine.reports import explain

        return explain.checks_styler(self.summary)

    def sign_check_table(self):
        """The sign check: violations first, every feature in a collapsed table (HTML)."""
        from creditmine.reports import explain

        return explain.sign_check(self.sign_check)

    def stability_table(self):
        """Ranking stability: train vs out-of-time and per segment (Spearman of the top features; HTML)."""
        from creditmine.reports import explain

        return explain.stability(self.stability)

    def reason_sample(self, n: int = 8, seed: int = 0):
        """A few applications' reasons in both languages (ids masked), as a DataFrame."""
        reasons = self.reasons
        ids = reasons["application_id"].drop_duplicates().sample(
            min(n, reasons["application_id"].nunique()), random_state=seed)
        sample = reasons[reasons["application_id"].isin(ids)].copy()
        sample["application_id"] = sample["application_id"].map(mask_id)
        sample = sample.sort_values(["application_id", "model", "rank"], kind="stable")
        return sample[["application_id", "model", "rank", "statement_en", "statement_zh"]].reset_index(drop=True)

    def reason_table(self, n: int = 8, seed: int = 0):
        """`reason_sample` in full for the report (HTML)."""
        from creditmine.reports import explain

        return explain.reasons(self.reason_sample(n, seed))

    def methods_table(self):
        """How each model was explained: algorithm, background, output space, checks (HTML)."""
        from creditmine.reports import explain

        return explain.methods(self.summary)

    def image(self, name: str):
        """A saved plot, for display in the notebook."""
        from IPython.display import Image

        if name not in self.plots:
            raise KeyError(f"no plot '{name}'; the stage made {', '.join(sorted(self.plots))}")
        return Image(filename=self.plots[name])

    def images(self, prefix: str):
        """Every saved plot whose name starts with `prefix`, displayed one after another."""
        from IPython.display import display

        for name in sorted(self.plots):
            if name.startswith(prefix):
                display(self.image(name))


def benchmark_figures(root):
    """The committed explain benchmark (benchmarks/results/explain.json) as a table, for the closing note."""
    from creditmine.reports.tables import HTML

    path = Path(root) / "benchmarks" / "results" / "explain.json"
    if not path.is_file():
        return HTML(f"<p>No benchmark figures yet: run <code>benchmarks/explain.py</code> ({path.name} not found).</p>")
    import pandas as pd

    from creditmine.reports.tables import table_html

    figures = json.loads(path.read_text(encoding="utf-8"))
    scalars = {k: v for k, v in figures.items() if not isinstance(v, dict | list)}
    frame = pd.DataFrame({"figure": [k.replace("_", " ") for k in scalars], "value": list(scalars.values())})
    parts = [table_html(frame, "Figures", formats={"value": _figure}, max_rows=60)]
    explainers = pd.DataFrame(figures.get("explainers") or [])
    if not explainers.empty:
        columns = [c for c in ("explainer", "seconds", "rows_per_second", "ratio_to_creditmine",
                               "max_abs_difference", "rows_measured", "extrapolated", "threads", "note")
                   if c in explainers]
        parts.append(table_html(explainers[columns], "Explainers on the same model and rows",
                                formats={"seconds": "number", "rows_per_second": "count",
                                         "ratio_to_creditmine": "number", "max_abs_difference": "number",
                                         "rows_measured": "count", "extrapolated": _yes_no, "threads": "count"}))
    for name, why in (figures.get("skipped") or {}).items():
        parts.append(f"<p class=\"cm-note\">Skipped {html.escape(str(name))}: {html.escape(str(why))}</p>")
    return HTML("".join(parts))


def _figure(value) -> str:
    from creditmine.reports.tables import number

    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(value, 4) if not float(value).is_integer() else f"{value:,.0f}"


def mask_id(application_id) -> str:
    """An application id with all but its last 4 characters hidden."""
    text = str(application_id)
    return "****" + text[-4:] if len(text) > 4 else "****"


def _yes_no(value) -> str:
    return "yes" if bool(value) else "no"
