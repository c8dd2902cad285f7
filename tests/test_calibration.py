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
