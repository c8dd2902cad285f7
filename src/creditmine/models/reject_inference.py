"""Reject inference: the applications the past policy declined enter training with inferred outcomes.

The models learn from booked loans only (about 70 % of applications), yet decide on everyone who
applies. Three textbook corrections (Siddiqi, "Credit Risk Scorecards", ch. 6; Banasik and Crook
2007), chosen by `models.reject_inference.method`:

- reweighting: each booked loan weighs 1 / P(booked | features), from a booking model fitted on
  every development application (booked and declined), predicted out of fold and clipped;
- parcelling: the booked-only model's PD puts each reject in a score band; rejects are drawn bad at
  the band's booked bad rate times `factor` (seeded);
- fuzzy augmentation: each reject is entered twice, as a bad weighted by its booked-only PD and as a
  good weighted by 1 - PD (times `reject_weight`).

The booked flag comes from the raw `applications` table (data sources synthetic and files); the
synthetic world's true PD is never read here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold

__all__ = ["Development", "augment", "booked_flags", "booking_probability"]


class Development:
    """The development samples one model is fitted on: train and holdout rows with outcomes and weights.

    Attributes
    ----------
    X, y, w : training features, outcomes (0/1) and weights (None = 1 each).
    X_val, y_val, w_val : the same for the calibration holdout.
    summary : what reject inference did (for models.json).
    """

    def __init__(self, X, y, X_val, y_val, w=None, w_val=None, summary=None):
        self.X, self.y, self.w = X, y, w
        self.X_val, self.y_val, self.w_val = X_val, y_val, w_val
        self.summary = summary or {"method": "none"}


def booked_flags(cfg, application_ids: pd.Series) -> np.ndarray | None:
    """The booked flag of each application from the raw `applications` table; None without one
    (a tabular data set: every labelled row was booked, and no reject is known)."""
    if cfg.params.data.source == "tabular":
        return None
    from creditmine.data.io import read_table, table_path

    if not table_path(cfg.data_dir, "applications").is_file():
        return None
    table = read_table(cfg.data_dir, "applications", columns=["application_id", "booked"])
    flags = pd.Series(table["booked"].to_numpy(dtype=bool), index=table["application_id"].astype(str))
    found = flags.reindex(application_ids.astype(str).to_numpy())
    if found.isna().any():
        missing = application_ids.astype(str)[found.isna().to_numpy()].iloc[0]
        raise ValueError(f"{table_path(cfg.data_dir, 'applications')}: no application_id {missing!r} "
                         "of the feature table (run stage 01 again)")
    return found.to_numpy(dtype=bool)


def booking_probability(X: pd.DataFrame, booked: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """P(booked | features) of each row, out of fold, from a gradient boosting of the booked flag.

    Categorical columns are coded by their labels (missing -> NaN); the trees take missing values.
    """
    matrix = _matrix(X)
    target = np.asarray(booked, dtype=int)
    out = np.empty(len(target))
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=15,
                                           early_stopping=True, random_state=seed)
    splitter = StratifiedKFold(n_splits=min(folds, int(np.bincount(target, minlength=2).min())), shuffle=True,
                               random_state=seed)
    for fit_rows, test_rows in splitter.split(matrix, target):
        fitted = clone(model).fit(matrix[fit_rows], target[fit_rows])
        out[test_rows] = fitted.predict_proba(matrix[test_rows])[:, 1]
    return np.clip(out, 1e-6, 1.0)


def augment(method: str, params, builder, dev: Development, rejects: pd.DataFrame,
            p_booked: np.ndarray | None, val_rows: np.ndarray, seed: int) -> Development:
    """The development samples with the rejects' inferred outcomes (or the booked loans' weights).

    Parameters
    ----------
    method : none, reweighting, parcelling or fuzzy_augmentation.
    params : the `models.reject_inference` section.
    builder : an unfitted model (fitted here on the booked loans alone for parcelling and fuzzy).
    dev : the booked development samples.
    rejects : the declined development applications (features only).
    p_booked : reweighting: P(booked) of the train rows, then the holdout rows (concatenated).
    val_rows : which rejects join the holdout (bool per reject row), the rest join the training rows.
    seed : seed of the parcelling draws.
    """
    if method == "none":
        return dev
    summary = {"method": method, "rejects": len(rejects), "booked": int(len(dev.y) + len(dev.y_val))}
    if method == "reweighting":
        settings = params.reweighting
        raw = 1.0 / p_booked
        weights = np.minimum(raw, settings.max_weight)
        weights = weights / weights.mean()
        n = len(dev.y)
        summary.update({"clipped": int((raw > settings.max_weight).sum()), "max_weight": settings.max_weight,
                        "weight_max": float(weights.max()), "weight_min": float(weights.min()),
                        "mean_p_booked": float(p_booked.mean())})
        return Development(dev.X, dev.y, dev.X_val, dev.y_val, weights[:n], weights[n:], summary)
    if len(rejects) == 0:
        summary["note"] = "no declined application in the development period: nothing to infer"
        return Development(dev.X, dev.y, dev.X_val, dev.y_val, summary=summary)
    known = clone(builder).fit(dev.X, dev.y, dev.X_val, dev.y_val)
    pd_booked = known.predict_pd(pd.concat([dev.X, dev.X_val]))
    pd_rejects = known.predict_pd(rejects)
    y_booked = np.concatenate([dev.y, dev.y_val])
    if method == "parcelling":
        settings = params.parcelling
        edges = np.unique(np.quantile(pd_booked, np.linspace(0, 1, settings.bands + 1)[1:-1]))
        band_booked = np.searchsorted(edges, pd_booked, side="right")
        band_rejects = np.searchsorted(edges, pd_rejects, side="right")
        rates = np.array([y_booked[band_booked == b].mean() if (band_booked == b).any() else y_booked.mean()
                          for b in range(len(edges) + 1)])
        bad_rate = np.minimum(1.0, settings.factor * rates[band_rejects])
        inferred = (np.random.default_rng(seed).random(len(rejects)) < bad_rate).astype(int)
        summary.update({"factor": settings.factor, "bands": int(len(edges) + 1),
                        "inferred_bad_rate": float(inferred.mean()), "booked_bad_rate": float(y_booked.mean())})
        return _joined(dev, rejects, inferred, np.ones(len(rejects)), val_rows, summary)
    if method == "fuzzy_augmentation":
        weight = params.fuzzy_augmentation.reject_weight
        twice = pd.concat([rejects, rejects])
        outcomes = np.concatenate([np.ones(len(rejects), dtype=int), np.zeros(len(rejects), dtype=int)])
        weights = weight * np.concatenate([pd_rejects, 1.0 - pd_rejects])
        summary.update({"reject_weight": weight, "inferred_bad_rate": float(pd_rejects.mean()),
                        "booked_bad_rate": float(y_booked.mean())})
        return _joined(dev, twice, outcomes, weights, np.concatenate([val_rows, val_rows]), summary)
    raise ValueError(f"models.reject_inference.method must be none, reweighting, parcelling or "
                     f"fuzzy_augmentation; got {method!r}")


def _joined(dev: Development, rows: pd.DataFrame, outcomes, weights, val_rows, summary) -> Development:
    """Booked samples (weight 1) with the reject rows added to train or holdout."""
    val_rows = np.asarray(val_rows, dtype=bool)

    def add(X, y, w, take):
        return (pd.concat([X, rows[take]], ignore_index=True), np.concatenate([y, outcomes[take]]),
                np.concatenate([np.ones(len(y)) if w is None else w, weights[take]]))

    X, y, w = add(dev.X, dev.y, dev.w, ~val_rows)
    X_val, y_val, w_val = add(dev.X_val, dev.y_val, dev.w_val, val_rows)
    return Development(X, y, X_val, y_val, w, w_val, summary)


def _matrix(X: pd.DataFrame) -> np.ndarray:
    out = np.empty((len(X), X.shape[1]))
    for j, column in enumerate(X.columns):
        values = X[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[:, j] = pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)
        else:
            codes = pd.Categorical(values.astype(object).where(values.notna(), None).map(
                lambda v: v if v is None else str(v))).codes.astype(float)
            out[:, j] = np.where(codes < 0, np.nan, codes)
    return out
