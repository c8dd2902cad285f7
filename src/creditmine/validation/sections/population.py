"""Stability of the population: PSI of the score (out of time and per month), CSI per feature, and
the share of applications without data from each source per month."""

from __future__ import annotations

import pandas as pd

from creditmine.artifacts import SPLIT_OOT, SPLIT_TRAIN
from creditmine.validation import plots
from creditmine.validation import stability as stats
from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult

__all__ = ["stability"]


def stability(inputs: ValidationInputs) -> SectionResult:
    """Tests psi_score, psi_score_month_max, csi_max and source_missing_jump."""
    out = SectionResult()
    score_column = f"score_{inputs.primary}" if f"score_{inputs.primary}" in inputs.frame else f"pd_{inputs.primary}"
    reference = inputs.rows(SPLIT_TRAIN)[score_column]
    current = inputs.rows(SPLIT_OOT)[score_column]
    if len(reference) and len(current):
        value = stats.psi(reference, current, bins=inputs.params.psi_bins)
        out.value("psi_score", value, f"{score_column}, train against out-of-time")
        out.metrics["psi_score"] = value
    _psi_by_month(inputs, out, reference, score_column)
    _csi(inputs, out, reference, current)
    _source_missing(inputs, out)
    return out


def _psi_by_month(inputs: ValidationInputs, out: SectionResult, reference: pd.Series, score_column: str) -> None:
    if not inputs.has_dates:
        out.skip("psi_score_month_max", "no application dates: PSI by month cannot be computed")
        out.skipped["psi_by_month"] = "no application dates"
        return
    params, start = inputs.params, inputs.monitoring_start()
    months = stats.psi_by_month(reference, inputs.frame[score_column], inputs.frame["applied_at"],
                                    bins=params.psi_bins, min_size=params.min_month_size)
    # development months are the reference itself: judge the months since out-of-time began
    months["judged"] &= months["month"] >= start
    out.tables["psi_by_month"] = months
    judged = months[months["judged"]]
    if len(judged):
        worst = judged.loc[judged["psi"].idxmax(), "month"]
        out.value("psi_score_month_max", float(judged["psi"].max()), f"worst month {worst:%Y-%m} of {len(judged)} judged")
    else:
        out.skip("psi_score_month_max", f"no month since {start:%Y-%m} has {params.min_month_size} applications "
                                        "(validation.min_month_size); months are shown, not judged")
    t = params.thresholds["psi_score_month_max"]
    out.figures["psi_by_month"] = stats.plot_psi_by_month(months, t.green, t.amber)


def _csi(inputs: ValidationInputs, out: SectionResult, reference: pd.Series, current: pd.Series) -> None:
    """CSI per feature of the primary model, train against out-of-time."""
    features = [f for f in (inputs.model_features or [c["name"] for c in inputs.catalog]) if f in inputs.frame]
    if not (features and len(reference) and len(current)):
        out.skip("csi_max", "no feature table from stage 01 with the model's features")
        return
    kinds = {c["name"]: c.get("kind", "numeric") for c in inputs.catalog}
    csi = stats.csi_table(inputs.rows(SPLIT_TRAIN)[features], inputs.rows(SPLIT_OOT)[features], kinds,
                              inputs.params.psi_bins)
    out.tables["csi"] = csi
    out.value("csi_max", float(csi["csi"].max()), f"most shifted feature: {csi['feature'].iloc[0]}")
    for row in csi.itertuples():
        out.metrics[f"csi.{row.feature}"] = row.csi
    out.figures["csi"] = plots.bars(csi.head(15), "feature", "csi", "CSI per feature (most shifted 15)")


def _source_columns(inputs: ValidationInputs) -> dict[str, list[str]]:
    """Source -> its measured numeric features present in the frame.

    A source is dark for an application when all its measured features are missing; the 0/1
    "<source>_missing" flags are never missing themselves, so they are left out.
    """
    sources: dict[str, list[str]] = {}
    for spec in inputs.catalog:
        is_flag = spec.get("unit") == "flag" or spec["name"].endswith("_missing")
        if (spec.get("kind", "numeric") == "numeric" and spec.get("source") and not is_flag
                and spec["name"] in inputs.frame):
            sources.setdefault(spec["source"], []).append(spec["name"])
    return sources


def _source_missing(inputs: ValidationInputs, out: SectionResult) -> None:
    sources = _source_columns(inputs)
    if not (inputs.has_dates and sources):
        reason = "no application dates" if not inputs.has_dates else "the catalog names no data sources"
        out.skip("source_missing_jump", f"{reason}: source missing-rates by month cannot be computed")
        out.skipped["source_missing"] = reason
        return
    frame, params, start = inputs.frame, inputs.params, inputs.monitoring_start()
    missing = stats.source_missing_by_month(frame, sources, frame["applied_at"])
    sizes = frame.groupby(frame["applied_at"].dt.to_period("M").dt.to_timestamp()).size()
    baseline = inputs.rows(SPLIT_TRAIN)
    out.tables["source_missing_by_month"] = missing.reset_index()
    if len(baseline):
        base_rate = stats.source_missing_by_month(
            baseline, sources, pd.Series(pd.Timestamp("2000-01-01"), index=baseline.index)).iloc[0]
        big = sizes.reindex(missing.index).fillna(0).to_numpy() >= params.min_month_size_missing
        judged = missing[big & (missing.index >= start)]
        jumps = (judged - base_rate).max() if len(judged) else pd.Series(dtype=float)
        if not len(jumps):
            out.skip("source_missing_jump", f"no month since {start:%Y-%m} has {params.min_month_size_missing} "
                                            "applications (validation.min_month_size_missing)")
        else:
            worst = jumps.idxmax()
            month = (judged[worst] - base_rate[worst]).idxmax()
            out.value("source_missing_jump", float(jumps.max()),
                      f"{worst} in {month:%Y-%m}: {judged.loc[month, worst]:.0%} without data vs "
                      f"{base_rate[worst]:.0%} in development")
            for source, value in jumps.items():
                out.metrics[f"missing_jump.{source}"] = float(value)
    # sources never missing in any month (application, enterprise attributes) would only crowd the plot
    out.figures["source_missing"] = stats.plot_source_missing(missing.loc[:, missing.max() > 0])

