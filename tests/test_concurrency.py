"""Four stage-05 runs started at once against one fresh embedded SQLite store all register a version."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from test_review import MODEL, build_project

RUNS = ("p1", "p2", "p3", "p4")

# one pipeline's stage 05: fit on its own stage outputs, log the run, log the model, register
_STAGE_05 = textwrap.dedent("""
    import sys
    import mlflow, mlflow.sklearn
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from creditmine import config
    from creditmine.registry import tracking

    root, run_name = sys.argv[1], sys.argv[2]
    cfg = config.load(f"{root}/params/test.yaml", run_name=run_name, root=root)
    features = pd.read_parquet(cfg.stage_dir("01_build_features") / "features.parquet")
    columns = ["sales_growth_12m", "late_filings_12m", "contract_value_cny"]
    model = LogisticRegression().fit(features[columns], features["default_12m"])
    run_id = tracking.log_pipeline_run(cfg, "procurement")
    mlflow.set_tracking_uri(cfg.tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="skops",
                                        pip_requirements=["scikit-learn"])
    version = tracking.register_version(cfg, "procurement", run_id, info.model_uri, developer="dana")
    print("VERSION", version.version, run_id)
""")


@pytest.mark.slow
def test_four_concurrent_pipeline_runs_register_distinct_versions(tmp_path):
    from creditmine.registry import audit
    from creditmine.registry.tracking import connect

    for i, run_name in enumerate(RUNS):
        cfg, _, _ = build_project(tmp_path, run_name, seed=i)
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # the four race to create the store
    env = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    processes = [
        subprocess.Popen([sys.executable, "-c", _STAGE_05, str(tmp_path), run_name],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for run_name in RUNS
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-3000:]
        assert "database is locked" not in err
    versions = sorted(int(out.split("VERSION")[1].split()[0]) for out, _ in outputs)
    assert versions == [1, 2, 3, 4]
    client = connect(cfg.tracking_uri)
    registered = client.search_model_versions(f"name='{MODEL}'")
    assert len({v.run_id for v in registered}) == 4
    assert all(v.tags["review_state"] == "pending" for v in registered)
    report = audit.verify(cfg.tracking_uri, client)
    assert report.ok and report.entries == 4, report.describe()
