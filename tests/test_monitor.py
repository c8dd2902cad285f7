"""Stage 06 end to end on a small synthetic world whose champion decides a four-month production
period: the drift turns the verdict red in time, the world without drift stays green, the
label-free AUC estimate holds against the AUC realized later, the trigger and its block, the
decision log of `creditmine score`, and `creditmine monitor` through papermill in headless Chromium.

One world is built for the module, in the background of the session (conftest's `monitoring_world`;
stages 00-05 for real, a second person approves); each scenario's decisions go to their own decision
store (CREDITMINE_DECISION_STORE).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from factories import REPO, creditmine_env, second_person

pytestmark = pytest.mark.slow

PRODUCT, DRIFT_START = "quick_loan", pd.Period("2025-03", "M")
CHROMIUM = Path("/usr/bin/chromium")


@contextlib.contextmanager
def decision_store(folder: Path):
    previous = os.environ.get("CREDITMINE_DECISION_STORE")
    os.environ["CREDITMINE_DECISION_STORE"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CREDITMINE_DECISION_STORE", None)
        else:
            os.environ["CREDITMINE_DECISION_STORE"] = previous


@pytest.fixture(scope="module")
def world(monitoring_world):
    """The module's world (tests/monitoring_world.py's `build`, which conftest's `monitoring_world`
    runs in the background of the session): `monitored_world(root, months=4)`, then each scenario's
    production period into a decision store of its own. (RunConfig, the periods by scenario)."""
    return monitoring_world


@pytest.fixture
def store(world):
    """Run the test inside the world's store and the given scenario's decision store."""
    from creditmine.decision.score import tracking_store

    cfg, _ = world

    @contextlib.contextmanager
    def use(scenario: str):
        with tracking_store(cfg.tracking_uri), decision_store(cfg.root / "mlruns" / f"decisions-{scenario}"):
            yield
    return use


def _verdicts(period) -> dict[pd.Period, str]:
    return {pd.Period(m, "M"): v for m, v in zip(period.months["month"], period.months["verdict"])}


def test_the_drift_turns_the_verdict_red_within_two_months_of_its_start(world):
    _, periods = world
    verdicts = _verdicts(periods["applicant_mix"])
    red = [m for m, v in verdicts.items() if v == "red"]
    assert red, verdicts
    assert DRIFT_START <= red[0] <= DRIFT_START + 2, verdicts
    assert all(v != "red" for m, v in verdicts.items() if m < DRIFT_START), verdicts


def test_the_world_without_drift_stays_green_over_the_same_months(world):
    _, periods = world
    verdicts = _verdicts(periods["none"])
    assert set(verdicts) == set(_verdicts(periods["applicant_mix"]))
    assert all(v == "green" for v in verdicts.values()), verdicts


def test_label_free_auc_estimate_lies_in_the_interval_of_the_auc_realized_later(world, store, tmp_path):
    from creditmine.data.synthetic_production import production_sample
    from creditmine.decision.score import resolve_model
    from creditmine.monitoring.period import _write_outcomes, with_scenario
    from creditmine.monitoring.stage import champion_uri, run
    from creditmine.monitoring.store import open_store

    cfg, _ = world
    cfg = with_scenario(cfg, "none")
    as_of = date(2026, 5, 31)   # every loan of the four months has 12 months on book
    with store("none"):
        champion = resolve_model(champion_uri(cfg, PRODUCT), cfg.tracking_uri)
        truth = production_sample(cfg, PRODUCT, progress=False).truth
        outcomes = tmp_path / "outcomes.csv"
        _write_outcomes(open_store(cfg.tracking_uri), champion, truth, as_of, outcomes)
        result = run(cfg, PRODUCT, as_of, outcomes=outcomes, progress=False, record=False, figures=False)
    table = result.tables["label_free"].set_index("vintage")
    pooled = table.loc["all"]
    assert pooled["matured"] and pooled["loans"] > 500
    assert pooled["realized_auc_low"] <= pooled["expected_auc"] <= pooled["realized_auc_high"], pooled.to_dict()
    # the matured loans are back-tested too, per grade
    assert {"jeffreys_pvalue_min", "auc_pvalue"} <= {light.test for light in result.lights if light.value is not None}


def test_a_red_verdict_tags_the_version_records_a_monitor_entry_and_shows_in_review_show(world, store):
    from click.testing import CliRunner
    from mlflow import MlflowClient

    from creditmine.cli import main
    from creditmine.governance.review import trail, verify
    from creditmine.monitoring.stage import run

    cfg, _ = world
    with store("applicant_mix"):
        result = run(cfg, PRODUCT, "2025-03-31", progress=False, figures=False)
        assert result.verdict == "red"
        version = MlflowClient(cfg.tracking_uri).get_model_version(result.model, result.version)
        entry = trail(cfg.tracking_uri, result.model, result.version)[-1]
        problems = verify(cfg.tracking_uri, result.model, result.version)
        shown = CliRunner().invoke(main, ["review", "show", result.model, result.version,
                                          "--tracking-uri", cfg.tracking_uri])
    assert version.tags["monitoring_verdict"] == "red" and version.tags["monitoring_as_of"] == "2025-03-31"
    assert entry["action"] == "monitor" and entry["details"]["verdict"] == "red"
    assert entry["details"]["blocks_decisions"] is False and entry["seq"] == result.trail_entry["seq"]
    assert any(line.startswith("psi_score is red") for line in entry["details"]["why"])
    assert problems == []
    assert shown.exit_code == 0, shown.output
    assert f"monitoring: RED as of 2025-03-31 (audit #{entry['seq']}" in shown.output


def test_when_params_say_so_red_blocks_the_version_until_someone_else_records_a_better_verdict(world, store):
    import mlflow

    from creditmine.governance.review import actions
    from creditmine.governance.service import ReviewRefused
    from creditmine.monitoring.stage import run
    from creditmine.registry.gate import DeploymentRefused, check_deployable

    cfg, _ = world
    blocking = cfg.params.monitoring.model_copy(update={"red_blocks_decisions": True})
    strict = replace(cfg, params=cfg.params.model_copy(update={"monitoring": blocking}))
    with store("applicant_mix"):
        result = run(strict, PRODUCT, "2025-04-30", progress=False, figures=False)
        assert result.verdict == "red" and result.trail_entry["details"]["blocks_decisions"] is True
        with pytest.raises(DeploymentRefused, match=r"monitoring verdict as of 2025-04-30 is red \(audit #\d+\)"):
            check_deployable(result.model, result.version, cfg.tracking_uri, as_champion=True)
        with pytest.raises(Exception, match="monitoring verdict as of 2025-04-30 is red"):
            mlflow.pyfunc.load_model(f"models:/{result.model}@champion")
        # its developer (the OS user, who registered it) may not lift the block
        with pytest.raises(ReviewRefused, match="four-eyes"):
            actions(cfg.tracking_uri).record_monitoring(result.model, result.version, "green", {"as_of": "2025-05-31"})
        second_person(cfg).record_monitoring(result.model, result.version, "amber", {"as_of": "2025-05-31"},
                                             "drift understood; the mix change was a campaign")
        assert check_deployable(result.model, result.version, cfg.tracking_uri, as_champion=True).version == result.version


def test_score_logs_every_decision_with_digest_features_and_the_rows_it_refers(world, store, tmp_path):
    from creditmine.data.synthetic_production import production_sample
    from creditmine.decision.score import score_file
    from creditmine.monitoring.log import recompute_digests
    from creditmine.monitoring.store import ParquetDecisionStore

    cfg, _ = world
    rows = production_sample(cfg, PRODUCT, progress=False).rows.head(30).astype({"requested_amount_cny": object})
    rows["applied_at"] = "2026-01-15"
    rows.loc[5, "application_id"] = rows.loc[6, "application_id"]          # a repeated id: both referred
    rows.loc[7, "requested_amount_cny"] = "12,5"                           # unreadable: referred by the model
    rows.to_csv(tmp_path / "in.csv", index=False)
    folder = tmp_path / "decisions"
    with store("none"), decision_store(folder):
        decisions = score_file(f"models:/creditmine-{PRODUCT}@champion", tmp_path / "in.csv", tmp_path / "out.csv",
                               tracking_uri=cfg.tracking_uri, progress=False)
    got = ParquetDecisionStore(folder).read(f"creditmine-{PRODUCT}", "1")
    log = got.decisions.sort_values("application_id", kind="stable")
    assert len(log) == len(rows) == len(decisions)
    assert set(log["source"]) == {"score"} and set(log["month"].astype(str)) == {"2026-01"}
    assert (log["error"] != "").sum() == (decisions["error"] != "").sum() >= 3
    assert log.loc[log["raw_input"] != "", "raw_input"].str.contains("12,5").any()
    # the output file shows no grade for a referred row; the log keeps the model's 0
    given = decisions.reset_index().assign(grade=decisions["grade"].fillna(0).astype("int64"))
    merged = given.merge(got.decisions, on=["application_id", "decision", "grade"], how="inner")
    assert len(merged) >= len(decisions) - 2
    # the digest recomputes from the features the log kept
    assert recompute_digests(got.inputs).tolist() == got.decisions["input_digest"].tolist()
    assert got.decisions["input_digest"].nunique() == len(rows)            # the repeated id's rows differ too


def test_decision_log_off_logs_nothing(world, store, tmp_path):
    from creditmine.data.synthetic_production import production_sample
    from creditmine.decision.score import score_file

    cfg, _ = world
    production_sample(cfg, PRODUCT, progress=False).rows.head(5).to_csv(tmp_path / "in.csv", index=False)
    with store("none"), decision_store(tmp_path / "decisions"):
        os.environ["CREDITMINE_DECISION_LOG"] = "off"
        try:
            score_file(f"models:/creditmine-{PRODUCT}@champion", tmp_path / "in.csv", tmp_path / "out.csv",
                       tracking_uri=cfg.tracking_uri, progress=False)
        finally:
            os.environ.pop("CREDITMINE_DECISION_LOG")
    assert not (tmp_path / "decisions").exists()


@pytest.mark.browser
def test_creditmine_monitor_writes_the_report_verdict_first_and_it_renders_in_chromium(world, store, tmp_path):
    from creditmine.data.synthetic_production import production_sample
    from creditmine.decision.score import resolve_model
    from creditmine.monitoring.period import _write_outcomes
    from creditmine.monitoring.stage import champion_uri
    from creditmine.monitoring.store import open_store

    cfg, _ = world
    with store("applicant_mix"):
        champion = resolve_model(champion_uri(cfg, PRODUCT), cfg.tracking_uri)
        from creditmine.monitoring.period import with_scenario

        truth = production_sample(with_scenario(cfg, "applicant_mix"), PRODUCT, progress=False).truth
        outcomes = tmp_path / "outcomes.csv"
        _write_outcomes(open_store(cfg.tracking_uri), champion, truth, date(2025, 4, 30), outcomes)
    env = creditmine_env() | {"CREDITMINE_DECISION_STORE": str(cfg.root / "mlruns" / "decisions-applicant_mix"),
                              "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "creditmine.cli", "monitor", "--model", f"models:/creditmine-{PRODUCT}@champion",
                           "--as-of", "2025-04-30", "--outcomes", str(outcomes), "--params", str(cfg.params_path)],
                          capture_output=True, text=True, env=env, cwd=cfg.root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "monitoring verdict RED" in done.stdout and "psi_score is red" in done.stdout
    html = cfg.root / "reports" / "monitor" / PRODUCT / "2025-04-30.html"
    assert f"report: {html}" in done.stdout
    text = html.read_text(encoding="utf-8")
    assert "Traceback" not in text and "params_file" not in text
    assert text.index("Monitoring verdict for") < text.index("psi_score") < text.index("Population")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the test set-up installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    shot = Path(os.environ.get("CREDITMINE_SCREENSHOTS", tmp_path)) / "monitor_report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(html.as_uri(), wait_until="load")
            images = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
            banner = page.locator(".cm-glance").first.inner_text()      # the verdict panel, first
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert "Monitoring verdict for" in banner and "RED" in banner and len(images) >= 5 and all(images)
    assert shot.stat().st_size > 10_000
