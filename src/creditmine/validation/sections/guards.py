"""The guards of stages 01-02 as lights: the leakage screen, the high-cardinality guard and the
fewest defaults of a sample (train, holdout, out-of-time)."""

from __future__ import annotations

import pandas as pd

from creditmine.artifacts import LABELLED_SPLITS
from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult

__all__ = ["guards"]


def guards(inputs: ValidationInputs) -> SectionResult:
    """Tests leakage_screen, high_cardinality and sample_defaults_min; the table `guards`."""
    out = SectionResult()
    found = inputs.training.get("guards")
    rows = []
    if found is None:
        for test in ("leakage_screen", "high_cardinality"):
            out.skip(test, "stage 02 wrote no guard report (models.json from an earlier version)")
    else:
        leakage, cardinality = found.get("leakage", []), found.get("cardinality", [])
        out.value("leakage_screen", float(len(leakage)), "; ".join(
            f"{r['feature']} (AUC {r['auc']:.3f}, IV {r['iv']:.3f}): {r['action']}" for r in leakage)
            or "no feature alone separates defaults suspiciously well")
        out.value("high_cardinality", float(len(cardinality)), "; ".join(
            f"{r['feature']} ({r['categories']} categories): {r['action']}" for r in cardinality)
            or "no categorical feature has too many values")
        rows += [{"guard": "leakage screen", **r} for r in leakage]
        rows += [{"guard": "high cardinality", **r} for r in cardinality]
    counts = {split: int(inputs.labelled(split)["default_12m"].sum()) for split in LABELLED_SPLITS
              if len(inputs.labelled(split))}
    if counts:
        fewest = min(counts, key=counts.get)
        out.value("sample_defaults_min", float(counts[fewest]),
                  ", ".join(f"{s} {n}" for s, n in counts.items()) + f" defaults; fewest in {fewest}")
        for split, n in counts.items():
            out.metrics[f"defaults.{split}"] = float(n)
            rows.append({"guard": "defaults per sample", "feature": split, "categories": None, "action": f"{n} defaults"})
    out.tables["guards"] = pd.DataFrame(rows)
    return out
