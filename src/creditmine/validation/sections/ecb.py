"""The ECB's PD back-testing battery (2019 instructions, section 2.5): current against initial AUC,
rating migrations between two dates, and the concentration in grades."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmine.artifacts import SPLIT_OOT, SPLIT_TRAIN
from creditmine.validation import backtests
from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult, too_few_defaults

__all__ = ["ecb_battery"]

_MIGRATION_TESTS = ("migration_mwb_upper", "migration_mwb_lower", "migration_ztest_pvalue")
_COLUMNS = ["test", "initial", "current", "statistic", "p_value", "note"]


def ecb_battery(inputs: ValidationInputs) -> SectionResult:
    """Tests ecb_auc_pvalue, migration_mwb_upper/lower, migration_ztest_pvalue, herfindahl_pvalue."""
    out = SectionResult()
    rows: list[dict] = []
    _auc_backtest(inputs, out, rows)
    _migrations(inputs, out, rows)
    _herfindahl(inputs, out, rows)
    out.tables["ecb_battery"] = pd.DataFrame(rows, columns=_COLUMNS)
    return out


def _auc_backtest(inputs: ValidationInputs, out: SectionResult, rows: list[dict]) -> None:
    """2.5.4.1: the current (out-of-time) AUC against the AUC at initial validation."""
    y, score = inputs.outcomes(SPLIT_OOT, f"pd_{inputs.primary}")
    own = inputs.initial_auc is None
    source = "the model's own development AUC" if own else "champion's development AUC"
    initial = inputs.development_auc if own else inputs.initial_auc
    if len(y) and y.min() != y.max() and np.isfinite(initial):
        test = backtests.ecb_auc_test(initial, y, score)
        rows.append({"test": "AUC current vs initial (2.5.4.1)", "initial": test.auc_initial,
                     "current": test.auc_current, "statistic": test.statistic, "p_value": test.p_value,
                     "note": f"initial = {source}; s = DeLong SE {test.s_current:.4f}"})
        out.value("ecb_auc_pvalue", test.p_value, f"S = {test.statistic:.3f}; initial AUC {initial:.3f} ({source})")
        if too_few_defaults(inputs, SPLIT_OOT):
            out.skip("ecb_auc_pvalue", too_few_defaults(inputs, SPLIT_OOT))
        out.metrics.update({"ecb.auc_initial": test.auc_initial, "ecb.auc_current": test.auc_current,
                            "ecb.auc_statistic": test.statistic, "ecb.auc_p_value": test.p_value})
    else:
        out.skipped["ecb_auc_pvalue"] = "no out-of-time loans of both outcomes"


def _migration_pairs(inputs: ValidationInputs) -> tuple[pd.DataFrame | None, str | None]:
    """(initial, current) grade per enterprise: its last application up to train_end and its first
    from oot_start on, labelled or not; or the reason there are none."""
    if not inputs.has_dates:
        return None, "no application dates: no two rating dates"
    if "enterprise_id" not in inputs.frame:
        return None, "the scores have no enterprise_id"
    if inputs.train_end is None or inputs.oot_start is None:
        return None, "split.train_end and split.oot_start are not set"
    grade = f"grade_{inputs.primary}"
    dated = inputs.frame.sort_values(["applied_at", "application_id"], kind="stable")
    before = dated[dated["applied_at"] <= pd.Timestamp(inputs.train_end)].groupby("enterprise_id")[grade].last()
    after = dated[dated["applied_at"] >= pd.Timestamp(inputs.oot_start)].groupby("enterprise_id")[grade].first()
    pairs = pd.concat([before.rename("initial"), after.rename("current")], axis=1, join="inner")
    needed = inputs.params.min_migration_pairs
    if len(pairs) < needed:
        return None, (f"{len(pairs)} enterprises rated both up to {inputs.train_end} and from "
                      f"{inputs.oot_start}; at least {needed} needed")
    return pairs, None


def _migrations(inputs: ValidationInputs, out: SectionResult, rows: list[dict]) -> None:
    """2.5.5.1-2: matrix weighted bandwidths and the z-tests of the migration matrix."""
    pairs, reason = _migration_pairs(inputs)
    if reason is not None:
        for test in _MIGRATION_TESTS:
            out.skip(test, reason)
        out.skipped["migration"] = reason
        return
    counts = backtests.migration_matrix(pairs["initial"], pairs["current"], inputs.n_grades)
    upper, lower = backtests.matrix_weighted_bandwidth(counts)
    z = backtests.migration_stability_ztests(counts)
    tested = z["p_value"].dropna()
    # family-wise smallest p (Bonferroni-Holm's first step) so that many cells do not flag by chance
    family_p = float(min(1.0, tested.min() * len(tested))) if len(tested) else None
    out.tables["migration_matrix"] = counts
    out.tables["migration_ztests"] = z
    out.value("migration_mwb_upper", upper, f"{len(pairs)} enterprises rated at both dates (downgrades)")
    out.value("migration_mwb_lower", lower, f"{len(pairs)} enterprises rated at both dates (upgrades)")
    out.value("migration_ztest_pvalue", family_p, f"smallest of {len(tested)} cell p-values, Holm-adjusted")
    out.metrics.update({"ecb.mwb_upper": upper, "ecb.mwb_lower": lower, "ecb.migration_pairs": len(pairs)})
    if family_p is not None:
        out.metrics["ecb.migration_ztest_p_value"] = family_p
    rows.append({"test": "Matrix weighted bandwidth (2.5.5.1)", "initial": np.nan, "current": np.nan,
                 "statistic": np.nan, "p_value": np.nan,
                 "note": f"upper {upper:.3f}, lower {lower:.3f} over {len(pairs)} enterprises"})
    rows.append({"test": "Migration matrix stability z-tests (2.5.5.2)", "initial": np.nan, "current": np.nan,
                 "statistic": float(z["z"].min()) if len(tested) else np.nan, "p_value": family_p,
                 "note": f"{len(tested)} cells; smallest p Holm-adjusted"})
    out.figures["migration"] = backtests.plot_migration(counts, f"Rating migrations: {inputs.primary}")


def _herfindahl(inputs: ValidationInputs, out: SectionResult, rows: list[dict]) -> None:
    """2.5.5.3: concentration in grades, current (out-of-time) against initial (train)."""
    grade = f"grade_{inputs.primary}"
    init, curr = inputs.rows(SPLIT_TRAIN)[grade], inputs.rows(SPLIT_OOT)[grade]
    if not (len(init) and len(curr)):
        return
    c_init = np.bincount(init.astype(int), minlength=inputs.n_grades + 1)[1:]
    c_curr = np.bincount(curr.astype(int), minlength=inputs.n_grades + 1)[1:]
    herf = backtests.herfindahl_test(c_init, c_curr)
    rows.append({"test": "Herfindahl concentration (2.5.5.3)", "initial": herf.hi_initial,
                 "current": herf.hi_current, "statistic": herf.cv_current - herf.cv_initial,
                 "p_value": herf.p_value,
                 "note": f"HI; CV initial {herf.cv_initial:.3f}, current {herf.cv_current:.3f}"})
    out.value("herfindahl_pvalue", herf.p_value,
              f"HI {herf.hi_initial:.3f} on train, {herf.hi_current:.3f} out of time; "
              "a master scale cut into equal train shares makes any shift show")
    out.metrics.update({"ecb.cv_initial": herf.cv_initial, "ecb.hi_initial": herf.hi_initial,
                        "ecb.cv_current": herf.cv_current, "ecb.hi_current": herf.hi_current,
                        "ecb.herfindahl_p_value": herf.p_value})
