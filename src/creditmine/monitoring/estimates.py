"""Statistics of monitoring: label-free estimates from calibrated PDs, vintages, back-tests on outcomes.

Label-free estimates (in the manner of NannyML's CBPE, Confidence-Based Performance Estimation):
when the PDs are calibrated, each loan defaults with its PD, so before any outcome is known

- the expected default rate of a set of loans is their mean PD, with the Poisson-binomial standard
  error sqrt(sum p(1 - p)) / n;
- the expected AUC is the probability that a defaulter ranks riskier than a performer when
  outcomes are drawn from the PDs: sum over pairs i != j of p_i (1 - p_j) [s_i > s_j] (ties count
  one half), divided by sum over pairs i != j of p_i (1 - p_j). CBPE's estimate is the area under
  the expected ROC curve (cumulated p for the true positives, 1 - p for the false); it differs
  only by the self-pairs i = j, which vanish as n grows (benchmarks/monitor.py reports the gap);
- the AUC that could be realized scatters around it: `expected_auc_band` draws outcomes from the
  PDs (seeded) and gives the central 95 % of the AUCs they would give.

A month on book is 365.25 / 12 days: a loan booked on day b has ``floor((as_of - b) / 30.4375)``
months on book at `as_of`, and a default on day d happened in month on book ``max(1, ceil((d - b) /
30.4375))``. Until a loan's outcome matures (12 months on book) its expected cumulative default
probability at k months is 1 - (1 - PD)^(k / 12): the PD spread evenly (a constant hazard) over
the year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from creditmine.validation.backtests import binomial_test, ecb_auc_test, jeffreys_test
from creditmine.validation.metrics import auc, auc_variance

__all__ = [
    "DAYS_PER_MONTH", "backtest_by_grade", "cumulative_expected", "expected_auc", "expected_auc_band",
    "expected_default_rate", "jeffreys_interval", "loan_book", "realized_auc", "vintage_curves",
    "vintage_table",
]

DAYS_PER_MONTH = 365.25 / 12


def expected_auc(pd_values, score=None) -> float:
    """The AUC expected when each loan defaults with its PD (see the module's description).

    Parameters
    ----------
    pd_values : calibrated PDs in [0, 1].
    score : the ranking (higher is riskier); the PD itself when None.
    """
    p = np.asarray(pd_values, dtype=float)
    s = p if score is None else np.asarray(score, dtype=float)
    keep = ~(np.isnan(p) | np.isnan(s))
    p, s = p[keep], s[keep]
    if len(p) < 2:
        return float("nan")
    order = np.argsort(s, kind="stable")
    p, s = p[order], s[order]
    q = 1.0 - p
    starts = np.r_[0, np.flatnonzero(np.diff(s) != 0) + 1]
    group_p = np.add.reduceat(p, starts)
    group_q = np.add.reduceat(q, starts)
    group_pq = np.add.reduceat(p * q, starts)
    below_q = np.r_[0.0, np.cumsum(group_q)[:-1]]
    numerator = np.sum(group_p * below_q) + 0.5 * np.sum(group_p * group_q - group_pq)
    denominator = p.sum() * q.sum() - np.sum(p * q)
    return float(numerator / denominator) if denominator > 0 else float("nan")


def expected_auc_band(pd_values, score=None, draws: int = 400, confidence: float = 0.95,
                      seed: int = 0) -> tuple[float, float]:
    """The central `confidence` range of the AUCs realized when outcomes are drawn from the PDs.

    Outcomes are drawn `draws` times from ``numpy.random.default_rng(seed)``; draws with a single
    class are left out. Returns (nan, nan) for fewer than two loans.
    """
    p = np.asarray(pd_values, dtype=float)
    s = p if score is None else np.asarray(score, dtype=float)
    keep = ~(np.isnan(p) | np.isnan(s))
    p, s = p[keep], s[keep]
    if len(p) < 2:
        return float("nan"), float("nan")
    ranks = stats.rankdata(s)
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, draws, 100):
        y = rng.random((min(100, draws - start), len(p))) < p[None, :]
        n1 = y.sum(axis=1)
        n0 = len(p) - n1
        ok = (n1 > 0) & (n0 > 0)
        rank_sum = y[ok].astype(float) @ ranks
        values.append((rank_sum - n1[ok] * (n1[ok] + 1) / 2) / (n1[ok] * n0[ok]))
    values = np.concatenate(values)
    if not len(values):
        return float("nan"), float("nan")
    alpha = 1 - confidence
    return float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2))


def expected_default_rate(pd_values) -> tuple[float, float]:
    """(mean PD, its standard error sqrt(sum p (1 - p)) / n) of a set of loans."""
    p = np.asarray(pd_values, dtype=float)
    p = p[~np.isnan(p)]
    if not len(p):
        return float("nan"), float("nan")
    return float(p.mean()), float(np.sqrt(np.sum(p * (1 - p))) / len(p))


def jeffreys_interval(defaults: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Jeffreys interval of a default rate: quantiles of Beta(d + 1/2, n - d + 1/2)."""
    if n == 0:
        return float("nan"), float("nan")
    alpha = 1 - confidence
    low = 0.0 if defaults == 0 else float(stats.beta.ppf(alpha / 2, defaults + 0.5, n - defaults + 0.5))
    high = 1.0 if defaults == n else float(stats.beta.ppf(1 - alpha / 2, defaults + 0.5, n - defaults + 0.5))
    return low, high


def realized_auc(y, pd_values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(AUC, lower, upper): the empirical AUC and its DeLong interval; nan with one class only."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(pd_values, dtype=float)
    if len(y) < 2 or y.min() == y.max():
        return float("nan"), float("nan"), float("nan")
    value = auc(y, p)
    se = float(np.sqrt(auc_variance(y, p)))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return value, max(0.0, value - z * se), min(1.0, value + z * se)


def cumulative_expected(pd_values, months_on_book, maturity: int = 12) -> np.ndarray:
    """Each loan's probability of having defaulted by its months on book: 1 - (1 - PD)^(k / 12)."""
    p = np.clip(np.asarray(pd_values, dtype=float), 0.0, 1.0)
    k = np.clip(np.asarray(months_on_book, dtype=float), 0, maturity)
    return 1.0 - (1.0 - p) ** (k / maturity)


def loan_book(booked: pd.DataFrame, as_of, maturity: int = 12) -> pd.DataFrame:
    """The booked loans as known at `as_of`: vintage, months on book, default month on book.

    Parameters
    ----------
    booked : application_id, booked_on, defaulted_on (NaT: no default known), pd, grade, score.
    as_of : the monitoring date; defaults after it are not known yet.

    Returns
    -------
    The rows with vintage (booking month), mob (whole months on book, at most `maturity` counted
    for outcomes), default_mob (month on book of a known default within `maturity`, else 0),
    defaulted (known by `as_of`, within `maturity` months) and matured (mob >= maturity).
    """
    as_of = pd.Timestamp(as_of)
    frame = booked.copy()
    booked_on = pd.to_datetime(frame["booked_on"])
    defaulted_on = pd.to_datetime(frame["defaulted_on"])
    frame["vintage"] = booked_on.dt.to_period("M")
    frame["mob"] = np.floor((as_of - booked_on).dt.days / DAYS_PER_MONTH).astype(int)
    known = defaulted_on.notna() & (defaulted_on <= as_of)
    mob_default = np.maximum(1, np.ceil((defaulted_on - booked_on).dt.days / DAYS_PER_MONTH)).fillna(0).astype(int)
    within = known & (mob_default <= maturity)
    frame["default_mob"] = np.where(within, mob_default, 0)
    frame["defaulted"] = within
    frame["matured"] = frame["mob"] >= maturity
    return frame


def vintage_curves(book: pd.DataFrame, maturity: int = 12) -> pd.DataFrame:
    """Cumulative default rate by months on book per vintage, observed and expected.

    Returns vintage, mob (1..), loans (on book at least that long), observed (share defaulted by
    then) and expected (mean of 1 - (1 - PD)^(mob / 12) over the same loans).
    """
    rows = []
    for vintage, part in book.groupby("vintage", sort=True):
        top = min(int(part["mob"].max()), maturity)
        for k in range(1, top + 1):
            on = part[part["mob"] >= k]
            if not len(on):
                continue
            observed = float(((on["default_mob"] > 0) & (on["default_mob"] <= k)).mean())
            expected = float(cumulative_expected(on["pd"], k, maturity).mean())
            rows.append({"vintage": vintage, "mob": k, "loans": len(on), "observed": observed, "expected": expected})
    return pd.DataFrame(rows, columns=["vintage", "mob", "loans", "observed", "expected"])


def backtest_by_grade(book: pd.DataFrame, n_grades: int) -> pd.DataFrame:
    """Per-grade Jeffreys and binomial tests (H0: the PD is not underestimated) on matured loans.

    Returns grade, loans, defaults, mean_pd, observed_rate, jeffreys_pvalue, binomial_pvalue, and a
    last row "all" for the portfolio.
    """
    matured = book[book["matured"]]
    rows = []
    for grade in [*range(1, n_grades + 1), "all"]:
        part = matured if grade == "all" else matured[matured["grade"] == grade]
        n = len(part)
        defaults = int(part["defaulted"].sum())
        mean_pd = float(part["pd"].mean()) if n else float("nan")
        rows.append({
            "grade": grade, "loans": n, "defaults": defaults, "mean_pd": mean_pd,
            "observed_rate": defaults / n if n else float("nan"),
            "jeffreys_pvalue": jeffreys_test(defaults, n, mean_pd) if n else float("nan"),
            "binomial_pvalue": binomial_test(defaults, n, mean_pd) if n else float("nan"),
        })
    return pd.DataFrame(rows)


def vintage_table(book: pd.DataFrame, draws: int = 400, seed: int = 0, min_defaults: int = 5,
                  maturity: int = 12, auc_initial: float | None = None) -> pd.DataFrame:
    """Per vintage: the label-free estimates next to what has been realized so far.

    Columns: vintage, loans, mob (months on book of the vintage's youngest loan), matured,
    defaults_so_far, observed_so_far and expected_so_far (cumulative default rate at each loan's
    months on book), expected_dr and its standard error (12-month, from the PDs), realized_dr with
    its Jeffreys interval (matured vintages), expected_auc with its band of AUCs the PDs could give,
    and realized_auc with its DeLong interval (matured vintages with at least `min_defaults`
    defaults and one performer). A last row "all" pools every vintage.
    """
    rows = []
    groups = list(book.groupby("vintage", sort=True))
    if len(groups) > 1:
        groups.append(("all", book))
    for vintage, part in groups:
        n = len(part)
        matured = bool(part["matured"].all())
        defaults = int(part["defaulted"].sum())
        mean_pd, se = expected_default_rate(part["pd"])
        score = part["pd"].to_numpy(float)
        band = expected_auc_band(score, draws=draws, seed=seed)
        row = {
            "vintage": vintage, "loans": n, "mob": int(part["mob"].min()), "matured": matured,
            "defaults_so_far": defaults, "observed_so_far": defaults / n,
            "expected_so_far": float(cumulative_expected(part["pd"], part["mob"], maturity).mean()),
            "expected_dr": mean_pd, "expected_dr_se": se,
            "realized_dr": float("nan"), "realized_dr_low": float("nan"), "realized_dr_high": float("nan"),
            "expected_auc": expected_auc(score), "expected_auc_low": band[0], "expected_auc_high": band[1],
            "realized_auc": float("nan"), "realized_auc_low": float("nan"), "realized_auc_high": float("nan"),
        }
        if matured:
            row["realized_dr"] = defaults / n
            row["realized_dr_low"], row["realized_dr_high"] = jeffreys_interval(defaults, n)
            if defaults >= min_defaults and defaults < n:
                row["realized_auc"], row["realized_auc_low"], row["realized_auc_high"] = realized_auc(
                    part["defaulted"].astype(float), score)
        rows.append(row)
    return pd.DataFrame(rows)


def early_default_test(book: pd.DataFrame, maturity: int = 12) -> dict:
    """Defaults known so far against those the PDs expect by each loan's months on book.

    Returns loans, defaults, expected, ratio and p_value (binomial, H0: the PDs do not
    underestimate early defaults).
    """
    n = len(book)
    if not n:
        return {"loans": 0, "defaults": 0, "expected": 0.0, "ratio": float("nan"), "p_value": float("nan")}
    expected = cumulative_expected(book["pd"], book["mob"], maturity)
    defaults = int(book["defaulted"].sum())
    total = float(expected.sum())
    p = binomial_test(defaults, n, min(max(total / n, 1e-12), 1.0)) if total > 0 else float("nan")
    return {"loans": n, "defaults": defaults, "expected": total, "ratio": defaults / total if total > 0 else float("nan"),
            "p_value": p}


def auc_backtest(book: pd.DataFrame, auc_initial: float, min_defaults: int = 5) -> dict:
    """The ECB AUC back-test (2.5.4.1) on the matured loans: the current AUC against the AUC at
    initial validation (the version's development AUC)."""
    matured = book[book["matured"]]
    defaults = int(matured["defaulted"].sum())
    if defaults < min_defaults or defaults == len(matured):
        return {"loans": len(matured), "defaults": defaults, "auc": float("nan"), "p_value": float("nan")}
    test = ecb_auc_test(auc_initial, matured["defaulted"].astype(float), matured["pd"].to_numpy(float))
    return {"loans": len(matured), "defaults": defaults, "auc": test.auc_current, "p_value": test.p_value,
            "statistic": test.statistic}
