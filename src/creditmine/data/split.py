"""Development / in-time holdout / out-of-time split of applications, seeded and stratified."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmine.config import SplitParams

TRAIN, HOLDOUT, OOT, UNLABELLED = "train", "holdout", "oot", "unlabelled"


def assign_split(
    applications: pd.DataFrame,
    params: SplitParams,
    seed: int,
    target: str = "default_12m",
    date_column: str | None = "applied_at",
) -> pd.Series:
    """Label each application train, holdout, oot or unlabelled.

    Applications without an outcome (immature, not booked) are `unlabelled` and never scored as
    evidence. With a date column, applications after `params.oot_start` are out of time, those up to
    `params.train_end` are development data, split into train and a holdout stratified on the
    outcome; applications between the two dates are left unlabelled (a gap keeps the test honest).
    Without a date column, a stratified random `oot_share` stands in for the out-of-time set.
    """
    n = len(applications)
    split = pd.Series(UNLABELLED, index=applications.index, name="split", dtype=object)
    labelled = applications[target].notna().to_numpy()
    rng = np.random.default_rng(seed)
    if date_column is not None and date_column in applications:
        when = pd.to_datetime(applications[date_column])
        if params.train_end is None or params.oot_start is None:
            raise ValueError("split.train_end and split.oot_start are required when applications have dates")
        development = labelled & (when <= pd.Timestamp(params.train_end)).to_numpy()
        out_of_time = labelled & (when >= pd.Timestamp(params.oot_start)).to_numpy()
    else:
        out_of_time = _stratified_draw(applications[target], labelled, params.oot_share, rng)
        development = labelled & ~out_of_time
    holdout = _stratified_draw(applications[target], development, params.holdout_share, rng)
    split[development] = TRAIN
    split[holdout] = HOLDOUT
    split[out_of_time] = OOT
    assert len(split) == n
    return split


def _stratified_draw(target: pd.Series, eligible: np.ndarray, share: float, rng) -> np.ndarray:
    """A random `share` of the eligible rows, drawn separately within each outcome class."""
    chosen = np.zeros(len(target), dtype=bool)
    if share <= 0:
        return chosen
    values = target.to_numpy()
    for cls in pd.unique(values[eligible]):
        rows = np.flatnonzero(eligible & (values == cls))
        k = int(round(share * len(rows)))
        chosen[rng.permutation(rows)[:k]] = True
    return chosen
