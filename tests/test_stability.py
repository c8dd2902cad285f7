"""PSI, CSI and source missing-rates against hand calculations."""

import numpy as np
import pandas as pd
import pytest

from creditmine.validation import stability


def test_psi_hand_calculation():
    # two bins: 50/50 in development, 30/70 now
    expected = np.r_[np.zeros(50), np.ones(50)]
    actual = np.r_[np.zeros(30), np.ones(70)]
    value = (0.3 - 0.5) * np.log(0.3 / 0.5) + (0.7 - 0.5) * np.log(0.7 / 0.5)
    assert stability.psi(expected, actual, edges=np.array([0.5])) == pytest.approx(value)
    assert value == pytest.approx(0.169460, abs=1e-6)
    assert stability.psi(expected, expected, edges=np.array([0.5])) == 0.0


def test_psi_empty_bin_counts_half_an_observation():
    expected = np.r_[np.zeros(50), np.ones(50)]
    actual = np.ones(100)
    e, a = np.array([0.5, 0.5]), np.array([0.5 / 100, 1.0])
    value = float(np.sum((a - e) * np.log(a / e)))
    assert stability.psi(expected, actual, edges=np.array([0.5])) == pytest.approx(value)


def test_psi_missing_values_form_their_own_bin():
    expected = np.r_[np.arange(100.0), np.full(10, np.nan)]
    actual = np.r_[np.arange(100.0), np.full(60, np.nan)]
    assert stability.psi(expected, actual, bins=5) > 0.25
    assert stability.psi(expected, expected, bins=5) == 0.0


def test_psi_of_the_same_distribution_is_small_and_of_a_shift_large():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20000)
    assert stability.psi(reference, rng.normal(size=20000)) < 0.01
    assert stability.psi(reference, rng.normal(loc=1.0, size=20000)) > 0.25


def test_csi_ranks_the_shifted_feature_first_and_handles_categories():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000),
                        "industry": np.repeat(list("CFI"), [1500, 900, 600])})
    cur = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(loc=0.8, size=3000),
                        "industry": np.repeat(list("CFI"), [600, 900, 1500])})
    table = stability.csi_table(ref, cur, {"industry": "categorical"})
    assert table.loc[table["feature"] == "industry", "kind"].item() == "categorical"
    shares_ref, shares_cur = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert table.loc[table["feature"] == "industry", "csi"].item() == pytest.approx(
        np.sum((shares_cur - shares_ref) * np.log(shares_cur / shares_ref)))
    assert table.iloc[-1]["feature"] == "a"
    with pytest.raises(ValueError, match="lacks feature columns: b"):
        stability.csi_table(ref, cur.drop(columns="b"))


def test_psi_by_month_flags_small_months():
    rng = np.random.default_rng(2)
    months = pd.to_datetime(np.r_[np.full(500, "2024-01-15"), np.full(20, "2024-02-03")])
    values = np.r_[rng.normal(size=500), rng.normal(loc=2, size=20)]
    table = stability.psi_by_month(rng.normal(size=2000), values, months, min_size=100)
    assert list(table["month"].dt.strftime("%Y-%m")) == ["2024-01", "2024-02"]
    assert table["judged"].tolist() == [True, False]
    assert table["psi"].iloc[1] > table["psi"].iloc[0]


def test_a_source_that_goes_dark_shows_in_its_missing_rate():
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    features = pd.DataFrame({"kwh": np.where(dates >= "2024-03-01", np.nan, 1.0),
                             "kwh_trend": np.where(dates >= "2024-03-01", np.nan, 0.5),
                             "sales": 1.0})
    features.loc[5, "kwh"] = np.nan  # one feature missing is not a missing source
    table = stability.source_missing_by_month(features, {"electricity": ["kwh", "kwh_trend"], "tax": ["sales"]}, dates)
    assert table.loc["2024-01-01", "electricity"] == 0.0
    assert table.loc["2024-03-01", "electricity"] == 1.0
    assert (table["tax"] == 0).all()
