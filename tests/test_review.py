"""The deployment review on the embedded store (laptop mode): the same rules as the team server.

Each registered version comes from the real stages (small seeded applications, stages 02 and 04 as
they run, stage 05's lineage run, decision model and registration) into a real MLflow SQLite store.
The CLI acts as the operating-system user; a second person on one laptop is a `ReviewService` with
another actor (`factories.second_person`), running the same rule code.
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
def store(tmp_path_factory, quick_loan_stages):
    """One project whose stages 01-04 ran (real stages on small data; a copy of the session's
    `quick_loan_stages`) and one SQLite store for the module."""
    root = tmp_path_factory.mktemp("registry")
    return {"root": root, "cfg": factories.from_stages(quick_loan_stages, root, "r1")}


def new_version(store, run_name: str, verdict: str = "green", developer: str | None = None):
    """A pipeline execution `run_name` with the module's stage outputs, registered as a new version
    by the OS user (`developer` None) or by `developer` through the review service."""
    from creditmine.governance.lineage import log_version_run
    from creditmine.registry.store import connect

    cfg = factories.copy_run(store["cfg"], run_name)
    if verdict == "red":
        cfg = factories.revalidate(cfg, PRODUCT, **factories.RED_AUC)
    if developer is None:
        return cfg, factories.register(cfg, PRODUCT)
    run_id, info = log_version_run(cfg, PRODUCT)
    entry = factories.second_person(cfg, developer).register(
        MODEL, run_id, info.model_uri.removeprefix("models:/"), PRODUCT, run_name)
    return cfg, connect(cfg.tracking_uri).get_model_version(MODEL, entry["version"])


def as_(cfg, actor: str):
    return factories.second_person(cfg, actor)


# -- registration ----------------------------------------------------------------------------------

def test_register_version_records_lineage_the_manifest_and_a_signed_entry(store):
    from creditmine.governance import review
    from creditmine.governance.identity import os_user
    from creditmine.registry import manifest
    from creditmine.registry.states import gated_uri
    from creditmine.registry.store import connect, download_run_artifacts

    cfg, mv = new_version(store, "reg")
    client = connect(cfg.tracking_uri)
    where = artifacts.layout(cfg, PRODUCT)
    validation = artifacts.read_validation(where)
    assert mv.name == MODEL and not mv.aliases
    assert mv.source == gated_uri(mv.run_id)
    assert mv.tags["review_state"] == "pending"
    assert mv.tags["validation_verdict"] == validation["verdict"]
    assert mv.tags["developer"] == os_user()
    assert validation["verdict"].upper() in mv.description and len(mv.description) < 5000
    run = client.get_run(mv.run_id)
    assert run.data.params["product.name"] == PRODUCT
    assert run.data.metrics["gbm.oot.auc"] == pytest.approx(validation["metrics"]["gbm.oot.auc"])
    assert run.data.metrics["train.auc.gbm.train"] == pytest.approx(
        artifacts.read_train_metrics(where)["auc"]["gbm"]["train"])
    lights = {light["test"]: light for light in validation["lights"]}
    assert run.data.tags["light.auc_oot"] == lights["auc_oot"]["light"]
    assert run.data.metrics["development_auc"] == pytest.approx(validation["metrics"]["development_auc"])
    assert run.data.tags["git_dirty"] in ("true", "false")
    names = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    sha = {t.key: t.value for t in names["features"].tags}["sha256"]
    assert sha == manifest.file_sha256(where.features_table)
    # the run's metrics are the logged model's too (logged after it, carrying its id)
    logged = client.get_logged_model(run.outputs.model_outputs[0].model_id)
    assert {m.key for m in logged.metrics} >= {"development_auc", "gbm.oot.auc"}
    local = download_run_artifacts(client, mv.run_id, "", Path(store["root"]) / "dl-reg")
    m = manifest.read_manifest(local / "manifest.json")
    assert manifest.manifest_hash(m) == mv.tags["manifest_hash"]
    for path in ("02_train/scorecard_table.csv", "01_build_features/data_dictionary.csv",
                 "04_validate/model_card.md", "inputs.json", "model/MLmodel", "model/data/decision/credit_model.skops"):
        assert path in m["files"], path
    registration = artifacts.read_registration(where)
    assert registration["version"] == int(mv.version) and registration["manifest_hash"] == mv.tags["manifest_hash"]
    entries = review.trail(cfg.tracking_uri, MODEL, mv.version)
    assert [e["action"] for e in entries] == ["register"]
    details = entries[0]["details"]
    assert entries[0]["actor"] == os_user() and details["manifest_hash"] == mv.tags["manifest_hash"]
    assert details["verdict"] == validation["verdict"] and details["run_id"] == mv.run_id
    assert review.verify(cfg.tracking_uri, MODEL, mv.version) == []


def test_missing_stage_output_is_named(store):
    from creditmine.governance.lineage import log_pipeline_run

    cfg = factories.copy_run(store["cfg"], "broken")
    artifacts.layout(cfg, PRODUCT).validation.unlink()
    with pytest.raises(FileNotFoundError, match=r"validation.json: not found; run stage 04 \(validate\)"):
        log_pipeline_run(cfg, PRODUCT)


# -- four eyes: the actor is who runs the process, under any spelling --------------------------------

def test_developer_cannot_approve_own_model_under_any_spelling(store):
    from creditmine.governance.review import ReviewRefused, actions, trail

    cfg, mv = new_version(store, "own", developer="dana")
    for alias in ("dana", "Dana", " dana ", "da na", "da\u200bna", "ＤＡＮＡ"):
        with pytest.raises(ReviewRefused, match="dana.*four-eyes|four-eyes"):
            as_(cfg, alias).approve(MODEL, mv.version, "looks good")
    refused = [e for e in trail(cfg.tracking_uri, MODEL, mv.version) if e["action"] == "refused"]
    assert len(refused) == 6 and all("four-eyes" in e["comment"] for e in refused)
    assert refused[0]["details"]["attempted"] == "approve"
    # the OS user registered this one: the CLI's approval is the developer's own
    cfg, mine = new_version(store, "own-cli")
    with pytest.raises(ReviewRefused, match="four-eyes"):
        actions(cfg.tracking_uri).approve(MODEL, mine.version, "mine")


def test_editing_the_developer_tag_does_not_change_the_developer(store):
    from creditmine.governance.review import ReviewRefused, list_versions, verify
    from creditmine.registry.store import connect

    cfg, mv = new_version(store, "devtag", developer="dana")
    connect(cfg.tracking_uri).set_model_version_tag(MODEL, mv.version, "developer", "someone-else")
    with pytest.raises(ReviewRefused, match="four-eyes"):
        as_(cfg, "dana").approve(MODEL, mv.version, "the tag says someone else did it")
    row = next(r for r in list_versions(cfg.tracking_uri, MODEL) if r["version"] == int(mv.version))
    assert row["developer"] == "dana"
    assert any("tag developer says 'someone-else'" in p for p in verify(cfg.tracking_uri, MODEL, mv.version))


def test_developer_cannot_promote_or_restore_own_version(store):
    from creditmine.governance.review import ReviewRefused

    cfg, mv = new_version(store, "ownpromote", developer="dana")
    as_(cfg, "li").approve(MODEL, mv.version, "fine")
    with pytest.raises(ReviewRefused, match="(?i)dana developed .* may not promote it"):
        as_(cfg, "DANA").promote(MODEL, mv.version, "go")


# -- the verdict is the recorded one ---------------------------------------------------------------

def test_red_verdict_cannot_be_approved_even_after_editing_its_tag(store):
    from creditmine.governance.review import ReviewRefused
    from creditmine.registry.store import connect

    cfg, mv = new_version(store, "red", verdict="red")
    assert mv.tags["validation_verdict"] == "red"
    connect(cfg.tracking_uri).set_model_version_tag(MODEL, mv.version, "validation_verdict", "amber")
    with pytest.raises(ReviewRefused, match="red validation verdict"):
        as_(cfg, "rui").approve(MODEL, mv.version, "amber says the tag")


def test_a_red_verdict_cannot_be_hidden_by_editing_validation_before_registration(store):
    """The verdict is recomputed from the gating lights of the validation.json being registered; a
    stated verdict that disagrees with them is refused as an edit."""
    import json

    from creditmine.governance.vetting import verdict_of

    cfg = factories.revalidate(factories.copy_run(store["cfg"], "redfile"), PRODUCT, **factories.RED_AUC)
    path = artifacts.layout(cfg, PRODUCT).validation
    validation = json.loads(path.read_text())
    validation["verdict"] = "green"
    path.write_text(json.dumps(validation))
    verdict, why = verdict_of(path)
    assert verdict is None and "states the verdict 'green' but its gating lights give 'red'" in why


# -- nothing is amended: artifacts must match the manifest -------------------------------------------

def test_tampered_artifact_blocks_approval_promotion_and_deployment(store):
    from creditmine.governance.review import ReviewRefused
    from creditmine.registry.gate import DeploymentRefused, check_deployable

    cfg, mv = new_version(store, "tamper", developer="dana")
    cfg2, mv2 = new_version(store, "tamper2", developer="dana")
    as_(cfg, "rui").approve(MODEL, mv2.version, "ok")
    for version in (mv, mv2):
        card = _artifact_file(cfg, version.run_id, "04_validate/model_card.md")
        card.write_text(card.read_text() + "\nall good, trust me\n")
    with pytest.raises(ReviewRefused, match="artifacts do not match.*model_card.md"):
        as_(cfg, "rui").approve(MODEL, mv.version, "ok")
    with pytest.raises(ReviewRefused, match="artifacts do not match"):
        as_(cfg, "rui").promote(MODEL, mv2.version)
    with pytest.raises(DeploymentRefused, match="artifacts do not match"):
        check_deployable(MODEL, mv2.version, cfg.tracking_uri, every_artifact=True)


def test_a_new_manifest_written_after_approval_is_refused(store):
    """Swapping the model and re-hashing it into a new manifest.json does not match the recorded hash."""
    from creditmine.registry import manifest as mf
    from creditmine.registry.gate import DeploymentRefused, check_deployable

    cfg, mv = new_version(store, "swap", developer="dana")
    as_(cfg, "rui").approve(MODEL, mv.version, "ok")
    manifest_file = _artifact_file(cfg, mv.run_id, "manifest.json")
    manifest = mf.read_manifest(manifest_file)
    manifest["files"]["04_validate/model_card.md"] = "0" * 64
    mf.write_manifest(manifest, manifest_file)
    with pytest.raises(DeploymentRefused, match="no longer hashes to the registered"):
        check_deployable(MODEL, mv.version, cfg.tracking_uri)


def test_tampered_model_file_is_caught_by_verify(store, tmp_path):
    import mlflow

    from creditmine.governance.review import verify
    from creditmine.registry.store import connect

    cfg, mv = new_version(store, "tmodel")
    uri = cfg.tracking_uri
    assert verify(uri, MODEL, mv.version) == []
    # the check uses the store it is given, not the process-wide tracking URI
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert verify(uri, MODEL, mv.version) == []
    assert not (tmp_path / "elsewhere.db").exists()
    model_id = connect(uri).get_run(mv.run_id).outputs.model_outputs[0].model_id
    model_dir = Path(connect(uri).get_logged_model(model_id).artifact_location.removeprefix("file://"))
    (model_dir / "MLmodel").write_text((model_dir / "MLmodel").read_text() + "\n# edited\n")
    problems = verify(uri, MODEL, mv.version)
    assert problems and any("model/MLmodel" in p for p in problems)


# -- states ----------------------------------------------------------------------------------------

def test_promote_requires_approval(store):
    from creditmine.governance.review import ReviewRefused

    cfg, mv = new_version(store, "unapproved", developer="dana")
    with pytest.raises(ReviewRefused, match="only an approved version can be promoted"):
        as_(cfg, "rui").promote(MODEL, mv.version)


def test_forged_state_tag_and_moved_alias_are_caught_by_the_gate(store):
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.store import connect

    cfg, mv = new_version(store, "forged", developer="dana")
    client = connect(cfg.tracking_uri)
    client.set_model_version_tag(MODEL, mv.version, "review_state", "approved")
    with pytest.raises(DeploymentRefused, match="not approved \\(the audit trail records it pending\\)"):
        check_deployable(MODEL, mv.version, cfg.tracking_uri)
    cfg, approved = new_version(store, "forged-alias", developer="dana")
    as_(cfg, "rui").approve(MODEL, approved.version, "fine, but not promoted")
    client.set_registered_model_alias(MODEL, "champion", approved.version)
    with pytest.raises(DeploymentRefused, match="alias was moved outside the review"):
        check_deployable(MODEL, approved.version, cfg.tracking_uri, as_champion=True)


def test_missing_model_or_version_is_refused(store):
    from creditmine.governance.review import ReviewRefused, show
    from creditmine.registry.gate import DeploymentRefused, check_deployable

    cfg, _ = new_version(store, "exists")
    uri = cfg.tracking_uri
    with pytest.raises(ReviewRefused, match="999"):
        as_(cfg, "rui").approve(MODEL, 999, "ok")
    with pytest.raises(ReviewRefused, match="creditmine-nothing"):
        as_(cfg, "rui").promote("creditmine-nothing", 1)
    with pytest.raises(ReviewRefused, match="999"):
        show(uri, MODEL, 999)
    with pytest.raises(DeploymentRefused, match="creditmine-nothing"):
        check_deployable("creditmine-nothing", 1, uri)


def test_reject_is_recorded_and_final(store):
    from creditmine.governance.review import ReviewRefused, trail
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.trail import recorded_state

    cfg, mv = new_version(store, "rejected", developer="dana")
    entry = as_(cfg, "rui").reject(MODEL, mv.version, "calibration fails out of time")
    assert entry["action"] == "reject" and entry["actor"] == "rui"
    assert recorded_state(trail(cfg.tracking_uri), MODEL, mv.version) == "rejected"
    with pytest.raises(ReviewRefused, match="only a pending version can be approved"):
        as_(cfg, "li").approve(MODEL, mv.version, "changed my mind")
    with pytest.raises(DeploymentRefused, match="not approved"):
        check_deployable(MODEL, mv.version, cfg.tracking_uri)
    with pytest.raises(ReviewRefused, match="comment is required"):
        as_(cfg, "li").reject(MODEL, mv.version, "  ")


# -- two requests at once ----------------------------------------------------------------------------

def _at_once(*calls):
    """Run the calls in threads released together; (results, refusals) as messages."""
    import threading

    from creditmine.governance.review import ReviewRefused

    barrier = threading.Barrier(len(calls))
    results, refusals = [], []

    def run(call):
        barrier.wait()
        try:
            results.append(call())
        except ReviewRefused as exc:
            refusals.append(str(exc))

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, refusals


def test_two_approvals_at_once_record_one(store):
    from creditmine.governance.review import trail, verify

    for round_ in range(3):
        cfg, mv = new_version(store, f"race-approve-{round_}", developer="dana")
        results, refusals = _at_once(lambda: as_(cfg, "li").approve(MODEL, mv.version, "li: fine"),
                                     lambda: as_(cfg, "rui").approve(MODEL, mv.version, "rui: fine"))
        assert len(results) == 1 and len(refusals) == 1, refusals
        assert "is approved; only a pending version can be approved" in refusals[0]
        actions = [e["action"] for e in trail(cfg.tracking_uri, MODEL, mv.version)]
        assert actions == ["register", "approve", "refused"]
        assert verify(cfg.tracking_uri, MODEL, mv.version) == []


def test_approve_and_reject_at_once_leave_a_legal_sequence(store):
    from creditmine.governance.review import trail
    from creditmine.registry.trail import recorded_state

    for round_ in range(3):
        cfg, mv = new_version(store, f"race-mixed-{round_}", developer="dana")
        results, refusals = _at_once(lambda: as_(cfg, "li").approve(MODEL, mv.version, "fine"),
                                     lambda: as_(cfg, "rui").reject(MODEL, mv.version, "not fine"))
        entries = trail(cfg.tracking_uri, MODEL, mv.version)
        decided = [e["action"] for e in entries if e["action"] in ("approve", "reject")]
        # a rejection may follow an approval (a second look); an approval never follows a rejection
        assert decided in (["approve", "reject"], ["reject"]), decided
        assert len(results) == len(decided)
        if decided == ["reject"]:
            assert refusals == [f"{MODEL} version {mv.version} is rejected; only a pending version can be approved"]
        assert recorded_state(trail(cfg.tracking_uri), MODEL, mv.version) == "rejected"


# -- the CLI ----------------------------------------------------------------------------------------

def test_cli_takes_no_actor_and_refuses_in_one_line(store):
    from creditmine.cli.review import review

    cfg, mine = new_version(store, "opts")
    runner = CliRunner()
    uri = ["--tracking-uri", cfg.tracking_uri]
    result = runner.invoke(review, ["approve", MODEL, str(mine.version), *uri])
    assert result.exit_code != 0 and "--comment" in result.output
    result = runner.invoke(review, ["approve", MODEL, str(mine.version), *uri, "--reviewer", "rui", "--comment", "x"])
    assert result.exit_code != 0 and "No such option '--reviewer'" in result.output
    result = runner.invoke(review, ["approve", MODEL, str(mine.version), *uri, "--comment", "mine"])
    assert result.exit_code == 1 and "refused:" in result.output and "four-eyes" in result.output
    assert "Traceback" not in result.output


def test_full_review_cycle_through_the_cli(store):
    from creditmine.cli.review import review
    from creditmine.governance.identity import os_user
    from creditmine.registry.gate import check_deployable
    from creditmine.registry.store import champion_development_auc, champion_version, connect

    # dana develops; the OS user running the CLI validates
    cfg, first = new_version(store, "cycle1", developer="dana")
    _, second = new_version(store, "cycle2", developer="dana")
    uri = ["--tracking-uri", cfg.tracking_uri]
    runner = CliRunner()

    def ok(*args):
        result = runner.invoke(review, [*map(str, args), *uri])
        assert result.exit_code == 0, result.output
        return result.output

    assert f"as {os_user()}" in ok("approve", MODEL, first.version, "--comment", "green, stable")
    ok("promote", MODEL, first.version)
    client = connect(cfg.tracking_uri)
    assert champion_version(client, MODEL).version == first.version
    assert champion_development_auc(cfg, PRODUCT) == pytest.approx(
        client.get_run(first.run_id).data.metrics["development_auc"])
    out = ok("show", MODEL, second.version)
    assert f"champion: {first.version}" in out and "swap set" in out and "PSI" in out
    assert "developer: dana" in out
    pack = Path(out.strip().splitlines()[-1].removeprefix("review pack: "))
    assert pack.is_file() and "data:image/png;base64," in pack.read_text()
    ok("approve", MODEL, second.version, "--comment", "better discrimination")
    ok("promote", MODEL, second.version)
    assert champion_version(client, MODEL).version == second.version
    assert champion_version(client, MODEL, "previous-champion").version == first.version
    check_deployable(MODEL, second.version, cfg.tracking_uri, as_champion=True)
    ok("rollback", MODEL, "--comment", "complaints from branch")
    assert champion_version(client, MODEL).version == first.version
    assert champion_version(client, MODEL, "previous-champion") is None
    check_deployable(MODEL, first.version, cfg.tracking_uri, as_champion=True)
    result = runner.invoke(review, ["rollback", MODEL, *uri])
    assert result.exit_code == 1 and "no previous champion" in result.output
    assert "OK" in ok("verify", MODEL, first.version)
    log = ok("log", MODEL)
    for action in ("register", "approve", "promote", "rollback", "refused"):
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
