"""The guards of stage 02 (leakage screen, high cardinality, minimum defaults) and their lights in stage 04."""

from __future__ import annotations

import numpy as np
import pytest

from creditmine.artifacts import FeatureSpec
from creditmine.features.catalog import synthetic_catalog
from creditmine.models.guards import single_feature_strength
from creditmine.models.stage import run as train_product
from creditmine.validation.stage import run as validate
from factories import QUICK_LOAN_PARAMS, REPO, project, synthetic_applications, write_features

PARAMS = QUICK_LOAN_PARAMS + """\
  guards: GUARDS
validation: {bootstrap: 20, min_segment_size: 50}
"""


def _spec(name: str, kind: str = "numeric") -> FeatureSpec:
    return FeatureSpec(name, "application", 0, "value", name, name, 0, name, kind, f"{name} {{value}}", f"{name} {{value}}")


def _project(root, guards: str = "{}", n: int = 3000, seed: int = 21):
    product = (REPO / "params" / "products" / "quick_loan.yaml").read_text(encoding="utf-8")
    cfg = project(root, PARAMS.replace("GUARDS", guards), {"quick_loan": product})
    apps = synthetic_applications(n, seed)
    rng = np.random.default_rng(seed)
    # recorded after the outcome: a collections flag that is the default itself, now and then mistyped
    apps["collections_flag"] = np.where(rng.random(n) < 0.01, 1 - apps["default_12m"], apps["default_12m"])
    apps["customer_ref"] = [f"C{i:06d}" for i in rng.permutation(n)]                 # an identifier
    apps["branch"] = rng.choice([f"b{i:02d}" for i in range(80)], n)               # many values, not unique
    catalog = [s for s in synthetic_catalog() if s.name in apps.columns]
    catalog += [_spec("collections_flag"), _spec("customer_ref", "categorical"), _spec("branch", "categorical")]
    write_features(cfg, apps, catalog)
    return cfg


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    cfg = _project(tmp_path_factory.mktemp("guards"))
    return train_product(cfg, "quick_loan", progress=False), validate(cfg, "quick_loan", progress=False)


def test_leakage_is_excluded_and_flagged(screened):
    trained, validated = screened
    reasons = trained.meta["selection_reasons"]
    assert reasons["collections_flag"].startswith("dropped: leakage screen")
    assert "collections_flag" not in trained.meta["features"]
    flagged = trained.meta["guards"]["leakage"]
    assert [r["feature"] for r in flagged] == ["collections_flag"] and flagged[0]["auc"] > 0.97
    light = {l.test: l for l in validated.lights}["leakage_screen"]
    assert light.value == 1 and light.light == "amber" and "collections_flag" in light.note


def test_identifiers_are_excluded_and_many_valued_categories_grouped(screened):
    trained, validated = screened
    actions = {r["feature"]: r["action"] for r in trained.meta["guards"]["cardinality"]}
    assert actions == {"customer_ref": "excluded: an identifier", "branch": "grouped"}
    assert "customer_ref" not in trained.meta["features"] and "branch" in trained.meta["features"]
    gbm = trained.models["gbm"]
    assert len(gbm.grouped_["branch"]) == 49                       # max_categories 50: 49 kept, the rest one group
    light = {l.test: l for l in validated.lights}["high_cardinality"]
    assert light.value == 2 and light.light == "amber"


def test_defaults_per_sample_are_a_light(screened):
    _, validated = screened
    light = {l.test: l for l in validated.lights}["sample_defaults_min"]
    assert light.value == min(validated.metrics[f"defaults.{s}"] for s in ("train", "holdout", "oot"))
    assert "fewest in" in light.note


def test_an_allowed_feature_is_kept_and_still_flagged(tmp_path):
    cfg = _project(tmp_path, "{leakage: {allow: [collections_flag]}, cardinality: {action: exclude}}")
    trained = train_product(cfg, "quick_loan", progress=False)
    assert "collections_flag" in trained.meta["features"]
    assert trained.meta["guards"]["leakage"][0]["action"] == "kept: allowed by name"
    assert "branch" not in trained.meta["features"]


def test_training_on_too_few_defaults_is_refused(tmp_path):
    cfg = _project(tmp_path, "{min_train_defaults: 500}")
    with pytest.raises(ValueError, match=r"defaults among .* fewer than models.guards.min_train_defaults = 500"):
        train_product(cfg, "quick_loan", progress=False)


def test_a_test_on_a_sample_below_its_minimum_defaults_is_not_assessed(tmp_path):
    cfg = _project(tmp_path)
    train_product(cfg, "quick_loan", progress=False)
    from dataclasses import replace

    params = cfg.params.model_copy(update={"validation": cfg.params.validation.model_copy(
        update={"min_sample_defaults": 10_000})})
    result = validate(replace(cfg, params=params), "quick_loan", progress=False)
    lights = {l.test: l for l in result.lights}
    for test in ("auc_oot", "calibration_pvalue", "auc_holdout", "hosmer_lemeshow_pvalue"):
        assert lights[test].light == "n/a" and lights[test].note.startswith("not assessed"), test
    assert result.verdict == "amber"            # a gate nobody could check is not passed


def test_single_feature_strength_reads_both_directions_and_categories():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)
    import pandas as pd

    auc, iv = single_feature_strength(pd.Series(-y + rng.normal(0, 0.01, 5000)), y)
    assert auc > 0.99 and iv > 6.0
    auc, iv = single_feature_strength(pd.Series(rng.choice(list("abc"), 5000)), y)
    assert auc < 0.6 and 0 <= iv < 0.05
