"""`creditmine monitor` (stage 06 at one date) and `creditmine monitor-period` (the synthetic world's
production period, month by month)."""

from __future__ import annotations

import click


def _config(params_file: str | None):
    from pathlib import Path

    from creditmine import config

    if params_file is None:
        default = config.project_root() / "params" / "default.yaml"
        if not default.is_file():
            raise click.ClickException("no --params given and no params/default.yaml in this project")
        params_file = str(default)
    try:
        return config.load(Path(params_file))
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("monitor")
@click.option("--model", "model_uri", required=True, metavar="URI",
              help="models:/creditmine-<product>@champion, or models:/<name>/<version>.")
@click.option("--as-of", "as_of", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Monitoring date YYYY-MM-DD: decisions and outcomes after it are not known.")
@click.option("--outcomes", "outcomes", default=None, type=click.Path(dir_okay=False),
              help="Booked loans and their defaults (.csv or .parquet: application_id, booked_on, defaulted_on).")
@click.option("--params", "params_file", default=None, type=click.Path(dir_okay=False),
              help="Params YAML (its monitoring section and MLflow store); params/default.yaml by default.")
@click.option("--no-record", is_flag=True, help="Do not record the verdict in the audit trail.")
def monitor(model_uri, as_of, outcomes, params_file, no_record) -> None:
    """Monitor a registered version at a date: stage 06's report, MLflow figures, the verdict.

    Writes reports/monitor/<product>/<as_of>.html, logs the figures to the version's monitoring run
    and records the monitoring verdict in the audit trail (a red one tags the version
    monitoring_verdict=red and, with monitoring.red_blocks_decisions, stops it deciding).
    """
    from creditmine.decision.score import resolve_model
    from creditmine.monitoring.report import monitor_report
    from creditmine.monitoring.stage import product_of
    from creditmine.pipeline import StageFailed

    cfg = _config(params_file)
    try:
        ref = resolve_model(model_uri, cfg.tracking_uri)
        product = product_of(cfg, ref.name)
        summary, html = monitor_report(cfg, product, as_of.date().isoformat(), model_uri, outcomes, not no_record)
    except (StageFailed, ValueError) as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    _echo(summary, html)


@click.command("monitor-period")
@click.option("--params", "params_file", default=None, type=click.Path(dir_okay=False),
              help="Params YAML of the synthetic world (monitoring.production); params/default.yaml by default.")
@click.option("--product", default=None, help="Product whose champion decides; the params' first by default.")
@click.option("--scenario", type=click.Choice(["none", "regional_shock", "applicant_mix"]), default=None,
              help="Drift scenario; monitoring.production.scenario by default.")
@click.option("--drift-start", default=None, metavar="YYYY-MM", help="First month of the drift.")
@click.option("--months", type=click.IntRange(1, 60), default=None, help="Only the first N months of the period.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def monitor_period(params_file, product, scenario, drift_start, months, quiet) -> None:
    """Run the synthetic world's production period month by month with the champion.

    Each month the champion decides the month's applications (into the decision log), the loans
    booked so far get their outcomes as known at the month's end, and stage 06 writes that month's
    report; the trend report puts every month side by side.
    """
    from creditmine.monitoring.period import simulate, with_scenario
    from creditmine.pipeline import StageFailed

    cfg = _config(params_file)
    product = product or cfg.params.products[0]
    try:
        cfg = with_scenario(cfg, scenario, drift_start)
        result = simulate(cfg, product, progress=not quiet)
    except (StageFailed, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    for row in result.months.itertuples():
        state = "not decided (blocked)" if row.blocked else f"{row.applications} applications"
        click.echo(f"{row.as_of}  {row.verdict.upper():<5}  {state}  {row.report}")
    for note in result.notes:
        click.echo(note)
    click.echo(f"trend report: {result.trend_report}")


def _echo(summary: dict, html) -> None:
    facts = summary.get("facts", {})
    click.echo(f"{summary['model']} version {summary['version']} as of {summary['as_of']}: monitoring verdict "
               f"{summary['verdict'].upper()} ({facts.get('decisions_in_month', 0)} decisions in {facts.get('month')})")
    for line in summary.get("why", []):
        click.echo(f"  {line}")
    entry = summary.get("trail_entry")
    if entry:
        click.echo(f"recorded in the audit trail as #{entry['seq']} by {entry['actor']}")
    click.echo(f"report: {html}")
