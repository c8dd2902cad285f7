"""Benchmark of stage 03: SHAP values and reason codes for many applications.

The model is creditmine's default gradient boosting (`GbmParams()`: 300 trees of at most 31
leaves, learning rate 0.05, monotone constraints and native categorical features), fitted on
seeded rows shaped like the synthetic world's feature catalog (every catalogued feature, about
10 % missing values); early stopping is off so all 300 trees are explained (the worst case).

Measured in one run on the same rows:
- `shap_seconds`: creditmine's exact path-dependent TreeSHAP (`HistGradientBoostingExplainer`)
  for `rows` applications (kernel compiled beforehand: `compile_seconds`);
- `shap_tree_seconds`: shap's own TreeExplainer (C++ TreeSHAP, same values) on a sample,
  extrapolated per row to `rows`;
- `shap_generic_seconds`: shap's generic path (`shap.Explainer` with an Independent masker of
  100 background rows, the permutation algorithm, shap's default evaluations) on a sample,
  extrapolated per row to `rows`;
- `reasons_seconds`: reason codes (grouping, top 4, English and Chinese statements) for `rows`
  applications from their SHAP values; `reasons_total_seconds` includes the SHAP values;
- `one_application_ms_p50` / `_p99`: SHAP + reasons for one application, as the decision model
  serves it.

Usage: .venv/bin/python benchmarks/explain.py [--rows 100000] [--generic-rows 10]
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "explain.json"


@click.command()
@click.option("--rows", default=100_000, show_default=True, help="applications explained")
@click.option("--train-rows", default=5_000, show_default=True, help="rows the gradient boosting is fitted on")
@click.option("--generic-rows", default=10, show_default=True, help="rows explained by shap's generic path (extrapolated)")
@click.option("--tree-rows", default=1_000, show_default=True, help="rows explained by shap's TreeExplainer (extrapolated)")
@click.option("--seed", default=0, show_default=True)
def main(rows: int, train_rows: int, generic_rows: int, tree_rows: int, seed: int) -> None:
    import shap

    from creditmine.config import GbmParams, ModelParams
    from creditmine.explain.attributions import HistGradientBoostingExplainer
    from creditmine.explain.reasons import ReasonCoder
    from creditmine.features.catalog import synthetic_catalog
    from creditmine.models.gbm import GbmModel

    catalog = synthetic_catalog()
    X_train, y_train = _applications(catalog, train_rows, seed)
    X, _ = _applications(catalog, rows, seed + 1)
    started = time.perf_counter()
    models = ModelParams(gbm=GbmParams(early_stopping=False, search_trials=0))
    model = GbmModel.from_params(
        models, categorical_features=[s.name for s in catalog if s.kind == "categorical"],
        risk_directions={s.name: s.risk_direction for s in catalog}, seed=seed,
    ).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    estimator = model.estimator_
    matrix = np.asarray(model.transform_features(X), dtype=np.float64)

    # creditmine's exact TreeSHAP (compile first, then time)
    started = time.perf_counter()
    explainer = HistGradientBoostingExplainer().fit(estimator)
    explainer.shap_values(matrix[:10])
    compile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    explainer = HistGradientBoostingExplainer().fit(estimator)
    values = explainer.shap_values(matrix)
    shap_seconds = time.perf_counter() - started
    additivity = float(np.max(np.abs(values.sum(axis=1) + explainer.expected_value_ - estimator.decision_function(matrix))))

    # shap's TreeExplainer (C++), on a sample
    sample = matrix[:tree_rows]
    started = time.perf_counter()
    tree = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    tree.shap_values(sample, check_additivity=False)
    shap_tree_seconds = (time.perf_counter() - started) / len(sample) * rows

    # shap's generic path: model-agnostic permutation SHAP with an independent background
    rng = np.random.default_rng(seed)
    background = np.asarray(model.transform_features(X_train.iloc[rng.choice(len(X_train), 100, replace=False)]))
    generic = shap.Explainer(estimator.decision_function, shap.maskers.Independent(background, max_samples=100),
                             algorithm="permutation", seed=seed)
    started = time.perf_counter()
    generic(matrix[:generic_rows], silent=True)
    shap_generic_seconds = (time.perf_counter() - started) / generic_rows * rows

    # reason codes from the SHAP values, then SHAP + reasons together
    coder = ReasonCoder(catalog, top_k=4, model_name="gbm").fit(model)
    ids = np.array([f"AP{i:012d}" for i in range(rows)], dtype=object)
    started = time.perf_counter()
    reasons = coder.table(values, X, ids)
    reasons_seconds = time.perf_counter() - started
    started = time.perf_counter()
    coder.explain(X, ids)
    reasons_total_seconds = time.perf_counter() - started

    one = []
    for i in range(300):
        row = X.iloc[[i]]
        started = time.perf_counter()
        coder.explain(row, ids[i:i + 1])
        one.append((time.perf_counter() - started) * 1000)

    figures = {
        "rows": rows,
        "features": int(matrix.shape[1]),
        "trees": int(estimator.n_iter_),
        "max_leaf_nodes": int(estimator.max_leaf_nodes),
        "fit_seconds": round(fit_seconds, 2),
        "compile_seconds": round(compile_seconds, 2),
        "shap_seconds": round(shap_seconds, 2),
        "shap_rows_per_second": round(rows / shap_seconds),
        "additivity_max_error": additivity,
        "shap_tree_seconds": round(shap_tree_seconds, 2),
        "shap_tree_sample_rows": int(len(sample)),
        "shap_tree_ratio": round(shap_tree_seconds / shap_seconds, 1),
        "shap_generic_seconds": round(shap_generic_seconds, 1),
        "shap_generic_sample_rows": generic_rows,
        "shap_generic_method": "shap.Explainer(decision_function, Independent(100 rows), algorithm='permutation'), default max_evals",
        "shap_generic_ratio": round(shap_generic_seconds / shap_seconds, 1),
        "reasons_seconds": round(reasons_seconds, 2),
        "reason_rows": int(len(reasons)),
        "reasons_total_seconds": round(reasons_total_seconds, 2),
        "one_application_ms_p50": round(float(np.percentile(one, 50)), 2),
        "one_application_ms_p99": round(float(np.percentile(one, 99)), 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**figures, "cores": os.cpu_count(), "memory_gb": _memory_gb()}, indent=1) + "\n")
    print(json.dumps(figures))


def _applications(catalog, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Seeded rows with every catalogued feature, values in each unit's range, ~10 % missing."""
    rng = np.random.default_rng(seed)
    health = rng.normal(size=n)
    columns = {}
    for spec in catalog:
        signal = -spec.risk_direction * health * 0.8 + rng.normal(size=n)
        if spec.kind == "categorical":
            labels = np.array(list("ABCDEFGHI"))
            values = labels[np.clip(((signal + 3) * 1.5).astype(int), 0, len(labels) - 1)].astype(object)
        elif spec.unit == "CNY":
            values = np.exp(13 + signal)
        elif spec.unit in ("share", "flag"):
            p = 1 / (1 + np.exp(-signal))
            values = p if spec.unit == "share" else (rng.random(n) < p).astype(float)
        elif spec.unit in ("count", "months", "days", "rank"):
            values = rng.poisson(np.exp(1.5 + 0.5 * signal)).astype(float)
        else:
            values = signal
        if spec.kind != "categorical":
            values = np.asarray(values, dtype=float)
        missing = rng.random(n) < 0.1
        values = pd.Series(values, dtype=object if spec.kind == "categorical" else float)
        values[missing] = None if spec.kind == "categorical" else np.nan
        columns[spec.name] = values
    frame = pd.DataFrame(columns)
    logit = -3.2 - 0.9 * health + 0.3 * np.sin(3 * health) * (columns[catalog[1].name].fillna(0) > np.exp(13))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


def _memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3, 1)
    except (ValueError, OSError, AttributeError):
        return float("nan")


if __name__ == "__main__":
    main()
