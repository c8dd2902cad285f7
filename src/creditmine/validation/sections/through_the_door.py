"""Through the door: how the models do on everyone who applies, not only on the booked loans they
learnt from.

On any data with a booked flag (the raw `applications` table): the booking rate per grade, the
grade distribution of the declined applications against the booked ones, and the swap set of
replacing the past policy by the model's (who was declined and would now be approved, and the
reverse). On the synthetic world, whose generator knows the true PD of every applicant turned away
(`ground_truth`, read here and in the benchmarks only, never by a training stage): each model's AUC
and mean PD against the true PD over every application, booked and not, and the oracle's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from creditmine.validation.inputs import ValidationInputs
from creditmine.validation.sections import SectionResult

__all__ = ["expected_auc", "read_bookings_and_truth", "through_the_door"]


def read_bookings_and_truth(cfg) -> pd.DataFrame | None:
    """application_id, booked and (synthetic world only) true_pd; None without an applications table."""
    from creditmine.data.io import GROUND_TRUTH, read_table, table_path

    if cfg.params.data.source == "tabular" or not table_path(cfg.data_dir, "applications").is_file():
        return None
    table = read_table(cfg.data_dir, "applications", columns=["application_id", "booked"])
    if cfg.params.data.source == "synthetic" and table_path(cfg.data_dir, GROUND_TRUTH).is_file():
        truth = read_table(cfg.data_dir, GROUND_TRUTH)
        table = table.merge(truth[["application_id", "true_pd"]], on="application_id", how="left",
                            validate="one_to_one")
    return table


def expected_auc(true_pd, score) -> float:
    """The AUC a score would have in expectation when each outcome is drawn from its true PD.

    Each application counts as a default with weight true_pd and as a non-default with weight
    1 - true_pd (an application paired with itself is a tie, a bias of order 1/n).
    """
    p = np.asarray(true_pd, dtype=float)
    s = np.asarray(score, dtype=float)
    labels = np.r_[np.ones(len(p)), np.zeros(len(p))]
    return float(roc_auc_score(labels, np.r_[s, s], sample_weight=np.r_[p, 1.0 - p]))


def through_the_door(inputs: ValidationInputs) -> SectionResult:
    """No light: the booking and swap-set tables, and on the synthetic world the figures against the truth."""
    out = SectionResult()
    frame = inputs.frame
    if "booked" not in frame or frame["booked"].isna().all():
        out.skipped["through_the_door"] = "no booked flag: the data source has no applications table (tabular data)"
        return out
    booked = frame["booked"].fillna(False).to_numpy(dtype=bool)
    grade = frame[f"grade_{inputs.primary}"].to_numpy(dtype=int)
    out.tables["ttd_booking_by_grade"] = _booking_by_grade(frame, booked, grade, inputs)
    out.tables["ttd_swap_set"] = _swap_set(frame, booked, grade, inputs, out)
    out.figures["ttd_grades"] = _plot_grades(out.tables["ttd_booking_by_grade"], inputs.primary)
    out.metrics["ttd.applications"] = float(len(frame))
    out.metrics["ttd.booking_rate"] = float(booked.mean())
    if "true_pd" in frame and frame["true_pd"].notna().all():
        out.tables["ttd_truth"] = _against_truth(frame, booked, inputs, out)
    else:
        out.skipped["ttd_truth"] = "no true PD: only a synthetic world knows the PD of the applicants turned away"
    return out


def _booking_by_grade(frame: pd.DataFrame, booked: np.ndarray, grade: np.ndarray, inputs) -> pd.DataFrame:
    pd_ = frame[f"pd_{inputs.primary}"].to_numpy(dtype=float)
    y = frame["default_12m"].to_numpy(dtype=float)
    rows = []
    for g in range(1, inputs.n_grades + 1):
        here = grade == g
        labelled = here & booked & ~np.isnan(y)
        rows.append({
            "grade": g, "applications": int(here.sum()), "booked": int((here & booked).sum()),
            "declined": int((here & ~booked).sum()),
            "booking_rate": float(booked[here].mean()) if here.any() else np.nan,
            "share_of_booked": float((here & booked).sum() / max(booked.sum(), 1)),
            "share_of_declined": float((here & ~booked).sum() / max((~booked).sum(), 1)),
            "mean_pd": float(pd_[here].mean()) if here.any() else np.nan,
            "observed_default_rate": float(y[labelled].mean()) if labelled.any() else np.nan,
        })
    return pd.DataFrame(rows)


def _swap_set(frame: pd.DataFrame, booked: np.ndarray, grade: np.ndarray, inputs, out: SectionResult) -> pd.DataFrame:
    """The past policy (booked or declined) against the model's (approve, refer, decline by grade)."""
    approve = np.isin(grade, inputs.approve_grades)
    refer = np.isin(grade, inputs.refer_grades) & ~approve
    decision = np.where(approve, "approve", np.where(refer, "refer", "decline"))
    pd_ = frame[f"pd_{inputs.primary}"].to_numpy(dtype=float)
    y = frame["default_12m"].to_numpy(dtype=float)
    truth = frame["true_pd"].to_numpy(dtype=float) if "true_pd" in frame else None
    rows = []
    for past, mask in (("booked", booked), ("declined", ~booked)):
        for now in ("approve", "refer", "decline"):
            cell = mask & (decision == now)
            labelled = cell & ~np.isnan(y)
            row = {"past_policy": past, "model": now, "applications": int(cell.sum()),
                   "share": float(cell.mean()), "mean_pd": float(pd_[cell].mean()) if cell.any() else np.nan,
                   "observed_default_rate": float(y[labelled].mean()) if labelled.any() else np.nan}
            if truth is not None:
                row["mean_true_pd"] = float(truth[cell].mean()) if cell.any() else np.nan
            rows.append(row)
    swap_in, swap_out = int((~booked & approve).sum()), int((booked & (decision == "decline")).sum())
    out.metrics.update({"ttd.swap_in": float(swap_in), "ttd.swap_out": float(swap_out),
                        "ttd.approval_rate": float(approve.mean())})
    return pd.DataFrame(rows)


def _against_truth(frame: pd.DataFrame, booked: np.ndarray, inputs, out: SectionResult) -> pd.DataFrame:
    truth = frame["true_pd"].to_numpy(dtype=float)
    later = np.zeros(len(frame), dtype=bool)
    if inputs.oot_start is not None and "applied_at" in frame:
        later = (frame["applied_at"] >= pd.Timestamp(inputs.oot_start)).to_numpy()
    groups = {"all applications": np.ones(len(frame), dtype=bool), "booked": booked, "declined": ~booked}
    if later.any():
        groups["from oot_start"] = later
    rows = []
    for label, rows_of in groups.items():
        if rows_of.sum() < 2:
            continue
        p = truth[rows_of]
        for model in ["oracle", *inputs.models]:
            score = p if model == "oracle" else frame.loc[rows_of, f"pd_{model}"].to_numpy(dtype=float)
            row = {"population": label, "model": model, "applications": int(rows_of.sum()),
                   "auc_against_true_pd": expected_auc(p, score), "mean_pd": float(score.mean()),
                   "mean_true_pd": float(p.mean()), "mean_pd_minus_true": float(score.mean() - p.mean())}
            rows.append(row)
            if label == "all applications":
                out.metrics[f"ttd.{model}.auc_true_pd"] = row["auc_against_true_pd"]
                out.metrics[f"ttd.{model}.mean_pd_minus_true"] = row["mean_pd_minus_true"]
    return pd.DataFrame(rows)


def _plot_grades(table: pd.DataFrame, primary: str):
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    x = table["grade"].to_numpy()
    ax.bar(x - 0.2, table["share_of_booked"], width=0.4, label="booked")
    ax.bar(x + 0.2, table["share_of_declined"], width=0.4, label="declined by the past policy")
    ax.set_xlabel(f"grade ({primary})")
    ax.set_ylabel("share of applications")
    ax.set_title("Grades of booked and declined applications")
    twin = ax.twinx()
    twin.plot(x, table["booking_rate"], color="black", marker="o", label="booking rate")
    twin.set_ylabel("booking rate")
    twin.set_ylim(0, 1)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
