"""Guards of stage 02 on the training data, before any model is fitted: each says what it did, and
stage 04 lights it (`validation.sections.guards`).

- leakage screen: a feature that alone separates defaults almost perfectly (single-feature AUC or
  information value at or above `models.guards.leakage`) is more likely a copy of the outcome than a
  predictor; it is excluded unless allowed by name, and flagged either way;
- high cardinality: a categorical feature with more distinct values than `max_categories` is an
  identifier when its values are nearly unique (excluded), else grouped by the models (the most
  frequent values kept, the rest one group) or excluded, as `action` says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmine.models.binning import categories, is_numeric, woe_iv

__all__ = ["screen", "single_feature_strength"]


def single_feature_strength(column: pd.Series, y: np.ndarray, bins: int = 10) -> tuple[float, float]:
    """(AUC in either direction, IV) of one feature alone on the training rows.

    Numeric: the AUC of the values (missing as their own lowest level) and the IV of `bins` quantile
    bins plus a missing bin. Categorical: each category's default rate as the score (in sample), and
    the IV of the categories.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=float)
    if is_numeric(column):
        values = pd.to_numeric(column).to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(values)
        finite = values[~missing]
        low = finite.min() - 1.0 if len(finite) else 0.0
        score = np.where(missing, low, values)
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if len(finite) else np.empty(0)
        index = np.where(missing, len(edges) + 1, np.searchsorted(edges, values, side="right"))
    else:
        labels = pd.Series(categories(column), index=column.index).fillna("\0missing")
        rates = pd.Series(y, index=column.index).groupby(labels).mean()
        score = labels.map(rates).to_numpy(dtype=float)
        index = pd.factorize(labels)[0]
    auc = float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else 0.5
    count = np.bincount(index).astype(float)
    bads = np.bincount(index, weights=y, minlength=len(count))
    _, iv = woe_iv(count, bads, smoothing=0.5)
    return max(auc, 1.0 - auc), iv


def screen(X: pd.DataFrame, y: np.ndarray, categorical: list[str], guards) -> tuple[list[str], dict[str, str], dict]:
    """Which candidate features pass the guards.

    Parameters
    ----------
    X : training rows of the candidate features.
    y : their outcomes.
    categorical : the candidates that are categorical.
    guards : the `models.guards` params section.

    Returns
    -------
    kept : candidates that pass, in their order.
    dropped : feature -> why it was excluded.
    report : {"leakage": [...], "cardinality": [...]}, one dict per flagged feature (for models.json).
    """
    leakage, cardinality = guards.leakage, guards.cardinality
    kept, dropped = [], {}
    report: dict[str, list] = {"leakage": [], "cardinality": []}
    allowed = set(leakage.allow)
    for feature in X.columns:
        column = X[feature]
        if feature in categorical or not is_numeric(column):
            distinct = int(column.nunique(dropna=True))
            if distinct > cardinality.max_categories:
                identifier = distinct > cardinality.max_unique_share * max(int(column.notna().sum()), 1)
                action = "excluded: an identifier" if identifier else (
                    "grouped" if cardinality.action == "group" else "excluded")
                report["cardinality"].append({"feature": feature, "categories": distinct, "action": action})
                if action != "grouped":
                    dropped[feature] = (f"dropped: {distinct} categories, more than models.guards.cardinality."
                                        f"max_categories = {cardinality.max_categories} ({action})")
                    continue
        auc, iv = single_feature_strength(column, y)
        if auc >= leakage.max_auc or iv >= leakage.max_iv:
            keep = feature in allowed
            report["leakage"].append({"feature": feature, "auc": auc, "iv": iv,
                                      "action": "kept: allowed by name" if keep else "excluded"})
            if not keep:
                dropped[feature] = (f"dropped: leakage screen, single-feature AUC {auc:.3f} / IV {iv:.3f} reach "
                                    f"models.guards.leakage (max_auc {leakage.max_auc}, max_iv {leakage.max_iv}); "
                                    "allow it by name if it is known before the decision")
                continue
        kept.append(feature)
    return kept, dropped, report
