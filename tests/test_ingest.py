"""Ingestion of a user's files: nothing silently dropped or coerced, every rejection explained."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from creditmine.cli.data import generate
from creditmine.data import io, synthetic
from creditmine.data.ingest import IngestError, ingest
from ingest_world import (
    WINDOW_END,
    _deduplicated,
    _edit_csv,
    _quarantine,
    _run_cli,
)


def test_clean_files_are_accepted_unchanged(world, source, tmp_path):
    out = tmp_path / "out"
    report = ingest(source, out, as_of=WINDOW_END)
    assert report.reconciled and report.quarantined_total == 0
    for name in io.TABLES:
        pd.testing.assert_frame_equal(io.read_table(out, name), io.read_table(world, name), check_exact=True)
        assert _quarantine(out, name).empty
    assert (out / io.SUCCESS_MARKER).is_file()
    assert all(_deduplicated(out, name).empty for name in io.TABLES)
    result = _run_cli(source, tmp_path / "cli")
    assert result.exit_code == 0
    assert "as-of 2024-12-31, as given" in result.output
    assert "every table reconciles: read = accepted + deduplicated + quarantined" in result.output
    assert "MISMATCH" not in result.output


# -- rows are quarantined with their rule and row number ----------------------------------------


def test_negative_amount_is_quarantined_with_original_values(source, tmp_path):
    def edit(frame):
        frame.loc[3, "value_cny"] = "-120.5"
        return frame

    frame = _edit_csv(source, "customs", edit)
    report = ingest(source, tmp_path / "out", as_of=WINDOW_END)
    row = report.to_frame().set_index("table").loc["customs"]
    assert (row["read"], row["accepted"], row["quarantined"]) == (len(frame), len(frame) - 1, 1)
    q = _quarantine(tmp_path / "out", "customs")
    assert q.loc[0, "source_row"] == "4" and q.loc[0, "source_file"] == "customs.csv"
    assert q.loc[0, "value_cny"] == "-120.5" and q.loc[0, "declaration_id"] == frame.loc[3, "declaration_id"]
    assert "value_cny must be >= 0" in q.loc[0, "rule"]


def test_value_that_does_not_parse_is_rejected_not_coerced(source, tmp_path):
    def edit(frame):
        frame.loc[0, "amount_cny"] = "1.234,50"
        frame.loc[1, "issued_at"] = "03/02/2022"
        return frame

    _edit_csv(source, "invoices", edit)
    ingest(source, tmp_path / "out", as_of=WINDOW_END)
    q = _quarantine(tmp_path / "out", "invoices").set_index("source_row")
    assert "amount_cny: '1.234,50' is not a valid number" in q.loc["1", "rule"]
    assert "issued_at: '03/02/2022' is not a valid date (YYYY-MM-DD)" in q.loc["2", "rule"]
    assert q.loc["2", "issued_at"] == "03/02/2022"


def test_dangling_foreign_key_and_its_cascade(source, tmp_path):
    def orphan(frame):
        frame.loc[2, "enterprise_id"] = "91350100M000100Y43"   # valid code, unknown enterprise
        return frame

    _edit_csv(source, "tax_filings", orphan)
    enterprises = _edit_csv(source, "enterprises", lambda f: f.assign(district=f["district"].where(f.index != 0, "Pudong")))
    ingest(source, tmp_path / "out", as_of=WINDOW_END)
    q = _quarantine(tmp_path / "out", "tax_filings")
    rules = q.set_index("source_row")["rule"]
    assert "foreign key: enterprise_id not found in enterprises" in rules["3"]
    rejected_firm = enterprises.loc[0, "enterprise_id"]
    assert (q["enterprise_id"] == rejected_firm).sum() > 0       # its filings follow it into quarantine
    assert "district must be one of" in _quarantine(tmp_path / "out", "enterprises").loc[0, "rule"]
    assert rejected_firm not in set(io.read_table(tmp_path / "out", "invoices")["enterprise_id"])


def test_future_dated_record_is_quarantined(source, tmp_path):
    _edit_csv(source, "invoices", lambda f: f.assign(issued_at=f["issued_at"].where(f.index != 7, "2030-01-01")))
    ingest(source, tmp_path / "out", as_of=WINDOW_END)
    q = _quarantine(tmp_path / "out", "invoices")
    assert q["source_row"].tolist() == ["8"]
    assert "issued_at must not be after the end of the data window 2024-12-31" in q.loc[0, "rule"]


def test_unknown_category_is_quarantined(source, tmp_path):
    _edit_csv(source, "invoices", lambda f: f.assign(direction=f["direction"].where(f.index != 1, "refund")))
    ingest(source, tmp_path / "out", as_of=WINDOW_END)
    q = _quarantine(tmp_path / "out", "invoices")
    assert q["source_row"].tolist() == ["2"] and "direction must be one of sales, purchase" in q.loc[0, "rule"]


# -- files that cannot be ingested stop with a clear one-line message ---------------------------


def _assert_fails(source: Path, tmp_path: Path, *fragments: str) -> None:
    with pytest.raises(IngestError) as info:
        ingest(source, tmp_path / "out", as_of=WINDOW_END)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    result = _run_cli(source, tmp_path / "cli")
    assert result.exit_code != 0
    for fragment in fragments:
        assert fragment in result.output


def test_missing_column(source, tmp_path):
    _edit_csv(source, "enterprises", lambda f: f.drop(columns=["district"]))
    _assert_fails(source, tmp_path, "enterprises.csv", "missing column district")


def test_wrong_type_in_parquet(source, tmp_path):
    path = source / "electricity.parquet"
    table = pq.read_table(path)
    table = table.set_column(table.column_names.index("kwh"), "kwh", table.column("kwh").cast(pa.string()))
    pq.write_table(table, path)
    _assert_fails(source, tmp_path, "electricity.parquet", "column kwh has type string, expected double", "mistyped column")


def test_wrong_type_in_csv(source, tmp_path):
    _edit_csv(source, "tax_filings", lambda f: f.assign(vat_paid_cny="paid"))
    _assert_fails(source, tmp_path, "tax_filings.csv", "column vat_paid_cny", "mistyped column")


def test_missing_file(source, tmp_path):
    (source / "customs.csv").unlink()
    _assert_fails(source, tmp_path, "customs.csv (or .parquet): file missing for table 'customs'")


def test_empty_file(source, tmp_path):
    (source / "customs.csv").write_bytes(b"")
    _assert_fails(source, tmp_path, "customs.csv: empty file")


def test_header_only_file_is_an_empty_table(source, tmp_path):
    header = (source / "customs.csv").read_text(encoding="utf-8").splitlines()[0]
    (source / "customs.csv").write_text(header + "\n", encoding="utf-8")
    report = ingest(source, tmp_path / "out", as_of=WINDOW_END)
    assert report.to_frame().set_index("table").loc["customs", "read"] == 0
    assert len(io.read_table(tmp_path / "out", "customs")) == 0


def test_non_utf8_csv(source, tmp_path):
    path = source / "procurement_awards.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    _assert_fails(source, tmp_path, "procurement_awards.csv: not UTF-8 text", "line 2")


def test_truncated_parquet(source, tmp_path):
    path = source / "applications.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _assert_fails(source, tmp_path, "applications.parquet: not a readable Parquet file")


def test_several_broken_files_are_all_named(source, tmp_path):
    (source / "customs.csv").write_bytes(b"")
    _edit_csv(source, "enterprises", lambda f: f.drop(columns=["high_tech"]))
    _assert_fails(source, tmp_path, "customs.csv: empty file", "enterprises.csv: missing column high_tech")


def test_generate_command_writes_the_tables(tmp_path):
    result = CliRunner().invoke(generate, ["--enterprises", "40", "--seed", "1", "--out", str(tmp_path / "w"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert synthetic.is_complete(tmp_path / "w") and "invoices" in result.output
    bad = CliRunner().invoke(generate, ["--enterprises", "40", "--start", "2024-13", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "invalid generation settings" in bad.output and "Traceback" not in bad.output


def test_blank_line_is_a_rejected_row_not_a_silent_skip(source, tmp_path):
    path = source / "customs.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "")                     # between data rows 2 and 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(source, tmp_path / "out", as_of=WINDOW_END)
    row = report.to_frame().set_index("table").loc["customs"]
    assert row["read"] == len(lines) - 1 and row["quarantined"] == 1
    q = _quarantine(tmp_path / "out", "customs")
    assert q.loc[0, "source_row"] == "3" and "declaration_id must not be empty" in q.loc[0, "rule"]
