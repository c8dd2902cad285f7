"""The MLflow store a command acts on, resolved the same way by every command."""

from __future__ import annotations

import os

import click


def store_uri(tracking_uri: str | None, params_file: str | None) -> str:
    """--tracking-uri, else the store of --params, else MLFLOW_TRACKING_URI, else the project's mlruns/;
    a relative path in any of them is resolved against the project root."""
    from creditmine import config

    if tracking_uri:
        return config.resolve_tracking_uri(tracking_uri, config.project_root())
    if params_file:
        try:
            return config.load(params_file).tracking_uri
        except config.ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return config.resolve_tracking_uri(os.environ["MLFLOW_TRACKING_URI"], config.project_root())
    return f"sqlite:///{(config.project_root() / 'mlruns' / 'mlflow.db').as_posix()}"
