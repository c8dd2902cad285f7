"""Calibration back-tests (binomial, Jeffreys, Hosmer-Lemeshow, Brier) and the ECB's PD battery.

The ECB battery follows "Instructions for reporting the validation results of internal models -
IRB Pillar I models for credit risk" (ECB, February 2019), section 2.5: the Jeffreys test
(2.5.3.1), the current AUC against the AUC at initial validation (2.5.4.1), customer migrations
(2.5.5.1), the stability of the migration matrix (2.5.5.2) and the concentration in rating grades
(2.5.5.3). Grades run from 1 (best, lowest PD) to K (worst); PDs are 12-month probabilities of
default in [0, 1]; outcomes are 1 = default, 0 = performing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from creditmine.validation.metrics import auc as _auc
from creditmine.validation.metrics import auc_variance

__all__ = [
    "AucBacktest", "HerfindahlResult", "HosmerLemeshowResult", "binomial_test", "brier_score",
    "calibration_by_grade", "calibration_curve", "ecb_auc_test", "grade_concentration",
    "herfindahl_index", "herfindahl_test", "hosmer_lemeshow", "jeffreys_test",
    "matrix_weighted_bandwidth", "migration_matrix", "migration_stability_ztests",
    "plot_calibration", "plot_migration",
]


# -- calibration -----------------------------------------------------------------------------
def binomial_test(defaults: int, n: int, pd_estimate: float) -> float:
    """One-sided binomial test of H0 "the PD is not underestimated".

    Returns P(X >= defaults) for X ~ Binomial(n, pd_estimate): a small p-value says more loans
    defaulted than the PD allows (Basel Committee, Working Paper 14, 2005, section 5).
    """
    _check_counts(defaults, n, pd_estimate)
    if n == 0:
        return float("nan")
    return float(stats.binom.sf(defaults - 1, n, pd_estimate))


def jeffreys_test(defaults: int, n: int, pd_estimate: float) -> float:
    """One-sided Jeffreys test of H0 "the PD is not underestimated" (ECB 2019, section 2.5.3.1).

    With the Jeffreys prior Beta(1/2, 1/2), the posterior of the default rate given `defaults` out
    of `n` is Beta(defaults + 1/2, n - defaults + 1/2); the p-value is its CDF at `pd_estimate`:
    the posterior probability that the true default rate lies below the estimate.
    """
    _check_counts(defaults, n, pd_estimate)
    if n == 0:
        return float("nan")
    return float(stats.beta.cdf(pd_estimate, defaults + 0.5, n - defaults + 0.5))


@dataclass(frozen=True)
class HosmerLemeshowResult:
    statistic: float  # chi-square statistic
    dof: int  # degrees of freedom
    p_value: float
    groups: int


def hosmer_lemeshow(y, pd_estimate, groups, dof_reduction: int = 0) -> HosmerLemeshowResult:
    """Hosmer-Lemeshow test over given groups (grades or PD quantiles).

    H = sum_g (O_g - N_g pbar_g)^2 / (N_g pbar_g (1 - pbar_g)), chi-square with G - dof_reduction
    degrees of freedom. Use dof_reduction=2 on the sample the PDs were fitted on and 0 on an
    independent sample, where the PDs are fixed in advance (BCBS Working Paper 14, 2005).
    """
    y, p = _labelled(y, pd_estimate)
    frame = pd.DataFrame({"y": y, "pd": p, "g": np.asarray(groups)})
    agg = frame.groupby("g", sort=True).agg(n=("y", "size"), o=("y", "sum"), pbar=("pd", "mean"))
    agg = agg[(agg["pbar"] > 0) & (agg["pbar"] < 1)]
    expected = agg["n"] * agg["pbar"]
    statistic = float((((agg["o"] - expected) ** 2) / (expected * (1 - agg["pbar"]))).sum())
    dof = int(len(agg) - dof_reduction)
    p_value = float(stats.chi2.sf(statistic, dof)) if dof > 0 else float("nan")
    return HosmerLemeshowResult(statistic, dof, p_value, int(len(agg)))


def brier_score(y, pd_estimate) -> float:
    """Mean squared difference between PD and outcome, in [0, 1]; lower is better."""
    y, p = _labelled(y, pd_estimate)
    return float(np.mean((p - y) ** 2))


def calibration_by_grade(y, pd_estimate, grades, n_grades: int | None = None) -> pd.DataFrame:
    """Predicted PD against the observed default rate per grade and for the portfolio.

    Returns one row per grade 1..K plus a row "portfolio": n, defaults, observed_rate, mean_pd,
    binomial_p and jeffreys_p (both one-sided, H0: the PD is not underestimated), and the
    two-sided Jeffreys 95 % interval of the observed rate (for plots).
    """
    y, p = _labelled(y, pd_estimate)
    g = np.asarray(grades, dtype=int)
    k = int(n_grades or (g.max() if len(g) else 0))
    rows = []
    for grade in [*range(1, k + 1), "portfolio"]:
        mask = np.ones(len(y), bool) if grade == "portfolio" else g == grade
        rows.append(_calibration_row(grade, y[mask], p[mask]))
    return pd.DataFrame(rows).set_index("grade")


def calibration_curve(y, pd_estimate, bins: int = 10) -> pd.DataFrame:
    """Mean PD and observed default rate in `bins` equal-size bins of the PD."""
    y, p = _labelled(y, pd_estimate)
    ranks = stats.rankdata(p, method="ordinal")
    bin_of = np.minimum((ranks - 1) * bins // len(p), bins - 1).astype(int)
    frame = pd.DataFrame({"bin": bin_of, "y": y, "pd": p})
    return frame.groupby("bin").agg(n=("y", "size"), mean_pd=("pd", "mean"), observed_rate=("y", "mean"))


def plot_calibration(curves: dict[str, pd.DataFrame], by_grade: pd.DataFrame | None = None,
                     title: str = "Calibration"):
    """Calibration curves (mean PD vs observed rate, log scales) and per-grade points with Jeffreys
    intervals. `curves[label]` is a `calibration_curve` table."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    lows = []
    for label, curve in curves.items():
        ok = curve["observed_rate"] > 0
        ax.plot(curve.loc[ok, "mean_pd"], curve.loc[ok, "observed_rate"], marker="o", label=label)
        lows.append(curve["mean_pd"].min())
    if by_grade is not None:
        grades = by_grade.drop(index="portfolio", errors="ignore")
        grades = grades[grades["n"] > 0]
        yerr = np.vstack([grades["observed_rate"] - grades["jeffreys_low"],
                          grades["jeffreys_high"] - grades["observed_rate"]])
        ax.errorbar(grades["mean_pd"], grades["observed_rate"].clip(lower=1e-4), yerr=yerr,
                    fmt="s", color="black", capsize=2, label="grades (Jeffreys 95 %)")
        lows.append(grades["mean_pd"].min())
    low = max(min([v for v in lows if v > 0] or [1e-3]) / 2, 1e-4)
    ax.plot([low, 1], [low, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xscale="log", yscale="log", xlabel="predicted PD", ylabel="observed default rate", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# -- ECB 2.5.4.1: current AUC against the AUC at initial validation -----------------------------
@dataclass(frozen=True)
class AucBacktest:
    auc_initial: float
    auc_current: float
    s_current: float  # DeLong standard error of the current AUC
    statistic: float  # S = (auc_initial - auc_current) / s_current
    p_value: float  # one-sided: 1 - Phi(S); small = the AUC has deteriorated


def ecb_auc_test(auc_initial: float, y, score) -> AucBacktest:
    """ECB 2019, section 2.5.4.1: S = (AUC_init - AUC_curr) / s_curr, p = 1 - Phi(S).

    `s_curr` is the DeLong standard error of the current AUC (the ECB's formula for s^2 is the
    DeLong/Mann-Whitney variance of the empirical AUC). H0: the current AUC is not lower than the
    AUC at initial validation.
    """
    current = _auc(y, score)
    s = float(np.sqrt(auc_variance(y, score)))
    if not np.isfinite(current) or s == 0:
        return AucBacktest(float(auc_initial), current, s, float("nan"), float("nan"))
    statistic = (float(auc_initial) - current) / s
    return AucBacktest(float(auc_initial), current, s, statistic, float(stats.norm.sf(statistic)))


# -- ECB 2.5.5.1 / 2.5.5.2: customer migrations -----------------------------------------------
def migration_matrix(grade_initial, grade_current, n_grades: int) -> pd.DataFrame:
    """Counts N_ij of customers in grade i at the first rating date and grade j at the second."""
    a = np.asarray(grade_initial, dtype=int)
    b = np.asarray(grade_current, dtype=int)
    if len(a) != len(b):
        raise ValueError(f"grade_initial has {len(a)} rows but grade_current has {len(b)}")
    bad = (a < 1) | (a > n_grades) | (b < 1) | (b > n_grades)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"grades must lie in 1..{n_grades}; row {row} has {a[row]} -> {b[row]}")
    counts = np.zeros((n_grades, n_grades), dtype=int)
    np.add.at(counts, (a - 1, b - 1), 1)
    labels = pd.Index(range(1, n_grades + 1), name="grade_initial")
    return pd.DataFrame(counts, index=labels, columns=pd.Index(range(1, n_grades + 1), name="grade_current"))


def matrix_weighted_bandwidth(counts) -> tuple[float, float]:
    """ECB 2019, section 2.5.5.1: upper and lower matrix weighted bandwidth (MWB).

    MWB_upper = 1/M_upper * sum_{i<K} sum_{j>i} |i - j| N_i p_ij, with the normalisation
    M_upper = sum_{i<K} max(|i - K|, |i - 1|) N_i sum_{j>i} p_ij; MWB_lower likewise over j < i
    (i > 1). With grade 1 best, "upper" (j > i) are downgrades. Each lies in [0, 1]: 0 when nobody
    moves that way, larger when the movers move far.
    """
    n = np.asarray(counts, dtype=float)
    k = n.shape[0]
    n_i = n.sum(axis=1)
    p = np.divide(n, n_i[:, None], out=np.zeros_like(n), where=n_i[:, None] > 0)
    i, j = np.indices((k, k)) + 1  # grades are 1-based in the formula
    reach = np.maximum(np.abs(i - k), np.abs(i - 1))
    results = []
    for side in (j > i, j < i):
        numerator = (np.abs(i - j) * n_i[:, None] * p)[side].sum()
        norm = (reach * n_i[:, None] * p)[side].sum()
        results.append(float(numerator / norm) if norm > 0 else 0.0)
    return results[0], results[1]


def migration_stability_ztests(counts) -> pd.DataFrame:
    """ECB 2019, section 2.5.5.2: z-tests that migration frequencies fall away from the diagonal.

    For i < j: z_ij = (p_i,j-1 - p_ij) / sqrt((p_ij(1-p_ij) + p_i,j-1(1-p_i,j-1) + 2 p_ij p_i,j-1) / N_i);
    for i > j the neighbour is p_i,j+1. H0: p_ij <= its neighbour closer to the diagonal; p-value
    Phi(z_ij), small when a cell farther from the diagonal holds more customers than its neighbour.

    Returns a long table: grade_initial, grade_current, z, p_value (NaN where a row is empty or
    both frequencies are zero).
    """
    n = np.asarray(counts, dtype=float)
    k = n.shape[0]
    n_i = n.sum(axis=1)
    rows = []
    for i in range(k):
        if n_i[i] == 0:
            continue
        p = n[i] / n_i[i]
        for j in range(k):
            if i == j:
                continue
            near = j - 1 if j > i else j + 1
            var = (p[j] * (1 - p[j]) + p[near] * (1 - p[near]) + 2 * p[j] * p[near]) / n_i[i]
            z = (p[near] - p[j]) / np.sqrt(var) if var > 0 else float("nan")
            rows.append({"grade_initial": i + 1, "grade_current": j + 1, "z": z,
                         "p_value": float(stats.norm.cdf(z)) if np.isfinite(z) else float("nan")})
    return pd.DataFrame(rows, columns=["grade_initial", "grade_current", "z", "p_value"])


def plot_migration(counts: pd.DataFrame, title: str = "Rating migrations"):
    """Heat map of row-normalised migration frequencies p_ij."""
    n = counts.to_numpy(dtype=float)
    p = np.divide(n, n.sum(axis=1, keepdims=True), out=np.zeros_like(n), where=n.sum(axis=1, keepdims=True) > 0)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    image = ax.imshow(p, cmap="Blues", vmin=0, vmax=1)
    k = len(p)
    ax.set_xticks(range(k), [str(c) for c in counts.columns])
    ax.set_yticks(range(k), [str(c) for c in counts.index])
    for a in range(k):
        for b in range(k):
            if n[a, b]:
                ax.text(b, a, int(n[a, b]), ha="center", va="center", fontsize=6,
                        color="white" if p[a, b] > 0.5 else "black")
    ax.set(xlabel="grade at the later rating", ylabel="grade at the earlier rating", title=title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the row")
    fig.tight_layout()
    return fig


# -- ECB 2.5.5.3: concentration in rating grades ----------------------------------------------
@dataclass(frozen=True)
class HerfindahlResult:
    cv_initial: float
    hi_initial: float
    cv_current: float
    hi_current: float
    p_value: float  # one-sided: small = concentration has increased


def herfindahl_index(grade_counts) -> tuple[float, float]:
    """Coefficient of variation and Herfindahl index of a grade distribution (ECB 2.5.5.3).

    CV = sqrt(K sum_i (R_i - 1/K)^2) with R_i the share of customers in grade i of K;
    HI = 1 + ln((CV^2 + 1) / K) / ln K, in [0, 1]: 0 for equal shares, 1 for a single grade.
    """
    counts = np.asarray(grade_counts, dtype=float)
    k = len(counts)
    if k < 2 or counts.sum() <= 0:
        raise ValueError(f"need at least two grades and one customer; got {k} grades, {counts.sum():.0f} customers")
    share = counts / counts.sum()
    cv = float(np.sqrt(k * np.sum((share - 1 / k) ** 2)))
    hi = float(1 + np.log((cv**2 + 1) / k) / np.log(k))
    return cv, hi


def herfindahl_test(counts_initial, counts_current) -> HerfindahlResult:
    """ECB 2019, section 2.5.5.3: has the concentration in grades increased since initial validation?

    p = 1 - Phi( sqrt(K - 1) (CV_curr - CV_init) / sqrt(CV_curr^2 (0.5 + CV_curr^2)) ).
    """
    init, curr = np.asarray(counts_initial, float), np.asarray(counts_current, float)
    if len(init) != len(curr):
        raise ValueError(f"both distributions need the same grades; got {len(init)} and {len(curr)}")
    cv_i, hi_i = herfindahl_index(init)
    cv_c, hi_c = herfindahl_index(curr)
    k = len(init)
    denominator = np.sqrt(cv_c**2 * (0.5 + cv_c**2))
    p = float(stats.norm.sf(np.sqrt(k - 1) * (cv_c - cv_i) / denominator)) if denominator > 0 else float("nan")
    return HerfindahlResult(cv_i, hi_i, cv_c, hi_c, p)


def grade_concentration(grades, n_grades: int) -> pd.DataFrame:
    """Applications and their share per grade 1..K."""
    g = np.asarray(grades, dtype=int)
    counts = np.bincount(g, minlength=n_grades + 1)[1:n_grades + 1]
    total = max(int(counts.sum()), 1)
    return pd.DataFrame({"applications": counts, "share": counts / total},
                        index=pd.Index(range(1, n_grades + 1), name="grade"))


# -- helpers ----------------------------------------------------------------------------------
def _calibration_row(grade, y: np.ndarray, p: np.ndarray) -> dict:
    n, d = int(len(y)), int(y.sum())
    mean_pd = float(p.mean()) if n else float("nan")
    if n:
        low, high = stats.beta.ppf([0.025, 0.975], d + 0.5, n - d + 0.5)
        low = 0.0 if d == 0 else float(low)
        high = 1.0 if d == n else float(high)
    else:
        low = high = float("nan")
    return {
        "grade": grade, "n": n, "defaults": d,
        "observed_rate": d / n if n else float("nan"), "mean_pd": mean_pd,
        "binomial_p": binomial_test(d, n, mean_pd) if n else float("nan"),
        "jeffreys_p": jeffreys_test(d, n, mean_pd) if n else float("nan"),
        "jeffreys_low": low, "jeffreys_high": high,
    }


def _check_counts(defaults: int, n: int, pd_estimate: float) -> None:
    if not 0 <= defaults <= n:
        raise ValueError(f"defaults must lie in 0..n; got {defaults} of {n}")
    if not 0 <= pd_estimate <= 1:
        raise ValueError(f"pd_estimate must lie in [0, 1]; got {pd_estimate}")


def _labelled(y, pd_estimate) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(pd_estimate, dtype=float).ravel()
    if len(y) != len(p):
        raise ValueError(f"y has {len(y)} rows but pd_estimate has {len(p)}")
    if np.isnan(y).any() or np.isnan(p).any():
        raise ValueError("y and pd_estimate must have no missing values; keep labelled, scored rows")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("pd_estimate must lie in [0, 1]")
    return y, p
