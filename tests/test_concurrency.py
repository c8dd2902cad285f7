"""Four stage-05 runs started at once against one fresh embedded SQLite store all register a version."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import factories

MODEL = "creditmine-quick_loan"
RUNS = ("p1", "p2", "p3", "p4")

# one pipeline's stage 05 (lineage run, decision model, registration) on its own stage outputs
_STAGE_05 = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])
    import factories
    from creditmine import config

    root, run_name = sys.argv[1], sys.argv[2]
    cfg = config.load(f"{root}/params/test.yaml", run_name=run_name, root=root)
    version = factories.register(cfg, "quick_loan")
    print("VERSION", version.version, version.run_id)
""")


@pytest.mark.slow
def test_four_concurrent_pipeline_runs_register_distinct_versions(tmp_path):
    from pathlib import Path

    from creditmine.governance.review import trail, verify
    from creditmine.registry.store import connect

    cfg = factories.quick_loan_project(tmp_path, RUNS[0], n=1500)
    for run_name in RUNS[1:]:
        factories.copy_run(cfg, run_name)
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # the four race to create the store
    env = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    processes = [
        subprocess.Popen([sys.executable, "-c", _STAGE_05, str(tmp_path), run_name, str(Path(__file__).parent)],
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
    assert [e["action"] for e in trail(cfg.tracking_uri)] == ["register"] * 4
    assert verify(cfg.tracking_uri) == []
