"""Calibration of log-odds to PD and the rating master scale."""

import numpy as np
import pandas as pd
import pytest

from creditmine.models.calibration import LogOddsCalibrator
from creditmine.models.master_scale import assign_grades, fit_master_scale, grade_table


def _scores(n: int, seed: int, shape: str):
    rng = np.random.default_rng(seed)
    z = rng.normal(-3.0, 1.0, n)
    if shape == "logistic":  # true PD is a logistic function of z, off by a slope and a shift
        true_pd = 1 / (1 + np.exp(-(0.7 * z - 0.4)))
    else:  # a step: PD jumps at z = -3, which no logistic curve follows
        true_pd = np.where(z > -3.0, 0.12, 0.01)
    return z, (rng.random(n) < true_pd).astype(int), true_pd


def test_platt_recovers_a_logistic_relation():
    z, y, true_pd = _scores(20000, 0, "logistic")
    cal = LogOddsCalibrator(method="auto", random_state=0).fit(z, y)
    assert cal.method_ == "sigmoid"
    assert cal.slope_ == pytest.approx(0.7, abs=0.06) and cal.intercept_ == pytest.approx(-0.4, abs=0.2)
    assert np.abs(cal.transform(z) - true_pd).mean() < 0.005


def test_isotonic_wins_on_a_step():
    z, y, true_pd = _scores(20000, 1, "step")
    cal = LogOddsCalibrator(method="auto", random_state=0).fit(z, y)
    assert cal.method_ == "isotonic"
    assert cal.cv_log_loss_["isotonic"] < cal.cv_log_loss_["sigmoid"]
    assert np.abs(cal.transform(z) - true_pd).mean() < 0.01


def test_calibrated_pd_is_monotone_floored_and_matches_the_default_rate():
    z, y, _ = _scores(5000, 2, "logistic")
    for method in ("isotonic", "sigmoid"):
        cal = LogOddsCalibrator(method=method, pd_floor=0.001).fit(z, y)
        grid = np.linspace(-10, 5, 200)
        pd_ = cal.transform(grid)
        assert (np.diff(pd_) >= 0).all() and pd_.min() >= 0.001 and pd_.max() <= 0.999
        assert cal.transform(z).mean() == pytest.approx(y.mean(), abs=0.004)


def test_calibration_rejects_bad_outcomes():
    with pytest.raises(ValueError, match="row 2"):
        LogOddsCalibrator().fit([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(ValueError, match="defaults and non-defaults"):
        LogOddsCalibrator().fit([0.1, 0.2], [0, 0])


def test_quantile_master_scale_has_equal_shares_and_ordered_grades():
    rng = np.random.default_rng(3)
    pd_ = rng.beta(1, 20, 10000)
    y = (rng.random(10000) < pd_).astype(int)
    scale = fit_master_scale(pd_, y, grades=10, method="quantile")
    assert list(scale["grade"]) == list(range(1, 11))
    assert scale["share"].to_numpy() == pytest.approx(np.full(10, 0.1), abs=0.001)
    assert scale["pd_lower"].iloc[0] == 0 and scale["pd_upper"].iloc[-1] == 1
    assert (scale["pd_upper"].to_numpy()[:-1] == scale["pd_lower"].to_numpy()[1:]).all()
    assert scale["pd_mean"].is_monotonic_increasing
    assert scale["observed_default_rate"].iloc[-1] > 3 * scale["observed_default_rate"].iloc[0]


def test_grades_use_lower_inclusive_bounds():
    scale = pd.DataFrame({"grade": [1, 2, 3], "pd_lower": [0.0, 0.01, 0.05], "pd_upper": [0.01, 0.05, 1.0]})
    grades = assign_grades(np.array([0.0, 0.00999, 0.01, 0.0499, 0.05, 0.9]), scale)
    assert grades.tolist() == [1, 1, 2, 2, 3, 3]


def test_geometric_scale_is_log_spaced():
    rng = np.random.default_rng(4)
    pd_ = np.exp(rng.uniform(np.log(0.001), np.log(0.3), 5000))
    scale = fit_master_scale(pd_, None, grades=6, method="geometric")
    inner = scale["pd_lower"].to_numpy()[1:]
    ratios = inner[1:] / inner[:-1]
    assert ratios == pytest.approx(np.full(len(ratios), ratios[0]), rel=1e-9)
    table = grade_table(scale["pd_lower"], scale["pd_upper"], pd_, None)
    assert table["count"].sum() == 5000


# -- never reversing the ranking ------------------------------------------------------------------


@pytest.mark.parametrize("defaults", [1, 2, 3])
def test_a_holdout_with_a_handful_of_defaults_keeps_the_models_ranking(defaults):
    """A model that ranks well (AUC about 0.8) keeps its AUC after calibration on 1-3 defaults."""
    from sklearn.metrics import roc_auc_score

    from creditmine.models import GbmModel

    rng = np.random.default_rng(defaults)
    n = 4000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.8 + 1.2 * X["a"] - 0.6 * X["b"])))).to_numpy().astype(int)
    X_val = X.iloc[:300].copy()
    y_val = np.zeros(300, dtype=int)
    # the holdout's few defaults sit among its safest applications: a fitted Platt slope would be negative
    y_val[np.argsort(X_val["a"].to_numpy())[:defaults]] = 1
    model = GbmModel(max_iter=30, search_trials=0, early_stopping=False).fit(X.iloc[300:], y[300:], X_val, y_val)
    raw = roc_auc_score(y[300:], model.decision_function(X.iloc[300:]))
    calibrated = roc_auc_score(y[300:], model.predict_pd(X.iloc[300:]))
    assert raw > 0.75 and calibrated == pytest.approx(raw, abs=1e-9)
    assert model.calibrator_.method_ == "raw" and "min_defaults" in model.calibrator_.note_


def test_platt_never_fits_a_negative_slope():
    rng = np.random.default_rng(5)
    z = rng.normal(-3, 1, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(-3.0 - 0.8 * (z + 3))))).astype(int)   # reversed relation
    cal = LogOddsCalibrator(method="sigmoid").fit(z, y)
    assert cal.slope_ == 1.0 and "slope" in cal.note_
    assert (np.diff(cal.transform(np.sort(z))) >= 0).all()
    assert cal.transform(z).mean() == pytest.approx(y.mean(), abs=0.002)


# -- the central tendency ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_long_run_calibration_keeps_the_auc_and_reaches_its_target(method):
    from sklearn.metrics import roc_auc_score

    from creditmine.models import ScorecardModel

    rng = np.random.default_rng(11)
    n = 6000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.gamma(2.0, 1.0, n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-3.2 + 0.9 * X["a"] + 0.3 * X["b"])))).to_numpy().astype(int)
    history = np.r_[y[:4000], np.ones(120), np.zeros(1880)]          # a history with a worse year in it
    years = np.r_[np.full(4000, 2021), np.full(2000, 2020)]
    portfolio = X.iloc[4000:]
    common = dict(risk_directions={"a": 1, "b": 1}, random_state=0)
    observed = ScorecardModel(calibration=LogOddsCalibrator(method=method, target="observed",
                              margin_of_conservatism={"category_a": 0, "category_b": 0, "category_c": 0}), **common)
    observed.fit(X.iloc[:4000], y[:4000])
    moc = {"category_a": 0.05, "category_b": 0.02, "category_c": None, "confidence": 0.9}
    long_run = ScorecardModel(calibration=LogOddsCalibrator(method=method, target="long_run",
                              long_run_average="yearly", margin_of_conservatism=moc), **common)
    long_run.fit(X.iloc[:4000], y[:4000], X_anchor=portfolio, y_history=history, history_years=years)
    test_y = y[4000:]
    assert roc_auc_score(test_y, long_run.predict_pd(portfolio)) == pytest.approx(
        roc_auc_score(test_y, observed.predict_pd(portfolio)), abs=1e-12)
    found = long_run.calibrator_.central_tendency_
    rate = np.mean([history[:4000].mean(), 0.06])                     # the mean of the two yearly rates
    assert found["long_run_default_rate"] == pytest.approx(rate)
    components = found["margin_of_conservatism"]
    assert components["category_c"] > 0 and components["add_on"] == pytest.approx(0.07 + components["category_c"])
    assert long_run.predict_pd(portfolio).mean() == pytest.approx(rate * (1 + components["add_on"]), rel=1e-6)
    assert found["target_mean_pd"] == pytest.approx(rate * (1 + components["add_on"]))
    assert observed.calibrator_.central_tendency_["log_odds_shift"] == pytest.approx(0.0, abs=1e-9)


def test_a_given_long_run_rate_is_used_and_an_impossible_target_is_refused():
    rng = np.random.default_rng(2)
    z = rng.normal(-3, 1, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)
    cal = LogOddsCalibrator(long_run_default_rate=0.08, margin_of_conservatism={"category_c": 0.0}).fit(z, y)
    cal.anchor(z, y)
    assert cal.transform(z).mean() == pytest.approx(0.08, rel=1e-6)
    assert cal.central_tendency_["long_run_source"].startswith("given")
    with pytest.raises(ValueError, match="target mean PD"):
        LogOddsCalibrator(long_run_default_rate=0.9, margin_of_conservatism={"category_a": 0.5}).fit(z, y).anchor(z, y)


def test_master_scale_merges_tied_and_empty_grades_and_says_so():
    from creditmine.models import MasterScale

    rng = np.random.default_rng(6)
    pd_ = rng.choice([0.02, 0.09], 2000, p=[0.85, 0.15])          # a scorecard with two distinct PDs
    y = (rng.random(2000) < pd_).astype(int)
    scale = MasterScale(grades=10).fit(pd_, y)
    table = scale.table_
    assert list(table["grade"]) == [1, 2] and (table["count"] > 0).all()
    assert "10 grades asked, 2 kept" in scale.note_
    assert set(scale.grade(pd_)) == {1, 2} and scale.grade(np.array([0.02]))[0] == 1
    plain = MasterScale(grades=5).fit(rng.beta(1, 20, 5000))
    assert len(plain.table_) == 5 and plain.note_ == ""
