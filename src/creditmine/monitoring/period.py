"""The production period of the synthetic world, month by month: the champion decides, loans are
booked, outcomes mature, and stage 06 monitors each month (`make monitor`, `creditmine monitor-period`).

For each month of `monitoring.production` (after `data.synthetic.end`):

1. the deployment gate is asked whether the champion may decide (a red monitoring verdict with
   `monitoring.red_blocks_decisions` stops it: that month's applications are not decided, and the
   period says so);
2. the month's applications of the product (`creditmine.data.synthetic_production`) are decided by
   the champion through its pyfunc, so every decision goes to the decision log;
3. the approved applications are booked on their application date, and the outcomes file as known
   at the month's end is written (`<outputs>/<product>/production/outcomes/<as_of>.csv`: every
   loan booked so far, a default date only once it has passed);
4. stage 06 runs on the month's end with that file (its report, its MLflow figures, its trail entry).

Months already in the decision log of the version are not decided again: a second run picks up
where the first stopped and monitors again. Decisions of another scenario in the same decision store
are refused (name another store with CREDITMINE_DECISION_STORE). Finally the trend report
(`reports/monitor/<product>/trend.html`) puts every month's verdict and figures side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PeriodResult", "simulate", "with_scenario"]


@dataclass
class PeriodResult:
    """What a production period produced: one row per month (as_of, decided, blocked, verdict,
    report) and the trend report."""

    months: pd.DataFrame
    trend_report: Path | None = None
    notes: list[str] = field(default_factory=list)


def with_scenario(cfg, scenario: str | None = None, drift_start: str | None = None):
    """The configuration with another drift scenario (and start) of the production period."""
    if scenario is None and drift_start is None:
        return cfg
    production = cfg.params.monitoring.production
    update = {k: v for k, v in (("scenario", scenario), ("drift_start", drift_start)) if v is not None}
    production = type(production).model_validate({**production.model_dump(), **update})
    monitoring = cfg.params.monitoring.model_copy(update={"production": production})
    return replace(cfg, params=cfg.params.model_copy(update={"monitoring": monitoring}))


def simulate(cfg, product: str, progress: bool = True, report: bool = True, record: bool = True,
             months: int | None = None, log=print) -> PeriodResult:
    """Run the production period of `product` month by month (see the module's description).

    Parameters
    ----------
    cfg : RunConfig of the synthetic world (its monitoring.production section).
    product : the product whose champion decides.
    report : render each month's report through the stage 06 notebook (papermill); else run the
        stage in this process.
    record : record each month's verdict in the audit trail.
    months : only the first `months` months of the period.
    """
    from tqdm.auto import tqdm

    from creditmine.data.synthetic_production import production_months, production_sample
    from creditmine.decision.score import load_decision_model, resolve_model, tracking_store
    from creditmine.monitoring.stage import champion_uri
    from creditmine.monitoring.store import open_store
    from creditmine.registry.gate import DeploymentRefused, check_deployable

    uri = cfg.tracking_uri
    champion = resolve_model(champion_uri(cfg, product), uri)
    sample = production_sample(cfg, product, progress=progress)
    store = open_store(uri)
    folder = cfg.resolve(cfg.params.monitoring.outputs_dir) / product / "production"
    folder.mkdir(parents=True, exist_ok=True)
    _same_scenario(folder, cfg, champion, store)
    periods = production_months(cfg)[: months or None]
    decided_months = set(store.read(champion.name, champion.version).decisions["month"].astype(str))
    applied = pd.to_datetime(sample.rows["applied_at"])
    model = None
    rows = []
    notes = []
    bar = tqdm(periods, desc=f"production {champion.name} v{champion.version}", unit="month", disable=not progress)
    for month in bar:
        as_of = month.end_time.date()
        bar.set_postfix_str(str(month))
        in_month = ((applied >= month.start_time) & (applied <= month.end_time)).to_numpy()
        blocked = ""
        if str(month) not in decided_months and in_month.any():
            try:
                check_deployable(champion.name, champion.version, uri, as_champion=True)
            except DeploymentRefused as exc:
                blocked = str(exc)
            if not blocked:
                if model is None:
                    model = load_decision_model(f"models:/{champion.name}/{champion.version}", uri)
                    impl = model.unwrap_python_model()
                    if impl.log_ is None:
                        raise RuntimeError("the decision log is off (CREDITMINE_DECISION_LOG); the production period "
                                           "monitors what the log holds")
                    impl.log_.source = "score"
                with tracking_store(uri):
                    part = sample.rows[in_month].reset_index(drop=True)
                    part = part.assign(applied_at=pd.to_datetime(part["applied_at"]).dt.strftime("%Y-%m-%d"))
                    for start in range(0, len(part), 20_000):
                        model.predict(part.iloc[start:start + 20_000])
                    impl.log_.flush()
        if blocked:
            notes.append(f"{month}: not decided ({blocked})")
        outcomes = folder / "outcomes" / f"{as_of}.csv"
        _write_outcomes(store, champion, sample.truth, as_of, outcomes)
        summary = _monitor(cfg, product, str(as_of), champion, outcomes, report, record)
        rows.append({"month": str(month), "as_of": str(as_of), "applications": int(in_month.sum()),
                     "decided": not blocked and in_month.any(), "blocked": blocked, "verdict": summary["verdict"],
                     "report": summary.get("report", "")})
    bar.close()
    table = pd.DataFrame(rows)
    from creditmine.monitoring.trend import write_trend_report

    trend = write_trend_report(cfg, product, champion.name, champion.version)
    return PeriodResult(table, trend, notes)


def _monitor(cfg, product: str, as_of: str, champion, outcomes: Path, report: bool, record: bool) -> dict:
    uri = f"models:/{champion.name}/{champion.version}"
    if report:
        from creditmine.monitoring.report import monitor_report

        summary, html = monitor_report(cfg, product, as_of, uri, outcomes, record)
        summary["report"] = str(html)
        return summary
    from creditmine.monitoring.stage import run

    result = run(cfg, product, as_of, uri, outcomes, progress=False, record=record, figures=False)
    return {"verdict": result.verdict, "report": ""}


def _write_outcomes(store, champion, truth: pd.DataFrame, as_of, path: Path) -> None:
    """The loans booked so far (the approvals in the decision log), their defaults as known at `as_of`."""
    log = store.read(champion.name, champion.version, until=as_of).decisions
    booked = log[(log["decision"] == "approve")].drop_duplicates("application_id", keep="first")
    booked = booked[pd.to_datetime(booked["applied_at"]) <= pd.Timestamp(as_of)]
    known = truth.set_index("application_id").reindex(booked["application_id"])
    default_on = pd.to_datetime(known["defaulted_on"])
    default_on = default_on.where(default_on <= pd.Timestamp(as_of))
    frame = pd.DataFrame({
        "application_id": booked["application_id"].to_numpy(),
        "booked_on": pd.to_datetime(booked["applied_at"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "defaulted_on": default_on.dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def _same_scenario(folder: Path, cfg, champion, store) -> None:
    from creditmine.data.synthetic_production import production_key

    marker = folder / "simulation.json"
    here = {"model": champion.name, "version": str(champion.version), "production": production_key(cfg),
            "store": str(store)}
    if marker.is_file():
        before = json.loads(marker.read_text())
        if before.get("store") == here["store"] and before.get("model") == here["model"] \
                and before.get("version") == here["version"] and before.get("production") != here["production"]:
            raise ValueError(f"{store}: the decision log of {champion.name} version {champion.version} holds another "
                             f"production scenario's decisions ({marker}); set CREDITMINE_DECISION_STORE to another "
                             "folder to simulate this one")
    marker.write_text(json.dumps(here, indent=1) + "\n")


def decided_share(frame: pd.DataFrame) -> float:  # pragma: no cover - a small helper for notebooks
    return float(np.mean(frame["decided"])) if len(frame) else 0.0
