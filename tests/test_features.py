"""Stage 01: the catalog, point-in-time correctness (leakage), the stage's files, cache and tabular data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditmine import artifacts, config
from creditmine.artifacts import read_catalog_file, write_catalog_file
from creditmine.data.io import read_table
from creditmine.data.synthetic import generate
from creditmine.features.build import FEATURE_TABLES, compute_features
from creditmine.features.catalog import CATALOG, KEY_COLUMNS, SOURCES, catalog_frame, missing_indicator, synthetic_catalog
from factories import assert_same_features
from creditmine.features.stage import run as build_features

SMALL_ENTERPRISES = 120


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    """The synthetic world at 120 enterprises (about 250 applications), generated once per module."""
    out = tmp_path_factory.mktemp("world")
    generate(config.SyntheticParams(enterprises=SMALL_ENTERPRISES), seed=11, out_dir=out, progress=False)
    return out


def load_tables(data_dir: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return {t: read_table(data_dir, t) for t in FEATURE_TABLES}, read_table(data_dir, "applications")


# --- the catalog -------------------------------------------------------------------------------

def test_catalog_covers_every_source_with_at_least_sixty_described_features():
    names = [s.name for s in CATALOG]
    assert len(names) == len(set(names)) >= 60
    assert {s.source for s in CATALOG} >= {*SOURCES, "enterprise", "application"}
    for source in SOURCES:
        assert missing_indicator(source) in names
    for name in ("taxable_sales_12m", "invoiced_sales_12m", "electricity_bill_12m", "exports_12m",
                 "remaining_contract_value", "specialized_innovative", "product", "customer_hhi_12m",
                 "tax_rating_latest", "requested_to_remaining_value", "electricity_on_time_share_12m"):
        assert name in names, name
    for spec in CATALOG:
        assert spec.description_en and spec.description_zh and spec.unit, spec.name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.description_zh), spec.name
        assert spec.risk_direction in (-1, 0, 1) and spec.reason_group
        sample = "X" if spec.kind == "categorical" else -0.25
        assert spec.reason_en.format(value=sample) and spec.reason_zh.format(value=sample)
    kinds = {s.name: s.kind for s in CATALOG}
    assert kinds["product"] == kinds["industry_section"] == kinds["tax_rating_latest"] == "categorical"


def test_the_catalog_is_data_whose_window_templates_expand_per_window():
    assert len(CATALOG) == 109
    four = {s.name: s for s in synthetic_catalog((1, 3, 6, 12))}
    assert len(four) == 124
    assert {"taxable_sales_1m", "invoiced_sales_growth_6m", "vat_burden_rel_rate_change_1m_12m"} <= set(four)
    assert "invoiced_sales_growth_12m" not in four  # growth windows need 2k <= the annual window
    growth = four["taxable_sales_growth_6m"]
    assert growth.window_months == 12 and "{value:+.0%}" in growth.reason_en and "{k}" not in growth.description_en
    assert four["invoices_missing"].description_en == "1 when there is no VAT invoice (last 12 months) record " \
        "before the application, else 0"
    annual_only = [s.name for s in synthetic_catalog((12,))]
    assert len(annual_only) == 78 and not any(n.startswith("vat_burden_rel_rate_change") for n in annual_only)


def test_a_catalog_entry_without_its_texts_is_refused_by_name():
    from creditmine.features.catalog import _CatalogFile

    with pytest.raises(ValueError, match="feature 'broken' lacks en, zh"):
        _CatalogFile.model_validate({"features": [{"name": "broken", "source": "tax", "unit": "CNY", "risk": 1,
                                                   "group": "g", "reason_en": "r", "reason_zh": "r"}]})


def test_catalog_round_trips_through_json_and_the_data_dictionary(tmp_path):
    path = write_catalog_file(CATALOG, tmp_path / "catalog.json")
    assert read_catalog_file(path) == CATALOG
    frame = catalog_frame(CATALOG)
    assert len(frame) == len(CATALOG)
    assert {"description_en", "description_zh", "risk_direction", "reason_en", "reason_zh"} <= set(frame)


def test_read_catalog_names_the_file_and_entry_of_a_bad_entry(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text('[{"name": "x", "source": "tax"}]', encoding="utf-8")
    with pytest.raises(ValueError, match=r"catalog.json: entry 0 \(x\) lacks"):
        read_catalog_file(path)


# --- the definitions on DuckDB ---------------------------------------------------------------

def test_features_match_the_catalog_columns_and_types(small_world):
    tables, applications = load_tables(small_world)
    features = compute_features(tables, applications)
    expected = ["application_id"] + [s.name for s in CATALOG if s.name not in KEY_COLUMNS]
    assert list(features.columns) == expected
    assert features["application_id"].is_monotonic_increasing and len(features) == len(applications)
    for spec in CATALOG:
        if spec.name in KEY_COLUMNS:
            continue
        if spec.kind == "numeric":
            assert features[spec.name].dtype == "float64", spec.name
        else:
            assert features[spec.name].dropna().map(type).eq(str).all(), spec.name
    # Every source is present for some and missing for other applications of this world.
    for source in ("tax", "electricity", "customs", "procurement"):
        flag = features[missing_indicator(source)]
        assert set(flag.unique()) == {0.0, 1.0}, source
    procurement = applications.set_index("application_id")["product"].reindex(features["application_id"]) == "procurement"
    assert features.loc[~procurement.to_numpy(), "remaining_contract_value"].isna().all()
    assert features.loc[procurement.to_numpy(), "remaining_contract_value"].notna().mean() > 0.9


def test_no_feature_uses_a_record_dated_on_or_after_the_application(small_world):
    """Records known on or after every application of their enterprise leave every feature unchanged."""
    tables, applications = load_tables(small_world)
    before = compute_features(tables, applications)
    leaked, leaked_applications = _add_future_records(tables, applications, days_after=(0, 1, 40, 400))
    assert sum(len(leaked[t]) - len(tables[t]) for t in FEATURE_TABLES) > 5 * len(applications)
    after = compute_features(leaked, leaked_applications)
    after = after[after["application_id"].isin(before["application_id"])].reset_index(drop=True)
    assert_same_features(before, after, rtol=0)


def test_the_leakage_check_detects_a_record_dated_the_day_before(small_world):
    """The same additions one day earlier do change features: the test above can fail."""
    tables, applications = load_tables(small_world)
    before = compute_features(tables, applications)
    leaked, leaked_applications = _add_future_records(tables, applications, days_after=(-1,))
    after = compute_features(leaked, leaked_applications)
    after = after[after["application_id"].isin(before["application_id"])].reset_index(drop=True)
    changed = [c for c in before.columns[1:] if not before[c].equals(after[c])]
    assert {"taxable_sales_3m", "sales_invoices_3m", "tax_rating_latest", "electricity_kwh_3m",
            "awards_won_total", "exports_3m"} <= set(changed)


def _add_future_records(tables, applications, days_after):
    """Copies of each enterprise's records, re-dated `days_after` days after its last application.

    The copies carry extreme values (sales x 10, every invoice voided, rating D, late bills), so any
    that leaked into a feature would change it; a later application of each enterprise is added too.
    """
    last = applications.groupby("enterprise_id")["applied_at"].max()
    out = {name: frame for name, frame in tables.items()}
    added_applications = []
    for days in days_after:
        shift = pd.Timedelta(days=days)

        def redate(frame: pd.DataFrame, known_at: str) -> pd.DataFrame:
            copy = frame[frame["enterprise_id"].isin(last.index)].copy()
            copy[known_at] = copy["enterprise_id"].map(last) + shift
            return copy

        tax = redate(tables["tax_filings"], "filed_at")
        tax["period"] = tax["filed_at"].dt.to_period("M").dt.start_time.astype(tax["period"].dtype)
        tax["taxable_sales_cny"] *= 10
        ratings = redate(tables["tax_credit_ratings"], "published_at")
        ratings["rating"] = "D"
        invoices = redate(tables["invoices"], "issued_at")
        invoices["status"] = "void"
        invoices["invoice_id"] = invoices["invoice_id"] + f"-{days}"
        electricity = redate(tables["electricity"], "billed_at")
        electricity["period"] = electricity["billed_at"].dt.to_period("M").dt.start_time.astype(electricity["period"].dtype)
        electricity["kwh"] *= 10
        electricity["paid_on_time"] = False
        customs = redate(tables["customs"], "declared_at")
        customs["value_cny"] *= 10
        awards = redate(tables["procurement_awards"], "awarded_at")
        awards["award_id"] = awards["award_id"] + f"-{days}"
        for name, extra in (("tax_filings", tax), ("tax_credit_ratings", ratings), ("invoices", invoices),
                            ("electricity", electricity), ("customs", customs), ("procurement_awards", awards)):
            out[name] = pd.concat([out[name], extra], ignore_index=True)
        later = applications.sort_values("applied_at").groupby("enterprise_id").tail(1).copy()
        later["applied_at"] = later["enterprise_id"].map(last) + shift
        later["application_id"] = later["application_id"] + f"-later{days}"
        added_applications.append(later)
    if any(d > 0 for d in days_after):
        applications = pd.concat([applications, *added_applications], ignore_index=True)
    return out, applications


# --- the stage: files, order, split, cache ----------------------------------------------------

def _files_params(project: Path, data_dir: Path) -> Path:
    path = project / "params" / "features_test.yaml"
    path.write_text(
        "name: features_test\nseed: 5\nproducts: [procurement, quick_loan]\n"
        f"data: {{source: files, files_dir: '{data_dir}'}}\n"
        "split: {train_end: 2022-12-31, oot_start: 2023-01-01}\n",
        encoding="utf-8",
    )
    return path


def test_build_features_writes_the_stage_files_and_reuses_its_cache(project, small_world):
    cfg = config.load(_files_params(project, small_world), run_name="t")
    result = build_features(cfg, progress=False)
    stage = artifacts.layout(cfg).stage_dir(artifacts.FEATURES)
    for name in ("features.parquet", "catalog.json", "data_dictionary.csv", "profile.json"):
        assert (stage / name).is_file(), name
    frame = pd.read_parquet(stage / "features.parquet")
    assert list(frame.columns[:8]) == list(KEY_COLUMNS)
    assert frame["application_id"].is_monotonic_increasing
    assert set(frame["split"]) <= {"train", "holdout", "oot", "unlabelled"}
    assert (frame.loc[frame["default_12m"].isna(), "split"] == "unlabelled").all()
    assert [s.name for s in read_catalog_file(stage / "catalog.json")] == [s.name for s in CATALOG]
    dictionary = pd.read_csv(stage / "data_dictionary.csv")
    assert dictionary["description_zh"].notna().all() and len(dictionary) == len(CATALOG)
    assert not result.cached and result.profile["rows"] == len(frame)

    again = build_features(cfg, progress=False)
    assert again.cached
    pd.testing.assert_frame_equal(again.features, frame)

    # A changed input file (new modification time) invalidates the cache.
    applications = small_world / "applications.parquet"
    stat = applications.stat()
    os.utime(applications, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not build_features(cfg, progress=False).cached


def test_tabular_data_becomes_features_with_a_derived_catalog(project, tmp_path):
    rng = np.random.default_rng(3)
    n = 400
    data = pd.DataFrame({
        "loan_id": [f"L{i:04d}" for i in range(n)],
        "income": rng.lognormal(10, 0.5, n),
        "age": rng.integers(20, 70, n),
        "purpose": rng.choice(["car", "house", "other"], n),
        "status": rng.choice(["good", "bad"], n, p=[0.8, 0.2]),
    })
    data.to_csv(tmp_path / "loans.csv", index=False)
    params = project / "params" / "tabular_test.yaml"
    params.write_text(
        "name: tabular_test\nseed: 1\nproducts: [germancredit]\n"
        "data:\n  source: tabular\n  tabular:\n"
        f"    path: '{tmp_path / 'loans.csv'}'\n"
        "    id_column: loan_id\n    target_column: status\n    bad_value: bad\n    product: consumer\n"
        "    risk_directions: {income: -1}\n",
        encoding="utf-8",
    )
    cfg = config.load(params, run_name="tab")
    result = build_features(cfg, progress=False)
    frame = result.features
    assert list(frame.columns) == [*KEY_COLUMNS, "income", "age", "purpose"]
    assert frame["default_12m"].tolist() == (data.sort_values("loan_id")["status"] == "bad").astype(float).tolist()
    assert frame["applied_at"].isna().all() and (frame["product"] == "consumer").all()
    assert frame["income"].dtype == "float64" and frame["age"].dtype == "float64"
    assert set(frame["split"]) == {"train", "holdout", "oot"}
    specs = {s.name: s for s in result.catalog}
    assert specs["income"].risk_direction == -1 and specs["age"].risk_direction == 0
    assert specs["purpose"].kind == "categorical" and specs["product"].kind == "categorical"

    params.write_text(params.read_text().replace("income: -1", "salary: -1"), encoding="utf-8")
    with pytest.raises(ValueError, match="loans.csv: data.tabular.risk_directions names salary"):
        build_features(config.load(params, run_name="tab2"), progress=False)


def test_applications_without_a_date_are_refused_naming_the_row(small_world):
    tables, applications = load_tables(small_world)
    applications = applications.copy()
    applications.loc[3, "applied_at"] = pd.NaT
    with pytest.raises(ValueError, match="applied_at is empty in row 3"):
        compute_features(tables, applications)


def test_a_table_without_a_needed_column_is_refused_naming_the_file(small_world, tmp_path):
    from creditmine.data.io import table_path

    paths = {t: table_path(small_world, t) for t in FEATURE_TABLES}
    broken = tmp_path / "invoices.parquet"
    pd.read_parquet(paths["invoices"]).drop(columns=["status"]).to_parquet(broken)
    paths["invoices"] = broken
    with pytest.raises(ValueError, match=r"invoices.parquet: missing column\(s\) status"):
        compute_features(paths, read_table(small_world, "applications"))
