"""The `creditmine` command: help everywhere, fast params errors, failing stages named."""

import subprocess
import sys
import time

import pytest

from factories import creditmine_env

CLI = [sys.executable, "-m", "creditmine.cli"]


def creditmine(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=creditmine_env())


@pytest.mark.parametrize("command", [[], ["run"], ["check-params"], ["generate"], ["ingest"], ["review"], ["score"], ["serve"], ["team"], ["team", "up"]])
def test_every_command_has_help(command):
    result = creditmine(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_typo_in_params_fails_fast_naming_the_key(project):
    params = project / "params" / "typo.yaml"
    params.write_text("name: typo\nproducts: [procurement]\nvalidation:\n  bootstrp: 10\n")
    started = time.perf_counter()
    result = creditmine("run", "--params", str(params))
    assert time.perf_counter() - started < 5
    assert result.returncode != 0
    assert "unknown key 'validation.bootstrp'" in result.stderr
    assert str(params) in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_stage_and_product_are_refused_before_running(project):
    params = str(project / "params" / "ci.yaml")
    result = creditmine("run", "--params", params, "--stages", "07")
    assert result.returncode != 0 and "unknown stage '07'" in result.stderr
    result = creditmine("run", "--params", params, "--products", "mortgage")
    assert result.returncode != 0 and "unknown product 'mortgage'" in result.stderr
    assert not (project / "runs").exists()


def test_failing_stage_exits_nonzero_with_its_name(project):
    # stage 02 without stage 01's outputs cannot find its feature table
    result = creditmine("run", "--params", str(project / "params" / "ci.yaml"), "--stages", "02",
                        "--products", "procurement", "--run-name", "broken")
    assert result.returncode != 0
    assert "stage 02_train (product procurement) failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert (project / "reports" / "broken" / "procurement" / "02_train.ipynb").is_file()
