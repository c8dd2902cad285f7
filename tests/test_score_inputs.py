"""Bad input never crashes a decision and is never silently defaulted: each bad row says what is wrong."""

import numpy as np
import pandas as pd
import pytest

import creditmine.config as config
from creditmine.decision.inputs import InputSpec, validate_applications
from creditmine.decision.score import attach_features, read_applications, write_decisions


@pytest.fixture
def spec() -> InputSpec:
    cfg = config.load(config.project_root() / "params" / "ci.yaml")
    product = cfg.product("quick_loan")
    return InputSpec(
        feature_names=("tax_missing", "tax_sales_12m_growth", "enterprise_age_years", "industry_section", "product"),
        categorical_features=frozenset({"industry_section", "product"}),
        application_products=product.application_products,
        policy=product.policy,
        feature_sources={"tax_missing": "tax", "tax_sales_12m_growth": "tax", "enterprise_age_years": "enterprise",
                         "industry_section": "enterprise", "product": "application"},
    )


def _good_row(**overrides) -> dict:
    row = {
        "application_id": "A1", "product": "tax", "requested_amount_cny": 500_000.0, "term_months": 12,
        "specialized_innovative": False, "taxable_sales_12m": 3_000_000.0, "invoiced_sales_12m": 2_000_000.0,
        "electricity_bill_12m": 50_000.0, "exports_12m": 0.0, "tax_missing": 0.0,
        "tax_sales_12m_growth": 0.1, "enterprise_age_years": 6.0, "industry_section": "C",
    }
    row.update(overrides)
    return row


def _errors(spec, *rows) -> list[str]:
    """Errors of a batch; rows with the default id get their own (A1, A2, ...), as ids must not repeat."""
    rows = [{**row, "application_id": f"A{i + 1}"} if row["application_id"] == "A1" else row for i, row in enumerate(rows)]
    return list(validate_applications(pd.DataFrame(rows), spec).errors)


def test_good_rows_pass_with_typed_columns(spec):
    batch = validate_applications(pd.DataFrame([_good_row(), _good_row(application_id=17, term_months="6")]), spec)
    assert list(batch.errors) == ["", ""]
    assert batch.frame["application_id"].tolist() == ["A1", "17"]  # ids arrive as numbers too
    assert batch.frame["term_months"].tolist() == [12.0, 6.0]
    assert batch.frame["tax_sales_12m_growth"].dtype == np.float64


@pytest.mark.parametrize("overrides, message", [
    ({"requested_amount_cny": -5.0}, "requested_amount_cny must be positive; got -5"),
    ({"requested_amount_cny": 0}, "requested_amount_cny must be positive; got 0"),
    ({"requested_amount_cny": "a lot"}, "requested_amount_cny: expected a number, got 'a lot'"),
    ({"requested_amount_cny": None}, "requested_amount_cny is blank"),
    ({"term_months": 2.5}, "term_months must be a whole number of months >= 1; got 2.5"),
    ({"term_months": 0}, "term_months must be a whole number of months >= 1; got 0"),
    ({"product": "mortgage"}, "unknown product 'mortgage' (this model decides tax, invoice"),
    ({"product": None}, "product is blank"),
    ({"application_id": None}, "application_id is blank"),
    ({"specialized_innovative": "maybe"}, "specialized_innovative: expected true or false, got 'maybe'"),
    ({"specialized_innovative": None}, "specialized_innovative is blank"),
    ({"taxable_sales_12m": -1.0}, "taxable_sales_12m must not be negative; got -1"),
    ({"tax_sales_12m_growth": "fast"}, "tax_sales_12m_growth: expected a number, got 'fast'"),
    ({"tax_sales_12m_growth": float("inf")}, "tax_sales_12m_growth must be finite; got inf"),
])
def test_each_bad_field_gets_its_own_message(spec, overrides, message):
    errors = _errors(spec, _good_row(), _good_row(**overrides), _good_row())
    assert errors[0] == "" and errors[2] == ""  # neighbours are untouched
    assert message in errors[1]


@pytest.mark.parametrize("text", ["12,5", "1.234,56", "1,234", "1 234", "1\u00a0234", "1_000", "1.234.567"])
def test_numbers_with_separators_are_refused_never_reinterpreted(spec, text):
    # "12,5" used to read as 125 and "1.234,56" as 1.23456: the commas were stripped
    for column in ("requested_amount_cny", "tax_sales_12m_growth"):
        errors = _errors(spec, _good_row(), _good_row(**{column: text}))
        assert errors[0] == ""
        assert errors[1] == (f"{column}: '{text}' has a thousands separator or a decimal comma; "
                             "expected a plain number such as 1234.5")


@pytest.mark.parametrize("text, value", [("1234.5", 1234.5), ("-3", -3.0), ("1e3", 1000.0), (" 7 ", 7.0), ("+.5", 0.5)])
def test_plain_numbers_as_text_are_numbers(spec, text, value):
    batch = validate_applications(pd.DataFrame([_good_row(tax_sales_12m_growth=text)]), spec)
    assert batch.errors[0] == "" and batch.columns["tax_sales_12m_growth"][0] == value


def test_a_csv_with_a_decimal_comma_is_refused_per_row(spec, tmp_path):
    rows = pd.DataFrame([_good_row(application_id="A1"), _good_row(application_id="A2")])
    rows["requested_amount_cny"] = ["500000", "12,5"]
    rows.to_csv(tmp_path / "apps.csv", index=False)              # written quoted: "12,5"
    errors = validate_applications(read_applications(tmp_path / "apps.csv"), spec).errors
    assert errors[0] == "" and "requested_amount_cny: '12,5' has a thousands separator" in errors[1]


def test_negative_counts_and_money_of_the_enterprise_are_refused(spec):
    from dataclasses import replace

    # employees and registered capital were decided when negative
    with_size = replace(spec, feature_names=(*spec.feature_names, "employees", "registered_capital_cny"))
    errors = _errors(with_size, _good_row(employees=12, registered_capital_cny=1e6),
                     _good_row(employees=-3, registered_capital_cny=1e6),
                     _good_row(employees=12, registered_capital_cny="-500000"),
                     _good_row(employees=0, registered_capital_cny=0.0))
    assert errors[0] == "" and errors[3] == ""
    assert errors[1] == "employees must not be negative; got -3"
    assert errors[2] == "registered_capital_cny must not be negative; got -500000"
    # a column the model does not read is not checked
    assert _errors(spec, _good_row(employees=-3)) == [""]


def test_lower_bounds_are_one_replaceable_table(spec, monkeypatch):
    from creditmine.decision import inputs

    assert inputs.LOWER_BOUNDS == {"employees": 0.0, "registered_capital_cny": 0.0}
    monkeypatch.setattr(inputs, "LOWER_BOUNDS", {"enterprise_age_years": 1.0})
    assert _errors(spec, _good_row(enterprise_age_years=0.5)) == ["enterprise_age_years must not be below 1; got 0.5"]


def test_a_duplicated_application_id_refers_every_row_that_has_it(spec):
    # a repeated id used to get two different decisions
    rows = [_good_row(application_id="A1"), _good_row(application_id="B2"), _good_row(application_id="A1", term_months=24),
            _good_row(application_id=17), _good_row(application_id="17"), _good_row(application_id=None)]
    errors = validate_applications(pd.DataFrame(rows), spec).errors
    assert errors[0] == errors[2] == "application_id A1 appears 2 times in the input (rows 1, 3)"
    assert errors[1] == ""
    assert errors[3] == errors[4] == "application_id 17 appears 2 times in the input (rows 4, 5)"  # 17 and "17": one id
    assert errors[5] == "application_id is blank"                                                  # blanks never repeat


def test_a_negative_base_of_another_product_does_not_matter(spec):
    # invoiced sales are not the limit base of a tax loan
    assert _errors(spec, _good_row(invoiced_sales_12m=-3.0)) == [""]
    assert "invoiced_sales_12m must not be negative" in _errors(spec, _good_row(product="invoice", invoiced_sales_12m=-3.0))[0]


def test_missing_columns_are_named_for_every_row(spec):
    rows = pd.DataFrame([_good_row(), _good_row(application_id="A2")]).drop(columns=["enterprise_age_years", "term_months"])
    errors = validate_applications(rows, spec).errors
    for error in errors:
        assert "missing field enterprise_age_years" in error and "missing field term_months" in error


def test_missing_base_column_is_an_error_only_where_the_rule_needs_it(spec):
    rows = pd.DataFrame([_good_row(), _good_row(application_id="A2", product="electricity")]).drop(columns=["electricity_bill_12m"])
    errors = validate_applications(rows, spec).errors
    assert errors[0] == "" and "missing field electricity_bill_12m" in errors[1]


def test_an_enterprise_with_no_data_is_referred_not_scored(spec):
    unknown = _good_row(tax_missing=np.nan, tax_sales_12m_growth=np.nan, enterprise_age_years=np.nan, industry_section=None)
    no_sources = _good_row(tax_missing=1.0, tax_sales_12m_growth=0.0, enterprise_age_years=np.nan, industry_section=None)
    only_registration = _good_row(tax_missing=1.0, tax_sales_12m_growth=np.nan)
    errors = _errors(spec, unknown, no_sources, only_registration)
    assert "no data on the enterprise" in errors[0]
    assert "no data on the enterprise" in errors[1]  # the indicator says no tax record, whatever the value
    assert errors[2] == ""  # the enterprise register knows it: thin file, but data


def test_a_non_frame_input_is_a_type_error(spec):
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        validate_applications([_good_row()], spec)


def test_files_round_trip_and_feature_lookup(tmp_path):
    features = pd.DataFrame({"application_id": ["0001", "0002"], "x": [1.0, 2.0], "requested_amount_cny": [5.0, 6.0]})
    features.to_parquet(tmp_path / "features.parquet")
    (tmp_path / "apps.csv").write_text("application_id,requested_amount_cny\n0002,9\n0003,1\n")
    apps = read_applications(tmp_path / "apps.csv")
    assert apps["application_id"].tolist() == ["0002", "0003"]  # leading zeros survive the CSV
    rows, found = attach_features(apps, tmp_path / "features.parquet")
    assert found.tolist() == [True, False]
    assert rows["x"].iloc[0] == 2.0 and rows["requested_amount_cny"].iloc[0] == 9  # the input's own value wins
    out = write_decisions(pd.DataFrame({"application_id": ["0002"], "reason_1_zh": ["近12个月销售额下降"]}), tmp_path / "d.csv")
    assert "近12个月" in out.read_text(encoding="utf-8-sig")
    with pytest.raises(ValueError, match="apps.xlsx: input file not found"):
        read_applications(tmp_path / "apps.xlsx")
    (tmp_path / "apps.txt").write_text("x")
    with pytest.raises(ValueError, match="must be .csv, .parquet or .jsonl"):
        read_applications(tmp_path / "apps.txt")


def test_application_fields_the_model_reads_are_checked_once(spec):
    from dataclasses import replace

    both = replace(spec, feature_names=(*spec.feature_names, "requested_amount_cny", "specialized_innovative"))
    batch = validate_applications(pd.DataFrame([_good_row(requested_amount_cny="x", specialized_innovative=1)]), both)
    assert batch.errors[0].count("requested_amount_cny") == 1
    assert batch.columns["specialized_innovative"].tolist() == [1.0]


def test_one_row_and_many_rows_are_read_alike(spec):
    rows = pd.DataFrame([_good_row(application_id=f"A{i}", term_months=["6", 7.5, None][i % 3]) for i in range(150)])
    many = validate_applications(rows, spec)
    for i in (0, 1, 2):
        one = validate_applications(rows.iloc[[i]], spec)
        assert one.errors[0] == many.errors[i]
        for name, values in one.columns.items():
            assert pd.isna(values[0]) and pd.isna(many.columns[name][i]) or values[0] == many.columns[name][i]
