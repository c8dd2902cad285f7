"""`creditmine score`: decide a batch of applications with a registered, approved model version."""

from __future__ import annotations

import click

from creditmine.cli.store import store_uri


@click.command("score")
@click.option("--model", "model_uri", required=True, metavar="URI",
              help="models:/creditmine-<product>@champion, or models:/<name>/<version>.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="Applications: .csv, .parquet or .jsonl (application fields and features, or "
                   "application ids with --features).")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False),
              help="Decisions: .csv, .parquet or .jsonl.")
@click.option("--features", "features_path", default=None, type=click.Path(dir_okay=False),
              help="Feature table (stage 01's features.parquet) to complete rows given by application_id.")
@click.option("--params", "params_file", default=None, type=click.Path(dir_okay=False),
              help="Params YAML whose MLflow store to use; else MLFLOW_TRACKING_URI, else the "
                   "project's mlruns/mlflow.db.")
@click.option("--tracking-uri", default=None, help="MLflow store; overrides --params.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: this process; spark: mlflow.pyfunc.spark_udf (needs pyspark, the 'spark' "
                   "extra, and Java 17), the same decisions.")
@click.option("--spark-master", default=None, metavar="URL",
              help="Spark master for --engine spark; local[*] when omitted.")
def score(model_uri, input_path, output_path, features_path, params_file, tracking_uri, quiet, engine,
          spark_master) -> None:
    """Score a batch of applications with a registered model.

    The deployment gate is checked first: a version that is not approved, whose audit trail does
    not verify or whose artifacts do not match their manifest is refused. Every input row gets a
    decision row; rows that cannot be decided automatically are referred, with the reason in the
    `error` column (every row of an application_id given more than once among them). An input
    without rows gives an output with the columns only. With --engine spark, Spark decides the
    rows (the version's verified copy, checked again by every worker that loads it).
    """
    import time

    tracking_uri = store_uri(tracking_uri, params_file)
    from creditmine.decision.score import referral_summary, score_file
    from creditmine.registry.gate import DeploymentRefused

    if engine == "spark":
        from creditmine.decision.spark import spark_unavailable

        why = spark_unavailable()
        if why:
            raise click.ClickException(why)

    started = time.perf_counter()
    try:
        decisions = score_file(model_uri, input_path, output_path, tracking_uri=tracking_uri,
                               features_path=features_path, progress=not quiet, engine=engine,
                               spark_master=spark_master)
    except DeploymentRefused as exc:
        raise click.ClickException(f"refused to score with {model_uri}: {exc}") from None
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    elapsed = time.perf_counter() - started
    if decisions.empty:
        click.echo(f"0 applications in {input_path}: wrote {output_path} with the decision columns and no rows")
        return
    counts = decisions["decision"].value_counts()
    summary = ", ".join(f"{counts.get(d, 0)} {d}" for d in ("approve", "refer", "decline"))
    errors = int((decisions["error"] != "").sum())
    click.echo(f"{len(decisions)} applications -> {output_path}: {summary}; "
               f"{errors} referred with a reason in 'error'; {elapsed:.1f} s")
    note = referral_summary(decisions, features_given=features_path is not None)
    if note:
        click.echo(f"note: {note}")

