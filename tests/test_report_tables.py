"""Tables for people: formats by what a number is, no index, no NaN, no e-notation, nothing cut."""

import numpy as np
import pandas as pd
import pytest

from creditmine.reports.tables import column_kind, count, money, number, percent, pvalue, table_html


@pytest.mark.parametrize("value, shown", [
    (0.8030823, "0.8031"), (1234567.891, "1,234,568"), (-0.0025908, "−0.002591"), (0, "0"),
    (3.552713678800501e-15, "3.6 × 10⁻¹⁵"), (np.nan, "—"), (None, "—"), (12.5, "12.50"),
])
def test_numbers_read_as_numbers(value, shown):
    assert number(value) == shown


def test_money_counts_shares_and_pvalues():
    assert money(24357230.6) == "24,357,231"
    assert count(1602.0) == "1,602"
    assert percent(0.0497) == "4.97 %" and percent(0.5807) == "58.1 %" and percent(0) == "0 %"
    assert pvalue(1.76e-87) == "< 0.0001" and pvalue(0.04563) == "0.0456"


def test_column_kinds_come_from_names_and_values():
    frame = pd.DataFrame({
        "total_limit_cny": [2.4e8, 4.3e8], "approval_rate": [0.15, 0.29], "approved": [221.0, 420.0],
        "p_value": [0.006, 0.3], "auc": [0.79, 0.81], "model": ["gbm", "scorecard"], "chosen": [True, False],
        "month": pd.to_datetime(["2023-01-01", "2023-02-01"]),
    })
    kinds = {c: column_kind(c, frame[c]) for c in frame}
    assert kinds == {"total_limit_cny": "money", "approval_rate": "percent", "approved": "count",
                     "p_value": "pvalue", "auc": "number", "model": "text", "chosen": "bool", "month": "month"}


def test_a_table_has_no_index_no_nan_and_keeps_long_text():
    statement = "近3个月销项发票较少（4张） " + "the enterprise is young " * 10
    frame = pd.DataFrame({"feature": ["a", "b"], "auc_oot": [0.8030823, np.nan], "applications": [1602.0, 37.0],
                          "statement": [statement, "x"]}).set_index("feature")
    html = table_html(frame, "Example")
    assert "0.8031" in html and "1,602" in html and "—" in html
    assert "nan" not in html.lower().replace("nan ", "") and "e-01" not in html
    assert statement.strip() in html                                   # nothing truncated
    assert "<th" in html and ">feature<" in html                       # the index is a column
    assert 'class="blank' not in html and "index_name" not in html    # and no index column
    assert html == table_html(frame, "Example")                        # deterministic


def test_long_tables_fold_and_empty_ones_become_a_sentence():
    long = pd.DataFrame({"n": range(40)})
    html = table_html(long, "Forty rows", max_rows=25)
    assert html.startswith("<details") and "Forty rows — 40 rows (show)" in html
    assert "<table" not in table_html(long.iloc[:0], "Comparison", empty="No champion yet.")
    assert "No champion yet." in table_html(long.iloc[:0], "Comparison", empty="No champion yet.")
