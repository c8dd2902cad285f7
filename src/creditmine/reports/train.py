"""What the stage 02 report shows, from the plain content of its files (models.json,
train_metrics.json and its tables); `creditmine.models.stage.TrainResult` calls these."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from creditmine.reports.glance import panel
from creditmine.reports.tables import HTML, count, number, percent, table, table_html

__all__ = ["at_a_glance", "auc_table", "bin_label", "central_tendency", "coefficients", "master_scale", "scorecard_table",
           "plot_calibration", "selection", "summary", "trials"]

_SPLITS = ("train", "holdout", "oot")
_SPLIT_NAMES = {"train": "train", "holdout": "in-time holdout", "oot": "out of time", "unlabelled": "unlabelled"}


def at_a_glance(product: str, meta: dict, metrics: dict):
    """Primary model and its out-of-time AUC, the challenger's, calibration, and the sign check."""
    primary, challenger = meta["primary"], meta["challenger"]
    auc = metrics["auc"]
    sign = metrics.get("sign_check", {})
    wrong = list(sign.get("wrong_sign", [])) + list(sign.get("points_not_monotone", []))
    oot = metrics["splits"].get("oot", {})
    level = "green" if sign.get("all_ok", True) else "amber"
    verdict = f"trained: {primary} primary" if level == "green" else "trained, sign check fails"
    figures = [
        (f"out-of-time AUC, {primary} (primary)", number(auc[primary].get("oot"), 3)),
        (f"out-of-time AUC, {challenger} (challenger)", number(auc[challenger].get("oot"), 3)),
        ("training applications / defaults", f"{count(metrics['splits']['train']['applications'])} / "
                                             f"{count(metrics['splits']['train']['defaults'])}"),
        ("out-of-time default rate", percent(oot.get("default_rate"))),
        ("calibration", ", ".join(f"{m}: {_method(c)}" for m, c in meta["calibration"].items())),
    ]
    look = [
        "<b>Discrimination per split</b>: a train AUC far above the out-of-time AUC means the model learnt its "
        "training sample rather than the risk.",
        "<b>Calibration</b>: out-of-time points above the diagonal mean the PD is underestimated; stage 04 tests it.",
    ]
    if wrong:
        look.insert(0, "<b>Sign check</b>: " + html.escape(", ".join(wrong)) +
                    " against the expected direction or not monotone (coefficients table).")
    else:
        look.append("<b>Scorecard</b>: every coefficient has the expected sign and every numeric feature's points "
                    "move monotonically.")
    return panel(f"Models of {product}", verdict, level, figures, look)


def summary(meta: dict, metrics: dict):
    """One row per model: role, features, calibration, AUC per split."""
    rows = []
    for name in (meta["primary"], meta["challenger"]):
        rows.append({
            "model": name, "role": "primary" if name == meta["primary"] else "challenger",
            "features": len(meta["models"][name]["features"]), "calibration": _method(meta["calibration"][name]),
            **{f"AUC {_SPLIT_NAMES[s]}": metrics["auc"][name].get(s) for s in _SPLITS},
        })
    frame = pd.DataFrame(rows)
    return table(frame, formats={c: "number" for c in frame.columns if c.startswith("AUC")})


def auc_table(meta: dict, metrics: dict):
    """Applications, defaults, default rate and each model's AUC per labelled split."""
    rows = []
    for s in _SPLITS:
        counts = metrics["splits"].get(s, {})
        rows.append({"sample": _SPLIT_NAMES[s], "applications": counts.get("applications"),
                     "defaults": counts.get("defaults"), "default_rate": counts.get("default_rate"),
                     **{f"AUC {m}": metrics["auc"][m].get(s) for m in (meta["primary"], meta["challenger"])}})
    unlabelled = metrics["splits"].get("unlabelled", {}).get("applications", 0)
    note = (f"{unlabelled:,} further applications are unlabelled (not booked or not yet matured): scored, "
            "never counted.") if unlabelled else None
    frame = pd.DataFrame(rows)
    return table(frame, formats={c: "number" for c in frame.columns if c.startswith("AUC")}, note=note)


_INTERVAL = re.compile(r"^\s*([\[(])\s*(-inf|[-+0-9.eE]+)\s*,\s*(inf|[-+0-9.eE]+)\s*([\])])\s*$")


def bin_label(label) -> str:
    """An interval bin as words with readable numbers: "(-inf, 3.92495e+06)" -> "below 3,924,950",
    "[a, b)" -> "a to b", "[a, inf)" -> "a and above"; other labels as they are."""
    text = str(label)
    match = _INTERVAL.match(text)
    if not match:
        return text
    low, high = match.group(2), match.group(3)
    if low == "-inf" and high == "inf":
        return "any value"
    if low == "-inf":
        return f"below {_edge(high)}"
    if high == "inf":
        return f"{_edge(low)} and above"
    return f"{_edge(low)} to {_edge(high)}"


def _edge(text: str) -> str:
    shown = number(float(text), 6)
    return shown.rstrip("0").rstrip(".") if "." in shown and "×" not in shown else shown


def scorecard_table(frame: pd.DataFrame):
    """Every bin of every selected feature; features' IV first, bins collapsed per feature."""
    shown = frame[[c for c in ("feature", "bin", "woe", "points", "count", "share", "bad_rate") if c in frame]].copy()
    shown["bin"] = shown["bin"].map(bin_label)
    features = list(dict.fromkeys(shown["feature"]))
    iv = frame.groupby("feature", sort=False)["iv"].first() if "iv" in frame else pd.Series(dtype=float)
    parts = []
    for feature in features:
        bins = shown[shown["feature"] == feature].drop(columns="feature")
        points = bins["points"].dropna()
        label = (f"{feature}: {len(bins)} bins, IV {number(iv.get(feature), 3)}, points "
                 f"{count(points.min())} to {count(points.max())}")
        parts.append(table_html(bins, label, formats={"woe": "number", "points": "count"}, collapsed=True))
    return HTML("".join(parts))


def coefficients(frame: pd.DataFrame):
    """The logistic regression of the scorecard, failed sign checks flagged."""
    columns = [c for c in ("feature", "coefficient", "std_error", "z", "p_value", "vif", "iv", "expected_sign",
                           "sign_ok", "points_monotone_ok") if c in frame]
    shown = frame[columns].copy()
    classes = pd.DataFrame("", index=shown.index, columns=shown.columns)
    for column in ("sign_ok", "points_monotone_ok"):
        if column in shown:
            classes.loc[~shown[column].astype(bool), column] = "light-red gating"
    return table(shown, classes=classes, max_rows=40,
                 formats={"coefficient": "number", "std_error": "number", "z": "number", "vif": "number",
                          "iv": "number"})


def selection(frame: pd.DataFrame):
    """Kept features first (visible), the dropped ones and why (collapsed)."""
    kept = frame[frame["kept"].astype(bool)].drop(columns="kept")
    dropped = frame[~frame["kept"].astype(bool)].drop(columns="kept")
    formats = {"iv": "number"}
    return HTML(table_html(kept, f"Kept: {len(kept)} features", formats=formats, max_rows=60)
                + table_html(dropped, f"Dropped: {len(dropped)} candidates and why", formats=formats, collapsed=True))


def trials(frame: pd.DataFrame):
    """The boosting's hyper-parameter trials, the chosen one marked."""
    frame = frame.copy()
    classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
    if "chosen" in frame:
        classes.loc[frame["chosen"].astype(bool), :] = "light-green"
    return table(frame, classes=classes, formats={"learning_rate": "number", "l2_regularization": "number",
                                                  "auc": "number", "seconds": "number"})


def master_scale(frame: pd.DataFrame, primary: str):
    """The primary model's grades visible, the challenger's collapsed."""
    parts = []
    for model in dict.fromkeys(frame["model"]):
        rows = frame[frame["model"] == model].drop(columns="model")
        role = "primary" if model == primary else "challenger"
        parts.append(table_html(rows, f"{model} ({role}): {len(rows)} grades", collapsed=model != primary))
    return HTML("".join(parts))


# central_tendency rows: column -> (label, kind)
_CENTRAL_TENDENCY = {
    "reject_inference": ("reject inference", "text"), "rejects": ("rejects entered", "count"),
    "calibration": ("calibration", "text"), "calibration_note": ("calibration note", "text"),
    "target": ("central tendency target", "text"), "long_run_default_rate": ("long-run default rate", "percent"),
    "moc_a": ("MoC A, data and methods (of the rate)", "percent"),
    "moc_b": ("MoC B, standards and environment (of the rate)", "percent"),
    "moc_c": ("MoC C, estimation error (of the rate)", "percent"),
    "add_on": ("margin of conservatism, total (of the rate)", "percent"),
    "target_mean_pd": ("target mean PD", "percent"), "portfolio": ("portfolio applications", "count"),
    "mean_pd_before": ("portfolio mean PD before", "percent"), "mean_pd_after": ("portfolio mean PD after", "percent"),
    "log_odds_shift": ("log-odds shift", "signed"),
}


_TEXT = {"none": "not used", "long_run": "long-run average", "observed": "observed (holdout)",
         "sigmoid": "Platt (sigmoid)"}


def central_tendency(frame: pd.DataFrame):
    """Reject inference, the long-run central tendency and the margin of conservatism, one row per
    figure and one column per model."""
    from creditmine.reports.tables import fmt

    rows = []
    for column, (label, kind) in _CENTRAL_TENDENCY.items():
        if column not in frame:
            continue
        values = {model: (_TEXT.get(str(v), str(v)) if kind == "text" and v not in (None, "") else
                          "—" if kind == "text" else fmt(v, kind))
                  for model, v in zip(frame["model"], frame[column])}
        rows.append({"figure": label, **values})
    return table(pd.DataFrame(rows), formats={m: str for m in frame["model"]}, max_rows=40)


def _method(method: str) -> str:
    return {"sigmoid": "Platt (sigmoid)", "isotonic": "isotonic"}.get(method, method)


def plot_calibration(scores: pd.DataFrame, path: str | Path, bins: int = 10):
    """Reliability plot of both models on the OOT applications (the holdout if there are none).

    The curve is validation's (`creditmine.validation.backtests.calibration_curve`: equal-size PD
    bins). Returns the matplotlib Figure, also saved as PNG at `path`.
    """
    import matplotlib.pyplot as plt  # Agg by itself without a display; inline in notebooks

    from creditmine.artifacts import MODEL_NAMES, SPLIT_HOLDOUT, SPLIT_OOT
    from creditmine.validation.backtests import calibration_curve

    labelled = scores[(scores["split"] == SPLIT_OOT) & scores["default_12m"].notna()]
    which = SPLIT_OOT
    if len(labelled) == 0:
        labelled, which = scores[(scores["split"] == SPLIT_HOLDOUT) & scores["default_12m"].notna()], SPLIT_HOLDOUT
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    top = 0.0
    for name in MODEL_NAMES:
        curve = calibration_curve(labelled["default_12m"].to_numpy(dtype=float), labelled[f"pd_{name}"].to_numpy(), bins)
        ax.plot(curve["mean_pd"], curve["observed_rate"], marker="o", label=name)
        top = max(top, curve["mean_pd"].max(), curve["observed_rate"].max())
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlabel("mean predicted PD")
    ax.set_ylabel("observed default rate")
    ax.set_title(f"Calibration, {which} applications, PD deciles")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)  # shown once, through the returned figure
    return fig
