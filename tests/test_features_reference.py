"""The SQL feature definitions (DuckDB) against an independent plain-pandas implementation, and a hand count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditmine import config
from creditmine.data.io import read_table
from creditmine.data.synthetic import generate
from creditmine.features.build import FEATURE_TABLES, compute_features
from creditmine.features.reference import reference_features

from factories import assert_same_features


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference_world")
    generate(config.SyntheticParams(enterprises=150), seed=23, out_dir=out, progress=False)
    return {t: read_table(out, t) for t in FEATURE_TABLES}, read_table(out, "applications")


def test_duckdb_features_equal_the_pandas_reference(world):
    tables, applications = world
    assert_same_features(compute_features(tables, applications), reference_features(tables, applications))


def test_other_windows_and_deadline_agree_too(world):
    tables, applications = world
    kwargs = {"windows_months": (2, 12), "filing_deadline_day": 10}
    engine = compute_features(tables, applications, **kwargs)
    assert "taxable_sales_growth_2m" in engine and "invoiced_sales_growth_2m" in engine
    assert_same_features(engine, reference_features(tables, applications, **kwargs))


def test_a_hand_counted_enterprise():
    """One enterprise, one application on 2024-03-10: every figure below is counted by hand."""
    e = "91110000000000001X"
    months = pd.date_range("2022-12-01", "2024-02-01", freq="MS")  # 15 periods
    sales = np.arange(1, 16) * 1000.0  # December 2022: 1000 ... February 2024: 15000
    filings = pd.DataFrame({
        "enterprise_id": e, "period": months, "taxable_sales_cny": sales,
        "vat_payable_cny": sales * 0.13, "vat_paid_cny": sales * 0.13,
        # February 2024 is filed on 2024-03-20, after the application: not yet known.
        "filed_at": months + pd.DateOffset(months=1) + pd.Timedelta(days=9),
    })
    filings.loc[filings["period"] == "2024-01-01", "filed_at"] = pd.Timestamp("2024-02-20")  # late (after the 15th)
    filings.loc[filings["period"] == "2024-02-01", "filed_at"] = pd.Timestamp("2024-03-20")
    filings.loc[filings["period"] == "2023-12-01", "vat_paid_cny"] = 0.0
    # June 2023 (sales 7000) pays half the statutory rate of section C (13 %), in full
    filings.loc[filings["period"] == "2023-06-01", ["vat_payable_cny", "vat_paid_cny"]] = 7000 * 0.065
    invoices = pd.DataFrame({
        "invoice_id": ["i1", "i2", "i3", "i4", "i5", "i6"],
        "enterprise_id": e,
        "counterparty_id": ["c1", "c1", "c2", "c2", "s1", "c1"],
        "direction": ["sales", "sales", "sales", "sales", "purchase", "sales"],
        "issued_at": pd.to_datetime(["2024-03-09", "2024-01-15", "2023-11-01", "2024-02-01", "2024-02-02", "2024-03-10"]),
        "amount_cny": [300.0, 300.0, 200.0, -50.0, 400.0, 9999.0],  # i6 is issued on the application day
        "tax_cny": 0.0,
        "status": ["normal", "normal", "normal", "red-letter", "normal", "normal"],
    })
    ratings = pd.DataFrame({"enterprise_id": e, "year": [2022, 2023], "rating": ["A", "M"],
                            "published_at": pd.to_datetime(["2023-04-01", "2024-04-01"])})
    awards = pd.DataFrame({
        "award_id": ["w1"], "enterprise_id": e, "purchaser": "p", "awarded_at": pd.to_datetime(["2023-12-01"]),
        "contract_amount_cny": [1_000_000.0], "start_on": pd.to_datetime(["2024-01-01"]),
        "end_on": pd.to_datetime(["2024-12-31"]), "category": "goods", "status": "active",
    })
    enterprises = pd.DataFrame({
        "enterprise_id": [e], "industry_section": ["C"], "industry_division": ["13"], "district": ["d"],
        "registered_at": pd.to_datetime(["2014-03-10"]), "registered_capital_cny": [1e6], "employees": [10],
        "specialized_innovative": [True], "high_tech": [False],
    })
    empty = {
        "electricity": pd.DataFrame({"enterprise_id": pd.Series([], dtype=str), "period": pd.Series([], dtype="datetime64[ms]"),
                                     "kwh": pd.Series([], dtype=float), "bill_cny": pd.Series([], dtype=float),
                                     "billed_at": pd.Series([], dtype="datetime64[ms]"), "paid_on_time": pd.Series([], dtype=bool)}),
        "customs": pd.DataFrame({"declaration_id": pd.Series([], dtype=str), "enterprise_id": pd.Series([], dtype=str),
                                 "declared_at": pd.Series([], dtype="datetime64[ms]"), "direction": pd.Series([], dtype=str),
                                 "value_cny": pd.Series([], dtype=float), "hs_chapter": pd.Series([], dtype=str)}),
    }
    tables = {"enterprises": enterprises, "tax_filings": filings, "tax_credit_ratings": ratings,
              "invoices": invoices, "procurement_awards": awards, **empty}
    applications = pd.DataFrame({
        "application_id": ["a1"], "enterprise_id": [e], "applied_at": pd.to_datetime(["2024-03-10"]),
        "product": ["procurement"], "requested_amount_cny": [500_000.0], "term_months": [12],
        "award_id": ["w1"], "booked": [True], "default_12m": [0.0],
    })
    expected = {
        "taxable_sales_3m": 12000 + 13000 + 14000,            # last filed: Nov 2023 .. Jan 2024
        "taxable_sales_growth_3m": 39000 / (9000 + 10000 + 11000) - 1,
        "tax_history_months": 14, "tax_filing_lag_months": 2, "tax_late_filings_3m": 1,
        "vat_underpaid_months_12m": 1, "vat_unpaid_12m": 13000 * 0.13,
        "tax_rating_latest": "A", "tax_rating_years": 1,     # the 2023 rating is published later
        "invoiced_sales_3m": 300 + 300 - 50,                  # since 2023-12-10; i3 is older, i6 same day
        "invoiced_sales_12m": 300 + 300 + 200 - 50,
        "sales_invoices_12m": 4, "invoice_red_letter_share_12m": 0.25,
        "customers_12m": 2, "suppliers_12m": 1,
        "customer_hhi_12m": (600 / 800) ** 2 + (200 / 800) ** 2, "top_customer_share_12m": 0.75,
        "invoiced_purchases_12m": 400, "days_since_last_sales_invoice": 1,
        "remaining_contract_value": 1_000_000 * (296 / 365), "contract_days_remaining": 296,
        "requested_to_remaining_value": 500_000 / (1_000_000 * 296 / 365),
        "active_contracts": 1, "awards_won_total": 1, "procurement_missing": 0,
        "electricity_missing": 1, "customs_missing": 1, "sources_missing_count": 2,
        "enterprise_age_years": 3653 / 365.25, "specialized_innovative": 1,
        # last 12 filed months: February 2023 .. January 2024, sales 3000 .. 14000 (102000 in all)
        "vat_burden_rel_rate_3m": 1.0,
        "vat_burden_rel_rate_12m": (102000 * 0.13 - 7000 * 0.065) / 102000 / 0.13,
        "vat_burden_rel_rate_change_3m_12m": 7000 * 0.065 / (102000 * 0.13),
    }
    for frame in (compute_features(tables, applications), reference_features(tables, applications)):
        row = frame.iloc[0]
        for name, value in expected.items():
            if isinstance(value, str):
                assert row[name] == value, name
            else:
                assert row[name] == pytest.approx(value, rel=1e-9), name
        assert np.isnan(row["electricity_kwh_12m"]) and np.isnan(row["exports_12m"])
