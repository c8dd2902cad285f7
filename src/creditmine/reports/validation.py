"""What the stage 04 report shows: the verdict in words, the lights, and each section's tables and
plots, formatted for people. Works on plain data (lights as dicts, DataFrames, plot paths), so
`creditmine.validation.result.ValidationResult` and the run index share it."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from creditmine.artifacts import LABELLED_SPLITS, SPLIT_OOT
from creditmine.reports import verdicts
from creditmine.reports.glance import badge, panel
from creditmine.reports.tables import HTML, count, fmt, number, percent, table, table_html

__all__ = ["SECTIONS", "TableSpec", "at_a_glance", "explanation_html", "lights", "policy", "section", "skipped"]


def explanation_html(found: verdicts.Verdict) -> str:
    """Why the verdict is what it is, and what can be done (HTML)."""
    if found.verdict == "green":
        body = f"<p>{html.escape(found.headline)}</p>"
    else:
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in found.reasons)
        remedies = "".join(f"<li>{html.escape(r[0].upper() + r[1:])}.</li>" for r in found.remedies)
        body = (f"<p><b>{html.escape(found.headline)}</b></p><b>Why</b><ul>{reasons}</ul>"
                f"<b>What the developer can do</b><ul>{remedies}</ul>")
    if found.other_reds:
        names = ", ".join(verdicts.test_title(t) for t in found.other_reds)
        body += (f"<p>Also red, but not gating (they inform the review, they do not set the verdict): "
                 f"{html.escape(names)}.</p>")
    return f"<div class=\"cm-why\">{body}</div>"


def at_a_glance(product: str, verdict: str, light_dicts: list[dict], metrics: dict, primary: str):
    """The verdict, why, what to do, and the key figures of the primary model out of time."""
    found = verdicts.explain(verdict, light_dicts, metrics, primary)
    m = metrics
    figures = [
        (f"out-of-time AUC ({primary})", number(m.get(f"{primary}.oot.auc"), 3)),
        ("development AUC (holdout)", number(m.get("development_auc"), 3)),
        ("mean PD / observed, out of time", f"{percent(m.get(f'{primary}.oot.mean_pd'))} / "
                                            f"{percent(m.get(f'{primary}.oot.observed_rate'))}"),
        ("score PSI, train vs out of time", number(m.get("psi_score"), 3)),
        ("out-of-time applications / defaults", f"{count(m.get(f'{primary}.oot.n'))} / "
                                                f"{count(m.get(f'{primary}.oot.defaults'))}"),
    ]
    look = [f"<b>{html.escape(verdicts.test_title(light['test']))}</b> in the traffic lights and its section"
            for light in found.setting]
    look.append("The <b>traffic lights</b>: gating tests first, solid colours; the others are outlined.")
    if verdict == "red":
        look.append("Stage 05 registers this version, but a validator cannot approve it while it is red.")
    return panel(f"Validation of {product}", verdict.upper(), verdict, figures, look, explanation_html(found))


def lights(light_dicts: list[dict]):
    """Every test's light: gating tests first and solid, non-gating ones outlined, with its rule."""
    rows = []
    for light in sorted(light_dicts, key=lambda x: not x.get("gating")):
        t = light.get("threshold") or {}
        sign = ">=" if t.get("higher_is_better") else "<"
        rule = f"green {sign} {t['green']:g}, amber {sign} {t['amber']:g}" if t else ""
        flagged = not light.get("gating") and light["light"] in ("red", "amber")
        value = light.get("value")
        rows.append({"test": verdicts.test_title(light["test"]), "name": light["test"],
                     "light": light["light"] + (" (not gating)" if flagged else ""),
                     "gates the verdict": "yes" if light.get("gating") else "no",
                     "value": fmt(value, "pvalue" if light["test"].endswith("pvalue") else "number"),
                     "rule": rule, "note": light.get("note", "")})
    frame = pd.DataFrame(rows)
    classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
    classes["value"] = "num"
    for i, light in enumerate(sorted(light_dicts, key=lambda x: not x.get("gating"))):
        css = f"light-{light['light'].replace('/', '')}" + (" gating" if light.get("gating") else "")
        classes.loc[i, ["test", "light"]] = css
    return table(frame, classes=classes, max_rows=60, formats={"value": "text"})


@dataclass(frozen=True)
class TableSpec:
    """One table of a report section."""

    name: str
    caption: str
    pick: Callable[[pd.DataFrame, str], pd.DataFrame] | None = None
    max_rows: int = 25
    formats: dict | None = None
    collapsed: bool | None = None
    kind: str | None = None   # the format of every column that `formats` does not name (but month)


def _interval(table: pd.DataFrame, primary: str) -> pd.DataFrame:
    """AUC, Gini and KS with their bootstrap intervals in one column each."""
    out = table[[c for c in ("model", "role", "split", "n", "defaults") if c in table]].copy()
    for metric, label in (("auc", "AUC"), ("gini", "Gini"), ("ks", "KS")):
        if metric not in table:
            continue
        low, high = f"{metric}_low", f"{metric}_high"
        if low in table and high in table:
            out[f"{label} (interval)"] = [f"{number(v, 3)} ({number(lo, 3)} to {number(hi, 3)})"
                                          for v, lo, hi in zip(table[metric], table[low], table[high])]
        else:
            out[label] = table[metric]
    return out


def _primary_oot(table: pd.DataFrame, primary: str) -> pd.DataFrame:
    """The out-of-time rows of the primary model."""
    rows = table[(table["split"] == SPLIT_OOT) & (table["model"] == primary)]
    return rows.drop(columns=["model", "split"])


def _grade_share_pivot(table: pd.DataFrame, primary: str) -> pd.DataFrame:
    pivot = table.pivot(index="grade", columns="split", values="share")
    pivot = pivot.reindex(columns=[c for c in (*LABELLED_SPLITS, "all") if c in set(table["split"])])
    pivot.columns = [f"share {c}" for c in pivot.columns]
    return pivot.reset_index()


def _measures(table: pd.DataFrame, primary: str) -> pd.DataFrame:
    """A one-column table of named figures, each formatted by what it is."""
    rows = []
    for name, value in table.iloc[:, 0].items():
        key = str(name)
        kind = "count" if "applications" in key else "percent" if ("rate" in key or "cutoff" in key) else "number"
        rows.append({"measure": key.replace("_", " "), "value": fmt(value, kind)})
    return pd.DataFrame(rows)


def _csi_top(table: pd.DataFrame, primary: str) -> pd.DataFrame:
    return table.head(15)


#: section -> ([TableSpec], [plot names; a trailing "_" takes every plot with that prefix])
SECTIONS: dict[str, tuple[list[TableSpec], list[str]]] = {
    "discrimination": (
        [TableSpec("discrimination", "AUC, Gini and KS with bootstrap intervals", _interval),
         TableSpec("delong", "DeLong test: primary against challenger",
                   formats={"difference": "signed", "se": "number", "z": "number"})],
        ["roc_", "ks_oot"]),
    "calibration": (
        [TableSpec("calibration_summary", "Portfolio calibration per model and sample",
                   formats={"hosmer_lemeshow": "number", "brier": "number"}),
         TableSpec("calibration_by_grade", "Per grade, primary model, out of time", _primary_oot,
                   formats={"jeffreys_low": "percent", "jeffreys_high": "percent"})],
        ["calibration"]),
    "ecb": (
        [TableSpec("ecb_battery", "Tests", formats={"initial": "number", "current": "number", "statistic": "number"}),
         TableSpec("migration_matrix", "Migration matrix: enterprises by grade at the first (rows) and second "
                   "(columns) rating date", formats={}, max_rows=30),
         TableSpec("migration_ztests", "Migration z-tests per cell", formats={"z": "number"}, collapsed=True)],
        ["migration"]),
    "stability": (
        [TableSpec("psi_by_month", "PSI of the score per application month", formats={"psi": "number"},
                   collapsed=True),
         TableSpec("csi", "CSI per feature, the 15 most shifted", _csi_top, formats={"csi": "number"}),
         TableSpec("csi", "CSI of every feature", formats={"csi": "number"}, collapsed=True),
         TableSpec("source_missing_by_month", "Share of applications without data, per source and month",
                   formats={"month": "month"}, collapsed=True, kind="percent")],
        ["psi_by_month", "csi", "source_missing"]),
    "concentration": ([TableSpec("grade_shares", "Share of applications per grade and sample", _grade_share_pivot)],
                      ["grade_shares"]),
    "segments": ([TableSpec("segments", "Segments, out of time", max_rows=40, formats={"auc": "number"})],
                 ["segments_"]),
    "inclusion": ([TableSpec("inclusion", "Financial inclusion", _measures)], []),
    "through_the_door": (
        [TableSpec("ttd_truth", "Against the true PD, every application booked or not (synthetic world)",
                   formats={"auc_against_true_pd": "number"}),
         TableSpec("ttd_booking_by_grade", "Booking rate and grade distribution of booked and declined applications"),
         TableSpec("ttd_swap_set", "Swap set: the past policy against the model's")],
        ["ttd_grades"]),
}

# tables whose reason for being absent is recorded under the name of their part
_SKIP_KEYS = {"source_missing_by_month": "source_missing", "migration_matrix": "migration",
              "migration_ztests": "migration", "ttd_booking_by_grade": "through_the_door",
              "ttd_swap_set": "through_the_door"}


def section(name: str, tables: dict, plots: dict, skipped: dict, primary: str):
    """One report section: its tables (formatted, long ones collapsed) and plots (embedded PNG)."""
    if name not in SECTIONS:
        raise KeyError(f"no section '{name}'; sections: {', '.join(SECTIONS)}")
    specs, plot_names = SECTIONS[name]
    parts = []
    for spec in specs:
        frame = tables.get(spec.name)
        if frame is None or not len(frame):
            reason = skipped.get(_SKIP_KEYS.get(spec.name, spec.name), "not computed for this model")
            parts.append(f"<p class=\"cm-empty\">{html.escape(spec.caption)}: not shown ({html.escape(reason)}).</p>")
            continue
        frame = spec.pick(frame, primary) if spec.pick else frame
        formats = dict(spec.formats or {})
        if spec.kind:
            formats = {c: spec.kind for c in frame.columns if c not in formats and str(c) != "month"} | formats
        parts.append(table_html(frame, spec.caption, formats=formats, max_rows=spec.max_rows,
                                collapsed=spec.collapsed))
    images = []
    for plot in plot_names:
        names = sorted(p for p in plots if p.startswith(plot)) if plot.endswith("_") else [plot]
        for plot_name in names:
            if plot_name in plots:
                data = base64.b64encode(Path(plots[plot_name]).read_bytes()).decode()
                images.append(f'<img alt="{html.escape(plot_name)}" src="data:image/png;base64,{data}">')
            else:
                why = skipped.get(plot_name, "not produced")
                parts.append(f"<p class=\"cm-empty\">Plot {html.escape(plot_name)} not shown: {html.escape(why)}.</p>")
    if images:
        parts.append(f"<div class=\"cm-plots\">{''.join(images)}</div>")
    return HTML("\n".join(parts))


def policy(frame: pd.DataFrame):
    """The policy simulation, the current cut-off marked."""
    frame = frame.copy()
    classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
    if "current_policy" in frame:
        classes.loc[frame["current_policy"].astype(bool), :] = "light-green"
        frame["current_policy"] = frame["current_policy"].map(lambda v: "current" if v else "")
    return table(frame.rename(columns={"current_policy": "policy"}), classes=classes.rename(
        columns={"current_policy": "policy"}), formats={"cutoff_grade": "count"})


def skipped(parts: dict):
    """The parts not assessed, with the reason; a sentence when every part was assessed."""
    frame = pd.DataFrame({"part": list(parts), "reason": list(parts.values())})
    return table(frame, empty="Every part was assessed.")


def verdict_badge(verdict: str) -> str:
    """The verdict as a badge (HTML)."""
    return badge(verdict.upper(), verdict)
