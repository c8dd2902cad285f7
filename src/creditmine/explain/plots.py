"""The explanation plots: importance, beeswarm, dependence (with the scorecard's bin edges),
interactions and waterfalls. Each function returns a matplotlib Figure; the stage saves it as PNG.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from creditmine.reports.style import COLOURS, RISK_CMAP, apply_style

__all__ = ["beeswarm", "dependence", "importance_bars", "interaction_bars", "save", "waterfall"]


def importance_bars(ranking: pd.DataFrame, top: int = 15, title: str = "Mean |SHAP| (log-odds) 平均绝对SHAP值"):
    """Horizontal bars of mean |SHAP| per feature, one colour per model.

    ranking : DataFrame with columns model, feature, mean_abs_shap (log-odds).
    """
    import matplotlib.pyplot as plt

    apply_style()
    models = list(dict.fromkeys(ranking["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 0.32 * top + 1.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = ranking[ranking["model"] == model].nlargest(top, "mean_abs_shap").iloc[::-1]
        colour = COLOURS["primary"] if model == "gbm" else COLOURS["challenger"]
        ax.barh(rows["feature"], rows["mean_abs_shap"], color=colour)
        ax.set_title(f"{model}")
        ax.set_xlabel("mean |SHAP|, log-odds of default")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def beeswarm(values: pd.DataFrame, features: pd.DataFrame, base_value: float, title: str, max_display: int = 15):
    """shap's beeswarm of one model: each dot an application, colour the feature value."""
    import matplotlib.pyplot as plt
    import shap

    apply_style()
    data = features[values.columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    explanation = shap.Explanation(
        values=values.to_numpy(), base_values=np.full(len(values), base_value), data=data,
        feature_names=list(values.columns),
    )
    plt.figure()
    with warnings.catch_warnings():   # categorical columns have no numeric colour: all-NaN is expected
        warnings.simplefilter("ignore", RuntimeWarning)
        shap.plots.beeswarm(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle(title)
    return fig


def dependence(feature: str, x: pd.Series, shap_values: np.ndarray, title: str, edges=None,
               colour_by: pd.Series | None = None):
    """SHAP value against the feature value; the scorecard's bin edges as dashed lines.

    x : the feature values (numeric, NaN shown at the left edge as "missing");
    shap_values : (n,) log-odds; edges : split points of the scorecard's bins, when given.
    """
    import matplotlib.pyplot as plt

    apply_style()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    numeric = pd.to_numeric(x, errors="coerce")
    values = np.asarray(shap_values, dtype=float)
    if numeric.notna().any():
        present = numeric.notna().to_numpy()
        colour = None
        if colour_by is not None:
            colour = pd.to_numeric(colour_by, errors="coerce").to_numpy()[present]
        ax.scatter(numeric[present], values[present], s=6, alpha=0.5,
                   c=colour if colour is not None else COLOURS["primary"],
                   cmap=RISK_CMAP if colour is not None else None)
        if (~present).any():
            ax.scatter(np.full((~present).sum(), numeric.min()), values[~present], s=6, alpha=0.5,
                       color=COLOURS["neutral"], marker="x", label="missing 缺失")
            ax.legend(loc="best")
        q = numeric.quantile([0.005, 0.995]).to_numpy()
        if np.isfinite(q).all() and q[1] > q[0]:
            ax.set_xlim(q[0] - 0.05 * (q[1] - q[0]), q[1] + 0.05 * (q[1] - q[0]))
    else:  # a categorical feature: one strip per category
        categories = x.astype("string").fillna("missing")
        codes, labels = pd.factorize(categories, sort=True)
        ax.scatter(codes + np.random.default_rng(0).uniform(-0.2, 0.2, len(codes)), values, s=6, alpha=0.5,
                   color=COLOURS["primary"])
        ax.set_xticks(range(len(labels)), labels)
    for edge in edges or ():
        if isinstance(edge, (int, float)) and np.isfinite(edge):
            ax.axvline(edge, color=COLOURS["neutral"], linestyle="--", linewidth=0.8)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel(feature)
    ax.set_ylabel("SHAP, log-odds of default")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def interaction_bars(pairs: pd.DataFrame, title: str = "Strongest interactions 最强交互作用"):
    """Bars of mean |SHAP interaction| (log-odds) of the strongest feature pairs.

    pairs : DataFrame feature_a, feature_b, mean_abs_interaction.
    """
    import matplotlib.pyplot as plt

    apply_style()
    rows = pairs.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    ax.barh(rows["feature_a"] + " × " + rows["feature_b"], rows["mean_abs_interaction"], color=COLOURS["primary"])
    ax.set_xlabel("mean |SHAP interaction|, log-odds (both halves)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def waterfall(values: pd.Series, base_value: float, data: pd.Series, title: str, labels: dict | None = None,
              max_display: int = 10):
    """shap's waterfall of one application: from the base value to its log-odds, feature by feature.

    labels : feature -> display label (e.g. the Chinese description); the name when absent.
    """
    import matplotlib.pyplot as plt
    import shap

    apply_style()
    names = [labels.get(f, f) if labels else f for f in values.index]
    raw = data.reindex(values.index)
    numbers = pd.to_numeric(raw, errors="coerce")
    # numbers as floats, categories as their label (shap prints "label = feature")
    shown = np.where(numbers.notna() | raw.isna(), numbers.to_numpy(dtype=float), raw.astype(object).to_numpy())
    explanation = shap.Explanation(
        values=values.to_numpy(dtype=float), base_values=float(base_value), data=shown, feature_names=names,
    )
    plt.figure()
    shap.plots.waterfall(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle(title, y=1.02)
    return fig


def save(fig, path) -> str:
    """Save a figure as PNG (creating the folder) and close it; returns the path as text."""
    import matplotlib.pyplot as plt
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return str(path)
