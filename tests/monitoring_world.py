"""A small synthetic world with a production period and an approved champion, for the monitoring
tests: stages 00-02 and 04 run for real (the world generated, point-in-time features, the models,
validation), stage 05 registers the version and a second person approves and promotes it.

Helpers for tests of stage 06 only; built with the real stages, like tests/factories.py. `build` makes
test_monitor.py's world in a process of its own (`python tests/monitoring_world.py ROOT`), which
conftest's `monitoring_world` starts in the background of the test session.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

from factories import REPO, project, register, second_person

import creditmine.config as config

PARAMS = """\
name: monitor
seed: 5
products: [quick_loan]
data:
  source: synthetic
  synthetic: {enterprises: 2000, start: "2021-01", end: "2024-12", applications_scale: 4}
split: {train_end: 2022-12-31, oot_start: 2023-01-01, holdout_share: 0.2}
models:
  primary: gbm
  gbm: {max_iter: 60, search_trials: 0}
  scorecard: {max_features: 8, binning_time_limit: 2}
explain: {stability_rows: 300, interaction_rows: 60, dependence_plots: 2, verify_rows: 20}
validation:
  bootstrap: 20
  min_segment_size: 50
  gating: [auc_oot, auc_drop, psi_score]
monitoring:
  production: {start: "2025-01", months: MONTHS, scenario: none, drift_start: "2025-03"}
  label_free_draws: 200
"""
"""Quick loans of an SME world of 2,000 enterprises applying four times as often as the default
world's, so that a production month has about 450 applications; the validation gates on
discrimination and stability (this world's champion underestimates PDs out of time, which the
monitor is there to find)."""


def product_file() -> str:
    """The quick-loan product without first loans (whose mix the world's first years distort), with a
    wider appetite (grades 1-7 approved, 8 referred), so that its booked loans hold enough defaults
    to measure an AUC in four months."""
    text = (REPO / "params" / "products" / "quick_loan.yaml").read_text(encoding="utf-8")
    for old, new in (("application_products: [tax, invoice, electricity, customs, first_loan]",
                      "application_products: [tax, invoice, electricity, customs]"),
                     ("approve_grades: [1, 2, 3, 4, 5]", "approve_grades: [1, 2, 3, 4, 5, 6, 7]"),
                     ("refer_grades: [6, 7]", "refer_grades: [8]"),
                     ("6: 0.5, 7: 0.4}", "6: 0.5, 7: 0.4, 8: 0.3}")):
        assert old in text, old
        text = text.replace(old, new)
    return text


def monitored_world(root: Path, months: int = 6) -> config.RunConfig:
    """The project under `root` with an approved champion of quick_loan (see the module's description)."""
    from creditmine.data import prepare
    from creditmine.features.stage import run as features
    from creditmine.models.stage import run as train
    from creditmine.validation.stage import run as validate

    cfg = project(root, PARAMS.replace("MONTHS", str(months)), {"quick_loan": product_file()}, name="monitor",
                  run_name="monitor")
    prepare(cfg, progress=False)
    features(cfg, progress=False)
    train(cfg, "quick_loan", progress=False)
    validate(cfg, "quick_loan", progress=False)
    version = register(cfg, "quick_loan")
    validator = second_person(cfg)
    validator.approve(version.name, version.version, "discrimination and stability within limits")
    validator.promote(version.name, version.version, "go live")
    return cfg


PRODUCT = "quick_loan"
SCENARIOS = ("none", "applicant_mix")
PERIODS = "periods.pickle"


def build(root: Path, months: int = 4) -> None:
    """test_monitor.py's world under `root` (a folder holding only notebooks/): `monitored_world`, then
    each scenario's production period simulated (no reports, nothing recorded in the trail) into a
    decision store of its own, mlruns/decisions-<scenario>; the periods (each a PeriodResult) are
    pickled into root/periods.pickle."""
    from creditmine.decision.score import tracking_store
    from creditmine.monitoring.period import simulate, with_scenario

    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        cfg = monitored_world(root, months)
        periods = {}
        for scenario in SCENARIOS:
            os.environ["CREDITMINE_DECISION_STORE"] = str(root / "mlruns" / f"decisions-{scenario}")
            periods[scenario] = simulate(with_scenario(cfg, scenario), PRODUCT, progress=False, report=False,
                                         record=False)
        os.environ.pop("CREDITMINE_DECISION_STORE")
    (root / PERIODS).write_bytes(pickle.dumps(periods))


def load(root: Path):
    """(the RunConfig, the periods by scenario) of the world `build` made under `root`."""
    cfg = config.load(root / "params" / "monitor.yaml", run_name="monitor", root=root)
    return cfg, pickle.loads((root / PERIODS).read_bytes())


if __name__ == "__main__":
    build(Path(sys.argv[1]))
