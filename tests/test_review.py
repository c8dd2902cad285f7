"""The deployment review on a real MLflow SQLite store: registration, four eyes, refusals, champion aliases, gate.

Each registered version comes from a real stage-05 run: small seeded data, a fitted scikit-learn
model logged with MLflow (skops), stage 01-04 outputs written as files in the contract's layout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
MODEL = "creditmine-procurement"


# -- a small project whose stages 01-04 have run (shared by the registry tests) -------------------

def build_project(root: Path, run_name: str = "dev", seed: int = 0, verdict: str = "green"):
    """Write params, raw data and stage 01-04 outputs for `run_name` under `root`; return the RunConfig."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    from creditmine import config

    params_dir = root / "params"
    if not params_dir.exists():
        (params_dir / "products").mkdir(parents=True)
        shutil.copy(REPO / "params" / "products" / "procurement.yaml", params_dir / "products")
        (params_dir / "test.yaml").write_text(
            "name: test\nseed: 3\nproducts: [procurement]\n"
            f"mlflow:\n  tracking_uri: sqlite:///{(root / 'mlruns' / 'mlflow.db').as_posix()}\n"
            "  artifact_location: mlruns/artifacts\n"
        )
    cfg = config.load(params_dir / "test.yaml", run_name=run_name, root=root)
    rng = np.random.default_rng(seed)
    n = 400
    features = pd.DataFrame({
        "application_id": [f"A{i:05d}" for i in range(n)],
        "sales_growth_12m": rng.normal(size=n),
        "late_filings_12m": rng.poisson(1.0, size=n).astype(float),
        "contract_value_cny": rng.lognormal(13, 1, size=n),
    })
    logit = -2.0 - 0.9 * features["sales_growth_12m"] + 0.6 * features["late_filings_12m"]
    features["default_12m"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    features["split"] = np.where(np.arange(n) < 250, "train", np.where(np.arange(n) < 320, "holdout", "oot"))
    columns = ["sales_growth_12m", "late_filings_12m", "contract_value_cny"]
    train = features[features["split"] == "train"]
    model = LogisticRegression(C=0.5 + seed, max_iter=500).fit(train[columns], train["default_12m"])
    pd_ = model.predict_proba(features[columns])[:, 1]
    score = 600 - 20 / np.log(2) * np.log(pd_ / (1 - pd_) * 50)
    grade = np.clip(np.searchsorted(np.quantile(pd_, np.linspace(0, 1, 11)[1:-1]), pd_, side="right") + 1, 1, 10)

    data_dir = cfg.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    features[["application_id"]].assign(enterprise_id="91110000MA01234567").to_parquet(data_dir / "applications.parquet")
    s01 = cfg.stage_dir("01_build_features")
    s02, s03, s04 = (cfg.stage_dir(s, "procurement") for s in ("02_train", "03_explain", "04_validate"))
    for folder in (s01, s02, s03 / "plots", s04 / "plots", cfg.reports_dir / "procurement"):
        folder.mkdir(parents=True, exist_ok=True)
    features.to_parquet(s01 / "features.parquet")
    pd.DataFrame({"feature": columns, "unit": ["ratio", "count", "yuan"]}).to_csv(s01 / "data_dictionary.csv", index=False)
    (s01 / "catalog.json").write_text(json.dumps([{"name": c} for c in columns]))
    (s02 / "models.json").write_text(json.dumps({"primary": "gbm", "challenger": "scorecard", "features": columns}))
    pd.DataFrame({
        "application_id": features["application_id"], "split": features["split"], "default_12m": features["default_12m"],
        "pd_gbm": pd_, "score_gbm": score, "grade_gbm": grade.astype(int),
    }).to_parquet(s02 / "scores.parquet")
    pd.DataFrame({"feature": columns, "bin": "all", "points": [10, -5, 3]}).to_csv(s02 / "scorecard_table.csv", index=False)
    (s02 / "train_metrics.json").write_text(json.dumps({"gbm": {"auc_train": 0.71}, "scorecard": {"auc_train": 0.69}}))
    (s03 / "explain.json").write_text(json.dumps({"additivity": {"max_error": 1e-9}, "sign_check": {"passed": True}}))
    for folder, name in ((s03 / "plots", "shap_summary"), (s04 / "plots", "roc")):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot(np.sort(pd_))
        ax.set_title(name)
        fig.savefig(folder / f"{name}.png", dpi=60)
        plt.close(fig)
    oot = features["split"] == "oot"
    from sklearn.metrics import roc_auc_score
    auc_oot = float(roc_auc_score(features.loc[oot, "default_12m"], pd_[oot.to_numpy()]))
    lights = [("auc_oot", auc_oot, "green"), ("psi_score", 0.02, "green"), ("calibration_pvalue", 0.4, verdict)]
    (s04 / "validation.json").write_text(json.dumps({
        "verdict": verdict,
        "lights": [{"test": t, "value": v, "light": c, "gating": True} for t, v, c in lights],
        "metrics": {"auc_oot": auc_oot, "psi_score": 0.02, "calibration_pvalue": {"value": 0.4},
                    **{f"light.{t}": v for t, v, _ in lights}},
    }))
    (s04 / "model_card.md").write_text(
        f"# Model card: procurement ({run_name})\n\nVerdict **{verdict}**.\n\n![ROC](plots/roc.png)\n"
    )
    (cfg.reports_dir / "01_build_features.html").write_text("<html><body>features</body></html>")
    (cfg.reports_dir / "procurement" / "04_validate.html").write_text("<html><body>validation</body></html>")
    return cfg, model, features[columns]


def register(cfg, model, X, developer: str = "dana"):
    """Stage 05 as the notebook runs it: log the run, log a model into it, register the version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from creditmine.registry import tracking

    run_id = tracking.log_pipeline_run(cfg, "procurement")
    mlflow.set_tracking_uri(cfg.tracking_uri)
    mlflow.set_registry_uri(cfg.tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="skops", pip_requirements=["scikit-learn"],
            signature=infer_signature(X.head(20), model.predict_proba(X.head(20))), input_example=X.head(3),
        )
    return tracking.register_version(cfg, "procurement", run_id, info.model_uri, developer=developer)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One project + SQLite store for the module (MLflow's first migration costs seconds)."""
    root = tmp_path_factory.mktemp("registry")
    cfg, model, X = build_project(root, "r1", seed=0)
    return {"root": root, "cfg": cfg, "model": model, "X": X}


def new_version(store, run_name: str, seed: int = 1, verdict: str = "green", developer: str = "dana"):
    cfg, model, X = build_project(store["root"], run_name, seed=seed, verdict=verdict)
    return cfg, register(cfg, model, X, developer=developer)


# -- registration ----------------------------------------------------------------------------------

def test_register_version_records_lineage_tags_and_description(store):
    from mlflow import MlflowClient

    from creditmine.registry import audit, manifest
    from creditmine.registry.tracking import download_run_artifacts

    cfg, mv = new_version(store, "reg")
    client = MlflowClient(cfg.tracking_uri, cfg.tracking_uri)
    assert mv.name == MODEL
    assert mv.tags["review_state"] == "pending"
    assert mv.tags["validation_verdict"] == "green"
    assert mv.tags["developer"] == "dana"
    assert mv.description.startswith("# Model card: procurement (reg)")
    assert not mv.aliases
    run = client.get_run(mv.run_id)
    assert run.data.params["product.name"] == "procurement"
    assert run.data.metrics["auc_oot"] > 0.5 and run.data.metrics["calibration_pvalue"] == pytest.approx(0.4)
    assert run.data.metrics["train.gbm.auc_train"] == pytest.approx(0.71)
    assert run.data.tags["light.auc_oot"] == "green" and run.data.metrics["light.psi_score"] == pytest.approx(0.02)
    assert 0.5 < run.data.metrics["development_auc"] < 1
    assert len(run.data.tags["git_commit"]) in (7, 40) or run.data.tags["git_commit"] == "unknown"
    assert run.data.tags["git_dirty"] in ("true", "false")
    names = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert {"applications", "features"} <= set(names)
    sha = {t.key: t.value for t in names["features"].tags}["sha256"]
    assert sha == manifest.file_sha256(cfg.stage_dir("01_build_features") / "features.parquet")
    local = download_run_artifacts(client, mv.run_id, "", Path(store["root"]) / "dl-reg")
    m = manifest.read_manifest(local / "manifest.json")
    assert manifest.manifest_hash(m) == mv.tags["manifest_hash"]
    for path in ("reports/01_build_features.html", "reports/procurement/04_validate.html",
                 "02_train/scorecard_table.csv", "01_build_features/data_dictionary.csv",
                 "04_validate/model_card.md", "inputs.json", "model/MLmodel"):
        assert path in m["files"], path
    registration = json.loads((cfg.stage_dir("05_register", "procurement") / "registration.json").read_text())
    assert registration["version"] == int(mv.version) and registration["manifest_hash"] == mv.tags["manifest_hash"]
    entries = audit.entries_for(audit.read_trail(audit.audit_path(cfg.tracking_uri)), MODEL, mv.version)
    assert [e["action"] for e in entries] == ["register"]


def test_attach_reports_extends_the_manifest_consistently(store):
    from creditmine.registry import review, tracking

    cfg, mv = new_version(store, "att")
    html = cfg.reports_dir / "procurement" / "05_register.html"
    html.write_text("<html><body>stage 05</body></html>")
    new_hash = tracking.attach_reports(cfg, "procurement", mv.run_id, [html])
    assert new_hash != mv.tags["manifest_hash"]
    assert review.verify(cfg.tracking_uri, MODEL, mv.version) == []
    review.approve(cfg.tracking_uri, MODEL, mv.version, "rui", "fine")
    with pytest.raises(ValueError, match="approved"):
        tracking.attach_reports(cfg, "procurement", mv.run_id, [html])


def test_missing_stage_output_is_named(store, tmp_path):
    from creditmine.registry import tracking

    cfg, _, _ = build_project(tmp_path, "broken")
    (cfg.stage_dir("04_validate", "procurement") / "validation.json").unlink()
    with pytest.raises(FileNotFoundError, match="validation.json"):
        tracking.log_pipeline_run(cfg, "procurement")


# -- refusals -------------------------------------------------------------------------------------

def test_developer_cannot_approve_own_model(store):
    from creditmine.registry.review import ReviewRefused, approve

    cfg, mv = new_version(store, "own", developer="Dana")
    with pytest.raises(ReviewRefused, match="four-eyes"):
        approve(cfg.tracking_uri, MODEL, mv.version, " dana ", "looks good")


def test_red_verdict_cannot_be_approved(store):
    from creditmine.registry.review import ReviewRefused, approve

    cfg, mv = new_version(store, "red", verdict="red")
    with pytest.raises(ReviewRefused, match="red validation verdict"):
        approve(cfg.tracking_uri, MODEL, mv.version, "rui", "ok")


def test_tampered_artifact_blocks_approval_and_promotion(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.review import ReviewRefused, approve, promote

    cfg, mv = new_version(store, "tamper")
    cfg2, mv2 = new_version(store, "tamper2", seed=2)
    approve(cfg2.tracking_uri, MODEL, mv2.version, "rui", "ok")
    for version in (mv, mv2):
        card = _artifact_file(cfg, version.run_id, "04_validate/model_card.md")
        card.write_text(card.read_text() + "\nall good, trust me\n")
    with pytest.raises(ReviewRefused, match="artifacts do not match.*model_card.md"):
        approve(cfg.tracking_uri, MODEL, mv.version, "rui", "ok")
    with pytest.raises(ReviewRefused, match="artifacts do not match"):
        promote(cfg.tracking_uri, MODEL, mv2.version, "rui")
    with pytest.raises(DeploymentRefused, match="artifacts do not match"):
        check_deployable(MODEL, mv2.version, cfg.tracking_uri)


def test_tampered_model_file_is_caught(store, tmp_path):
    import mlflow

    from creditmine.registry.tracking import check_version_artifacts, connect

    cfg, mv = new_version(store, "tmodel")
    client = connect(cfg.tracking_uri)
    assert check_version_artifacts(client, MODEL, mv.version) == []
    # the check must use the store it is given, not the process-wide tracking URI
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert check_version_artifacts(client, MODEL, mv.version) == []
    assert not (tmp_path / "elsewhere.db").exists()
    model_dir = Path(client.get_logged_model(mv.source.removeprefix("models:/")).artifact_location.removeprefix("file://"))
    (model_dir / "MLmodel").write_text((model_dir / "MLmodel").read_text() + "\n# edited\n")
    problems = check_version_artifacts(client, MODEL, mv.version)
    assert problems and "model/MLmodel" in problems[0]


def test_promote_requires_approval(store):
    from creditmine.registry.review import ReviewRefused, promote

    cfg, mv = new_version(store, "unapproved")
    with pytest.raises(ReviewRefused, match="only an approved version can be promoted"):
        promote(cfg.tracking_uri, MODEL, mv.version, "rui")


def test_forged_state_tag_is_caught_by_the_gate(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.tracking import connect

    cfg, mv = new_version(store, "forged")
    connect(cfg.tracking_uri).set_model_version_tag(MODEL, mv.version, "review_state", "approved")
    with pytest.raises(DeploymentRefused, match="records no approval"):
        check_deployable(MODEL, mv.version, cfg.tracking_uri)


def test_missing_model_or_version_is_refused(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.review import ReviewRefused, approve, promote, show

    uri = store["cfg"].tracking_uri
    new_version(store, "exists")
    with pytest.raises(ReviewRefused, match="no version 999"):
        approve(uri, MODEL, 999, "rui", "ok")
    with pytest.raises(ReviewRefused, match="creditmine-nothing does not exist"):
        promote(uri, "creditmine-nothing", 1, "rui")
    with pytest.raises(ReviewRefused, match="no version 999"):
        show(uri, MODEL, 999)
    with pytest.raises(DeploymentRefused, match="does not exist"):
        check_deployable("creditmine-nothing", 1, uri)
    with pytest.raises(DeploymentRefused, match="not approved"):
        check_deployable(MODEL, 1, uri)


def test_approve_and_reject_need_reviewer_and_comment(store):
    from creditmine.cli.review import review

    cfg, mv = new_version(store, "opts")
    runner = CliRunner()
    result = runner.invoke(review, ["approve", MODEL, str(mv.version), "--tracking-uri", cfg.tracking_uri, "--reviewer", "rui"])
    assert result.exit_code != 0 and "--comment" in result.output
    result = runner.invoke(review, ["reject", MODEL, str(mv.version), "--tracking-uri", cfg.tracking_uri, "--comment", "no"])
    assert result.exit_code != 0 and "--reviewer" in result.output
    result = runner.invoke(review, ["approve", MODEL, str(mv.version), "--tracking-uri", cfg.tracking_uri,
                                    "--reviewer", "dana", "--comment", "mine"])
    assert result.exit_code == 1 and "refused:" in result.output and "four-eyes" in result.output
    assert "Traceback" not in result.output


def test_reject_is_recorded_and_final(store):
    from creditmine.registry import audit
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.review import ReviewRefused, approve, reject

    cfg, mv = new_version(store, "rejected")
    entry = reject(cfg.tracking_uri, MODEL, mv.version, "rui", "calibration fails out of time")
    assert entry["action"] == "reject" and entry["actor"] == "rui"
    entries = audit.read_trail(audit.audit_path(cfg.tracking_uri))
    assert audit.recorded_state(entries, MODEL, mv.version) == "rejected"
    with pytest.raises(ReviewRefused, match="only a pending version can be approved"):
        approve(cfg.tracking_uri, MODEL, mv.version, "rui", "changed my mind")
    with pytest.raises(DeploymentRefused, match="not approved"):
        check_deployable(MODEL, mv.version, cfg.tracking_uri)


# -- the full cycle --------------------------------------------------------------------------------

def test_full_review_cycle_through_the_cli(store):
    from creditmine.cli.review import review
    from creditmine.registry.gate import check_deployable
    from creditmine.registry.tracking import champion_development_auc, champion_version, connect

    cfg, first = new_version(store, "cycle1", seed=3)
    _, second = new_version(store, "cycle2", seed=4)
    uri = ["--tracking-uri", cfg.tracking_uri]
    runner = CliRunner()

    def ok(*args):
        result = runner.invoke(review, [*map(str, args), *uri])
        assert result.exit_code == 0, result.output
        return result.output

    ok("approve", MODEL, first.version, "--reviewer", "rui", "--comment", "green, stable")
    ok("promote", MODEL, first.version, "--reviewer", "rui")
    client = connect(cfg.tracking_uri)
    assert champion_version(client, MODEL).version == first.version
    assert champion_development_auc(cfg, "procurement") == pytest.approx(client.get_run(first.run_id).data.metrics["development_auc"])
    out = ok("show", MODEL, second.version)
    assert "verdict: GREEN" in out and f"champion: {first.version}" in out and "swap set" in out and "PSI" in out
    pack = Path(out.strip().splitlines()[-1].removeprefix("review pack: "))
    assert pack.is_file() and "data:image/png;base64," in pack.read_text()
    ok("approve", MODEL, second.version, "--reviewer", "rui", "--comment", "better discrimination")
    ok("promote", MODEL, second.version, "--reviewer", "rui")
    assert champion_version(client, MODEL).version == second.version
    assert champion_version(client, MODEL, "previous-champion").version == first.version
    check_deployable(MODEL, second.version, cfg.tracking_uri)
    ok("rollback", MODEL, "--reviewer", "rui", "--comment", "complaints from branch")
    assert champion_version(client, MODEL).version == first.version
    assert champion_version(client, MODEL, "previous-champion") is None
    result = runner.invoke(review, ["rollback", MODEL, "--reviewer", "rui", *uri])
    assert result.exit_code == 1 and "no previous champion" in result.output
    assert "OK" in ok("verify", MODEL, first.version)
    log = ok("log", MODEL)
    for action in ("register", "approve", "promote", "rollback"):
        assert action in log
    listing = ok("list", MODEL)
    assert "champion" in listing and "approved" in listing


def test_compare_with_champion_measures_the_swap_set(store):
    from creditmine.registry.review import compare_with_champion, population_stability
    from creditmine.registry.tracking import connect

    rng = np.random.default_rng(0)
    same = rng.normal(size=2000)
    assert population_stability(same, same, 10) == pytest.approx(0.0)
    assert population_stability(same, same + 1.0, 10) > 0.25
    cfg, mv = new_version(store, "cmp", seed=5)
    c = compare_with_champion(connect(cfg.tracking_uri), MODEL, mv.version)
    if c["champion"] is None:  # this test alone: no champion yet
        assert "no champion" in c["note"]
        return
    assert c["n_common"] == 400
    assert 0 <= c["swap_share"] <= 1 and sum(sum(r.values()) for r in c["decisions"].values()) == 400
    changed = sum(v for r, row in c["decisions"].items() for k, v in row.items() if k != r)
    assert c["swap_share"] == pytest.approx(changed / 400)


def test_review_help_lists_the_commands():
    from creditmine.cli.review import review

    out = CliRunner().invoke(review, ["--help"]).output
    for command in ("list", "show", "approve", "reject", "promote", "rollback", "verify", "log"):
        assert command in out


def _artifact_file(cfg, run_id: str, path: str) -> Path:
    """The stored file of a run artifact in the local artifact store (what an editor would change)."""
    from creditmine.registry.tracking import connect

    uri = connect(cfg.tracking_uri).get_run(run_id).info.artifact_uri
    return Path(uri.removeprefix("file://")) / path
