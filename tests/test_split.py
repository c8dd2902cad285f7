"""The development / holdout / out-of-time split."""

import numpy as np
import pandas as pd

from creditmine.config import SplitParams
from creditmine.data.split import assign_split


def applications(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    applied = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, n), unit="D")
    outcome = (rng.random(n) < 0.05).astype(float)
    outcome[applied >= pd.Timestamp("2024-01-01")] = np.nan  # immature
    return pd.DataFrame({"applied_at": applied, "default_12m": outcome})


def test_time_split_respects_dates_and_maturity():
    apps = applications()
    params = SplitParams(train_end="2022-12-31", oot_start="2023-01-01", holdout_share=0.2)
    split = assign_split(apps, params, seed=1)
    assert (apps.loc[split == "oot", "applied_at"] >= "2023-01-01").all()
    assert (apps.loc[split.isin(["train", "holdout"]), "applied_at"] <= "2022-12-31").all()
    assert apps.loc[split == "unlabelled", "default_12m"].isna().all()
    assert apps.loc[split != "unlabelled", "default_12m"].notna().all()
    dev = split.isin(["train", "holdout"])
    assert abs((split == "holdout").sum() / dev.sum() - 0.2) < 0.01
    # stratified: the holdout's bad rate matches development's
    rate = apps.groupby(split)["default_12m"].mean()
    assert abs(rate["holdout"] - rate["train"]) < 0.01


def test_split_is_deterministic_and_seeded():
    apps = applications()
    params = SplitParams(train_end="2022-12-31", oot_start="2023-01-01")
    assert assign_split(apps, params, 3).equals(assign_split(apps, params, 3))
    assert not assign_split(apps, params, 3).equals(assign_split(apps, params, 4))


def test_random_out_of_sample_without_dates():
    apps = applications().drop(columns="applied_at").fillna(0.0)
    split = assign_split(apps, SplitParams(oot_share=0.25), seed=0, date_column=None)
    assert abs((split == "oot").mean() - 0.25) < 0.01
    assert set(split) == {"train", "holdout", "oot"}
