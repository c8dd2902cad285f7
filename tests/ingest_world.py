"""Helpers of the ingestion tests (test_ingest*.py): edit the files a user brings, read what
`creditmine ingest` wrote. Their fixtures, `world` and `source`, are in conftest.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
from click.testing import CliRunner

from creditmine.cli.data import ingest as ingest_command
from creditmine.data import io

WINDOW_END = date(2024, 12, 31)
AS_CSV = ("enterprises", "tax_filings", "invoices", "customs", "procurement_awards")


def _edit_csv(folder: Path, name: str, edit) -> pd.DataFrame:
    path = folder / f"{name}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = edit(frame)
    frame.to_csv(path, index=False)
    return frame


def _edit_parquet(folder: Path, name: str, edit) -> pd.DataFrame:
    frame = edit(io.read_table(folder, name))
    io.write_table(folder, name, pa.Table.from_pandas(frame, preserve_index=False))
    return frame


def _quarantine(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.quarantine.csv", dtype=str, keep_default_na=False)


def _deduplicated(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.deduplicated.csv", dtype=str, keep_default_na=False)


def _counts(report, name: str) -> tuple[int, int, int, int, int]:
    row = report.to_frame().set_index("table").loc[name]
    return tuple(int(row[c]) for c in ("read", "accepted", "deduplicated", "quarantined", "key_conflicts"))


def _run_cli(source: Path, out: Path, *extra: str, as_of: str | None = "2024-12-31"):
    args = ["--source", str(source), "--out", str(out), *(["--as-of", as_of] if as_of else []), *extra]
    result = CliRunner().invoke(ingest_command, args)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


# -- clean data ---------------------------------------------------------------------------------
