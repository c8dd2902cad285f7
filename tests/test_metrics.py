"""Discrimination statistics against scipy, a published example and a brute-force DeLong."""

import numpy as np
import pytest
from scipy import stats

from creditmine.validation import metrics


def _sample(n=400, seed=1, strength=1.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(float)
    score = rng.normal(size=n) + strength * y
    return y, score


def test_auc_equals_the_mann_whitney_u_and_gini_follows():
    y, score = _sample()
    u = stats.mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert metrics.auc(y, score) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    assert metrics.gini(y, score) == pytest.approx(2 * metrics.auc(y, score) - 1)


def test_ks_equals_scipy_two_sample_statistic():
    y, score = _sample(seed=2)
    expected = stats.ks_2samp(score[y == 1], score[y == 0]).statistic
    assert metrics.ks_statistic(y, score) == pytest.approx(expected)


def test_hanley_mcneil_published_example():
    # Hanley and McNeil (1982), Radiology 143: CT ratings 1-5 of 58 normal and 51 abnormal cases,
    # AUC 0.893 with standard error 0.032.
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    y = np.r_[np.zeros(sum(normal)), np.ones(sum(abnormal))]
    rating = np.r_[np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)]
    assert metrics.auc(y, rating) == pytest.approx(0.893, abs=5e-4)
    assert np.sqrt(metrics.auc_variance(y, rating)) == pytest.approx(0.032, abs=0.002)


def _brute_force_components(y, score):
    pos, neg = score[y == 1], score[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def test_delong_matches_a_brute_force_implementation():
    rng = np.random.default_rng(3)
    y, a = _sample(n=300, seed=3)
    b = np.round(a + rng.normal(scale=0.8, size=len(a)), 1)  # ties on purpose
    va10, va01 = _brute_force_components(y, a)
    vb10, vb01 = _brute_force_components(y, b)
    m, n = len(va10), len(va01)
    var_a = va10.var(ddof=1) / m + va01.var(ddof=1) / n
    assert metrics.auc_variance(y, a) == pytest.approx(var_a)
    cov = np.cov(va10, vb10)[0, 1] / m + np.cov(va01, vb01)[0, 1] / n
    var_b = vb10.var(ddof=1) / m + vb01.var(ddof=1) / n
    z = (va10.mean() - vb10.mean()) / np.sqrt(var_a + var_b - 2 * cov)
    result = metrics.delong_test(y, a, b)
    assert result.auc_a == pytest.approx(metrics.auc(y, a))
    assert result.auc_b == pytest.approx(metrics.auc(y, b))
    assert result.z == pytest.approx(z)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_delong_of_a_model_with_itself_is_no_difference_and_detects_a_real_one():
    y, score = _sample(n=2000, seed=4, strength=1.5)
    same = metrics.delong_test(y, score, score)
    assert same.difference == 0 and same.p_value == 1.0
    noisy = score + np.random.default_rng(5).normal(scale=3, size=len(score))
    assert metrics.delong_test(y, score, noisy).p_value < 1e-6


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    y, score = _sample(n=1000, seed=6)
    first = metrics.bootstrap_ci(y, score, n_boot=100, seed=11)
    assert first == metrics.bootstrap_ci(y, score, n_boot=100, seed=11)
    low, high = first["auc"]
    assert low < metrics.auc(y, score) < high
    # the percentile interval is about as wide as the normal one from DeLong's standard error
    se = np.sqrt(metrics.auc_variance(y, score))
    assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.35)
    assert first["gini"] == pytest.approx((2 * low - 1, 2 * high - 1))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="missing outcomes"):
        metrics.auc([0, np.nan, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="y has 2 rows but score has 3"):
        metrics.auc([0, 1], [0.1, 0.2, 0.3])
    assert np.isnan(metrics.auc([0, 0], [0.1, 0.2]))
