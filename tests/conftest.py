"""Shared fixtures: an isolated project root so tests never touch the repo's runs/, reports/ or mlruns/."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Verified model copies go to the session's temporary folder, not the user's ~/.cache."""
    from creditmine.registry.integrity import ENV_CACHE

    os.environ[ENV_CACHE] = str(tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="session")
def selected_fixtures(request) -> frozenset[str]:
    """Every fixture the session's selected tests use: a module may take what it needs from a
    session-wide world when the session builds that world anyway."""
    return frozenset(name for item in request.session.items for name in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def _no_outside_tracking(monkeypatch):
    """Tests use the store of their own project root, never a team server from the environment.

    `mlflow.set_tracking_uri` / `set_registry_uri` also write these variables: they are put back
    after each test, so one test's store never leaks into the next one's subprocesses.
    """
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield
    for name in MLFLOW_ENV:
        os.environ.pop(name, None)
    for module in ("mlflow.tracking._tracking_service.utils", "mlflow.tracking._model_registry.utils"):
        utils = sys.modules.get(module)
        for attribute in ("_tracking_uri", "_registry_uri"):
            if utils is not None and hasattr(utils, attribute):
                setattr(utils, attribute, None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throw-away project root: a copy of params/, the real notebooks and data sets linked in, an empty mlruns/."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "params", root / "params")
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    (root / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
    (root / "mlruns").mkdir()
    return root


# -- the ingestion tests' world (test_ingest*.py) ----------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A small synthetic world in the data model's Parquet, once per test module."""
    from creditmine.config.data import SyntheticParams
    from creditmine.data import synthetic

    out = tmp_path_factory.mktemp("world")
    synthetic.generate(SyntheticParams(enterprises=120), 3, out, progress=False)
    return out


@pytest.fixture
def source(world, tmp_path) -> Path:
    """A user's folder: some tables as CSV (ISO dates), the others as Parquet."""
    from creditmine.data import io
    from ingest_world import AS_CSV

    folder = tmp_path / "source"
    folder.mkdir()
    for name in io.TABLES:
        if name in AS_CSV:
            io.read_table(world, name).to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
        else:
            shutil.copy(io.table_path(world, name), folder / f"{name}.parquet")
    return folder


# -- a small quick-loan project's stages 01-04, once per session -------------------------------------
@pytest.fixture(scope="session")
def quick_loan_stages(tmp_path_factory):
    """`factories.quick_loan_project` (stages 01 through the writers, 02 and 04 for real) built once
    for the session. Never written to: a test takes its own copy (`factories.from_stages`, which
    `factories.approved_champion` uses) and runs stage 05 into that copy's own store."""
    from creditmine.decision.score import tracking_store
    from factories import quick_loan_project

    root = tmp_path_factory.mktemp("quick-loan-stages") / "project"
    root.mkdir()
    # stage 04 looks for a champion in the project's own store, as the copies' stage 05 will use theirs
    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        return quick_loan_project(root, "decide")


# -- the slowest worlds, started in the background before the first test -------------------------
@pytest.fixture(scope="session")
def _background(tmp_path_factory):
    """The commands that build the slowest worlds, run one after the other beside the tests."""
    from background import Commands

    commands = Commands(tmp_path_factory.mktemp("background"))
    yield commands
    commands.stop()


@pytest.fixture(scope="session", autouse=True)
def _start_the_slowest_worlds_early(request, selected_fixtures):
    """When a selected test needs one of the slowest worlds, it starts before the first test, in the
    order the tests need them (test files run in alphabetical order), and builds beside the tests on
    the CPU time they leave idle (tests/background.py). Not under pytest-xdist, whose workers would
    each start them all: there a world starts when a test first needs it."""
    import team_server

    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if "monitoring_world" in selected_fixtures:
        request.getfixturevalue("_monitoring_world_started")
    if "ci_run" in selected_fixtures:
        request.getfixturevalue("_ci_pipeline")
    if "team_server_up" in selected_fixtures and team_server.postgres_missing() is None:
        request.getfixturevalue("_team_server_started")


@pytest.fixture(scope="session")
def _monitoring_world_started(_background, tmp_path_factory):
    from factories import creditmine_env

    root = tmp_path_factory.mktemp("monitor") / "project"
    root.mkdir()
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    _background.add("monitoring-world", [sys.executable, str(REPO / "tests" / "monitoring_world.py"), str(root)],
                    root, creditmine_env())
    return root


@pytest.fixture(scope="session")
def monitoring_world(_monitoring_world_started, _background):
    """test_monitor.py's world, `monitoring_world.build` (stages 00-05 for real, then each scenario's
    production period), made in a process of its own: (RunConfig, the periods by scenario). Only
    test_monitor.py uses it, and its tests record verdicts in its store (as when the module built the
    world itself): another module would need a world of its own."""
    from monitoring_world import load

    done = _background.result("monitoring-world")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return load(_monitoring_world_started)


@pytest.fixture(scope="session")
def _ci_pipeline(_background, tmp_path_factory, selected_fixtures, _model_cache):
    """A project (its own copy of the notebooks, so that a stray store under notebooks/ shows) on
    which `creditmine run --params params/ci.yaml --run-name ci` is started; then, when a selected
    test needs it (`ci_second_run`), the same params' stages 01-04 again as run `second`."""
    from factories import creditmine_env

    root = tmp_path_factory.mktemp("reports") / "project"
    root.mkdir()
    for folder in ("params", "notebooks"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
    shutil.copytree(REPO / "benchmarks" / "results", root / "benchmarks" / "results")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    cli = [sys.executable, "-m", "creditmine.cli", "run"]
    _background.add("ci", [*cli, "--params", "params/ci.yaml", "--run-name", "ci"], root,
                    creditmine_env() | {"MLFLOW_TRACKING_URI": "sqlite:///mlruns/mlflow.db"})
    if "ci_second_run" in selected_fixtures:
        _background.add("second", [*cli, "--params", str(root / "params" / "ci.yaml"), "--run-name", "second",
                                   "--stages", "01,02,03,04"], root, creditmine_env())
    return root


@pytest.fixture(scope="session")
def ci_run(_ci_pipeline, _background):
    """The project on which `creditmine run --params params/ci.yaml --run-name ci` ran once for the
    session: the slowest end-to-end run, shared by test_pipeline.py and test_reports_ci.py (and whose
    quick-loan stages 01-04 test_team_server.py copies). Handed out once no command of
    `_ci_pipeline` still writes in it."""
    from creditmine import config

    done = _background.result("ci")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "Traceback" not in done.stdout + done.stderr
    if "second" in _background:
        _background.result("second")
    cfg = config.load(_ci_pipeline / "params" / "ci.yaml", run_name="ci")
    return cfg, done.stdout


@pytest.fixture(scope="session")
def ci_second_run(ci_run, _ci_pipeline, _background):
    """`creditmine run --params params/ci.yaml --run-name second --stages 01,02,03,04` in the
    project of `ci_run`, after it: a second execution of the same params (test_pipeline.py's
    determinism check)."""
    from creditmine import config

    done = _background.result("second")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return config.load(_ci_pipeline / "params" / "ci.yaml", run_name="second")


@pytest.fixture(scope="session")
def _team_server_started(_background, tmp_path_factory):
    import team_server
    from factories import creditmine_env

    root = team_server.new_folder()
    cache = tmp_path_factory.mktemp("team-model-cache")
    # not under SCHED_IDLE: the server's processes would inherit it
    _background.add("team-server", team_server.up_command(root, **team_server.ATTACK_TEAM), root,
                    creditmine_env() | {"CREDITMINE_MODEL_CACHE": str(cache)}, idle=False)
    yield root, cache
    if root.exists():  # not stopped by its module (the session ended first)
        _background.stop()
        if (root / "team.yaml").is_file():
            team_server.attach(root).stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def team_server_up(_team_server_started, _background):
    """test_team_server.py's team server (`team_server.ATTACK_TEAM`), brought up in a process of its
    own: (its folder, the model cache its processes were started with). The module stops it."""
    done = _background.result("team-server")
    assert done.returncode == 0, f"the team server did not start:\n{done.stdout[-2000:]}{done.stderr[-5000:]}"
    return _team_server_started
