"""A real team server for tests: PostgreSQL and `mlflow server --app-name creditmine` on loopback.

`start()` writes a team file (admin, one developer, two validators) with free ports, brings the
server up in a fresh state folder and returns a `Team` (`prepare`, `attach`, then `up`; or all of it
in a process of its own: `up_command`), whose helpers act as one account: its
environment (for `creditmine` subprocesses and MLflow's own client), a `requests` session with its
credentials, and the creditmine endpoints. `Team.stop()` takes everything down and deletes the
state folder.

The state folder is made under the system's temporary folder, not pytest's: when the tests run as
root, PostgreSQL runs as the `postgres` user, which must be able to reach its cluster's folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

DEVELOPER = "dana"
VALIDATORS = ("li", "rui")
ADMIN = "admin"
VIC = "vic"  # developer and validator: only the four-eyes rule keeps them from approving their own work
ATTACK_TEAM = {"developers": (DEVELOPER, VIC), "validators": (*VALIDATORS, VIC)}
"""The accounts of test_team_server.py's server (conftest's `team_server_up`)."""
PREFIX = "/api/2.0/creditmine"
SRC = Path(__file__).resolve().parents[1] / "src"


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be run here (no initdb), or None."""
    from creditmine.team.postgres import PostgresError, find_binaries

    try:
        find_binaries()
    except PostgresError as exc:
        return str(exc)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Team:
    """A running team server and what its accounts need to reach it."""

    server: object  # creditmine.team.server.TeamServer
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state_dir(self) -> Path:
        return self.server.state_dir

    @property
    def server_tmp(self) -> Path:
        """The server's temporary folder (its TMPDIR), where it downloads what it checks."""
        return self.root / "server-tmp"

    @property
    def artifacts(self) -> Path:
        """The artifact store the server serves (``mlflow-artifacts:/``), as it is on disk."""
        return self.server.state_dir / "artifacts"

    def password(self, account: str) -> str:
        return self.server.password(account)

    def env(self, account: str | None) -> dict[str, str]:
        """The environment of a `creditmine` process acting as `account` (None: no credentials)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_REGISTRY_URI")}
        env.update({
            "MLFLOW_TRACKING_URI": self.url,
            "CREDITMINE_TRAIL_PUBLIC_KEY": str(self.server.public_key()),
            "MPLBACKEND": "Agg",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
        })
        if account is not None:
            env["MLFLOW_TRACKING_USERNAME"] = account
            env["MLFLOW_TRACKING_PASSWORD"] = self.password(account)
        return env

    @contextlib.contextmanager
    def acting_as(self, account: str):
        """This process's MLflow client (and creditmine) act as `account` for a block."""
        names = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                 "CREDITMINE_TRAIL_PUBLIC_KEY")
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update({name: self.env(account)[name] for name in names})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def session(self, account: str | None, password: str | None = None) -> requests.Session:
        """A `requests` session with `account`'s basic-auth credentials (None: anonymous)."""
        session = requests.Session()
        if account is not None:
            session.auth = (account, password if password is not None else self.password(account))
        return session

    def call(self, account: str | None, endpoint: str, body: dict | None = None, *,
             password: str | None = None) -> requests.Response:
        """One creditmine endpoint (POST with `body`, else GET) as `account`."""
        session = self.session(account, password)
        url = f"{self.url}{PREFIX}/{endpoint}"
        return session.post(url, json=body, timeout=120) if body is not None else session.get(url, timeout=60)

    def trail(self) -> list[dict]:
        response = self.call(VALIDATORS[0], "trail")
        response.raise_for_status()
        return response.json()["entries"]

    def stop(self) -> None:
        try:
            self.server.down(log=lambda *_: None)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def new_folder() -> Path:
    """A new folder for a team server, under the system's temporary folder."""
    root = Path(tempfile.mkdtemp(prefix="creditmine-team-"))
    os.chmod(root, 0o755)  # PostgreSQL runs as another user when the tests run as root
    return root


def prepare(developers=(DEVELOPER,), validators=VALIDATORS, workers: int = 2, root: Path | None = None) -> Path:
    """A folder (`root`, else a new one) with a team file on free loopback ports, for `up`; `attach`
    gives its `Team`."""
    root = root or new_folder()
    (root / "team.yaml").write_text(
        f"admin: {ADMIN}\ndevelopers: [{', '.join(developers)}]\nvalidators: [{', '.join(validators)}]\n"
        f"server:\n  host: 127.0.0.1\n  port: {free_port()}\n  postgres_port: {free_port()}\n"
        f"  workers: {workers}\n  start_timeout_s: 240\n",
        encoding="utf-8",
    )
    (root / "server-tmp").mkdir(exist_ok=True)
    return root


def attach(root: Path) -> Team:
    """The `Team` of the folder `prepare` made (its server up or not)."""
    from creditmine.config.team import load_team
    from creditmine.team.server import TeamServer

    team_file = root / "team.yaml"
    return Team(TeamServer(load_team(team_file), team_file, root / "state"), root)


def up(team: Team) -> None:
    """Bring the server of `team` up; when it fails, stop what was started and say why."""
    # the server's processes import this checkout's creditmine, as the test process does, and keep
    # their temporary files in a folder of their own
    server_env = {"PYTHONPATH": team.env(None)["PYTHONPATH"], "TMPDIR": str(team.server_tmp)}
    tempfile.gettempdir()  # this process keeps its own temporary folder
    previous = {name: os.environ.get(name) for name in server_env}
    os.environ.update(server_env)
    try:
        team.server.up(log=lambda *_: None)
    except BaseException:  # noqa: BLE001 - stop what was started, even when interrupted
        log = team.server.log.read_text(errors="replace")[-4000:] if team.server.log.is_file() else ""
        team.stop()
        raise RuntimeError(f"the team server did not start:\n{log}") from None
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def up_command(root: Path, developers=(DEVELOPER,), validators=VALIDATORS, workers: int = 2) -> list[str]:
    """The command that prepares the folder `root` (`new_folder`) and brings its server up in a
    process of its own, which exits once the server answers (PostgreSQL and the MLflow server run
    on, in sessions of their own). The ports are chosen there, just before the server takes them."""
    return [sys.executable, str(Path(__file__).resolve()), "up", str(root), ",".join(developers),
            ",".join(validators), str(workers)]


def start(developers=(DEVELOPER,), validators=VALIDATORS, workers: int = 2) -> Team:
    """Bring up a team server on free loopback ports in a new state folder; `Team.stop()` ends it."""
    team = attach(prepare(developers, validators, workers))
    up(team)
    return team


if __name__ == "__main__":
    if sys.argv[1:2] == ["up"]:  # up_command
        folder, developers, validators, workers = sys.argv[2:6]
        up(attach(prepare(developers.split(","), validators.split(","), int(workers), root=Path(folder))))
        sys.exit(0)
    team = start()  # a server to poke at by hand: python tests/team_server.py
    print(team.url, team.state_dir, file=sys.stderr)
    try:
        input("press enter to stop\n")
    finally:
        team.stop()
