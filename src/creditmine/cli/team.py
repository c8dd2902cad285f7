"""`creditmine team`: start, inspect and stop the team server (PostgreSQL and MLflow with authentication)."""

from __future__ import annotations

import json

import click

_TEAM_FILE = click.option("--team", "team_file", default=None, type=click.Path(dir_okay=False),
                          help="Team file (accounts and roles); params/team.yaml of the project by default.")
_STATE_DIR = click.option("--state-dir", default=None, type=click.Path(file_okay=False),
                          help="Where the server keeps its database, artifacts, key and passwords; .team/ by default.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def team() -> None:
    """The team server: accounts and roles from params/team.yaml, review rules the server enforces.

    \b
    creditmine team up                 # PostgreSQL + MLflow server with authentication on loopback
    creditmine team status
    creditmine team env ACCOUNT        # the variables that make a shell act as ACCOUNT
    creditmine team down
    """


@team.command()
@_TEAM_FILE
@_STATE_DIR
def up(team_file, state_dir) -> None:
    """Start PostgreSQL and the MLflow server (the creditmine app) and make the team's accounts."""
    server = _server(team_file, state_dir)
    _guarded(lambda: server.up(log=click.echo))
    click.echo(f"next: eval $(creditmine team env {server.team.developers[0]}) and run the pipeline; "
               f"validators approve as themselves (creditmine team env {server.team.validators[0]})")


@team.command()
@_TEAM_FILE
@_STATE_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(team_file, state_dir, as_json) -> None:
    """Whether PostgreSQL and the server run, the accounts, and whether the audit trail verifies."""
    state = _guarded(lambda: _server(team_file, state_dir).status())
    if as_json:
        click.echo(json.dumps(state, indent=1))
        return
    for key, value in state.items():
        click.echo(f"{key:<10} {value}")


@team.command()
@_TEAM_FILE
@_STATE_DIR
def down(team_file, state_dir) -> None:
    """Stop the MLflow server and PostgreSQL (their data stays in the state folder)."""
    _guarded(lambda: _server(team_file, state_dir).down(log=click.echo))


@team.command()
@click.argument("account")
@_TEAM_FILE
@_STATE_DIR
def env(account, team_file, state_dir) -> None:
    """Print the shell variables that point MLflow and creditmine at the server as ACCOUNT."""
    server = _server(team_file, state_dir)
    if account not in (*server.team.accounts, server.team.admin):
        raise click.ClickException(f"'{account}' is not an account of {server.team_file}")
    password = _guarded(lambda: server.password(account))
    click.echo(f"export MLFLOW_TRACKING_URI={server.url}")
    click.echo(f"export MLFLOW_TRACKING_USERNAME={account}")
    click.echo(f"export MLFLOW_TRACKING_PASSWORD={password}")
    click.echo(f"export CREDITMINE_TRAIL_PUBLIC_KEY={server.public_key()}")


def _server(team_file, state_dir):
    from pathlib import Path

    from creditmine import config
    from creditmine.config.team import load_team
    from creditmine.team.server import TeamServer

    root = config.project_root()
    path = Path(team_file) if team_file else root / "params" / "team.yaml"
    try:
        team_params = load_team(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return TeamServer(team_params, path, Path(state_dir) if state_dir else root / ".team")


def _guarded(action):
    from creditmine.team.postgres import PostgresError

    try:
        return action()
    except PostgresError as exc:
        raise click.ClickException(str(exc)) from None
