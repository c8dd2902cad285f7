"""The decision policy of a product: grade -> approve / refer / decline, credit limit and term.

Everything here is vectorised numpy over one batch of applications, so the same code decides a
single application in microseconds and 100,000 in a few milliseconds. The policy itself is data:
`creditmine.config.PolicyParams` from `params/products/<product>.yaml`.

Limit of an application (yuan):
``share x base x grade_limit_scale[grade]``, where `base` is the exposure measure that the
product's limit rule names (remaining contract value, trailing-12-month taxable or invoiced
sales, ...), then capped at `cap_cny` (`cap_specialized_cny` for specialized-innovative
enterprises), at the requested amount when `cap_at_requested`, and rounded down to
`limit_step_cny`. Declined applications get no limit; an approval whose limit falls below
`min_limit_cny`, or whose limit base is unknown, is referred with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from creditmine.config import PolicyParams
from creditmine.config.policy import LIMIT_BASE_COLUMNS as BASE_COLUMNS

APPROVE, REFER, DECLINE = "approve", "refer", "decline"


@dataclass(frozen=True)
class PolicyOutcome:
    """The policy's answer for a batch, one entry per application.

    decision : ndarray[str], "approve" / "refer" / "decline".
    credit_limit_cny : ndarray[float], yuan; 0 for declines, NaN when the limit base is unknown.
    term_months : ndarray[int], months; 0 for declines.
    note : ndarray[str], why an application the grade would approve was referred ("" otherwise).
    """

    decision: np.ndarray
    credit_limit_cny: np.ndarray
    term_months: np.ndarray
    note: np.ndarray


def limit_base_columns(policy: PolicyParams) -> tuple[str, ...]:
    """Every feature-table column that some limit rule of `policy` reads, in a stable order."""
    rules = [policy.default_limit_rule, *policy.limit_rules.values()]
    return tuple(dict.fromkeys(BASE_COLUMNS[rule.base] for rule in rules))


def limit_base_column(policy: PolicyParams, application_product: str) -> str:
    """The column holding the limit base of an application of `application_product`."""
    rule = policy.limit_rules.get(application_product, policy.default_limit_rule)
    return BASE_COLUMNS[rule.base]


def grade_decisions(grades: np.ndarray, policy: PolicyParams) -> np.ndarray:
    """Approve / refer / decline per grade (ints, 1 = best); grades in neither list are declined."""
    grades = np.asarray(grades)
    decision = np.full(grades.shape, DECLINE, dtype=object)
    decision[np.isin(grades, policy.refer_grades)] = REFER
    decision[np.isin(grades, policy.approve_grades)] = APPROVE
    return decision


def credit_limits(applications: pd.DataFrame, grades: np.ndarray, policy: PolicyParams) -> np.ndarray:
    """Credit limit in yuan per application, before the decision zeroes declines.

    Parameters
    ----------
    applications : DataFrame (or mapping of column -> array) with `product` (application product
        code), `requested_amount_cny`,
        `specialized_innovative` (bool or 1/0) and every column of `limit_base_columns(policy)`
        (yuan; NaN when unknown).
    grades : ndarray[int], grade 1 (best) .. G of each application.
    policy : the product's PolicyParams.

    Returns
    -------
    ndarray[float] : yuan, NaN where the limit base is unknown.
    """
    products = np.asarray(applications["product"], dtype=object)
    n = len(products)
    share = np.full(n, policy.default_limit_rule.share, dtype=float)
    base = _column(applications, BASE_COLUMNS[policy.default_limit_rule.base])
    for product, rule in policy.limit_rules.items():
        rows = products == product
        if rows.any():
            share[rows] = rule.share
            base[rows] = _column(applications, BASE_COLUMNS[rule.base])[rows]
    scale = _grade_scale(np.asarray(grades), policy)
    limit = share * base * scale
    specialized = _column(applications, "specialized_innovative") == 1  # blank: the lower cap
    limit = np.minimum(limit, np.where(specialized, policy.cap_specialized_cny, policy.cap_cny))
    if policy.cap_at_requested:
        limit = np.minimum(limit, _column(applications, "requested_amount_cny"))
    if policy.limit_step_cny > 0:
        limit = np.floor(limit / policy.limit_step_cny) * policy.limit_step_cny
    return limit


def apply_policy(applications: pd.DataFrame, grades: np.ndarray, policy: PolicyParams) -> PolicyOutcome:
    """Decision, limit and term of each application from its grade and the product's policy.

    An application whose grade approves it is referred instead, with a note, when its limit base
    is unknown (no record of the enterprise's sales, contract, ...) or its limit falls below
    `min_limit_cny`. Terms are the requested term (months) capped at `max_term_months`.

    Parameters
    ----------
    applications : see `credit_limits`; also `term_months` (requested term, months, >= 1).
    grades : ndarray[int], grade 1 (best) .. G.
    policy : the product's PolicyParams.
    """
    grades = np.asarray(grades)
    decision = grade_decisions(grades, policy)
    limit = credit_limits(applications, grades, policy)
    note = np.full(len(grades), "", dtype=object)

    unknown_base = np.isnan(limit) & (decision != DECLINE)
    if unknown_base.any():
        products = np.asarray(applications["product"], dtype=object)
        for row in np.flatnonzero(unknown_base):
            column = limit_base_column(policy, products[row])
            note[row] = f"no {column} on record: the limit needs a manual review"
        decision[unknown_base] = REFER
    too_small = (decision == APPROVE) & (limit < policy.min_limit_cny)
    if too_small.any():
        for row in np.flatnonzero(too_small):
            note[row] = (
                f"limit CNY {limit[row]:,.0f} is below the minimum of CNY {policy.min_limit_cny:,.0f}"
            )
        decision[too_small] = REFER

    declined = decision == DECLINE
    limit = np.where(declined, 0.0, limit)
    requested_term = _column(applications, "term_months")
    term = np.minimum(requested_term, policy.max_term_months)
    term = np.where(declined | np.isnan(term), 0, term).astype(np.int64)
    return PolicyOutcome(decision=decision, credit_limit_cny=limit, term_months=term, note=note)


def simulate_policy(
    scores: pd.DataFrame,
    policy: PolicyParams,
    *,
    pd_column: str = "pd",
    grade_column: str = "grade",
    default_column: str | None = "default_12m",
) -> pd.DataFrame:
    """What each grade cut-off buys: approval rate, expected bad rate and total limit granted.

    Cut-off g approves every application of grade 1..g (and nothing else), with limits from the
    product's limit rules and grade multipliers; a grade worse than every grade of
    `grade_limit_scale` takes the multiplier of the worst grade listed there.

    Parameters
    ----------
    scores : one row per application: PD (`pd_column`, 12-month probability of default),
        grade (`grade_column`, ints from 1 = best), the columns `credit_limits` reads, and
        optionally the observed outcome `default_column` (0/1, NaN when unknown).
    policy : the product's PolicyParams; its own cut-off is marked in `current_policy`.

    Returns
    -------
    DataFrame, one row per cut-off grade: `cutoff_grade`, `approved` (count), `approval_rate`
    (share of applications), `expected_bad_rate` (mean PD of the approved), `observed_bad_rate`
    (defaults / labelled approved, NaN without labels), `total_limit_cny` (yuan),
    `expected_loss_cny` (sum of PD x limit, yuan, full loss given default), `current_policy`
    (True for the highest grade the policy approves).
    """
    if scores.empty:
        raise ValueError("simulate_policy needs at least one scored application; got none")
    grades = scores[grade_column].to_numpy(dtype=np.int64)
    pds = scores[pd_column].to_numpy(dtype=float)
    simulated = policy.model_copy(
        update={"grade_limit_scale": _every_grade_scale(policy, int(grades.max())), "limit_step_cny": 0.0}
    )
    limits = np.nan_to_num(credit_limits(scores, grades, simulated), nan=0.0)
    outcome = scores[default_column].to_numpy(dtype=float) if default_column in scores else None
    current_cutoff = max(policy.approve_grades) if policy.approve_grades else 0

    rows = []
    for cutoff in range(1, int(grades.max()) + 1):
        approved = grades <= cutoff
        count = int(approved.sum())
        observed = np.nan
        if outcome is not None:
            labelled = approved & ~np.isnan(outcome)
            observed = float(outcome[labelled].mean()) if labelled.any() else np.nan
        rows.append({
            "cutoff_grade": cutoff,
            "approved": count,
            "approval_rate": count / len(grades),
            "expected_bad_rate": float(pds[approved].mean()) if count else np.nan,
            "observed_bad_rate": observed,
            "total_limit_cny": float(limits[approved].sum()),
            "expected_loss_cny": float((pds * limits)[approved].sum()),
            "current_policy": cutoff == current_cutoff,
        })
    return pd.DataFrame(rows)


def simulate_policy_for_run(cfg, product: str, split: str | None = "oot") -> pd.DataFrame:
    """`simulate_policy` on the primary model's scores of a run (for the validation report).

    Reads stage 02's scores (PD, grade and outcome of the primary model) and the application
    fields and limit bases of stage 01's feature table. An application whose limit base is unknown
    adds nothing to `total_limit_cny`; one without the specialized-innovative flag gets the
    ordinary cap.

    Parameters
    ----------
    cfg : RunConfig of the run.
    product : product name.
    split : applications of this split only ("oot", "holdout", "train"), or None for all.
    """
    from creditmine import artifacts

    policy = cfg.product(product).policy
    where = artifacts.layout(cfg, product)
    primary = artifacts.read_models_meta(where)["primary"]
    pd_column, grade_column = f"pd_{primary}", f"grade_{primary}"
    scores = artifacts.read_scores(where, columns=["application_id", "split", "default_12m", pd_column, grade_column])
    if split is not None:
        available = sorted(scores["split"].dropna().unique())
        scores = scores[scores["split"] == split]
        if scores.empty:
            raise ValueError(f"{where.scores}: no applications of split '{split}' (has {available})")
    wanted = ["product", "requested_amount_cny", "specialized_innovative", *limit_base_columns(policy)]
    present = _parquet_columns(where.features_table)
    features = artifacts.read_features(
        where, columns=["application_id", *dict.fromkeys(c for c in wanted if c in present)])
    frame = scores.merge(features, on="application_id", how="left")
    for column in wanted:
        if column not in frame:
            frame[column] = np.nan
    return simulate_policy(frame, policy, pd_column=pd_column, grade_column=grade_column)


def _parquet_columns(path) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.read_schema(path).names)


def _column(frame, name: str) -> np.ndarray:
    """A float copy of one column of a DataFrame or mapping (NaN for missing values)."""
    values = frame[name]
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=float, na_value=np.nan, copy=True)
    return np.array(values, dtype=float)


def _grade_scale(grades: np.ndarray, policy: PolicyParams) -> np.ndarray:
    """The limit multiplier of each grade; 1 everywhere when the policy gives none."""
    if not policy.grade_limit_scale:
        return np.ones(grades.shape, dtype=float)
    top = max(int(grades.max(initial=0)), *policy.grade_limit_scale) + 1
    lookup = np.zeros(top, dtype=float)  # grades without a multiplier are declined anyway
    for grade, multiplier in policy.grade_limit_scale.items():
        lookup[grade] = multiplier
    return lookup[np.clip(grades, 0, top - 1)]


def _every_grade_scale(policy: PolicyParams, worst_grade: int) -> dict[int, float]:
    """A multiplier for every grade 1..worst_grade, carrying the last given one forward."""
    scale, current = {}, 1.0
    for grade in range(1, worst_grade + 1):
        current = policy.grade_limit_scale.get(grade, current)
        scale[grade] = current
    return scale
