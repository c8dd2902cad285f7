"""The decision policy: grade -> decision, limits by product rule, caps, terms, the cut-off simulation."""

import numpy as np
import pandas as pd
import pytest

import creditmine.config as config
from creditmine.config import LimitRule, PolicyParams
from creditmine.decision.policy import (
    apply_policy, credit_limits, grade_decisions, limit_base_columns, simulate_policy, simulate_policy_for_run,
)


@pytest.fixture
def policy() -> PolicyParams:
    return PolicyParams(
        approve_grades=(1, 2, 3),
        refer_grades=(4,),
        limit_rules={
            "procurement": LimitRule(base="remaining_contract_value", share=0.7),
            "tax": LimitRule(base="taxable_sales_12m", share=0.2),
            "invoice": LimitRule(base="invoiced_sales_12m", share=0.15),
        },
        grade_limit_scale={1: 1.0, 2: 0.9, 3: 0.8, 4: 0.5},
        cap_cny=10_000_000,
        cap_specialized_cny=50_000_000,
        cap_at_requested=True,
        max_term_months=12,
        min_limit_cny=10_000,
        limit_step_cny=1_000,
    )


def _applications(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "product": ["tax"] * n,
        "requested_amount_cny": [1e12] * n,
        "term_months": [6] * n,
        "specialized_innovative": [False] * n,
        "remaining_contract_value": [np.nan] * n,
        "taxable_sales_12m": [np.nan] * n,
        "invoiced_sales_12m": [np.nan] * n,
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_grades_map_to_decisions(policy):
    assert list(grade_decisions(np.array([1, 3, 4, 5, 9]), policy)) == [
        "approve", "approve", "refer", "decline", "decline",
    ]


def test_limits_follow_the_product_rule_and_the_grade(policy):
    apps = _applications(
        product=["procurement", "tax", "invoice"],
        remaining_contract_value=[2_000_000.0, np.nan, np.nan],
        taxable_sales_12m=[np.nan, 3_000_000.0, np.nan],
        invoiced_sales_12m=[np.nan, np.nan, 4_000_000.0],
    )
    limits = credit_limits(apps, np.array([1, 2, 3]), policy)
    # 0.7 x 2.0m x 1.0; 0.2 x 3.0m x 0.9; 0.15 x 4.0m x 0.8
    np.testing.assert_allclose(limits, [1_400_000.0, 540_000.0, 480_000.0])


def test_caps_specialized_requested_and_rounding(policy):
    apps = _applications(
        product=["tax", "tax", "tax", "tax"],
        taxable_sales_12m=[1e9, 1e9, 1e9, 1_234_567.0],
        specialized_innovative=[False, True, True, False],
        requested_amount_cny=[1e12, 1e12, 3_000_000.0, 1e12],
    )
    limits = credit_limits(apps, np.array([1, 1, 1, 1]), policy)
    # 10m cap; 50m specialized cap; the requested 3m; 0.2 x 1,234,567 rounded down to 246,000
    np.testing.assert_allclose(limits, [10_000_000, 50_000_000, 3_000_000, 246_000])


def test_requested_amount_cap_can_be_switched_off(policy):
    apps = _applications(taxable_sales_12m=[5_000_000.0], requested_amount_cny=[100_000.0])
    loose = policy.model_copy(update={"cap_at_requested": False})
    assert credit_limits(apps, np.array([1]), loose)[0] == 1_000_000
    assert credit_limits(apps, np.array([1]), policy)[0] == 100_000


def test_apply_policy_declines_refers_and_caps_terms(policy):
    apps = _applications(
        product=["tax", "tax", "tax", "tax", "tax"],
        taxable_sales_12m=[5_000_000.0, 5_000_000.0, 5_000_000.0, np.nan, 20_000.0],
        term_months=[24, 6, 6, 6, 6],
    )
    out = apply_policy(apps, np.array([1, 4, 7, 2, 1]), policy)
    assert list(out.decision) == ["approve", "refer", "decline", "refer", "refer"]
    assert out.credit_limit_cny[0] == 1_000_000 and out.credit_limit_cny[2] == 0
    assert out.credit_limit_cny[1] == 500_000  # refer keeps an indicative limit for the reviewer
    assert list(out.term_months) == [12, 6, 0, 6, 6]
    assert out.note[0] == "" and "taxable_sales_12m" in out.note[3]
    assert "below the minimum" in out.note[4]  # 0.2 x 20,000 = 4,000 < 10,000


def test_unknown_application_product_uses_the_default_rule(policy):
    apps = _applications(product=["first_loan"], requested_amount_cny=[300_000.0])
    assert credit_limits(apps, np.array([1]), policy)[0] == 300_000
    assert limit_base_columns(policy) == (
        "requested_amount_cny", "remaining_contract_value", "taxable_sales_12m", "invoiced_sales_12m",
    )


def test_simulation_shows_what_each_cutoff_buys(policy):
    rng = np.random.default_rng(3)
    n = 2_000
    grades = rng.integers(1, 7, n)
    pds = 0.005 * 2.0 ** (grades - 1)
    apps = _applications(
        product=["tax"] * n, taxable_sales_12m=rng.uniform(1e5, 1e7, n).tolist(),
    ).assign(pd=pds, grade=grades, default_12m=(rng.uniform(size=n) < pds).astype(float))
    sim = simulate_policy(apps, policy)
    assert list(sim.cutoff_grade) == [1, 2, 3, 4, 5, 6]
    assert sim.approval_rate.is_monotonic_increasing and sim.approval_rate.iloc[-1] == 1.0
    assert sim.expected_bad_rate.is_monotonic_increasing
    assert sim.total_limit_cny.is_monotonic_increasing
    assert sim.loc[sim.current_policy, "cutoff_grade"].tolist() == [3]
    first = apps[apps.grade == 1]
    assert sim.expected_bad_rate.iloc[0] == pytest.approx(first.pd.mean())
    assert sim.total_limit_cny.iloc[0] == pytest.approx((0.2 * first.taxable_sales_12m).sum())
    # grades 5 and 6 carry grade 4's multiplier forward
    worst = apps[apps.grade == 6]
    added = sim.total_limit_cny.iloc[5] - sim.total_limit_cny.iloc[4]
    assert added == pytest.approx((0.2 * 0.5 * worst.taxable_sales_12m).sum())


def test_policy_params_refuse_inconsistent_grades():
    with pytest.raises(ValueError, match="both in approve_grades and refer_grades"):
        PolicyParams(approve_grades=(1, 2), refer_grades=(2, 3))
    with pytest.raises(ValueError, match="no multiplier for grades \\[3\\]"):
        PolicyParams(approve_grades=(1, 2), refer_grades=(3,), grade_limit_scale={1: 1.0, 2: 0.9})


@pytest.mark.parametrize("params_file", ["params/ci.yaml", "params/default.yaml", "params/germancredit.yaml"])
def test_shipped_product_policies_validate(params_file):
    root = config.project_root()
    cfg = config.load(root / params_file)
    for name in cfg.params.products:
        assert cfg.product(name).policy.cap_cny <= cfg.product(name).policy.cap_specialized_cny


def test_simulation_of_a_runs_scores(tmp_path):
    import shutil

    from creditmine import artifacts

    shutil.copytree(config.project_root() / "params", tmp_path / "params")
    cfg = config.load(tmp_path / "params" / "ci.yaml", run_name="sim")
    where = artifacts.layout(cfg, "quick_loan")
    artifacts.write_models_meta(where, {"primary": "gbm", "challenger": "scorecard", "features": [], "models": {}})
    rng = np.random.default_rng(4)
    n = 400
    ids = [f"A{i}" for i in range(n)]
    grades = rng.integers(1, 11, n)
    scores = pd.DataFrame({"application_id": ids, "split": np.where(np.arange(n) < 300, "train", "oot"),
                           "default_12m": rng.integers(0, 2, n).astype(float), "pd_gbm": 0.01 * grades,
                           "grade_gbm": grades, "pd_scorecard": 0.5, "grade_scorecard": 1})
    artifacts.write_scores(where, scores)
    artifacts.write_features(where, scores[["application_id", "split", "default_12m"]].assign(
        enterprise_id="E", product="tax", applied_at=pd.Timestamp("2023-01-01"), requested_amount_cny=1e6,
        term_months=12.0, specialized_innovative=0.0, taxable_sales_12m=2e6, invoiced_sales_12m=np.nan,
        electricity_bill_12m=np.nan, exports_12m=0.0))
    sim = simulate_policy_for_run(cfg, "quick_loan")
    assert sim["approved"].iloc[-1] == 100 and list(sim["cutoff_grade"]) == list(range(1, 11))
    oot_grades = grades[300:]
    assert sim.loc[4, "approved"] == (oot_grades <= 5).sum()
    assert sim.loc[sim.current_policy, "cutoff_grade"].item() == 5
    with pytest.raises(ValueError, match="no applications of split 'holdout'"):
        simulate_policy_for_run(cfg, "quick_loan", split="holdout")
