"""The sections of stage 06 on the loans as they mature (see `creditmine.monitoring.sections`):

- `outcomes`: vintage curves, per-grade back-tests and the AUC back-test on matured vintages, early
  defaults against expectation;
- `label_free`: expected default rate and expected AUC from the calibrated PDs per vintage, beside
  what has been realized.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from creditmine.monitoring import estimates as est
from creditmine.monitoring.sections import MonitorInputs
from creditmine.validation.sections import SectionResult

__all__ = ["label_free", "outcomes"]


# -- outcomes -------------------------------------------------------------------------------------

def outcomes(inputs: MonitorInputs) -> SectionResult:
    """Tests early_default_pvalue, jeffreys_pvalue_min, binomial_pvalue and auc_pvalue."""
    out = SectionResult()
    params = inputs.params
    tests = ("early_default_pvalue", "jeffreys_pvalue_min", "binomial_pvalue", "auc_pvalue")
    if inputs.book is None:
        for test in tests:
            out.skip(test, "no outcomes file (--outcomes): outcome tests wait for the booked loans' outcomes")
        out.skipped["outcomes"] = "no outcomes file given"
        return out
    book = inputs.book
    if not len(book):
        for test in tests:
            out.skip(test, f"no booked loans of this version known by {inputs.as_of}")
        return out
    early = est.early_default_test(book, params.maturity_months)
    out.value("early_default_pvalue", early["p_value"],
              f"{early['defaults']} defaults known among {early['loans']} loans vs {early['expected']:.1f} expected "
              f"by their months on book (ratio {early['ratio']:.2f})")
    out.metrics.update({"early_defaults": float(early["defaults"]), "early_defaults_expected": early["expected"],
                        "early_default_ratio": early["ratio"], "booked_loans": float(len(book))})
    curves = est.vintage_curves(book, params.maturity_months)
    out.tables["vintage_curves"] = curves.assign(vintage=curves["vintage"].astype(str)).pivot(
        index="mob", columns="vintage", values="observed").reset_index() if len(curves) else curves
    if inputs.figures:
        out.figures["vintage_curves"] = _vintage_plot(curves)
    matured = book[book["matured"]]
    if not len(matured):
        reason = (f"no vintage has {params.maturity_months} months on book by {inputs.as_of} "
                  f"(oldest loan: {int(book['mob'].max())} months)")
        for test in ("jeffreys_pvalue_min", "binomial_pvalue", "auc_pvalue"):
            out.skip(test, reason)
        return out
    grades = est.backtest_by_grade(book, inputs.reference.n_grades)
    out.tables["backtest_by_grade"] = grades
    per_grade = grades[(grades["grade"] != "all") & (grades["loans"] > 0)]
    worst = per_grade.loc[per_grade["jeffreys_pvalue"].idxmin()] if len(per_grade) else None
    if worst is not None:
        out.value("jeffreys_pvalue_min", float(worst["jeffreys_pvalue"]),
                  f"grade {worst['grade']}: {int(worst['defaults'])} defaults of {int(worst['loans'])} matured loans "
                  f"({worst['observed_rate']:.2%}) vs PD {worst['mean_pd']:.2%}")
    portfolio = grades[grades["grade"] == "all"].iloc[0]
    out.value("binomial_pvalue", float(portfolio["binomial_pvalue"]),
              f"{int(portfolio['defaults'])} defaults of {int(portfolio['loans'])} matured loans "
              f"({portfolio['observed_rate']:.2%}) vs mean PD {portfolio['mean_pd']:.2%}")
    out.metrics.update({"matured_loans": float(portfolio["loans"]), "matured_default_rate": float(portfolio["observed_rate"]),
                        "matured_mean_pd": float(portfolio["mean_pd"])})
    backtest = est.auc_backtest(book, inputs.reference.development_auc, params.min_defaults)
    if np.isfinite(backtest["p_value"]):
        out.value("auc_pvalue", backtest["p_value"], f"AUC {backtest['auc']:.3f} on {backtest['loans']} matured loans "
                  f"vs {inputs.reference.development_auc:.3f} at development (ECB 2.5.4.1)")
        out.metrics["matured_auc"] = backtest["auc"]
    else:
        out.skip("auc_pvalue", f"{backtest['defaults']} matured defaults: fewer than monitoring.min_defaults "
                 f"({params.min_defaults}), or no performing loan")
    return out


def _vintage_plot(curves: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    if not len(curves):
        ax.text(0.5, 0.5, "no booked loans yet", ha="center", transform=ax.transAxes)
        return fig
    vintages = sorted(curves["vintage"].unique())
    cmap = __import__("matplotlib").colormaps["viridis"]
    for i, vintage in enumerate(vintages):
        part = curves[curves["vintage"] == vintage]
        colour = cmap(i / max(1, len(vintages) - 1))
        ax.plot(part["mob"], part["observed"], color=colour, marker=".", label=str(vintage))
        ax.plot(part["mob"], part["expected"], color=colour, linestyle=":", linewidth=1)
    ax.set(xlabel="months on book", ylabel="cumulative default rate",
           title="Vintage curves: observed (solid) and expected from the PDs (dotted)")
    ax.legend(fontsize=6, ncol=4, title="booking month", title_fontsize=7)
    fig.tight_layout()
    return fig


# -- label-free estimates -------------------------------------------------------------------------

def label_free(inputs: MonitorInputs) -> SectionResult:
    """Tests expected_default_rate_ratio and expected_auc_drop (the as-of month's approvals)."""
    out = SectionResult()
    ref, log, params = inputs.reference, inputs.log, inputs.params
    dev = ref.decisions
    dev_approved = dev[dev["decision"] == "approve"]
    dev_dr, _ = est.expected_default_rate(dev_approved["pd"])
    dev_auc = est.expected_auc(dev_approved["pd"])
    out.metrics.update({"development_expected_dr_approved": dev_dr, "development_expected_auc_approved": dev_auc})
    if not len(log):
        out.skip("expected_default_rate_ratio", "no decisions")
        out.skip("expected_auc_drop", "no decisions")
        return out
    frame = log.decisions
    approved = (frame["decision"] == "approve").to_numpy()
    current = approved & inputs.in_month()
    if inputs.judged() and current.sum() >= 2:
        dr, se = est.expected_default_rate(frame.loc[current, "pd"])
        value = est.expected_auc(frame.loc[current, "pd"])
        out.value("expected_default_rate_ratio", dr / dev_dr if dev_dr > 0 else float("nan"),
                  f"mean PD of {int(current.sum())} approvals in {inputs.month} {dr:.2%} (± {1.96 * se:.2%}) vs "
                  f"{dev_dr:.2%} on the development sample's approvals")
        out.value("expected_auc_drop", dev_auc - value,
                  f"expected AUC of {inputs.month}'s approvals {value:.3f} vs {dev_auc:.3f} on the development "
                  "sample's approvals, both from the PDs")
        out.metrics.update({"expected_dr_approved": dr, "expected_auc_approved": value})
    else:
        for test in ("expected_default_rate_ratio", "expected_auc_drop"):
            out.skip(test, f"fewer than monitoring.min_month_size decisions in {inputs.month}")

    if inputs.book is not None and len(inputs.book):
        table = est.vintage_table(inputs.book, params.label_free_draws, inputs.seed, params.min_defaults,
                                  params.maturity_months)
    else:  # before outcomes arrive, the approvals of each month are the vintages to be
        loans = frame.loc[approved, ["month", "pd"]].rename(columns={"month": "vintage"})
        loans = loans.assign(mob=0, matured=False, defaulted=False, grade=0)
        table = est.vintage_table(loans, params.label_free_draws, inputs.seed, params.min_defaults,
                                  params.maturity_months)
    table["vintage"] = table["vintage"].astype(str)
    out.tables["label_free"] = table
    if inputs.figures:
        out.figures["label_free"] = _label_free_plot(table)
    done = table[table["realized_auc"].notna()]
    if len(done):
        inside = ((done["expected_auc"] >= done["realized_auc_low"]) & (done["expected_auc"] <= done["realized_auc_high"]))
        out.metrics["label_free_auc_inside_share"] = float(inside.mean())
    return out


def _label_free_plot(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(len(table))
    ax1.errorbar(x - 0.1, table["expected_dr"], yerr=1.96 * table["expected_dr_se"], fmt="o", color="#1f4e79",
                 label="expected (from the PDs)")
    done = table["realized_dr"].notna().to_numpy()
    if done.any():
        low = (table["realized_dr"] - table["realized_dr_low"])[done]
        high = (table["realized_dr_high"] - table["realized_dr"])[done]
        ax1.errorbar(x[done] + 0.1, table.loc[done, "realized_dr"], yerr=[low, high], fmt="s", color="#c62828",
                     label="realized (matured)")
    ax1.set(title="12-month default rate per vintage", ylabel="default rate")
    ax2.errorbar(x - 0.1, table["expected_auc"], yerr=[table["expected_auc"] - table["expected_auc_low"],
                                                        table["expected_auc_high"] - table["expected_auc"]],
                 fmt="o", color="#1f4e79", label="expected (label-free)")
    done = table["realized_auc"].notna().to_numpy()
    if done.any():
        ax2.errorbar(x[done] + 0.1, table.loc[done, "realized_auc"],
                     yerr=[(table["realized_auc"] - table["realized_auc_low"])[done],
                           (table["realized_auc_high"] - table["realized_auc"])[done]], fmt="s", color="#c62828",
                     label="realized (matured)")
    ax2.set(title="AUC per vintage", ylabel="AUC")
    for ax in (ax1, ax2):
        ax.set_xticks(x, table["vintage"], rotation=90, fontsize=6)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
