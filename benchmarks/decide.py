"""Benchmark of automatic credit decisions: the registered champion deciding with reasons, in
process, over REST and on Spark, and the deployment gate in front of it.

Two models, each the real thing: the pipeline (`creditmine run`, stages 00-05) on
`params/default.yaml` for one product, in a throw-away project under `benchmarks/.work/decide/`,
registered as the OS user, then approved and promoted to `champion` by a second person through
the review rules (`creditmine.governance.service.ReviewService`):
- `champion`: the default params as they are (early stopping picks the number of trees);
- `trees300`: creditmine's default boosting at full size, early stopping off: 300 trees of at most
  31 leaves (`GbmParams()`), no hyper-parameter search. Its out-of-time calibration p-value is
  below the default red threshold on this synthetic world, so its params relax that one test (a
  benchmark subject, not a model anyone should approve).
Application rows are the product's rows of the run's feature table, drawn with replacement.

Figures, per model (every decision includes PD, score, grade, policy, limit, term and 4 reasons
in English and Chinese); each timing is run `--repeats` times and the median of the runs is
reported, with every run's figure beside it:
- `in_process_p50_ms` / `_p99_ms`: one application per `predict` call of the loaded pyfunc;
- `rest_p50_ms` / `_p99_ms`: one application per request (dataframe_split JSON, a new loopback
  connection per request, urllib) to `creditmine serve`; `rest_keepalive_*`: the same over one
  kept-alive connection; `rest_mlflow_*`: the same to `creditmine serve --server mlflow`
  (`mlflow models serve`, one worker, on the same verified copy);
- `gate_first_seconds` / `gate_second_seconds`: `check_deployable` (audit trail, approval,
  champion, manifest) plus the verified local copy, in a fresh process, with an empty model cache
  (download and hash) and then with the cache the first run left (re-hash);
  `load_*_seconds`: `mlflow.pyfunc.load_model` of that copy (the loader's own gate check,
  deserialising, TreeSHAP tables, warm-up);
- `batch_per_second`: applications per second of one `predict` call on `--applications` rows.
For the champion: `spark_per_second`, `creditmine score --engine spark`'s decisions
(`creditmine.decision.spark.decide_on_spark`: `mlflow.pyfunc.spark_udf` in local mode, workers
loading the verified copy) of the same rows on a started session, `spark_to_in_process` its
ratio to `batch_per_second`, and `spark_rows_differing` (0: the same decisions row by row).
The machine is shared: the 1-minute load average at the start and the end is recorded.

Usage: nice .venv/bin/python benchmarks/decide.py [--applications 100000] [--single 1000]
       [--served 1000] [--repeats 3] [--models champion,trees300] [--no-spark] [--rebuild]
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import click
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "decide.json"
WORK = HERE / ".work" / "decide"
RUN_NAME = "bench"
BENCH_PARAMS = "bench.yaml"
VALIDATOR = "benchmark-validator"
PRODUCT = "procurement"
WARM_UP_CALLS = 20
MODELS = {
    "champion": {},
    "trees300": {
        "gbm": {"max_iter": 300, "search_trials": 0, "early_stopping": False},
        "validation": {"thresholds": {"calibration_pvalue": {"green": 1e-6, "amber": 1e-9, "higher_is_better": True}}},
    },
}
SERVERS = {"rest": "creditmine", "rest_mlflow": "mlflow"}


@click.command()
@click.option("--applications", default=100_000, show_default=True, help="rows of the batch figures")
@click.option("--single", default=1_000, show_default=True, help="one-application calls of the in-process figure")
@click.option("--served", default=1_000, show_default=True, help="one-application REST requests per server")
@click.option("--repeats", default=3, show_default=True, help="runs of every timing (medians reported)")
@click.option("--models", "model_names", default=",".join(MODELS), show_default=True)
@click.option("--spark/--no-spark", default=True, show_default=True, help="the Spark batch figure (champion)")
@click.option("--seed", default=0, show_default=True)
@click.option("--rebuild", is_flag=True, help="rerun the pipelines even when a champion exists")
@click.option("--gate-probe", nargs=3, hidden=True, default=None)
def main(applications: int, single: int, served: int, repeats: int, model_names: str, spark: bool, seed: int,
         rebuild: bool, gate_probe) -> None:
    if gate_probe:
        print(json.dumps(_gate_probe(*gate_probe)))
        return
    load_start = os.getloadavg()[0]
    previous = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    models = dict(previous.get("models", {}))
    for which in model_names.split(","):
        models[which] = _model_figures(which, applications, single, served, repeats, spark and which == "champion",
                                       seed, rebuild)
    result = {
        "models": models,
        "load_average_1m_start": round(load_start, 2),
        "load_average_1m_end": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


def _model_figures(which: str, applications: int, single: int, served: int, repeats: int, spark: bool,
                   seed: int, rebuild: bool) -> dict:
    import mlflow
    import pandas as pd

    from creditmine import config
    from creditmine.decision.score import (
        load_decision_model,
        resolve_model,
        tracking_store,
        verified_copy,
    )

    root = WORK / which
    built_seconds = _build(root, "default.yaml", PRODUCT, rebuild, **MODELS[which])
    cfg = config.load(root / "params" / BENCH_PARAMS, run_name=RUN_NAME)
    store = cfg.tracking_uri
    uri = f"models:/{cfg.params.mlflow.model_prefix}-{PRODUCT}@champion"
    load_average = os.getloadavg()[0]
    print(f"[{which}] gate", file=sys.stderr)
    gate = _gate(uri, store, repeats)

    with tracking_store(store):
        model = load_decision_model(uri, store)
    engine = model._model_impl.engine_
    rows = _rows(cfg, engine, PRODUCT)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(rows), single + WARM_UP_CALLS)
    one_row_frames = [rows.iloc[[i]] for i in picks]
    bodies = [json.dumps(_split(rows.iloc[[i]])).encode() for i in rng.integers(0, len(rows), served + WARM_UP_CALLS)]
    batch = rows.iloc[rng.integers(0, len(rows), applications)].reset_index(drop=True)
    batch["application_id"] = [f"B{i:07d}" for i in range(applications)]

    print(f"[{which}] REST servers starting", file=sys.stderr)
    servers = {key: _Server(kind, uri, store, WORK / f"serve-{which}-{kind}.log") for key, kind in SERVERS.items()}
    runs: dict[str, list] = {}
    try:
        for server in servers.values():
            server.wait_ready()
        for r in range(repeats):
            print(f"[{which}] run {r + 1}/{repeats}", file=sys.stderr)
            runs.setdefault("in_process", []).append(_percentiles(_in_process(model, one_row_frames)))
            for key, server in servers.items():
                runs.setdefault(key, []).append(_percentiles(_requests(server.port, bodies, keep_alive=False)))
            runs.setdefault("rest_keepalive", []).append(
                _percentiles(_requests(servers["rest"].port, bodies, keep_alive=True)))
    finally:
        for server in servers.values():
            server.stop()

    print(f"[{which}] batch", file=sys.stderr)
    batch_seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        decisions = model.predict(batch)
        batch_seconds.append(time.perf_counter() - t0)
    assert len(decisions) == applications

    figures = {}
    for key, values in runs.items():
        figures[f"{key}_p50_ms"] = _median([v[0] for v in values])
        figures[f"{key}_p99_ms"] = _median([v[1] for v in values])
    figures.update({
        "gate_first_seconds": gate["first"]["gate"], "gate_second_seconds": gate["second"]["gate"],
        "load_first_seconds": gate["first"]["load"], "load_second_seconds": gate["second"]["load"],
        "resolve_alias_seconds": gate["second"]["resolve"],
        "batch_per_second": int(applications / statistics.median(batch_seconds)),
        "batch_seconds_runs": [round(s, 2) for s in batch_seconds],
    })
    if spark:
        print(f"[{which}] spark", file=sys.stderr)
        local = verified_copy(resolve_model(uri, store), store)
        figures.update(_spark(local, batch, store, decisions, repeats, applications))
        figures["spark_to_in_process"] = round(figures["spark_per_second"] / figures["batch_per_second"], 3)
    figures.update({
        "runs": {key: [[round(p50, 2), round(p99, 2)] for p50, p99 in values] for key, values in runs.items()},
        "gate_runs": gate["runs"],
        "single_calls": single, "served_requests": served, "batch_applications": applications, "repeats": repeats,
        "batch_decisions": {k: int(v) for k, v in decisions["decision"].value_counts().items()},
        "batch_rows_with_4_reasons": int((decisions["reason_4_en"] != "").sum()),
        "product": PRODUCT,
        "model": engine.credit_model.__class__.__name__,
        "model_features": len(engine.input_spec.feature_names),
        "trees": int(getattr(getattr(engine.credit_model, "estimator_", None), "n_iter_", 0)),
        "max_leaf_nodes": getattr(getattr(engine.credit_model, "estimator_", None), "max_leaf_nodes", None),
        "source_rows": len(rows),
        "pipeline_seconds": None if built_seconds is None else round(built_seconds, 1),
        "load_average_1m": round(load_average, 2),
        "mlflow": mlflow.__version__, "pandas": pd.__version__,
    })
    return figures


def _build(root: Path, params_name: str, product: str, rebuild: bool, gbm: dict | None = None,
           validation: dict | None = None) -> float | None:
    """Run the pipeline for `product` and make its version the approved champion (unless one is).

    `gbm` and `validation` override the params file's gradient boosting and validation settings
    (written as params/bench.yaml).
    The pipeline registers as the OS user; a second person, "benchmark-validator", approves and
    promotes through the review rules (`creditmine.governance.service.ReviewService`).
    """
    import yaml

    from creditmine import artifacts, config
    from creditmine.governance.service import ReviewRefused, ReviewService
    from creditmine.registry.gate import registry_for
    from creditmine.registry.store import champion_version, connect
    from creditmine.registry.trail_store import open_trail

    if rebuild and root.exists():
        shutil.rmtree(root)
    params_file = root / "params" / BENCH_PARAMS
    if params_file.is_file():
        cfg = config.load(params_file, run_name=RUN_NAME)
        name = f"{cfg.params.mlflow.model_prefix}-{product}"
        if champion_version(connect(cfg.tracking_uri), name) is not None:
            return None
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "params").is_dir():
        shutil.copytree(REPO / "params", root / "params")
    params = yaml.safe_load((REPO / "params" / params_name).read_text(encoding="utf-8"))
    if gbm:
        params.setdefault("models", {}).setdefault("gbm", {}).update(gbm)
    if validation:
        params.setdefault("validation", {}).update(validation)
    params["products"] = [product]
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (root / "mlruns").mkdir(exist_ok=True)
    for linked in ("notebooks", "datasets"):
        (root / linked).unlink(missing_ok=True)
        (root / linked).symlink_to(REPO / linked, target_is_directory=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env["MPLBACKEND"] = "Agg"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "creditmine.cli", "run", "--params", str(params_file),
         "--run-name", RUN_NAME, "--products", product, "--fresh"],
        cwd=root, env=env, check=True,
    )
    cfg = config.load(params_file, run_name=RUN_NAME)
    registration = artifacts.read_registration(artifacts.layout(cfg, product))
    name, version = registration["model_name"], registration["version"]
    review = ReviewService(registry_for(cfg.tracking_uri), open_trail(cfg.tracking_uri), VALIDATOR)
    try:
        review.approve(name, version, "benchmark")
        review.promote(name, version, "benchmark")
    except ReviewRefused as exc:
        raise SystemExit(f"cannot benchmark {name}: {exc}") from None
    return time.perf_counter() - started


def _rows(cfg, engine, product: str):
    """The product's applications from the run's feature table, with the columns the model reads."""
    from creditmine import artifacts
    from creditmine.decision.package import input_columns

    features = artifacts.read_features(artifacts.layout(cfg))
    scope = cfg.product(product).application_products
    if scope:
        features = features[features["product"].isin(scope)]
    columns = [c for c in input_columns(list(engine.input_spec.feature_names), engine.product.policy) if c in features]
    return features[columns].reset_index(drop=True)


def _split(frame) -> dict:
    data = frame.astype(object).where(frame.notna(), None).values.tolist()
    return {"dataframe_split": {"columns": list(frame.columns), "data": data}}


def _percentiles(ms: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _median(values) -> float:
    return round(float(statistics.median(values)), 2)


def _in_process(model, frames) -> np.ndarray:
    """Latency (ms) of one-application `predict` calls of the loaded pyfunc."""
    for frame in frames[:WARM_UP_CALLS]:
        model.predict(frame)
    times = []
    for frame in frames[WARM_UP_CALLS:]:
        t0 = time.perf_counter()
        model.predict(frame)
        times.append(time.perf_counter() - t0)
    return np.asarray(times) * 1e3


def _requests(port: int, bodies: list[bytes], keep_alive: bool) -> np.ndarray:
    """Latency (ms) of one-application POST /invocations, reply read and parsed as JSON."""
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60) if keep_alive else None
    times = []
    for k, body in enumerate(bodies):
        t0 = time.perf_counter()
        if connection is not None:
            connection.request("POST", "/invocations", body, headers)
            reply = connection.getresponse()
            answer = reply.read()
        else:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body, headers=headers)
            with urllib.request.urlopen(request, timeout=60) as reply:
                answer = reply.read()
        json.loads(answer)
        if k >= WARM_UP_CALLS:
            times.append(time.perf_counter() - t0)
    if connection is not None:
        connection.close()
    return np.asarray(times) * 1e3


class _Server:
    """`creditmine serve` (its own server, or --server mlflow) on a free loopback port."""

    def __init__(self, kind: str, uri: str, store: str, log: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        self.log_path = log
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "creditmine.cli", "serve", "--model", uri, "--tracking-uri", store,
             "--port", str(self.port), "--server", kind],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server did not start within {timeout:.0f} s") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        self.log.close()


def _gate(uri: str, store: str, repeats: int) -> dict:
    """Gate and load times in fresh processes: with an empty model cache, then with the one left."""
    runs = []
    for _ in range(repeats):
        cache = Path(tempfile.mkdtemp(prefix="creditmine-bench-cache-"))
        try:
            first, second = (_probe(uri, store, cache) for _ in range(2))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        runs.append({"first": first, "second": second})
    return {
        "first": {k: _median([r["first"][k] for r in runs]) for k in ("gate", "load", "resolve")},
        "second": {k: _median([r["second"][k] for r in runs]) for k in ("gate", "load", "resolve")},
        "runs": runs,
    }


def _probe(uri: str, store: str, cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    out = subprocess.run([sys.executable, __file__, "--gate-probe", uri, store, str(cache)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gate_probe(uri: str, store: str, cache: str) -> dict:
    """In this (fresh) process: resolve the alias, check the gate and get the verified copy, load it."""
    os.environ["CREDITMINE_MODEL_CACHE"] = cache
    import mlflow

    import creditmine.decision.loader  # noqa: F401 - imports are not the gate's time
    from creditmine.decision.score import resolve_model, tracking_store
    from creditmine.registry.gate import check_deployable

    t0 = time.perf_counter()
    ref = resolve_model(uri, store)
    t1 = time.perf_counter()
    local = check_deployable(ref.name, ref.version, tracking_uri=store, as_champion=True).local_copy()
    t2 = time.perf_counter()
    with tracking_store(store):
        mlflow.pyfunc.load_model(str(local))
    t3 = time.perf_counter()
    return {"resolve": round(t1 - t0, 3), "gate": round(t2 - t1, 3), "load": round(t3 - t2, 3)}


def _spark(local: Path, batch, store: str, expected, repeats: int, applications: int) -> dict:
    """`decide_on_spark` of the batch on a started local session: seconds, and rows that differ."""
    from creditmine.decision.spark import decide_on_spark, spark_session, spark_unavailable

    why = spark_unavailable()
    if why:
        return {"spark_skipped": why}
    t0 = time.perf_counter()
    spark = spark_session()
    session_seconds = time.perf_counter() - t0
    seconds, differing = [], []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            decided = decide_on_spark(local, batch, store)
            seconds.append(time.perf_counter() - t0)
            same = np.ones(len(decided), dtype=bool)
            for column in decided.columns:
                a, b = decided[column].to_numpy(), expected[column].to_numpy()
                same &= (a == b) | (pd_isna(a) & pd_isna(b))
            differing.append(int((~same).sum()))
    finally:
        spark.stop()
    return {
        "spark_per_second": int(applications / statistics.median(seconds)),
        "spark_seconds_runs": [round(s, 2) for s in seconds],
        "spark_session_seconds": round(session_seconds, 2),
        "spark_rows_differing": max(differing),
        "spark_partitions": os.cpu_count(),
    }


def pd_isna(values):
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


if __name__ == "__main__":
    main()
