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

from creditmine.validation.lights import Light, lights_table, style_lights

__all__ = ["REPORT_SECTIONS", "MonitorResult"]

_BANNER = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}


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
        """The verdict, and why, as the report's first lines."""
        from IPython.display import HTML

        colour = _BANNER.get(self.verdict, "#616161")
        reasons = "".join(f"<li>{html.escape(line)}</li>" for line in self.why) or \
            "<li>every gating test that could be judged is green</li>"
        trigger = ""
        if self.trail_entry:
            blocks = self.trail_entry.get("details", {}).get("blocks_decisions")
            trigger = (f"<p>Recorded in the audit trail as entry #{self.trail_entry['seq']} by "
                       f"{html.escape(str(self.trail_entry['actor']))}; the version's tag "
                       f"<code>monitoring_verdict</code> is {self.verdict}."
                       + (" <b>This version may not decide until a later verdict lifts the block.</b>" if blocks else "")
                       + "</p>")
        facts = self.facts
        return HTML(
            f'<div style="background:{colour};color:white;padding:0.6em 1em;font-size:1.4em">'
            f"Monitoring verdict for {html.escape(self.model)} version {self.version} as of {self.as_of}: "
            f"<b>{self.verdict.upper()}</b></div>"
            f"<p><b>Why:</b></p><ul>{reasons}</ul>{trigger}"
            f"<p>{facts.get('decisions_in_month', 0):,} decisions in {facts.get('month', '')} "
            f"({facts.get('decisions', 0):,} since {facts.get('first_month', '-')}); development sample: "
            f"{facts.get('reference_rows', 0):,} applications ({html.escape(facts.get('reference_splits', ''))}); "
            f"outcomes: {html.escape(facts.get('outcomes', 'none given'))}.</p>"
            f"<p>The verdict is the worst light of the gating tests that could be judged "
            f"({', '.join(facts.get('gating', []))}); a gating test without data yet (no matured vintage, "
            f"too small a month) is shown n/a and does not count.</p>"
        )

    def lights_table(self):
        """The lights as a coloured table (gating tests first)."""
        return style_lights(lights_table(self.lights))

    def table(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise KeyError(f"no table '{name}'; tables: {', '.join(self.tables)}")
        return self.tables[name]

    def section(self, name: str):
        """One report section: its tables (formatted) and plots (inline PNG)."""
        from IPython.display import HTML

        if name not in REPORT_SECTIONS:
            raise KeyError(f"no section '{name}'; sections: {', '.join(REPORT_SECTIONS)}")
        tables, plots = REPORT_SECTIONS[name]
        parts = []
        for table_name, caption, formats in tables:
            table = self.tables.get(table_name)
            if table is None or not len(table):
                reason = self.skipped.get(table_name) or self.skipped.get(name) or "nothing to show yet"
                parts.append(f"<p><i>{caption}: not shown ({html.escape(reason)}).</i></p>")
                continue
            parts.append(f"<h4>{caption}</h4>" + _styled(table, formats))
        for plot in plots:
            if plot in self.plots:
                data = base64.b64encode(self.plots[plot].read_bytes()).decode()
                parts.append(f'<img alt="{plot}" src="data:image/png;base64,{data}" style="max-width:96%;margin:4px">')
        return HTML("\n".join(parts))

    def skipped_table(self) -> pd.DataFrame:
        return pd.DataFrame({"part": list(self.skipped), "reason": list(self.skipped.values())})


def _styled(table: pd.DataFrame, formats: dict | None) -> str:
    table = table.copy()
    for column in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[column]):
            table[column] = table[column].dt.strftime("%Y-%m")
        elif isinstance(table[column].dtype, pd.PeriodDtype):
            table[column] = table[column].astype(str)
    numeric = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    styler = table.style.format({c: (formats or {}).get(c, "{:.4f}") for c in numeric}, na_rep="")
    others = {c: f for c, f in (formats or {}).items() if c in table.columns and c not in numeric}
    if others:
        styler = styler.format(others)
    return styler.hide(axis="index").to_html()


_SHARE, _MONEY, _PVALUE = "{:.1%}", "{:,.0f}", "{:.3g}"

#: section -> ([(table, caption, formats)], [plots])
REPORT_SECTIONS = {
    "population": (
        [("psi_by_month", "PSI of the score per month against the development sample", {"psi": "{:.3f}"}),
         ("csi_latest", "CSI per feature in the as-of month (most shifted first) and the feature's importance",
          {"csi": "{:.3f}", "importance": _SHARE, "weighted": "{:.4f}"}),
         ("csi_by_month", "CSI per month of the most shifted features", None),
         ("source_missing_by_month", "Share of applications without data, per source and month", None),
         ("new_categories", "Categories the development sample never had", None)],
        ["psi_by_month", "csi_by_month", "source_missing"]),
    "decisions": (
        [("decision_mix", "Decisions per month (the development sample first, decided by this version)",
          {"approve": _SHARE, "refer": _SHARE, "decline": _SHARE, "bad_input": _SHARE,
           "limit_granted_cny": _MONEY, "mean_pd_approved": "{:.2%}"}),
         ("reason_mix", "Top reason per month (share of scored decisions) and the drift of the mix (PSI)", None)],
        ["decision_mix"]),
    "outcomes": (
        [("vintage_curves", "Cumulative default rate by months on book, per booking month", None),
         ("backtest_by_grade", "Matured loans per grade: Jeffreys and binomial tests (H0: the PD is not underestimated)",
          {"mean_pd": "{:.2%}", "observed_rate": "{:.2%}", "jeffreys_pvalue": _PVALUE, "binomial_pvalue": _PVALUE})],
        ["vintage_curves"]),
    "label_free": (
        [("label_free", "Per vintage: label-free estimates from the PDs and what was realized",
          {"observed_so_far": "{:.2%}", "expected_so_far": "{:.2%}", "expected_dr": "{:.2%}", "expected_dr_se": "{:.2%}",
           "realized_dr": "{:.2%}", "realized_dr_low": "{:.2%}", "realized_dr_high": "{:.2%}",
           "expected_auc": "{:.3f}", "expected_auc_low": "{:.3f}", "expected_auc_high": "{:.3f}",
           "realized_auc": "{:.3f}", "realized_auc_low": "{:.3f}", "realized_auc_high": "{:.3f}"})],
        ["label_free"]),
}
