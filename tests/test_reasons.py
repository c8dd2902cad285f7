"""Reason codes: grouping before ranking, top-k of what pushes the PD up, statements in English and
Chinese with the applicant's value, the scorecard's best-points reference, the wide form."""

import numpy as np
import pandas as pd
import pytest

from creditmine.explain.reasons import REASON_COLUMNS, ReasonCoder, to_wide, top_reason_agreement
from creditmine.features.catalog import FeatureSpec
from creditmine.models.gbm import GbmModel
from creditmine.models.scorecard import ScorecardModel

CATALOG = [
    FeatureSpec("sales_growth_3m", "tax", 6, "ratio", "Sales growth 3m", "近3个月销售增长", -1, "sales_growth", "numeric",
                "Taxable sales changed by {value:+.0%} over the last 3 months", "近3个月应税销售额变化{value:+.0%}"),
    FeatureSpec("sales_growth_6m", "tax", 12, "ratio", "Sales growth 6m", "近6个月销售增长", -1, "sales_growth", "numeric",
                "Taxable sales changed by {value:+.0%} over the last 6 months", "近6个月应税销售额变化{value:+.0%}"),
    FeatureSpec("sales_growth_12m", "tax", 24, "ratio", "Sales growth 12m", "近12个月销售增长", -1, "sales_growth", "numeric",
                "Taxable sales changed by {value:+.0%} over the last 12 months", "近12个月应税销售额变化{value:+.0%}"),
    FeatureSpec("late_filings_12m", "tax", 12, "count", "Late filings", "逾期申报次数", 1, "tax_compliance", "numeric",
                "{value:.0f} late VAT filings in the last 12 months", "近12个月逾期申报{value:.0f}次"),
    FeatureSpec("vat_unpaid_12m", "tax", 12, "CNY", "Unpaid VAT", "未缴增值税", 1, "tax_payment", "numeric",
                "CNY {value:,.0f} of VAT unpaid", "未缴增值税{value:,.0f}元"),
    FeatureSpec("industry_section", "enterprise", 0, "category", "Industry", "行业门类", 0, "industry", "categorical",
                "Industry section {value} carries a higher risk", "所属行业门类{value}风险较高"),
    FeatureSpec("electricity_kwh_3m", "electricity", 3, "kWh", "Electricity use", "用电量", -1, "electricity", "numeric",
                "Low electricity use ({value:,.0f} kWh)", "用电量偏低（{value:,.0f}千瓦时）"),
]
NAMES = [s.name for s in CATALOG]


def _frame(n, seed=0):
    rng = np.random.default_rng(seed)
    growth = rng.normal(0, 0.3, n)
    frame = pd.DataFrame({
        "sales_growth_3m": growth + rng.normal(0, 0.05, n), "sales_growth_6m": growth + rng.normal(0, 0.05, n),
        "sales_growth_12m": growth + rng.normal(0, 0.05, n), "late_filings_12m": rng.poisson(1.0, n).astype(float),
        "vat_unpaid_12m": rng.exponential(20_000, n), "industry_section": rng.choice(list("CFIH"), n),
        "electricity_kwh_3m": rng.lognormal(9, 1, n),
    })
    frame.loc[rng.random(n) < 0.1, "electricity_kwh_3m"] = np.nan
    logit = -2.5 - 2.5 * growth + 0.5 * frame["late_filings_12m"] + frame["industry_section"].map(
        {"C": 0.0, "F": 0.4, "I": -0.3, "H": 0.8}).to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


def test_groups_are_summed_before_ranking_so_one_signal_takes_one_place():
    frame = pd.DataFrame({n: [0.0] for n in NAMES})
    frame.loc[0, ["sales_growth_3m", "sales_growth_6m", "sales_growth_12m"]] = [-0.35, -0.30, -0.20]
    frame.loc[0, "late_filings_12m"] = 3.0
    frame["industry_section"] = ["H"]
    coder = ReasonCoder(CATALOG, top_k=4).fit(features=NAMES)
    # growth features each 0.3 (group 0.9); late filings 0.5; industry 0.2; unpaid VAT pushes down
    contributions = np.array([[0.3, 0.3, 0.3, 0.5, -0.4, 0.2, 0.0]])
    table = coder.table(contributions, frame, ["A1"])
    assert list(table.columns) == list(REASON_COLUMNS)
    assert table["reason_group"].tolist() == ["sales_growth", "tax_compliance", "industry"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["contribution"].tolist() == pytest.approx([0.9, 0.5, 0.2])
    assert table.loc[0, "statement_en"] == "Taxable sales changed by -35% over the last 3 months"
    assert table.loc[0, "statement_zh"] == "近3个月应税销售额变化-35%"
    assert table.loc[1, "statement_zh"] == "近12个月逾期申报3次"
    assert table.loc[2, "statement_en"] == "Industry section H carries a higher risk"


def test_top_k_missing_values_and_wide_form():
    frame = pd.DataFrame({n: [1.0, 2.0] for n in NAMES})
    frame["industry_section"] = ["C", None]
    frame.loc[1, "electricity_kwh_3m"] = np.nan
    coder = ReasonCoder(CATALOG, top_k=2).fit(features=NAMES)
    contributions = np.array([[0.1, 0.0, 0.0, 0.2, 0.3, 0.4, 0.0],
                              [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7]])
    table = coder.table(contributions, frame, ["A1", "A2"])
    assert table.groupby("application_id").size().to_dict() == {"A1": 2, "A2": 1}
    assert table.loc[table["application_id"] == "A2", "statement_en"].item() == "No record: Electricity use"
    assert table.loc[table["application_id"] == "A2", "statement_zh"].item() == "无记录：用电量"
    wide = to_wide(table, top_k=2)
    assert wide.loc[wide["application_id"] == "A1", "reason_1_en"].item() == "Industry section C carries a higher risk"
    assert pd.isna(wide.loc[wide["application_id"] == "A2", "reason_2_en"].item())


def test_gbm_reasons_follow_its_shap_values():
    frame, y = _frame(2000)
    model = GbmModel(categorical_features=["industry_section"], max_iter=30, random_state=0).fit(frame, y)
    coder = ReasonCoder(CATALOG, top_k=4).fit(model)
    rows = frame.iloc[:300]
    table = coder.explain(rows, ids=[f"A{i}" for i in range(300)])
    assert table.groupby("application_id").size().max() <= 4
    assert (table["contribution"] > 0).all()
    assert table.groupby("application_id")["reason_group"].apply(lambda g: g.is_unique).all()
    # the rank-1 reason is the group with the largest summed SHAP value
    values = coder.contributions(rows)
    groups = pd.DataFrame(values, columns=coder.features_).T.groupby(
        [s.reason_group for s in coder.specs_]).sum().T
    first = table[table["rank"] == 1].set_index("application_id")["reason_group"]
    expected = pd.Series(groups.idxmax(axis=1).to_numpy(), index=[f"A{i}" for i in range(300)])
    assert (first == expected[first.index]).all()
    assert table["statement_zh"].str.len().gt(0).all() and table["statement_en"].str.len().gt(0).all()


def test_scorecard_reasons_count_points_below_the_best_bin():
    frame, y = _frame(3000, 1)
    model = ScorecardModel(categorical_features=["industry_section"], max_features=5, random_state=0).fit(frame, y)
    coder = ReasonCoder(CATALOG, top_k=4).fit(model)
    contributions = coder.contributions(frame.iloc[:500])
    assert (contributions >= 0).all()
    # in log-odds, the points lost against the best bin times ln 2 / pdo (before rounding to whole points)
    points = model.feature_points(frame.iloc[:500])[coder.features_]
    best = model.scorecard_table_.query("count > 0").groupby("feature")["points"].max()[coder.features_]
    lost = (best.to_numpy() - points.to_numpy()) * np.log(2) / model.points_scale.pdo
    assert np.abs(contributions - lost).max() < 1.0 * np.log(2) / model.points_scale.pdo   # within one point of rounding
    at_best = contributions.sum(axis=1) == 0
    table = coder.explain(frame.iloc[:500])
    assert not set(frame.index[:500][at_best]) & set(table["application_id"])


def test_top_reason_agreement_share():
    table = pd.DataFrame({
        "application_id": ["a", "a", "b", "b", "c"], "model": ["gbm", "scorecard"] * 2 + ["gbm"],
        "rank": [1, 1, 1, 1, 1], "reason_group": ["x", "x", "x", "y", "z"],
    })
    assert top_reason_agreement(table, "gbm", "scorecard") == {"applications": 2, "agree": 1, "share": 0.5}


def test_formatting_many_rows_is_fast():
    import time
    n = 50_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.normal(size=n) for name in NAMES})
    frame["industry_section"] = rng.choice(list("CFIH"), n)
    coder = ReasonCoder(CATALOG, top_k=4).fit(features=NAMES)
    started = time.process_time()
    table = coder.table(rng.normal(size=(n, len(NAMES))), frame, np.arange(n))
    assert time.process_time() - started < 15   # 100,000 rows must take under 30 s
    assert len(table) > n



def test_an_applications_few_statements_read_as_the_vectorised_ones(monkeypatch):
    from creditmine.explain import reasons

    coder = ReasonCoder(CATALOG, top_k=4).fit(features=NAMES + ["unlisted_ratio"])
    column = {name: i for i, name in enumerate(coder.features_)}
    pairs = [("unlisted_ratio", 1), ("unlisted_ratio", 1.0), ("unlisted_ratio", np.nan),  # 1.0 reads as 1
             ("sales_growth_3m", -0.35), ("sales_growth_3m", np.float64(-0.35)), ("industry_section", "H"),
             ("industry_section", None), ("late_filings_12m", 3.0), ("vat_unpaid_12m", "n/a")]
    feature = np.array([column[name] for name, _ in pairs])
    values = np.empty(len(pairs), dtype=object)
    values[:] = [value for _, value in pairs]
    one_at_a_time = coder.statements(feature, values)
    monkeypatch.setattr(reasons, "FEW_STATEMENTS", 0)
    vectorised = coder.statements(feature, values)
    assert [list(texts) for texts in one_at_a_time] == [list(texts) for texts in vectorised]
    assert list(one_at_a_time[0][:3]) == ["unlisted_ratio = 1", "unlisted_ratio = 1", "No record: unlisted_ratio"]
