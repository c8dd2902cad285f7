"""Stage 06's parts on small data: label-free estimates, the loan book, the outcomes file read
strictly, reason codes, the decision log's digest, and the production world's drift switch."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pandas as pd
import pytest

from creditmine.monitoring import estimates as est
from creditmine.monitoring.outcomes import OutcomesError, read_outcomes


def _pairwise_expected_auc(p, s):
    num = den = 0.0
    for i, j in itertools.permutations(range(len(p)), 2):
        w = p[i] * (1 - p[j])
        den += w
        num += w * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
    return num / den


def test_expected_auc_is_the_pairwise_probability_with_ties_and_no_self_pairs():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.4, 40)
    s = np.round(p * 10) / 10            # ties
    assert est.expected_auc(p, s) == pytest.approx(_pairwise_expected_auc(p, s), abs=1e-12)
    assert est.expected_auc(p) == pytest.approx(_pairwise_expected_auc(p, p), abs=1e-12)


def test_expected_auc_matches_the_mean_auc_of_outcomes_drawn_from_the_pds():
    rng = np.random.default_rng(2)
    p = 1 / (1 + np.exp(-rng.normal(-3, 1.0, 3000)))
    expected = est.expected_auc(p)
    low, high = est.expected_auc_band(p, draws=300, seed=3)
    assert low < expected < high
    assert (low, high) == est.expected_auc_band(p, draws=300, seed=3)      # seeded
    draws = []
    for _ in range(200):
        y = rng.random(len(p)) < p
        draws.append(est.auc(y.astype(float), p))
    assert np.mean(draws) == pytest.approx(expected, abs=0.005)


def test_loan_book_counts_months_on_book_and_hides_defaults_after_the_as_of_date():
    booked = pd.DataFrame({
        "application_id": ["a", "b", "c"], "booked_on": pd.to_datetime(["2025-01-10", "2025-01-20", "2025-03-01"]),
        "defaulted_on": pd.to_datetime(["2025-02-15", "2025-06-01", None]), "pd": [0.1, 0.1, 0.1], "grade": [1, 2, 3],
    })
    book = est.loan_book(booked, "2025-04-30")
    assert book["mob"].tolist() == [3, 3, 1]
    assert book["defaulted"].tolist() == [True, False, False]      # b defaults after the as-of date
    assert book["default_mob"].tolist() == [2, 0, 0]
    curves = est.vintage_curves(book)
    jan = curves[curves["vintage"] == pd.Period("2025-01", "M")].set_index("mob")
    assert jan["observed"].tolist() == [0.0, 0.5, 0.5]
    assert jan.loc[3, "expected"] == pytest.approx(1 - 0.9 ** 0.25)


def test_outcomes_file_rejects_bad_rows_with_file_column_and_row_and_the_counts_reconcile(tmp_path):
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "application_id,booked_on,defaulted_on\n"
        "A1,2025-01-05,\n"              # fine
        "A2,05/01/2025,\n"              # not ISO
        "A3,2025-01-05,2024-12-01\n"    # default before booking
        "A4,2025-01-05,2025-07-01\n"    # default after the as-of date: not known yet
        "ZZ,2025-01-05,\n"              # never decided by this version
        "A5,2025-06-05,\n"              # booked after the as-of date
        "A6,2025-01-05,\n"
        "A6,2025-01-06,\n",             # twice
        encoding="utf-8")
    got = read_outcomes(path, pd.Timestamp("2025-05-31").date(), ["A1", "A2", "A3", "A4", "A5", "A6"])
    assert got.read == 8 and got.read == len(got.loans) + len(got.rejected)
    assert sorted(got.loans["application_id"]) == ["A1", "A4"]
    assert got.censored == 1 and got.loans.set_index("application_id").loc["A4", "defaulted_on"] is pd.NaT
    reasons = dict(zip(got.rejected["row"], got.rejected["reason"]))
    assert f"{path}, row 3, column booked_on: '05/01/2025' is not a date (YYYY-MM-DD)" in reasons[3]
    assert "column defaulted_on: 2024-12-01 is before booked_on 2025-01-05" in reasons[4]
    assert "column application_id: 'ZZ' was not decided by this version" in reasons[6]
    assert "column booked_on: 2025-06-05 is after the as-of date 2025-05-31" in reasons[7]
    assert "'A6' appears 2 times (rows 8, 9)" in reasons[8] and "'A6' appears 2 times" in reasons[9]


def test_outcomes_file_without_a_required_column_or_missing_stops_naming_it(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("application_id,defaulted_on\nA1,\n", encoding="utf-8")
    with pytest.raises(OutcomesError, match=r"o\.csv: missing column booked_on"):
        read_outcomes(path, pd.Timestamp("2025-05-31").date(), ["A1"])
    with pytest.raises(OutcomesError, match="outcomes file not found"):
        read_outcomes(tmp_path / "nope.csv", pd.Timestamp("2025-05-31").date(), [])


def test_reason_statements_map_to_their_catalog_groups():
    from creditmine.features.catalog import synthetic_catalog
    from creditmine.monitoring.sections import reason_codes

    catalog = synthetic_catalog()
    spec = next(s for s in catalog if s.name == "tax_late_filings_6m")
    text = spec.reason_en.format(value=3.0)
    got = reason_codes(pd.Series([text, "", "something else"]), catalog)
    assert got.tolist() == [spec.reason_group, "(none)", "(not in the catalog)"]


def test_input_digest_is_the_sha256_of_the_documented_bytes_and_ignores_the_batch():
    from creditmine.monitoring.log import input_digests

    columns = ("application_id", "amount", "industry")
    ids = np.array(["AP1", "AP2", "A" * 32, "AP\0"], dtype=object)        # 32 bytes fit; a NUL is hashed
    typed = {"application_id": ids, "amount": np.array([1.5, np.nan, -0.0, 2.0]),
             "industry": np.array([None, "制造业" * 12, "制造业", "制造业"], dtype=object)}
    got = input_digests(typed, columns, {"application_id", "industry"})

    def text(value):
        if value is None:
            return b"\xff" * 32
        utf8 = value.encode()
        if len(utf8) > 32 or b"\0" in utf8:
            return b"\xfe" + hashlib.sha256(utf8).digest()[:31]
        return utf8.ljust(32, b"\0")

    expected = [hashlib.sha256(text(i) + np.float64(a).tobytes() + text(k)).hexdigest()
                for i, a, k in zip(ids, typed["amount"], typed["industry"])]
    assert got.tolist() == expected
    alone = input_digests({k: v[:1] for k, v in typed.items()}, columns, {"application_id", "industry"})
    assert alone[0] == got[0]
    odd_nan = np.frombuffer(np.array([0x7FF8000000000001], dtype="<u8").tobytes(), dtype="<f8")
    assert input_digests({**{k: v[1:2] for k, v in typed.items()}, "amount": odd_nan}, columns,
                         {"application_id", "industry"})[0] == got[1]          # every blank the same NaN


def test_production_world_is_the_same_before_the_drift_in_every_scenario():
    from creditmine.config.data import SyntheticParams
    from creditmine.config.monitoring import ProductionParams
    from creditmine.data.synthetic_production import ProductionChunk
    from creditmine.data.synthetic_sources import Calendar

    params = SyntheticParams(enterprises=150, end="2025-12", chunk_enterprises=150)
    calendar = Calendar.of(params)
    tables = {}
    for scenario in ("none", "regional_shock", "applicant_mix"):
        rng = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(0,)))
        chunk = ProductionChunk(0, 0, 150, calendar, params, rng,
                                production=ProductionParams(scenario=scenario, start="2025-01", drift_start="2025-04"))
        tables[scenario] = chunk.tables()
    cut = (np.datetime64("2025-04-01") - np.datetime64("1970-01-01")).astype(int)

    def before(table, column):
        frame = pd.DataFrame({k: np.asarray(v) for k, v in table.items()})
        frame = frame[frame[column].astype("int64") < cut]
        return frame.drop(columns=[c for c in ("application_id", "default_12m") if c in frame]).reset_index(drop=True)

    for name, column in (("tax_filings", "filed_at"), ("invoices", "issued_at"), ("procurement_awards", "awarded_at"),
                         ("applications", "applied_at")):
        base = before(tables["none"][name], column)
        for scenario in ("regional_shock", "applicant_mix"):
            pd.testing.assert_frame_equal(before(tables[scenario][name], column), base, obj=f"{scenario} {name}")
    after = {s: int((np.asarray(t["applications"]["applied_at"]).astype("int64") >= cut).sum()) for s, t in tables.items()}
    assert after["applicant_mix"] > after["none"]


def test_outcome_draws_depend_on_the_application_not_on_the_table_order():
    from creditmine.data.synthetic_production import draw_outcomes

    truth = pd.DataFrame({"application_id": [f"AP{i}" for i in range(400)],
                          "enterprise_id": [f"E{i % 50}" for i in range(400)],
                          "product": "tax", "applied_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(400), "D"),
                          "true_pd": 0.3})
    first = draw_outcomes(truth, 7)
    again = draw_outcomes(truth.iloc[::-1].assign(application_id=lambda f: f["application_id"] + "x"), 7).iloc[::-1]
    assert first["defaulted"].tolist() == again["defaulted"].tolist()
    months = ((first["defaulted_on"] - first["applied_at"]).dt.days[first["defaulted"]] / 30.4375)
    assert 0.2 < first["defaulted"].mean() < 0.4 and months.max() < 12.01


def test_the_production_period_must_follow_the_development_data(tmp_path):
    from factories import project

    from creditmine.data.synthetic_production import production_synthetic

    cfg = project(tmp_path, "name: t\nproducts: [quick_loan]\nmonitoring:\n  production: {start: '2024-06', drift_start: '2024-08'}\n")
    with pytest.raises(ValueError, match="monitoring.production.start 2024-06 must come after data.synthetic.end 2024-12"):
        production_synthetic(cfg)
