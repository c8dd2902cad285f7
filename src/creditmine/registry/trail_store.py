"""Where the audit trail is kept: a JSON-lines file beside the embedded store, or the team server.

- `FileTrail`: one JSON object per line, appended under a file lock, signed with a local key kept
  beside it (laptop mode: the workflow and accidental edits are caught; the owner of the laptop
  holds the key).
- `RemoteTrail`: the team server's trail, read over HTTP with the user's own credentials and
  verified with the server's public key; only the server writes it (`creditmine.team.trail_db`).

`open_trail(tracking_uri)` picks the one a store uses. Every store gives `entries()`,
`public_keys()` and, where this process may write, `transaction()`: the entries read under a lock
and an `append` that extends them, so that a check of the state and the entry recording the change
happen as one step.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from creditmine.registry import keys
from creditmine.registry.trail import TrailError, new_entry

__all__ = ["ENV_AUDIT_TRAIL", "FileTrail", "RemoteTrail", "open_trail", "store_folder"]

ENV_AUDIT_TRAIL = "CREDITMINE_AUDIT_TRAIL"
ENV_PUBLIC_KEY = "CREDITMINE_TRAIL_PUBLIC_KEY"
TRAIL_FILE = "audit.jsonl"
KEY_FOLDER = "keys"


class Transaction:
    """The trail as read under the writer's lock, and the entries appended in this step."""

    def __init__(self, entries: list[dict], writer):
        self.entries = entries
        self._writer = writer

    def append(self, action: str, model: str, version, actor: str, comment: str = "", details: dict | None = None) -> dict:
        entry = self._writer(self.entries[-1] if self.entries else None, action, model, version, actor, comment,
                             details or {})
        self.entries.append(entry)
        return entry


class FileTrail:
    """The trail as a JSON-lines file, signed with the key in `<folder>/keys/`."""

    def __init__(self, path: str | os.PathLike, lock_timeout_s: float = 300.0):
        self.path = Path(path)
        self.key_folder = self.path.parent / KEY_FOLDER
        self.lock_timeout_s = lock_timeout_s

    def __str__(self) -> str:
        return str(self.path)

    def entries(self) -> list[dict]:
        """The entries in order (an absent file is an empty trail); `_line` is the 1-based line."""
        if not self.path.exists():
            return []
        entries = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrailError(f"{self.path}: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(entry, dict):
                raise TrailError(f"{self.path}: line {number} is not a JSON object")
            entry["_line"] = number
            entries.append(entry)
        return entries

    def public_keys(self) -> list:
        public = self.key_folder / keys.PUBLIC_FILE
        return [keys.load_public_key(public)] if public.is_file() else []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock", timeout=self.lock_timeout_s):
            signer = keys.load_or_create_private_key(self.key_folder)

            def write(previous, action, model, version, actor, comment, details):
                entry = new_entry(previous, action, model, version, actor, comment, details, signer)
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                return entry

            yield Transaction(self.entries(), write)


class RemoteTrail:
    """The team server's trail, read with the caller's credentials; written only by the server."""

    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri.rstrip("/")

    def __str__(self) -> str:
        return f"{self.tracking_uri} (team server)"

    def entries(self) -> list[dict]:
        from creditmine.registry.http import get_json

        return list(get_json(self.tracking_uri, "trail")["entries"])

    def public_keys(self) -> list:
        """The server's public key: the file named by CREDITMINE_TRAIL_PUBLIC_KEY (pinned), else the
        one the server publishes."""
        from creditmine.registry.http import get_json

        if os.environ.get(ENV_PUBLIC_KEY):
            return [keys.load_public_key(os.environ[ENV_PUBLIC_KEY])]
        return [keys.load_public_key(get_json(self.tracking_uri, "public-key")["pem"].encode())]

    @contextlib.contextmanager
    def transaction(self):
        raise TrailError(f"{self}: only the team server writes its trail; use its review endpoints")
        yield  # pragma: no cover


def is_remote(tracking_uri: str) -> bool:
    return urlparse(tracking_uri).scheme in ("http", "https")


def store_folder(tracking_uri: str) -> Path:
    """The folder beside a local store that holds its trail, keys and review packs."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite":
        db_file = tracking_uri[len("sqlite:///"):]
        if not db_file or db_file.startswith(":memory:"):
            raise TrailError(f"in-memory tracking store {tracking_uri} has no place for an audit trail; "
                             f"set {ENV_AUDIT_TRAIL}")
        return Path(unquote(db_file)).resolve().parent
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path or tracking_uri)).resolve()
    raise TrailError(f"tracking URI {tracking_uri} is not a local store; set {ENV_AUDIT_TRAIL} to the trail file")


def open_trail(tracking_uri: str, lock_timeout_s: float = 300.0):
    """The trail of a store: the team server's for an http(s) URI, else `audit.jsonl` beside the
    SQLite file (CREDITMINE_AUDIT_TRAIL names another file)."""
    if is_remote(tracking_uri):
        return RemoteTrail(tracking_uri)
    if os.environ.get(ENV_AUDIT_TRAIL):
        return FileTrail(os.environ[ENV_AUDIT_TRAIL], lock_timeout_s)
    return FileTrail(store_folder(tracking_uri) / TRAIL_FILE, lock_timeout_s)
