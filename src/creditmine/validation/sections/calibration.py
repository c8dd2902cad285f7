"""Calibration: binomial and Jeffreys tests per grade and for the portfolio, Hosmer-Lemeshow, Brier,
and the calibration curve of the primary model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmine.artifacts import LABELLED_SPLITS, SPLIT_OOT, SPLIT_TRAIN
from creditmine.validation import backtests
from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult, too_few_defaults

__all__ = ["calibration"]


def calibration(inputs: ValidationInputs) -> SectionResult:
    """Tests calibration_pvalue, jeffreys_pvalue, hosmer_lemeshow_pvalue, grades_underestimated_share."""
    out = SectionResult()
    params = inputs.params
    grade_tables, hl_rows, curves = [], [], {}
    for model in inputs.models:
        for split in LABELLED_SPLITS:
            sub = inputs.labelled(split)
            if len(sub) == 0:
                continue
            y, p, g = sub["default_12m"], sub[f"pd_{model}"], sub[f"grade_{model}"]
            by_grade = backtests.calibration_by_grade(y, p, g, inputs.n_grades)
            grade_tables.append(by_grade.reset_index().assign(model=model, split=split))
            groups = g if params.hosmer_lemeshow_groups is None else _quantile_groups(p, params.hosmer_lemeshow_groups)
            hl = backtests.hosmer_lemeshow(y, p, groups, dof_reduction=2 if split == SPLIT_TRAIN else 0)
            brier = backtests.brier_score(y, p)
            hl_rows.append({"model": model, "split": split, "hosmer_lemeshow": hl.statistic, "dof": hl.dof,
                            "hosmer_lemeshow_p": hl.p_value, "brier": brier,
                            "mean_pd": float(p.mean()), "observed_rate": float(y.mean())})
            portfolio = by_grade.loc["portfolio"]
            for name, value in (("brier", brier), ("hosmer_lemeshow_p", hl.p_value),
                                ("binomial_p", portfolio["binomial_p"]), ("jeffreys_p", portfolio["jeffreys_p"]),
                                ("mean_pd", portfolio["mean_pd"]), ("observed_rate", portfolio["observed_rate"])):
                out.metrics[f"{model}.{split}.{name}"] = float(value)
            if model == inputs.primary:
                curves[split] = backtests.calibration_curve(y, p, params.calibration_bins)
            if model == inputs.primary and split == SPLIT_OOT:
                _primary_out_of_time(inputs, out, by_grade, hl.p_value)
                out.figures["calibration"] = backtests.plot_calibration(
                    dict(curves), by_grade, f"Calibration: {inputs.primary}")
    out.tables["calibration_by_grade"] = pd.concat(grade_tables, ignore_index=True) if grade_tables else pd.DataFrame()
    out.tables["calibration_summary"] = pd.DataFrame(hl_rows)
    return out


def _primary_out_of_time(inputs: ValidationInputs, out: SectionResult, by_grade: pd.DataFrame,
                         hosmer_lemeshow_p: float) -> None:
    params = inputs.params
    portfolio = by_grade.loc["portfolio"]
    out.value("calibration_pvalue", float(portfolio["binomial_p"]),
              f"portfolio binomial test, mean PD {portfolio['mean_pd']:.4f} vs observed {portfolio['observed_rate']:.4f}")
    out.value("jeffreys_pvalue", float(portfolio["jeffreys_p"]))
    out.value("hosmer_lemeshow_pvalue", hosmer_lemeshow_p)
    grades = by_grade.drop(index="portfolio")
    judged = grades[grades["n"] >= params.min_segment_size]
    under = (judged["jeffreys_p"] < params.thresholds["jeffreys_pvalue"].green).mean() if len(judged) else None
    out.value("grades_underestimated_share", None if under is None else float(under),
              f"share of {len(judged)} grades with >= {params.min_segment_size} loans whose Jeffreys test says "
              "the PD is underestimated")
    reason = too_few_defaults(inputs, SPLIT_OOT)
    for test in ("calibration_pvalue", "jeffreys_pvalue", "hosmer_lemeshow_pvalue", "grades_underestimated_share") \
            if reason else ():
        out.skip(test, reason)


def _quantile_groups(p, groups: int) -> np.ndarray:
    ranks = pd.Series(np.asarray(p, float)).rank(method="first").to_numpy()
    return np.minimum((ranks - 1) * groups // len(ranks), groups - 1).astype(int)
