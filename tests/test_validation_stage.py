"""Stage 04 end to end on small seeded stage-01/02 files: outputs, contract, the shifted-data test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import creditmine.config
from creditmine import artifacts
from creditmine.artifacts import FeatureSpec
from creditmine.validation.segments import inclusion_analysis, segment_table
from creditmine.validation.stage import run as validate_product

GRADE_EDGES = np.array([0.005, 0.01, 0.02, 0.035, 0.05, 0.08, 0.12, 0.2])  # 9 grades


def _write_params(root, name: str, extra: str = "") -> None:
    (root / "params" / "products").mkdir(parents=True)
    (root / "params" / f"{name}.yaml").write_text(
        f"name: {name}\nseed: 3\nproducts: [quick_loan]\n"
        "split: {train_end: 2022-12-31, oot_start: 2023-01-01}\n"
        "models: {master_scale: {grades: 9}}\n"
        f"validation: {{bootstrap: 20, min_segment_size: 60, min_segment_defaults: 3, min_month_size: 25{extra}}}\n"
    )
    (root / "params" / "products" / "quick_loan.yaml").write_text(
        "name: quick_loan\napplication_products: [tax, first_loan]\n"
        "policy: {approve_grades: [1, 2, 3, 4, 5], refer_grades: [6, 7]}\n"
    )


def make_run(root, shift_oot: float = 0.0, n_enterprises: int = 900, seed: int = 0, dark_source: bool = False,
             extra_params: str = ""):
    """Stage 01/02 files of a small synthetic product: two models, monthly applications 2021-2024.

    `shift_oot` moves the latent risk of every application from 2023 on (a population shift);
    `dark_source` blanks the electricity features from 2023-06 (a feed that goes dark).
    """
    rng = np.random.default_rng(seed)
    _write_params(root, "t", extra_params)
    cfg = creditmine.config.load(root / "params" / "t.yaml", run_name="r")
    health = rng.normal(size=n_enterprises)
    rows = []
    app = 0
    for e in range(n_enterprises):
        for _ in range(rng.integers(1, 4)):
            day = pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.integers(0, 4 * 365)))
            rows.append((f"A{app:06d}", f"E{e:05d}", day, health[e] + rng.normal(scale=0.5)))
            app += 1
    frame = pd.DataFrame(rows, columns=["application_id", "enterprise_id", "applied_at", "h"])
    late = frame["applied_at"] >= pd.Timestamp("2023-01-01")
    frame.loc[late, "h"] -= shift_oot
    frame["product"] = np.where(rng.random(len(frame)) < 0.2, "first_loan", "tax")
    frame["requested_amount_cny"], frame["term_months"] = 5e5, 12.0
    frame["industry_section"] = rng.choice(list("CFIM"), len(frame), p=[0.4, 0.3, 0.25, 0.05])
    frame["district"] = rng.choice(["north", "south", "east"], len(frame))
    frame["employees"] = np.round(np.exp(rng.normal(2.5, 1, len(frame))))
    frame["sales_growth"] = frame["h"] + rng.normal(scale=0.8, size=len(frame))
    frame["late_filings"] = np.clip(np.round(1.5 - frame["h"] + rng.normal(size=len(frame))), 0, None)
    frame["kwh_trend"] = frame["h"] * 0.5 + rng.normal(size=len(frame))
    true_pd = 1 / (1 + np.exp(-(-3.6 - 1.3 * frame["h"] + 0.4 * (frame["product"] == "first_loan"))))
    frame["default_12m"] = (rng.random(len(frame)) < true_pd).astype(float)
    frame.loc[frame["applied_at"] > pd.Timestamp("2024-06-30"), "default_12m"] = np.nan
    split = np.where(frame["applied_at"] <= pd.Timestamp("2022-12-31"), "train", "oot")
    split = np.where((split == "train") & (rng.random(len(frame)) < 0.25), "holdout", split)
    frame["split"] = np.where(frame["default_12m"].isna(), "unlabelled", split)
    if dark_source:
        frame.loc[frame["applied_at"] >= pd.Timestamp("2023-06-01"), "kwh_trend"] = np.nan

    # two "models": noisy functions of the observable features, PD from a logistic link
    logit_gbm = -3.5 - 0.8 * frame["sales_growth"] + 0.3 * frame["late_filings"]
    logit_sc = -3.4 - 0.6 * frame["sales_growth"] + 0.2 * frame["late_filings"] + rng.normal(scale=0.3, size=len(frame))
    scores = frame[["application_id", "enterprise_id", "applied_at", "product", "split", "default_12m"]].copy()
    for name, logit in (("gbm", logit_gbm), ("scorecard", logit_sc)):
        pd_ = 1 / (1 + np.exp(-logit.fillna(-3.4)))
        scores[f"pd_{name}"] = pd_
        scores[f"score_{name}"] = 600 - 20 / np.log(2) * np.log(pd_ / (1 - pd_) * 50)
        scores[f"grade_{name}"] = np.searchsorted(GRADE_EDGES, pd_) + 1
    where = artifacts.layout(cfg, "quick_loan")
    artifacts.write_scores(where, scores)
    features = ["sales_growth", "late_filings", "kwh_trend"]
    artifacts.write_models_meta(where, {
        "primary": "gbm", "challenger": "scorecard", "features": features,
        "models": {"gbm": {"features": features}, "scorecard": {"features": features[:2]}},
    })
    lower, upper = np.r_[0, GRADE_EDGES], np.r_[GRADE_EDGES, 1]
    scale = pd.DataFrame({"grade": range(1, 10), "pd_lower": lower, "pd_upper": upper,
                          "share_development": 1 / 9, "observed_default_rate_development": np.nan})
    artifacts.write_master_scale(where, pd.concat([scale.assign(model=m) for m in ("gbm", "scorecard")]))
    artifacts.write_features(where, frame.drop(columns=["h"]))
    spec = lambda name, source, kind, risk: FeatureSpec(name, source, 12, "value", name, name, risk, name, kind,
                                                        f"{name} {{value}}", f"{name} {{value}}")
    artifacts.write_catalog(where, [
        spec("sales_growth", "tax", "numeric", -1), spec("late_filings", "tax", "numeric", 1),
        spec("kwh_trend", "electricity", "numeric", -1), spec("industry_section", "enterprise", "categorical", 0),
        spec("district", "enterprise", "categorical", 0), spec("employees", "enterprise", "numeric", -1),
    ])
    return cfg


@pytest.fixture(scope="module")
def stable_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("stable")
    cfg = make_run(root)
    return cfg, validate_product(cfg, "quick_loan", progress=False)


def test_writes_the_stage_outputs(stable_run):
    cfg, result = stable_run
    out = artifacts.layout(cfg, "quick_loan").stage_dir(artifacts.VALIDATE)
    document = json.loads((out / "validation.json").read_text())
    assert document["verdict"] in ("green", "amber", "red")
    assert document["verdict"] == result.verdict
    for light in document["lights"]:
        assert set(light) >= {"test", "value", "light", "gating", "threshold"}
        assert light["light"] in ("green", "amber", "red", "n/a")
    assert all(isinstance(v, float) for v in document["metrics"].values())
    assert (out / "model_card.md").read_text().startswith("# Model card")
    assert "<html" in (out / "model_card.html").read_text()
    for plot in ("roc_gbm", "roc_scorecard", "ks_oot", "calibration", "psi_by_month", "migration",
                 "source_missing", "grade_shares", "segments_product", "csi"):
        assert (out / "plots" / f"{plot}.png").is_file(), plot


def test_every_section_is_present_and_stable_data_is_green(stable_run):
    _, result = stable_run
    for table in ("discrimination", "delong", "calibration_by_grade", "calibration_summary", "ecb_battery",
                  "psi_by_month", "csi", "source_missing_by_month", "grade_shares", "segments",
                  "inclusion", "migration_matrix", "migration_ztests"):
        assert len(result.table(table)), table
    lights = {light.test: light for light in result.lights}
    assert lights["psi_score"].light == "green"
    assert lights["source_missing_jump"].light == "green"
    assert lights["auc_oot"].value == pytest.approx(result.metrics["gbm.oot.auc"])
    disc = result.table("discrimination")
    row = disc[(disc["model"] == "gbm") & (disc["split"] == "oot")].iloc[0]
    assert row["auc_low"] < row["auc"] < row["auc_high"]
    # the smallest industry (5 %) is flagged, never judged
    seg = result.table("segments")
    assert not seg.loc[(seg["by"] == "industry_section") & (seg["segment"] == "M"), "judged"].item()
    assert {"first_time_approval_rate", "equal_bad_rate_approval_rate"} <= set(result.table("inclusion").index)


def test_shifted_out_of_time_data_turns_stability_and_verdict_red(tmp_path):
    cfg = make_run(tmp_path, shift_oot=1.5)
    result = validate_product(cfg, "quick_loan", progress=False)
    lights = {light.test: light for light in result.lights}
    assert lights["psi_score"].light == "red"
    assert lights["psi_score_month_max"].light == "red"
    assert lights["csi_max"].light == "red"
    assert result.verdict == "red"
    assert json.loads((artifacts.layout(cfg, "quick_loan").stage_dir(artifacts.VALIDATE) / "validation.json").read_text())["verdict"] == "red"


def test_a_feed_that_goes_dark_shows(tmp_path):
    cfg = make_run(tmp_path, dark_source=True)
    result = validate_product(cfg, "quick_loan", progress=False)
    lights = {light.test: light for light in result.lights}
    assert lights["source_missing_jump"].light == "red"
    assert "electricity" in lights["source_missing_jump"].note
    assert result.table("source_missing_by_month")["electricity"].iloc[-1] == 1.0


def test_champion_auc_feeds_the_ecb_test(tmp_path):
    cfg = make_run(tmp_path)
    result = validate_product(cfg, "quick_loan", initial_auc=0.99, progress=False)
    assert result.metrics["ecb.auc_initial"] == 0.99
    assert {light.test: light for light in result.lights}["ecb_auc_pvalue"].light == "red"


def test_without_dates_time_based_parts_are_skipped_with_a_reason(tmp_path):
    cfg = make_run(tmp_path)
    where = artifacts.layout(cfg, "quick_loan")
    for path in (where.scores, where.features_table):
        frame = pd.read_parquet(path).drop(columns=["applied_at", "enterprise_id"])
        frame.to_parquet(path)
    result = validate_product(cfg, "quick_loan", progress=False)
    lights = {light.test: light for light in result.lights}
    assert lights["psi_score_month_max"].light == "n/a"
    assert "no application dates" in lights["psi_score_month_max"].note
    assert lights["migration_mwb_upper"].light == "n/a"
    assert lights["psi_score"].light in ("green", "amber", "red")
    assert "psi_by_month" in result.skipped


def test_missing_scores_column_names_file_and_column(tmp_path):
    cfg = make_run(tmp_path)
    path = artifacts.layout(cfg, "quick_loan").scores
    pd.read_parquet(path).drop(columns=["pd_gbm"]).to_parquet(path)
    with pytest.raises(ValueError, match=r"scores.parquet: missing column\(s\) pd_gbm"):
        validate_product(cfg, "quick_loan", progress=False)


def test_report_sections_render_tables_and_embedded_plots(stable_run):
    _, result = stable_run
    for name in ("discrimination", "calibration", "ecb", "stability", "concentration", "segments", "inclusion"):
        html = result.section(name).data
        assert "<table" in html, name
    assert html.count("<img") == 0  # inclusion has no plot
    assert result.section("discrimination").data.count("data:image/png;base64,") >= 3
    assert "<b>" in result.verdict_banner().data
    assert result.metrics["development_auc"] == pytest.approx(result.metrics["gbm.holdout.auc"])
    with pytest.raises(KeyError, match="sections: discrimination"):
        result.section("nope")


def test_a_development_auc_on_too_few_defaults_is_not_judged(tmp_path):
    cfg = make_run(tmp_path, extra_params=", min_segment_defaults: 500")
    result = validate_product(cfg, "quick_loan", progress=False)
    drop = {light.test: light for light in result.lights}["auc_drop"]
    assert drop.light == "n/a" and drop.gating
    assert "too few to judge" in drop.note
    assert result.verdict in ("amber", "red")  # a gate nobody could check is not passed


def test_inclusion_hand_calculation():
    # others: 4 approved (grades 1-2) with 1 default in 4 -> portfolio bad rate of approved = 1/6
    frame = pd.DataFrame({
        "grade": [1, 1, 2, 2, 3, 1, 2, 3, 3, 3],
        "pd": [0.01, 0.02, 0.03, 0.04, 0.2, 0.015, 0.05, 0.1, 0.12, 0.3],
        "y": [0, 0, 1, 0, 1, 0, 0, 0, 1, np.nan],
    })
    first = np.array([False] * 5 + [True] * 5)
    found = inclusion_analysis(frame, first, y="y", pd_column="pd", grade="grade", approve_grades=(1, 2))
    assert found["first_time_approval_rate"] == pytest.approx(2 / 5)
    assert found["others_approval_rate"] == pytest.approx(4 / 5)
    assert found["approval_ratio"] == pytest.approx(0.5)
    assert found["portfolio_bad_rate_approved"] == pytest.approx(1 / 6)
    # labelled first-time loans by PD: 0.015 (0), 0.05 (0), 0.1 (0), 0.12 (1): running bad rates 0, 0, 0, 1/4;
    # three stay within 1/6, so 3 of 4 could be approved, up to PD 0.1
    assert found["equal_bad_rate_approval_rate"] == pytest.approx(3 / 4)
    assert found["equal_bad_rate_pd_cutoff"] == pytest.approx(0.1)


def test_segment_table_flags_small_segments():
    frame = pd.DataFrame({"seg": ["a"] * 6 + ["b"] * 2, "y": [0, 1, 0, 1, 0, np.nan, 0, 1],
                          "pd": [0.1, 0.9, 0.2, 0.8, 0.3, 0.5, 0.4, 0.6], "grade": [1, 3, 1, 3, 2, 2, 2, 3]})
    table = segment_table(frame, "seg", y="y", pd_column="pd", grade="grade", approve_grades=(1, 2),
                          min_size=4, min_defaults=1).set_index("segment")
    assert table.loc["a", "judged"] and not table.loc["b", "judged"]
    assert table.loc["a", "auc"] == 1.0 and table.loc["a", "bad_rate"] == pytest.approx(2 / 5)
    assert table.loc["a", "approval_rate"] == pytest.approx(4 / 6)
    assert "too small to judge" in table.loc["b", "note"]
