"""Stage 03 end to end on a small trained product: files, additivity, reasons in both languages,
sign check, stability, agreement; plus the sign check and the ranking stability on crafted data."""

import json

import numpy as np
import pandas as pd
import pytest

from creditmine import artifacts, config
from creditmine.artifacts import FeatureSpec
from creditmine.explain.result import mask_id
from creditmine.explain.stability import ranking_stability, segment_stability, sign_check
from creditmine.explain.stage import run as explain_product
from creditmine.models.stage import run as train_product
from creditmine.reports.style import apply_style, cjk_font_note
from factories import write_features

PARAMS = """
name: unit
seed: 5
products: [pooled]
split: {train_end: 2022-12-31, oot_start: 2023-01-01, holdout_share: 0.25}
models:
  primary: gbm
  scorecard: {max_features: 6}
  gbm: {max_iter: 40, search_trials: 0}
explain:
  stability_rows: 400
  segment_min_rows: 50
  interaction_rows: 60
  dependence_plots: 2
  verify_rows: 50
"""
PRODUCT = "name: pooled\napplication_products: [tax, invoice]\npolicy: {approve_grades: [1, 2, 3, 4, 5], refer_grades: [6, 7]}\n"


def _spec(name, risk, group, en, zh, kind="numeric", source="tax"):
    return FeatureSpec(name, source, 12, "ratio", name.replace("_", " "), f"{name}中文", risk, group, kind, en, zh)


CATALOG = [
    _spec("product", 0, "product", "Product {value} carries a higher risk", "产品{value}风险较高", "categorical", "application"),
    _spec("sales_growth_6m", -1, "sales_growth", "Taxable sales changed by {value:+.0%} over the last 6 months",
          "近6个月应税销售额变化{value:+.0%}"),
    _spec("sales_growth_12m", -1, "sales_growth", "Taxable sales changed by {value:+.0%} over the last 12 months",
          "近12个月应税销售额变化{value:+.0%}"),
    _spec("late_filing_share_12m", 1, "tax_compliance", "{value:.0%} of VAT returns filed late",
          "{value:.0%}的增值税申报逾期"),
    _spec("industry_section", 0, "industry", "Industry section {value} carries a higher risk", "所属行业门类{value}风险较高",
          "categorical", "enterprise"),
    _spec("noise_12m", 0, "noise", "Noise {value:.2f}", "噪声{value:.2f}"),
]


def _features(n, seed):
    rng = np.random.default_rng(seed)
    product = rng.choice(["tax", "invoice"], n)
    growth = rng.normal(0, 0.3, n)
    late = rng.beta(1, 6, n)
    industry = rng.choice(list("CFI"), n, p=[0.4, 0.35, 0.25])
    logit = (-2.6 - 2.5 * growth + 4 * late + pd.Series(industry).map({"C": 0, "F": 0.5, "I": -0.4}).to_numpy()
             + 0.3 * (product == "invoice"))
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    applied = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    growth12 = growth + rng.normal(0, 0.1, n)
    growth12[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "application_id": [f"AP{i:08d}" for i in range(n)], "enterprise_id": [f"E{i % 700:05d}" for i in range(n)],
        "product": product, "applied_at": applied.normalize(), "requested_amount_cny": 5e5, "term_months": 12,
        "default_12m": default, "sales_growth_6m": growth, "sales_growth_12m": growth12,
        "late_filing_share_12m": late, "industry_section": industry, "noise_12m": rng.normal(size=n),
    })


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage03")
    (root / "params" / "products").mkdir(parents=True)
    (root / "params" / "unit.yaml").write_text(PARAMS)
    (root / "params" / "products" / "pooled.yaml").write_text(PRODUCT)
    cfg = config.load(root / "params" / "unit.yaml", run_name="t")
    write_features(cfg, _features(3000, 2), CATALOG)
    frame = artifacts.read_features(artifacts.layout(cfg))
    train_product(cfg, "pooled", progress=False)
    return cfg, frame, explain_product(cfg, "pooled", progress=False)


@pytest.mark.slow
def test_writes_the_contract_files_and_shap_adds_up(explained):
    cfg, frame, result = explained
    folder = artifacts.layout(cfg, "pooled").stage_dir(artifacts.EXPLAIN)
    assert result.stage_dir == folder
    models = artifacts.read_models(artifacts.layout(cfg, "pooled"))
    oot = frame[frame["split"] == "oot"].set_index("application_id")
    for name, model in models.items():
        shap_table = pd.read_parquet(folder / f"shap_{name}.parquet")
        features = [c for c in shap_table.columns if c not in ("application_id", "base_value", "output")]
        assert len(shap_table) == len(oot)
        total = shap_table["base_value"] + shap_table[features].sum(axis=1)
        assert np.abs(total - shap_table["output"]).max() < 1e-6
        X = oot.loc[shap_table["application_id"], list(model.feature_names_in_)]
        assert np.allclose(shap_table["output"], model.decision_function(X))
    summary = json.loads((folder / "explain.json").read_text())
    assert summary["models"]["gbm"]["additivity_max_error"] < 1e-6
    check = summary["models"]["gbm"]["verification"]   # against shap's TreeExplainer where shap reads the trees
    assert check["checked_rows"] == 0 or check["max_abs_difference"] < 1e-9
    assert 0 <= summary["top_reason_agreement"]["share"] <= 1
    for name in ("importance", "beeswarm_gbm", "beeswarm_scorecard", "interactions_gbm", "waterfall_1", "waterfall_4"):
        assert (folder / summary["plots"][name]).is_file(), name
    assert [r["kind"].split()[0] for r in summary["representatives"]] == ["Clear", "Clear", "Near", "Near"]
    assert all(r["application"].startswith("****") for r in summary["representatives"])


@pytest.mark.slow
def test_reasons_in_both_languages_for_every_out_of_time_application(explained):
    cfg, frame, result = explained
    reasons = pd.read_parquet(artifacts.layout(cfg, "pooled").stage_dir(artifacts.EXPLAIN) / "reasons.parquet")
    assert list(reasons.columns) == ["application_id", "model", "rank", "reason_group", "feature", "value",
                                     "contribution", "statement_en", "statement_zh"]
    oot_ids = set(frame.loc[frame["split"] == "oot", "application_id"])
    for name, table in reasons.groupby("model"):
        assert set(table["application_id"]) <= oot_ids
        # every application whose PD any group pushes up has reasons; almost all do
        assert table["application_id"].nunique() >= 0.9 * len(oot_ids)
        assert table["rank"].between(1, 4).all() and (table["contribution"] > 0).all()
        assert not table.duplicated(["application_id", "reason_group"]).any()
    assert reasons["statement_en"].str.len().gt(0).all() and reasons["statement_zh"].str.len().gt(0).all()
    growth = reasons[reasons["feature"] == "sales_growth_6m"].iloc[0]
    assert growth["statement_zh"].startswith("近6个月应税销售额变化") and growth["statement_en"].endswith("6 months")
    assert result.reason_sample(3)["application_id"].str.startswith("****").all()


@pytest.mark.slow
def test_sign_check_and_stability_are_reported(explained):
    _, _, result = explained
    table = result.sign_check
    assert {"gbm", "scorecard"} == set(table["model"])
    judged = table[table["correlation"].notna()]
    assert not judged.empty and set(judged["expected_direction"]) <= {-1, 1}
    stability = result.stability
    sample = stability[stability["by"] == "sample"]
    assert len(sample) == 2 and sample["spearman"].notna().all()
    assert {"product", "industry_section"} <= set(stability["by"])
    summary_html = result.summary_table().to_html()
    assert "Additivity (gbm)" in summary_html and "Top reason agrees" in summary_html


def test_sign_check_flags_a_feature_against_its_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    values = pd.DataFrame({"up": 0.5 * x, "down": 0.5 * x, "flat": np.zeros(500)})
    features = pd.DataFrame({"up": x, "down": x, "flat": x})
    specs = {"up": _spec("up", 1, "g", "", ""), "down": _spec("down", -1, "g", "", ""), "flat": _spec("flat", 1, "g", "", "")}
    table = sign_check(values, features, specs).set_index("feature")
    assert table.loc["up", "ok"] and table.loc["up", "status"] == "as expected"
    assert not table.loc["down", "ok"] and table.loc["down", "status"] == "VIOLATION"
    assert table.loc["flat", "status"] == "not used by the model"
    # a correlation against the direction but weaker than the tolerance is not a violation
    weak = pd.DataFrame({"down": 0.5 * x + rng.normal(size=500) * 20})
    loose = sign_check(weak, features, specs, tolerance=0.5).set_index("feature")
    assert loose.loc["down", "ok"] and loose.loc["down", "status"] == "no clear direction"


def test_ranking_stability_and_segments():
    reference = pd.Series({"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0})
    same = ranking_stability(reference, reference * 2, top=3)
    assert same["spearman"] == pytest.approx(1.0) and same["overlap"] == 3
    reversed_ = ranking_stability(reference, pd.Series({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}), top=4)
    assert reversed_["spearman"] == pytest.approx(-1.0)
    values = pd.DataFrame({"a": [3.0, 3.0, 2.0], "b": [1.0, 1.0, 1.0], "c": [0.5, 0.5, 0.2]})
    table = segment_stability(values, np.array(["x", "x", "y"]), values.abs().mean(), top=2, min_rows=2, label="seg")
    by_segment = table.set_index("segment")
    assert not by_segment.loc["y", "judged"] and pd.isna(by_segment.loc["y", "spearman"])   # 1 row < min_rows
    assert by_segment.loc["x", "spearman"] == pytest.approx(1.0) and by_segment.loc["x", "overlap"] == 2


def test_plot_style_finds_a_cjk_font_or_says_so():
    font = apply_style()
    note = cjk_font_note()
    assert (font is not None and font in note) or "No font with Chinese glyphs" in note


def test_mask_id_keeps_the_last_four_characters():
    assert mask_id("AP000000001234") == "****1234"
    assert mask_id("12") == "****"
