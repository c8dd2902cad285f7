"""Stage 04's through-the-door section (bookings, swap set, the truth on a synthetic world) and the
model card's central tendency with its margin of conservatism, through the real stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from creditmine.data import io
from creditmine.models.stage import run as train_product
from creditmine.validation.sections.through_the_door import expected_auc
from creditmine.validation.stage import run as validate
from factories import QUICK_LOAN_PARAMS, REPO, project, synthetic_applications, write_features

PARAMS = QUICK_LOAN_PARAMS + """\
  calibration: {margin_of_conservatism: {category_a: 0.05, category_b: 0.02}}
validation: {bootstrap: 20, min_segment_size: 50}
"""


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """Applications whose true PD is known; the past policy booked fewer of the riskier ones."""
    root = tmp_path_factory.mktemp("ttd")
    product = (REPO / "params" / "products" / "quick_loan.yaml").read_text(encoding="utf-8")
    cfg = project(root, PARAMS, {"quick_loan": product})
    apps = synthetic_applications(3000, 8)
    rng = np.random.default_rng(9)
    logit = (-3.2 + 0.6 * apps["tax_late_filings_12m"].fillna(1.5) + 8 * apps["invoice_red_letter_share_12m"]
             - 0.08 * apps["enterprise_age_years"])
    true_pd = 1 / (1 + np.exp(-logit.to_numpy()))
    booked = rng.random(len(apps)) < 1 / (1 + np.exp(-(2.2 - 0.9 * (logit.to_numpy() + 3.2))))
    apps["default_12m"] = np.where(booked, (rng.random(len(apps)) < true_pd).astype(float), np.nan)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    raw = apps[["application_id", "enterprise_id", "applied_at", "product", "requested_amount_cny", "term_months",
                "default_12m"]].assign(award_id=None, booked=booked)
    io.write_table(cfg.data_dir, "applications", pa.Table.from_pandas(raw, preserve_index=False))
    truth = pd.DataFrame({"application_id": apps["application_id"], "true_pd": true_pd})
    io.write_table(cfg.data_dir, io.GROUND_TRUTH, pa.Table.from_pandas(truth, preserve_index=False))
    write_features(cfg, apps)
    train_product(cfg, "quick_loan", progress=False)
    return validate(cfg, "quick_loan", progress=False), booked, true_pd


def test_truth_figures_cover_every_application_and_the_oracle_leads(validated):
    result, booked, true_pd = validated
    truth = result.table("ttd_truth")
    everyone = truth[truth["population"] == "all applications"].set_index("model")
    assert set(everyone.index) == {"oracle", "gbm", "scorecard"}
    assert (everyone["applications"] == len(booked)).all()
    assert everyone.loc["oracle", "auc_against_true_pd"] == pytest.approx(expected_auc(true_pd, true_pd))
    assert everyone.loc["oracle", "auc_against_true_pd"] > everyone.loc["gbm", "auc_against_true_pd"] > 0.6
    assert everyone.loc["oracle", "mean_pd_minus_true"] == pytest.approx(0.0, abs=1e-12)
    assert result.metrics["ttd.gbm.mean_pd_minus_true"] == pytest.approx(
        everyone.loc["gbm", "mean_pd"] - true_pd.mean())
    assert {"booked", "declined", "from oot_start"} <= set(truth["population"])


def test_booking_rates_and_swap_set_add_up(validated):
    result, booked, _ = validated
    grades = result.table("ttd_booking_by_grade")
    assert grades["applications"].sum() == len(booked) and grades["booked"].sum() == booked.sum()
    assert grades["share_of_declined"].sum() == pytest.approx(1.0)
    # the past policy declined the risky: the worst grade is booked less often than the best
    assert grades["booking_rate"].iloc[-1] < grades["booking_rate"].iloc[0]
    swap = result.table("ttd_swap_set")
    assert swap["applications"].sum() == len(booked)
    swap_in = swap[(swap["past_policy"] == "declined") & (swap["model"] == "approve")]["applications"].sum()
    assert result.metrics["ttd.swap_in"] == swap_in
    assert result.plots["ttd_grades"].is_file()


def test_expected_auc_is_the_auc_of_outcomes_drawn_from_the_true_pd():
    rng = np.random.default_rng(1)
    p = rng.beta(1, 12, 20000)
    score = np.log(p) + rng.normal(0, 0.5, len(p))
    from sklearn.metrics import roc_auc_score

    draws = [roc_auc_score(rng.random(len(p)) < p, score) for _ in range(20)]
    assert expected_auc(p, score) == pytest.approx(np.mean(draws), abs=0.005)


def test_model_card_shows_the_margin_of_conservatism_component_by_component(validated):
    result, _, _ = validated
    card = result.card_markdown
    assert "## Calibration and margin of conservatism" in card
    assert "| MoC category A (data and methods) | +5.00% |" in card
    assert "| MoC category B (changes in standards or environment) | +2.00% |" in card
    assert "MoC category C (general estimation error) | +" in card and "final add-on (A + B + C)" in card
    assert "long-run average default rate" in card
    assert "reject inference is not applied" in card and "synthetic world" in card
