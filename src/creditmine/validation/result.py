"""What stage 04 found (`ValidationResult`), shown section by section in its report.

The words explaining each section are in the stage 04 notebook; here are only the tables and plots
a section shows and their captions.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from creditmine.artifacts import LABELLED_SPLITS, SPLIT_OOT
from creditmine.validation.lights import Light, lights_table, style_lights

__all__ = ["REPORT_SECTIONS", "ValidationResult"]


@dataclass
class ValidationResult:
    """Everything stage 04 found: the verdict, the lights, flat metrics, tables and plot files."""

    product: str
    verdict: str
    lights: list[Light]
    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    stage_dir: Path | None = None
    card_markdown: str = ""
    primary: str = ""

    def lights_table(self):
        """The lights as a coloured pandas Styler (gating tests first)."""
        return style_lights(lights_table(self.lights))

    def verdict_banner(self):
        """The verdict as a coloured HTML banner for the report."""
        from IPython.display import HTML

        colour = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}[self.verdict]
        gates = ", ".join(light.test for light in self.lights if light.gating)
        return HTML(
            f'<div style="background:{colour};color:white;padding:0.6em 1em;font-size:1.4em">'
            f"Validation verdict for {self.product}: <b>{self.verdict.upper()}</b></div>"
            f"<p>The verdict is the worst light of the gating tests ({gates}).</p>"
        )

    def table(self, name: str) -> pd.DataFrame:
        """One result table by name (see `tables`)."""
        if name not in self.tables:
            raise KeyError(f"no table '{name}'; tables: {', '.join(self.tables)}")
        return self.tables[name]

    def plot(self, name: str):
        """One saved plot as an inline image, or a note when that part was skipped."""
        from IPython.display import Image, Markdown

        if name not in self.plots:
            reason = self.skipped.get(name, "not produced for this model")
            return Markdown(f"*Plot '{name}' not shown: {reason}.*")
        return Image(filename=str(self.plots[name]))

    def section(self, name: str):
        """One report section as HTML: its tables and its plots (embedded PNG).

        Sections: discrimination, calibration, ecb, stability, concentration, segments, inclusion.
        """
        from IPython.display import HTML

        if name not in REPORT_SECTIONS:
            raise KeyError(f"no section '{name}'; sections: {', '.join(REPORT_SECTIONS)}")
        tables, plots = REPORT_SECTIONS[name]
        parts = []
        for table_name, caption, pick in tables:
            if table_name not in self.tables or not len(self.tables[table_name]):
                reason = self.skipped.get(_SKIP_KEYS.get(table_name, table_name), "not computed for this model")
                parts.append(f"<p><i>{caption}: not shown ({reason}).</i></p>")
                continue
            table = pick(self.tables[table_name], self) if pick else self.tables[table_name]
            table = table.copy()
            for column in table.columns:
                if pd.api.types.is_datetime64_any_dtype(table[column]):
                    table[column] = table[column].dt.strftime("%Y-%m")
            keep_index = table.index.name is not None or not isinstance(table.index, pd.RangeIndex)
            styler = table.style.format(precision=4, na_rep="")
            if not keep_index:
                styler = styler.hide(axis="index")
            parts.append(f"<h4>{caption}</h4>" + styler.to_html())
        for plot in plots:
            names = [p for p in self.plots if p.startswith(plot)] if plot.endswith("_") else [plot]
            for plot_name in names:
                if plot_name in self.plots:
                    data = base64.b64encode(self.plots[plot_name].read_bytes()).decode()
                    parts.append(f'<img alt="{plot_name}" src="data:image/png;base64,{data}" style="max-width:48%;margin:4px">')
                else:
                    parts.append(f"<p><i>Plot {plot_name} not shown: {self.skipped.get(plot_name, 'not produced')}.</i></p>")
        return HTML("\n".join(parts))

    def model_card(self):
        """The model card as rendered Markdown."""
        from IPython.display import Markdown

        return Markdown(self.card_markdown)

    def skipped_table(self) -> pd.DataFrame:
        """The parts that could not be assessed, with the reason."""
        return pd.DataFrame({"part": list(self.skipped), "reason": list(self.skipped.values())})


def _primary_oot(table: pd.DataFrame, result: ValidationResult) -> pd.DataFrame:
    """The out-of-time rows of the primary model."""
    rows = table[(table["split"] == SPLIT_OOT) & (table["model"] == result.primary)]
    return rows.drop(columns=["model", "split"]).set_index("grade")


def _grade_share_pivot(table: pd.DataFrame, result: ValidationResult) -> pd.DataFrame:
    pivot = table.pivot(index="grade", columns="split", values="share")
    return pivot.reindex(columns=[c for c in (*LABELLED_SPLITS, "all") if c in set(table["split"])])


# tables whose reason for being absent is recorded under the name of their part
_SKIP_KEYS = {"source_missing_by_month": "source_missing", "migration_matrix": "migration",
              "ttd_booking_by_grade": "through_the_door", "ttd_swap_set": "through_the_door"}

#: section -> ([(table, caption, pick)], [plot names; a trailing "_" takes every plot with that prefix])
REPORT_SECTIONS = {
    "discrimination": (
        [("discrimination", "AUC, Gini and KS with bootstrap intervals", None),
         ("delong", "DeLong test: primary against challenger", None)],
        ["roc_", "ks_oot"]),
    "calibration": (
        [("calibration_summary", "Portfolio calibration per model and sample", None),
         ("calibration_by_grade", "Per grade, primary model, out-of-time", _primary_oot)],
        ["calibration"]),
    "ecb": (
        [("ecb_battery", "Tests", None), ("migration_matrix", "Migration matrix (counts)", None)],
        ["migration"]),
    "stability": (
        [("psi_by_month", "PSI of the score per application month", None),
         ("csi", "CSI per feature (most shifted first, top 15)", lambda t, r: t.head(15)),
         ("source_missing_by_month", "Share of applications without data, per source and month", None)],
        ["psi_by_month", "csi", "source_missing"]),
    "concentration": (
        [("grade_shares", "Share of applications per grade and sample", _grade_share_pivot)],
        ["grade_shares"]),
    "segments": ([("segments", "Segments", None)], ["segments_"]),
    "inclusion": ([("inclusion", "Financial inclusion", None)], []),
    "through_the_door": (
        [("ttd_truth", "Against the true PD, every application booked or not (synthetic world)", None),
         ("ttd_booking_by_grade", "Booking rate and grade distribution of booked and declined applications", None),
         ("ttd_swap_set", "Swap set: the past policy against the model's", None)],
        ["ttd_grades"]),
}
