"""`creditmine score` on strict input: separators, repeated ids, negative counts, no rows.

The CLI cases run `creditmine score` (click's CliRunner) with an approved champion registered in a
throw-away store; the bound case runs the decision engine of a model that reads the enterprise's
size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from creditmine import artifacts
from creditmine.cli import main
from creditmine.decision.model import OUTPUT_COLUMNS
from factories import MODEL_FEATURES, approved_champion, synthetic_applications

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def champion(tmp_path_factory, quick_loan_stages):
    from creditmine.decision.score import tracking_store

    root = tmp_path_factory.mktemp("score_cli") / "project"
    root.mkdir()
    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        cfg, name, _, _, apps = approved_champion(root, quick_loan_stages)
    return cfg, name, apps


def _score(champion, input_path, output_path, *extra):
    cfg, name, _ = champion
    args = ["score", "--model", f"models:/{name}@champion", "--input", str(input_path),
            "--output", str(output_path), "--tracking-uri", cfg.tracking_uri, "--quiet", *extra]
    # through the `creditmine` group, as typed, and with the environment put back afterwards
    result = CliRunner().invoke(main, args, env={"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": None})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _decisions(path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, dtype={"application_id": str})


def test_separators_in_numbers_refer_the_row_naming_column_and_value(champion, tmp_path):
    _, _, apps = champion
    rows = apps.iloc[:5].drop(columns=["default_12m"]).astype({"requested_amount_cny": object})
    rows["requested_amount_cny"] = ["12,5", "1.234,56", "1,234", "1 234", "1234.5"]
    rows.to_csv(tmp_path / "apps.csv", index=False)
    result = _score(champion, tmp_path / "apps.csv", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    out = _decisions(tmp_path / "out.csv")
    for i, text in enumerate(["12,5", "1.234,56", "1,234", "1 234"]):
        assert out["decision"][i] == "refer"
        assert f"requested_amount_cny: '{text}' has a thousands separator or a decimal comma" in out["error"][i]
    assert "requested_amount_cny" not in out["error"][4]                 # 1234.5 is a number


def test_every_row_of_a_repeated_application_id_is_referred_across_chunks(champion, tmp_path, monkeypatch):
    from creditmine.decision import score as scoring

    cfg, _, apps = champion
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 2)         # the two copies land in different model calls
    ids = list(apps["application_id"].iloc[:6])
    given = [ids[0], ids[1], ids[2], ids[0], ids[3], ids[4], ids[0], ids[5]]
    pd.DataFrame({"application_id": given}).to_csv(tmp_path / "ids.csv", index=False)
    features = artifacts.layout(cfg).features_table
    result = _score(champion, tmp_path / "ids.csv", tmp_path / "out.csv", "--features", str(features))
    assert result.exit_code == 0, result.output
    out = _decisions(tmp_path / "out.csv")
    assert out["application_id"].tolist() == given
    message = f"application_id {ids[0]} appears 3 times in the input (rows 1, 4, 7)"
    assert out.loc[[0, 3, 6], "error"].tolist() == [message] * 3
    assert (out.loc[[0, 3, 6], "decision"] == "refer").all()
    assert not out.drop(index=[0, 3, 6])["error"].str.contains("appears").any()
    assert result.output.startswith(f"8 applications -> {tmp_path / 'out.csv'}")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_an_input_without_rows_gives_an_empty_output_with_the_columns(champion, tmp_path, suffix):
    _, _, apps = champion
    empty = apps.iloc[:0].drop(columns=["default_12m"])
    path = tmp_path / f"apps{suffix}"
    if suffix == ".csv":
        empty.to_csv(path, index=False)                    # the header only
    elif suffix == ".parquet":
        empty.to_parquet(path, index=False)
    else:
        path.write_text("")                                # JSON lines: no line, no record
    for output in ("out.csv", "out.parquet"):
        result = _score(champion, path, tmp_path / output)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"0 applications in {path}: wrote {tmp_path / output} with the decision columns and no rows"
    assert (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines() == [",".join(OUTPUT_COLUMNS)]
    written = pd.read_parquet(tmp_path / "out.parquet")
    assert list(written.columns) == list(OUTPUT_COLUMNS) and written.empty
    assert written["pd"].dtype == np.float64 and written["grade"].dtype == np.int64


def test_negative_employees_or_registered_capital_refer_the_row():
    from creditmine import config
    from creditmine.decision.model import DecisionEngine
    from creditmine.explain.reasons import ReasonCoder
    from creditmine.features.catalog import synthetic_catalog
    from creditmine.models import GbmModel, MasterScale

    apps = synthetic_applications(2000, seed=3)
    rng = np.random.default_rng(3)
    apps["employees"] = rng.integers(1, 300, len(apps)).astype(float)
    apps["registered_capital_cny"] = np.round(rng.uniform(1e5, 5e7, len(apps)), -3)
    features = [*MODEL_FEATURES, "employees", "registered_capital_cny"]
    model = GbmModel(categorical_features=("product", "industry_section"), max_iter=20, search_trials=0,
                     min_samples_leaf=40, grading=MasterScale(grades=7), random_state=0).fit(apps[features], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)

    rows = apps.iloc[:4].copy()
    rows.loc[rows.index[1], "employees"] = -3
    rows.loc[rows.index[2], "registered_capital_cny"] = -500_000.0
    rows.loc[rows.index[3], "employees"] = 0                     # none: allowed
    out = engine.decide(rows)
    assert out["decision"][1] == "refer" and "employees must not be negative; got -3" in out["error"][1]
    assert out["decision"][2] == "refer" and "registered_capital_cny must not be negative; got -500000" in out["error"][2]
    assert "negative" not in out["error"][0] and "negative" not in out["error"][3]
