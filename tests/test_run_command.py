"""`creditmine run` names what failed in one line, whatever failed."""

from click.testing import CliRunner

from creditmine import pipeline
from creditmine.cli import main
from factories import REPO


def test_an_unexpected_error_is_one_line_without_a_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the store at sqlite:///nowhere/mlflow.db is read-only\nmore detail")

    monkeypatch.setattr(pipeline, "run", broken)
    result = CliRunner().invoke(main, ["run", "--params", str(REPO / "params" / "ci.yaml"), "--run-name", "x"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: run 'x' failed: RuntimeError: the store at sqlite:///nowhere/mlflow.db is read-only")
    assert "Traceback" not in result.output
