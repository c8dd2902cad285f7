"""The audit trail: a hash chain of Ed25519-signed entries that `verify` breaks on any edit.

Each attack edits the JSON-lines file as a person with the file (and not the private key) would:
an edited entry, an edited entry with its hash recomputed, a chain re-signed with another key, an
entry removed or inserted, a garbled line. With anchors in a real MLflow SQLite registry (the
`audit_head`/`audit_seq` tags), cutting the last entries or deleting the anchors is caught too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from creditmine.registry import keys
from creditmine.registry.trail import (
    GENESIS_HASH, HEAD_TAG, REFUSED, SEQ_TAG, TrailError, chain_problems, champion, entry_hash, new_entry,
    recorded_state, registration,
)
from creditmine.registry.trail_store import ENV_AUDIT_TRAIL, FileTrail, open_trail

MODEL = "creditmine-audit"
STEPS = [("register", "1", "dana"), ("approve", "1", "rui"), ("promote", "1", "rui"),
         ("register", "2", "dana"), ("reject", "2", "li")]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _problems(trail: FileTrail) -> list[str]:
    return chain_problems(trail.entries(), trail.public_keys())


@pytest.fixture
def trail(tmp_path) -> FileTrail:
    """A trail of five signed entries, written through the writer's transaction."""
    trail = FileTrail(tmp_path / "mlruns" / "audit.jsonl")
    for action, version, actor in STEPS:
        details = {"champion": version, "previous_champion": None} if action == "promote" else {}
        with trail.transaction() as tx:
            tx.append(action, MODEL, version, actor, f"{action} {version}", details)
    return trail


def test_location_follows_the_store_or_the_environment(tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert open_trail(store).path == tmp_path / "mlruns" / "audit.jsonl"
    monkeypatch.setenv(ENV_AUDIT_TRAIL, str(tmp_path / "elsewhere.jsonl"))
    assert open_trail(store).path == tmp_path / "elsewhere.jsonl"
    monkeypatch.delenv(ENV_AUDIT_TRAIL)
    with pytest.raises(TrailError, match="in-memory"):
        open_trail("sqlite:///:memory:")
    assert "team server" in str(open_trail("http://127.0.0.1:5100"))


def test_entries_link_up_and_are_signed(trail):
    entries = trail.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"] == entry_hash(before)
    assert {e["key_id"] for e in entries} == {keys.key_id(trail.public_keys()[0])}
    assert _problems(trail) == []
    # the key is the owner's alone
    private = trail.key_folder / keys.PRIVATE_FILE
    assert private.stat().st_mode & 0o077 == 0


def test_edited_entry_is_named(trail):
    lines = _lines(trail.path)
    entry = json.loads(lines[1])
    entry["actor"] = "someone-else"
    lines[1] = json.dumps(entry, sort_keys=True)
    _write(trail.path, lines)
    assert _problems(trail) == ["entry #2 (line 2): its content was changed (the hash does not recompute)"]


def test_edited_entry_with_recomputed_hash_fails_its_signature(trail):
    lines = _lines(trail.path)
    entry = json.loads(lines[1])
    entry["comment"] = "approved after all"
    entry["hash"] = entry_hash(entry)
    lines[1] = json.dumps(entry, sort_keys=True)
    _write(trail.path, lines)
    problems = _problems(trail)
    assert "entry #2 (line 2): the signature does not verify (not written by the trail's key)" in problems
    assert any(p.startswith("entry #3 (line 3): does not follow") for p in problems)


def test_a_forged_approval_with_recomputed_hashes_and_another_key_is_caught(trail):
    """The attacker rewrites the whole chain (rejection dropped, actor renamed) and signs it with
    a key of their own: every entry names an unknown key."""
    forger = Ed25519PrivateKey.generate()
    entries = trail.entries()[:4]
    entries[0]["actor"] = "mallory"
    rewritten, previous = [], None
    for e in entries:
        previous = new_entry(previous, e["action"], e["model"], e["version"], e["actor"], e["comment"], e["details"], forger)
        rewritten.append(json.dumps(previous, sort_keys=True))
    rewritten.append(json.dumps(new_entry(previous, "approve", MODEL, "2", "rui", "forged", {}, forger), sort_keys=True))
    _write(trail.path, rewritten)
    problems = _problems(trail)
    assert len(problems) == 5 and all("signed by an unknown key" in p for p in problems)
    assert problems[0].startswith("entry #1 (line 1)")


def test_removed_and_inserted_entries_are_caught(trail):
    lines = _lines(trail.path)
    _write(trail.path, lines[:2] + lines[3:])
    problems = _problems(trail)
    assert any(p.startswith("entry #4 (line 3): does not follow") for p in problems)
    assert any("sequence number 4 after 2" in p for p in problems)
    _write(trail.path, lines[:2] + [lines[1]] + lines[2:])
    assert any(p.startswith("entry #2 (line 3)") for p in _problems(trail))


def test_garbled_line_is_named(trail):
    _write(trail.path, [*_lines(trail.path), "{oops"])
    with pytest.raises(TrailError, match="audit.jsonl: line 6 is not JSON"):
        trail.entries()


def test_state_champion_and_registration_as_recorded(trail):
    entries = trail.entries()
    assert recorded_state(entries, MODEL, 1) == "approved"
    assert recorded_state(entries, MODEL, 2) == "rejected"
    assert recorded_state(entries, MODEL, 3) is None
    assert registration(entries, MODEL, 2)["actor"] == "dana"
    assert champion(entries, MODEL) == ("1", None)
    # a refused attempt changes no state
    with trail.transaction() as tx:
        tx.append(REFUSED, MODEL, "2", "mallory", "not a validator", {"attempted": "approve"})
    assert recorded_state(trail.entries(), MODEL, 2) == "rejected"
    assert _problems(trail) == []


def test_concurrent_writers_never_fork_the_chain(tmp_path):
    """Eight threads appending at once through separate FileTrail objects (as separate processes
    would) leave one unbroken chain."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "audit.jsonl"

    def append(i: int) -> None:
        with FileTrail(path).transaction() as tx:
            tx.append("refused", MODEL, str(i), f"user{i}", "", {})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(40)))
    trail = FileTrail(path)
    assert len(trail.entries()) == 40 and _problems(trail) == []


# -- with registry anchors --------------------------------------------------------------------------

@pytest.fixture
def anchored(tmp_path):
    """A real MLflow SQLite registry with one model whose anchors name the trail's last entry."""
    from creditmine.registry.gate import registry_for

    uri = f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').as_posix()}"
    registry = registry_for(uri)
    registry.ensure_registered_model(MODEL, "test model")
    trail = open_trail(uri)
    for action, version, actor in STEPS:
        with trail.transaction() as tx:
            entry = tx.append(action, MODEL, version, actor, action, {})
            registry.set_model_tags(MODEL, {HEAD_TAG: entry["hash"], SEQ_TAG: str(entry["seq"])})
    return {"uri": uri, "registry": registry, "trail": trail}


def test_anchors_hold_the_latest_entry(anchored):
    from creditmine.registry.gate import trail_problems

    assert trail_problems(anchored["trail"], anchored["registry"]) == []
    assert anchored["registry"].model_tags(MODEL)[SEQ_TAG] == "5"


def test_cutting_the_last_entries_is_caught_by_the_anchors(anchored):
    from creditmine.registry.gate import trail_problems

    path = anchored["trail"].path
    _write(path, _lines(path)[:-1])  # the rejection of version 2 is gone
    assert _problems(anchored["trail"]) == []  # the shortened chain alone still links up
    problems = trail_problems(anchored["trail"], anchored["registry"], MODEL)
    assert problems == [f"model {MODEL}: its last recorded action #5 ({anchored['registry'].model_tags(MODEL)[HEAD_TAG][:12]}) "
                        "is missing from the trail"]


def test_deleting_the_anchors_or_the_trail_is_caught(anchored):
    from creditmine.registry.gate import trail_problems

    client = anchored["registry"].client
    original = anchored["trail"].path.read_text()
    anchored["trail"].path.unlink()
    assert any("is missing from the trail" in p for p in trail_problems(anchored["trail"], anchored["registry"], MODEL))
    anchored["trail"].path.write_text(original)
    client.delete_registered_model_tag(MODEL, HEAD_TAG)
    client.delete_registered_model_tag(MODEL, SEQ_TAG)
    assert trail_problems(anchored["trail"], anchored["registry"], MODEL) == [
        f"model {MODEL}: has trail entries but no anchor"]


def test_cli_verify_names_the_first_bad_entry_and_log_prints_the_trail(anchored):
    from creditmine.cli.review import review

    runner = CliRunner()
    args = ["--tracking-uri", anchored["uri"]]
    result = runner.invoke(review, ["verify", *args])
    assert result.exit_code == 0 and "5 entries, chain, signatures and anchors" in result.output
    log = runner.invoke(review, ["log", MODEL, *args])
    actions = [line.split()[2] for line in log.output.splitlines()]
    assert log.exit_code == 0 and actions == [action for action, _, _ in STEPS]
    path = anchored["trail"].path
    lines = _lines(path)
    lines[0] = lines[0].replace('"dana"', '"mallory"')
    _write(path, lines)
    result = runner.invoke(review, ["verify", *args])
    assert result.exit_code == 1 and "verification failed" in result.output
    assert "FAIL entry #1 (line 1): its content was changed" in result.output
