"""Stage 06: monitoring of a registered version after go-live, at one as-of date.

`run(cfg, product, as_of, model_uri=None, outcomes=None)` reads the version's decisions from the
decision store (up to `as_of`), its development sample (`creditmine.monitoring.reference`) and,
when given, the outcomes file; runs the sections (`creditmine.monitoring.sections`); lights the
tests from `monitoring.thresholds`; and

- writes `runs/monitor/<product>/<as_of>/` (monitor.json, plots/, tables/, outcomes_rejected.csv);
- logs the as-of date's figures to the version's monitoring run in MLflow (experiment of the
  version's run, run `monitor-<model>-v<version>`, tag `creditmine.monitors=<model>/<version>`),
  at step year * 12 + month - 1 and the as-of date's time, so the UI plots them over time;
- records the verdict in the audit trail (`ReviewService.record_monitoring`): a signed `monitor`
  entry, the version's tag `monitoring_verdict`; with `monitoring.red_blocks_decisions` a red
  verdict stops the version deciding (the gate reads the entry).

The verdict is the worst light of the gating tests (`monitoring.gating`) that could be judged; a
gating test without data yet (no matured vintage, too few decisions) is n/a and does not count,
and a month with too few decisions to judge anything is amber.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pandas as pd

from creditmine import artifacts
from creditmine.monitoring.result import MonitorResult
from creditmine.validation.lights import evaluate_lights

__all__ = ["champion_uri", "product_of", "run"]

_RANK = {"green": 0, "amber": 1, "red": 2}


def champion_uri(cfg, product: str) -> str:
    from creditmine.registry.states import model_name

    return f"models:/{model_name(cfg, product)}@champion"


def product_of(cfg, model: str) -> str:
    """The product a registered model name belongs to (`<mlflow.model_prefix>-<product>`)."""
    prefix = f"{cfg.params.mlflow.model_prefix}-"
    product = model[len(prefix):] if model.startswith(prefix) else model
    cfg.product(product)
    return product


def run(cfg, product: str, as_of: str | date, model_uri: str | None = None, outcomes: str | Path | None = None,
        progress: bool = True, record: bool = True, figures: bool = True) -> MonitorResult:
    """Stage 06 for one version of `product` at `as_of` (see the module's description).

    Parameters
    ----------
    cfg : RunConfig (its `monitoring` section, `validation.psi_bins`, the tracking store).
    product : the product of the monitored version.
    as_of : YYYY-MM-DD; decisions and outcomes after it are not known.
    model_uri : ``models:/<name>@champion`` or ``models:/<name>/<version>``; the product's champion by default.
    outcomes : the outcomes file (`creditmine.monitoring.outcomes`), or None before any.
    progress : show a tqdm bar over the steps.
    record : record the verdict in the audit trail (the monitor run of `creditmine monitor` does;
        a developer re-running the notebook may not want to).
    figures : draw the plots (the report does; a caller that only needs the figures may skip them).
    """
    from tqdm.auto import tqdm

    from creditmine.decision.score import resolve_model
    from creditmine.monitoring import sections as sec
    from creditmine.monitoring.estimates import loan_book
    from creditmine.monitoring.outcomes import read_outcomes
    from creditmine.monitoring.reference import load_reference
    from creditmine.monitoring.store import open_store
    from creditmine.reports.style import apply_style

    apply_style()
    as_of = pd.Timestamp(as_of).date()
    settings = cfg.params.monitoring
    uri = cfg.tracking_uri
    ref_model = resolve_model(model_uri or champion_uri(cfg, product), uri)
    steps = tqdm(total=6, desc=f"monitoring {ref_model.name} v{ref_model.version} {as_of}", disable=not progress)
    reference = load_reference(uri, ref_model.name, ref_model.version, product, settings.reference_splits,
                               cfg.product(product).application_products)
    steps.update()
    log = open_store(uri).read(ref_model.name, ref_model.version, until=as_of)
    if len(log):
        applied = pd.to_datetime(log.decisions["applied_at"])
        decided = pd.to_datetime(log.decisions["decided_at"]).dt.tz_convert(None).dt.normalize()
        log = log.subset((applied.fillna(decided) <= pd.Timestamp(as_of)).to_numpy())
    steps.update()
    where = artifacts.monitor_layout(cfg, product, as_of)
    book, read, outcome_note = None, None, "none given"
    if outcomes is not None:
        read = read_outcomes(outcomes, as_of, log.decisions["application_id"])
        where.folder.mkdir(parents=True, exist_ok=True)
        read.rejected.to_csv(where.rejected_outcomes, index=False, encoding="utf-8-sig")
        scored = log.decisions[["application_id", "pd", "grade", "score"]].drop_duplicates("application_id", keep="last")
        loans = read.loans.merge(scored, on="application_id", how="left", validate="one_to_one")
        book = loan_book(loans, as_of, settings.maturity_months)
        outcome_note = read.summary()
    steps.update()
    inputs = sec.MonitorInputs(reference, log, as_of, settings, cfg.params.validation.psi_bins, book, read,
                               cfg.params.seed, figures)
    found = {name: section(inputs) for name, section in sec.sections().items()}
    steps.update()
    values, notes, metrics, tables, figures, skipped = {}, {}, {}, {}, {}, {}
    for name, part in found.items():
        values.update(part.values)
        notes.update(part.notes)
        metrics.update(part.metrics)
        tables.update(part.tables)
        figures.update(part.figures)
        skipped.update(part.skipped)
    lights = evaluate_lights(values, settings, notes)
    verdict, why = monitoring_verdict(lights, inputs)
    for light in lights:
        if light.value is not None and math.isfinite(light.value):
            metrics[light.test] = float(light.value)
    facts = {
        "month": str(inputs.month), "decisions_in_month": int(inputs.in_month().sum()) if len(log) else 0,
        "decisions": len(log), "first_month": str(min(inputs.months)) if inputs.months else "-",
        "reference_rows": len(reference.sample), "reference_splits": ", ".join(reference.splits),
        "outcomes": outcome_note, "gating": list(settings.gating), "development_auc": reference.development_auc,
        "features_path": str(reference.features_path),
    }
    result = MonitorResult(product, ref_model.name, ref_model.version, str(as_of), verdict, lights, metrics, why,
                           tables, {}, skipped, facts, None, where.folder)
    _write(where, result, figures, read)
    steps.update()
    run_id = log_to_mlflow(cfg, reference, as_of, result, where)
    if record:
        from creditmine.governance.review import actions

        details = {
            "as_of": str(as_of), "blocks_decisions": settings.red_blocks_decisions, "why": why[:10],
            "lights": {light.test: light.light for light in lights}, "monitoring_run": run_id,
            "report": str(where.report[1]), "decisions": len(log),
        }
        result.trail_entry = actions(uri, cfg.params.mlflow).record_monitoring(
            ref_model.name, ref_model.version, verdict, details, f"monitoring as of {as_of}: {verdict}")
        _write_summary(where, result)
    steps.update()
    steps.close()
    return result


def monitoring_verdict(lights, inputs) -> tuple[str, list[str]]:
    """(verdict, why): the worst judged gating light, and one line per gating test that is not green."""
    gating = [light for light in lights if light.gating and light.light != "n/a"]
    if not gating:
        return "amber", [f"nothing could be judged as of {inputs.as_of}: "
                         + (next((light.note for light in lights if light.gating and light.note), "no data"))]
    worst = max(gating, key=lambda light: _RANK[light.light]).light
    why = []
    for light in sorted(gating, key=lambda light: -_RANK[light.light]):
        if light.light == "green":
            continue
        rule = light.threshold
        sign = ">=" if rule.get("higher_is_better") else "<"
        why.append(f"{light.test} is {light.light}: {light.value:.4g} (green {sign} {rule.get('green'):g}, "
                   f"amber {sign} {rule.get('amber'):g}); {light.note}")
    return worst, why


def _write(where, result: MonitorResult, figures: dict, outcomes) -> None:
    where.plots.mkdir(parents=True, exist_ok=True)
    where.tables.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        path = where.plots / f"{name}.png"
        figure.savefig(path)
        result.plots[name] = path
    for name, table in result.tables.items():
        table.to_csv(where.tables / f"{name}.csv", index=False)
    _write_summary(where, result)


def _write_summary(where, result: MonitorResult) -> None:
    document = {
        "product": result.product, "model": result.model, "version": result.version, "as_of": result.as_of,
        "verdict": result.verdict, "why": result.why, "lights": [light.to_dict() for light in result.lights],
        "metrics": {k: (v if math.isfinite(v) else None) for k, v in sorted(result.metrics.items())},
        "skipped": result.skipped, "facts": result.facts,
        "trail_entry": {k: result.trail_entry[k] for k in ("seq", "actor", "hash")} if result.trail_entry else None,
    }
    where.summary.write_text(json.dumps(document, indent=1, default=str, ensure_ascii=False) + "\n", encoding="utf-8")


def month_step(as_of: date) -> int:
    """The MLflow step of an as-of date: year * 12 + month - 1 (one step a month)."""
    return as_of.year * 12 + as_of.month - 1


def log_to_mlflow(cfg, reference, as_of: date, result: MonitorResult, where) -> str:
    """Log the as-of date's figures to the version's monitoring run (created on first use)."""
    from mlflow.entities import Metric, RunTag

    from creditmine.registry.store import connect, with_retries

    settings = cfg.params.mlflow
    client = connect(cfg.tracking_uri, settings)
    version_run = client.get_run(reference.run_id)
    experiment = version_run.info.experiment_id
    key = f"{reference.model}/{reference.version}"
    found = client.search_runs([experiment], filter_string=f"tags.`creditmine.monitors` = '{key}'", max_results=1)
    if found:
        run_id = found[0].info.run_id
    else:
        run = with_retries(lambda: client.create_run(experiment, run_name=f"monitor-{reference.model}-v{reference.version}",
                                                     tags={"creditmine.monitors": key, "product": reference.product,
                                                           "monitored_run": reference.run_id}), settings)
        run_id = run.info.run_id
    stamp = int(pd.Timestamp(as_of).tz_localize("UTC").timestamp() * 1000)
    step = month_step(as_of)
    wanted = {k: v for k, v in result.metrics.items()
              if math.isfinite(v) and not k.startswith("psi_score.")}
    wanted["verdict_rank"] = float(_RANK[result.verdict])
    items = [Metric(k, float(v), stamp, step) for k, v in sorted(wanted.items())]
    for start in range(0, len(items), 100):
        with_retries(lambda s=start: client.log_batch(run_id, metrics=items[s:s + 100]), settings)
    tags = [RunTag("monitoring_verdict", result.verdict), RunTag("monitoring_as_of", str(as_of))]
    with_retries(lambda: client.log_batch(run_id, tags=tags), settings)
    client.log_artifact(run_id, str(where.summary), artifact_path=f"as_of/{as_of}")
    with_retries(lambda: client.set_terminated(run_id, "FINISHED"), settings)
    return run_id
