"""Test data and projects made the way the pipeline makes them: stage outputs go through the real
writers (`creditmine.artifacts`) and the real stage functions, never hand-written shapes.

Tests import from here and never from another test file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import creditmine.config as config
from creditmine import artifacts

REPO = Path(__file__).resolve().parents[1]

#: The features of the small quick-loan applications below that a model can use.
MODEL_FEATURES = [
    "product", "requested_amount_cny", "enterprise_age_years", "industry_section", "specialized_innovative",
    "tax_missing", "taxable_sales_12m", "taxable_sales_growth_12m", "tax_late_filings_12m",
    "invoiced_sales_12m", "invoice_red_letter_share_12m", "electricity_late_payments_12m",
]


def creditmine_env() -> dict[str, str]:
    """The environment for `creditmine` subprocesses: no outside tracking server, a headless backend."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env["MPLBACKEND"] = "Agg"
    return env


def assert_same_features(left: pd.DataFrame, right: pd.DataFrame, rtol: float = 1e-9) -> None:
    """Equal columns and rows; numbers equal to rtol (NaN equals NaN), strings exactly."""
    assert list(left.columns) == list(right.columns)
    assert left["application_id"].tolist() == right["application_id"].tolist()
    for column in left.columns[1:]:
        a, b = left[column], right[column]
        if a.dtype == "float64":
            same = np.isclose(a.to_numpy(), b.to_numpy(float), rtol=rtol, atol=1e-9, equal_nan=True)
        else:
            same = ((a == b).fillna(False) | (a.isna() & b.isna())).to_numpy()
        assert same.all(), (
            f"{column}: {int((~same).sum())} rows differ, e.g. application "
            f"{left['application_id'][~same].iloc[0]}: {a[~same].iloc[0]!r} != {b[~same].iloc[0]!r}"
        )


def synthetic_applications(n: int, seed: int, start: str = "2021-01-01", days: int = 4 * 365) -> pd.DataFrame:
    """Quick-loan applications with catalogued features, the key columns of features.parquet and a
    default outcome driven by the features (dated over `days` from `start`)."""
    rng = np.random.default_rng(seed)
    thin = rng.uniform(size=n) < 0.1
    growth = rng.normal(0.05, 0.3, n)
    late = rng.poisson(0.6, n).astype(float)
    red = rng.beta(1, 20, n)
    age = rng.gamma(3, 2.5, n)
    sales = np.exp(rng.normal(15, 1, n))
    logit = -3.2 - 2.0 * growth + 0.6 * late + 8 * red - 0.08 * age + 1.0 * thin
    frame = pd.DataFrame({
        "application_id": [f"APP{i:06d}" for i in range(n)],
        "enterprise_id": [f"E{i:05d}" for i in range(n)],
        "product": rng.choice(["tax", "invoice", "electricity"], n),
        "requested_amount_cny": np.round(rng.uniform(1e5, 3e6, n), -3),
        "term_months": rng.choice([6, 12, 24], n),
        "enterprise_age_years": age,
        "industry_section": rng.choice(list("CFGIM"), n),
        "specialized_innovative": (rng.uniform(size=n) < 0.05).astype(float),
        "tax_missing": thin.astype(float),
        "taxable_sales_12m": np.where(thin, np.nan, sales),
        "taxable_sales_growth_12m": np.where(thin, np.nan, growth),
        "tax_late_filings_12m": np.where(thin, np.nan, late),
        "invoiced_sales_12m": sales * rng.uniform(0.7, 1.1, n),
        "invoice_red_letter_share_12m": red,
        "electricity_late_payments_12m": rng.poisson(0.3, n).astype(float),
        "electricity_bill_12m": sales * 0.01,
        "exports_12m": 0.0,
    })
    frame["default_12m"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    frame.insert(3, "applied_at", (pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D")).normalize())
    return frame


def project(root: Path, params: str | None = None, products: dict[str, str] | None = None,
            name: str = "test", run_name: str = "dev") -> config.RunConfig:
    """A project folder under `root`: params/<name>.yaml (a copy of ci.yaml when `params` is None)
    with its product files (the repository's when `products` is None) and an empty mlruns/."""
    params_dir = root / "params"
    (params_dir / "products").mkdir(parents=True, exist_ok=True)
    (root / "mlruns").mkdir(exist_ok=True)
    if params is None:
        params = (REPO / "params" / "ci.yaml").read_text(encoding="utf-8")
    (params_dir / f"{name}.yaml").write_text(params, encoding="utf-8")
    if products is None:
        for path in (REPO / "params" / "products").glob("*.yaml"):
            shutil.copy(path, params_dir / "products" / path.name)
    else:
        for product, text in products.items():
            (params_dir / "products" / f"{product}.yaml").write_text(text, encoding="utf-8")
    return config.load(params_dir / f"{name}.yaml", run_name=run_name, root=root)


def write_features(cfg: config.RunConfig, frame: pd.DataFrame, catalog=None) -> None:
    """Stage 01's outputs for `frame` (key columns and features): the split assigned as stage 01
    does, features.parquet and the catalog (the synthetic world's entries of the frame's columns)
    through the real writers."""
    from creditmine.data.split import assign_split
    from creditmine.features.catalog import synthetic_catalog

    frame = frame.copy()
    if "split" not in frame:
        frame["split"] = assign_split(frame, cfg.params.split, cfg.params.seed).to_numpy()
    if catalog is None:
        catalog = [s for s in synthetic_catalog() if s.name in frame.columns]
    keys = list(artifacts.FEATURE_KEY_COLUMNS)
    frame = frame[keys + [c for c in frame.columns if c not in keys]].astype({"term_months": float})
    where = artifacts.layout(cfg)
    artifacts.write_features(where, frame)
    artifacts.write_catalog(where, catalog)


QUICK_LOAN_PARAMS = (
    "name: test\nseed: 3\nproducts: [quick_loan]\n"
    "split: {train_end: 2023-06-30, oot_start: 2023-07-01, holdout_share: 0.2}\n"
    "models:\n  primary: gbm\n  master_scale: {grades: 7}\n"
    "  gbm: {max_iter: 40, search_trials: 0, min_samples_leaf: 40, early_stopping: false}\n"
    "  scorecard: {max_features: 8, binning_time_limit: 2}\n"
)
"""Small, fast params of a quick-loan test project (`models` last, so a test can add its own keys)."""


def quick_loan_project(root: Path, run_name: str = "dev", seed: int = 21, n: int = 3000,
                       validation: str = "", explain: bool = False) -> config.RunConfig:
    """A quick-loan project whose stages 01 (through the writers), 02, 03 (when `explain`) and 04
    (the real stages) have run on `n` small synthetic applications. `validation` adds keys to the
    validation params (e.g. thresholds that turn a gating test red)."""
    params = (
        QUICK_LOAN_PARAMS
        + "explain: {stability_rows: 300, interaction_rows: 60, dependence_plots: 2, verify_rows: 20}\n"
        f"validation: {{bootstrap: 20, min_segment_size: 50{', ' + validation if validation else ''}}}\n"
    )
    product = (REPO / "params" / "products" / "quick_loan.yaml").read_text(encoding="utf-8")
    if not (root / "params" / "test.yaml").is_file():
        project(root, params, {"quick_loan": product})
    cfg = config.load(root / "params" / "test.yaml", run_name=run_name, root=root)
    write_features(cfg, synthetic_applications(n, seed))
    from creditmine.models.stage import run as train
    from creditmine.validation.stage import run as validate

    train(cfg, "quick_loan", progress=False)
    if explain:
        from creditmine.explain.stage import run as explain_stage

        explain_stage(cfg, "quick_loan", progress=False)
    validate(cfg, "quick_loan", progress=False)
    return cfg


def from_stages(stages: config.RunConfig, root: Path, run_name: str) -> config.RunConfig:
    """A project under `root` as `quick_loan_project(root, run_name)` makes it, without running a
    stage: the params of the project of `stages` (a built quick-loan project, e.g. conftest's
    session-wide `quick_loan_stages`, which is only read) and a copy of its stage outputs as run
    `run_name`, with an empty mlruns/ of its own."""
    shutil.copytree(stages.root / "params", root / "params")
    (root / "mlruns").mkdir(parents=True, exist_ok=True)
    shutil.copytree(stages.run_dir, root / "runs" / run_name)
    if stages.reports_dir.is_dir():
        shutil.copytree(stages.reports_dir, root / "reports" / run_name)
    return config.load(root / "params" / stages.params_path.name, run_name=run_name, root=root)


def copy_run(cfg: config.RunConfig, run_name: str) -> config.RunConfig:
    """The same stage outputs and reports under another run name (a second pipeline execution)."""
    from dataclasses import replace

    other = replace(cfg, run_name=run_name)
    shutil.copytree(cfg.run_dir, other.run_dir)
    if cfg.reports_dir.is_dir():
        shutil.copytree(cfg.reports_dir, other.reports_dir)
    return other


def revalidate(cfg: config.RunConfig, product: str, **validation) -> config.RunConfig:
    """Stage 04 again with some validation params changed (e.g. thresholds that make a gating
    test red); returns the changed configuration."""
    from dataclasses import replace

    from creditmine.validation.stage import run as validate

    changed = cfg.params.validation.model_dump() | validation
    params = cfg.params.model_copy(update={"validation": type(cfg.params.validation).model_validate(changed)})
    other = replace(cfg, params=params)
    validate(other, product, progress=False)
    return other


RED_AUC = {"thresholds": {"auc_oot": {"green": 0.99, "amber": 0.98, "higher_is_better": True}}}
"""Validation params under which the out-of-time AUC, a gating test, is red."""


def register(cfg: config.RunConfig, product: str = "quick_loan"):
    """Stage 05 as it runs (lineage run, decision model, registration), acting as the OS user;
    returns the ModelVersion."""
    from creditmine.governance.stage import register_version
    from creditmine.governance.lineage import log_version_run

    run_id, info = log_version_run(cfg, product)
    return register_version(cfg, product, run_id, info.model_uri)


def second_person(cfg: config.RunConfig, name: str = "validator-b"):
    """The review actions of someone other than the OS user on the project's store, running the same
    rules (`ReviewService`); the CLI always acts as the OS user, so a laptop's second person is this."""
    from creditmine.governance.service import ReviewService
    from creditmine.registry.gate import registry_for
    from creditmine.registry.trail_store import open_trail

    return ReviewService(registry_for(cfg.tracking_uri), open_trail(cfg.tracking_uri), name)


def approved_champion(root: Path, stages: config.RunConfig, product: str = "quick_loan"):
    """A project under `root` whose store holds an approved champion of `product`, made by the real
    stages (01 through the writers, 02, 04, 05) and approved and promoted by a second person.
    Stages 01-04 are those of `stages` (`quick_loan_project`'s, built once: see `from_stages`);
    stage 05 and the review run here, into the project's own store.

    Returns
    -------
    (cfg, registered model name, version, logged model id, application rows of the feature table)
    """
    cfg = from_stages(stages, root, "decide")
    mv = register(cfg, product)
    validator = second_person(cfg)
    validator.approve(mv.name, mv.version, "checked")
    validator.promote(mv.name, mv.version, "go live")
    # application rows as a scoring client sends them: no split, dates as text
    apps = artifacts.read_features(artifacts.layout(cfg)).drop(columns=["split"])
    apps["applied_at"] = apps["applied_at"].dt.strftime("%Y-%m-%d")
    from creditmine.governance.review import trail
    from creditmine.registry.trail import registration

    model_id = registration(trail(cfg.tracking_uri), mv.name, mv.version)["details"]["model_uri"].removeprefix("models:/")
    return cfg, mv.name, str(mv.version), model_id, apps
