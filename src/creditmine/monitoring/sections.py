"""The sections of stage 06, each a pure function of the `MonitorInputs` returning a `SectionResult`.

- `population`: PSI of the score and CSI of each feature per month against the development sample,
  the missing rate per source, new categories;
- `decisions`: the approve/refer/decline mix, the limit granted, the mean PD of approvals, the
  reason-code mix and its drift, the share referred for bad input;
- `outcomes` and `label_free` (in `creditmine.monitoring.maturing`): the loans as they mature.

Lights judge the as-of month (the month of `as_of`) and the loans known by `as_of`; the tables show
every month. PSI and CSI are `creditmine.validation.stability`'s, on `validation.psi_bins` bins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from creditmine.validation import stability
from creditmine.validation.sections import SectionResult

__all__ = ["MonitorInputs", "decisions", "population", "reason_codes", "sections"]

_COLOURS = {"approve": "#2e7d32", "refer": "#f9a825", "decline": "#c62828"}


@dataclass
class MonitorInputs:
    """What every section reads.

    reference : the version and its development sample (`creditmine.monitoring.reference`).
    log : the version's decisions up to `as_of` (`LoggedDecisions`).
    as_of : the monitoring date; `month` its month.
    params : the `monitoring` params; `psi_bins` validation.psi_bins.
    book : the booked loans known at `as_of` with their PD and grade (`estimates.loan_book`), or None
        without an outcomes file.
    """

    reference: object
    log: object
    as_of: date
    params: object
    psi_bins: int = 10
    book: pd.DataFrame | None = None
    outcomes: object = None
    seed: int = 0
    figures: bool = True
    month: pd.Period = field(init=False)

    def __post_init__(self) -> None:
        self.month = pd.Period(self.as_of, "M")

    @property
    def months(self) -> list[pd.Period]:
        return sorted(self.log.decisions["month"].unique()) if len(self.log) else []

    def in_month(self, month=None) -> np.ndarray:
        return (self.log.decisions["month"] == (month or self.month)).to_numpy()

    @property
    def scored(self) -> np.ndarray:
        return (self.log.decisions["grade"] > 0).to_numpy()

    def judged(self) -> bool:
        return int(self.in_month().sum()) >= self.params.min_month_size


def sections() -> dict:
    from creditmine.monitoring.maturing import label_free, outcomes

    return {"population": population, "decisions": decisions, "outcomes": outcomes, "label_free": label_free}


# -- population -----------------------------------------------------------------------------------

def population(inputs: MonitorInputs) -> SectionResult:
    """Tests psi_score, csi_max, source_missing_jump, new_category_share."""
    out = SectionResult()
    ref, log = inputs.reference, inputs.log
    if not len(log):
        for test in ("psi_score", "csi_max", "source_missing_jump", "new_category_share"):
            out.skip(test, f"no decisions of {ref.model} version {ref.version} up to {inputs.as_of}")
        return out
    decided = log.decisions
    reference_score = ref.decisions.loc[ref.scored, "score"].to_numpy(float)
    scored = inputs.scored
    months = stability.psi_by_month(reference_score, decided.loc[scored, "score"].to_numpy(float),
                                    decided.loc[scored, "month"].dt.to_timestamp(), bins=inputs.psi_bins,
                                    min_size=inputs.params.min_month_size)
    out.tables["psi_by_month"] = months
    current = months[months["month"] == inputs.month.to_timestamp()]
    size = int(inputs.in_month().sum())
    if not len(current) or not inputs.judged():
        reason = (f"{size} decisions in {inputs.month} (monitoring.min_month_size "
                  f"{inputs.params.min_month_size}): shown, not judged")
        for test in ("psi_score", "csi_max", "source_missing_jump", "new_category_share"):
            out.skip(test, reason)
    else:
        out.value("psi_score", float(current["psi"].iloc[0]), f"score of {size} decisions in {inputs.month} "
                  f"against {int(ref.scored.sum())} development applications")
    t = inputs.params.thresholds["psi_score"]
    if inputs.figures:
        out.figures["psi_by_month"] = stability.plot_psi_by_month(months, t.green, t.amber, "PSI of the score by month")
    for row in months.itertuples():
        out.metrics[f"psi_score.{row.month:%Y-%m}"] = float(row.psi)

    # CSI of every model feature, per month
    features = [f for f in ref.features if f in log.inputs.columns]
    matrix = {}
    for month in inputs.months:
        rows = inputs.in_month(month)
        if rows.sum() == 0:
            continue
        table = stability.csi_table(ref.sample[features], log.inputs.loc[rows, features], ref.kinds, inputs.psi_bins)
        matrix[month] = table.set_index("feature")["csi"]
    csi = pd.DataFrame(matrix).reindex(features)
    csi.columns = [str(c) for c in csi.columns]
    current_column = str(inputs.month)
    if current_column in csi:
        latest = csi[current_column].sort_values(ascending=False)
        weight = ref.importance.reindex(latest.index).fillna(0.0)
        table = pd.DataFrame({"feature": latest.index, "csi": latest.to_numpy(), "importance": weight.to_numpy(),
                              "weighted": (latest * weight).to_numpy()})
        out.tables["csi_latest"] = table
        if inputs.judged():
            top = table.iloc[0]
            out.value("csi_max", float(top["csi"]), f"most shifted feature in {inputs.month}: {top['feature']} "
                      f"(importance {top['importance']:.1%}); importance-weighted CSI {table['weighted'].sum():.3f}")
            out.metrics["csi_weighted"] = float(table["weighted"].sum())
        for row in table.itertuples():
            out.metrics[f"csi.{row.feature}"] = float(row.csi)
        shown = csi.loc[table["feature"].head(15)]
        out.tables["csi_by_month"] = shown.reset_index().rename(columns={"index": "feature"})
        if inputs.figures:
            out.figures["csi_by_month"] = _heatmap(shown, "CSI of the most shifted features by month",
                                               inputs.params.thresholds["csi_max"])

    # missing rate per source
    sources = _source_columns(ref.catalog, features)
    if sources:
        dates = decided["month"].dt.to_timestamp()
        missing = stability.source_missing_by_month(log.inputs[features], sources, dates)
        base = stability.source_missing_by_month(ref.sample[features], sources,
                                                 pd.Series(pd.Timestamp("2000-01-01"), index=ref.sample.index)).iloc[0]
        table = missing.copy()
        table.index = [f"{m:%Y-%m}" for m in table.index]
        table.loc["development"] = base
        out.tables["source_missing_by_month"] = table.reset_index().rename(columns={"index": "month"})
        if inputs.month.to_timestamp() in missing.index and inputs.judged():
            jumps = missing.loc[inputs.month.to_timestamp()] - base
            worst = jumps.idxmax()
            out.value("source_missing_jump", float(jumps.max()),
                      f"{worst}: {missing.loc[inputs.month.to_timestamp(), worst]:.0%} of {inputs.month}'s "
                      f"applications without data vs {base[worst]:.0%} in development")
            for source, value in jumps.items():
                out.metrics[f"missing_jump.{source}"] = float(value)
        shown = missing.loc[:, (missing.max() > 0) | (base.reindex(missing.columns) > 0)]
        if inputs.figures:
            out.figures["source_missing"] = stability.plot_source_missing(shown)
    else:
        out.skip("source_missing_jump", "the catalog names no data sources of the model's features")

    # new categories
    categorical = [f for f in features if ref.kinds.get(f) == "categorical"]
    rows = []
    any_new = np.zeros(len(decided), dtype=bool)
    for feature in categorical:
        known = set(ref.sample[feature].dropna().astype(str))
        values = log.inputs[feature]
        new = values.notna().to_numpy() & ~values.astype(str).isin(known).to_numpy()
        any_new |= new
        if new.any():
            found = pd.DataFrame({"category": values[new].astype(str), "month": decided.loc[new, "month"].astype(str)})
            for category, part in found.groupby("category"):
                rows.append({"feature": feature, "category": category, "decisions": len(part),
                             "first_month": part["month"].min(), "in_as_of_month": int((part["month"] == str(inputs.month)).sum())})
    out.tables["new_categories"] = pd.DataFrame(rows, columns=["feature", "category", "decisions", "first_month",
                                                               "in_as_of_month"])
    if not categorical:
        out.skip("new_category_share", "the model has no categorical features")
    elif inputs.judged():
        share = float(any_new[inputs.in_month()].mean())
        out.value("new_category_share", share, f"{int(any_new[inputs.in_month()].sum())} of {size} decisions in "
                  f"{inputs.month} have a category the development sample never had")
    return out


def _source_columns(catalog, features) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for spec in catalog:
        is_flag = spec.unit == "flag" or spec.name.endswith("_missing")
        if spec.kind == "numeric" and spec.source and not is_flag and spec.name in features \
                and spec.source not in ("application", "enterprise"):
            sources.setdefault(spec.source, []).append(spec.name)
    return sources


def _heatmap(table: pd.DataFrame, title: str, thresholds) -> Figure:
    fig = Figure(figsize=(7.5, max(2.5, 0.3 * len(table) + 1.2)))
    ax = fig.subplots()
    values = table.to_numpy(float)
    image = ax.imshow(np.clip(values, 0, 2 * thresholds.amber), aspect="auto", cmap="Reds", vmin=0,
                      vmax=2 * thresholds.amber)
    ax.set_yticks(range(len(table)), table.index, fontsize=7)
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=90, fontsize=6)
    ax.set_title(title + f" (red from {thresholds.amber:g})")
    ax.grid(False)
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    return fig


# -- decisions ------------------------------------------------------------------------------------

def decisions(inputs: MonitorInputs) -> SectionResult:
    """Tests bad_input_share, approval_rate_change, reason_mix_psi."""
    out = SectionResult()
    ref, log = inputs.reference, inputs.log
    if not len(log):
        for test in ("bad_input_share", "approval_rate_change", "reason_mix_psi"):
            out.skip(test, f"no decisions up to {inputs.as_of}")
        return out
    frame = log.decisions.copy()
    frame["bad_input"] = frame["grade"] <= 0
    frame["approved_limit"] = np.where(frame["decision"] == "approve", frame["credit_limit_cny"].fillna(0.0), 0.0)
    approved = frame["decision"] == "approve"
    rows = []
    dev = ref.decisions
    dev_mix = dev["decision"].value_counts(normalize=True)
    rows.append({"month": "development", "decisions": len(dev),
                 **{d: float(dev_mix.get(d, 0.0)) for d in ("approve", "refer", "decline")},
                 "bad_input": float((dev["grade"] <= 0).mean()),
                 "limit_granted_cny": float(np.nansum(np.where(dev["decision"] == "approve", dev["credit_limit_cny"], 0.0))),
                 "mean_pd_approved": float(dev.loc[dev["decision"] == "approve", "pd"].mean())})
    for month, part in frame.groupby("month", sort=True):
        mix = part["decision"].value_counts(normalize=True)
        rows.append({"month": str(month), "decisions": len(part),
                     **{d: float(mix.get(d, 0.0)) for d in ("approve", "refer", "decline")},
                     "bad_input": float(part["bad_input"].mean()),
                     "limit_granted_cny": float(part["approved_limit"].sum()),
                     "mean_pd_approved": float(part.loc[part["decision"] == "approve", "pd"].mean())
                     if (part["decision"] == "approve").any() else float("nan")})
    table = pd.DataFrame(rows)
    out.tables["decision_mix"] = table
    if inputs.figures:
        out.figures["decision_mix"] = _mix_plot(table)
    current = frame[inputs.in_month()]
    if inputs.judged():
        out.value("bad_input_share", float(current["bad_input"].mean()),
                  f"{int(current['bad_input'].sum())} of {len(current)} decisions in {inputs.month} referred "
                  "because their input could not be read or was incomplete")
        change = float((current["decision"] == "approve").mean() - dev_mix.get("approve", 0.0))
        out.value("approval_rate_change", abs(change), f"approval rate {float((current['decision'] == 'approve').mean()):.1%} "
                  f"in {inputs.month} vs {float(dev_mix.get('approve', 0.0)):.1%} on the development sample")
    else:
        for test in ("bad_input_share", "approval_rate_change"):
            out.skip(test, f"{len(current)} decisions in {inputs.month}: fewer than monitoring.min_month_size")
    out.metrics.update({
        "decisions": float(len(current)), "approve_share": float((current["decision"] == "approve").mean()) if len(current) else 0.0,
        "refer_share": float((current["decision"] == "refer").mean()) if len(current) else 0.0,
        "decline_share": float((current["decision"] == "decline").mean()) if len(current) else 0.0,
        "limit_granted_cny": float(current["approved_limit"].sum()),
        "mean_pd_approved": float(current.loc[approved[inputs.in_month()].to_numpy(), "pd"].mean())
        if len(current) and (current["decision"] == "approve").any() else float("nan"),
    })
    out.metrics["bad_input_share"] = float(current["bad_input"].mean()) if len(current) else 0.0

    # reason codes: the top reason of each scored decision, by reason group
    groups = reason_codes(frame["reason_1_en"], ref.catalog)
    dev_groups = reason_codes(dev["reason_1_en"], ref.catalog)
    scored = frame["grade"] > 0
    mix = pd.crosstab(groups[scored.to_numpy()], frame.loc[scored, "month"].astype(str), normalize="columns")
    dev_share = dev_groups[(dev["grade"] > 0).to_numpy()].value_counts(normalize=True)
    mix.insert(0, "development", dev_share.reindex(mix.index).fillna(0.0))
    order = mix.max(axis=1).sort_values(ascending=False).index
    mix = mix.loc[order]
    psis = {}
    for month in mix.columns[1:]:
        e, a = stability.bin_shares(dev_groups[(dev["grade"] > 0).to_numpy()].to_numpy(),
                                    groups[(scored & (frame["month"].astype(str) == month)).to_numpy()].to_numpy(),
                                    categorical=True)
        psis[month] = stability._psi_from_shares(e, a)
    drift = pd.Series(psis, name="reason_mix_psi")
    shown = mix.head(12).copy()
    shown.loc["reason_mix_psi"] = [np.nan, *drift.reindex(mix.columns[1:]).to_numpy()]
    out.tables["reason_mix"] = shown.reset_index().rename(columns={"index": "top reason (group)", "row_0": "top reason (group)"})
    if str(inputs.month) in drift and inputs.judged():
        top = groups[(scored & inputs.in_month()).to_numpy()].value_counts(normalize=True)
        out.value("reason_mix_psi", float(drift[str(inputs.month)]),
                  f"top reason in {inputs.month}: {top.index[0]} ({top.iloc[0]:.0%} of scored decisions)"
                  if len(top) else "")
    else:
        out.skip("reason_mix_psi", f"fewer than monitoring.min_month_size decisions in {inputs.month}")
    unmatched = int((groups == "(not in the catalog)").sum())
    if unmatched:
        out.notes["reason_mix_psi"] = (out.notes.get("reason_mix_psi", "") +
                                      f"; {unmatched} reasons match no catalog statement").lstrip("; ")
    return out


def reason_codes(texts: pd.Series, catalog) -> pd.Series:
    """The reason group of each reason statement (English), matched against the catalog's statement
    templates and the reason coder's "No record: <description>" for a missing value; "(none)" for a
    blank and "(not in the catalog)" when nothing matches."""
    patterns, exact = [], {}
    for spec in catalog:
        group = spec.reason_group or spec.name
        exact.setdefault(f"No record: {spec.description_en}", group)   # the coder's text for a missing value
        template = getattr(spec, "reason_en", "") or ""
        if not template:
            continue
        parts = re.split(r"\{value[^}]*\}", template)
        regex = "^" + "(.+?)".join(re.escape(p) for p in parts) + "$"
        patterns.append((re.compile(regex), group))
    texts = texts.fillna("").astype(str)
    codes = {}
    for text in texts.unique():
        if text == "":
            codes[text] = "(none)"
            continue
        codes[text] = exact.get(text) or next((group for regex, group in patterns if regex.match(text)),
                                              "(not in the catalog)")
    return texts.map(codes)


def _mix_plot(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(7.5, 3.4))
    ax = fig.subplots()
    labels = table["month"].astype(str).tolist()
    bottom = np.zeros(len(table))
    for decision in ("approve", "refer", "decline"):
        ax.bar(labels, table[decision], bottom=bottom, color=_COLOURS[decision], label=decision)
        bottom += table[decision].to_numpy()
    ax.set(ylabel="share of decisions", ylim=(0, 1), title="Decisions by month (development first)")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    ax.tick_params(axis="x", rotation=90, labelsize=6)
    fig.tight_layout()
    return fig
