"""The audit trail: a hash chain that `verify` breaks on any edited, deleted or inserted entry.

The chain is checked alone, and with its anchors in a real MLflow SQLite registry (the `audit_head`
tags), which is what catches the deletion of the last entries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from creditmine.registry import audit

MODEL = "creditmine-audit"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def trail_uri(tmp_path):
    """A tracking URI whose audit trail holds five entries (no registry anchors)."""
    uri = f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').as_posix()}"
    for i, action in enumerate(["register", "approve", "promote", "register", "reject"]):
        audit.append(uri, action, "creditmine-x", str(1 + i // 3), actor=f"user{i}", comment=f"step {i}")
    return uri


def test_location_follows_the_tracking_uri_or_the_environment(tmp_path, monkeypatch):
    assert audit.audit_path(f"sqlite:///{tmp_path}/mlruns/mlflow.db") == tmp_path / "mlruns" / "audit.jsonl"
    monkeypatch.setenv(audit.ENV_AUDIT_TRAIL, str(tmp_path / "elsewhere.jsonl"))
    assert audit.audit_path("http://mlflow.example:5000") == tmp_path / "elsewhere.jsonl"
    monkeypatch.delenv(audit.ENV_AUDIT_TRAIL)
    with pytest.raises(audit.AuditError, match=audit.ENV_AUDIT_TRAIL):
        audit.audit_path("http://mlflow.example:5000")


def test_entries_link_to_the_one_before(trail_uri):
    entries = audit.read_trail(audit.audit_path(trail_uri))
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == audit.GENESIS_HASH
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"] == audit.entry_hash(before)
    assert audit.verify(trail_uri).ok


def test_edited_entry_fails_verification(trail_uri):
    path = audit.audit_path(trail_uri)
    lines = _lines(path)
    entry = json.loads(lines[1])
    entry["actor"] = "someone-else"
    lines[1] = json.dumps(entry, sort_keys=True)
    _write(path, lines)
    report = audit.verify(trail_uri)
    assert not report.ok and "line 2: entry was edited" in report.describe()


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(trail_uri):
    path = audit.audit_path(trail_uri)
    lines = _lines(path)
    entry = json.loads(lines[1])
    entry["comment"] = "approved after all"
    entry["hash"] = audit.entry_hash(entry)
    lines[1] = json.dumps(entry, sort_keys=True)
    _write(path, lines)
    report = audit.verify(trail_uri)
    assert not report.ok and "line 3: does not follow" in report.describe()


def test_deleted_entry_fails_verification(trail_uri):
    path = audit.audit_path(trail_uri)
    lines = _lines(path)
    _write(path, lines[:2] + lines[3:])
    report = audit.verify(trail_uri)
    assert not report.ok and "line 3" in report.describe()


def test_garbled_line_is_named(trail_uri):
    path = audit.audit_path(trail_uri)
    _write(path, _lines(path) + ["{oops"])
    report = audit.verify(trail_uri)
    assert not report.ok and "line 6 is not JSON" in report.describe()


def test_state_and_manifest_as_recorded():
    entries = [
        {"model": "m", "version": "1", "action": "register", "details": {"manifest_hash": "a"}},
        {"model": "m", "version": "1", "action": "amend-manifest", "details": {"manifest_hash": "b"}},
        {"model": "m", "version": "1", "action": "approve", "details": {}},
        {"model": "m", "version": "2", "action": "register", "details": {"manifest_hash": "c"}},
    ]
    assert audit.recorded_state(entries, "m", 1) == "approved"
    assert audit.recorded_state(entries, "m", 2) == "pending"
    assert audit.recorded_state(entries, "m", 3) is None
    assert audit.recorded_manifest_hash(entries, "m", 1) == "b"


# -- with registry anchors --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    """A real MLflow SQLite registry with a model, two versions and their audit entries."""
    from creditmine.registry.store import connect

    root = tmp_path_factory.mktemp("anchored")
    uri = f"sqlite:///{(root / 'mlruns' / 'mlflow.db').as_posix()}"
    client = connect(uri)
    source = root / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    client.create_registered_model(MODEL)
    for _ in range(2):
        mv = client.create_model_version(MODEL, source=source.as_uri())
        audit.append(uri, "register", MODEL, mv.version, "dana", client=client)
    audit.append(uri, "approve", MODEL, "1", "rui", "fine", client=client)
    return {"uri": uri, "client": client, "path": audit.audit_path(uri)}


@pytest.fixture
def restore(anchored):
    original = anchored["path"].read_text(encoding="utf-8")
    yield anchored
    anchored["path"].write_text(original, encoding="utf-8")


def test_anchors_hold_the_latest_entry(anchored):
    report = audit.verify(anchored["uri"], anchored["client"])
    assert report.ok, report.describe()
    mv = anchored["client"].get_model_version(MODEL, "1")
    assert mv.tags[audit.SEQ_TAG] == "3"


def test_deleting_the_last_entry_is_caught_by_the_anchors(restore):
    _write(restore["path"], _lines(restore["path"])[:-1])
    assert audit.verify(restore["uri"]).ok  # the shortened chain alone still links up
    report = audit.verify(restore["uri"], restore["client"])
    assert not report.ok and "missing from the trail" in report.describe()


def test_deleting_the_whole_trail_is_caught(restore):
    restore["path"].unlink()
    report = audit.verify(restore["uri"], restore["client"], model=MODEL)
    assert not report.ok and f"{MODEL} version 1" in report.describe()


def test_cli_verify_fails_on_an_edited_entry_and_log_prints_the_trail(restore):
    from creditmine.cli.review import review

    runner = CliRunner()
    args = ["--tracking-uri", restore["uri"]]
    assert runner.invoke(review, ["verify", *args]).exit_code == 0
    log = runner.invoke(review, ["log", MODEL, *args])
    assert log.exit_code == 0 and log.output.count("register") == 2 and "approve" in log.output
    lines = _lines(restore["path"])
    lines[0] = lines[0].replace('"dana"', '"mallory"')
    _write(restore["path"], lines)
    result = runner.invoke(review, ["verify", *args])
    assert result.exit_code == 1 and "verification failed" in result.output
    assert "line 1: entry was edited" in result.output
