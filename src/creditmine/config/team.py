"""The team file (params/team.yaml): the accounts and roles of a team server, and where it listens."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from creditmine.config.base import Section

__all__ = ["ServerParams", "TeamParams", "load_team"]

_ACCOUNT = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


class ServerParams(Section):
    """Where the team server and its PostgreSQL listen (loopback by default)."""

    host: str = Field("127.0.0.1", description="address of the MLflow server; loopback unless a gateway fronts it")
    port: int = Field(5100, ge=1024, le=65535, description="port of the MLflow tracking server")
    postgres_port: int = Field(55432, ge=1024, le=65535, description="port of the team's PostgreSQL server")
    workers: int = Field(2, ge=1, le=16, description="MLflow server worker processes")
    start_timeout_s: float = Field(180.0, gt=0, description="seconds to wait for the server to answer")
    auth_cache_ttl_s: int = Field(
        60, ge=0, le=3600,
        description="seconds a checked password stays trusted per worker: each check costs a deliberate "
                    "~1 s hash, and one registration makes hundreds of requests; 0 checks every request")


class TeamParams(Section):
    """Who is on the team. Passwords are never in this file: `creditmine team up` makes one per
    account and keeps it in the team's state folder, readable by its owner only."""

    admin: str = Field("admin", description="the server's administrator account (user management only)")
    developers: tuple[str, ...] = Field(..., min_length=1, description="accounts that run pipelines and register versions")
    validators: tuple[str, ...] = Field(..., min_length=1, description="accounts that approve, reject, promote and roll back")
    server: ServerParams = ServerParams()

    @field_validator("admin")
    @classmethod
    def _admin_name(cls, value: str) -> str:
        return _account(value)

    @field_validator("developers", "validators")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(_account(v) for v in value)
        if len(set(names)) != len(names):
            raise ValueError(f"accounts listed twice: {sorted({n for n in names if names.count(n) > 1})}")
        return names

    @model_validator(mode="after")
    def _admin_is_not_a_reviewer(self) -> "TeamParams":
        if self.admin in (*self.developers, *self.validators):
            raise ValueError(f"the admin account '{self.admin}' manages users and may not also develop or validate")
        return self

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.developers, *self.validators)))


def load_team(path: str | Path) -> TeamParams:
    """Read and validate a team file; ValueError with one line naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: team file not found")
    try:
        return TeamParams.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValueError(f"{path}: key '{key}': {first['msg']}") from None


def _account(name: str) -> str:
    if not _ACCOUNT.match(str(name)):
        raise ValueError(f"account name {name!r} must be lower-case letters, digits, '.', '_' or '-' "
                         "(2-32 characters, a letter first)")
    return str(name)
