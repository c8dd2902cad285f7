"""The decision model: PD, score, grade, decision, limit, term and reasons per application, and its gate."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import creditmine.config as config
import factories
from creditmine import artifacts
from creditmine.decision.model import OUTPUT_COLUMNS, REASON_COLUMNS, DecisionEngine
from creditmine.explain.reasons import ReasonCoder, to_wide
from creditmine.features.catalog import synthetic_catalog
from creditmine.models import GbmModel, MasterScale

MODEL_FEATURES = factories.MODEL_FEATURES
synthetic_applications = factories.synthetic_applications


@pytest.fixture(scope="module")
def fitted():
    apps = synthetic_applications(4000, seed=11)
    model = GbmModel(categorical_features=("product", "industry_section"), max_iter=40, search_trials=0,
                     min_samples_leaf=40, grading=MasterScale(grades=7), random_state=0)
    model.fit(apps[MODEL_FEATURES], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)
    return engine, model, catalog


def test_outputs_agree_with_the_model_and_the_policy(fitted):
    engine, model, _ = fitted
    apps = synthetic_applications(300, seed=5)
    out = engine.decide(apps)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out["application_id"].tolist() == apps["application_id"].tolist()
    X = apps[MODEL_FEATURES]
    np.testing.assert_allclose(out["pd"], model.predict_pd(X))
    np.testing.assert_allclose(out["score"], model.credit_score(X))
    np.testing.assert_array_equal(out["grade"], model.grade(X))
    policy = engine.product.policy
    scored = out["error"] == ""
    approve = out["grade"].isin(policy.approve_grades)
    assert (out.loc[scored & approve, "decision"] == "approve").all()
    assert (out.loc[out["grade"].isin(policy.refer_grades), "decision"] == "refer").all()
    declined = out["decision"] == "decline"
    assert (~out.loc[declined, "grade"].isin((*policy.approve_grades, *policy.refer_grades))).all()
    assert (out.loc[declined, "credit_limit_cny"] == 0).all() and (out.loc[declined, "term_months"] == 0).all()
    assert (out.loc[~declined, "term_months"] <= policy.max_term_months).all()
    assert (out["credit_limit_cny"].fillna(0) <= apps["requested_amount_cny"]).all()


def test_limit_follows_the_product_rule(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(200, seed=6)
    out = engine.decide(apps)
    policy = engine.product.policy
    rows = (out["decision"] == "approve").to_numpy()
    tax = rows & (apps["product"] == "tax").to_numpy()
    scale = out.loc[tax, "grade"].map(policy.grade_limit_scale).to_numpy()
    expected = np.minimum(0.2 * apps.loc[tax, "taxable_sales_12m"].to_numpy() * scale,
                          apps.loc[tax, "requested_amount_cny"].to_numpy())
    expected = np.minimum(expected, np.where(apps.loc[tax, "specialized_innovative"] == 1, 5e7, 1e7))
    np.testing.assert_allclose(out.loc[tax, "credit_limit_cny"], np.floor(expected / 1000) * 1000)


def test_reasons_are_the_explain_packages_in_both_languages(fitted):
    engine, model, catalog = fitted
    apps = synthetic_applications(50, seed=7)
    out = engine.decide(apps)
    coder = ReasonCoder(catalog, top_k=4).fit(model)
    wide = to_wide(coder.explain(apps[MODEL_FEATURES], apps["application_id"]), 4).set_index("application_id")
    for column in REASON_COLUMNS:
        expected = wide[column].reindex(apps["application_id"]).fillna("").to_numpy()
        np.testing.assert_array_equal(out[column].to_numpy(), expected)
    assert (out["reason_1_en"] != "").mean() > 0.9
    assert out["reason_1_zh"].str.contains(r"[\u4e00-\u9fff]").mean() > 0.9


def test_bad_rows_are_referred_with_their_reason_and_spare_the_others(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(6, seed=8).astype({"requested_amount_cny": object, "product": object})
    alone = engine.decide(apps)
    apps.loc[1, "requested_amount_cny"] = -100.0
    apps.loc[2, "product"] = "mortgage"
    apps.loc[3, ["enterprise_age_years", "industry_section", "taxable_sales_12m", "taxable_sales_growth_12m",
                 "tax_late_filings_12m", "invoiced_sales_12m", "invoice_red_letter_share_12m",
                 "electricity_late_payments_12m", "specialized_innovative"]] = np.nan
    apps.loc[3, "tax_missing"] = 1.0
    apps.loc[4, "requested_amount_cny"] = "lots"
    out = engine.decide(apps)
    assert out.loc[[1, 2, 3, 4], "decision"].eq("refer").all()
    assert out.loc[[1, 2, 3, 4], "pd"].isna().all()
    assert "requested_amount_cny must be positive" in out.loc[1, "error"]
    assert "unknown product 'mortgage'" in out.loc[2, "error"]
    assert "no data on the enterprise" in out.loc[3, "error"]
    assert "requested_amount_cny: expected a number, got 'lots'" in out.loc[4, "error"]
    pd.testing.assert_frame_equal(out.loc[[0, 5]], alone.loc[[0, 5]])


def test_missing_limit_base_refers_with_the_reason(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(40, seed=9)
    apps["product"] = "tax"
    apps["taxable_sales_12m"] = np.nan  # scored, but no sales on record to size the limit
    out = engine.decide(apps)
    eligible = out["grade"].isin(engine.product.policy.approve_grades)
    assert eligible.any()
    assert (out.loc[eligible, "decision"] == "refer").all()
    assert out.loc[eligible, "error"].str.contains("no taxable_sales_12m on record").all()
    assert out["pd"].notna().all()


def test_an_empty_or_all_bad_batch_does_not_crash(fitted):
    engine, _, _ = fitted
    apps = synthetic_applications(3, seed=10).drop(columns=["product"])
    out = engine.decide(apps)
    assert out["decision"].eq("refer").all() and out["error"].str.contains("missing field product").all()
    assert engine.decide(apps.iloc[:0]).empty


def test_the_booster_matrix_is_the_models_own(fitted):
    engine, model, _ = fitted
    apps = synthetic_applications(30, seed=12).astype({"industry_section": object})
    apps.loc[0, "industry_section"] = "Z"  # unseen category
    apps.loc[1, "industry_section"] = None
    batch = engine.input_spec
    from creditmine.decision.inputs import validate_applications

    columns = validate_applications(apps, batch).columns
    np.testing.assert_array_equal(engine.booster_matrix(columns), model.transform_features(apps[MODEL_FEATURES]))


def test_a_scorecard_decides_through_its_own_api():
    from creditmine.models.scorecard import ScorecardModel

    apps = synthetic_applications(3000, seed=13)
    features = [f for f in MODEL_FEATURES if f != "product"]
    model = ScorecardModel(categorical_features=("industry_section",), grading=MasterScale(grades=6), random_state=0)
    model.fit(apps[features], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)
    test = synthetic_applications(100, seed=14)
    out = engine.decide(test)
    np.testing.assert_allclose(out["pd"], model.predict_pd(test[features]))
    np.testing.assert_array_equal(out["grade"], model.grade(test[features]))
    assert set(out["decision"]) <= {"approve", "refer", "decline"} and (out["error"] == "").mean() > 0.8
    assert (out.loc[out["decision"] == "decline", "reason_1_en"] != "").all()


# -- the registered model: logged from code, registered, reviewed, gated ------------------------------
PRODUCT = "quick_loan"


@pytest.fixture(scope="module")
def registered(tmp_path_factory, quick_loan_stages):
    from creditmine.decision.score import tracking_store

    root = tmp_path_factory.mktemp("decide") / "project"
    root.mkdir()
    # stage 05 leaves MLflow pointed at the run's store; put it back for the tests that follow
    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        return factories.approved_champion(root, quick_loan_stages, PRODUCT)


@pytest.fixture
def store(registered, monkeypatch):
    cfg = registered[0]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", cfg.tracking_uri)
    return registered


@pytest.mark.slow
def test_the_logged_model_holds_data_and_loads_through_the_installed_package(store):
    import mlflow
    import yaml

    cfg, name, version, model_id, _ = store
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{model_id}", tracking_uri=cfg.tracking_uri))
    spec = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
    pyfunc = spec["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "creditmine.decision.loader" and pyfunc.get("code") is None
    assert set(spec["flavors"]) == {"python_function"}
    assert not list(local.rglob("*.py")) and not list(local.rglob("*.pkl"))  # data and skops only
    assert (local / pyfunc["data"] / "credit_model.skops").is_file()
    assert mlflow.models.Model.load(str(local)).get_model_info().signature is not None
    # the registered version's source is the gated scheme, not the artifact store
    assert mlflow.MlflowClient(cfg.tracking_uri, cfg.tracking_uri).get_model_version(name, version).source.startswith(
        "creditmine:/runs/")


@pytest.mark.slow
def test_the_champion_decides_through_mlflow(store):
    import mlflow

    cfg, name, version, _, apps = store
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    sample = apps.iloc[:200]
    out = model.predict(sample)
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == 200
    assert set(out["decision"]) <= {"approve", "refer", "decline"}
    assert (out.loc[out["error"] == "", "reason_1_en"] != "").mean() > 0.9
    bad = sample.iloc[:2].astype({"requested_amount_cny": object}).copy()
    bad.iloc[0, bad.columns.get_loc("requested_amount_cny")] = "-"
    bad.iloc[1, bad.columns.get_loc("product")] = "mortgage"
    out = model.predict(bad)
    assert out["decision"].tolist() == ["refer", "refer"]
    assert "requested_amount_cny: expected a number" in out["error"][0] and "unknown product" in out["error"][1]


@pytest.mark.slow
def test_creditmine_score_writes_a_decision_per_row(store, tmp_path):
    from click.testing import CliRunner

    from creditmine.cli.score import score

    cfg, name, version, _, apps = store
    features = artifacts.layout(cfg).features_table
    ids = tmp_path / "ids.csv"
    pd.DataFrame({"application_id": [*apps["application_id"].iloc[:50], "NOPE"]}).to_csv(ids, index=False)
    result = CliRunner().invoke(score, ["--model", f"models:/{name}@champion", "--input", str(ids),
                                        "--output", str(tmp_path / "out.csv"), "--features", str(features),
                                        "--tracking-uri", cfg.tracking_uri, "--quiet"])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig", keep_default_na=False)
    assert len(out) == 51 and out["application_id"].tolist()[-1] == "NOPE"
    assert "not found in the feature table" in out["error"].iloc[-1] and out["decision"].iloc[-1] == "refer"
    assert "51 applications" in result.output


@pytest.mark.slow
def test_the_gate_holds_against_a_moved_alias_a_broken_trail_and_changed_artifacts(store, tmp_path, monkeypatch):
    import mlflow
    from click.testing import CliRunner

    from creditmine.cli.score import score
    from creditmine.decision.score import tracking_store
    from creditmine.registry.gate import DeploymentRefused
    from creditmine.registry.trail_store import open_trail

    cfg, name, version, model_id, apps = store
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking_uri)
    uri = f"models:/{name}@champion"
    rows = tmp_path / "rows.parquet"
    apps.iloc[:5].to_parquet(rows)

    def refused(expected: str) -> None:
        result = CliRunner().invoke(score, ["--model", uri, "--input", str(rows), "--output", str(tmp_path / "o.csv"),
                                            "--tracking-uri", cfg.tracking_uri, "--quiet"])
        assert result.exit_code != 0 and expected in result.output, result.output
        with pytest.raises(Exception, match=expected) as caught:
            mlflow.pyfunc.load_model(uri)
        assert isinstance(caught.value, DeploymentRefused) or "DeploymentRefused" in repr(caught.value) or expected in str(caught.value)

    # 1. a new, unreviewed version made champion with the plain MLflow client
    source = client.get_model_version(name, version)
    with tracking_store(cfg.tracking_uri):
        pending = factories.register(cfg, PRODUCT)
    client.set_registered_model_alias(name, "champion", pending.version)
    refused("is not approved")
    client.set_registered_model_alias(name, "champion", version)
    # a pending copy of the approved artifact does not stop the approved one
    client.create_model_version(name, source=source.source, run_id=source.run_id, model_id=source.model_id,
                                tags={"review_state": "pending"})

    # 2. an audit trail that no longer verifies
    trail = open_trail(cfg.tracking_uri).path
    original = trail.read_bytes()
    trail.write_bytes(original.replace(b"validator-b", b"validator-x", 1))
    refused("audit trail")
    trail.write_bytes(original)

    # 3. a policy changed in the artifact store (a higher cap) after the review; a verified copy
    # already cached keeps deciding with the approved bytes, a fresh download is refused
    from creditmine.registry.integrity import ENV_CACHE

    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "fresh-cache"))
    logged = client.get_logged_model(model_id)
    policy = next(Path(logged.artifact_location.removeprefix("file://")).rglob("policy.json"))
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace("10000000", "90000000"), encoding="utf-8")
    refused("do not match the manifest")
    policy.write_text(text, encoding="utf-8")

    assert len(mlflow.pyfunc.load_model(uri).predict(apps.iloc[:3])) == 3  # restored: serves again


@pytest.mark.slow
def test_code_planted_in_the_artifact_store_never_runs(store, tmp_path, monkeypatch):
    """The approved champion's MLmodel rewritten to load a planted pickle (what a person with write
    access to the artifact store could do): `mlflow.pyfunc.load_model`, `creditmine score` and
    `creditmine serve` each refuse before parsing it, and the planted code never runs."""
    import os
    import pickle
    import subprocess
    import sys

    import mlflow
    import yaml
    from click.testing import CliRunner

    from creditmine.cli.score import score
    from creditmine.registry.integrity import ENV_CACHE

    cfg, name, version, model_id, apps = store
    model_dir = Path(mlflow.MlflowClient(cfg.tracking_uri).get_logged_model(model_id).artifact_location.removeprefix("file://"))
    mlmodel = model_dir / "MLmodel"
    original = mlmodel.read_text(encoding="utf-8")
    marker = tmp_path / "planted-code-ran"

    class Planted:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    spec = yaml.safe_load(original)
    spec["flavors"] = {"python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
                       "sklearn": {"pickled_model": "model.pkl", "serialization_format": "pickle"}}
    (model_dir / "model.pkl").write_bytes(pickle.dumps(Planted()))
    mlmodel.write_text(yaml.safe_dump(spec), encoding="utf-8")
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "fresh-cache"))  # no verified copy from earlier tests
    uri = f"models:/{name}@champion"
    rows = tmp_path / "rows.parquet"
    apps.iloc[:5].to_parquet(rows)
    try:
        with pytest.raises(Exception, match="do not match the manifest"):
            mlflow.pyfunc.load_model(uri)
        result = CliRunner().invoke(score, ["--model", uri, "--input", str(rows), "--output", str(tmp_path / "o.csv"),
                                            "--tracking-uri", cfg.tracking_uri, "--quiet"])
        assert result.exit_code != 0 and "do not match the manifest" in result.output, result.output
        served = subprocess.run([sys.executable, "-m", "creditmine.cli", "serve", "--model", uri,
                                 "--tracking-uri", cfg.tracking_uri], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "MLFLOW_TRACKING_URI": cfg.tracking_uri})
        assert served.returncode != 0 and "do not match the manifest" in served.stderr, served.stderr[-2000:]
        assert not marker.exists()
    finally:
        mlmodel.write_text(original, encoding="utf-8")
        (model_dir / "model.pkl").unlink()
    assert len(mlflow.pyfunc.load_model(uri).predict(apps.iloc[:3])) == 3  # restored: serves again
