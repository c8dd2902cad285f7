"""What `creditmine score` writes and says: no grade or term 0 for a referred row, figures rounded
in a CSV and full in Parquet, and one line with a hint when most rows are referred for one reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from creditmine.decision.score import (
    referral_summary, referred_rows, rounded_for_csv, without_placeholders, write_decisions,
)
from factories import MODEL_FEATURES, approved_champion, synthetic_applications


@pytest.fixture(scope="module")
def decided():
    """Decisions of a real decision engine: rows 1 and 2 referred for a bad value, the rest scored."""
    from creditmine import config
    from creditmine.decision.model import DecisionEngine
    from creditmine.explain.reasons import ReasonCoder
    from creditmine.features.catalog import synthetic_catalog
    from creditmine.models import GbmModel, MasterScale

    apps = synthetic_applications(1500, seed=5)
    model = GbmModel(categorical_features=("product", "industry_section"), max_iter=20, search_trials=0,
                     min_samples_leaf=40, grading=MasterScale(grades=7), random_state=0)
    model.fit(apps[MODEL_FEATURES], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)
    rows = apps.iloc[:6].copy().astype({"requested_amount_cny": object})
    rows.loc[rows.index[1], "requested_amount_cny"] = "1,234"
    rows.loc[rows.index[2], "requested_amount_cny"] = "12,5"
    return without_placeholders(engine.decide(rows))


def test_referred_rows_have_no_grade_or_term(decided):
    referred = decided["error"].str.contains("thousands separator")
    assert referred.sum() == 2 and decided.loc[referred, "pd"].isna().all()
    assert decided.loc[referred, "grade"].isna().all() and decided.loc[referred, "term_months"].isna().all()
    assert (decided.loc[~referred, "grade"] >= 1).all()
    rows = referred_rows(["A1", "A2"], "missing field x")
    assert rows["grade"].isna().all() and rows["term_months"].isna().all()


def test_csv_is_rounded_and_parquet_keeps_full_precision(decided, tmp_path):
    write_decisions(decided, tmp_path / "out.csv")
    write_decisions(decided, tmp_path / "out.parquet")
    text = pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    scored = text[text["pd"] != ""]
    referred = text[text["error"].str.contains("thousands separator")]
    assert (referred["grade"] == "").all() and (referred["term_months"] == "").all()
    assert (referred["pd"] == "").all()
    for value in scored["pd"]:
        assert len(value.split(".")[1]) <= 6, value               # 1e-6
    for value in scored["score"]:
        assert len(value.split(".")[1]) <= 1, value               # 0.1 point
    assert not scored["credit_limit_cny"].str.contains(r"\.").any()  # whole yuan
    assert not text.apply(lambda c: c.str.contains("e-0|e+0", regex=False)).any().any()
    full = pd.read_parquet(tmp_path / "out.parquet")
    assert np.allclose(full["pd"].dropna(), decided["pd"].dropna(), rtol=0, atol=0)
    assert full["pd"].dropna().map(lambda v: len(repr(v))).max() > 10       # not rounded
    assert rounded_for_csv(decided)["credit_limit_cny"].dtype == "Int64"


def test_one_line_with_a_hint_when_most_rows_lack_the_model_columns():
    error = "; ".join(f"missing field feature_{i:02d}_with_a_long_name" for i in range(40))
    decisions = referred_rows([f"A{i}" for i in range(30)], error)
    line = referral_summary(decisions, features_given=False)
    assert line.startswith("30 of 30 rows referred for one reason: the input lacks 40 column(s)")
    assert "--features" in line and len(line) < 300
    assert "--features" not in referral_summary(decisions, features_given=True)
    mixed = referred_rows([f"A{i}" for i in range(4)], ["a", "b", "c", ""])
    assert referral_summary(mixed, features_given=False) is None


@pytest.mark.slow
def test_score_without_features_says_so_in_one_line(tmp_path, quick_loan_stages):
    from creditmine.cli import main
    from creditmine.decision.score import tracking_store

    root = tmp_path / "project"
    root.mkdir()
    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        cfg, name, _, _, apps = approved_champion(root, quick_loan_stages)
    apps[["application_id"]].head(20).to_csv(tmp_path / "ids.csv", index=False)
    args = ["score", "--model", f"models:/{name}@champion", "--input", str(tmp_path / "ids.csv"),
            "--output", str(tmp_path / "out.csv"), "--tracking-uri", cfg.tracking_uri, "--quiet"]
    result = CliRunner().invoke(main, args, env={"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": None})
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("20 applications ->") and "20 refer" in lines[0]
    assert lines[1].startswith("note: 20 of 20 rows referred for one reason: the input lacks")
    assert "--features" in lines[1] and len(lines[1]) < 400
    out = pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert (out["grade"] == "").all() and (out["term_months"] == "").all()
