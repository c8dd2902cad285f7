"""Ingestion refuses what would mislead a reader: too many rejects, duplicates, dates past the window.

Each case goes through `creditmine ingest` (click's CliRunner) and the files it writes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from creditmine.data import io
from creditmine.data.ingest import IngestError, ingest
from test_ingest import WINDOW_END, _edit_parquet, _quarantine, _run_cli, source, world  # noqa: F401  (fixtures)

# -- cross-table: an application cannot predate its enterprise ----------------------------------------


def test_an_application_before_the_enterprise_registration_is_quarantined(source, tmp_path):
    firms = pd.read_csv(source / "enterprises.csv", dtype=str).set_index("enterprise_id")["registered_at"]

    def early(frame):
        registered = pd.to_datetime(frame["enterprise_id"].map(firms))
        frame.loc[0, "applied_at"] = registered[0] - pd.Timedelta(days=1)
        frame.loc[1, "applied_at"] = registered[1]                       # on the day: fine
        return frame

    _edit_parquet(source, "applications", early)
    result = _run_cli(source, tmp_path / "out")
    assert result.exit_code == 0, result.output
    q = _quarantine(tmp_path / "out", "applications")
    assert q["source_row"].tolist() == ["1"]
    assert q.loc[0, "rule"] == "applied_at is before the enterprise's registration (enterprises.registered_at)"


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
