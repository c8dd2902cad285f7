"""Global checks of the attributions: importance ranking, its stability across samples and
segments, and the sign check against the catalog's expected risk directions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["importance", "ranking_stability", "segment_stability", "sign_check"]


def importance(values: pd.DataFrame) -> pd.Series:
    """Mean |SHAP| per feature (log-odds), largest first."""
    return values.abs().mean(axis=0).sort_values(ascending=False, kind="stable")


def ranking_stability(reference: pd.Series, other: pd.Series, top: int) -> dict:
    """How far the top-`top` feature ranking of `other` agrees with that of `reference`.

    Both are mean |SHAP| per feature. Over the union of the two top-`top` lists, the Spearman
    correlation of the importances (1 = same order); `overlap` the number of shared top features.
    """
    top_ref = list(reference.nlargest(top).index)
    top_other = list(other.nlargest(top).index)
    union = list(dict.fromkeys(top_ref + top_other))
    a = reference.reindex(union).fillna(0.0).to_numpy()
    b = other.reindex(union).fillna(0.0).to_numpy()
    rho = stats.spearmanr(a, b).statistic if len(union) > 1 and np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
    return {
        "spearman": None if np.isnan(rho) else float(rho),
        "overlap": len(set(top_ref) & set(top_other)),
        "top": top,
        "reference_top": top_ref,
        "other_top": top_other,
    }


def segment_stability(values: pd.DataFrame, segments: pd.Series, reference: pd.Series, top: int,
                      min_rows: int, label: str) -> pd.DataFrame:
    """Ranking stability of every segment (product code, industry section) against `reference`.

    Segments with fewer than `min_rows` rows are listed with `judged` False and no figures.
    """
    rows = []
    segments = pd.Series(np.asarray(segments, dtype=object), index=values.index).fillna("missing")
    for segment, index in segments.groupby(segments, sort=True).groups.items():
        n = len(index)
        row = {"by": label, "segment": str(segment), "rows": n, "judged": n >= min_rows,
               "spearman": None, "overlap": None}
        if n >= min_rows:
            result = ranking_stability(reference, importance(values.loc[index]), top)
            row.update(spearman=result["spearman"], overlap=result["overlap"])
        rows.append(row)
    return pd.DataFrame(rows, columns=["by", "segment", "rows", "judged", "spearman", "overlap"])


def sign_check(values: pd.DataFrame, features: pd.DataFrame, specs: dict, min_rows: int = 20,
               tolerance: float = 0.0) -> pd.DataFrame:
    """Does each feature push the PD in its expected direction?

    For every explained feature whose catalog entry has risk_direction +1 or -1, the Spearman
    correlation between the feature value and its SHAP value over the rows where the value is
    present; `ok` is False (a violation) when the correlation has the opposite sign and is at least
    `tolerance` in size (a weaker one is "no clear direction"). Features the model does not use
    (constant SHAP) or with too few values are `not judged`.

    specs : model feature -> FeatureSpec (or None).
    """
    rows = []
    for feature in values.columns:
        spec = specs.get(feature)
        if spec is None or spec.risk_direction == 0 or spec.kind != "numeric":
            continue
        column = spec.name if spec.name in features.columns else feature
        x = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=float)
        s = values[feature].to_numpy(dtype=float)
        present = np.isfinite(x)
        row = {"feature": feature, "expected_direction": int(spec.risk_direction), "rows": int(present.sum()),
               "correlation": None, "status": "not judged", "ok": True}
        if present.sum() >= min_rows and np.ptp(x[present]) > 0 and np.ptp(s[present]) > 0:
            rho = float(stats.spearmanr(x[present], s[present]).statistic)
            row["correlation"] = rho
            row["ok"] = bool(rho * spec.risk_direction > -tolerance)
            row["status"] = ("as expected" if rho * spec.risk_direction >= tolerance
                             else "no clear direction" if row["ok"] else "VIOLATION")
        elif present.sum() >= min_rows and np.ptp(s[present]) == 0:
            row["status"] = "not used by the model"
        rows.append(row)
    return pd.DataFrame(rows, columns=["feature", "expected_direction", "rows", "correlation", "status", "ok"])
