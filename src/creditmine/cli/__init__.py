"""The `creditmine` command.

Subcommands live in their own modules and are imported only when used, so `creditmine --help`
and params errors answer at once, before pandas, scikit-learn or MLflow load.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# name -> (module, attribute, one-line help shown by `creditmine --help`)
LAZY_COMMANDS = {
    "generate": ("creditmine.cli.data", "generate", "Generate the synthetic government-data world as Parquet."),
    "init": ("creditmine.cli.init", "init", "Scaffold a project for your own data file: params, a product, next steps."),
    "ingest": ("creditmine.cli.data", "ingest", "Validate your own tables; quarantine rejected rows."),
    "monitor": ("creditmine.cli.monitor", "monitor", "Monitor a version after go-live: report, MLflow figures, verdict."),
    "monitor-period": ("creditmine.cli.monitor", "monitor_period",
                       "Run the synthetic world's production period month by month with the champion."),
    "review": ("creditmine.cli.review", "review", "Review, approve, promote and audit model versions."),
    "score": ("creditmine.cli.score", "score", "Score a batch of applications with a registered model."),
    "serve": ("creditmine.cli.serve", "serve", "Serve an approved model over REST, gated before it loads."),
    "team": ("creditmine.cli.team", "team", "Start, inspect and stop the team server (PostgreSQL, MLflow with accounts)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            module, attribute, _ = LAZY_COMMANDS[name]
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, cmd.get_short_help_str(80)) for name, cmd in self.commands.items()]
        rows += [(name, spec[2]) for name, spec in LAZY_COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="creditmine")
def main() -> None:
    """Develop, explain, validate and govern SME credit models from government data."""
    from creditmine.config import project_root, resolve_tracking_env

    # MLflow draws a progress bar for every artifact download; our commands report their own progress
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # a relative MLFLOW_TRACKING_URI (sqlite:///mlruns/mlflow.db) means the project's store, wherever
    # the command or the notebooks it starts run
    resolve_tracking_env(project_root())


@main.command()
@click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False),
              help="Params YAML, e.g. params/ci.yaml.")
@click.option("--stages", default=None, metavar="LIST",
              help="Stages to run, comma-separated (01,02,...); all when omitted.")
@click.option("--run-name", default=None, help="Names runs/<run-name>/ and reports/<run-name>/; the params' name by default.")
@click.option("--products", default=None, metavar="LIST", help="Products for stages 02-05, comma-separated; all by default.")
@click.option("--fresh", is_flag=True, help="Delete this run's outputs and reports first.")
def run(params_file: str, stages: str | None, run_name: str | None, products: str | None, fresh: bool) -> None:
    """Run the pipeline: data, then notebooks 01-05 executed with papermill.

    Writes each executed notebook and its HTML report (no code) to reports/<run-name>/, and
    reports/<run-name>/index.html linking them with their verdicts; ends with a summary per
    product (primary model, out-of-time AUC, verdict, registered version, next command). Exits
    non-zero with the failing stage's name and error when a stage fails.
    """
    from creditmine import config

    try:
        cfg = config.load(params_file, run_name=run_name)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    from creditmine import pipeline

    try:
        selected = pipeline.select_stages(stages)
        chosen = tuple(p.strip() for p in products.split(",")) if products else None
        result = pipeline.run(cfg, selected, products=chosen, fresh=fresh, log=click.echo)
    except (pipeline.StageFailed, config.ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - one line naming what failed, never a traceback
        raise click.ClickException(f"run '{cfg.run_name}' failed: {_one_line(exc)}") from None
    click.echo("")
    for line in pipeline.summary(cfg, result):
        click.echo(line)


@main.command("check-params")
@click.argument("params_file", type=click.Path(dir_okay=False))
def check_params(params_file: str) -> None:
    """Validate a params file and the product files it names, and print the resolved settings."""
    from creditmine import config

    try:
        cfg = config.load(params_file)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(cfg.params.model_dump_json(indent=2))
    click.echo(f"products: {', '.join(cfg.products)}; data: {cfg.data_dir}; tracking: {cfg.tracking_uri}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
