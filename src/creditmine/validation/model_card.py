"""The model card (Mitchell et al. 2019, "Model Cards for Model Reporting"), as Markdown and HTML.

One structure, two renderings: `model_card_sections` gathers the card's content from the
validation results, `to_markdown` and `to_html` render it; the HTML is self-contained (no scripts,
inline style) and escapes every value.
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["CardSection", "card_facts", "card_text", "model_card_sections", "to_html", "to_markdown"]

_LIGHT_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "n/a": "#9e9e9e"}


@dataclass(frozen=True)
class CardSection:
    """A heading with paragraphs, bullet items and an optional table (header row + rows)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()
    extra: dict = field(default_factory=dict)


def model_card_sections(card: dict) -> list[CardSection]:
    """The sections of a model card from a dict of facts.

    Keys used: model_name, product, product_title, verdict, owner, intended_use, out_of_scope,
    application_products (list), data_window (str), splits (dict split -> (n, defaults)),
    primary, challenger, features (list), metrics (rows of model, split, auc, auc_ci, gini, ks),
    lights (list of light dicts), limitations (list), ethical (list), skipped (dict test -> reason),
    calibration (rows of component, value: the central tendency and the margin of conservatism).
    Missing keys give an explicit "not stated".
    """
    def get(key, default="not stated"):
        value = card.get(key)
        return default if value in (None, "", [], {}) else value

    sections = [
        CardSection("Model details", items=(
            f"Model: {get('model_name')}",
            f"Product: {get('product')} ({get('product_title', '')})",
            f"Primary model: {get('primary')}; challenger: {get('challenger')}",
            f"Owner: {get('owner')}",
            f"Validation verdict: {str(get('verdict')).upper()}",
        )),
        CardSection("Intended use", paragraphs=(str(get("intended_use")),),
                    items=tuple(f"Out of scope: {x}" for x in card.get("out_of_scope", []))),
        CardSection("Products", items=tuple(card.get("application_products") or ["every application of the data set"])),
        CardSection("Data", paragraphs=(f"Data window: {get('data_window')}",),
                    table=(("split", "applications", "defaults"),
                           *((name, str(n), str(d)) for name, (n, d) in (card.get("splits") or {}).items()))),
        CardSection("Calibration and margin of conservatism", paragraphs=(
            "The PD map is fitted on the holdout and is increasing by construction; the central tendency "
            "is then set by a shift of the log-odds intercept, which keeps the ranking (EBA GL/2017/16: the "
            "long-run average default rate plus a margin of conservatism, categories A, B and C).",)
            if card.get("calibration") else ("not stated",),
                    table=(("component", "value"), *card.get("calibration", []))),
        CardSection("Features", paragraphs=(
            f"{len(card.get('features') or [])} features used by the primary model: "
            + (", ".join(card.get("features") or []) or "not stated") + ".",)),
        CardSection("Metrics", table=(("model", "split", "AUC", "AUC 95% CI", "Gini", "KS"),
                                      *(tuple(_fmt(r.get(k)) for k in ("model", "split", "auc", "auc_ci", "gini", "ks"))
                                        for r in card.get("metrics", [])))),
        CardSection("Validation lights", table=(("test", "value", "light", "gating"),
                                                *((l["test"], _fmt(l.get("value")), l["light"], "yes" if l["gating"] else "")
                                                  for l in card.get("lights", [])))),
        CardSection("Limitations", items=tuple(card.get("limitations") or ["not stated"])
                    + tuple(f"Not assessed: {k} ({v})" for k, v in (card.get("skipped") or {}).items())),
        CardSection("Ethical considerations", items=tuple(card.get("ethical") or ["not stated"])),
    ]
    return sections


@functools.cache
def card_text() -> dict:
    """The card's standing prose (owner, intended use, limitations, ethics) from model_card.yaml."""
    return yaml.safe_load(Path(__file__).with_name("model_card.yaml").read_text(encoding="utf-8"))


def card_facts(inputs, lights, verdict: str, discrimination, segments, skipped: dict, facts: dict) -> dict:
    """The facts of one version's card: its data window, splits, metrics, lights and limitations.

    Parameters
    ----------
    inputs : the `ValidationInputs` validated.
    lights, verdict : the lit tests and the verdict.
    discrimination, segments : the sections' tables of that name (empty DataFrames when absent).
    skipped : part -> why it was not assessed.
    facts : product_title, application_products, run_name, params_file.
    """
    from creditmine.artifacts import ALL_SPLITS, SPLIT_UNLABELLED

    text = card_text()
    frame = inputs.frame
    if inputs.has_dates:
        window = f"applications {frame['applied_at'].min():%Y-%m-%d} to {frame['applied_at'].max():%Y-%m-%d}"
        if inputs.train_end and inputs.oot_start:
            window += f"; development up to {inputs.train_end}, out-of-time from {inputs.oot_start}"
    else:
        window = text["no_dates_window"]
    splits = {s: (int((frame["split"] == s).sum()),
                  int(frame.loc[frame["split"] == s, "default_12m"].sum()) if s != SPLIT_UNLABELLED else "no outcome yet")
              for s in ALL_SPLITS}
    metric_rows = [{"model": r["model"], "split": r["split"], "auc": r["auc"],
                    "auc_ci": (r["auc_low"], r["auc_high"]), "gini": r["gini"], "ks": r["ks"]}
                   for _, r in discrimination.iterrows()]
    limitations = _limitations(text, inputs)
    red = [light.test for light in lights if light.light == "red"]
    if red:
        limitations.append(f"Red lights: {', '.join(red)}.")
    if len(segments) and (~segments["judged"]).any():
        limitations.append(f"{int((~segments['judged']).sum())} segments are too small to judge.")
    government = inputs.data_source in ("synthetic", "files")
    population = inputs.population or text["population"].get(inputs.data_source, "the applicants of the data set")
    return {
        "model_name": f"creditmine-{inputs.product}", "product": inputs.product, "verdict": verdict,
        "owner": text["owner"], "intended_use": text["intended_use"].format(population=population.strip()),
        "out_of_scope": [*(text["out_of_scope"]["government_data"] if government else []),
                         *text["out_of_scope"]["common"]],
        "data_window": window, "splits": splits, "primary": inputs.primary, "challenger": inputs.challenger,
        "features": list(inputs.model_features), "metrics": metric_rows,
        "lights": [light.to_dict() for light in lights], "limitations": limitations,
        "ethical": [*text["ethical"]["government_data" if government else "tabular"], *text["ethical"]["common"]],
        "skipped": skipped, "calibration": calibration_rows(inputs), **facts,
    }


def calibration_rows(inputs) -> list[tuple[str, str]]:
    """The primary model's central tendency and margin of conservatism, component by component."""
    found = (inputs.training.get("central_tendency") or {}).get(inputs.primary) or {}
    if not found:
        return []
    moc = found.get("margin_of_conservatism") or {}
    rows = [
        ("target", str(found.get("target"))),
        ("long-run average default rate", f"{found['long_run_default_rate']:.4%} ({found.get('long_run_source', '')})"),
        ("MoC category A (data and methods)", f"{moc.get('category_a', 0.0):+.2%}"),
        ("MoC category B (changes in standards or environment)", f"{moc.get('category_b', 0.0):+.2%}"),
        ("MoC category C (general estimation error)",
         f"{moc.get('category_c', 0.0):+.2%} ({moc.get('category_c_source', 'given')})"),
        ("final add-on (A + B + C)", f"{moc.get('add_on', 0.0):+.2%}"),
        ("target mean PD of the current portfolio", f"{found['target_mean_pd']:.4%}"),
        ("current portfolio", f"{found.get('anchor_applications', found.get('population'))} "
                              f"{found.get('anchor_population', 'applications')}"),
        ("mean PD before and after", f"{found['population_mean_pd_before']:.4%} -> {found['population_mean_pd_after']:.4%}"),
        ("log-odds shift (keeps the ranking)", f"{found['log_odds_shift']:+.4f}"),
    ]
    note = (inputs.training.get("calibration_notes") or {}).get(inputs.primary)
    if note:
        rows.append(("calibration note", note))
    return rows


def _limitations(text: dict, inputs) -> list[str]:
    said = text["limitations"]
    inference = (inputs.training.get("reject_inference") or {}).get(inputs.primary) or {}
    if inputs.data_source == "tabular":
        out = [said["no_bookings"]]
    elif inference.get("method", "none") == "none":
        out = [said["reject_inference_none"]]
    else:
        out = [said["reject_inference_applied"].format(method=inference["method"].replace("_", " "),
                                                        rejects=inference.get("rejects", "the"))]
    out += list(said["common"])
    merged = (inputs.training.get("master_scale_notes") or {}).get(inputs.primary)
    if merged:
        out.append(merged[0].upper() + merged[1:] + ".")
    if inputs.data_source == "synthetic":
        out += list(said["synthetic"])
    return out


def to_markdown(title: str, sections: list[CardSection]) -> str:
    """The card as GitHub-flavoured Markdown."""
    lines = [f"# {title}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        lines += [*(p for p in section.paragraphs), ""] if section.paragraphs else []
        lines += [*(f"- {item}" for item in section.items), ""] if section.items else []
        if section.table and len(section.table) > 1:
            header, *rows = section.table
            lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_html(title: str, sections: list[CardSection], verdict: str | None = None) -> str:
    """The card as one self-contained HTML page; the verdict as a coloured banner on top."""
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    if verdict:
        colour = _LIGHT_COLOURS.get(verdict, "#9e9e9e")
        body.append(f'<p class="verdict" style="background:{colour}">Verdict: {e(verdict.upper())}</p>')
    for section in sections:
        body.append(f"<h2>{e(section.title)}</h2>")
        body += [f"<p>{e(p)}</p>" for p in section.paragraphs]
        if section.items:
            body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in section.items) + "</ul>")
        if section.table and len(section.table) > 1:
            header, *rows = section.table
            cells = "".join(f"<th>{e(h)}</th>" for h in header)
            body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>")
            for row in rows:
                body.append("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>")
            body.append("</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
             ".verdict{color:white;font-size:1.4em;padding:.4em .8em;display:inline-block}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        from creditmine.reports.tables import number

        if not math.isfinite(value):
            return ""
        text = f"{value:.4g}"
        return number(value, 4) if "e" in text else text   # never e-notation: "3.5 × 10⁻¹¹", "12,346"
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"{_fmt(value[0])} - {_fmt(value[1])}"
    return str(value)


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _html_cell(value: str) -> str:
    colour = _LIGHT_COLOURS.get(value)
    style = f' style="background:{colour};color:white"' if colour else ""
    return f"<td{style}>{html.escape(str(value))}</td>"
