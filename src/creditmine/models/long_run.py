"""The central tendency of a PD model: the long-run average default rate, the margin of conservatism
(EBA GL/2017/16 on PD estimation: sections 5.3.5 and 4.4.4, categories A, B and C) and the shift
of the log-odds intercept that moves a population's mean PD to a target while keeping the ranking.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special, stats

__all__ = ["long_run_rate", "margin_components", "shift_to_mean", "shifted"]


def long_run_rate(y, years=None, how: str = "pooled") -> tuple[float, list[dict]]:
    """The long-run average default rate of labelled loans, and the rate of each year.

    Parameters
    ----------
    y : outcomes (1 = default) of the labelled history.
    years : application year of each loan, or None (no dates): the pooled rate.
    how : "pooled" (defaults / loans over the whole history) or "yearly" (the arithmetic mean of the
        yearly default rates, EBA GL/2017/16 paragraph 80; pooled when there are no years).

    Returns
    -------
    (rate, [{"year", "loans", "defaults", "default_rate"}, ...]).
    """
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or np.isnan(y).any():
        raise ValueError("the long-run default rate needs matured outcomes of at least one loan")
    by_year = []
    if years is not None:
        years = np.asarray(years)
        for year in np.unique(years):
            rows = years == year
            by_year.append({"year": int(year), "loans": int(rows.sum()), "defaults": int(y[rows].sum()),
                            "default_rate": float(y[rows].mean())})
    if how == "yearly" and by_year:
        return float(np.mean([r["default_rate"] for r in by_year])), by_year
    if how not in ("yearly", "pooled"):
        raise ValueError(f"long_run_average must be yearly or pooled; got {how!r}")
    return float(y.mean()), by_year


def margin_components(rate: float, loans: int, moc: dict) -> dict:
    """Each category's relative add-on and their sum (the final add-on) on the long-run rate.

    Category C, when not given (None), is the binomial sampling error of the rate: the one-sided
    `confidence` upper bound of a proportion of `loans` trials (normal approximation) minus the rate,
    relative to the rate.
    """
    a, b, c = float(moc.get("category_a", 0.0)), float(moc.get("category_b", 0.0)), moc.get("category_c")
    c_source = "given"
    if c is None:
        confidence = float(moc.get("confidence", 0.9))
        se = np.sqrt(rate * (1 - rate) / max(loans, 1))
        c = float(stats.norm.ppf(confidence) * se / rate) if rate > 0 else 0.0
        c_source = f"estimated: {confidence:.0%} one-sided bound of the rate over {loans} loans"
    return {"category_a": a, "category_b": b, "category_c": float(c), "category_c_source": c_source,
            "add_on": a + b + float(c)}


def shifted(pd_, shift: float) -> np.ndarray:
    """PDs moved by `shift` on the log-odds scale: sigmoid(logit(pd) + shift); strictly increasing in pd."""
    pd_ = np.clip(np.asarray(pd_, dtype=float), 1e-15, 1 - 1e-15)
    return special.expit(special.logit(pd_) + shift)


def shift_to_mean(pd_, target: float, weights=None, floor: float = 0.0) -> float:
    """The log-odds shift that gives `pd_` the (weighted) mean `target`, a probability in (0, 1),
    with the shifted PDs clipped to [floor, 1 - floor] as the calibrator returns them."""
    pd_ = np.asarray(pd_, dtype=float)
    if not 0 < target < 1:
        raise ValueError(f"the target mean PD must lie in (0, 1); got {target!r}")
    if len(pd_) == 0:
        raise ValueError("no applications to set the central tendency on")
    w = np.ones(len(pd_)) if weights is None else np.asarray(weights, dtype=float)

    def gap(delta: float) -> float:
        return float(np.average(np.clip(shifted(pd_, delta), floor, 1 - floor), weights=w) - target)

    return float(optimize.brentq(gap, -30.0, 30.0, xtol=1e-12))
