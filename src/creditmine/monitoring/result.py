"""What stage 06 found (`MonitorResult`), shown section by section in its report.

The words explaining each section are in the stage 06 notebook; here are the tables, plots and
captions, and the verdict with the reasons for it, which the report shows first.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from creditmine.validation.lights import Light

__all__ = ["REPORT_SECTIONS", "MonitorResult"]


@dataclass
class MonitorResult:
    """Everything one monitoring run found: verdict, lights, metrics, tables and plot files."""

    product: str
    model: str
    version: str
    as_of: str
    verdict: str
    lights: list[Light]
    metrics: dict[str, float]
    why: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    trail_entry: dict | None = None
    folder: Path | None = None

    # -- the report -----------------------------------------------------------------------------
    def verdict_banner(self):
        """The verdict and why, as the report's first panel (the house "at a glance" panel)."""
        from creditmine.reports.glance import panel
        from creditmine.reports.tables import count

        reasons = "".join(f"<li>{html.escape(line)}</li>" for line in self.why) or \
            "<li>every gating test that could be judged is green</li>"
        facts = self.facts
        explanation = f"<div class=\"cm-why\"><b>Why</b><ul>{reasons}</ul></div>"
        if self.trail_entry:
            blocks = self.trail_entry.get("details", {}).get("blocks_decisions")
            explanation += (f"<p>Recorded in the audit trail as entry #{self.trail_entry['seq']} by "
                            f"{html.escape(str(self.trail_entry['actor']))}; the version's tag "
                            f"<code>monitoring_verdict</code> is {self.verdict}."
                            + (" <b>This version may not decide until a later verdict lifts the block.</b>"
                               if blocks else "") + "</p>")
        explanation += (f"<p>Development sample: {count(facts.get('reference_rows', 0))} applications "
                        f"({html.escape(facts.get('reference_splits', ''))}); outcomes: "
                        f"{html.escape(facts.get('outcomes', 'none given'))}. The verdict is the worst light "
                        f"of the gating tests that could be judged ({html.escape(', '.join(facts.get('gating', [])))}); "
                        "a gating test without data yet (no matured vintage, too small a month) is shown n/a "
                        "and does not count.</p>")
        reds = [light.test for light in self.lights if light.light == "red"]
        look = [f"The <b>{'red' if reds else 'lit'} tests</b> below"
                + (f": {html.escape(', '.join(reds))}" if reds else "") + ", then their sections."]
        figures = [("decisions in " + str(facts.get("month", "the month")), count(facts.get("decisions_in_month", 0))),
                   (f"decisions since {facts.get('first_month', '-')}", count(facts.get("decisions", 0))),
                   ("score PSI, this month", _figure(self._value("psi_score"))),
                   ("approval rate change", _figure(self._value("approval_rate_change")))]
        return panel(f"Monitoring verdict for {self.model} version {self.version} as of {self.as_of}",
                     self.verdict.upper(), self.verdict, figures, look, explanation)

    def _value(self, test: str):
        return next((light.value for light in self.lights if light.test == test), None)

    def lights_table(self):
        """The lights as a coloured table (gating tests first, solid; the others outlined)."""
        from creditmine.reports.validation import lights

        return lights([light.to_dict() for light in self.lights])

    def table(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise KeyError(f"no table '{name}'; tables: {', '.join(self.tables)}")
        return self.tables[name]

    def section(self, name: str):
        """One report section: its tables (formatted, long ones collapsed) and plots (inline PNG)."""
        from creditmine.reports.tables import HTML, table_html

        if name not in REPORT_SECTIONS:
            raise KeyError(f"no section '{name}'; sections: {', '.join(REPORT_SECTIONS)}")
        tables, plots = REPORT_SECTIONS[name]
        parts = []
        for table_name, caption, formats in tables:
            table = self.tables.get(table_name)
            if table is None or not len(table):
                reason = self.skipped.get(table_name) or self.skipped.get(name) or "nothing to show yet"
                parts.append(f"<p class=\"cm-empty\">{html.escape(caption)}: not shown ({html.escape(reason)}).</p>")
                continue
            parts.append(table_html(_plain(table), caption, formats=formats))
        for plot in plots:
            if plot in self.plots:
                data = base64.b64encode(self.plots[plot].read_bytes()).decode()
                parts.append(f'<img alt="{plot}" src="data:image/png;base64,{data}" style="max-width:96%;margin:4px">')
        return HTML("\n".join(parts))

    def skipped_table(self):
        """The parts not assessed, with the reason (HTML; a sentence when none)."""
        from creditmine.reports.validation import skipped

        return skipped(self.skipped)


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """Months as YYYY-MM, flags as yes/no: what a reader expects in a cell."""
    table = table.copy()
    for column in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[column]):
            table[column] = table[column].dt.strftime("%Y-%m")
        elif isinstance(table[column].dtype, pd.PeriodDtype):
            table[column] = table[column].astype(str)
        elif pd.api.types.is_bool_dtype(table[column]):
            table[column] = table[column].map({True: "yes", False: "no"})
    return table


def _figure(value) -> str:
    from creditmine.reports.tables import number

    return number(value, 3)


_SHARE, _MONEY, _PVALUE = "percent", "money", "pvalue"

#: section -> ([(table, caption, formats)], [plots])
REPORT_SECTIONS = {
    "population": (
        [("psi_by_month", "PSI of the score per month against the development sample", {"psi": "number"}),
         ("csi_latest", "CSI per feature in the as-of month (most shifted first) and the feature's importance",
          {"csi": "number", "importance": _SHARE, "weighted": "number"}),
         ("csi_by_month", "CSI per month of the most shifted features", None),
         ("source_missing_by_month", "Share of applications without data, per source and month", None),
         ("new_categories", "Categories the development sample never had", None)],
        ["psi_by_month", "csi_by_month", "source_missing"]),
    "decisions": (
        [("decision_mix", "Decisions per month (the development sample first, decided by this version)",
          {"approve": _SHARE, "refer": _SHARE, "decline": _SHARE, "bad_input": _SHARE,
           "limit_granted_cny": _MONEY, "mean_pd_approved": "percent"}),
         ("reason_mix", "Top reason per month (share of scored decisions) and the drift of the mix (PSI)", None)],
        ["decision_mix"]),
    "outcomes": (
        [("vintage_curves", "Cumulative default rate by months on book, per booking month", None),
         ("backtest_by_grade", "Matured loans per grade: Jeffreys and binomial tests (H0: the PD is not underestimated)",
          {"mean_pd": "percent", "observed_rate": "percent", "jeffreys_pvalue": _PVALUE, "binomial_pvalue": _PVALUE})],
        ["vintage_curves"]),
    "label_free": (
        [("label_free", "Per vintage: label-free estimates from the PDs and what was realized",
          {"observed_so_far": "percent", "expected_so_far": "percent", "expected_dr": "percent", "expected_dr_se": "percent",
           "realized_dr": "percent", "realized_dr_low": "percent", "realized_dr_high": "percent",
           "expected_auc": "number", "expected_auc_low": "number", "expected_auc_high": "number",
           "realized_auc": "number", "realized_auc_low": "number", "realized_auc_high": "number"})],
        ["label_free"]),
}
