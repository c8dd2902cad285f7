"""Reject inference in stage 02 (each method runs and changes what the models learn), the booking
model's weights, and the rule that no training code reads the synthetic world's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from creditmine import artifacts
from creditmine.data import io
from creditmine.models.reject_inference import booking_probability
from creditmine.models.stage import run as train_product
from factories import QUICK_LOAN_PARAMS, REPO, project, synthetic_applications, write_features

PARAMS = QUICK_LOAN_PARAMS + """\
  reject_inference: {method: METHOD}
"""


def _world(root: Path, method: str):
    """A quick-loan project whose raw applications table says which applications were booked: the
    past policy declined more of the riskier ones, whose outcomes are unknown."""
    product = (REPO / "params" / "products" / "quick_loan.yaml").read_text(encoding="utf-8")
    cfg = project(root, PARAMS.replace("METHOD", method), {"quick_loan": product})
    apps = synthetic_applications(3000, 21)
    rng = np.random.default_rng(4)
    risk = 0.6 * apps["tax_late_filings_12m"].fillna(2) + 8 * apps["invoice_red_letter_share_12m"]
    booked = rng.random(len(apps)) < 1 / (1 + np.exp(-(2.0 - 1.2 * risk)))
    apps.loc[~booked, "default_12m"] = np.nan
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    raw = apps[["application_id", "enterprise_id", "applied_at", "product", "requested_amount_cny", "term_months",
                "default_12m"]].assign(award_id=None, booked=booked)
    io.write_table(cfg.data_dir, "applications", pa.Table.from_pandas(raw, preserve_index=False))
    write_features(cfg, apps)
    return cfg, booked


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = {}
    for method in ("none", "reweighting", "parcelling", "fuzzy_augmentation"):
        cfg, _ = _world(tmp_path_factory.mktemp(method), method)
        out[method] = (train_product(cfg, "quick_loan", progress=False), cfg)
    return out


@pytest.mark.parametrize("method", ["reweighting", "parcelling", "fuzzy_augmentation"])
def test_each_method_runs_and_changes_the_models(trained, method):
    result, _ = trained[method]
    baseline, _ = trained["none"]
    for model in ("scorecard", "gbm"):
        summary = result.meta["reject_inference"][model]
        assert summary["method"] == method
        assert summary["rejects"] > 200 and summary["booked"] > 1000
        assert not np.allclose(result.scores[f"pd_{model}"], baseline.scores[f"pd_{model}"])
    assert result.metrics["reject_inference"] == result.meta["reject_inference"]
    if method == "parcelling":
        assert summary["inferred_bad_rate"] > summary["booked_bad_rate"]      # factor 1.5 on riskier bands
    if method == "reweighting":
        assert 1.0 < summary["weight_max"] <= 10.0 / 0.5


def test_no_reject_inference_keeps_the_booked_only_fit(trained):
    result, cfg = trained["none"]
    assert result.meta["reject_inference"]["gbm"] == {"method": "none"}
    written = artifacts.read_models_meta(artifacts.layout(cfg, "quick_loan"))
    assert written["central_tendency"]["gbm"]["target"] == "long_run"
    assert written["central_tendency"]["gbm"]["anchor_applications"] > 0


def test_reject_inference_without_a_booked_flag_is_refused(tmp_path):
    product = (REPO / "params" / "products" / "quick_loan.yaml").read_text(encoding="utf-8")
    cfg = project(tmp_path, PARAMS.replace("METHOD", "parcelling"), {"quick_loan": product})
    write_features(cfg, synthetic_applications(2000, 5))     # no raw applications table: no booked flag
    with pytest.raises(ValueError, match="needs the booked flag"):
        train_product(cfg, "quick_loan", progress=False)


def test_booking_probability_is_out_of_fold_and_follows_the_policy():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"risk": rng.normal(size=4000), "region": rng.choice(["n", "s", None], 4000)})
    booked = rng.random(4000) < 1 / (1 + np.exp(-(1.0 - 1.5 * X["risk"])))
    p = booking_probability(X, booked.to_numpy(), folds=5, seed=1)
    assert p.shape == (4000,) and (p > 0).all() and (p <= 1).all()
    assert np.corrcoef(p, -X["risk"])[0, 1] > 0.8
    assert np.array_equal(p, booking_probability(X, booked.to_numpy(), folds=5, seed=1))


def test_training_code_never_reads_the_ground_truth():
    """The synthetic world's true PD is for validation and benchmarks: no model or feature code names it."""
    for folder in ("models", "features"):
        for path in (REPO / "src" / "creditmine" / folder).rglob("*.py"):
            assert "ground_truth" not in path.read_text(encoding="utf-8"), path
