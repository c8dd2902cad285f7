"""The notebooks run on their defaults right after `make pipeline`: they find the latest run."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from creditmine import config
from creditmine.artifacts import STAGES
from creditmine.reports.notebook import latest_run, product_of, run_config, write_run_record
from factories import REPO, project

NOTEBOOKS = REPO / "notebooks"


def _marker(root: Path) -> None:
    """What makes a folder a project for `config.project_root`."""
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")


def test_defaults_are_the_latest_run(tmp_path):
    _marker(tmp_path)
    ci = project(tmp_path, name="ci", run_name="ci")
    other = config.load(tmp_path / "params" / "ci.yaml", run_name="ci-2", root=tmp_path)
    write_run_record(ci, ("procurement", "quick_loan"))
    time.sleep(0.01)
    write_run_record(other, ("quick_loan",))
    assert latest_run(tmp_path)["run_name"] == "ci-2"
    cfg = run_config("", "", start=tmp_path / "notebooks-like")
    assert (cfg.run_name, cfg.params_path, cfg.root) == ("ci-2", tmp_path / "params" / "ci.yaml", tmp_path)
    assert run_config("", "ci", start=tmp_path).run_name == "ci"
    assert product_of(cfg) == "procurement" and product_of(cfg, "quick_loan") == "quick_loan"
    with pytest.raises(config.ConfigError, match="unknown product 'mortgage'"):
        product_of(cfg, "mortgage")


def test_without_any_run_the_defaults_are_the_quick_start(tmp_path):
    _marker(tmp_path)
    shutil.copytree(REPO / "params", tmp_path / "params")
    cfg = run_config("", "", start=tmp_path)
    assert cfg.params_path == tmp_path / "params" / "default.yaml" and cfg.run_name == "default"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_committed_parameters_are_empty_so_the_notebook_finds_the_run(stage):
    nb = json.loads((NOTEBOOKS / stage.notebook).read_text(encoding="utf-8"))
    source = "".join(nb["cells"][1]["source"])
    assert 'params_file: str = ""' in source and 'run_name: str = ""' in source
    if stage.per_product:
        assert 'product: str = ""' in source
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "creditmine.reports.notebook.run_config(params_file, run_name)" in code
    assert "at_a_glance(" in code


def test_make_lab_listens_on_loopback_and_allows_root():
    dry = subprocess.run(["make", "-s", "-n", "lab"], cwd=REPO, capture_output=True, text=True)
    line = [x for x in dry.stdout.splitlines() if "jupyter lab" in x][-1]
    assert "--ip=127.0.0.1" in line and "--notebook-dir=notebooks" in line
    assert ("--allow-root" in line) == (os.getuid() == 0)


@pytest.mark.slow
def test_make_lab_starts(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    process = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}", "LAB_ARGS=--no-browser"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            seen.append(line)
            if f"http://127.0.0.1:{port}/lab" in line:
                break
        assert any(f"http://127.0.0.1:{port}/lab" in x for x in seen), "".join(seen[-30:])
        assert not any("Running as root is not recommended. Use --allow-root" in x for x in seen)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
