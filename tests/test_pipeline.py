"""The whole pipeline, end to end, through papermill: the slow tests CI relies on most."""

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from creditmine import artifacts, config
from creditmine.pipeline import STAGES, select_stages
from factories import creditmine_env

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run_pipeline(params, run_name, stages=None, cwd=None):
    args = [sys.executable, "-m", "creditmine.cli", "run", "--params", str(params), "--run-name", run_name]
    if stages:
        args += ["--stages", stages]
    result = subprocess.run(args, capture_output=True, text=True, env=creditmine_env(), cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def test_ci_pipeline_runs_end_to_end_and_is_deterministic(ci_run, ci_second_run):
    cfg, _ = ci_run                       # `creditmine run --params params/ci.yaml`, once per session
    reports = sorted(p.relative_to(cfg.reports_dir).as_posix() for p in cfg.reports_dir.rglob("*.html"))
    expected = ["01_build_features.html", "index.html"] + [
        f"{product}/{stage.name}.html" for product in cfg.products for stage in STAGES if stage.per_product
    ]
    assert reports == sorted(expected)
    for html in cfg.reports_dir.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert "Traceback" not in text and "params_file =" not in text, html

    # every product has a registered version awaiting review, reachable through MLflow's own client
    client = MlflowClient(tracking_uri=cfg.tracking_uri)
    for product in cfg.products:
        versions = client.search_model_versions(f"name='creditmine-{product}'")
        assert len(versions) == 1
        assert versions[0].tags.get("review_state") == "pending"
        assert client.get_run(versions[0].run_id).data.tags.get("git_commit")

    # a second run of the same params (stages 01-04, run after the first: `ci_second_run`) gives
    # identical metrics
    for product in cfg.products:
        first = artifacts.read_validation(artifacts.layout(cfg, product))
        second = artifacts.read_validation(artifacts.layout(ci_second_run, product))
        assert model_metrics(first) == model_metrics(second)
        assert first["verdict"] == second["verdict"]


def model_metrics(validation: dict) -> dict:
    """Every metric but the stages' own timings, which vary with the machine's load."""
    return {k: v for k, v in validation["metrics"].items() if not k.endswith("seconds")}


def test_bring_your_own_data_runs_the_whole_pipeline(tmp_path):
    """A folder with nothing but a data file: `creditmine init`, then the pipeline on the scaffolded
    params (default settings, no tuning) with the notebooks installed with creditmine."""
    project = tmp_path / "mine"
    (project / "data").mkdir(parents=True)
    (project / "data" / "german.csv").write_bytes((REPO / "datasets" / "germancredit" / "germancredit.csv").read_bytes())
    scaffolded = subprocess.run([sys.executable, "-m", "creditmine.cli", "init", str(project), "--data",
                                 str(project / "data" / "german.csv")], capture_output=True, text=True,
                                env=creditmine_env())
    assert scaffolded.returncode == 0, scaffolded.stderr
    params = project / "params" / "german.yaml"
    run_pipeline(params, "german")
    assert not (project / "notebooks").exists()
    cfg = config.load(params, run_name="german")
    assert len(list(cfg.reports_dir.rglob("*.html"))) == 6   # five reports and the index
    validation = artifacts.read_validation(artifacts.layout(cfg, "german"))
    assert validation["verdict"] in {"green", "amber", "red"}
    client = MlflowClient(tracking_uri=cfg.tracking_uri)
    assert client.search_model_versions("name='creditmine-german'")


def test_stage_selection():
    assert [s.number for s in select_stages("02,01")] == ["01", "02"]
    assert [s.number for s in select_stages("03_explain")] == ["03"]
    assert select_stages(None) == STAGES
    with pytest.raises(ValueError, match="unknown stage"):
        select_stages("09")
