"""One MLflow store wherever a command runs: relative store URIs are resolved against the project root."""

import os

import pytest

from creditmine import config
from factories import project


@pytest.mark.parametrize("uri, resolved", [
    ("sqlite:///mlruns/mlflow.db", "sqlite:////proj/mlruns/mlflow.db"),
    ("sqlite:///./mlruns/mlflow.db", "sqlite:////proj/mlruns/mlflow.db"),
    ("sqlite:////srv/store/mlflow.db", "sqlite:////srv/store/mlflow.db"),
    ("file:mlruns", "file:///proj/mlruns"),
    ("file:///srv/mlruns", "file:///srv/mlruns"),
    ("mlruns", "/proj/mlruns"),
    ("./team/mlruns", "/proj/team/mlruns"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("databricks", "databricks"),
])
def test_relative_store_uris_are_made_absolute(uri, resolved):
    assert config.resolve_tracking_uri(uri, "/proj") == resolved


def test_run_config_resolves_a_relative_uri_from_the_environment_and_the_params(tmp_path, monkeypatch):
    cfg = project(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlruns/mlflow.db")
    monkeypatch.chdir(tmp_path / "params")            # a notebook or command running somewhere else
    assert cfg.tracking_uri == f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').resolve().as_posix()}"
    text = (tmp_path / "params" / "test.yaml").read_text() + "mlflow: {tracking_uri: 'sqlite:///team/store.db'}\n"
    (tmp_path / "params" / "test.yaml").write_text(text)
    cfg = config.load(tmp_path / "params" / "test.yaml", root=tmp_path)
    assert cfg.tracking_uri == f"sqlite:///{(tmp_path / 'team' / 'store.db').resolve().as_posix()}"


def test_the_environment_is_rewritten_for_subprocesses(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlruns/mlflow.db")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///mlruns/mlflow.db")
    config.resolve_tracking_env(tmp_path)
    expected = f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').resolve().as_posix()}"
    assert os.environ["MLFLOW_TRACKING_URI"] == expected and os.environ["MLFLOW_REGISTRY_URI"] == expected


def test_review_commands_resolve_a_relative_uri_too(tmp_path, monkeypatch):
    from creditmine.cli.store import store_uri

    monkeypatch.chdir(config.project_root())
    root = config.project_root()
    assert store_uri("sqlite:///mlruns/mlflow.db", None) == f"sqlite:///{(root / 'mlruns' / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlruns/other.db")
    assert store_uri(None, None) == f"sqlite:///{(root / 'mlruns' / 'other.db').as_posix()}"
