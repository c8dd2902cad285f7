"""Feature selection for the scorecard by information value and WoE correlation, with reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd


def select_features(
    woe: pd.DataFrame,
    iv: dict[str, float],
    min_iv: float,
    max_correlation: float,
    max_features: int,
    pvalues: dict[str, float] | None = None,
    max_pvalue: float = 1.0,
) -> tuple[list[str], dict[str, str]]:
    """Keep strong, non-redundant features, strongest first.

    Features are taken in decreasing information value; a feature is dropped when its IV is below
    `min_iv` unless its bins' G-test p-value (`pvalues`) is at most `max_pvalue` (a weak signal that
    this many loans show clearly is kept), when the absolute Pearson correlation of its WoE with an already kept feature
    exceeds `max_correlation`, or when `max_features` are already kept.

    Parameters
    ----------
    woe : WoE-transformed training data, one column per candidate feature.
    iv : information value (nats) of each candidate's binning on the training data.
    pvalues : p-value of each candidate's bins (G-test of equal default rates); None: not tested.

    Returns
    -------
    selected : kept feature names, in decreasing IV.
    reasons : feature -> why it was kept or dropped (one sentence).
    """
    order = sorted(woe.columns, key=lambda f: (-iv.get(f, 0.0), f))
    values = woe[order].to_numpy(dtype=float)
    std = values.std(axis=0)
    centred = (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)
    selected: list[str] = []
    kept_columns: list[int] = []
    reasons: dict[str, str] = {}
    for j, feature in enumerate(order):
        value = iv.get(feature, 0.0)
        if std[j] == 0:
            reasons[feature] = "dropped: a single bin (no split found), IV 0"
            continue
        significant = pvalues is not None and pvalues.get(feature, 1.0) <= max_pvalue
        if value < min_iv and not significant:
            reasons[feature] = f"dropped: IV {value:.4f} below min_iv {min_iv}" + (
                f", and its bins' G-test p-value {pvalues.get(feature, 1.0):.3g} above max_iv_pvalue {max_pvalue}"
                if pvalues is not None else "")
            continue
        if kept_columns:
            corr = centred[:, kept_columns].T @ centred[:, j] / len(centred)
            k = int(np.argmax(np.abs(corr)))
            if abs(corr[k]) > max_correlation:
                other = selected[k]
                reasons[feature] = (
                    f"dropped: WoE correlation {corr[k]:+.2f} with {other} (IV {iv[other]:.4f}) "
                    f"above max_correlation {max_correlation}"
                )
                continue
        if len(selected) >= max_features:
            reasons[feature] = f"dropped: max_features {max_features} already kept (IV {value:.4f})"
            continue
        selected.append(feature)
        kept_columns.append(j)
        reasons[feature] = f"kept: IV {value:.4f}" + ("" if value >= min_iv else
                                                        f" (below min_iv, G-test p {pvalues[feature]:.3g})")
    return selected, reasons


def choose_c(W: np.ndarray, y: np.ndarray, w: np.ndarray | None, grid, seed: int) -> float:
    """The inverse L2 strength of `grid` with the highest mean 5-fold cross-validated AUC of the WoE
    regression (the ranking is its job; calibration comes after); ties go to the weaker penalty."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(y).min())), shuffle=True, random_state=seed)
    weight = np.ones(len(y)) if w is None else w
    scores = dict.fromkeys(grid, 0.0)
    for fit_rows, test_rows in folds.split(W, y):
        for c in grid:
            lr = LogisticRegression(C=c, max_iter=2000).fit(W[fit_rows], y[fit_rows], sample_weight=weight[fit_rows])
            scores[c] += roc_auc_score(y[test_rows], lr.decision_function(W[test_rows]), sample_weight=weight[test_rows])
    return float(max(grid, key=lambda c: (round(scores[c], 9), c)))
