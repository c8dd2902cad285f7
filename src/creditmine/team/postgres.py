"""The team's PostgreSQL server: a real cluster on loopback, made and run by `creditmine team up`.

It holds three things, each under its own role:

- MLflow's backend store (database `creditmine`) and its accounts (database `creditmine_auth`),
  owned by `creditmine_mlflow`, the role the MLflow server connects as;
- the audit trail (table `audit.trail` in `creditmine`), owned by `creditmine_owner`, a role nobody
  logs in as; the server writes it as `creditmine_trail`, which may only SELECT and INSERT.

PostgreSQL refuses to run as root, so a root caller runs it as the `postgres` user (Debian's
package creates it); the cluster's folder must then be reachable by that user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from creditmine.team.trail_db import SCHEMA_SQL

__all__ = ["Cluster", "find_binaries"]

SUPERUSER = "postgres"
ROLES = ("creditmine_mlflow", "creditmine_trail")
DATABASES = ("creditmine", "creditmine_auth")


class PostgresError(RuntimeError):
    """The cluster cannot be made, started or reached; the message says why and where."""


def find_binaries() -> Path:
    """The folder of initdb and pg_ctl: Debian's newest /usr/lib/postgresql/<n>/bin, else PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                    if p.parent.parent.name.isdigit() else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresError("PostgreSQL is not installed (no initdb): `make system-deps` installs Debian's "
                        "postgresql package, or install it yourself")


@dataclass
class Cluster:
    """A PostgreSQL cluster in `folder` listening on 127.0.0.1:`port`."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def secrets(self) -> Path:
        return self.folder.parent / "secrets"

    def dsn(self, role: str, database: str = "creditmine", driver: str = "postgresql") -> str:
        return f"{driver}://{role}:{self.password(role)}@127.0.0.1:{self.port}/{database}"

    def password(self, role: str) -> str:
        """The role's password, made on first use (kept readable by its owner only)."""
        path = self.secrets / f"pg_{role}"
        if not path.is_file():
            self.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_private(path, secrets.token_urlsafe(24))
        return path.read_text(encoding="utf-8").strip()

    # -- life cycle ---------------------------------------------------------------------------
    def ensure(self) -> None:
        """Make the cluster (once), start it, and make the roles, databases and the trail table."""
        if not (self.data / "PG_VERSION").is_file():
            self._init()
        if not self.running():
            self.start()
        self._provision()

    def running(self) -> bool:
        result = self._pg_ctl("status", check=False)
        return result.returncode == 0

    def start(self) -> None:
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log),
                     "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder / 'run'}")

    def stop(self) -> None:
        if (self.data / "PG_VERSION").is_file() and self.running():
            self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")

    def connect(self, role: str = SUPERUSER, database: str = "creditmine"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=role, password=self.password(role),
                               dbname=database, autocommit=True, connect_timeout=10)

    # -- internals ----------------------------------------------------------------------------
    def _init(self) -> None:
        _reachable_by(self.folder, self._run_as())
        (self.folder / "run").mkdir(parents=True, exist_ok=True)
        pwfile = self.folder / ".pwfile"
        _write_private(pwfile, self.password(SUPERUSER))
        self._hand_over(self.folder)
        try:
            self._run([str(find_binaries() / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                       "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"])
        finally:
            pwfile.unlink(missing_ok=True)

    def _provision(self) -> None:
        with self.connect(database="postgres") as conn:
            existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
            if "creditmine_owner" not in existing:
                conn.execute("CREATE ROLE creditmine_owner NOLOGIN")
            for role in ROLES:
                if role not in existing:
                    conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{self.password(role)}'")
            databases = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
            for database in DATABASES:
                if database not in databases:
                    conn.execute(f"CREATE DATABASE {database} OWNER creditmine_mlflow")
            conn.execute("REVOKE CONNECT ON DATABASE creditmine_auth FROM PUBLIC")
        with self.connect(database="creditmine") as conn:
            conn.execute(SCHEMA_SQL)

    def _pg_ctl(self, *args: str, check: bool = True):
        return self._run([str(find_binaries() / "pg_ctl"), "-D", str(self.data), *args], check=check)

    def _run_as(self) -> str | None:
        """The user PostgreSQL runs as: `postgres` for a root caller, else the caller."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresError("running as root, PostgreSQL needs the 'postgres' user (Debian's postgresql "
                                "package creates it)") from None
        return SUPERUSER

    def _hand_over(self, folder: Path) -> None:
        user = self._run_as()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        for path in (folder, *folder.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, command: list[str], check: bool = True):
        user = self._run_as()
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise PostgresError(f"{Path(command[-len(command)]).name} {' '.join(command[-3:])} failed: "
                                f"{detail[-1] if detail else result.returncode} (log: {self.log})")
        return result


def _reachable_by(folder: Path, user: str | None) -> None:
    """The cluster's folder must be reachable by the user PostgreSQL runs as."""
    folder.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    for parent in (folder.parent, *folder.parent.parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise PostgresError(f"PostgreSQL runs as '{user}', which cannot reach {folder}: {parent} is not "
                                "open to other users (choose a team folder elsewhere, e.g. with --state-dir)")


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def wait_for(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise PostgresError(f"{what} did not come up within {timeout_s:.0f} s")
