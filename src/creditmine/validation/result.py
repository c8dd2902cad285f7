"""What stage 04 found (`ValidationResult`), shown section by section in its report.

The words explaining each section are in the stage 04 notebook; the tables, plots and the verdict
in words come from `creditmine.reports.validation`, which works on the plain content shared with
validation.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from creditmine.reports import validation as report
from creditmine.validation.lights import Light

__all__ = ["REPORT_SECTIONS", "ValidationResult"]

#: section -> ([TableSpec], [plot names]); see `creditmine.reports.validation.SECTIONS`
REPORT_SECTIONS = report.SECTIONS


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

    def _lights(self) -> list[dict]:
        return [light.to_dict() for light in self.lights]

    def explanation(self):
        """The verdict in words: the gating tests that set it, what they mean, what can be done."""
        from creditmine.reports import verdicts

        return verdicts.explain(self.verdict, self._lights(), self.metrics, self.primary)

    def at_a_glance(self):
        """The report's opening panel: verdict, why, what to do, key figures (HTML)."""
        return report.at_a_glance(self.product, self.verdict, self._lights(), self.metrics, self.primary)

    def lights_table(self):
        """The lights: gating tests first and solid, the others outlined (HTML)."""
        return report.lights(self._lights())

    def verdict_banner(self):
        """The verdict and its explanation as an HTML block."""
        from creditmine.reports.tables import HTML

        badge = report.verdict_badge(self.verdict)
        return HTML(f"<p class=\"cm-verdict\">{badge}<span>Validation verdict for <b>{self.product}</b></span></p>"
                    + report.explanation_html(self.explanation()))

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
        """One report section as HTML: its tables (formatted, long ones collapsed) and its plots.

        Sections: discrimination, calibration, ecb, stability, concentration, segments, inclusion.
        """
        return report.section(name, self.tables, self.plots, self.skipped, self.primary)

    def policy_table(self, simulation: pd.DataFrame):
        """A policy simulation (`creditmine.decision.policy.simulate_policy_for_run`), formatted (HTML)."""
        return report.policy(simulation)

    def model_card(self):
        """The model card as rendered Markdown, its headings two levels down to sit under the
        report's own."""
        import re

        from IPython.display import Markdown

        return Markdown(re.sub(r"(?m)^(#{1,4}) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ",
                               self.card_markdown))

    def skipped_table(self):
        """The parts that could not be assessed, with the reason (HTML; a sentence when none)."""
        return report.skipped(self.skipped)
