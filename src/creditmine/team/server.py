"""`creditmine team up / status / down`: the team's PostgreSQL and MLflow server on loopback.

Everything the team server keeps is in one state folder (`.team/` in the project by default,
git-ignored): the PostgreSQL cluster, the artifact store the server serves (clients reach it only
through ``mlflow-artifacts:``, never by path), the server's trail key, the auth configuration,
logs, and one password per account in `passwords/<account>` (readable by its owner only).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from creditmine.config.team import TeamParams
from creditmine.team.app import ENV_TEAM_DIR, ENV_TEAM_FILE, ENV_TRAIL_DSN
from creditmine.team.postgres import Cluster, PostgresError, _write_private

__all__ = ["TeamServer"]


@dataclass
class TeamServer:
    """The team server of `team` (a team file), keeping its state in `state_dir`."""

    team: TeamParams
    team_file: Path
    state_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.team.server.host}:{self.team.server.port}"

    @property
    def cluster(self) -> Cluster:
        return Cluster(self.state_dir / "postgres", self.team.server.postgres_port)

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "server.pid"

    @property
    def log(self) -> Path:
        return self.state_dir / "server.log"

    def password(self, account: str) -> str:
        """The password of a team account (made by `up`)."""
        path = self.state_dir / "passwords" / account
        if not path.is_file():
            raise PostgresError(f"{path}: no password for '{account}'; run `creditmine team up` first")
        return path.read_text(encoding="utf-8").strip()

    def public_key(self) -> Path:
        from creditmine.registry.keys import PUBLIC_FILE

        return self.state_dir / "keys" / PUBLIC_FILE

    # -- up -----------------------------------------------------------------------------------
    def up(self, log=print) -> None:
        """Start PostgreSQL and the server (each unless it runs), then make the team's accounts."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o755)   # PostgreSQL (another user when we are root) reaches its folder
        for private in ("passwords", "keys", "secrets"):
            (self.state_dir / private).mkdir(exist_ok=True, mode=0o700)
        started = time.perf_counter()
        self.cluster.ensure()
        log(f"PostgreSQL on 127.0.0.1:{self.team.server.postgres_port} ({self.cluster.folder})")
        from creditmine.registry.keys import load_or_create_private_key

        load_or_create_private_key(self.state_dir / "keys")
        if not self.healthy():
            self._start_server()
            self._wait_healthy()
        self._accounts()
        log(f"MLflow server {self.url} (creditmine app, basic auth) up in {time.perf_counter() - started:.0f} s; "
            f"accounts: {', '.join(self.team.accounts)}; passwords in {self.state_dir / 'passwords'}")

    def _start_server(self) -> None:
        cluster = self.cluster
        auth_ini = self.state_dir / "auth.ini"
        _write_private(auth_ini, "\n".join([
            "[mlflow]",
            "default_permission = READ",
            f"database_uri = {cluster.dsn('creditmine_mlflow', 'creditmine_auth', 'postgresql+psycopg')}",
            f"admin_username = {self.team.admin}",
            f"admin_password = {self._account_password(self.team.admin)}",
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
            f"auth_cache_ttl_seconds = {self.team.server.auth_cache_ttl_s}",
            "",
        ]))
        secret = self.state_dir / "secrets" / "flask_secret"
        if not secret.is_file():
            _write_private(secret, secrets.token_hex(32))
        env = {
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secret.read_text().strip(),
            ENV_TEAM_FILE: str(self.team_file.resolve()),
            ENV_TEAM_DIR: str(self.state_dir.resolve()),
            ENV_TRAIL_DSN: cluster.dsn("creditmine_trail"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(name, None)
        server = self.team.server
        command = [
            str(Path(sys.executable).with_name("mlflow")), "server", "--app-name", "creditmine",
            "--backend-store-uri", cluster.dsn("creditmine_mlflow", "creditmine", "postgresql+psycopg"),
            "--artifacts-destination", str((self.state_dir / "artifacts").resolve()),
            "--host", server.host, "--port", str(server.port), "--workers", str(server.workers),
        ]
        with open(self.log, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                       cwd=self.state_dir, start_new_session=True)
        self.pid_file.write_text(str(process.pid))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.team.server.start_timeout_s
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if not self._process_alive():
                raise PostgresError(f"the MLflow server stopped while starting; see {self.log}:\n{self._log_tail()}")
            time.sleep(1.0)
        raise PostgresError(f"the MLflow server did not answer {self.url}/health within "
                            f"{self.team.server.start_timeout_s:.0f} s; see {self.log}")

    def _accounts(self) -> None:
        """Every account of the team file exists with its password (READ by default)."""
        from mlflow.server.auth.client import AuthServiceClient

        admin = AuthServiceClient(self.url)
        with _credentials(self.team.admin, self._account_password(self.team.admin)):
            for account in self.team.accounts:
                try:
                    admin.get_user(account)
                except Exception:  # noqa: BLE001 - MLflow raises RESOURCE_DOES_NOT_EXIST for a new account
                    admin.create_user(account, self._account_password(account))

    def _account_password(self, account: str) -> str:
        path = self.state_dir / "passwords" / account
        if not path.is_file():
            _write_private(path, secrets.token_urlsafe(18))
        return path.read_text(encoding="utf-8").strip()

    # -- status and down -----------------------------------------------------------------------
    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=3) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def status(self) -> dict:
        state = {
            "url": self.url, "server": "up" if self.healthy() else "down",
            "postgres": "up" if self.cluster.running() else "down",
            "state_dir": str(self.state_dir), "accounts": {"developers": list(self.team.developers),
                                                          "validators": list(self.team.validators)},
        }
        if state["postgres"] == "up":
            from creditmine.team.trail_db import PostgresTrail

            trail = PostgresTrail(self.cluster.dsn("creditmine_trail"), self.state_dir / "keys")
            try:
                from creditmine.registry.trail import chain_problems

                entries = trail.entries()
                problems = chain_problems(entries, trail.public_keys())
                state["trail"] = f"{len(entries)} entries, " + ("chain and signatures intact" if not problems
                                                                  else f"{len(problems)} problems: {problems[0]}")
            except Exception as exc:  # noqa: BLE001 - status reports what it can
                state["trail"] = f"unreadable ({exc})"
        return state

    def down(self, log=print) -> None:
        if self._process_alive():
            pid = int(self.pid_file.read_text())
            os.killpg(pid, signal.SIGTERM)
            for _ in range(60):
                if not self._process_alive():
                    break
                time.sleep(0.5)
            else:
                os.killpg(pid, signal.SIGKILL)
            log(f"MLflow server {self.url} stopped")
        self.pid_file.unlink(missing_ok=True)
        self.cluster.stop()
        log("PostgreSQL stopped")

    def _process_alive(self) -> bool:
        if not self.pid_file.is_file():
            return False
        try:
            pid = int(self.pid_file.read_text())
            _reap(pid)
            os.killpg(pid, 0)
            return True
        except (ProcessLookupError, ValueError, PermissionError):
            return False

    def _log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.is_file() else ""

    def describe(self) -> str:
        return json.dumps(self.status(), indent=1)


def _reap(pid: int) -> None:
    """Collect the exit status of the server when this process started it (`up` and `down` in one
    process): until then an exited child is a zombie, which signals still reach, so the server
    would look alive."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not a child of this process: its own parent collects it


class _credentials:
    """MLflow credentials in the environment for a block, then the previous ones."""

    _NAMES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")

    def __init__(self, user: str, password: str):
        self.values = dict(zip(self._NAMES, (user, password)))

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self._NAMES}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
