"""The run's front page, reports/<run>/index.html, and the summary `creditmine run` ends with.

Both read only the stages' files through `creditmine.artifacts`: the primary model from
models.json, the verdict and its lights from validation.json, the registered version from
registration.json. The review state of a version lives in the MLflow store, which the caller reads
(`states`); without it the state is the one a new registration has, pending.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from creditmine import artifacts
from creditmine.artifacts import STAGES
from creditmine.reports import verdicts
from creditmine.reports.glance import badge
from creditmine.reports.register import next_steps, store_args
from creditmine.reports.render import page
from creditmine.reports.tables import number

__all__ = ["ProductStatus", "product_status", "summary_lines", "write_index"]


@dataclass
class ProductStatus:
    """What the files of one product's run say."""

    product: str
    title: str = ""
    primary: str | None = None
    oot_auc: float | None = None
    verdict: str | None = None
    setting: list[dict] = field(default_factory=list)
    model_name: str | None = None
    version: int | None = None
    state: str | None = None
    reports: dict[str, Path | None] = field(default_factory=dict)

    @property
    def setting_text(self) -> str:
        """'set by Portfolio calibration (binomial test): red, AUC drop: not computed' or
        'every gating test green'."""
        if self.verdict == "green":
            return "every gating test green"
        shown = {"n/a": "not computed"}
        return "set by " + ", ".join(f"{verdicts.test_title(light['test'])}: {shown.get(light['light'], light['light'])}"
                                     for light in self.setting)


def _read(reader, where):
    try:
        return reader(where)
    except (FileNotFoundError, ValueError):
        return None


def product_status(cfg, product: str, state: str | None = None) -> ProductStatus:
    """The status of one product of a run, from its files (missing files leave fields None)."""
    where = artifacts.layout(cfg, product)
    params = cfg.product(product)
    status = ProductStatus(product, title=" ".join(t for t in (params.title_en, params.title_zh) if t))
    meta = _read(artifacts.read_models_meta, where)
    if meta:
        status.primary = meta.get("primary")
    validation = _read(artifacts.read_validation, where)
    if validation:
        status.verdict = validation["verdict"]
        status.primary = validation.get("primary") or status.primary
        status.oot_auc = validation["metrics"].get(f"{status.primary}.oot.auc")
        status.setting = verdicts.setting_tests(status.verdict, validation["lights"])
    elif meta:
        metrics = _read(artifacts.read_train_metrics, where) or {}
        status.oot_auc = metrics.get("auc", {}).get(status.primary, {}).get("oot")
    registration = _read(artifacts.read_registration, where)
    if registration:
        status.model_name, status.version = registration.get("model_name"), registration.get("version")
        status.state = state or "pending"
    for stage in STAGES:
        if stage.per_product:
            html_path = where.report(stage)[1]
            status.reports[stage.name] = html_path if html_path.is_file() else None
    return status


def summary_lines(cfg, products, states: dict[str, str] | None = None) -> list[str]:
    """Per product: primary model, out-of-time AUC, verdict and the gating tests that set it, the
    registered version and its review state, and the next command (never approval of a red one)."""
    states = states or {}
    lines = []
    extra = store_args(cfg)
    for product in products:
        s = product_status(cfg, product, states.get(product))
        parts = [f"{product}:"]
        if s.primary:
            parts.append(f"primary {s.primary}, out-of-time AUC {number(s.oot_auc, 3)};")
        if s.verdict:
            parts.append(f"verdict {s.verdict.upper()}, {s.setting_text};")
        else:
            parts.append("not validated (stage 04 has not run);")
        if s.version is not None:
            parts.append(f"registered {s.model_name} version {s.version}, {s.state}")
        else:
            parts.append("not registered (stage 05 has not run)")
        lines.append(" ".join(parts))
        if s.version is not None:
            for sentence, command in next_steps(s.model_name, s.version, s.verdict or "", s.state or "", extra):
                lines.append(f"  {sentence}" + (f":\n      {command}" if command else "."))
    return lines


def write_index(cfg, products=None, states: dict[str, str] | None = None) -> Path:
    """reports/<run>/index.html: every report of the run, with verdict badges, registered versions
    (and their review `states`, when known) and the next step of each."""
    products = list(products or cfg.products)
    states = states or {}
    where = artifacts.layout(cfg)
    index = where.index_html
    first = [s for s in STAGES if not s.per_product]
    rows = []
    for stage in first:
        report = where.report(stage)[1]
        rows.append(_row("all products", f"{stage.number} {stage.title}", report, index.parent,
                         badge("ran", "info") if report.is_file() else badge("not run", "info")))
    sections = []
    extra = store_args(cfg)
    for product in products:
        s = product_status(cfg, product, states.get(product))
        verdict = (f"<span data-verdict=\"{s.verdict}\">{badge(s.verdict.upper(), s.verdict)}</span>" if s.verdict
                   else badge("not validated", "info"))
        facts = []
        if s.primary:
            facts.append(f"primary model {html.escape(s.primary)}, out-of-time AUC {number(s.oot_auc, 3)}")
        if s.verdict:
            facts.append(f"verdict {s.verdict.upper()}, {html.escape(s.setting_text)}")
        facts.append(f"registered as {html.escape(str(s.model_name))} version {s.version}, {html.escape(str(s.state))}"
                     if s.version is not None else "not registered")
        links = " · ".join(f"<a href=\"{html.escape(product)}/{st.name}.html\">{st.number} {st.title}</a>"
                           for st in STAGES if st.per_product and s.reports.get(st.name))
        steps = ""
        if s.version is not None:
            items = "".join(f"<li>{html.escape(sentence)}" + (f": <code class=\"cm-command\">{html.escape(command)}</code>"
                                                              if command else ".") + "</li>"
                            for sentence, command in next_steps(s.model_name, s.version, s.verdict or "",
                                                                s.state or "", extra))
            steps = f"<div class=\"cm-look\"><b>Next</b><ul>{items}</ul></div>"
        sections.append(
            f"<section class=\"cm-glance cm-glance-{s.verdict or 'info'}\"><div class=\"cm-verdict\">{verdict}"
            f"<span class=\"cm-verdict-title\">{html.escape(product)}"
            f"{' · ' + html.escape(s.title) if s.title else ''}</span></div>"
            f"<p>{'; '.join(facts)}.</p><p>Reports: {links or 'none yet'}</p>{steps}</section>")
        for stage in (st for st in STAGES if st.per_product):
            report = s.reports.get(stage.name)
            if stage.name.startswith("04") and s.verdict:
                mark = badge(s.verdict.upper(), s.verdict)
            elif stage.name.startswith("05") and s.version is not None:
                mark = badge(f"version {s.version}", "info")
            elif stage.name.startswith("02") and s.primary:
                mark = badge(f"AUC {number(s.oot_auc, 3)}", "info")
            else:
                mark = badge("ran" if report else "not run", "info")
            rows.append(_row(product, f"{stage.number} {stage.title}", report or where.report(stage)[1], index.parent,
                             mark, exists=report is not None))
    table = ("<table class=\"cm-table cm-index\"><thead><tr><th>product</th><th>report</th><th>result</th></tr>"
             f"</thead><tbody>{''.join(rows)}</tbody></table>")
    params = cfg.params_path.resolve()
    try:
        params_text = params.relative_to(cfg.root).as_posix()
    except ValueError:
        params_text = params.as_posix()
    features = where.report(first[0])[1] if first else None
    shared = (f"<a href=\"{features.name}\">{first[0].number} {first[0].title}</a>" if features and features.is_file()
              else "not run yet")
    body = (f"<h1>Run {html.escape(cfg.run_name)}: reports</h1>"
            f"<p>Params <code>{html.escape(params_text)}</code>; products {html.escape(', '.join(products))}. "
            "Each report opens with its verdict and what to look at.</p>"
            f"<p>The feature table every product is built on: {shared}.</p>"
            + "".join(sections) + "<h2>Every report</h2>" + table)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(page(f"creditmine · {cfg.run_name}", body, f"run {html.escape(cfg.run_name)}"), encoding="utf-8")
    return index


def _row(product: str, stage: str, report: Path, base: Path, mark: str, exists: bool | None = None) -> str:
    exists = report.is_file() if exists is None else exists
    href = report.relative_to(base).as_posix() if report.is_relative_to(base) else report.as_uri()
    link = f"<a href=\"{html.escape(href)}\">{html.escape(stage)}</a>" if exists else html.escape(stage)
    return f"<tr><td>{html.escape(product)}</td><td>{link}</td><td>{mark}</td></tr>"
