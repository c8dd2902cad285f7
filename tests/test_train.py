"""Stage 02 end to end on a small feature table: files, scopes, saved models, exports, German credit."""

import json
from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from creditmine import artifacts, config
from creditmine.artifacts import TRUSTED_TYPES, FeatureSpec
from creditmine.models import score_json
from creditmine.models.stage import run as train_product
from factories import write_features

PARAMS = """
name: unit
seed: 3
products: [solo, pooled]
split: {train_end: 2022-12-31, oot_start: 2023-01-01, holdout_share: 0.25}
models:
  primary: gbm
  scorecard: {max_features: 6, special_values: [-1]}
  gbm: {max_iter: 60, search_trials: 2}
"""
PRODUCTS = {
    "solo": "name: solo\napplication_products: [a]\nprimary_model: scorecard\n",
    "pooled": "name: pooled\napplication_products: [b, c]\nsources: [tax, application]\n",
}


def _spec(name, source, risk, kind="numeric"):
    return FeatureSpec(name, source, 12, "ratio", name, name, risk, name, kind, f"{name} {{value}}", f"{name} {{value}}")


def _feature_table(n: int, seed: int) -> tuple[pd.DataFrame, list[FeatureSpec]]:
    rng = np.random.default_rng(seed)
    product = rng.choice(["a", "b", "c"], n, p=[0.3, 0.4, 0.3])
    sales_growth = rng.normal(0, 1, n)
    late_share = rng.beta(1, 6, n)
    power_trend = rng.normal(0, 1, n)
    rating = rng.choice(["A", "B", "M", "C"], n, p=[0.3, 0.4, 0.2, 0.1])
    logit = (-3.0 - 0.8 * sales_growth + 4.0 * late_share - 0.5 * power_trend
             + pd.Series(rating).map({"A": -0.6, "B": 0.0, "M": 0.5, "C": 1.2}).to_numpy()
             + pd.Series(product).map({"a": 0.0, "b": 0.3, "c": 0.6}).to_numpy())
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    applied = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, n), unit="D")
    default[applied > pd.Timestamp("2024-06-30")] = np.nan  # immature
    sales_growth[rng.random(n) < 0.05] = np.nan
    late_share[rng.random(n) < 0.03] = -1.0  # special: no filing obligation
    frame = pd.DataFrame({
        "application_id": [f"A{i:06d}" for i in range(n)], "enterprise_id": [f"E{i % 900:05d}" for i in range(n)],
        "product": product, "applied_at": applied.normalize(), "requested_amount_cny": rng.uniform(1e5, 1e6, n),
        "term_months": 12, "default_12m": default,
        "loan_mode": product, "sales_growth_12m": sales_growth, "late_filing_share_12m": late_share,
        "electricity_trend_12m": power_trend, "tax_rating": rating, "noise_12m": rng.normal(size=n),
    })
    catalog = [
        _spec("loan_mode", "application", 0, "categorical"), _spec("sales_growth_12m", "tax", -1),
        _spec("late_filing_share_12m", "tax", 1), _spec("electricity_trend_12m", "electricity", -1),
        _spec("tax_rating", "tax", 0, "categorical"), _spec("noise_12m", "tax", 0),
    ]
    return frame, catalog


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage02")
    (root / "params" / "products").mkdir(parents=True)
    (root / "params" / "unit.yaml").write_text(PARAMS)
    for name, text in PRODUCTS.items():
        (root / "params" / "products" / f"{name}.yaml").write_text(text)
    cfg = config.load(root / "params" / "unit.yaml", run_name="t")
    frame, catalog = _feature_table(6000, 1)
    write_features(cfg, frame, catalog)
    frame = artifacts.read_features(artifacts.layout(cfg))
    results = {p: train_product(cfg, p, progress=False) for p in ("solo", "pooled")}
    return cfg, frame, results


def test_writes_every_file_of_the_contract(trained):
    cfg, _, results = trained
    for product, result in results.items():
        folder = artifacts.layout(cfg, product).stage_dir(artifacts.TRAIN)
        assert result.stage_dir == folder
        for name in ("models/scorecard.skops", "models/gbm.skops", "models.json", "scorecard_table.csv",
                     "master_scale.csv", "scores.parquet", "train_metrics.json", "scorecard.json", "scorecard.sql"):
            assert (folder / name).is_file(), name
        metrics = json.loads((folder / "train_metrics.json").read_text())
        assert set(metrics["auc"]) == {"scorecard", "gbm"} and set(metrics["auc"]["gbm"]) == {"train", "holdout", "oot"}
        assert metrics["sign_check"]["all_ok"]
        assert {"std_error", "p_value", "vif", "sign_ok"} <= set(metrics["coefficients"][0])
        table = pd.read_csv(folder / "scorecard_table.csv")
        assert {"feature", "bin", "woe", "points", "count", "bad_rate"} <= set(table.columns)
        scale = pd.read_csv(folder / "master_scale.csv")
        assert len(scale) == 2 * cfg.params.models.master_scale.grades and {"share_development", "share_oot"} <= set(scale.columns)


def test_scope_primary_and_features_follow_the_product_files(trained):
    cfg, frame, results = trained
    solo, pooled = (artifacts.read_models_meta(artifacts.layout(cfg, p)) for p in ("solo", "pooled"))
    assert (solo["primary"], solo["challenger"]) == ("scorecard", "gbm")
    assert (pooled["primary"], pooled["challenger"]) == ("gbm", "scorecard")
    # the solo scope has a single loan mode: a constant feature is dropped with its reason
    assert "loan_mode" not in solo["features"] and solo["selection_reasons"]["loan_mode"].startswith("dropped: constant")
    # pooled modes are a feature; sources [tax, application] exclude electricity
    assert "loan_mode" in pooled["features"] and "electricity_trend_12m" not in pooled["features"]
    assert pooled["trials"] and sum(t["chosen"] for t in pooled["trials"]) == 1
    assert pooled["calibration"]["gbm"] in ("isotonic", "sigmoid")
    scores = results["pooled"].scores
    expected = frame[frame["product"].isin(["b", "c"])]
    assert len(scores) == len(expected) and set(scores["split"]) == {"train", "holdout", "oot", "unlabelled"}
    for model in ("scorecard", "gbm"):
        assert {f"pd_{model}", f"score_{model}", f"grade_{model}"} <= set(scores.columns)
        assert scores[f"grade_{model}"].between(1, cfg.params.models.master_scale.grades).all()
    assert scores.loc[scores["split"] == "unlabelled", "default_12m"].isna().all()


def test_saved_models_reload_without_refitting_and_trust_exact_types(trained):
    cfg, frame, results = trained
    result = results["pooled"]
    loaded = artifacts.read_models(artifacts.layout(cfg, "pooled"))
    X = frame.loc[frame["product"].isin(["b", "c"]), result.meta["features"]]
    for name, model in loaded.items():
        assert np.array_equal(model.predict_pd(X), result.models[name].predict_pd(X))
        assert np.array_equal(model.credit_score(X), result.models[name].credit_score(X))
    untrusted = set()
    for name in ("scorecard", "gbm"):
        untrusted |= set(sio.get_untrusted_types(file=result.stage_dir / "models" / f"{name}.skops"))
    assert untrusted == set(TRUSTED_TYPES)


def test_every_oot_application_scores_the_same_in_python_json_and_sql(trained):
    cfg, _, results = trained
    for result in results.values():
        features = artifacts.layout(cfg).features_table
        scores = result.scores[result.scores["split"] == "oot"]
        table = pd.read_parquet(features).merge(scores[["application_id", "score_scorecard"]], on="application_id")
        spec = json.loads((result.stage_dir / "scorecard.json").read_text())
        assert np.array_equal(score_json(spec, table), table["score_scorecard"].to_numpy())
        sql = result.models["scorecard"].to_sql(f"read_parquet('{features}')")
        from_sql = duckdb.sql(f"SELECT application_id, credit_score FROM ({sql})").df()
        merged = table.merge(from_sql, on="application_id")
        assert len(merged) == len(scores) > 0
        assert np.array_equal(merged["credit_score"].to_numpy(dtype=float), merged["score_scorecard"].to_numpy())


def test_models_beat_chance_out_of_time_and_rerun_is_identical(trained):
    cfg, _, results = trained
    for result in results.values():
        assert result.metrics["auc"]["gbm"]["oot"] > 0.7 and result.metrics["auc"]["scorecard"]["oot"] > 0.7
    again = train_product(cfg, "solo", progress=False)
    assert again.scores.equals(results["solo"].scores)


def test_unknown_product_and_missing_stage01_fail_clearly(trained, tmp_path):
    cfg, _, _ = trained
    with pytest.raises(config.ConfigError, match="unknown product 'nope'"):
        train_product(cfg, "nope")
    other = replace(cfg, run_name="never-built")
    with pytest.raises(FileNotFoundError, match="run stage 01"):
        train_product(other, "solo")


@pytest.mark.slow
def test_bring_your_own_german_credit(project):
    from creditmine.features.stage import run as build_features

    cfg = config.load(project / "params" / "germancredit.yaml", run_name="german")
    build_features(cfg, progress=False)
    result = train_product(cfg, "germancredit", progress=False)
    assert result.meta["primary"] == "scorecard"
    assert result.metrics["auc"]["scorecard"]["oot"] > 0.72 and result.metrics["auc"]["gbm"]["oot"] > 0.72
    assert len(result.scores) == 1000
    assert set(artifacts.read_models(artifacts.layout(cfg, "germancredit"))) == {"scorecard", "gbm"}
