"""The team server under attack: a real PostgreSQL and the real MLflow server with authentication
on loopback (`tests/team_server.py`), one developer (dana), two validators (li, rui) and one account
that is both (vic, whom only the four-eyes rule stops), and the CI pipeline run as the developer.

Every attack goes over HTTP with the attacker's own credentials, through MLflow's plain client, the
`creditmine` CLI or `requests`; each is refused with its message asserted, and each refusal leaves a
`refused` entry in the audit trail naming who tried what and why. The clean cycle (register as the
developer, approve and promote as validators, score) works; the trail table refuses changes from
the server's own database role; a row a database administrator forges is caught by `verify`; an
artifact edited on the server's disk never loads and none of its code runs.

One server and one pipeline run serve the whole module; the tests that change the registry's state
(the clean cycle, the races, promote and roll back) do it in module fixtures, so that any subset of
the tests sees the state it needs.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import factories
import team_server
from team_server import ADMIN, DEVELOPER, VALIDATORS, VIC

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(team_server.postgres_missing() is not None,
                       reason=f"PostgreSQL binaries are absent: {team_server.postgres_missing()}"),
]

PRODUCT = "quick_loan"
MODEL = f"creditmine-{PRODUCT}"
LI, RUI = VALIDATORS
REPO = Path(__file__).resolve().parents[1]

NOT_A_VALIDATOR = "{} is not a validator of this team"
TAG_RULE = "model-version tags (review state, verdict, developer, ...) are written only by the review rules"
MODEL_TAG_RULE = "registered-model tags are written only by the review rules"
ALIAS_RULE = "aliases move only through `creditmine review promote` and `rollback`"
VERSION_RULE = "model versions are registered only through `creditmine` stage 05 (the register endpoint)"
MODEL_RULE = "registered models are created and changed only by the review endpoints"


# -- the server, the pipeline and the versions -----------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory, request, selected_fixtures):
    """A project with the repository's params and the CI pipeline's stages 01-04 for the quick-loan
    product (`creditmine run --params params/ci.yaml --run-name ci`); they do not use the tracking
    server. When the session runs the whole CI pipeline anyway (conftest's `ci_run`: the same
    params and run name), the outputs of those stages are copied from it; else they are started here
    in the background, and run while the server starts."""
    root = tmp_path_factory.mktemp("team-project") / "project"
    root.mkdir()
    shutil.copytree(REPO / "params", root / "params")
    for folder in ("notebooks", "datasets"):
        (root / folder).symlink_to(REPO / folder, target_is_directory=True)
    (root / "mlruns").mkdir()
    if "ci_run" in selected_fixtures:
        _copy_stages_01_04(request.getfixturevalue("ci_run")[0], root)
        yield root, None, None
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env.update(MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join([str(team_server.SRC), env.get("PYTHONPATH", "")]))
    log = open(root / "stages-01-04.log", "w+")
    command = [sys.executable, "-m", "creditmine.cli", "run", "--params", str(root / "params" / "ci.yaml"),
               "--products", PRODUCT, "--run-name", "ci", "--stages", "01,02,03,04"]
    process = subprocess.Popen(command,
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield root, process, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _copy_stages_01_04(ci, root: Path) -> None:
    """What stages 00-04 of `ci` (a RunConfig of params/ci.yaml) left for the quick-loan product, into
    the project at `root`: the generated data, the stage outputs and the stages' reports."""
    from creditmine import artifacts

    shutil.copytree(ci.data_dir, root / ci.data_dir.relative_to(ci.root))
    where = artifacts.layout(ci, PRODUCT)
    for stage in artifacts.STAGES:
        if stage is artifacts.REGISTER:
            continue
        source = where.stage_dir(stage)
        shutil.copytree(source, root / source.relative_to(ci.root))
        for report in where.report(stage):
            (root / report.relative_to(ci.root)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(report, root / report.relative_to(ci.root))


@pytest.fixture(scope="module")
def team(project, team_server_up):
    """The team server (`team_server.ATTACK_TEAM`: dana and vic develop, li, rui and vic validate),
    brought up by conftest's `team_server_up` in the background of the session, up for the module;
    down (and its folder gone) afterwards, whatever happened."""
    root, cache = team_server_up
    saved = os.environ.get("CREDITMINE_MODEL_CACHE")
    os.environ["CREDITMINE_MODEL_CACHE"] = str(cache)  # verified model copies: this module's own
    started = team_server.attach(root)
    try:
        yield started
    finally:
        started.stop()
        if saved is None:
            os.environ.pop("CREDITMINE_MODEL_CACHE", None)
        else:
            os.environ["CREDITMINE_MODEL_CACHE"] = saved


@dataclass
class Registered:
    """A registered version and where it came from."""

    cfg: object
    version: str
    run_id: str
    model_id: str

    @property
    def uri(self) -> str:
        return f"models:/{MODEL}/{self.version}"


def _registered(team, cfg, version) -> Registered:
    entry = next(e for e in team.trail() if e["action"] == "register" and e["version"] == str(version))
    return Registered(cfg, str(version), entry["details"]["run_id"],
                      entry["details"]["model_uri"].removeprefix("models:/"))


@pytest.fixture(scope="module")
def pipeline(team, project):
    """The CI pipeline (`creditmine run --params params/ci.yaml`, the quick-loan product) as the
    developer: stages 01-04 (see `project`), then stage 05 against the team server as
    dana, which registers a pending version. Stage 05 creates the product's experiment on the
    server, which keeps its files (mlflow-artifacts:/) and shares it with the other developer.
    """
    from creditmine import artifacts, config

    root, stages, log = project
    if stages is not None:
        assert stages.wait(timeout=1500) == 0, (log.seek(0), log.read()[-5000:])[1]
    result = run_cli(team, DEVELOPER, ["run", "--params", str(root / "params" / "ci.yaml"), "--products", PRODUCT,
                                       "--run-name", "ci", "--stages", "05"], cwd=root, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    cfg = config.load(root / "params" / "ci.yaml", run_name="ci")
    registration = artifacts.read_registration(artifacts.layout(cfg, PRODUCT))
    assert registration["developer"] == DEVELOPER
    return _registered(team, cfg, registration["version"])


def _register_in_process(team, account: str, cfg) -> Registered:
    """Stage 05 (`creditmine.governance.stage.run`) in this process, as `account`."""
    from creditmine.governance import stage

    with team.acting_as(account):
        result = stage.run(cfg, PRODUCT)
    return _registered(team, cfg, result.version.version)


@pytest.fixture(scope="module")
def red(team, pipeline):
    """The pipeline's outputs validated again under thresholds that make a gating test red, and
    registered by the developer: a pending version whose recorded verdict is red."""
    cfg = factories.revalidate(factories.copy_run(pipeline.cfg, "red"), PRODUCT, **factories.RED_AUC)
    return _register_in_process(team, DEVELOPER, cfg)


@pytest.fixture(scope="module")
def second(team, pipeline):
    """A second pipeline execution registered by vic, who is also a validator."""
    return _register_in_process(team, VIC, factories.copy_run(pipeline.cfg, "second"))


# -- helpers -------------------------------------------------------------------------------------

def run_cli(team, account: str | None, args: list[str], cwd=None, timeout: float = 300, env: dict | None = None):
    """`creditmine ARGS` in a subprocess acting as `account`; killed (its group) after `timeout`."""
    environment = {**team.env(account), **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "creditmine.cli", *args], cwd=cwd or team.root,
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"creditmine {' '.join(args)} still ran after {timeout} s:\n"
                             f"{stdout[-2000:]}\n{stderr[-2000:]}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def refused(team, account: str, attempt, reason: str, status: int = 403) -> dict:
    """Run `attempt` (a `requests` call, or an MLflow client call that raises) as `account`:
    it must be refused with `reason`, and the trail must gain a `refused` entry by `account` saying
    why. Returns that entry."""
    before = len(team.trail())
    try:
        outcome = attempt()
    except Exception as exc:  # noqa: BLE001 - MLflow's client raises its own types for a 403
        assert reason in str(exc), f"refused for another reason: {exc}"
    else:
        assert outcome.status_code == status, f"HTTP {outcome.status_code}: {outcome.text[:500]}"
        assert reason in outcome.json()["message"], outcome.json()["message"]
    new = [e for e in team.trail()[before:] if e["action"] == "refused" and e["actor"] == account]
    assert new, f"no refused entry by {account} in the trail"
    assert reason in new[-1]["comment"], new[-1]
    return new[-1]


def client_as(team, monkeypatch, account: str):
    """MLflow's plain client, with `account`'s credentials from the environment."""
    from mlflow import MlflowClient

    for name, value in team.env(account).items():
        if name.startswith(("MLFLOW_TRACKING_", "CREDITMINE_")):
            monkeypatch.setenv(name, value)
    return MlflowClient(tracking_uri=team.url, registry_uri=team.url)


def review_entries(team, version) -> list[dict]:
    """The trail's entries of a version other than refused attempts."""
    return [e for e in team.trail() if e["model"] == MODEL and e["version"] == str(version)
            and e["action"] != "refused"]


def run_folder(team, registered: Registered) -> str:
    """The run's artifact folder as the artifact store names it (``<experiment>/<run>/artifacts``)."""
    from mlflow import MlflowClient

    with team.acting_as(LI):
        uri = MlflowClient().get_run(registered.run_id).info.artifact_uri
    return uri.removeprefix("mlflow-artifacts:").lstrip("/")


def store_path(team, uri: str) -> Path:
    """Where an ``mlflow-artifacts:/`` URI's files are on the server's disk."""
    assert uri.startswith("mlflow-artifacts:/"), uri
    return team.artifacts / uri.removeprefix("mlflow-artifacts:").lstrip("/")


def applications(cfg, rows: int = 40):
    """Application rows as a scoring client sends them (no split, dates as text)."""
    from creditmine import artifacts

    apps = artifacts.read_features(artifacts.layout(cfg)).drop(columns=["split"]).head(rows)
    apps["applied_at"] = apps["applied_at"].dt.strftime("%Y-%m-%d")
    return apps.drop(columns=[c for c in ("default_12m",) if c in apps])


def verify_ok(team, model: str | None = None, version: str | None = None) -> None:
    """`creditmine review verify [MODEL [VERSION]]` finds nothing (run in this process, as li)."""
    from creditmine.governance.review import verify

    with team.acting_as(LI):
        problems = verify(team.url, model, version)
    assert problems == [], problems


def verify_cli(team, *args: str):
    return run_cli(team, LI, ["review", "verify", *args])


# -- who is who ----------------------------------------------------------------------------------

def test_the_server_names_each_account_and_its_roles(team):
    expected = {DEVELOPER: (True, False), LI: (False, True), RUI: (False, True), VIC: (True, True),
                ADMIN: (False, False)}
    for account, (developer, validator) in expected.items():
        reply = team.call(account, "whoami")
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"user": account, "developer": developer, "validator": validator}


def test_without_valid_credentials_every_request_gets_401_and_nothing_is_recorded(team, pipeline):
    import requests

    run_path = f"{team.url}/api/2.0/mlflow-artifacts/artifacts/{run_folder(team, pipeline)}/inputs.json"
    attempts = {
        "whoami": lambda s: s.get(f"{team.url}/api/2.0/creditmine/whoami"),
        "approve": lambda s: s.post(f"{team.url}/api/2.0/creditmine/approve",
                                    json={"model": MODEL, "version": pipeline.version, "comment": "ok"}),
        "search": lambda s: s.get(f"{team.url}/api/2.0/mlflow/registered-models/search"),
        "alias": lambda s: s.post(f"{team.url}/api/2.0/mlflow/registered-models/alias",
                                  json={"name": MODEL, "alias": "champion", "version": pipeline.version}),
        "put": lambda s: s.put(run_path, data=b"x"),
        "delete": lambda s: s.delete(run_path),
        "upload": lambda s: s.post(f"{team.url}/ajax-api/2.0/mlflow/upload-artifact",
                                   params={"run_uuid": pipeline.run_id, "path": "x.txt"}, data=b"x"),
    }
    password = team.password(LI)
    # nobody, a wrong password, and li's password under names that are li's to a person, not to the server
    credentials = [None, (LI, "not-the-password"), ("Li", password), (" li", password), ("l i", password),
                   ("l\u200bi".encode(), password.encode()), ("LI", password)]
    before = len(team.trail())
    for auth in credentials:
        for what, attempt in attempts.items():
            session = requests.Session()
            session.auth = auth
            reply = attempt(session)
            assert reply.status_code == 401, (auth, what, reply.status_code, reply.text[:300])
    assert len(team.trail()) == before  # an anonymous caller cannot write the trail, not even refusals


def test_a_validator_cannot_register(team, pipeline):
    body = {"model": MODEL, "run_id": pipeline.run_id, "model_id": pipeline.model_id, "product": PRODUCT}
    entry = refused(team, LI, lambda: team.call(LI, "register", body),
                    f"{LI} is not a developer of this team and may not register")
    assert entry["details"] == {"attempted": "register"}


def test_the_developer_cannot_approve_their_own_version_under_any_name(team, pipeline):
    version = pipeline.version
    # identity is the authenticated account: names in the request are not read
    for claimed in ({}, {"reviewer": LI}, {"actor": "Li"}, {"user": "l\u200bi"}, {"reviewer": "da na"},
                    {"actor": "DANA"}):
        body = {"model": MODEL, "version": version, "comment": "looks fine", **claimed}
        entry = refused(team, DEVELOPER, lambda b=body: team.call(DEVELOPER, "approve", b),
                        NOT_A_VALIDATOR.format(DEVELOPER))
        assert entry["version"] == version and entry["details"] == {"attempted": "approve"}
    # the CLI has no reviewer flag, and the environment's user names are not asked
    result = run_cli(team, DEVELOPER, ["review", "approve", MODEL, version, "--comment", "ok", "--reviewer", LI])
    assert result.returncode == 2 and "No such option" in result.stderr and "--reviewer" in result.stderr
    result = run_cli(team, DEVELOPER, ["review", "approve", MODEL, version, "--comment", "ok"],
                     env={"USER": LI, "LOGNAME": LI, "MLFLOW_TRACKING_USERNAME": DEVELOPER})
    assert result.returncode == 1
    assert f"refused: {NOT_A_VALIDATOR.format(DEVELOPER)} (HTTP 403" in result.stderr
    assert [e["action"] for e in review_entries(team, version)][:1] == ["register"]


def test_the_developer_cannot_reject_or_promote(team, pipeline):
    for action in ("reject", "promote"):
        body = {"model": MODEL, "version": pipeline.version, "comment": "mine"}
        refused(team, DEVELOPER, lambda a=action, b=body: team.call(DEVELOPER, a, b), NOT_A_VALIDATOR.format(DEVELOPER))
    result = run_cli(team, DEVELOPER, ["review", "promote", MODEL, pipeline.version])
    assert result.returncode == 1 and NOT_A_VALIDATOR.format(DEVELOPER) in result.stderr


def test_four_eyes_a_developer_who_also_validates_cannot_approve_their_own_version(team, second):
    assert review_entries(team, second.version)[0]["actor"] == VIC
    rule = f"{VIC} developed {MODEL} version {second.version} and may not approve it (four-eyes rule)"
    refused(team, VIC, lambda: team.call(VIC, "approve", {"model": MODEL, "version": second.version,
                                                          "comment": "mine, but fine"}), rule)
    result = run_cli(team, VIC, ["review", "approve", MODEL, second.version, "--comment", "fine"])
    assert result.returncode == 1 and f"refused: {rule}" in result.stderr


def test_review_tags_cannot_be_edited_or_deleted(team, pipeline, monkeypatch):
    for account in (DEVELOPER, LI):
        client = client_as(team, monkeypatch, account)
        for tag, value in (("developer", LI), ("review_state", "approved"), ("validation_verdict", "green"),
                           ("reviewer", LI), ("manifest_hash", "0" * 64)):
            refused(team, account, lambda t=tag, v=value: client.set_model_version_tag(MODEL, pipeline.version, t, v),
                    TAG_RULE)
        refused(team, account, lambda: client.delete_model_version_tag(MODEL, pipeline.version, "developer"), TAG_RULE)
    assert client.get_model_version(MODEL, pipeline.version).tags["developer"] == DEVELOPER


# -- a red version -------------------------------------------------------------------------------

def test_a_red_version_stays_red(team, red, monkeypatch):
    registration = review_entries(team, red.version)[0]
    assert registration["details"]["verdict"] == "red"
    client = client_as(team, monkeypatch, DEVELOPER)
    refused(team, DEVELOPER, lambda: client.set_model_version_tag(MODEL, red.version, "validation_verdict", "amber"),
            TAG_RULE)
    rule = (f"{MODEL} version {red.version} has a red validation verdict (recorded from its validation results "
            "at registration) and cannot be approved")
    for validator in VALIDATORS:
        refused(team, validator, lambda v=validator: team.call(v, "approve", {"model": MODEL, "version": red.version,
                                                                              "comment": "amber is enough"}), rule)
    result = run_cli(team, LI, ["review", "approve", MODEL, red.version, "--comment", "ok"])
    assert result.returncode == 1 and f"refused: {rule}" in result.stderr
    assert [e["action"] for e in review_entries(team, red.version)] == ["register"]


# -- the clean cycle -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def champion(team, pipeline):
    """The review as a team does it: li approves the developer's version, rui promotes it (CLI)."""
    approve = run_cli(team, LI, ["review", "approve", MODEL, pipeline.version, "--comment", "checked the pack"])
    promote = run_cli(team, RUI, ["review", "promote", MODEL, pipeline.version, "--comment", "go live"])
    assert approve.returncode == 0, approve.stdout + approve.stderr
    assert promote.returncode == 0, promote.stdout + promote.stderr
    return {"approve": approve, "promote": promote, "version": pipeline}


def test_the_clean_cycle_registers_approves_promotes_and_scores(team, pipeline, champion, tmp_path):
    version = pipeline.version
    assert f"approved {MODEL} version {version} as {LI}" in champion["approve"].stdout
    assert f"{MODEL} version {version} is the champion (as {RUI}" in champion["promote"].stdout
    assert [(e["action"], e["actor"]) for e in review_entries(team, version)] == [
        ("register", DEVELOPER), ("approve", LI), ("promote", RUI)]
    apps = applications(pipeline.cfg)
    apps.to_csv(tmp_path / "apps.csv", index=False)
    scored = run_cli(team, RUI, ["score", "--model", f"models:/{MODEL}@champion", "--input", str(tmp_path / "apps.csv"),
                                 "--output", str(tmp_path / "decisions.csv"), "--quiet"])
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert f"{len(apps)} applications -> " in scored.stdout
    import pandas as pd

    decisions = pd.read_csv(tmp_path / "decisions.csv", encoding="utf-8-sig", dtype={"application_id": str})
    assert decisions["application_id"].tolist() == apps["application_id"].astype(str).tolist()
    assert set(decisions["decision"]) <= {"approve", "refer", "decline"}
    assert decisions["pd"].notna().any()
    result = verify_cli(team, MODEL, version)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"OK: audit trail {team.url} (team server) intact")
    assert f"{MODEL} version {version} artifacts match their manifest" in result.stdout
    verify_ok(team)


# -- forged approvals: the trail -----------------------------------------------------------------

def test_the_client_cannot_write_the_trail_or_move_its_anchors(team, champion, monkeypatch):
    import requests

    from creditmine.registry.trail import TrailError
    from creditmine.registry.trail_store import RemoteTrail

    auth = (DEVELOPER, team.password(DEVELOPER))
    before = team.trail()
    for path in ("creditmine/trail", "creditmine/append", "creditmine/entries", "mlflow/audit-trail"):
        reply = requests.post(f"{team.url}/api/2.0/{path}", json={"entries": [{"action": "approve"}]}, auth=auth)
        assert reply.status_code in (403, 404, 405), (path, reply.status_code, reply.text[:200])
    assert team.trail() == before
    with pytest.raises(TrailError, match="only the team server writes its trail; use its review endpoints"):
        with RemoteTrail(team.url).transaction():
            pass
    for account in (DEVELOPER, LI):
        client = client_as(team, monkeypatch, account)
        for tag in ("audit_head", "audit_seq"):
            refused(team, account, lambda t=tag: client.set_registered_model_tag(MODEL, t, "1"), MODEL_TAG_RULE)
            refused(team, account, lambda t=tag: client.delete_registered_model_tag(MODEL, t), MODEL_TAG_RULE)
    verify_ok(team)


def test_the_trail_table_refuses_changes_even_from_the_servers_own_roles(team, pipeline):
    import psycopg

    cluster = team.server.cluster
    changes = ["UPDATE audit.trail SET action = 'approve' WHERE seq = 1", "DELETE FROM audit.trail WHERE seq = 1",
               "TRUNCATE audit.trail"]
    with cluster.connect("creditmine_trail") as conn:   # the role the server writes the trail as
        assert conn.execute("SELECT count(*) FROM audit.trail").fetchone()[0] >= 1
        for sql in changes:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table trail"):
                conn.execute(sql)
        for sql in ("ALTER TABLE audit.trail DISABLE TRIGGER trail_no_change", "DROP TABLE audit.trail"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner of table trail"):
                conn.execute(sql)
    with cluster.connect("creditmine_mlflow") as conn:  # the MLflow server's role, owner of the database
        for sql in ("SELECT count(*) FROM audit.trail", *changes):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for schema audit"):
                conn.execute(sql)
    with cluster.connect() as conn:                     # even a superuser meets the trigger
        for sql, operation in zip(changes, ("UPDATE", "DELETE", "TRUNCATE"), strict=True):
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match=f"audit.trail is append-only: {operation} refused"):
                conn.execute(sql)
    verify_ok(team)


def test_a_row_a_database_administrator_forges_is_caught(team, champion, red, monkeypatch, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from creditmine.registry import keys
    from creditmine.registry.gate import DeploymentRefused, check_deployable
    from creditmine.registry.trail import entry_hash

    client_as(team, monkeypatch, RUI)
    last = team.trail()[-1]
    # the red version approved by li: linked and hashed like a real entry, signed by another key
    forged = {
        "seq": last["seq"] + 1, "time": last["time"], "action": "approve", "model": MODEL, "version": red.version,
        "actor": LI, "comment": "fine",
        "details": {"manifest_hash": review_entries(team, red.version)[0]["details"]["manifest_hash"]},
        "prev_hash": last["hash"], "key_id": keys.key_id(keys.load_public_key(team.server.public_key())),
    }
    forged["hash"] = entry_hash(forged)
    forged["signature"] = __import__("base64").b64encode(
        Ed25519PrivateKey.generate().sign(bytes.fromhex(forged["hash"]))).decode("ascii")
    seq = forged["seq"]
    with team.server.cluster.connect() as dba:
        dba.execute("INSERT INTO audit.trail (seq, model, version, action, entry, hash) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (seq, MODEL, red.version, "approve", json.dumps(forged, sort_keys=True), forged["hash"]))
    try:
        result = verify_cli(team)
        assert result.returncode == 1
        assert f"FAIL entry #{seq} (row {seq}): the signature does not verify (not written by the trail's key)" \
            in result.stderr
        assert "verification failed" in result.stderr
        broken = f"the audit trail {team.url} (team server) does not verify: entry #{seq}"
        with pytest.raises(DeploymentRefused, match=re.escape(broken)):
            check_deployable(MODEL, red.version, team.url)
        with pytest.raises(DeploymentRefused, match="does not verify"):
            check_deployable(MODEL, champion["version"].version, team.url, as_champion=True)
        applications(red.cfg, 5).to_csv(tmp_path / "apps.csv", index=False)
        scored = run_cli(team, RUI, ["score", "--model", f"models:/{MODEL}@champion", "--input",
                                     str(tmp_path / "apps.csv"), "--output", str(tmp_path / "out.csv"), "--quiet"])
        assert scored.returncode == 1 and f"refused to score with models:/{MODEL}@champion" in scored.stderr
        assert f"entry #{seq}" in scored.stderr and not (tmp_path / "out.csv").exists()
        # and the server takes no review action on a trail that does not verify
        reply = team.call(RUI, "reject", {"model": MODEL, "version": red.version, "comment": "red"})
        assert reply.status_code == 403
        assert reply.json()["message"].startswith("the audit trail PostgreSQL table audit.trail does not verify: "
                                                  f"entry #{seq}")
    finally:  # the DBA takes the row out again (only a superuser can, past the trigger)
        with team.server.cluster.connect() as dba:
            dba.execute("ALTER TABLE audit.trail DISABLE TRIGGER trail_no_change")
            dba.execute("DELETE FROM audit.trail WHERE seq = %s", (seq,))
            dba.execute("ALTER TABLE audit.trail ENABLE TRIGGER trail_no_change")
    verify_ok(team)


# -- the model swapped after approval --------------------------------------------------------------

def _run_and_model_attacks(team, account: str, client, registered: Registered, scratch: Path):
    """(what, attempt, reason) of every way to change a registered version's run or logged model."""
    run, model = registered.run_id, registered.model_id
    run_files = client.get_run(run).info.artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
    model_files = client.get_logged_model(model).artifact_location.removeprefix("mlflow-artifacts:").lstrip("/")
    run_reason = f"run {run} backs a registered version; its artifacts never change"
    records_reason = f"run {run} backs a registered version; its records no longer change"
    model_reason = f"logged model {model} backs a registered version; its files never change"
    logged_reason = f"logged model {model} backs a registered version; it no longer changes"
    (scratch / "model").mkdir(parents=True, exist_ok=True)
    evil = scratch / "model" / "MLmodel"
    evil.write_text("flavors: {python_function: {loader_module: evil}}\n")
    (scratch / "validation.json").write_text('{"verdict": "green"}')
    session = team.session(account)
    api = f"{team.url}/api/2.0/mlflow-artifacts"
    return [
        ("log_artifact into the run", lambda: client.log_artifact(run, str(scratch / "validation.json"), "04_validate"),
         run_reason),
        ("log_metric", lambda: client.log_metric(run, "gbm.oot.auc", 0.99), records_reason),
        ("set_tag", lambda: client.set_tag(run, "light.auc_oot", "green"), records_reason),
        ("delete_run", lambda: client.delete_run(run), records_reason),
        ("log_model_artifact", lambda: client.log_model_artifact(model, str(evil)), model_reason),
        ("set_logged_model_tags", lambda: client.set_logged_model_tags(model, {"approved": "yes"}), logged_reason),
        ("delete_logged_model", lambda: client.delete_logged_model(model), logged_reason),
        ("PUT run file", lambda: session.put(f"{api}/artifacts/{run_files}/04_validate/validation.json", data=b"{}"),
         run_reason),
        ("PUT model file", lambda: session.put(f"{api}/artifacts/{model_files}/MLmodel", data=evil.read_bytes()),
         model_reason),
        ("PUT encoded path",
         lambda: session.put(f"{api}/artifacts/{run_files.replace('/', '%2F', 1)}/x.txt", data=b"x"),
         run_reason),
        ("DELETE run file", lambda: session.delete(f"{api}/artifacts/{run_files}/inputs.json"), run_reason),
        ("multipart upload", lambda: session.post(f"{api}/mpu/create/{model_files}/MLmodel", json={"path": "MLmodel"}),
         model_reason),
        ("upload-artifact", lambda: session.post(f"{team.url}/ajax-api/2.0/mlflow/upload-artifact",
                                                 params={"run_uuid": run, "path": "04_validate/validation.json"},
                                                 data=b'{"run_uuid": "not-this-one"}'), run_reason),
        ("presigned upload", lambda: session.post(f"{team.url}/api/2.0/mlflow/artifacts/presigned-upload-url",
                                                  json={"model_id": model, "path": "MLmodel"}), model_reason),
    ]


@pytest.mark.parametrize("account", [DEVELOPER, LI])
def test_the_run_and_model_of_an_approved_version_never_change(team, champion, account, monkeypatch, tmp_path):
    registered = champion["version"]
    client = client_as(team, monkeypatch, account)
    for what, attempt, reason in _run_and_model_attacks(team, account, client, registered, tmp_path):
        entry = refused(team, account, attempt, reason)
        assert entry["details"]["attempted"].split()[0] in ("POST", "PUT", "PATCH", "DELETE"), what
    verify_ok(team, MODEL, registered.version)


def test_a_path_that_climbs_into_a_registered_run_is_refused(team, champion):
    import base64
    import http.client

    registered = champion["version"]
    host, port = team.url.removeprefix("http://").split(":")
    token = base64.b64encode(f"{DEVELOPER}:{team.password(DEVELOPER)}".encode()).decode()
    before = len(team.trail())
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    experiment, run, _ = run_folder(team, registered).split("/", 2)
    connection.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/scratch/../{run}/artifacts/x.txt",
                       body=b"x", headers={"Authorization": f"Basic {token}"})
    reply = connection.getresponse()
    assert reply.status == 403 and "artifact paths may not climb ('..')" in reply.read().decode()
    assert team.trail()[before:][-1]["actor"] == DEVELOPER


@pytest.mark.parametrize("account", [DEVELOPER, LI])
def test_aliases_versions_and_descriptions_move_only_through_the_review(team, champion, red, account, monkeypatch):
    import requests

    client = client_as(team, monkeypatch, account)
    registered = champion["version"]
    source = client.get_run(red.run_id).info.artifact_uri
    attacks = [
        (lambda: client.set_registered_model_alias(MODEL, "champion", red.version), ALIAS_RULE),
        (lambda: client.delete_registered_model_alias(MODEL, "champion"), ALIAS_RULE),
        (lambda: client.set_registered_model_alias(MODEL, "previous-champion", red.version), ALIAS_RULE),
        (lambda: client.create_model_version(MODEL, source=source, run_id=red.run_id), VERSION_RULE),
        (lambda: client.update_model_version(MODEL, registered.version, description="approved by li"), VERSION_RULE),
        (lambda: client.delete_model_version(MODEL, red.version), VERSION_RULE),
        (lambda: requests.post(f"{team.url}/api/2.0/mlflow/model-versions/transition-stage",
                               auth=(account, team.password(account)),
                               json={"name": MODEL, "version": red.version, "stage": "Production"}), VERSION_RULE),
        (lambda: client.set_model_version_tag(MODEL, red.version, "review_state", "approved"), TAG_RULE),
        (lambda: client.update_registered_model(MODEL, description="all approved"), MODEL_RULE),
        (lambda: client.rename_registered_model(MODEL, f"{MODEL}-old"), MODEL_RULE),
        (lambda: client.delete_registered_model(MODEL), MODEL_RULE),
        (lambda: client.create_registered_model("creditmine-shadow"), MODEL_RULE),
    ]
    for attempt, reason in attacks:
        entry = refused(team, account, attempt, reason)
        assert entry["model"] in (MODEL, "creditmine-shadow")
    assert client.get_model_version_by_alias(MODEL, "champion").version == registered.version
    verify_ok(team, MODEL, registered.version)


# -- promote, roll back and races ------------------------------------------------------------------

def _at_once(team, calls: dict[str, tuple[str, dict]]) -> dict:
    """Each account's (endpoint, body) sent at the same instant, one thread each; their replies."""
    sessions = {account: team.session(account) for account in calls}
    for session in sessions.values():   # authenticated once, so the calls start together
        assert session.get(f"{team.url}/api/2.0/creditmine/whoami", timeout=60).status_code == 200
    barrier = threading.Barrier(len(calls))
    replies = {}

    def call(account):
        endpoint, body = calls[account]
        barrier.wait()
        replies[account] = sessions[account].post(f"{team.url}/api/2.0/creditmine/{endpoint}", json=body, timeout=120)

    threads = [threading.Thread(target=call, args=(account,)) for account in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return replies


def _one_wins(replies: dict) -> tuple[str, str]:
    codes = {account: reply.status_code for account, reply in replies.items()}
    assert sorted(codes.values()) == [200, 403], {a: r.text[:300] for a, r in replies.items()}
    winner = next(a for a, c in codes.items() if c == 200)
    loser = next(a for a, c in codes.items() if c == 403)
    return winner, loser


@pytest.fixture(scope="module")
def approve_race(team, second):
    body = {"model": MODEL, "version": second.version, "comment": "checked"}
    return _at_once(team, {LI: ("approve", body), RUI: ("approve", body)})


def test_two_validators_approving_at_once_one_wins(team, second, approve_race):
    winner, loser = _one_wins(approve_race)
    assert approve_race[loser].json()["message"] == (f"{MODEL} version {second.version} is approved; only a pending "
                                                     "version can be approved")
    assert [(e["action"], e["actor"]) for e in review_entries(team, second.version)] == [
        ("register", VIC), ("approve", winner)]
    assert any(e["action"] == "refused" and e["actor"] == loser and e["version"] == second.version
               for e in team.trail())
    verify_ok(team)


@pytest.fixture(scope="module")
def rolled_back(team, champion, second, approve_race):
    """rui promotes vic's version over the champion; the developer tries to roll it back; li does."""
    promote = team.call(RUI, "promote", {"model": MODEL, "version": second.version, "comment": "better"})
    by_developer = team.call(DEVELOPER, "rollback", {"model": MODEL, "comment": "mine was better"})
    rollback = run_cli(team, LI, ["review", "rollback", MODEL, second.version, "--comment", "drift"])
    return {"promote": promote, "by_developer": by_developer, "rollback": rollback}


def test_only_a_validator_rolls_back(team, champion, second, rolled_back, monkeypatch):
    first = champion["version"].version
    assert rolled_back["promote"].status_code == 200, rolled_back["promote"].text
    assert rolled_back["promote"].json()["entry"]["details"] == {"champion": second.version, "previous_champion": first}
    assert rolled_back["by_developer"].status_code == 403
    assert rolled_back["by_developer"].json()["message"] == NOT_A_VALIDATOR.format(DEVELOPER)
    assert any(e["action"] == "refused" and e["actor"] == DEVELOPER and e["details"] == {"attempted": "rollback"}
               and e["comment"] == NOT_A_VALIDATOR.format(DEVELOPER) for e in team.trail())
    result = rolled_back["rollback"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"version {first} is the champion again (version {second.version} withdrawn; as {LI}" in result.stdout
    client = client_as(team, monkeypatch, LI)
    assert client.get_model_version_by_alias(MODEL, "champion").version == first
    assert "previous-champion" not in client.get_registered_model(MODEL).aliases
    verify_ok(team)


@pytest.fixture(scope="module")
def reject_race(team, second, rolled_back):
    body = {"model": MODEL, "version": second.version, "comment": "withdrawn for good"}
    return _at_once(team, {LI: ("reject", body), RUI: ("reject", body)})


def test_two_validators_rejecting_at_once_one_wins(team, pipeline, second, reject_race):
    winner, loser = _one_wins(reject_race)
    assert reject_race[loser].json()["message"] == (f"{MODEL} version {second.version} is rejected; only a pending "
                                                    "or approved version can be rejected")
    assert [e["action"] for e in review_entries(team, second.version)] == ["register", "approve", "promote", "reject"]
    rollback = [e for e in team.trail() if e["action"] == "rollback"]
    assert [(e["version"], e["details"]["rolled_back"]) for e in rollback] == [(pipeline.version, second.version)]
    verify_ok(team)


# -- code in the artifact store ----------------------------------------------------------------------

def _tamper(model_dir: Path, how: str, marker: Path) -> None:
    """Edit the server's copy of a decision model as someone with disk access would."""
    spec = yaml.safe_load((model_dir / "MLmodel").read_text())
    pyfunc = spec["flavors"]["python_function"]
    if how == "foreign loader":
        pyfunc.update(loader_module="evil_loader", code="code")
        (model_dir / "code").mkdir()
        (model_dir / "code" / "evil_loader.py").write_text(
            f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
            "def _load_pyfunc(path):\n    raise SystemExit('evil')\n")
    else:  # a pickled python model whose unpickling runs code
        pyfunc.update(loader_module="mlflow.pyfunc.model", python_model="python_model.pkl", cloudpickle_version="3.0.0")
        pyfunc.pop("data", None)

        class Evil:
            def __reduce__(self):
                return exec, (f"open({str(marker)!r}, 'w').write('ran')",)

        (model_dir / "python_model.pkl").write_bytes(pickle.dumps(Evil()))
    (model_dir / "MLmodel").write_text(yaml.safe_dump(spec))


@pytest.mark.parametrize("how", ["foreign loader", "evil pickle"])
def test_an_edited_artifact_store_copy_never_loads_and_none_of_its_code_runs(team, champion, how, monkeypatch,
                                                                             tmp_path):
    import mlflow

    from creditmine.registry.gate import DeploymentRefused

    registered = champion["version"]
    client = client_as(team, monkeypatch, RUI)
    model_dir = store_path(team, client.get_logged_model(registered.model_id).artifact_location)
    assert (model_dir / "MLmodel").is_file()
    monkeypatch.setenv("CREDITMINE_MODEL_CACHE", str(tmp_path / "cache"))  # nothing verified earlier
    marker = tmp_path / "the-artifacts-code-ran"
    backup = tmp_path / "backup"
    shutil.copytree(model_dir, backup)
    uri = f"models:/{MODEL}@champion"
    why = "model files do not match the manifest (changed: model/MLmodel"
    try:
        _tamper(model_dir, how, marker)
        with pytest.raises(DeploymentRefused, match=re.escape(f"artifacts do not match the manifest ({why}")):
            mlflow.pyfunc.load_model(uri)
        applications(registered.cfg, 5).to_csv(tmp_path / "apps.csv", index=False)
        scored = run_cli(team, RUI, ["score", "--model", uri, "--input", str(tmp_path / "apps.csv"),
                                     "--output", str(tmp_path / "out.csv"), "--quiet"],
                         env={"CREDITMINE_MODEL_CACHE": str(tmp_path / "cache")})
        assert scored.returncode == 1, scored.stdout + scored.stderr
        assert f"refused to score with {uri}: {MODEL} version {registered.version}: {why}" in scored.stderr
        if how == "foreign loader":  # (the same gate as score's: once is enough)
            served = run_cli(team, RUI, ["serve", "--model", uri, "--port", str(team_server.free_port())], timeout=180,
                             env={"CREDITMINE_MODEL_CACHE": str(tmp_path / "cache")})
            assert served.returncode == 1, served.stdout + served.stderr
            assert f"refused to serve {uri}: {MODEL} version {registered.version}: {why}" in served.stderr
        from creditmine.governance.review import verify

        problems = verify(team.url, MODEL, registered.version)
        assert any(p.startswith("model files: changed: model/MLmodel") for p in problems), problems
        assert not marker.exists(), "code from the artifact store ran"
        assert not (tmp_path / "out.csv").exists()
    finally:
        shutil.rmtree(model_dir)
        shutil.copytree(backup, model_dir)
    assert not marker.exists()
    verify_ok(team, MODEL, registered.version)


# -- where a version's files live ----------------------------------------------------------------

def test_a_run_whose_files_are_outside_the_server_store_is_not_registered(team, pipeline, monkeypatch, tmp_path):
    client = client_as(team, monkeypatch, DEVELOPER)
    location = (tmp_path / "danas-folder").as_uri()
    experiment = client.create_experiment("dana-scratch", artifact_location=location)
    run = client.create_run(experiment).info.run_id
    model = client.create_logged_model(experiment, source_run_id=run).model_id
    body = {"model": MODEL, "run_id": run, "model_id": model, "product": PRODUCT}
    entry = refused(team, DEVELOPER, lambda: team.call(DEVELOPER, "register", body),
                    f"run {run} keeps its artifacts at {location}/{run}/artifacts, outside the team server's "
                    "artifact store")
    assert entry["details"] == {"attempted": "register"}


def test_a_new_products_experiment_keeps_its_artifacts_on_the_server(team, pipeline, monkeypatch):
    from creditmine.registry.store import connect, ensure_experiment

    client_as(team, monkeypatch, DEVELOPER)
    client = connect(team.url)
    experiment = ensure_experiment(client, "creditmine-new_product", pipeline.cfg)
    assert client.get_experiment(experiment).artifact_location.startswith("mlflow-artifacts:/")


def test_a_run_that_backs_a_version_cannot_be_registered_again(team, red, pipeline):
    from creditmine.governance.review import verify

    body = {"model": MODEL, "run_id": red.run_id, "model_id": pipeline.model_id, "product": PRODUCT,
            "run_name": "again"}
    reply = team.call(DEVELOPER, "register", body)
    with team.acting_as(LI):
        problems = verify(team.url, MODEL, red.version)
    assert reply.status_code == 403, f"registered again: {reply.text[:300]}; {MODEL} version {red.version}: {problems}"
    assert not problems


PADDING_BYTES = 512 << 20  # a big run artifact: the server copies it between its two downloads of the model
EVIL_PICKLE = "python_model.bin"  # a pickle under a name the vetting does not know as one


def _swap_while_registering(team, client, session, experiment: str, run_files: Path, model_files: Path,
                            evil_mlmodel: bytes):
    """Register a new run of the developer's while swapping its MLmodel in the server's store once
    the server has its copy of the model and is copying the run (seen in the server's temporary
    folder): the moment a second download of the model would read the foreign bytes. Returns
    (register reply, whether the swap landed in that window)."""
    run = client.create_run(experiment, run_name="swap").info.run_id
    client.log_artifacts(run, str(run_files))
    model = client.create_logged_model(experiment, source_run_id=run).model_id
    client.log_model_artifacts(model, str(model_files))
    mlmodel = client.get_logged_model(model).artifact_location.removeprefix("mlflow-artifacts:").lstrip("/")
    reply = {}
    body = {"model": MODEL, "run_id": run, "model_id": model, "product": PRODUCT, "run_name": "swap"}
    thread = threading.Thread(target=lambda: reply.setdefault("register", team.call(DEVELOPER, "register", body)))
    thread.start()
    landed = False
    deadline = time.monotonic() + 120
    while thread.is_alive() and time.monotonic() < deadline:
        copied = list(team.server_tmp.glob("creditmine-register-*/model/**/MLmodel"))
        if copied:  # the server has its copy of the model; the run (and its padding) is still to come
            put = session.put(f"{team.url}/api/2.0/mlflow-artifacts/artifacts/{mlmodel}/MLmodel", data=evil_mlmodel)
            landed = put.status_code == 200 and thread.is_alive()
            break
        time.sleep(0.002)
    thread.join(timeout=300)
    return reply.get("register"), landed


def test_a_model_swapped_while_the_server_registers_it_never_runs(team, pipeline, monkeypatch, tmp_path):
    import hashlib

    import mlflow

    from creditmine.registry.manifest import manifest_hash

    client = client_as(team, monkeypatch, DEVELOPER)
    experiment = client.get_experiment_by_name(f"creditmine-{PRODUCT}").experiment_id
    run_files = Path(mlflow.artifacts.download_artifacts(run_id=pipeline.run_id, dst_path=str(tmp_path / "run"),
                                                         tracking_uri=team.url))
    (run_files / "manifest.json").unlink()
    with open(run_files / "padding.bin", "wb") as padding:
        padding.truncate(PADDING_BYTES)
    model_files = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=client.get_logged_model(pipeline.model_id).artifact_location, dst_path=str(tmp_path / "model"),
        tracking_uri=team.url))
    (model_files / "registered_model_meta").unlink(missing_ok=True)
    marker = tmp_path / "the-swapped-models-code-ran"

    class Evil:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').write('ran')",)

    (model_files / EVIL_PICKLE).write_bytes(pickle.dumps(Evil()))
    spec = yaml.safe_load((model_files / "MLmodel").read_text())
    spec["flavors"]["python_function"].update(loader_module="mlflow.pyfunc.model", python_model=EVIL_PICKLE,
                                              cloudpickle_version="3.0.0")
    spec["flavors"]["python_function"].pop("data")  # MLflow hands the loader the model folder itself
    evil_mlmodel = yaml.safe_dump(spec).encode()
    session = team.session(DEVELOPER)
    for _ in range(3):
        reply, landed = _swap_while_registering(team, client, session, experiment, run_files, model_files, evil_mlmodel)
        if landed:
            break
    else:
        pytest.fail("the swap never landed while the server registered the run: the test proved nothing")
    # what the server does with a model swapped under it: refuse it, or record what it vetted
    if reply.status_code == 200:
        version = reply.json()["entry"]["version"]
        recorded = reply.json()["entry"]["details"]["manifest_hash"]
        manifest = json.loads((store_path(team, client.get_run(reply.json()["entry"]["details"]["run_id"])
                                          .info.artifact_uri) / "manifest.json").read_text())
        assert recorded == manifest_hash(manifest)
        approve = run_cli(team, LI, ["review", "approve", MODEL, version, "--comment", "metrics look right"])
        applications(pipeline.cfg, 5).to_csv(tmp_path / "apps.csv", index=False)
        scored = run_cli(team, RUI, ["score", "--model", f"models:/{MODEL}/{version}", "--input",
                                     str(tmp_path / "apps.csv"), "--output", str(tmp_path / "out.csv"), "--quiet"])
        assert manifest["files"]["model/MLmodel"] != hashlib.sha256(evil_mlmodel).hexdigest(), (
            f"the signed manifest of {MODEL} version {version} records the swapped, unvetted MLmodel; approve: "
            f"{approve.stdout.strip()}; score exit {scored.returncode} ({scored.stderr.strip()[-300:]}); "
            f"code ran: {marker.exists()}")
        assert not marker.exists(), "code from the registered version's artifacts ran"
    else:
        assert reply.status_code == 403, reply.text
    assert not marker.exists()


# -- monitoring: the verdict goes through the server's rules --------------------------------------

def test_the_monitoring_verdict_is_the_servers_to_record(team, red, monkeypatch):
    """A red monitoring verdict that blocks the version is recorded by the server as the account
    that sent it; no client writes the tag itself; its developer cannot lift the block."""
    body = {"model": MODEL, "version": red.version, "verdict": "red", "comment": "score PSI red in 2026-01",
            "details": {"as_of": "2026-01-31", "blocks_decisions": True}}
    reply = team.call(DEVELOPER, "monitor", body)
    assert reply.status_code == 200, reply.text
    entry = reply.json()["entry"]
    assert (entry["action"], entry["actor"], entry["details"]["blocks_decisions"]) == ("monitor", DEVELOPER, True)
    client = client_as(team, monkeypatch, DEVELOPER)
    tags = client.get_model_version(MODEL, red.version).tags
    assert (tags["monitoring_verdict"], tags["monitoring_as_of"]) == ("red", "2026-01-31")
    for account in (DEVELOPER, LI):
        plain = client_as(team, monkeypatch, account)
        refused(team, account, lambda c=plain: c.set_model_version_tag(MODEL, red.version, "monitoring_verdict",
                                                                       "green"), TAG_RULE)
    lift = dict(body, verdict="green", comment="fine again", details={"as_of": "2026-02-28"})
    refused(team, DEVELOPER, lambda: team.call(DEVELOPER, "monitor", lift),
            "someone else must record the verdict that lifts the block (four-eyes rule)")
    refused(team, LI, lambda: team.call(LI, "monitor", dict(lift, verdict="purple")),
            "monitoring verdict must be green, amber, red")
    lifted = team.call(LI, "monitor", lift)
    assert lifted.status_code == 200, lifted.text
    assert client.get_model_version(MODEL, red.version).tags["monitoring_verdict"] == "green"
    assert [e["action"] for e in review_entries(team, red.version)][-2:] == ["monitor", "monitor"]
