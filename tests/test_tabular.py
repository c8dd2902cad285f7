"""Bring-your-own tabular data: bad and good values, unlabelled rows kept and counted, feature and
excluded columns, amount and term for the limits, a date format, and the population the card states."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditmine import config
from creditmine.features.stage import run as build_features

BASE = (
    "name: tab\nseed: 1\nproducts: [germancredit]\n"
    "split: {train_end: 2020-06-30, oot_start: 2020-07-01}\n"
    "data:\n  source: tabular\n  tabular:\n    path: '{path}'\n    target_column: status\n{extra}"
)


def _data(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "loan_no": [f"L{i:04d}" for i in range(n)],
        "opened": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "amount": rng.integers(1, 50, n) * 1000,
        "months": rng.choice([6, 12, 24], n),
        "income": rng.lognormal(10, 0.5, n),
        "notes": rng.choice(["ok", "call back"], n),
        "status": rng.choice(["paid", "charged off", "written off", "current", None], n, p=[0.6, 0.1, 0.05, 0.2, 0.05]),
    })


def _load(project, tmp_path, extra: str, data: pd.DataFrame | None = None, name: str = "tab"):
    data = _data() if data is None else data
    path = tmp_path / "loans.csv"
    data.assign(opened=data["opened"].dt.strftime("%d/%m/%Y")).to_csv(path, index=False)
    params = project / "params" / f"{name}.yaml"
    params.write_text(BASE.replace("{path}", str(path)).replace("{extra}", extra), encoding="utf-8")
    return config.load(params, run_name=name)


EXTRA = (
    "    id_column: loan_no\n    bad_values: [charged off, written off]\n    good_values: [paid]\n"
    "    date_column: opened\n    date_format: '%d/%m/%Y'\n    amount_column: amount\n    term_column: months\n"
    "    exclude_columns: [notes]\n    population: small-business owners borrowing online\n"
)


def test_bad_and_good_values_leave_other_rows_unlabelled_and_counted(project, tmp_path):
    data = _data()
    cfg = _load(project, tmp_path, EXTRA, data)
    result = build_features(cfg, progress=False)
    frame = result.features.set_index("application_id").loc[data["loan_no"]]
    status = data["status"].to_numpy()
    expected = np.where(np.isin(status, ["charged off", "written off"]), 1.0,
                        np.where(status == "paid", 0.0, np.nan))
    assert np.array_equal(frame["default_12m"].to_numpy(), expected, equal_nan=True)
    unlabelled = int(np.isnan(expected).sum())
    assert unlabelled > 100 and result.profile["splits"]["unlabelled"] >= unlabelled
    assert len(result.features) == len(data)                         # kept, not dropped


def test_columns_amount_term_and_dates_come_from_the_params(project, tmp_path):
    data = _data()
    cfg = _load(project, tmp_path, EXTRA, data)
    frame = build_features(cfg, progress=False).features.set_index("application_id").loc[data["loan_no"]]
    assert "notes" not in frame.columns and "income" in frame.columns and "amount" in frame.columns
    assert frame["requested_amount_cny"].tolist() == data["amount"].astype(float).tolist()
    assert frame["term_months"].tolist() == data["months"].astype(float).tolist()
    assert (frame["applied_at"].to_numpy() == data["opened"].to_numpy()).all()
    chosen = _load(project, tmp_path, EXTRA.replace("    exclude_columns: [notes]\n", "    feature_columns: [income]\n"),
                   data, name="tab2")
    features = build_features(chosen, progress=False).features
    assert [c for c in features.columns if c not in ("application_id", "enterprise_id", "product", "applied_at",
            "requested_amount_cny", "term_months", "default_12m", "split")] == ["income"]


def test_a_date_in_another_format_is_refused_naming_the_row_and_the_setting(project, tmp_path):
    cfg = _load(project, tmp_path, EXTRA.replace("%d/%m/%Y", "%Y-%m-%d"))
    with pytest.raises(ValueError, match=r"column 'opened' row 1: .* is not a date in the format '%Y-%m-%d'"):
        build_features(cfg, progress=False)


def test_params_refuse_contradictions():
    from creditmine.config.data import TabularParams

    with pytest.raises(ValueError, match="not both"):
        TabularParams(path="x.csv", target_column="y", feature_columns=("a",), exclude_columns=("b",))
    with pytest.raises(ValueError, match="both bad and good"):
        TabularParams(path="x.csv", target_column="y", bad_values=("x",), good_values=("x",))
    assert TabularParams.model_validate({"path": "x", "target_column": "y", "bad_value": "bad"}).bad_values == ("bad",)


def test_german_credit_card_describes_german_credit_not_the_synthetic_world(project):
    from creditmine.models.stage import run as train_product
    from creditmine.validation.stage import run as validate

    cfg = config.load(project / "params" / "germancredit.yaml", run_name="g")
    build_features(cfg, progress=False)
    train_product(cfg, "germancredit", progress=False)
    card = validate(cfg, "germancredit", initial_auc=None, progress=False).card_markdown
    assert "private persons in Germany applying for consumer credit" in card
    for synthetic in ("government data", "small and micro enterprises", "synthetic world", "consumer (personal) lending"):
        assert synthetic not in card, synthetic
    assert "protected characteristics" in card and "who was declined before" in card
