"""Ingestion refuses what would mislead a reader: too many rejects, duplicates, dates past the window.

Each case goes through `creditmine ingest` (click's CliRunner) and the files it writes.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from creditmine.cli.data import ingest as ingest_command
from creditmine.data import io
from creditmine.data.ingest import (
    MAX_QUARANTINE_SHARE,
    IngestError,
    QuarantineLimitExceeded,
    ingest,
)
from ingest_world import (
    WINDOW_END,
    _counts,
    _deduplicated,
    _edit_csv,
    _edit_parquet,
    _quarantine,
    _run_cli,
)

# -- a table with too many rows quarantined fails, and loses nothing ----------------------------------


def _money_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """taxable_sales_cny written with thousands separators, as a spreadsheet exports it; one value parses."""
    frame["taxable_sales_cny"] = [f"{float(v):,.2f}" for v in frame["taxable_sales_cny"]]
    frame.loc[4, "taxable_sales_cny"] = "850.00"
    return frame


def test_a_table_over_the_quarantine_share_fails_naming_table_share_and_reason(source, tmp_path):
    frame = _edit_csv(source, "tax_filings", _money_as_text)
    n = len(frame)
    out = tmp_path / "out"
    result = _run_cli(source, out)
    assert result.exit_code != 0
    assert f"table 'tax_filings' ({source / 'tax_filings.csv'}): {n - 1:,} of {n:,} rows quarantined" in result.output
    assert "more than the maximum share 5.0% (--max-quarantine-share)" in result.output
    assert "most common reason: taxable_sales_cny is not a valid number" in result.output
    assert "no _SUCCESS written" in result.output
    assert "every table reconciles" in result.output           # the reconciliation is printed first
    # nothing lost: every rejected row is in the quarantine file, the accepted one in the table
    assert len(_quarantine(out, "tax_filings")) == n - 1
    assert len(io.read_table(out, "tax_filings")) == 1
    assert not (out / io.SUCCESS_MARKER).exists()

    with pytest.raises(QuarantineLimitExceeded) as info:
        ingest(source, tmp_path / "api", as_of=WINDOW_END)
    assert [t.table for t in info.value.report.over_limit(MAX_QUARANTINE_SHARE)] == ["tax_filings"]


def test_the_quarantine_share_is_an_option(source, tmp_path):
    def two_negative(frame):
        frame.loc[[1, 2], "value_cny"] = "-1"
        return frame

    n = len(_edit_csv(source, "customs", two_negative))
    share = 2 / n
    passed = _run_cli(source, tmp_path / "at", "--max-quarantine-share", str(share))     # at the limit: passes
    assert passed.exit_code == 0, passed.output
    assert (tmp_path / "at" / io.SUCCESS_MARKER).is_file()
    failed = _run_cli(source, tmp_path / "below", "--max-quarantine-share", str(share * 0.9))
    assert failed.exit_code != 0 and "table 'customs'" in failed.output and "value_cny must be >= 0" in failed.output
    assert not (tmp_path / "below" / io.SUCCESS_MARKER).exists()
    wrong = _run_cli(source, tmp_path / "wrong", "--max-quarantine-share", "1.5")
    assert wrong.exit_code != 0 and "--max-quarantine-share" in wrong.output
    help_text = CliRunner().invoke(ingest_command, ["--help"]).output
    assert f"default {MAX_QUARANTINE_SHARE:g}" in help_text


# -- duplicate rows: identical copies kept once, conflicting keys quarantined --------------------------


def test_identical_duplicate_rows_are_kept_once_and_counted(world, source, tmp_path):
    def copy_row_5(frame):
        copy = frame.iloc[[5]].copy()
        spelled = frame.iloc[[5]].copy()
        spelled["amount_cny"] = spelled["amount_cny"] + "0"          # 12.5 and 12.50: the same amount
        return pd.concat([frame, copy, spelled], ignore_index=True)

    frame = _edit_csv(source, "invoices", copy_row_5)
    out = tmp_path / "out"
    result = _run_cli(source, out)
    assert result.exit_code == 0, result.output
    assert "2 identical duplicate rows removed (one copy kept)" in result.output
    report = ingest(source, tmp_path / "api", as_of=WINDOW_END)
    assert _counts(report, "invoices") == (len(frame), len(frame) - 2, 2, 0, 0) and report.reconciled
    pd.testing.assert_frame_equal(io.read_table(out, "invoices"), io.read_table(world, "invoices"))
    removed = _deduplicated(out, "invoices")
    assert removed["source_row"].tolist() == [str(len(frame) - 1), str(len(frame))]
    assert removed["copy_of_row"].tolist() == ["6", "6"]
    assert removed["amount_cny"].iloc[1] == frame["amount_cny"].iloc[-1]  # the copy's own text is kept


def test_rows_sharing_a_key_but_differing_are_quarantined_as_conflicts(source, tmp_path):
    def conflicting(frame):
        twin = frame.iloc[[3]].copy()
        other = frame.iloc[[3]].copy()
        other["vat_paid_cny"] = "1.0"
        return pd.concat([frame, twin, other], ignore_index=True)   # rows 4 and 4' agree, the last differs

    frame = _edit_csv(source, "tax_filings", conflicting)
    n = len(frame)
    out = tmp_path / "out"
    result = _run_cli(source, out)
    assert result.exit_code == 0, result.output
    assert "3 rows quarantined, 3 of them sharing a key with a different row" in result.output
    report = ingest(source, tmp_path / "api", as_of=WINDOW_END)
    assert _counts(report, "tax_filings") == (n, n - 3, 0, 3, 3)
    rules = _quarantine(out, "tax_filings").set_index("source_row")["rule"]
    key = f"duplicate key (enterprise_id, period) = ('{frame.loc[3, 'enterprise_id']}', '{frame.loc[3, 'period']}')"
    assert rules["4"] == f"{key} also on rows {n - 1}, {n} with a different vat_paid_cny"
    assert rules[str(n)] == f"{key} also on rows 4, {n - 1} with a different vat_paid_cny"
    assert _deduplicated(out, "tax_filings").empty      # no copy is kept when the key is in conflict


def test_a_conflicting_application_id_names_the_other_row(source, tmp_path):
    apps = _edit_parquet(source, "applications", lambda f: f.assign(
        application_id=f["application_id"].where(f.index != 9, f["application_id"].iloc[2])))
    _run_cli(source, tmp_path / "out")
    rules = _quarantine(tmp_path / "out", "applications").set_index("source_row")["rule"]
    assert rules["3"].startswith(f"duplicate key application_id '{apps['application_id'].iloc[2]}' also on row 10 with a different ")
    assert rules["10"].startswith(f"duplicate key application_id '{apps['application_id'].iloc[2]}' also on row 3 with a different ")


# -- the end of the data window: given, or the latest date in the data ---------------------------------


def test_without_as_of_the_window_ends_at_the_latest_date_in_the_data(source, tmp_path):
    result = _run_cli(source, tmp_path / "out", as_of=None)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "as-of 2024-12-31, the latest date in tax_filings.filed_at"


def test_without_as_of_a_stray_far_future_date_is_quarantined(source, tmp_path):
    _edit_csv(source, "invoices", lambda f: f.assign(issued_at=f["issued_at"].where(f.index != 7, "2042-12-31")))
    result = _run_cli(source, tmp_path / "out", as_of=None)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("as-of 2024-12-31, the latest date in tax_filings.filed_at; 1 later row is more than 92 days")
    assert "invoices.issued_at 2042-12-31 (1 row)" in first and "give --as-of" in first
    q = _quarantine(tmp_path / "out", "invoices")
    assert q["source_row"].tolist() == ["8"]
    assert "issued_at must not be after the end of the data window 2024-12-31" in q.loc[0, "rule"]


def test_without_as_of_a_date_just_past_the_data_moves_the_window_and_says_so(source, tmp_path):
    _edit_csv(source, "invoices", lambda f: f.assign(issued_at=f["issued_at"].where(f.index != 7, "2025-01-20")))
    result = _run_cli(source, tmp_path / "out", as_of=None)
    assert result.output.splitlines()[0] == "as-of 2025-01-20, the latest date in invoices.issued_at"
    refused = _run_cli(source, tmp_path / "given")                      # --as-of 2024-12-31 refuses it
    assert _quarantine(tmp_path / "given", "invoices")["source_row"].tolist() == ["8"]
    assert refused.output.splitlines()[0] == "as-of 2024-12-31, as given"


def test_without_as_of_data_without_dates_is_refused(source, tmp_path):
    for name in io.TABLES:
        for path in source.glob(f"{name}.*"):
            path.unlink()
        (source / f"{name}.csv").write_text(",".join(io.ARROW_SCHEMAS[name].names) + "\n", encoding="utf-8")
    result = _run_cli(source, tmp_path / "out", as_of=None)
    assert result.exit_code != 0
    assert "no knowledge date" in result.output and "give --as-of YYYY-MM-DD" in result.output
    assert _run_cli(source, tmp_path / "given").exit_code == 0   # empty tables with a given window are fine


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
