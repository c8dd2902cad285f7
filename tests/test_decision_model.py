"""The decision model: PD, score, grade, decision, limit, term and reasons per application, and its gate."""

import numpy as np
import pandas as pd
import pytest

import creditmine.config as config
from creditmine.decision.model import OUTPUT_COLUMNS, REASON_COLUMNS, DecisionEngine
from creditmine.explain.reasons import ReasonCoder, to_wide
from creditmine.features.catalog import synthetic_catalog
from creditmine.models.gbm import GbmModel

MODEL_FEATURES = [
    "product", "requested_amount_cny", "enterprise_age_years", "industry_section", "specialized_innovative",
    "tax_missing", "taxable_sales_12m", "taxable_sales_growth_12m", "tax_late_filings_12m",
    "invoiced_sales_12m", "invoice_red_letter_share_12m", "electricity_late_payments_12m",
]


def synthetic_applications(n: int, seed: int) -> pd.DataFrame:
    """Quick-loan applications with a few catalogued features and a default outcome driven by them."""
    rng = np.random.default_rng(seed)
    thin = rng.uniform(size=n) < 0.1
    growth = rng.normal(0.05, 0.3, n)
    late = rng.poisson(0.6, n).astype(float)
    red = rng.beta(1, 20, n)
    age = rng.gamma(3, 2.5, n)
    sales = np.exp(rng.normal(15, 1, n))
    logit = -3.2 - 2.0 * growth + 0.6 * late + 8 * red - 0.08 * age + 1.0 * thin
    frame = pd.DataFrame({
        "application_id": [f"APP{i:06d}" for i in range(n)],
        "enterprise_id": [f"E{i:05d}" for i in range(n)],
        "product": rng.choice(["tax", "invoice", "electricity"], n),
        "requested_amount_cny": np.round(rng.uniform(1e5, 3e6, n), -3),
        "term_months": rng.choice([6, 12, 24], n),
        "enterprise_age_years": age,
        "industry_section": rng.choice(list("CFGIM"), n),
        "specialized_innovative": (rng.uniform(size=n) < 0.05).astype(float),
        "tax_missing": thin.astype(float),
        "taxable_sales_12m": np.where(thin, np.nan, sales),
        "taxable_sales_growth_12m": np.where(thin, np.nan, growth),
        "tax_late_filings_12m": np.where(thin, np.nan, late),
        "invoiced_sales_12m": sales * rng.uniform(0.7, 1.1, n),
        "invoice_red_letter_share_12m": red,
        "electricity_late_payments_12m": rng.poisson(0.3, n).astype(float),
        "electricity_bill_12m": sales * 0.01,
        "exports_12m": 0.0,
    })
    frame["default_12m"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    return frame


@pytest.fixture(scope="module")
def fitted():
    apps = synthetic_applications(4000, seed=11)
    model = GbmModel(categorical_features=("product", "industry_section"), max_iter=40, search_trials=0,
                     min_samples_leaf=40, grades=7, random_state=0)
    model.fit(apps[MODEL_FEATURES], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)
    return engine, model, catalog


def test_outputs_agree_with_the_model_and_the_policy(fitted):
    engine, model, _ = fitted
    apps = synthetic_applications(300, seed=5)
    out = engine.decide(apps)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out["application_id"].tolist() == apps["application_id"].tolist()
    X = apps[MODEL_FEATURES]
    np.testing.assert_allclose(out["pd"], model.predict_pd(X))
    np.testing.assert_allclose(out["score"], model.credit_score(X))
    np.testing.assert_array_equal(out["grade"], model.grade(X))
    policy = engine.product.policy
    scored = out["error"] == ""
    approve = out["grade"].isin(policy.approve_grades)
    assert (out.loc[scored & approve, "decision"] == "approve").all()
    assert (out.loc[out["grade"].isin(policy.refer_grades), "decision"] == "refer").all()
    declined = out["decision"] == "decline"
    assert (~out.loc[declined, "grade"].isin((*policy.approve_grades, *policy.refer_grades))).all()
    assert (out.loc[declined, "credit_limit_cny"] == 0).all() and (out.loc[declined, "term_months"] == 0).all()
    assert (out.loc[~declined, "term_months"] <= policy.max_term_months).all()
    assert (out["credit_limit_cny"].fillna(0) <= apps["requested_amount_cny"]).all()


def test_limit_follows_the_product_rule(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(200, seed=6)
    out = engine.decide(apps)
    policy = engine.product.policy
    rows = (out["decision"] == "approve").to_numpy()
    tax = rows & (apps["product"] == "tax").to_numpy()
    scale = out.loc[tax, "grade"].map(policy.grade_limit_scale).to_numpy()
    expected = np.minimum(0.2 * apps.loc[tax, "taxable_sales_12m"].to_numpy() * scale,
                          apps.loc[tax, "requested_amount_cny"].to_numpy())
    expected = np.minimum(expected, np.where(apps.loc[tax, "specialized_innovative"] == 1, 5e7, 1e7))
    np.testing.assert_allclose(out.loc[tax, "credit_limit_cny"], np.floor(expected / 1000) * 1000)


def test_reasons_are_the_explain_packages_in_both_languages(fitted):
    engine, model, catalog = fitted
    apps = synthetic_applications(50, seed=7)
    out = engine.decide(apps)
    coder = ReasonCoder(catalog, top_k=4).fit(model)
    wide = to_wide(coder.explain(apps[MODEL_FEATURES], apps["application_id"]), 4).set_index("application_id")
    for column in REASON_COLUMNS:
        expected = wide[column].reindex(apps["application_id"]).fillna("").to_numpy()
        np.testing.assert_array_equal(out[column].to_numpy(), expected)
    assert (out["reason_1_en"] != "").mean() > 0.9
    assert out["reason_1_zh"].str.contains(r"[\u4e00-\u9fff]").mean() > 0.9


def test_bad_rows_are_referred_with_their_reason_and_spare_the_others(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(6, seed=8).astype({"requested_amount_cny": object, "product": object})
    alone = engine.decide(apps)
    apps.loc[1, "requested_amount_cny"] = -100.0
    apps.loc[2, "product"] = "mortgage"
    apps.loc[3, ["enterprise_age_years", "industry_section", "taxable_sales_12m", "taxable_sales_growth_12m",
                 "tax_late_filings_12m", "invoiced_sales_12m", "invoice_red_letter_share_12m",
                 "electricity_late_payments_12m", "specialized_innovative"]] = np.nan
    apps.loc[3, "tax_missing"] = 1.0
    apps.loc[4, "requested_amount_cny"] = "lots"
    out = engine.decide(apps)
    assert out.loc[[1, 2, 3, 4], "decision"].eq("refer").all()
    assert out.loc[[1, 2, 3, 4], "pd"].isna().all()
    assert "requested_amount_cny must be positive" in out.loc[1, "error"]
    assert "unknown product 'mortgage'" in out.loc[2, "error"]
    assert "no data on the enterprise" in out.loc[3, "error"]
    assert "requested_amount_cny: expected a number, got 'lots'" in out.loc[4, "error"]
    pd.testing.assert_frame_equal(out.loc[[0, 5]], alone.loc[[0, 5]])


def test_missing_limit_base_refers_with_the_reason(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(40, seed=9)
    apps["product"] = "tax"
    apps["taxable_sales_12m"] = np.nan  # scored, but no sales on record to size the limit
    out = engine.decide(apps)
    eligible = out["grade"].isin(engine.product.policy.approve_grades)
    assert eligible.any()
    assert (out.loc[eligible, "decision"] == "refer").all()
    assert out.loc[eligible, "error"].str.contains("no taxable_sales_12m on record").all()
    assert out["pd"].notna().all()


def test_an_empty_or_all_bad_batch_does_not_crash(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(3, seed=10).drop(columns=["product"])
    out = engine.decide(apps)
    assert out["decision"].eq("refer").all() and out["error"].str.contains("missing field product").all()
    assert engine.decide(apps.iloc[:0]).empty


def test_the_booster_matrix_is_the_models_own(fitted):
    engine, model, _ = fitted
    apps = synthetic_applications(30, seed=12).astype({"industry_section": object})
    apps.loc[0, "industry_section"] = "Z"  # unseen category
    apps.loc[1, "industry_section"] = None
    batch = engine.input_spec
    from creditmine.decision.inputs import validate_applications

    columns = validate_applications(apps, batch).columns
    np.testing.assert_array_equal(engine.booster_matrix(columns), model.transform_features(apps[MODEL_FEATURES]))


def test_a_scorecard_decides_through_its_own_api():
    from creditmine.models.scorecard import ScorecardModel

    apps = synthetic_applications(3000, seed=13)
    features = [f for f in MODEL_FEATURES if f != "product"]
    model = ScorecardModel(categorical_features=("industry_section",), grades=6, random_state=0)
    model.fit(apps[features], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)
    test = synthetic_applications(100, seed=14)
    out = engine.decide(test)
    np.testing.assert_allclose(out["pd"], model.predict_pd(test[features]))
    np.testing.assert_array_equal(out["grade"], model.grade(test[features]))
    assert set(out["decision"]) <= {"approve", "refer", "decline"} and (out["error"] == "").mean() > 0.8
    assert (out.loc[out["decision"] == "decline", "reason_1_en"] != "").all()
