"""The deployment review on a real MLflow SQLite store: registration, four eyes, refusals, champion aliases, gate.

Each registered version comes from the real stages: small seeded applications, stages 02 and 04 as
they run, and stage 05's lineage run, decision model and registration.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import factories
from creditmine import artifacts

MODEL = "creditmine-quick_loan"
PRODUCT = "quick_loan"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One project whose stages 01-04 ran (real stages on small data) and one SQLite store for the module."""
    root = tmp_path_factory.mktemp("registry")
    return {"root": root, "cfg": factories.quick_loan_project(root, "r1")}


def new_version(store, run_name: str, verdict: str = "green", developer: str = "dana"):
    """A pipeline execution `run_name` with the module's stage outputs, registered as a new version."""
    cfg = factories.copy_run(store["cfg"], run_name)
    if verdict == "red":
        cfg = factories.revalidate(cfg, PRODUCT, **factories.RED_AUC)
    return cfg, factories.register(cfg, PRODUCT, developer=developer)


# -- registration ----------------------------------------------------------------------------------

def test_register_version_records_lineage_tags_and_description(store):
    from mlflow import MlflowClient

    from creditmine.registry import audit, manifest
    from creditmine.registry.store import download_run_artifacts

    cfg, mv = new_version(store, "reg")
    client = MlflowClient(cfg.tracking_uri, cfg.tracking_uri)
    where = artifacts.layout(cfg, PRODUCT)
    validation = artifacts.read_validation(where)
    assert mv.name == MODEL
    assert mv.tags["review_state"] == "pending"
    assert mv.tags["validation_verdict"] == validation["verdict"]
    assert mv.tags["developer"] == "dana"
    assert mv.description == where.model_card_md.read_text(encoding="utf-8")
    assert not mv.aliases
    run = client.get_run(mv.run_id)
    assert run.data.params["product.name"] == PRODUCT
    assert run.data.metrics["gbm.oot.auc"] == pytest.approx(validation["metrics"]["gbm.oot.auc"])
    assert run.data.metrics["train.auc.gbm.train"] == pytest.approx(artifacts.read_train_metrics(where)["auc"]["gbm"]["train"])
    lights = {light["test"]: light for light in validation["lights"]}
    assert run.data.tags["light.auc_oot"] == lights["auc_oot"]["light"]
    assert run.data.metrics["development_auc"] == pytest.approx(validation["metrics"]["development_auc"])
    assert len(run.data.tags["git_commit"]) in (7, 40) or run.data.tags["git_commit"] == "unknown"
    assert run.data.tags["git_dirty"] in ("true", "false")
    names = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert "features" in names  # and every raw table of the data directory, when there is one
    sha = {t.key: t.value for t in names["features"].tags}["sha256"]
    assert sha == manifest.file_sha256(where.features_table)
    local = download_run_artifacts(client, mv.run_id, "", Path(store["root"]) / "dl-reg")
    m = manifest.read_manifest(local / "manifest.json")
    assert manifest.manifest_hash(m) == mv.tags["manifest_hash"]
    for path in ("02_train/scorecard_table.csv", "01_build_features/data_dictionary.csv",
                 "04_validate/model_card.md", "inputs.json", "model/MLmodel"):
        assert path in m["files"], path
    registration = artifacts.read_registration(where)
    assert registration["version"] == int(mv.version) and registration["manifest_hash"] == mv.tags["manifest_hash"]
    entries = audit.entries_for(audit.read_trail(audit.audit_path(cfg.tracking_uri)), MODEL, mv.version)
    assert [e["action"] for e in entries] == ["register"]


def test_missing_stage_output_is_named(store):
    from creditmine.governance.lineage import log_pipeline_run

    cfg = factories.copy_run(store["cfg"], "broken")
    artifacts.layout(cfg, PRODUCT).validation.unlink()
    with pytest.raises(FileNotFoundError, match=r"validation.json: not found; run stage 04 \(validate\)"):
        log_pipeline_run(cfg, PRODUCT)


# -- refusals -------------------------------------------------------------------------------------

def test_developer_cannot_approve_own_model(store):
    from creditmine.governance.review import ReviewRefused, approve

    cfg, mv = new_version(store, "own", developer="Dana")
    with pytest.raises(ReviewRefused, match="four-eyes"):
        approve(cfg.tracking_uri, MODEL, mv.version, " dana ", "looks good")


def test_red_verdict_cannot_be_approved(store):
    from creditmine.governance.review import ReviewRefused, approve

    cfg, mv = new_version(store, "red", verdict="red")
    with pytest.raises(ReviewRefused, match="red validation verdict"):
        approve(cfg.tracking_uri, MODEL, mv.version, "rui", "ok")


def test_tampered_artifact_blocks_approval_and_promotion(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.governance.review import ReviewRefused, approve, promote

    cfg, mv = new_version(store, "tamper")
    cfg2, mv2 = new_version(store, "tamper2")
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

    from creditmine.registry.gate import check_version_artifacts
    from creditmine.registry.store import connect

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
    from creditmine.governance.review import ReviewRefused, promote

    cfg, mv = new_version(store, "unapproved")
    with pytest.raises(ReviewRefused, match="only an approved version can be promoted"):
        promote(cfg.tracking_uri, MODEL, mv.version, "rui")


def test_forged_state_tag_is_caught_by_the_gate(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.store import connect

    cfg, mv = new_version(store, "forged")
    connect(cfg.tracking_uri).set_model_version_tag(MODEL, mv.version, "review_state", "approved")
    with pytest.raises(DeploymentRefused, match="records no approval"):
        check_deployable(MODEL, mv.version, cfg.tracking_uri)


def test_missing_model_or_version_is_refused(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.governance.review import ReviewRefused, approve, promote, show

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
    from creditmine.governance.review import ReviewRefused, approve, reject

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
    from creditmine.registry.store import champion_development_auc, champion_version, connect

    cfg, first = new_version(store, "cycle1")
    _, second = new_version(store, "cycle2")
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
    assert champion_development_auc(cfg, PRODUCT) == pytest.approx(client.get_run(first.run_id).data.metrics["development_auc"])
    out = ok("show", MODEL, second.version)
    assert f"champion: {first.version}" in out and "swap set" in out and "PSI" in out
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
    from creditmine.governance.compare import compare_with_champion
    from creditmine.registry.store import connect

    cfg, mv = new_version(store, "cmp")
    c = compare_with_champion(connect(cfg.tracking_uri), MODEL, mv.version)
    if c["champion"] is None:  # this test alone: no champion yet
        assert "no champion" in c["note"]
        return
    n = len(artifacts.read_scores(artifacts.layout(cfg, PRODUCT)))
    assert c["n_common"] == n
    assert 0 <= c["swap_share"] <= 1 and sum(sum(r.values()) for r in c["decisions"].values()) == n
    changed = sum(v for r, row in c["decisions"].items() for k, v in row.items() if k != r)
    assert c["swap_share"] == pytest.approx(changed / n)


def test_review_help_lists_the_commands():
    from creditmine.cli.review import review

    out = CliRunner().invoke(review, ["--help"]).output
    for command in ("list", "show", "approve", "reject", "promote", "rollback", "verify", "log"):
        assert command in out


def _artifact_file(cfg, run_id: str, path: str) -> Path:
    """The stored file of a run artifact in the local artifact store (what an editor would change)."""
    from creditmine.registry.store import connect

    uri = connect(cfg.tracking_uri).get_run(run_id).info.artifact_uri
    return Path(uri.removeprefix("file://")) / path
