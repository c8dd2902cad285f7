"""Params files are validated on load, with one-line errors that name the key and the file."""

from pathlib import Path

import pytest

from creditmine import config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["default", "ci", "germancredit"])
def test_shipped_params_load(name):
    cfg = config.load(REPO / "params" / f"{name}.yaml")
    assert cfg.run_name == name
    assert cfg.root == REPO
    assert set(cfg.products) == set(cfg.params.products)


def write(tmp_path: Path, text: str) -> Path:
    params = tmp_path / "params"
    (params / "products").mkdir(parents=True, exist_ok=True)
    (params / "products" / "p.yaml").write_text("name: p\napplication_products: [tax]\n")
    path = params / "run.yaml"
    path.write_text(text)
    return path


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "products: [p]\nmodels:\n  scorcard: {pdo: 20}\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert "unknown key 'models.scorcard'" in message
    assert str(path) in message
    assert "\n" not in message


def test_wrong_type_names_the_key_and_value(tmp_path):
    path = write(tmp_path, "products: [p]\nmodels:\n  gbm: {max_iter: lots}\n")
    with pytest.raises(config.ConfigError, match=r"key 'models.gbm.max_iter'.*'lots'"):
        config.load(path)


def test_missing_file_and_missing_product_file(tmp_path):
    with pytest.raises(config.ConfigError, match="params file not found"):
        config.load(tmp_path / "absent.yaml")
    path = write(tmp_path, "products: [p, nope]\n")
    with pytest.raises(config.ConfigError, match=r"product 'nope' has no file .*products/nope.yaml: create it"):
        config.load(path)


def test_split_dates_must_be_ordered(tmp_path):
    path = write(tmp_path, "products: [p]\nsplit: {train_end: 2023-06-30, oot_start: 2023-01-01}\n")
    with pytest.raises(config.ConfigError, match="oot_start must be after train_end"):
        config.load(path)


def test_paths_and_tracking_default_to_the_project(tmp_path, monkeypatch):
    cfg = config.load(write(tmp_path, "products: [p]\n"), run_name="r1")
    assert cfg.run_dir == tmp_path / "runs" / "r1"
    from creditmine import artifacts

    assert artifacts.layout(cfg, "p").stage_dir(artifacts.TRAIN) == tmp_path / "runs" / "r1" / "p" / "02_train"
    assert cfg.tracking_uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert cfg.tracking_uri == "http://127.0.0.1:5000"


def test_data_cache_key_follows_the_data_params(tmp_path):
    a = config.load(write(tmp_path, "products: [p]\ndata: {synthetic: {enterprises: 100}}\n"))
    b = config.load(write(tmp_path, "products: [p]\ndata: {synthetic: {enterprises: 200}}\n"))
    c = config.load(write(tmp_path, "products: [p]\ndata: {synthetic: {enterprises: 100}}\nmodels: {primary: scorecard}\n"))
    assert a.data_dir != b.data_dir
    assert a.data_dir == c.data_dir
    assert a.params_hash != c.params_hash
