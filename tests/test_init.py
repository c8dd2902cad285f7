"""`creditmine init`, the notebooks installed with creditmine, and a product without its file."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from creditmine import config
from creditmine.pipeline import PACKAGED_NOTEBOOKS, STAGES, notebook_path
from factories import creditmine_env

REPO = Path(__file__).resolve().parents[1]
GERMAN = REPO / "datasets" / "germancredit" / "germancredit.csv"


def init(*args, cwd):
    return subprocess.run([sys.executable, "-m", "creditmine.cli", "init", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=creditmine_env())


def test_init_scaffolds_a_project_that_loads(tmp_path):
    data = tmp_path / "project" / "data" / "german.csv"
    data.parent.mkdir(parents=True)
    data.write_bytes(GERMAN.read_bytes())
    result = init("project", "--data", data, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    cfg = config.load(tmp_path / "project" / "params" / "german.yaml")
    tabular = cfg.params.data.tabular
    assert cfg.root == (tmp_path / "project").resolve()
    assert tabular.path == "data/german.csv"                 # inside the project: relative to its root
    assert (tabular.target_column, tabular.bad_values) == ("creditability", ("bad",))
    assert (tabular.amount_column, tabular.term_column) == ("credit_amount", "duration_in_month")
    assert list(cfg.products) == ["german"]
    notes = (tmp_path / "project" / "NEXT.md").read_text(encoding="utf-8")
    assert "exclude_columns" in notes and "population" in notes and "creditmine run --params params/german.yaml" in notes
    again = init("project", "--data", data, cwd=tmp_path)
    assert again.returncode != 0 and "already exist: pass --force" in again.stderr
    assert init("project", "--data", data, "--force", cwd=tmp_path).returncode == 0


def test_init_asks_for_what_it_cannot_guess(tmp_path):
    frame = pd.DataFrame({"income": [1, 2, 3, 4], "outcome": ["paid", "late", "paid", "written off"]})
    frame.to_csv(tmp_path / "loans.csv", index=False)
    unknown_target = init("p", "--data", tmp_path / "loans.csv", cwd=tmp_path)
    assert unknown_target.returncode != 0
    assert "name the target column with --target (columns: income, outcome)" in unknown_target.stderr
    unknown_bad = init("p", "--data", tmp_path / "loans.csv", "--target", "outcome", cwd=tmp_path)
    assert "Give them with --bad (values: late, paid, written off)" in unknown_bad.stderr
    wrong_bad = init("p", "--data", tmp_path / "loans.csv", "--target", "outcome", "--bad", "lost", cwd=tmp_path)
    assert "--bad lost: not a value of column 'outcome'" in wrong_bad.stderr
    several = init("p", "--data", tmp_path / "loans.csv", "--target", "outcome", "--bad", "late",
                   "--bad", "written off", cwd=tmp_path)
    assert several.returncode == 0, several.stderr
    assert config.load(tmp_path / "p" / "params" / "loans.yaml").params.data.tabular.bad_values == ("late", "written off")
    for result in (unknown_target, unknown_bad, wrong_bad):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_product_without_its_file_is_one_line_saying_what_to_create(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text("name: mine\nproducts: [loans]\n", encoding="utf-8")
    with pytest.raises(config.ConfigError) as error:
        config.load(tmp_path / "params" / "mine.yaml")
    message = str(error.value)
    assert "\n" not in message
    assert "product 'loans' has no file" in message and "create it (at least `name: loans`" in message


def test_a_project_without_notebooks_runs_the_installed_ones(tmp_path):
    for stage in STAGES:
        assert notebook_path(tmp_path, stage.notebook) == PACKAGED_NOTEBOOKS / stage.notebook
        assert (PACKAGED_NOTEBOOKS / stage.notebook).read_bytes() == (REPO / "notebooks" / stage.notebook).read_bytes()
    own = tmp_path / "notebooks" / STAGES[0].notebook
    own.parent.mkdir()
    own.write_text("{}", encoding="utf-8")
    assert notebook_path(tmp_path, STAGES[0].notebook) == own    # the project's own copy wins
