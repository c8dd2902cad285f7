"""What the stage 05 report shows, and the next step for a registered version.

Works on plain data: the version's name, number and tags, the review summary of
`creditmine review show` (a dict) and the manifest table; `next_steps` is shared with the
`creditmine run` summary so that the report and the terminal say the same thing. A version whose
verdict is red is never proposed for approval.
"""

from __future__ import annotations

import html
import shlex

import pandas as pd

from creditmine.reports import verdicts
from creditmine.reports.glance import panel
from creditmine.reports.tables import HTML, count, number, percent, pvalue, table, table_html

__all__ = ["at_a_glance", "comparison", "comparison_facts", "lit_tests", "manifest", "next_steps", "review_state",
           "store_args", "tags"]

_LEVEL = {"green": "green", "amber": "amber", "red": "red"}


def store_args(cfg) -> str:
    """`--params FILE` when a RunConfig's params name the MLflow store (the review commands need it then)."""
    if cfg is None or not cfg.params.mlflow.tracking_uri:
        return ""
    return f"--params {shlex.quote(str(cfg.params_path))}"


def next_steps(model: str, version, verdict: str, state: str, params_args: str = "") -> list[tuple[str, str]]:
    """What to do with a registered version: (sentence, command) pairs, the command possibly empty.

    Parameters
    ----------
    model, version : the registered version.
    verdict : its validation verdict (green, amber, red).
    state : its review state (pending, approved, rejected, ...).
    params_args : extra arguments naming the store, e.g. "--params params/team.yaml".
    """
    extra = f" {params_args}" if params_args else ""
    ref = f"{shlex.quote(model)} {version}"
    show = ("Review it: verdict, lights, comparison with the champion, review pack",
            f"creditmine review show {ref}{extra}")
    if state == "pending" and verdict == "red":
        return [
            ("It cannot be approved: a red validation verdict is refused. Fix what set it (see stage 04) "
             "and run the pipeline again", ""),
            show,
            ("Or a validator closes it", f"creditmine review reject {ref} --comment \"red verdict\"{extra}"),
        ]
    if state == "pending":
        return [
            show,
            ("A validator other than its developer approves it (or rejects it), acting as themselves "
             "(their own OS account, or their team-server account)",
             f"creditmine review approve {ref} --comment TEXT{extra}"),
        ]
    if state == "approved":
        return [("Approved: a validator may make it the champion",
                 f"creditmine review promote {ref}{extra}")]
    return [(f"Its review state is {state or 'unknown'}: nothing more to do for it", "")]


def next_steps_html(steps: list[tuple[str, str]]) -> str:
    items = []
    for sentence, command in steps:
        code = f"<br><code class=\"cm-command\">{html.escape(command)}</code>" if command else ""
        items.append(f"<li>{html.escape(sentence)}{':' if command else '.'}{code}</li>")
    return f"<div class=\"cm-why\"><b>Next</b><ul>{''.join(items)}</ul></div>"


def review_state(version_tags: dict, review: dict) -> tuple[str, str]:
    """(verdict, state) from what the signed audit trail records (the review summary), the
    editable tags only as a fallback."""
    verdict = (review.get("verdict") or version_tags.get("validation_verdict") or "unknown").lower()
    state = review.get("state") or version_tags.get("review_state") or "unknown"
    return verdict, state


def at_a_glance(name: str, version, version_tags: dict, review: dict, manifest_rows: int, params_args: str = "",
                gating=()):
    """The registered version, its review state and verdict, and what comes next; `gating` (the
    params' gating tests) tells the red tests that set the verdict from the others."""
    verdict, state = review_state(version_tags, review)
    level = _LEVEL.get(verdict, "info")
    if verdict == "red":
        headline = f"registered, {state}: cannot be approved (red verdict)"
    else:
        headline = f"registered, {state} review"
    champion = review.get("comparison", {}).get("champion")
    figures = [
        ("registered model", f"{name} version {version}"),
        ("review state", state),
        ("validation verdict", verdict.upper()),
        ("developer", review.get("developer") or version_tags.get("developer", "")),
        ("champion to compare with", f"version {champion}" if champion is not None else "none yet"),
        ("artifacts in the manifest", count(manifest_rows)),
    ]
    lights = review.get("lights", {})
    reds = [t for t, light in lights.items() if light == "red"]
    gates = [t for t in reds if t in set(gating)]
    look = ["The <b>lit tests</b> below: what the validator sees first (gating tests set the verdict)."]
    if gates:
        look.append("Red and gating, so the verdict is red: " +
                    html.escape(", ".join(verdicts.test_title(t) for t in gates)) + ".")
    if [t for t in reds if t not in gates]:
        look.append(("Red but not gating: " if gating else "Red tests: ") +
                    html.escape(", ".join(verdicts.test_title(t) for t in reds if t not in gates)) + ".")
    explanation = next_steps_html(next_steps(name, version, verdict, state, params_args))
    return panel(f"Registration of {version_tags.get('product', name)}", headline, level, figures, look, explanation)


def tags(version_tags: dict):
    """The version's tags, one row each, values in full."""
    frame = pd.DataFrame({"tag": list(version_tags), "value": [str(v) for v in version_tags.values()]})
    return table(frame.sort_values("tag", ignore_index=True), formats={"value": "text"}, max_rows=40)


def lit_tests(review: dict, gating=()):
    """The tests with a light visible (gating ones first, solid; the others outlined); every other
    metric of the run collapsed."""
    frame = pd.DataFrame(review.get("metrics", []), columns=["metric", "value", "light"])
    tested = frame["metric"].astype(str).str.startswith("light.")
    lit = frame[tested].copy()
    names = lit["metric"].str.removeprefix("light.")
    lit["gates the verdict"] = names.isin(list(gating)).map({True: "yes", False: "no"})
    lit["test"] = names.map(verdicts.test_title)
    lit = lit.sort_values("gates the verdict", ascending=False, kind="stable")
    lit["value"] = [pvalue(v) if m.endswith("pvalue") else number(v) for m, v in zip(lit["metric"], lit["value"])]
    lit = lit[["test", "metric", "gates the verdict", "value", "light"]].reset_index(drop=True)
    classes = pd.DataFrame("", index=lit.index, columns=lit.columns)
    gate = (lit["gates the verdict"] == "yes").map({True: " gating", False: ""})
    classes["light"] = "light-" + lit["light"].astype(str).str.replace("/", "") + gate
    classes["test"] = classes["light"]
    classes["value"] = "num"
    rest = frame[~tested].drop(columns="light")
    return HTML(table_html(lit, f"Tests with a light: {len(lit)}", classes=classes, max_rows=40,
                           formats={"value": "text"}, empty="No test has a light.")
                + table_html(rest, f"Every other metric of the run ({len(rest)})", formats={"value": "number"},
                             collapsed=True, empty="No other metric."))


def comparison(review: dict, model: str = ""):
    """Metric deltas against the current champion, or why there is nothing to compare."""
    found = review.get("comparison", {})
    rows = pd.DataFrame(found.get("metrics", []), columns=["metric", "candidate", "champion", "delta"])
    note = found.get("note") or (f"{model} has no champion yet" if found.get("champion") is None else "")
    return table(rows, formats={"candidate": "number", "champion": "number", "delta": "signed"},
                 empty=f"Nothing to compare: {note}." if note else "Nothing to compare.", max_rows=25)


def comparison_facts(review: dict):
    """The champion comparison's figures (PSI, swap set) and the path of the review pack."""
    found = review.get("comparison", {})
    rows = [("champion", f"version {found['champion']}" if found.get("champion") is not None else "none yet")]
    if found.get("note") and found.get("champion") is not None:
        rows.append(("note", found["note"]))
    if "n_common" in found:
        rows.append(("applications scored by both", count(found["n_common"])))
    if "psi" in found:
        rows.append(("PSI of the scores, champion vs candidate", number(found["psi"], 3)))
    if "swap_share" in found:
        rows.append(("decisions that would change (swap set)",
                     f"{percent(found['swap_share'])}: {count(found.get('swap_in'))} in, "
                     f"{count(found.get('swap_out'))} out"))
    rows.append(("review pack (offline HTML)", review.get("review_pack", "")))
    return table(pd.DataFrame(rows, columns=["what", "value"]), formats={"value": "text"})


def manifest(frame: pd.DataFrame):
    """Files per group visible; every file with its SHA-256 in a collapsed table."""
    groups = frame.groupby("group", sort=True).size().rename("files").reset_index()
    return HTML(table_html(groups, f"{len(frame):,} files in {len(groups)} groups", formats={"files": "count"})
                + table_html(frame, "Every file and its SHA-256", formats={"sha256": "text"}, collapsed=True))
