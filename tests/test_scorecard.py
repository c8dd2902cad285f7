"""The WoE scorecard: monotone bins, sign check, points, and identical scores in Python, JSON and SQL."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from creditmine.models.binning import score_json
from creditmine.models.scorecard import ScorecardModel

SPECIAL = -1.0
GERMAN = Path(__file__).resolve().parents[1] / "datasets" / "germancredit" / "germancredit.csv"


def _applications(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Debt (riskier when higher, -1 = 'not applicable'), sales (safer), a region, and noise."""
    rng = np.random.default_rng(seed)
    debt = rng.gamma(2.0, 1.0, n)
    sales = rng.lognormal(1.0, 0.6, n)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    region_risk = pd.Series(region).map({"north": -0.5, "south": 0.0, "east": 0.4, "west": 0.9}).to_numpy()
    exporter = rng.random(n) < 0.3
    logit = -2.5 + 0.8 * debt - 0.9 * np.log(sales) + region_risk - 0.8 * exporter
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({
        "debt": debt, "sales": sales, "region": region, "exporter": exporter, "noise": rng.normal(size=n),
    })
    frame.loc[rng.random(n) < 0.05, "debt"] = np.nan
    frame.loc[rng.random(n) < 0.03, "debt"] = SPECIAL
    frame.loc[rng.random(n) < 0.04, "region"] = None
    return frame, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _applications(4000, 1)
    model = ScorecardModel(
        categorical_features=("region", "exporter"), risk_directions={"debt": 1, "sales": -1},
        special_values=(SPECIAL,), min_iv=0.03, random_state=3,
    ).fit(X, y)
    return model, X, y


def test_selection_keeps_signal_drops_noise_with_reasons(fitted):
    model, _, _ = fitted
    assert set(model.features_) == {"debt", "sales", "region", "exporter"}
    assert model.bins_["exporter"]["groups"] in ([["false"], ["true"]], [["true"], ["false"]])
    assert model.selection_reasons_["noise"].startswith("dropped")
    assert all(model.selection_reasons_[f].startswith("kept") for f in model.features_)


def test_sign_check_and_monotone_bins_follow_risk_direction(fitted):
    model, _, _ = fitted
    table = model.coefficients_
    assert (model.coef_ < 0).all()
    assert table["sign_ok"].all() and table["points_monotone_ok"].all()
    assert set(table.columns) >= {"std_error", "p_value", "vif"}
    assert table.loc[table.feature != "(intercept)", "p_value"].max() < 0.01
    debt_points = np.asarray(model.points_["debt"][: len(model.bins_["debt"]["splits"]) + 1])
    sales_points = np.asarray(model.points_["sales"][: len(model.bins_["sales"]["splits"]) + 1])
    assert (np.diff(debt_points) <= 0).all() and (np.diff(sales_points) >= 0).all()


def test_scorecard_table_matches_training_counts(fitted):
    model, X, y = fitted
    table = model.scorecard_table_
    assert {"feature", "bin", "woe", "points", "count", "bad_rate"} <= set(table.columns)
    for feature in model.features_:
        rows = table[table.feature == feature]
        # fitted without validation data: the choices on a set-aside fifth, then refitted on every row
        assert rows["count"].sum() == len(X)
    debt = table[table.feature == "debt"].set_index("bin")
    assert debt.loc["Special", "count"] > 0 and debt.loc["Missing", "count"] > 0


def test_missing_special_and_unseen_scored_as_at_fit(fitted):
    model, X, _ = fitted
    table = model.scorecard_table_.set_index(["feature", "bin"])
    probe = pd.DataFrame({
        "debt": [np.nan, SPECIAL, 1.0], "sales": [2.0, 2.0, 2.0],
        "region": ["north", "north", "atlantis"], "exporter": [True, True, False], "noise": [0.0, 0.0, 0.0],
    })
    points = model.feature_points(probe)
    assert points.loc[0, "debt"] == table.loc[("debt", "Missing"), "points"]
    assert points.loc[1, "debt"] == table.loc[("debt", "Special"), "points"]
    assert points.loc[2, "region"] == table.loc[("region", "Missing"), "points"]
    woe = model.woe_transform(X)
    assert set(woe.loc[X["debt"].isna(), "debt"]) == {table.loc[("debt", "Missing"), "woe"]}
    assert set(woe.loc[X["debt"] == SPECIAL, "debt"]) == {table.loc[("debt", "Special"), "woe"]}


def test_score_is_sum_of_points_and_exports_reproduce_it_exactly(fitted, tmp_path):
    model, _, _ = fitted
    X_new, _ = _applications(3000, 2)
    X_new.loc[:5, "region"] = "atlantis"  # unseen
    X_new.loc[6:9, "sales"] = np.inf
    score = model.credit_score(X_new)
    assert np.array_equal(score, model.feature_points(X_new).sum(axis=1).to_numpy(dtype=float))
    assert np.array_equal(score, np.round(score))
    assert np.array_equal(score, score_json(model.to_json(), X_new))
    X_new.assign(row=np.arange(len(X_new))).to_parquet(tmp_path / "apps.parquet")
    sql = model.to_sql(f"read_parquet('{tmp_path / 'apps.parquet'}')")
    from_sql = duckdb.sql(sql + " ORDER BY row").df()["credit_score"].to_numpy(dtype=float)
    assert np.array_equal(score, from_sql)


def test_contributions_add_up_to_the_log_odds(fitted):
    model, X, _ = fitted
    total = model.contributions(X).sum(axis=1).to_numpy() + model.intercept_
    assert np.allclose(total, model.decision_function(X), atol=1e-12)


def test_points_scale_base_odds_and_pdo(fitted):
    model, X, _ = fitted
    z = model.decision_function(X)
    expected = 600 + 20 / np.log(2) * (-z - np.log(50))
    # whole points per bin: off by at most half a point per feature
    assert np.abs(model.credit_score(X) - expected).max() <= 0.5 * len(model.features_) + 1e-9


def test_deterministic_and_cloneable(fitted):
    model, X, y = fitted
    again = clone(model).fit(X, y)
    assert again.to_json() == model.to_json()


def test_german_credit_holdout_auc():
    frame = pd.read_csv(GERMAN)
    y = (frame.pop("creditability") == "bad").astype(int).to_numpy()
    rng = np.random.default_rng(0)
    test = rng.random(len(y)) < 0.3
    model = ScorecardModel(random_state=0).fit(frame[~test], y[~test])
    assert roc_auc_score(y[test], model.predict_pd(frame[test])) > 0.72
    assert set(model.categorical_features) == set() and "purpose" in model.bins_
    assert model.bins_["purpose"]["kind"] == "categorical"


def test_bad_input_names_column_and_row(fitted):
    model, X, _ = fitted
    broken = X.head(5).astype({"debt": object})
    broken.loc[3, "debt"] = "lots"
    with pytest.raises(ValueError, match=r"'debt'.*row 3.*'lots'"):
        model.credit_score(broken)
    with pytest.raises(ValueError, match="lacks the scorecard's feature columns"):
        model.credit_score(X.drop(columns="sales"))


def test_a_u_shaped_feature_of_unknown_direction_survives_and_rare_categories_are_grouped():
    """Risk high at both ends (age, say): the binning's trend is chosen from the data (a valley of
    the WoE), so the feature is kept; a 200-value category keeps its most frequent values and
    scores the rest, and unseen ones, as one group in Python, JSON and SQL alike."""
    rng = np.random.default_rng(7)
    n = 6000
    age = rng.uniform(18, 75, n)
    shop = rng.choice([f"s{i:03d}" for i in range(200)], n, p=np.r_[np.full(10, 0.05), np.full(190, 0.5 / 190)])
    logit = -2.6 + 0.0025 * (age - 45) ** 2 + np.where(pd.Series(shop).isin(["s000", "s001"]), 0.8, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"age": age, "shop": shop})
    model = ScorecardModel(max_categories=12, random_state=0).fit(X, y)
    assert "age" in model.features_, model.selection_reasons_
    woe = np.asarray(model.bins_["age"]["woe"][: len(model.bins_["age"]["splits"]) + 1])
    assert woe.argmax() not in (0, len(woe) - 1)          # safest in the middle: not monotone
    spec = model.bins_["shop"]
    assert len(spec["kept"]) == 11 and spec["other_group"] is not None
    unseen = pd.DataFrame({"age": [40.0, 40.0], "shop": ["s150", "never-seen"]})
    assert model.credit_score(unseen)[0] == model.credit_score(unseen)[1]
    assert np.array_equal(score_json(model.to_json(), unseen), model.credit_score(unseen))
    con = duckdb.connect()
    con.register("apps", unseen)
    sql = con.execute(model.to_sql("apps")).df()["credit_score"].to_numpy()
    assert np.array_equal(sql, model.credit_score(unseen))


def test_information_value_is_never_negative():
    from creditmine.models.binning import woe_iv

    rng = np.random.default_rng(3)
    for _ in range(200):
        count = rng.integers(0, 30, 6).astype(float)
        bads = np.minimum(count, rng.integers(0, 8, 6))
        woe, iv = woe_iv(count, bads, smoothing=0.5)
        assert iv >= 0.0 and np.isfinite(woe).all()
    woe, iv = woe_iv(np.array([10.0, 10.0]), np.array([0.0, 10.0]), smoothing=0.5)   # a bin without bads
    assert iv > 0 and woe[0] > 0 > woe[1]
