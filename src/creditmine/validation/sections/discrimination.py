"""Discrimination: AUC, Gini and KS with bootstrap intervals per model and sample, the AUC drop, and
DeLong's test of the primary model against the challenger."""

from __future__ import annotations

import pandas as pd

from creditmine.artifacts import LABELLED_SPLITS, SPLIT_HOLDOUT, SPLIT_OOT
from creditmine.validation import metrics
from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult, too_few_defaults

__all__ = ["discrimination"]

_TABLE_METRICS = ("auc", "auc_low", "auc_high", "gini", "gini_low", "gini_high", "ks", "ks_low", "ks_high",
                  "auc_se", "n", "defaults")


def discrimination(inputs: ValidationInputs) -> SectionResult:
    """Tests auc_oot, auc_holdout, ks_oot, auc_drop and challenger_auc_gap."""
    out = SectionResult()
    params = inputs.params
    rows = []
    for model in inputs.models:
        curves = {}
        for split in LABELLED_SPLITS:
            y, score = inputs.outcomes(split, f"pd_{model}")
            if len(y) == 0 or y.min() == y.max():
                out.skipped[f"discrimination {model} {split}"] = "no labelled loans of both outcomes"
                continue
            found = metrics.discrimination(y, score)
            ci = metrics.bootstrap_ci(y, score, params.bootstrap, params.confidence, inputs.seed)
            rows.append({"model": model, "role": inputs.role(model), "split": split, **found,
                         **{f"{k}_low": v[0] for k, v in ci.items()},
                         **{f"{k}_high": v[1] for k, v in ci.items()}})
            curves[split] = (y, score)
        if curves:
            out.figures[f"roc_{model}"] = metrics.plot_roc(curves, f"ROC curve: {model}")
    table = pd.DataFrame(rows)
    out.tables["discrimination"] = table
    for row in rows:
        for column in _TABLE_METRICS:
            out.metrics[f"{row['model']}.{row['split']}.{column}"] = row[column]

    primary = {r["split"]: r for r in rows if r["model"] == inputs.primary}
    out.metrics["development_auc"] = inputs.development_auc
    oot_auc = primary.get(SPLIT_OOT, {}).get("auc")
    out.value("auc_oot", oot_auc)
    out.value("auc_holdout", primary.get(SPLIT_HOLDOUT, {}).get("auc"))
    out.value("ks_oot", primary.get(SPLIT_OOT, {}).get("ks"))
    _auc_drop(inputs, out, primary, oot_auc)
    for split, tests in ((SPLIT_OOT, ("auc_oot", "ks_oot", "auc_drop")), (SPLIT_HOLDOUT, ("auc_holdout",))):
        reason = too_few_defaults(inputs, split)
        for test in tests if reason else ():
            out.skip(test, reason)
    y, score = inputs.outcomes(SPLIT_OOT, f"pd_{inputs.primary}")
    if len(y) and y.min() != y.max():
        out.figures["ks_oot"] = metrics.plot_ks(y, score, f"KS on out-of-time: {inputs.primary}")
    if inputs.challenger != inputs.primary:
        out.tables["delong"] = _delong(inputs, out)
    return out


def _auc_drop(inputs: ValidationInputs, out: SectionResult, primary: dict, oot_auc: float | None) -> None:
    dev_split, dev_auc = inputs.development_split, inputs.development_auc
    drop = dev_auc - oot_auc if oot_auc is not None else None
    out.metrics["auc_drop"] = drop if drop is not None else float("nan")
    dev_defaults = primary.get(dev_split, {}).get("defaults", 0)
    minimum = inputs.params.min_segment_defaults
    if drop is not None and dev_defaults < minimum:
        # an AUC on a handful of defaults is noise; a drop measured from it would judge the noise
        out.skip("auc_drop", f"{dev_split} has {dev_defaults} defaults, fewer than "
                             f"validation.min_segment_defaults = {minimum}; too few to judge")
    else:
        out.value("auc_drop", drop, f"{dev_split} AUC {dev_auc:.3f} minus out-of-time AUC")


def _delong(inputs: ValidationInputs, out: SectionResult) -> pd.DataFrame:
    primary, challenger = inputs.primary, inputs.challenger
    tests = []
    for split in (SPLIT_HOLDOUT, SPLIT_OOT):
        sub = inputs.labelled(split)
        if len(sub) == 0 or sub["default_12m"].nunique() < 2:
            continue
        test = metrics.delong_test(sub["default_12m"], sub[f"pd_{primary}"], sub[f"pd_{challenger}"])
        tests.append({"split": split, "auc_primary": test.auc_a, "auc_challenger": test.auc_b,
                      "difference": test.difference, "se": test.se, "z": test.z, "p_value": test.p_value})
        out.metrics[f"delong.{split}.z"] = test.z
        out.metrics[f"delong.{split}.p_value"] = test.p_value
        if split == SPLIT_OOT:
            out.value("challenger_auc_gap", -test.difference, f"challenger minus primary AUC; DeLong p = {test.p_value:.3g}")
            if too_few_defaults(inputs, split):
                out.skip("challenger_auc_gap", too_few_defaults(inputs, split))
            out.figures["roc_oot_primary_vs_challenger"] = metrics.plot_roc(
                {f"primary {primary}": (sub["default_12m"], sub[f"pd_{primary}"]),
                 f"challenger {challenger}": (sub["default_12m"], sub[f"pd_{challenger}"])},
                "Out-of-time ROC: primary against challenger")
    return pd.DataFrame(tests)
