"""The synthetic world: credit codes, determinism, realism, the learnable-but-noisy signal, prepare()."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from creditmine import config, data
from creditmine.config.data import SyntheticParams
from creditmine.data import io, profile, schemas, synthetic, uscc

REPO = Path(__file__).resolve().parents[1]
WINDOW_END = date(2024, 12, 31)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The CI-sized world of params/ci.yaml (3,000 enterprises, seed 7)."""
    cfg = config.load(REPO / "params" / "ci.yaml")
    out = tmp_path_factory.mktemp("world")
    synthetic.generate(cfg.params.data.synthetic, cfg.params.seed, out, progress=False)
    return out


@pytest.fixture(scope="module")
def labelled(world) -> pd.DataFrame:
    apps = io.read_table(world, "applications")
    truth = io.read_table(world, io.GROUND_TRUTH)
    apps = apps.merge(truth, on="application_id", validate="one_to_one")
    return apps[apps["default_12m"].notna()].reset_index(drop=True)


# -- unified social credit codes ----------------------------------------------------------------


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110108551385082Q", "91330100716105852F"])
def test_published_codes_are_valid(code):
    assert uscc.is_valid(code)
    assert uscc.check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91110108551385082", "9111010855138508IQ", None, 91350100])
def test_wrong_codes_are_invalid(code):
    assert not uscc.is_valid(code)


def test_generated_codes_are_valid_and_distinct():
    serials = np.arange(0, 10**8, 9_973)
    codes = uscc.make_codes(serials, np.full(len(serials), 110105))
    assert all(uscc.is_valid(c) for c in codes[:500])
    assert uscc.valid_mask(codes).all()
    assert len(set(codes)) == len(codes)
    assert all(c.startswith("91110105") for c in codes[:50])


# -- determinism and streaming ------------------------------------------------------------------


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_same_seed_gives_identical_files_and_chunks_are_row_groups(tmp_path):
    params = SyntheticParams(enterprises=250, chunk_enterprises=100)
    synthetic.generate(params, 11, tmp_path / "a", progress=False)
    synthetic.generate(params, 11, tmp_path / "b", progress=False)
    synthetic.generate(params, 12, tmp_path / "c", progress=False)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a")["invoices.parquet"] != _digests(tmp_path / "c")["invoices.parquet"]
    assert pq.ParquetFile(tmp_path / "a" / "invoices.parquet").num_row_groups == 3
    ids = io.read_table(tmp_path / "a", "enterprises")["enterprise_id"]
    assert ids.is_unique and len(ids) == 250
    for key, table in (("invoice_id", "invoices"), ("application_id", "applications"), ("award_id", "procurement_awards")):
        assert io.read_table(tmp_path / "a", table)[key].is_unique


def test_tables_follow_the_data_model(world):
    assert synthetic.is_complete(world)
    for name, schema in io.ARROW_SCHEMAS.items():
        assert pq.read_schema(world / f"{name}.parquet").names == schema.names
        assert pq.read_schema(world / f"{name}.parquet").types == schema.types
    apps = io.read_table(world, "applications")
    assert str(apps["applied_at"].dtype).startswith("datetime64")
    assert apps["default_12m"].dtype == np.float64 and apps["booked"].dtype == bool


def test_generated_data_passes_its_own_schemas(world):
    failures = schemas.validate_data_dir(world, as_of=WINDOW_END, include_ground_truth=True)
    assert failures.empty, failures.head(10).to_string()


# -- realism ------------------------------------------------------------------------------------


def test_enterprises_look_like_beijing_smes(world):
    ent = io.read_table(world, "enterprises")
    assert set(ent["industry_section"]) <= set(schemas.GBT4754_DIVISIONS)
    assert ent["industry_section"].nunique() == 9
    assert set(ent["district"]) <= set(schemas.DISTRICT_NAMES)
    assert 0.005 < ent["specialized_innovative"].mean() < 0.10
    assert 0.03 < ent["high_tech"].mean() < 0.25
    # heavy-tailed size: the mean registered capital well above the median, a long right tail
    capital = ent["registered_capital_cny"]
    assert capital.mean() > 2 * capital.median()
    assert capital.quantile(0.99) > 15 * capital.median()
    assert (ent["registered_at"] < pd.Timestamp("2021-01-01")).mean() > 0.8


def test_sources_show_seasonality_late_filings_invoice_statuses_and_thin_files(world):
    filings = io.read_table(world, "tax_filings")
    by_month = filings.groupby("period")["taxable_sales_cny"].sum()
    # Spring Festival: February 2024 and January 2023 are below the month after
    assert by_month[pd.Timestamp("2024-02-01")] < 0.9 * by_month[pd.Timestamp("2024-03-01")]
    assert by_month[pd.Timestamp("2023-01-01")] < 0.9 * by_month[pd.Timestamp("2023-03-01")]
    deadline = filings["period"] + pd.offsets.MonthBegin(1) + pd.Timedelta(days=14)
    late_share = (filings["filed_at"] > deadline).mean()
    assert 0.02 < late_share < 0.2
    invoices = io.read_table(world, "invoices", columns=["status", "amount_cny", "direction"])
    shares = invoices["status"].value_counts(normalize=True)
    assert 0.005 < shares["void"] < 0.05 and 0.005 < shares["red-letter"] < 0.05
    assert (invoices.loc[invoices["status"] == "red-letter", "amount_cny"] < 0).all()
    assert (invoices.loc[invoices["status"] != "red-letter", "amount_cny"] >= 0).all()
    coverage = profile.profile_tables(world)["coverage"].set_index("source")["share_of_enterprises"]
    assert coverage["electricity"] < 0.8 and coverage["customs"] < 0.15 and coverage["procurement_awards"] < 0.3
    ratings = io.read_table(world, "tax_credit_ratings")["rating"].value_counts(normalize=True)
    assert ratings["B"] > ratings["A"] > ratings["C"] > ratings["D"]


def test_health_moves_the_sources(world, labelled):
    """Defaulters' sources look worse before the application: lower VAT burden, more late filings."""
    filings = io.read_table(world, "tax_filings")
    filings["burden"] = filings["vat_payable_cny"] / filings["taxable_sales_cny"]
    by_firm = filings.groupby("enterprise_id")["burden"].median()
    firm_default = labelled.groupby("enterprise_id")["default_12m"].max()
    joined = pd.concat([by_firm, firm_default], axis=1, join="inner")
    assert joined.loc[joined["default_12m"] == 1, "burden"].median() < joined.loc[joined["default_12m"] == 0, "burden"].median()


def test_applications_cover_every_product_with_eligibility(world):
    apps = io.read_table(world, "applications")
    ent = io.read_table(world, "enterprises")
    assert set(apps["product"]) == set(schemas.PRODUCTS)
    assert 3.0 <= len(apps) / len(ent) <= 5.0
    # procurement loans: an award won before the application, whose contract is running
    awards = io.read_table(world, "procurement_awards")
    proc = apps[apps["product"] == "procurement"].merge(awards, on="award_id", suffixes=("", "_award"))
    assert len(proc) == (apps["product"] == "procurement").sum()
    assert (proc["awarded_at"] < proc["applied_at"]).all()
    assert ((proc["start_on"] <= proc["applied_at"]) & (proc["applied_at"] < proc["end_on"])).all()
    assert (proc["enterprise_id"] == proc["enterprise_id_award"]).all()
    # tax loans: 12 filings and a rating of A, B or M known before the application
    tax = apps[apps["product"] == "tax"]
    filings = io.read_table(world, "tax_filings", columns=["enterprise_id", "filed_at"])
    pairs = tax[["application_id", "enterprise_id", "applied_at"]].merge(filings, on="enterprise_id")
    known = pairs[pairs["filed_at"] < pairs["applied_at"]].groupby("application_id").size()
    assert (known.reindex(tax["application_id"]).fillna(0) >= 12).all()
    ratings = io.read_table(world, "tax_credit_ratings").sort_values("published_at")
    latest = pd.merge_asof(
        tax.sort_values("applied_at"), ratings.rename(columns={"published_at": "applied_at"}),
        on="applied_at", by="enterprise_id", allow_exact_matches=False,
    )
    assert latest["rating"].isin(["A", "B", "M"]).all()


def test_outcomes_only_for_booked_matured_loans(world, labelled):
    apps = io.read_table(world, "applications")
    assert apps.loc[~apps["booked"], "default_12m"].isna().all()
    assert apps.loc[apps["applied_at"] >= "2024-01-01", "default_12m"].isna().all()
    assert apps.loc[apps["booked"] & (apps["applied_at"] < "2023-12-01"), "default_12m"].notna().all()
    rate = labelled["default_12m"].mean()
    assert 0.02 < rate < 0.08
    rates = profile.default_rates(world)
    by_product = rates[(rates["year"] == "all") & (rates["product"] != "all")]["default_rate"]
    assert by_product.max() - by_product.min() > 0.01
    assert len(labelled) > 2_000


# -- the signal ---------------------------------------------------------------------------------


def test_oracle_auc_in_range_and_plain_logistic_regression_clearly_below(world, labelled):
    summary = profile.generator_summary(world)
    assert 0.75 <= summary["oracle_auc"] <= 0.90
    features = _obvious_features(world, labelled)
    columns = ["age_years", "log_amount", "log_employees", "log_capital", "rating_score", "late_filings_12m"]
    dev = features[features["applied_at"] < "2023-01-01"]
    oot = features[features["applied_at"] >= "2023-01-01"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(dev[columns], dev["default_12m"])
    plain = roc_auc_score(oot["default_12m"], model.predict_proba(oot[columns])[:, 1])
    oracle = roc_auc_score(oot["default_12m"], oot["true_pd"])
    assert 0.55 < plain < oracle - 0.04, (plain, oracle)


def _obvious_features(world: Path, labelled: pd.DataFrame) -> pd.DataFrame:
    """Age, amount, size, the latest rating and late filings in the last 12 months, point in time."""
    ent = io.read_table(world, "enterprises")
    apps = labelled.merge(ent, on="enterprise_id").sort_values("applied_at").reset_index(drop=True)
    apps["age_years"] = (apps["applied_at"] - apps["registered_at"]).dt.days / 365.25
    apps["log_amount"] = np.log(apps["requested_amount_cny"])
    apps["log_employees"] = np.log1p(apps["employees"])
    apps["log_capital"] = np.log(apps["registered_capital_cny"])
    ratings = io.read_table(world, "tax_credit_ratings").sort_values("published_at")
    latest = pd.merge_asof(
        apps[["enterprise_id", "applied_at"]], ratings.rename(columns={"published_at": "applied_at"}),
        on="applied_at", by="enterprise_id", allow_exact_matches=False,
    )
    apps["rating_score"] = latest["rating"].map({"A": 0, "B": 1, "M": 1.5, "C": 2, "D": 3}).fillna(1.5).to_numpy()
    filings = io.read_table(world, "tax_filings")
    filings["late"] = filings["filed_at"] > filings["period"] + pd.offsets.MonthBegin(1) + pd.Timedelta(days=14)
    pairs = apps[["application_id", "enterprise_id", "applied_at"]].merge(filings, on="enterprise_id")
    window = (pairs["filed_at"] < pairs["applied_at"]) & (pairs["filed_at"] >= pairs["applied_at"] - pd.Timedelta(days=365))
    late = pairs[window].groupby("application_id")["late"].sum()
    apps["late_filings_12m"] = apps["application_id"].map(late).fillna(0).to_numpy()
    return apps


# -- prepare() and profile ----------------------------------------------------------------------


def test_prepare_generates_once_and_regenerates_a_partial_folder(project, monkeypatch):
    params = project / "params" / "ci.yaml"
    params.write_text(params.read_text().replace("enterprises: 3000", "enterprises: 200"))
    cfg = config.load(params)
    path = data.prepare(cfg, progress=False)
    assert path == cfg.data_dir and synthetic.is_complete(path)
    stamp = (path / "invoices.parquet").stat().st_mtime_ns
    assert data.prepare(cfg, progress=False) == path
    assert (path / "invoices.parquet").stat().st_mtime_ns == stamp       # reused, not regenerated
    (path / io.SUCCESS_MARKER).unlink()
    (path / "customs.parquet").unlink()
    data.prepare(cfg, progress=False)
    assert synthetic.is_complete(path)
    marker = path / io.SUCCESS_MARKER
    marker.write_text(marker.read_text().replace(synthetic.GENERATOR_VERSION, "0.0"))
    assert not synthetic.is_complete(path)            # made by an older generator: regenerated
    data.prepare(cfg, progress=False)
    assert synthetic.is_complete(path)


def test_prepare_checks_ingested_files_and_tabular_sources(project):
    params = project / "params" / "files.yaml"
    params.write_text("name: files\nproducts: [procurement]\ndata: {source: files, files_dir: data/mine}\n")
    cfg = config.load(params)
    with pytest.raises(data.DataError, match="files_dir does not exist"):
        data.prepare(cfg)
    (project / "data" / "mine").mkdir(parents=True)
    with pytest.raises(data.DataError, match="enterprises.parquet: table 'enterprises' missing"):
        data.prepare(cfg)
    tabular = config.load(project / "params" / "germancredit.yaml")
    assert data.prepare(tabular) == tabular.resolve(tabular.params.data.tabular.path).parent
    broken = project / "params" / "broken.yaml"
    broken.write_text((project / "params" / "germancredit.yaml").read_text().replace("germancredit.csv", "nothing.csv"))
    with pytest.raises(data.DataError, match="nothing.csv: data.tabular.path not found"):
        data.prepare(config.load(broken))


def test_profile_reports_rows_dates_missing_shares_and_default_rates(world):
    prof = profile.profile_tables(world)
    tables = prof["tables"].set_index("table")
    assert list(tables.index) == list(io.TABLES)
    assert tables.loc["invoices", "rows"] == pq.ParquetFile(world / "invoices.parquet").metadata.num_rows
    assert tables["last_date"].max() <= pd.Timestamp(WINDOW_END)
    missing = prof["missing"].set_index(["table", "column"])["missing_share"]
    assert missing[("applications", "award_id")] > 0.5
    assert missing[("invoices", "amount_cny")] == 0
    rates = prof["default_rates"]
    overall = rates[(rates["product"] == "all") & (rates["year"] == "all")].iloc[0]
    apps = io.read_table(world, "applications")
    assert overall["labelled"] == apps["default_12m"].notna().sum()
    assert overall["default_rate"] == pytest.approx(apps["default_12m"].mean())
    assert rates.loc[rates["year"] == "2024", "labelled"].sum() == 0
    assert profile.to_jsonable(prof)["tables"][0]["table"] == "enterprises"


def test_a_stricter_past_policy_books_fewer_and_safer_loans_in_the_same_world(tmp_path):
    """`past_policy: strict` changes who was booked, nothing the sources show; standard is the default world."""
    assert SyntheticParams().past_policy == "standard"
    for policy in ("standard", "strict"):
        synthetic.generate(SyntheticParams(enterprises=600, chunk_enterprises=300, past_policy=policy), 5,
                           tmp_path / policy, progress=False)
    standard, strict = _digests(tmp_path / "standard"), _digests(tmp_path / "strict")
    for table in ("enterprises", "tax_filings", "invoices", "electricity", "customs", "procurement_awards"):
        assert standard[f"{table}.parquet"] == strict[f"{table}.parquet"], table
    shares = {}
    for policy in ("standard", "strict"):
        apps = io.read_table(tmp_path / policy, "applications").merge(
            io.read_table(tmp_path / policy, io.GROUND_TRUTH), on="application_id")
        shares[policy] = (apps["booked"].mean(), apps.loc[apps["booked"], "true_pd"].mean())
    assert 0.6 < shares["standard"][0] < 0.8 and 0.35 < shares["strict"][0] < 0.6
    assert shares["strict"][1] < shares["standard"][1]
