"""Calibration tests and the ECB battery against scipy, statsmodels, sklearn and hand calculations."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss
from statsmodels.stats.proportion import proportion_confint

from creditmine.validation import backtests
from creditmine.validation.metrics import auc_variance


@pytest.mark.parametrize("defaults,n,pd_", [(0, 50, 0.01), (7, 200, 0.02), (30, 300, 0.1), (3, 10, 0.5)])
def test_binomial_test_equals_scipy_one_sided(defaults, n, pd_):
    expected = stats.binomtest(defaults, n, pd_, alternative="greater").pvalue
    assert backtests.binomial_test(defaults, n, pd_) == pytest.approx(expected)


@pytest.mark.parametrize("defaults,n", [(0, 40), (5, 120), (40, 400)])
def test_jeffreys_p_is_alpha_half_at_the_jeffreys_interval_bound(defaults, n):
    # statsmodels' Jeffreys interval: the lower bound is the PD at which the one-sided test has p = alpha/2
    low, high = proportion_confint(defaults, n, alpha=0.10, method="jeffreys")
    if defaults > 0:
        assert backtests.jeffreys_test(defaults, n, low) == pytest.approx(0.05)
    assert backtests.jeffreys_test(defaults, n, high) == pytest.approx(0.95)
    # more defaults against the same PD: stronger evidence of underestimation
    assert backtests.jeffreys_test(defaults + 5, n, 0.05) < backtests.jeffreys_test(defaults, n, 0.05)


def test_hosmer_lemeshow_hand_calculation():
    # three groups: 100 loans at PD 0.10 with 15 defaults, 200 at 0.05 with 8, 50 at 0.20 with 10
    y = np.r_[np.ones(15), np.zeros(85), np.ones(8), np.zeros(192), np.ones(10), np.zeros(40)]
    p = np.r_[np.full(100, 0.10), np.full(200, 0.05), np.full(50, 0.20)]
    g = np.r_[np.full(100, 1), np.full(200, 2), np.full(50, 3)]
    expected = (15 - 10) ** 2 / (10 * 0.9) + (8 - 10) ** 2 / (10 * 0.95) + 0.0
    result = backtests.hosmer_lemeshow(y, p, g)
    assert result.statistic == pytest.approx(expected) == pytest.approx(3.198830, abs=1e-6)
    assert result.dof == 3
    assert result.p_value == pytest.approx(stats.chi2.sf(expected, 3))
    assert backtests.hosmer_lemeshow(y, p, g, dof_reduction=2).dof == 1


def test_brier_equals_sklearn():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 500)
    y = (rng.random(500) < p).astype(float)
    assert backtests.brier_score(y, p) == pytest.approx(brier_score_loss(y, p))


def test_calibration_by_grade_has_each_grade_and_the_portfolio():
    y = np.array([0, 0, 1, 0, 1, 1, 0, 0])
    p = np.array([0.1, 0.1, 0.2, 0.2, 0.5, 0.5, 0.1, 0.2])
    g = np.array([1, 1, 2, 2, 3, 3, 1, 2])
    table = backtests.calibration_by_grade(y, p, g, n_grades=4)
    assert list(table.index) == [1, 2, 3, 4, "portfolio"]
    assert table.loc[2, "defaults"] == 1 and table.loc[2, "n"] == 3
    assert table.loc[4, "n"] == 0
    assert table.loc["portfolio", "binomial_p"] == pytest.approx(backtests.binomial_test(3, 8, p.mean()))


def test_ecb_auc_test_statistic_and_p_value():
    rng = np.random.default_rng(1)
    y = (rng.random(800) < 0.1).astype(float)
    score = rng.normal(size=800) + y
    result = backtests.ecb_auc_test(0.80, y, score)
    s = np.sqrt(auc_variance(y, score))
    assert result.statistic == pytest.approx((0.80 - result.auc_current) / s)
    assert result.p_value == pytest.approx(1 - stats.norm.cdf(result.statistic))
    assert backtests.ecb_auc_test(result.auc_current, y, score).p_value == pytest.approx(0.5)


COUNTS = [[8, 2, 0], [1, 7, 2], [0, 3, 7]]


def test_matrix_weighted_bandwidth_hand_calculation():
    # upper: (1*10*0.2 + 1*10*0.2) / (2*10*0.2 + 1*10*0.2) = 4/6; lower: (1*10*0.1 + 1*10*0.3) / (1*10*0.1 + 2*10*0.3) = 4/7
    upper, lower = backtests.matrix_weighted_bandwidth(COUNTS)
    assert upper == pytest.approx(4 / 6)
    assert lower == pytest.approx(4 / 7)
    assert backtests.matrix_weighted_bandwidth(np.diag([5, 5, 5])) == (0.0, 0.0)
    # the farthest possible move of every row gives 1
    assert backtests.matrix_weighted_bandwidth([[0, 0, 4], [0, 4, 0], [4, 0, 0]]) == (1.0, 1.0)


def test_migration_ztests_hand_calculation_and_an_anomaly():
    z = backtests.migration_stability_ztests(COUNTS).set_index(["grade_initial", "grade_current"])
    # cell (1,3) against (1,2): (0.2 - 0) / sqrt((0 + 0.2*0.8 + 0) / 10)
    assert z.loc[(1, 3), "z"] == pytest.approx(0.2 / np.sqrt(0.016))
    # cell (3,1) against (3,2): (0.3 - 0) / sqrt(0.3*0.7 / 10)
    assert z.loc[(3, 1), "z"] == pytest.approx(0.3 / np.sqrt(0.021))
    assert z.loc[(3, 1), "p_value"] == pytest.approx(stats.norm.cdf(z.loc[(3, 1), "z"]))
    odd = backtests.migration_stability_ztests([[5, 0, 5], [0, 10, 0], [0, 0, 10]]).set_index(["grade_initial", "grade_current"])
    assert odd.loc[(1, 3), "z"] == pytest.approx(-0.5 / np.sqrt(0.025))
    assert odd.loc[(1, 3), "p_value"] < 0.001


def test_migration_matrix_counts_and_rejects_grades_out_of_range():
    counts = backtests.migration_matrix([1, 1, 2, 3], [1, 2, 2, 1], 3)
    assert counts.to_numpy().tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="row 1 has 4 -> 1"):
        backtests.migration_matrix([1, 4], [1, 1], 3)


def test_herfindahl_hand_calculation_and_test():
    cv, hi = backtests.herfindahl_index([50, 30, 20])
    assert cv == pytest.approx(np.sqrt(3 * ((0.5 - 1 / 3) ** 2 + (0.3 - 1 / 3) ** 2 + (0.2 - 1 / 3) ** 2)))
    assert hi == pytest.approx(1 + np.log((0.14 + 1) / 3) / np.log(3))
    assert backtests.herfindahl_index([5, 5, 5, 5]) == pytest.approx((0.0, 0.0))
    assert backtests.herfindahl_index([0, 9, 0])[1] == pytest.approx(1.0)
    result = backtests.herfindahl_test([1, 1, 1], [50, 30, 20])
    expected = 1 - stats.norm.cdf(np.sqrt(2) * cv / np.sqrt(cv**2 * (0.5 + cv**2)))
    assert result.p_value == pytest.approx(expected) == pytest.approx(0.03855, abs=1e-5)
    # less concentrated than before: no evidence of concentration
    assert backtests.herfindahl_test([50, 30, 20], [34, 33, 33]).p_value > 0.5
