"""The portfolio view: concentration in grades, performance by segment, financial inclusion of
first-time borrowers, and the figures of stage 03's explanations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from creditmine.artifacts import LABELLED_SPLITS, SPLIT_OOT
from creditmine.validation import backtests, plots
from creditmine.validation import segments as seg
from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult

__all__ = ["concentration", "explanations", "inclusion", "segments"]


def concentration(inputs: ValidationInputs) -> SectionResult:
    """Tests grade_concentration_hhi and grade_max_share (out of time); shares per sample."""
    out = SectionResult()
    grade = f"grade_{inputs.primary}"
    rows = []
    for split in (*LABELLED_SPLITS, "all"):
        grades = inputs.frame[grade] if split == "all" else inputs.rows(split)[grade]
        if len(grades) == 0:
            continue
        shares = backtests.grade_concentration(grades, inputs.n_grades)
        rows.append(shares.reset_index().assign(split=split))
        if split == SPLIT_OOT:
            hhi = float((shares["share"] ** 2).sum())
            out.value("grade_concentration_hhi", hhi,
                      f"sum of squared grade shares out of time; {1 / inputs.n_grades:.3f} if even")
            out.value("grade_max_share", float(shares["share"].max()),
                      f"grade {int(shares['share'].idxmax())} on out-of-time")
            out.figures["grade_shares"] = plots.grade_shares(shares, inputs.approve_grades)
    out.tables["grade_shares"] = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return out


def segments(inputs: ValidationInputs) -> SectionResult:
    """Test segment_auc_min: the weakest judged segment's out-of-time AUC."""
    out = SectionResult()
    params = inputs.params
    sample = inputs.rows(SPLIT_OOT).copy()
    tables = []
    for column in params.segment_columns:
        source = column
        if column == "size":
            source = next((c for c in params.size_columns if c in sample.columns), None)
            if source is None:
                out.skipped["segment size"] = f"none of the size columns {', '.join(params.size_columns)}"
                continue
            sample["size"] = seg.size_bands(sample[source], params.size_bands).to_numpy()
            source = "size"
        elif column not in sample.columns:
            out.skipped[f"segment {column}"] = f"column '{column}' is not in the scores or features"
            continue
        table = seg.segment_table(
            sample, source, y="default_12m", pd_column=f"pd_{inputs.primary}", grade=f"grade_{inputs.primary}",
            approve_grades=inputs.approve_grades, min_size=params.min_segment_size,
            min_defaults=params.min_segment_defaults)
        tables.append(table)
        out.figures[f"segments_{column}"] = seg.plot_segments(table, f"Out-of-time by {column}")
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    out.tables["segments"] = table
    judged = table[table["judged"] & table["auc"].notna()] if len(table) else table
    if len(judged):
        worst = judged.loc[judged["auc"].idxmin()]
        small = int((~table["judged"]).sum())
        out.value("segment_auc_min", float(worst["auc"]),
                  f"{worst['by']} = {worst['segment']}; {small} segments too small to judge")
    else:
        out.skip("segment_auc_min", "no segment large enough to judge")
    return out


def inclusion(inputs: ValidationInputs) -> SectionResult:
    """Test first_time_approval_ratio: first-time borrowers' approval rate over the others'."""
    out = SectionResult()
    sample = inputs.rows(SPLIT_OOT)
    if "product" not in sample:
        out.skip("first_time_approval_ratio", "the scores have no product column")
        return out
    products = inputs.params.first_time_products
    first = sample["product"].isin(products).to_numpy()
    if not first.any() or first.all():
        out.skip("first_time_approval_ratio", "no first-time borrowers (products "
                 f"{', '.join(products)}) beside other applications out of time")
        return out
    found = seg.inclusion_analysis(sample, first, y="default_12m", pd_column=f"pd_{inputs.primary}",
                                   grade=f"grade_{inputs.primary}", approve_grades=inputs.approve_grades)
    out.tables["inclusion"] = pd.DataFrame([found]).T.rename(columns={0: "value"})
    out.value("first_time_approval_ratio", found["approval_ratio"],
              f"first-time {found['first_time_approval_rate']:.1%} vs others {found['others_approval_rate']:.1%}; "
              f"at the portfolio's bad rate {found['equal_bad_rate_approval_rate']:.1%} could be approved")
    for key, value in found.items():
        out.metrics[f"inclusion.{key}"] = value
    return out


def explanations(inputs: ValidationInputs) -> SectionResult:
    """No test: the numeric figures of explain.json, logged with the validation metrics."""
    out = SectionResult()
    if inputs.explain is None:
        out.skipped["explanations"] = "03_explain/explain.json not found"
        return out
    for key, value in _flatten(inputs.explain).items():
        out.metrics[f"explain.{key}"] = value
    return out


def _flatten(obj, prefix: str = "") -> dict[str, float]:
    out = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(obj, bool):
        out[prefix.rstrip(".")] = float(obj)
    elif isinstance(obj, (int, float, np.integer, np.floating)) and math.isfinite(float(obj)):
        out[prefix.rstrip(".")] = float(obj)
    return out

