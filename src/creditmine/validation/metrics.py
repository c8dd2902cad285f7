"""Discrimination: AUC, Gini and KS with seeded bootstrap confidence intervals, and DeLong's test.

Every function takes `y` (1 = default within 12 months, 0 = performing) and a risk `score` where
a higher value means riskier (a PD, not a credit score in points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

__all__ = [
    "DeLongResult", "auc", "auc_variance", "bootstrap_ci", "delong_test", "discrimination",
    "gini", "ks_statistic", "plot_ks", "plot_roc",
]


def auc(y, score) -> float:
    """Area under the ROC curve: the probability that a random default scores riskier than a random
    performing loan (ties count one half). NaN when only one class is present."""
    y, score = _check(y, score)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, score))


def gini(y, score) -> float:
    """Gini coefficient (accuracy ratio) = 2 AUC - 1, in [-1, 1]."""
    return 2.0 * auc(y, score) - 1.0


def ks_statistic(y, score) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the cumulative score distributions of
    defaults and performing loans, in [0, 1] (equal to scipy's two-sample KS statistic)."""
    y, score = _check(y, score)
    if y.min() == y.max():
        return float("nan")
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(np.abs(tpr - fpr)))


def discrimination(y, score) -> dict[str, float]:
    """AUC, Gini, KS, the DeLong standard error of the AUC, and the counts behind them."""
    y, score = _check(y, score)
    value = auc(y, score)
    return {
        "auc": value,
        "gini": 2 * value - 1,
        "ks": ks_statistic(y, score),
        "auc_se": float(np.sqrt(auc_variance(y, score))) if y.min() != y.max() else float("nan"),
        "n": int(len(y)),
        "defaults": int(y.sum()),
    }


def bootstrap_ci(
    y, score, n_boot: int = 200, confidence: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap confidence intervals of AUC, Gini and KS.

    Resamples rows with replacement within each outcome class (so every resample has the observed
    number of defaults and its AUC is defined), `n_boot` times from `numpy.random.default_rng(seed)`.

    Returns
    -------
    dict metric -> (lower, upper) at the two-sided `confidence` level.
    """
    y, score = _check(y, score)
    if y.min() == y.max():
        return {name: (float("nan"), float("nan")) for name in ("auc", "gini", "ks")}
    rng = np.random.default_rng(seed)
    bad, good = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    labels = np.r_[np.ones(len(bad)), np.zeros(len(good))]
    draws = {"auc": np.empty(n_boot), "ks": np.empty(n_boot)}
    for b in range(n_boot):
        rows = np.r_[rng.choice(bad, len(bad)), rng.choice(good, len(good))]
        fpr, tpr, _ = roc_curve(labels, score[rows])
        draws["auc"][b] = np.trapezoid(tpr, fpr)
        draws["ks"][b] = np.max(np.abs(tpr - fpr))
    draws["gini"] = 2 * draws["auc"] - 1
    alpha = 1 - confidence
    return {
        name: (float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2)))
        for name, values in draws.items()
    }


def auc_variance(y, score) -> float:
    """DeLong's variance of the empirical AUC (DeLong, DeLong and Clarke-Pearson 1988).

    This is the variance the ECB uses for the AUC back-test (Instructions for reporting the
    validation results of internal models, 2019, section 2.5.4.1).
    """
    y, score = _check(y, score)
    v10, v01 = _placements(y, score[:, None])
    return float(v10.var(ddof=1) / v10.shape[0] + v01.var(ddof=1) / v01.shape[0])


@dataclass(frozen=True)
class DeLongResult:
    """DeLong's test of two correlated AUCs measured on the same loans."""

    auc_a: float
    auc_b: float
    difference: float  # auc_a - auc_b
    se: float  # standard error of the difference
    z: float
    p_value: float  # two-sided


def delong_test(y, score_a, score_b) -> DeLongResult:
    """Test H0: AUC(score_a) = AUC(score_b) on the same loans, two-sided (DeLong et al. 1988).

    Uses the fast midrank algorithm of Sun and Xu (2014); the covariance of the two AUCs comes from
    the placement values of each default among performing loans and vice versa.
    """
    y, score_a = _check(y, score_a)
    _, score_b = _check(y, score_b)
    if y.min() == y.max():
        raise ValueError("DeLong's test needs both defaults and performing loans")
    v10, v01 = _placements(y, np.column_stack([score_a, score_b]))
    cov = np.cov(v10, rowvar=False) / v10.shape[0] + np.cov(v01, rowvar=False) / v01.shape[0]
    aucs = v10.mean(axis=0)
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if var <= 0:
        z, p = (0.0, 1.0) if diff == 0 else (float(np.sign(diff) * np.inf), 0.0)
    else:
        z = diff / np.sqrt(var)
        p = float(2 * stats.norm.sf(abs(z)))
    return DeLongResult(float(aucs[0]), float(aucs[1]), diff, float(np.sqrt(max(var, 0.0))), float(z), p)


def plot_roc(curves: dict[str, tuple], title: str = "ROC curve"):
    """ROC curves, one per label: `curves[label] = (y, score)`. Returns the Figure."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    for label, (y, score) in curves.items():
        y, score = _check(y, score)
        if y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=f"{label} (AUC {auc(y, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate (performing loans flagged)", ylabel="true positive rate (defaults caught)", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_ks(y, score, title: str = "KS: cumulative score distributions"):
    """Cumulative distributions of the score for defaults and performing loans, with the KS gap."""
    y, score = _check(y, score)
    order = np.sort(np.unique(score))
    bad = np.searchsorted(np.sort(score[y == 1]), order, side="right") / max((y == 1).sum(), 1)
    good = np.searchsorted(np.sort(score[y == 0]), order, side="right") / max((y == 0).sum(), 1)
    at = int(np.argmax(np.abs(good - bad)))
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    ax.plot(order, good, label="performing")
    ax.plot(order, bad, label="defaults")
    ax.vlines(order[at], bad[at], good[at], color="black", linestyle="--", label=f"KS {abs(good[at] - bad[at]):.3f}")
    ax.set(xlabel="PD", ylabel="cumulative share", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _check(y, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    score = np.asarray(score, dtype=float)
    if len(y) != len(score):
        raise ValueError(f"y has {len(y)} rows but score has {len(score)}")
    if np.isnan(y).any():
        raise ValueError(f"y has {int(np.isnan(y).sum())} missing outcomes; keep labelled rows only")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must hold 0 (performing) and 1 (default) only")
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if np.isnan(score).any():
        raise ValueError(f"score has {int(np.isnan(score).sum())} missing values")
    return y, score


def _midrank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    return stats.rankdata(x, method="average")


def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: V10 (per default) and V01 (per performing loan), one column
    per score; their means are the AUCs (Sun and Xu 2014, midrank form)."""
    pos, neg = scores[y == 1], scores[y == 0]
    m, n = len(pos), len(neg)
    v10 = np.empty((m, scores.shape[1]))
    v01 = np.empty((n, scores.shape[1]))
    for k in range(scores.shape[1]):
        tz = _midrank(np.r_[pos[:, k], neg[:, k]])
        tx, ty = _midrank(pos[:, k]), _midrank(neg[:, k])
        v10[:, k] = (tz[:m] - tx) / n
        v01[:, k] = 1.0 - (tz[m:] - ty) / m
    return v10, v01
