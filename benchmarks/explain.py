"""Benchmark of stage 03: SHAP values and reason codes, creditmine's TreeSHAP against its peers.

The model is creditmine's default gradient boosting (`GbmParams()`: 300 trees of at most 31
leaves, learning rate 0.05, monotone constraints, categories coded by default rate), fitted on
seeded rows shaped like the synthetic world's feature catalog (every catalogued feature, about
10 % missing values); early stopping is off so all 300 trees are explained (the worst case).

Every explainer gets the same booster matrix and, in one run, is timed from the fitted booster to
the SHAP values of `rows` applications (its preparation included: creditmine's precomputed
tables, FastTreeSHAP v2's and WOODELF's preprocessing), in table `explainers`:
- creditmine: `HistGradientBoostingExplainer` with its precomputed tables (kernel compiled
  beforehand, cached by numba: `compile_seconds`);
- creditmine's path kernel, the fallback beyond params explain.treeshap_memory_mb (the kernel
  of creditmine before the tables), on all rows;
- shap's TreeExplainer (C++, path-dependent), fasttreeshap-fixed v1 and v2 and
  woodelf-explainer (path-dependent): optional, ``pip install -e ".[bench]"``; a peer not
  installed is listed in `skipped`. Each runs on the first `--peer-rows` rows and on half of
  them; time = preparation + per row x rows from those two runs, and when that predicts at most
  `--full-peer-seconds` the peer runs on all rows instead (`extrapolated` says which).
Per explainer: seconds, rows/s, `ratio_to_creditmine` (its seconds over creditmine's) and
`max_abs_difference` from creditmine's values on the rows it explained (log-odds).

Also: `shap_generic_*`, shap's model-agnostic permutation path on `--generic-rows` rows
(interventional, another quantity, extrapolated); reason codes for `rows` applications from
their SHAP values (`reasons_seconds`); and one application at a time, `--single` times, on the
calling thread: `one_row_shap_ms_*` (SHAP values from the booster row), `one_row_shap_reasons_ms_*`
(SHAP + the top 4 reasons ranked and stated in English and Chinese from the application's
values, as `DecisionEngine` serves them), `one_row_previous_kernel_shap_ms_*`, and
`one_application_ms_*`: `ReasonCoder.explain` on a one-row DataFrame (adds the model's
`transform_features` and the reason DataFrame). The machine is shared: the 1-minute load average
at the start and the end is recorded beside the figures.

Usage: .venv/bin/python benchmarks/explain.py [--rows 100000] [--peer-rows 2000] [--single 1000]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from importlib import metadata
from pathlib import Path

import click
import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "explain.json"


@click.command()
@click.option("--rows", default=100_000, show_default=True, help="applications explained")
@click.option("--train-rows", default=5_000, show_default=True, help="rows the gradient boosting is fitted on")
@click.option("--peer-rows", default=2_000, show_default=True, help="rows of the common sample the peers explain")
@click.option("--full-peer-seconds", default=120.0, show_default=True,
              help="a peer predicted to take at most this long explains all rows")
@click.option("--generic-rows", default=10, show_default=True, help="rows explained by shap's generic path (extrapolated)")
@click.option("--single", default=1_000, show_default=True, help="one-application calls timed")
@click.option("--seed", default=0, show_default=True)
def main(rows: int, train_rows: int, peer_rows: int, full_peer_seconds: float, generic_rows: int,
         single: int, seed: int) -> None:
    import numba
    import shap

    from creditmine.config import GbmParams, ModelParams
    from creditmine.explain.attributions import HistGradientBoostingExplainer
    from creditmine.explain.reasons import ReasonCoder
    from creditmine.features.catalog import synthetic_catalog
    from creditmine.models.gbm import GbmModel

    load_start = os.getloadavg()[0]
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
    matrix = np.ascontiguousarray(model.transform_features(X), dtype=np.float64)
    peer_rows = min(peer_rows, rows)
    threads = numba.get_num_threads()

    # creditmine: compile (or load from numba's cache) both kernels first, then time
    started = time.perf_counter()
    HistGradientBoostingExplainer().fit(estimator).shap_values(matrix[:200])
    HistGradientBoostingExplainer(memory_budget_mb=0).fit(estimator).shap_values(matrix[:200])
    compile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    explainer = HistGradientBoostingExplainer().fit(estimator)
    build_seconds = time.perf_counter() - started
    values = explainer.shap_values(matrix)
    ours_seconds = time.perf_counter() - started
    explain_seconds = ours_seconds - build_seconds
    additivity = float(np.max(np.abs(values.sum(axis=1) + explainer.expected_value_ - estimator.decision_function(matrix))))
    table = [_row("creditmine (precomputed tables)", ours_seconds, rows, rows, False, 0.0, threads,
                  f"{explainer.method_['kernel_detail']}; fit {build_seconds:.2f} s + SHAP values {explain_seconds:.2f} s")]

    started = time.perf_counter()
    previous = HistGradientBoostingExplainer(memory_budget_mb=0).fit(estimator)
    previous_values = previous.shap_values(matrix)
    previous_seconds = time.perf_counter() - started
    table.append(_row("creditmine path kernel (the fallback; creditmine's kernel before the tables)",
                      previous_seconds, rows, rows, False, _difference(previous_values, values), threads,
                      "per-row path polynomials by Gauss-Legendre quadrature (Linear-TreeSHAP style)"))

    peers, skipped = _peers(estimator, matrix.shape[1])
    for name, explain, peer_threads, note in peers:
        table.append(_time_peer(name, explain, matrix, values, rows, peer_rows, full_peer_seconds,
                                peer_threads, note))
    for entry in table:
        entry["ratio_to_creditmine"] = round(entry["seconds"] / ours_seconds, 2)

    # shap's generic path: model-agnostic permutation SHAP with an independent background
    rng = np.random.default_rng(seed)
    background = np.asarray(model.transform_features(X_train.iloc[rng.choice(len(X_train), 100, replace=False)]))
    generic = shap.Explainer(estimator.decision_function, shap.maskers.Independent(background, max_samples=100),
                             algorithm="permutation", seed=seed)
    started = time.perf_counter()
    if generic_rows:
        generic(matrix[:generic_rows], silent=True)
    shap_generic_seconds = (time.perf_counter() - started) / max(generic_rows, 1) * rows

    # reason codes from the SHAP values, then SHAP + reasons together
    coder = ReasonCoder(catalog, top_k=4, model_name="gbm").fit(model)
    ids = np.array([f"AP{i:012d}" for i in range(rows)], dtype=object)
    started = time.perf_counter()
    reasons = coder.table(values, X, ids)
    reasons_seconds = time.perf_counter() - started
    started = time.perf_counter()
    coder.explain(X, ids)
    reasons_total_seconds = time.perf_counter() - started

    single_figures = _one_at_a_time(coder, explainer, previous, matrix, X, ids, single)
    figures = {
        "rows": rows,
        "features": int(matrix.shape[1]),
        "trees": int(estimator.n_iter_),
        "max_leaf_nodes": int(estimator.max_leaf_nodes),
        "fit_seconds": round(fit_seconds, 2),
        "compile_seconds": round(compile_seconds, 2),
        "kernel": explainer.kernel_,
        "table_memory_mb": round(explainer.table_memory_mb_, 1),
        "memory_budget_mb": explainer.method_["memory_budget_mb"],
        "table_build_seconds": round(build_seconds, 2),
        "shap_seconds": round(ours_seconds, 2),
        "shap_rows_per_second": round(rows / ours_seconds),
        "speedup_over_previous_kernel": round(previous_seconds / ours_seconds, 1),
        "additivity_max_error": additivity,
        "explainers": table,
        "skipped": skipped,
        "shap_generic_seconds": round(shap_generic_seconds, 1),
        "shap_generic_sample_rows": generic_rows,
        "shap_generic_method": "shap.Explainer(decision_function, Independent(100 rows), algorithm='permutation'), "
                               "default max_evals; interventional SHAP, extrapolated per row",
        "shap_generic_ratio": round(shap_generic_seconds / ours_seconds, 1),
        "reasons_seconds": round(reasons_seconds, 2),
        "reason_rows": len(reasons),
        "reasons_total_seconds": round(reasons_total_seconds, 2),
        **single_figures,
        "load_average_1m_start": round(load_start, 2),
        "load_average_1m_end": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**figures, "cores": os.cpu_count(), "memory_gb": _memory_gb()}, indent=1,
                                  ensure_ascii=False) + "\n")
    print(json.dumps(figures, ensure_ascii=False))


def _peers(estimator, n_features: int) -> tuple[list, dict]:
    """(name, explain(matrix) -> values, threads, note) of each installed peer; notes on the others."""
    import shap

    cores = os.cpu_count()
    peers = [(f"shap {shap.__version__} TreeExplainer (tree_path_dependent)",
              lambda m: shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent").shap_values(
                  m, check_additivity=False), 1, "C++, one thread")]
    skipped = {}
    try:
        with _quiet():      # it prints a notice when IPython is absent
            import fasttreeshap_fixed as fasttreeshap
        version = metadata.version("fasttreeshap-fixed")
        for algorithm in ("v1", "v2"):
            peers.append((
                f"fasttreeshap-fixed {version} {algorithm} (tree_path_dependent)",
                lambda m, a=algorithm: fasttreeshap.TreeExplainer(
                    estimator, algorithm=a, n_jobs=-1, feature_perturbation="tree_path_dependent",
                ).shap_values(m, check_additivity=False),
                cores, "n_jobs=-1" + ("; v2 precomputes per-leaf weights on each call" if algorithm == "v2" else ""),
            ))
    except ImportError as error:
        skipped["fasttreeshap-fixed"] = f"not installed ({error}); pip install -e '.[bench]'"
    try:
        from woodelf import WoodelfExplainer
        version = metadata.version("woodelf-explainer")
        columns = [f"f{j}" for j in range(n_features)]

        def woodelf(m):
            with _quiet():  # progress bars and timings on stdout
                return WoodelfExplainer(estimator).shap_values(pd.DataFrame(m, columns=columns))

        peers.append((f"woodelf-explainer {version} (path-dependent)", woodelf, cores,
                      "numpy/scipy vectorised; preprocesses the trees on each call"))
    except ImportError as error:
        skipped["woodelf-explainer"] = f"not installed ({error}); pip install -e '.[bench]'"
    return peers, skipped


def _time_peer(name, explain, matrix, ours, rows, peer_rows, full_peer_seconds, threads, note) -> dict:
    """Time a peer on half and all of the common sample; on all rows when predicted fast enough."""
    half = max(1, peer_rows // 2)
    started = time.perf_counter()
    explain(matrix[:half])
    t_half = time.perf_counter() - started
    started = time.perf_counter()
    sample_values = np.asarray(explain(matrix[:peer_rows]), dtype=float)
    t_full = time.perf_counter() - started
    # the extra rows' time is the per-row cost; on a busy machine the difference of two timings
    # can come out tiny or negative, so it is taken as at least a tenth of the mean per row
    per_row = max((t_full - t_half) / max(peer_rows - half, 1), t_full / peer_rows / 10)
    setup = max(t_full - per_row * peer_rows, 0.0)
    predicted = setup + per_row * rows
    if peer_rows < rows and predicted <= full_peer_seconds:
        started = time.perf_counter()
        all_values = np.asarray(explain(matrix), dtype=float)
        seconds = time.perf_counter() - started
        return _row(name, seconds, rows, rows, False, _difference(all_values, ours), threads, note)
    how = (f"; extrapolated: {setup:.2f} s preparation + {per_row * 1000:.3f} ms per row, from "
           f"{half} rows in {t_half:.2f} s and {peer_rows} rows in {t_full:.2f} s")
    return _row(name, predicted, rows, peer_rows, peer_rows < rows, _difference(sample_values, ours[:peer_rows]),
                threads, note + (how if peer_rows < rows else ""))


def _row(name, seconds, rows, measured_rows, extrapolated, difference, threads, note) -> dict:
    return {"explainer": name, "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds),
            "max_abs_difference": difference, "rows_measured": measured_rows, "extrapolated": extrapolated,
            "threads": threads, "note": note}


def _difference(theirs, ours) -> float:
    return float(np.max(np.abs(np.asarray(theirs, dtype=float).reshape(ours.shape) - ours)))


def _one_at_a_time(coder, explainer, previous, matrix, X, ids, n) -> dict:
    """p50 / p99 (ms) of one application at a time, on the calling thread (as online)."""
    n = min(n, len(matrix))
    columns = {name: X[name].to_numpy() for name in X.columns}
    frames = [X.iloc[[i]] for i in range(min(n, 300))]

    def reasons(i, contributions):
        row, feature, _ = coder.rank(contributions)
        values = np.empty(len(row), dtype=object)
        for m in range(len(row)):
            values[m] = columns[coder.value_columns_[feature[m]]][i]
        return coder.statements(feature, values)

    steps = {
        "one_row_shap_ms": lambda i: explainer.shap_values(matrix[i:i + 1]),
        "one_row_shap_reasons_ms": lambda i: reasons(i, explainer.shap_values(matrix[i:i + 1])),
        "one_row_previous_kernel_shap_ms": lambda i: previous.shap_values(matrix[i:i + 1]),
        "one_application_ms": lambda i: coder.explain(frames[i], ids[i:i + 1]),
    }
    out = {}
    for key, step in steps.items():
        calls = len(frames) if key == "one_application_ms" else n
        for i in range(min(20, calls)):      # warm-up
            step(i)
        times = []
        for i in range(calls):
            started = time.perf_counter()
            step(i)
            times.append((time.perf_counter() - started) * 1000)
        out[f"{key}_p50"] = round(float(np.percentile(times, 50)), 3)
        out[f"{key}_p99"] = round(float(np.percentile(times, 99)), 3)
    out["one_application_note"] = ("one_application_ms: ReasonCoder.explain on a one-row DataFrame, with the "
                                   "model's pandas transform_features and the reason DataFrame; "
                                   "one_row_shap_reasons_ms: the booster row to the 4 reasons in two languages")
    return out


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


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
