"""A tamper-evident audit trail of registry actions: a hash chain in a JSON-lines file, anchored in MLflow.

Every entry carries the SHA-256 of the entry before it (`prev_hash`) and its own hash (`hash`, over
its canonical JSON without the `hash` key), so editing or deleting an entry breaks the chain at that
point. Deleting the *last* entries would leave a shorter chain that still links up; to catch that,
each append also writes the new entry's hash and sequence number as tags (`audit_head`,
`audit_seq`) on the registered model and on the model version it concerns. `verify` checks that every
such anchor points at an entry of the chain that is the latest one for its model (or version).

Where the trail lives: the environment variable ``CREDITMINE_AUDIT_TRAIL`` (a file path) when set,
otherwise ``audit.jsonl`` beside the SQLite file of a ``sqlite:///`` tracking URI (so
``mlruns/audit.jsonl`` for the project's embedded store), or inside the folder of a ``file:`` URI.
A served model or a batch job therefore only needs the tracking URI to find it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlparse

from filelock import FileLock

from creditmine.registry.manifest import canonical_json

ENV_AUDIT_TRAIL = "CREDITMINE_AUDIT_TRAIL"
GENESIS_HASH = "0" * 64
HEAD_TAG = "audit_head"
SEQ_TAG = "audit_seq"
# actions that set a version's review state, and the state they set
STATE_OF_ACTION = {"register": "pending", "approve": "approved", "reject": "rejected"}


class AuditError(RuntimeError):
    """The audit trail is unreadable or cannot be located."""


@dataclass(frozen=True)
class AuditReport:
    """The result of `verify`.

    Attributes
    ----------
    path : the trail file.
    entries : number of entries read.
    problems : one line per failed check, naming the entry (1-based line) or the anchor.
    """

    path: Path
    entries: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            return f"audit trail {self.path}: {self.entries} entries, chain and anchors intact"
        return f"audit trail {self.path} does not verify: " + "; ".join(self.problems)


def audit_path(tracking_uri: str) -> Path:
    """The audit-trail file of a tracking store (see the module docstring)."""
    if os.environ.get(ENV_AUDIT_TRAIL):
        return Path(os.environ[ENV_AUDIT_TRAIL])
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite":
        db_file = tracking_uri[len("sqlite:///"):]
        if not db_file or db_file.startswith(":memory:"):
            raise AuditError(f"in-memory tracking store {tracking_uri} has no place for an audit trail; set {ENV_AUDIT_TRAIL}")
        return Path(unquote(db_file)).resolve().parent / "audit.jsonl"
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path or tracking_uri)).resolve() / "audit.jsonl"
    raise AuditError(f"tracking URI {tracking_uri} is not a local store; set {ENV_AUDIT_TRAIL} to the audit-trail file")


def append(
    tracking_uri: str,
    action: str,
    model: str,
    version: str | int | None,
    actor: str,
    comment: str = "",
    details: dict | None = None,
    client=None,
    lock_timeout_s: float = 300.0,
) -> dict:
    """Append one entry to the trail and, given an MLflow `client`, anchor it in the registry.

    Parameters
    ----------
    tracking_uri : locates the trail (`audit_path`).
    action : what happened: register, approve, reject, promote, rollback, amend-manifest, ...
    model, version : the registered model and version concerned (version None: the model).
    actor : who did it (the reviewer or the developer).
    comment : free text given by the actor.
    details : JSON-serialisable facts of the action (manifest hash, aliases moved, ...).
    client : an `mlflow.MlflowClient`; when given, `audit_head`/`audit_seq` tags are set on the
        registered model and the version while the trail's lock is held.

    Returns
    -------
    dict, the entry as written (with `seq`, `prev_hash`, `hash`).
    """
    path = audit_path(tracking_uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=lock_timeout_s):
        entries = read_trail(path)
        previous = entries[-1] if entries else None
        entry = {
            "seq": (previous["seq"] + 1) if previous else 1,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "action": action,
            "model": model,
            "version": None if version is None else str(version),
            "actor": actor,
            "comment": comment,
            "details": details or {},
            "prev_hash": previous["hash"] if previous else GENESIS_HASH,
        }
        entry["hash"] = entry_hash(entry)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if client is not None:
            _anchor(client, entry)
    return entry


def read_trail(path: str | os.PathLike) -> list[dict]:
    """The entries of a trail file in order (an absent file is an empty trail).

    Raises
    ------
    AuditError naming the file and line of an entry that is not a JSON object.
    """
    path = Path(path)
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AuditError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(entry, dict):
            raise AuditError(f"{path}: line {number} is not a JSON object")
        entry["_line"] = number
        entries.append(entry)
    return entries


def entry_hash(entry: dict) -> str:
    """SHA-256 of an entry's canonical JSON, leaving out `hash` and the reader's `_line`."""
    body = {k: v for k, v in entry.items() if k not in ("hash", "_line")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def verify(tracking_uri: str, client=None, model: str | None = None) -> AuditReport:
    """Check the chain and, given an MLflow `client`, the registry's anchors.

    Chain: every entry's `hash` recomputes, its `prev_hash` is the previous entry's hash (the first
    one's is 64 zeros), and `seq` counts up by one. Anchors: for every registered model (only
    `model` when given) and each of its versions carrying an `audit_head` tag, the chain holds an
    entry with that hash and sequence number, and it is the latest entry for that model / version.
    """
    path = audit_path(tracking_uri)
    try:
        entries = read_trail(path)
    except AuditError as exc:
        return AuditReport(path, 0, (str(exc),))
    problems = list(_chain_problems(entries))
    if client is not None:
        problems.extend(_anchor_problems(client, entries, model))
    return AuditReport(path, len(entries), tuple(problems))


def entries_for(entries: list[dict], model: str, version: str | int | None = None) -> list[dict]:
    """The entries about `model` (and `version`, when given), in order."""
    wanted = None if version is None else str(version)
    return [
        e for e in entries
        if e.get("model") == model and (wanted is None or e.get("version") == wanted)
    ]


def recorded_state(entries: list[dict], model: str, version: str | int) -> str | None:
    """The review state the trail gives a version (its latest register/approve/reject), or None."""
    state = None
    for entry in entries_for(entries, model, version):
        state = STATE_OF_ACTION.get(entry.get("action"), state)
    return state


def recorded_manifest_hash(entries: list[dict], model: str, version: str | int) -> str | None:
    """The manifest hash last recorded in the trail for a version, or None."""
    found = None
    for entry in entries_for(entries, model, version):
        found = (entry.get("details") or {}).get("manifest_hash", found)
    return found


def _chain_problems(entries: list[dict]):
    previous_hash, previous_seq = GENESIS_HASH, 0
    for entry in entries:
        where = f"line {entry['_line']}"
        if entry.get("hash") != entry_hash(entry):
            yield f"{where}: entry was edited (its hash does not recompute)"
        if entry.get("prev_hash") != previous_hash:
            yield f"{where}: does not follow the entry before it (an entry was edited, removed or inserted)"
        if entry.get("seq") != previous_seq + 1:
            yield f"{where}: sequence number {entry.get('seq')} after {previous_seq} (an entry is missing)"
        previous_hash = entry.get("hash")
        previous_seq = entry.get("seq") if isinstance(entry.get("seq"), int) else previous_seq + 1


def _anchor_problems(client, entries: list[dict], model: str | None):
    from mlflow.exceptions import MlflowException

    if model is not None:
        try:
            models = [client.get_registered_model(model)]
        except MlflowException:
            models = []
    else:
        models = list(_all_registered_models(client))
    for registered in models:
        name = registered.name
        yield from _check_anchor(registered.tags, entries_for(entries, name), f"model {name}")
        for version in client.search_model_versions(f"name='{name}'"):
            yield from _check_anchor(
                version.tags, entries_for(entries, name, version.version), f"{name} version {version.version}"
            )


def _check_anchor(tags: dict, own_entries: list[dict], what: str):
    head = tags.get(HEAD_TAG)
    if head is None:
        return
    if not own_entries:
        yield f"{what}: its last recorded action ({head[:12]}) is missing from the trail"
        return
    latest = own_entries[-1]
    if latest.get("hash") != head or str(latest.get("seq")) != tags.get(SEQ_TAG):
        known = any(e.get("hash") == head for e in own_entries)
        if known:
            yield f"{what}: actions recorded after #{tags.get(SEQ_TAG)} are not in the registry"
        else:
            yield f"{what}: its last recorded action #{tags.get(SEQ_TAG)} ({head[:12]}) is missing from the trail"


def _all_registered_models(client):
    token = None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        yield from page
        token = page.token
        if not token:
            break


def _anchor(client, entry: dict) -> None:
    tags = {HEAD_TAG: entry["hash"], SEQ_TAG: str(entry["seq"])}
    for key, value in tags.items():
        client.set_registered_model_tag(entry["model"], key, value)
        if entry["version"] is not None:
            client.set_model_version_tag(entry["model"], entry["version"], key, value)
