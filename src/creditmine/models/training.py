"""What stage 02 fits each model on: the booked development samples, the rejects of reject inference,
the labelled history of the long-run default rate and the current portfolio of the central tendency.

`plan(cfg, scope, X, booked)` decides the rows once per product; `samples(plan, name, builder)`
gives one model's development samples after reject inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from creditmine.artifacts import SPLIT_HOLDOUT, SPLIT_OOT, SPLIT_TRAIN, SPLIT_UNLABELLED
from creditmine.models.reject_inference import Development, augment, booking_probability

__all__ = ["TrainingPlan", "plan", "samples"]


@dataclass
class TrainingPlan:
    """The rows of one product's fit (boolean masks over the scope) and what reject inference needs."""

    X: pd.DataFrame
    y: np.ndarray
    train: np.ndarray
    holdout: np.ndarray
    rejects: np.ndarray
    anchor: np.ndarray
    history_years: np.ndarray | None
    method: str
    params: object
    seed: int
    reject_val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    p_booked: np.ndarray | None = None
    anchor_note: str = ""

    @property
    def has_holdout(self) -> bool:
        return bool(self.holdout.any()) and len(np.unique(self.y[self.holdout])) == 2

    @property
    def y_history(self) -> np.ndarray:
        """Outcomes of the booked development loans: the long-run rate's history."""
        return self.y[self.train | self.holdout]

    def describe(self) -> dict:
        return {"anchor_applications": int(self.anchor.sum()), "anchor_population": self.anchor_note,
                "history_loans": int((self.train | self.holdout).sum()),
                "rejects": int(self.rejects.sum()), "reject_inference": self.method}


def plan(cfg, scope: pd.DataFrame, X: pd.DataFrame, booked: np.ndarray | None) -> TrainingPlan:
    """The rows of a product's fit.

    - history: the booked, matured development loans (train and holdout) and their application years;
    - current portfolio (the central tendency's population): the booked applications after
      `split.train_end` (all applications after it without a booked flag; without dates, the
      out-of-time and unlabelled rows), whose outcomes are never read;
    - rejects: the declined development applications (booked false, applied up to `split.train_end`).
    """
    split = scope["split"].astype(str).to_numpy()
    y = scope["default_12m"].to_numpy(dtype=float)
    train, holdout = split == SPLIT_TRAIN, split == SPLIT_HOLDOUT
    applied = pd.to_datetime(scope["applied_at"]) if "applied_at" in scope else pd.Series(pd.NaT, index=scope.index)
    dated = bool(applied.notna().any()) and cfg.params.split.train_end is not None
    is_booked = np.ones(len(scope), dtype=bool) if booked is None else np.asarray(booked, dtype=bool)
    if dated:
        end = pd.Timestamp(cfg.params.split.train_end)
        later = (applied > end).to_numpy()
        anchor = later & is_booked
        note = (f"{'booked ' if booked is not None else ''}applications after split.train_end {end:%Y-%m-%d} "
                "(outcomes not read)")
        years = applied.dt.year.to_numpy()[train | holdout]
        in_development = (applied <= end).to_numpy()
    else:
        anchor = np.isin(split, (SPLIT_OOT, SPLIT_UNLABELLED)) & is_booked
        note = "out-of-time and unlabelled rows (no application dates; outcomes not read)"
        years, in_development = None, ~np.isin(split, (SPLIT_OOT,))
    if not anchor.any():
        anchor, note = train | holdout, "the development applications (no application after the development period)"
    rejects = np.zeros(len(scope), dtype=bool) if booked is None else \
        (~is_booked) & in_development & (split == SPLIT_UNLABELLED)
    ri = cfg.params.models.reject_inference
    if ri.method != "none" and booked is None:
        raise ValueError(
            f"models.reject_inference.method = {ri.method} needs the booked flag of every application (the raw "
            f"'applications' table of data source synthetic or files); data source "
            f"{cfg.params.data.source} has none: set method none")
    out = TrainingPlan(X=X, y=np.nan_to_num(y), train=train, holdout=holdout, rejects=rejects, anchor=anchor,
                       history_years=years, method=ri.method, params=ri, seed=cfg.params.seed, anchor_note=note)
    if ri.method != "none":
        if not out.has_holdout:
            raise ValueError("reject inference needs the in-time holdout (split.holdout_share > 0) with defaults")
        rng = np.random.default_rng(cfg.params.seed)
        out.reject_val = rng.random(int(rejects.sum())) < cfg.params.split.holdout_share
    if ri.method == "reweighting":
        development = np.flatnonzero(train | holdout | rejects)
        p = booking_probability(X.iloc[development], is_booked[development], ri.reweighting.folds, cfg.params.seed)
        lookup = pd.Series(p, index=development)
        out.p_booked = np.concatenate([lookup[np.flatnonzero(train)].to_numpy(),
                                       lookup[np.flatnonzero(holdout)].to_numpy()])
    return out


def samples(plan: TrainingPlan, builder) -> Development:
    """One model's development samples: the booked train and holdout rows, after reject inference."""
    X, y = plan.X, plan.y.astype(int)
    if plan.has_holdout:
        dev = Development(X[plan.train], y[plan.train], X[plan.holdout], y[plan.holdout])
    else:
        dev = Development(X[plan.train], y[plan.train], None, None)
    return augment(plan.method, plan.params, builder, dev, X[plan.rejects], plan.p_booked, plan.reject_val,
                   plan.seed)
