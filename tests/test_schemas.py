"""The pandera schemas and the cross-table rules: each rule catches what it should, names the row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditmine.config.data import SyntheticParams
from creditmine.data import io, schemas, synthetic

WINDOW_END = date(2024, 12, 31)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("small")
    synthetic.generate(SyntheticParams(enterprises=150), 5, out, progress=False)
    return {name: io.read_table(out, name) for name in (*io.TABLES, io.GROUND_TRUTH)}


def _rules(failures: pd.DataFrame, row: int) -> list[str]:
    return failures.loc[failures["row"] == row, "rule"].tolist()


def test_clean_tables_pass(tables):
    assert schemas.validate_tables(tables, WINDOW_END).empty


def test_unknown_table_is_an_error():
    with pytest.raises(ValueError, match="unknown table 'loans'"):
        schemas.table_schema("loans")


@pytest.mark.parametrize(
    "table, values, expected",
    [
        ("enterprises", {"enterprise_id": "91110108551385082X"}, "unified social credit code"),
        ("enterprises", {"industry_section": "Z"}, "GB/T 4754 section"),
        ("enterprises", {"industry_section": "I", "industry_division": "13"}, "not a division of industry_section"),
        ("enterprises", {"district": "Pudong"}, "Beijing's districts"),
        ("enterprises", {"registered_at": pd.Timestamp("2025-03-01")}, "after the end of the data window"),
        ("tax_filings", {"taxable_sales_cny": -5.0}, "taxable_sales_cny must be >= 0"),
        ("tax_filings", {"period": pd.Timestamp("2022-03-15")}, "first day of a month"),
        ("tax_credit_ratings", {"rating": "AA"}, "rating must be one of"),
        ("invoices", {"status": "cancelled"}, "status must be one of"),
        ("invoices", {"amount_cny": -10.0, "tax_cny": -1.0}, "< 0 exactly for red-letter"),
        ("invoices", {"issued_at": pd.Timestamp("2025-01-02")}, "issued_at must not be after"),
        ("electricity", {"kwh": float("inf")}, "kwh must be finite"),
        ("customs", {"hs_chapter": "99"}, "two-digit HS chapter"),
        ("procurement_awards", {"category": "consulting"}, "category must be one of"),
        ("applications", {"product": "mortgage"}, "product must be one of"),
        ("applications", {"term_months": 0}, "term_months must be between"),
    ],
)
def test_each_rule_names_the_row(tables, table, values, expected):
    df = tables[table].copy()
    row = len(df) // 2
    if table == "invoices" and "amount_cny" in values:
        row = int(np.flatnonzero(df["status"].to_numpy() == "normal")[0])
    for column, value in values.items():
        df.loc[row, column] = value
    failures = schemas.validate_table(df, table, WINDOW_END)
    assert any(expected in rule for rule in _rules(failures, row)), failures.to_string()
    assert set(failures["row"]) == {row}


def test_duplicate_keys_are_reported_on_every_copy(tables):
    df = pd.concat([tables["invoices"], tables["invoices"].iloc[[3]]], ignore_index=True)
    failures = schemas.validate_table(df, "invoices", WINDOW_END)
    assert set(failures["row"]) == {3, len(df) - 1}
    assert all("duplicate key" in r for r in failures["rule"])
    filings = pd.concat([tables["tax_filings"], tables["tax_filings"].iloc[[0]]], ignore_index=True)
    failures = schemas.validate_table(filings, "tax_filings", WINDOW_END)
    assert set(failures["row"]) == {0, len(filings) - 1}


def test_missing_values_in_required_columns(tables):
    df = tables["enterprises"].copy()
    df.loc[4, "district"] = None
    failures = schemas.validate_table(df, "enterprises", WINDOW_END)
    assert _rules(failures, 4) == ["district must not be empty"]


def test_application_rules_across_columns(tables):
    apps = tables["applications"].copy()
    proc = int(np.flatnonzero(apps["product"].to_numpy() == "procurement")[0])
    other = int(np.flatnonzero(apps["product"].to_numpy() != "procurement")[0])
    apps.loc[proc, "award_id"] = None
    unbooked = int(np.flatnonzero(~apps["booked"].to_numpy())[0])
    apps.loc[unbooked, "default_12m"] = 1.0
    failures = schemas.validate_table(apps, "applications", WINDOW_END)
    assert any("award_id is required" in r for r in _rules(failures, proc))
    assert any("not booked" in r for r in _rules(failures, unbooked))
    assert other not in set(failures["row"])


def test_foreign_keys_must_resolve(tables):
    broken = dict(tables)
    filings = tables["tax_filings"].copy()
    filings.loc[2, "enterprise_id"] = "91350100M000100Y43"   # a valid code of an unknown enterprise
    apps = tables["applications"].copy()
    proc = np.flatnonzero(apps["product"].to_numpy() == "procurement")
    apps.loc[proc[0], "award_id"] = "BJZC2099999999999"
    awards = tables["procurement_awards"]
    foreign = awards.loc[awards["enterprise_id"] != apps.loc[proc[1], "enterprise_id"], "award_id"].iloc[0]
    apps.loc[proc[1], "award_id"] = foreign
    broken.update(tax_filings=filings, applications=apps)
    failures = schemas.cross_table_failures(broken)
    assert failures.loc[failures["table"] == "tax_filings", "row"].tolist() == [2]
    app_rules = failures[failures["table"] == "applications"].set_index("row")["rule"]
    assert "not found in procurement_awards" in app_rules[proc[0]]
    assert "belongs to another enterprise" in app_rules[proc[1]]


def test_future_dates_only_checked_against_a_window(tables):
    df = tables["customs"].copy()
    df.loc[0, "declared_at"] = pd.Timestamp("2030-01-01")
    assert schemas.validate_table(df, "customs", as_of=None).empty
    assert _rules(schemas.validate_table(df, "customs", WINDOW_END), 0) == [
        f"declared_at must not be after the end of the data window {WINDOW_END}"
    ]


def test_validate_data_dir_reads_written_tables(tmp_path: Path, tables):
    import pyarrow as pa

    for name, df in tables.items():
        io.write_table(tmp_path, name, pa.Table.from_pandas(df, preserve_index=False))
    assert schemas.validate_data_dir(tmp_path, WINDOW_END, include_ground_truth=True).empty
