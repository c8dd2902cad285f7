"""`creditmine score --engine spark`: mlflow.pyfunc.spark_udf in local mode decides every row as
in-process scoring does, behind the same gate; without pyspark or Java the option says so."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import factories
from creditmine.cli import main
from creditmine.decision import spark as spark_engine

PRODUCT = "quick_loan"


# -- without Spark --------------------------------------------------------------------------------
def test_the_engine_says_what_is_missing(monkeypatch):
    real_find_spec = spark_engine.importlib.util.find_spec
    monkeypatch.setattr(spark_engine.importlib.util, "find_spec",
                        lambda name: None if name == "pyspark" else real_find_spec(name))
    assert "needs pyspark" in spark_engine.spark_unavailable()
    assert "creditmine[spark]" in spark_engine.spark_unavailable()
    monkeypatch.undo()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_engine.shutil, "which", lambda name: None)
    if spark_engine.importlib.util.find_spec("pyspark") is not None:
        assert "needs a Java runtime" in spark_engine.spark_unavailable()


def test_score_refuses_the_spark_engine_it_cannot_run(monkeypatch, tmp_path):
    monkeypatch.setattr(spark_engine, "spark_unavailable", lambda: "--engine spark needs a Java runtime (Java 17)")
    (tmp_path / "apps.csv").write_text("application_id\nA1\n", encoding="utf-8")
    result = CliRunner().invoke(main, [
        "score", "--model", "models:/creditmine-quick_loan@champion", "--input", str(tmp_path / "apps.csv"),
        "--output", str(tmp_path / "out.csv"), "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}",
        "--engine", "spark"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Error: --engine spark needs a Java runtime (Java 17)" in result.output
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "none.db").exists()


# -- with Spark -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def champion(tmp_path_factory, quick_loan_stages):
    if spark_engine.spark_unavailable():
        pytest.skip(spark_engine.spark_unavailable())
    root = tmp_path_factory.mktemp("score_spark") / "project"
    root.mkdir()
    from creditmine.decision.score import tracking_store

    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        cfg, name, version, _, _ = factories.approved_champion(root, quick_loan_stages)
    return cfg, name, version


def _applications(cfg, n: int, seed: int = 5) -> pd.DataFrame:
    """`n` application rows drawn from the feature table, some of them bad in every way."""
    from creditmine import artifacts

    apps = artifacts.read_features(artifacts.layout(cfg)).drop(columns=["split", "default_12m"], errors="ignore")
    rows = apps.iloc[np.random.default_rng(seed).integers(0, len(apps), n)].reset_index(drop=True)
    rows["application_id"] = [f"S{i:05d}" for i in range(n)]
    rows["applied_at"] = rows["applied_at"].dt.strftime("%Y-%m-%d")
    rows = rows.astype({"requested_amount_cny": object, "product": object})
    rows.loc[3, "requested_amount_cny"] = -5.0
    rows.loc[4, "requested_amount_cny"] = "12,5"
    rows.loc[5, "product"] = "mortgage"
    rows.loc[6, "enterprise_age_years"] = np.inf
    rows.loc[7, "application_id"] = rows.loc[8, "application_id"]
    rows.loc[9, "industry_section"] = None
    return rows


def _score(cfg, name, input_path, output_path, engine):
    result = CliRunner().invoke(main, [
        "score", "--model", f"models:/{name}@champion", "--input", str(input_path), "--output", str(output_path),
        "--tracking-uri", cfg.tracking_uri, "--quiet", "--engine", engine,
    ], env={"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": None})
    assert result.exit_code == 0, result.output
    return pd.read_parquet(output_path)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_decides_every_row_as_in_process_scoring(champion, tmp_path):
    cfg, name, _ = champion
    rows = _applications(cfg, 1500)
    # JSON lines keep a number and text in one field (requested_amount_cny), as a client may send them
    rows.to_json(tmp_path / "apps.jsonl", orient="records", lines=True)
    local = _score(cfg, name, tmp_path / "apps.jsonl", tmp_path / "local.parquet", "local")
    spark = _score(cfg, name, tmp_path / "apps.jsonl", tmp_path / "spark.parquet", "spark")
    assert spark["application_id"].tolist() == rows["application_id"].tolist()
    pd.testing.assert_frame_equal(spark, local)                       # row by row, every column
    assert local.loc[[3, 4, 5, 6, 7, 8], "decision"].eq("refer").all()
    assert {"approve", "refer"} <= set(local["decision"]) and (local["error"] == "").mean() > 0.5


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_workers_refuse_a_copy_that_is_not_the_approved_version(champion, tmp_path):
    from creditmine.decision.score import resolve_model, verified_copy

    cfg, name, _ = champion
    local = verified_copy(resolve_model(f"models:/{name}@champion", cfg.tracking_uri), cfg.tracking_uri)
    tampered = tmp_path / "model"
    shutil.copytree(local, tampered)
    policy = next(tampered.rglob("policy.json"))
    policy.write_text(policy.read_text(encoding="utf-8").replace("approve", "approvE"), encoding="utf-8")
    rows = _applications(cfg, 50).iloc[10:]
    with pytest.raises(Exception, match="do not match the manifest"):
        spark_engine.decide_on_spark(tampered, rows, cfg.tracking_uri)
