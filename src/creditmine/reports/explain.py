"""What the stage 03 report shows, from explain.json and the stage's tables;
`creditmine.explain.result.ExplainResult` calls these."""

from __future__ import annotations

import html

import pandas as pd

from creditmine.reports.glance import panel
from creditmine.reports.tables import HTML, count, number, percent, styler, table, table_html

__all__ = ["at_a_glance", "checks", "methods", "reasons", "sign_check", "stability"]

_VERDICT_CLASS = {"pass": "light-green", "FAIL": "light-red gating", "REVIEW": "light-amber gating", "info": ""}


def checks(summary: dict) -> pd.DataFrame:
    """One row per check of the stage: check, result (a sentence), verdict (pass, REVIEW, FAIL or info)."""
    s = summary
    floor = s["stability_min_spearman"]
    rows = []
    for model, m in s["models"].items():
        error = m["additivity_max_error"]
        rows.append({"check": f"Additivity ({model})",
                     "result": f"largest error {number(error)} log-odds (tolerance {number(s['additivity_tolerance'])})",
                     "verdict": "pass" if error <= s["additivity_tolerance"] else "FAIL"})
    for model, violations in s["sign_check"]["violations"].items():
        judged = s["sign_check"]["judged"][model]
        rows.append({"check": f"Sign check ({model})",
                     "result": f"{len(violations)} of {judged} features against the expected direction"
                               + (f": {', '.join(violations)}" if violations else ""),
                     "verdict": "pass" if not violations else "REVIEW"})
    for model, st in s["stability"].items():
        rho = st["train_vs_oot"]["spearman"]
        rows.append({"check": f"Top-{st['train_vs_oot']['top']} ranking, train vs out-of-time ({model})",
                     "result": (f"Spearman {number(rho, 2)}, {st['train_vs_oot']['overlap']} shared features"
                                if rho is not None else "not computed"),
                     "verdict": "pass" if rho is not None and rho >= floor else "REVIEW"})
        low = [f"{x['by']} {x['segment']}" for x in st["segments"]
               if x["judged"] and (x["spearman"] if x["spearman"] is not None else -1) < floor]
        judged = sum(1 for x in st["segments"] if x["judged"])
        rows.append({"check": f"Ranking per product / industry section ({model})",
                     "result": f"{judged - len(low)} of {judged} segments with Spearman >= {floor:g}"
                               + (f"; low: {', '.join(low)}" if low else ""),
                     "verdict": "pass" if not low else "REVIEW"})
    agreement = s["top_reason_agreement"]
    share = agreement["share"]
    rows.append({"check": "Top reason agrees between the two models",
                 "result": f"{percent(share)} of {count(agreement['applications'])} applications" if share is not None
                 else "not computed", "verdict": "info"})
    rows.append({"check": "Reason statements (EN + ZH)",
                 "result": f"{count(s['reasons']['applications_with_reasons'])} of {count(s['rows_explained'])} "
                           f"out-of-time applications have at least one reason; {count(s['reasons']['rows'])} "
                           "statements per language", "verdict": "info"})
    rows.append({"check": "Chinese text in plots", "result": s["cjk_font_note"],
                 "verdict": "pass" if s["cjk_font"] else "REVIEW"})
    return pd.DataFrame(rows, columns=["check", "result", "verdict"])


def checks_styler(summary: dict):
    """The checks as a Styler, the verdict cells coloured."""
    frame = checks(summary)
    classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
    classes["verdict"] = frame["verdict"].map(_VERDICT_CLASS).fillna("")
    return styler(frame, classes=classes, salt="explain-checks")


def at_a_glance(summary: dict):
    """Whether the explanations can be trusted, and the few figures that say so."""
    frame = checks(summary)
    failed = frame[frame["verdict"] == "FAIL"]
    review = frame[frame["verdict"] == "REVIEW"]
    level, verdict = ("red", "FAIL") if len(failed) else ("amber", "REVIEW") if len(review) else ("green", "PASS")
    primary = summary.get("primary") or next(iter(summary["models"]))
    s = summary
    rho = s["stability"].get(primary, {}).get("train_vs_oot", {}).get("spearman")
    violations = s["sign_check"]["violations"].get(primary, [])
    figures = [
        ("applications explained (out of time)", count(s["rows_explained"])),
        (f"additivity error, {primary}", number(s["models"][primary]["additivity_max_error"]) + " log-odds"),
        (f"features against their direction, {primary}",
         f"{len(violations)} of {s['sign_check']['judged'].get(primary, 0)}"),
        (f"ranking stability train vs out of time, {primary}", number(rho, 2) if rho is not None else "—"),
        ("top reason agrees between models", percent(s["top_reason_agreement"]["share"])),
    ]
    look = [f"<b>{html.escape(r['check'])}</b>: {html.escape(r['result'])}"
            for _, r in pd.concat([failed, review]).iterrows()]
    look.append("<b>Global importance</b> and the <b>beeswarm</b>: do the strongest drivers make credit sense?")
    return panel(f"Explanations of {summary.get('product', '')}", verdict, level, figures, look)


def methods(summary: dict):
    """How each model was explained: algorithm, background, output space, checks."""
    rows = []
    for model, m in summary["models"].items():
        method = m["method"]
        check = m.get("verification", {})
        rows.append({
            "model": model, "algorithm": method.get("algorithm"), "background": method.get("background"),
            "output": method.get("output_space"), "base value (log-odds)": m["base_value"],
            "additivity max error": m["additivity_max_error"],
            "check against shap.TreeExplainer": (
                f"largest |difference| {number(check['max_abs_difference'])} on {count(check['checked_rows'])} rows"
                if "max_abs_difference" in check else check.get("note", "")),
            "reason reference": summary["reasons"]["reference"].get(model, ""),
        })
    return table(pd.DataFrame(rows), formats={"base value (log-odds)": "number", "additivity max error": "number"})


def sign_check(frame: pd.DataFrame):
    """Violations (and features without a clear direction) visible; every row in a collapsed table."""
    frame = frame.copy()
    classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
    bad = ~frame["ok"].astype(bool)
    classes.loc[bad, "status"] = "light-red gating"
    formats = {"correlation": "signed", "expected_direction": lambda v: {1: "↑ riskier", -1: "↓ safer"}.get(v, "·")}
    flagged = frame[bad]
    what = f"{len(flagged)} feature" + ("" if len(flagged) == 1 else "s")
    shown = table_html(flagged, f"Against the expected direction: {what}", formats=formats,
                       classes=classes[bad], empty="No feature pushes the PD against its expected direction.")
    unclear = frame[frame["status"].astype(str).str.contains("no clear", case=False)]
    parts = [shown]
    if len(unclear):
        parts.append(table_html(unclear, f"No clear direction: {len(unclear)} features", formats=formats,
                                collapsed=True))
    parts.append(table_html(frame, f"Every feature of the sign check ({len(frame)})", formats=formats,
                            classes=classes, collapsed=True))
    return HTML("".join(parts))


def stability(frame: pd.DataFrame):
    """Train vs out-of-time rankings visible, the per-segment ones collapsed when long."""
    frame = frame.copy()
    sample = frame[frame["by"] == "sample"]
    segments = frame[frame["by"] != "sample"]
    formats = {"spearman": "number3", "overlap": "count"}
    return HTML(table_html(sample, "Train against out of time", formats=formats)
                + table_html(segments, "Per segment", formats=formats, max_rows=20,
                             empty="No segment large enough to judge."))


def reasons(sample: pd.DataFrame):
    """A few applications' reasons in both languages, in full."""
    return table(sample, formats={"rank": "count"}, max_rows=40)
