"""`creditmine serve`: the deployment gate first, then the decision model over MLflow's REST protocol."""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--model", "model_uri", required=True, metavar="URI",
              help="models:/creditmine-<product>@champion, or models:/<name>/<version>.")
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; loopback unless you put a gateway in front.")
@click.option("--params", "params_file", default=None, type=click.Path(dir_okay=False),
              help="Params YAML whose MLflow store to use; else MLFLOW_TRACKING_URI, else mlruns/mlflow.db.")
@click.option("--tracking-uri", default=None, help="MLflow store; overrides --params.")
@click.option("--server", "server_kind", type=click.Choice(["creditmine", "mlflow"]), default="creditmine",
              show_default=True,
              help="creditmine: its own scoring server (the same protocol, a few ms less per request); "
                   "mlflow: `mlflow models serve` on the same verified copy.")
@click.option("--access-log", is_flag=True, help="Log every request (creditmine server).")
def serve(model_uri: str, port: int, host: str, params_file: str | None, tracking_uri: str | None,
          server_kind: str, access_log: bool) -> None:
    """Serve a registered decision model over MLflow's REST protocol (POST /invocations).

    The version the URI names is checked by the deployment gate before any of its artifacts is
    loaded (approved, audit trail intact, the champion alias where the review put it, every model
    file matching the manifest), and the server loads that verified local copy, whose loader checks
    the files again; a tampered artifact never runs. The alias is resolved once: the server keeps
    serving that version even if the alias moves.

    The server answers as `mlflow models serve` does (POST /invocations with dataframe_split,
    dataframe_records, inputs or instances JSON, CSV or Parquet; GET /ping, /health, /version),
    with the same decision columns as in-process scoring (see `creditmine.decision.server`).
    """
    from creditmine.cli.store import store_uri
    from creditmine.decision.score import resolve_model, verified_copy
    from creditmine.registry.gate import DeploymentRefused

    store = store_uri(tracking_uri, params_file)
    try:
        ref = resolve_model(model_uri, tracking_uri=store)
        local = verified_copy(ref, tracking_uri=store)
    except DeploymentRefused as exc:
        raise click.ClickException(f"refused to serve {model_uri}: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if server_kind == "mlflow":
        _exec_mlflow_server(local, store, host, port)
    import mlflow

    from creditmine.decision.score import tracking_store
    from creditmine.decision.server import serve as run_server

    import os

    os.environ["CREDITMINE_DECISION_SOURCE"] = "serve"  # the decision log names where decisions came from
    try:
        # the model's loader checks the gate again on the files it reads, in the store it belongs to
        with tracking_store(store):
            model = mlflow.pyfunc.load_model(str(local))
    except DeploymentRefused as exc:
        raise click.ClickException(f"refused to serve {model_uri}: {exc}") from None
    click.echo(f"serving {ref.uri} ({model_uri}) on http://{host}:{port}/invocations")
    run_server(model, host=host, port=port, access_log=access_log)


def _exec_mlflow_server(local, store: str, host: str, port: int) -> None:
    """Replace this process with `mlflow models serve` on the verified local copy."""
    import os
    import shutil
    import sys
    from pathlib import Path

    mlflow_cli = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow")
    if mlflow_cli is None:
        raise click.ClickException("the mlflow command is not installed in this environment")
    click.echo(f"serving {local} with mlflow models serve on http://{host}:{port}/invocations")
    # the server execs uvicorn by name: this environment's, as an activated venv would
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "MLFLOW_REGISTRY_URI": store,
           "CREDITMINE_DECISION_SOURCE": "serve",  # the decision log names where decisions came from
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    sys.stdout.flush()
    # the verified local copy, not the store: what was checked is what is served (and the model's
    # loader checks those files again as the server loads them)
    os.execve(mlflow_cli, [mlflow_cli, "models", "serve", "-m", str(local), "-h", host, "-p", str(port),
                           "--env-manager", "local"], env)
