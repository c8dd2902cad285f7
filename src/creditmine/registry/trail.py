"""The audit trail of the registry: a hash chain of signed entries, and what it says about each version.

Every entry carries the SHA-256 of the entry before it (`prev_hash`), its own hash (`hash`, over its
canonical JSON without `hash` and `signature`) and an Ed25519 signature of that hash by the trail's
key (`signature`, `key_id`). Editing an entry breaks its hash; recomputing the hash breaks its
signature; re-signing needs the private key, which only the writer of the trail holds (the team
server, or on a laptop the owner of the store). Deleting entries breaks the chain, and deleting the
last ones is caught by the anchors the writer keeps in the registry (`audit_head`, `audit_seq`).

The trail is the record of the review: a version's review state, its developer, its verdict and its
manifest hash are what the trail's signed entries say, never what an editable tag says. Where the
trail is stored (a JSON-lines file, a PostgreSQL table, the team server) is `creditmine.registry.trail_store`.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from creditmine.registry.keys import key_id
from creditmine.registry.manifest import canonical_json

__all__ = [
    "GENESIS_HASH", "HEAD_TAG", "MONITOR", "REFUSED", "SEQ_TAG", "STATE_OF_ACTION", "TrailError", "champion", "chain_problems",
    "entries_for", "entry_hash", "monitoring_blocks", "monitoring_record", "new_entry", "recorded_state", "registration",
    "registrations_of_run",
]

GENESIS_HASH = "0" * 64
HEAD_TAG, SEQ_TAG = "audit_head", "audit_seq"
# actions that set a version's review state, and the state they set
STATE_OF_ACTION = {"register": "pending", "approve": "approved", "reject": "rejected"}
REFUSED = "refused"
"""The action of an entry recording a refused attempt (who tried what, and why it was refused)."""
MONITOR = "monitor"
"""The action of an entry recording a monitoring verdict of a version (stage 06): its details hold the
verdict, the as-of date and whether a red verdict stops the version deciding (`blocks_decisions`)."""
_NOT_HASHED = ("hash", "signature", "_line")


class TrailError(RuntimeError):
    """The trail cannot be read, located or written; the message says where."""


def entry_hash(entry: dict) -> str:
    """SHA-256 of an entry's canonical JSON, leaving out `hash`, `signature` and the reader's `_line`."""
    return hashlib.sha256(canonical_json({k: v for k, v in entry.items() if k not in _NOT_HASHED})).hexdigest()


def new_entry(previous: dict | None, action: str, model: str, version, actor: str, comment: str,
              details: dict, signer: Ed25519PrivateKey) -> dict:
    """The entry following `previous` (None: the first), hashed and signed."""
    entry = {
        "seq": (int(previous["seq"]) + 1) if previous else 1,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "action": action,
        "model": model,
        "version": None if version is None else str(version),
        "actor": actor,
        "comment": comment,
        "details": details or {},
        "prev_hash": previous["hash"] if previous else GENESIS_HASH,
        "key_id": key_id(signer.public_key()),
    }
    entry["hash"] = entry_hash(entry)
    entry["signature"] = base64.b64encode(signer.sign(bytes.fromhex(entry["hash"]))).decode("ascii")
    return entry


def chain_problems(entries: list[dict], public_keys: list[Ed25519PublicKey]) -> list[str]:
    """Every broken link of the chain and every bad signature, each naming its entry.

    An entry is good when its hash recomputes, it follows the entry before it (`prev_hash`, `seq`),
    and its signature verifies with the public key its `key_id` names.
    """
    keys = {key_id(key): key for key in public_keys}
    problems: list[str] = []
    previous_hash, previous_seq = GENESIS_HASH, 0
    for position, entry in enumerate(entries, start=1):
        where = f"entry #{entry.get('seq', '?')} ({_place(entry, position)})"
        if entry.get("hash") != entry_hash(entry):
            problems.append(f"{where}: its content was changed (the hash does not recompute)")
        if entry.get("prev_hash") != previous_hash:
            problems.append(f"{where}: does not follow the entry before it (an entry was changed, removed or inserted)")
        if entry.get("seq") != previous_seq + 1:
            problems.append(f"{where}: sequence number {entry.get('seq')} after {previous_seq} (an entry is missing)")
        key = keys.get(entry.get("key_id"))
        if key is None:
            problems.append(f"{where}: signed by an unknown key {str(entry.get('key_id'))[:16]}")
        elif not _signature_ok(key, entry):
            problems.append(f"{where}: the signature does not verify (not written by the trail's key)")
        previous_hash = entry.get("hash")
        previous_seq = entry.get("seq") if isinstance(entry.get("seq"), int) else previous_seq + 1
    return problems


def entries_for(entries: list[dict], model: str, version=None) -> list[dict]:
    """The entries about `model` (and `version`, when given), in order."""
    wanted = None if version is None else str(version)
    return [e for e in entries if e.get("model") == model and (wanted is None or e.get("version") == wanted)]


def recorded_state(entries: list[dict], model: str, version) -> str | None:
    """The review state the trail gives a version (its latest register/approve/reject), or None."""
    state = None
    for entry in entries_for(entries, model, version):
        state = STATE_OF_ACTION.get(entry.get("action"), state)
    return state


def registration(entries: list[dict], model: str, version) -> dict | None:
    """The register entry of a version (its developer, run, manifest hash and verdict), or None."""
    return next((e for e in entries_for(entries, model, version) if e.get("action") == "register"), None)


def registrations_of_run(entries: list[dict], run_id: str) -> list[dict]:
    """Every register entry whose version was registered from MLflow run `run_id`."""
    return [e for e in entries if e.get("action") == "register" and (e.get("details") or {}).get("run_id") == run_id]


def monitoring_record(entries: list[dict], model: str, version) -> dict | None:
    """The latest monitoring entry of a version, or None."""
    return next((e for e in reversed(entries_for(entries, model, version)) if e.get("action") == MONITOR), None)


def monitoring_blocks(entries: list[dict], model: str, version) -> dict | None:
    """The monitoring entry that stops a version deciding (its latest, when red with
    `blocks_decisions`), or None."""
    record = monitoring_record(entries, model, version)
    details = (record or {}).get("details") or {}
    return record if details.get("verdict") == "red" and details.get("blocks_decisions") else None


def champion(entries: list[dict], model: str) -> tuple[str | None, str | None]:
    """(champion, previous champion) of a model as its latest promote or rollback set them."""
    current = previous = None
    for entry in entries_for(entries, model):
        if entry.get("action") in ("promote", "rollback"):
            details = entry.get("details") or {}
            current, previous = details.get("champion"), details.get("previous_champion")
    return (None if current is None else str(current)), (None if previous is None else str(previous))


def _signature_ok(key: Ed25519PublicKey, entry: dict) -> bool:
    try:
        key.verify(base64.b64decode(entry.get("signature") or ""), bytes.fromhex(str(entry.get("hash"))))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _place(entry: dict, position: int) -> str:
    return f"line {entry['_line']}" if "_line" in entry else f"row {position}"
