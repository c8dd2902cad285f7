"""Ingestion refuses what would mislead a reader: too many rejects, duplicates, dates past the window.

Each case goes through `creditmine ingest` (click's CliRunner) and the files it writes.
"""

from __future__ import annotations

import pytest

from creditmine.data import io
from creditmine.data.ingest import IngestError, ingest
from test_ingest import WINDOW_END, _run_cli, source, world  # noqa: F401  (fixtures)

# -- _SUCCESS is removed before anything is written ----------------------------------------------------


def test_a_refused_reingest_removes_the_previous_success_marker(source, tmp_path):
    out = tmp_path / "out"
    assert _run_cli(source, out).exit_code == 0 and (out / io.SUCCESS_MARKER).is_file()
    (source / "customs.csv").write_bytes(b"")
    result = _run_cli(source, out)
    assert result.exit_code != 0 and "customs.csv: empty file" in result.output
    assert not (out / io.SUCCESS_MARKER).exists()
    (out / io.SUCCESS_MARKER).write_text("stale")
    with pytest.raises(IngestError, match="source folder not found"):
        ingest(tmp_path / "nowhere", out, as_of=WINDOW_END)
    assert not (out / io.SUCCESS_MARKER).exists()
