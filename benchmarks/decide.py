"""Benchmark of automatic credit decisions: the registered champion deciding with reasons.

The model is the real thing: the pipeline (`creditmine run`, stages 00-05) on the params file
(default `params/default.yaml`; the small `ci.yaml` models
currently get a red validation verdict, which the review refuses to approve) for one product, in a throw-away project under
`benchmarks/.work/decide/`, then approved by a second person and promoted to `champion` with
`creditmine.governance.review`; it is loaded with `mlflow.pyfunc.load_model("models:/...@champion")`
(deployment gate included). Application rows are the product's rows of the run's feature table,
drawn with replacement to the wanted counts.

Figures (all decisions include PD, score, grade, policy, limit, term and 4 reasons EN/ZH):
- `single_p50_ms` / `single_p99_ms`: one application per `predict` call of the loaded pyfunc;
- `batch_per_second`: applications per second of one `predict` call on `--applications` rows;
- `served_p50_ms` / `served_p99_ms`: one application per REST request to
  `mlflow models serve` on 127.0.0.1 (JSON encoding and HTTP included).
The machine is shared: `load_average_1m` at the start is recorded beside the figures.

Usage: nice .venv/bin/python benchmarks/decide.py [--applications 100000] [--single 1000]
       [--served 300] [--params default.yaml] [--product quick_loan] [--rebuild]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "decide.json"
WORK = HERE / ".work" / "decide"
RUN_NAME = "bench"
WARM_UP_CALLS = 20


@click.command()
@click.option("--applications", default=100_000, show_default=True, help="rows of the batch figure")
@click.option("--single", default=1_000, show_default=True, help="one-application calls of the in-process figure")
@click.option("--served", default=300, show_default=True, help="one-application REST requests")
@click.option("--params", "params_name", default="default.yaml", show_default=True,
              help="params file under params/ (its model must pass validation: a red verdict cannot be approved)")
@click.option("--product", default="procurement", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--rebuild", is_flag=True, help="rerun the pipeline even when a champion exists")
def main(applications: int, single: int, served: int, params_name: str, product: str, seed: int, rebuild: bool) -> None:
    import mlflow

    from creditmine import config

    load_average = os.getloadavg()[0]
    root = WORK / "project"
    built_seconds = _build(root, params_name, product, rebuild)
    cfg = config.load(root / "params" / params_name, run_name=RUN_NAME)
    name = f"{cfg.params.mlflow.model_prefix}-{product}"
    uri = f"models:/{name}@champion"
    os.environ["MLFLOW_TRACKING_URI"] = cfg.tracking_uri
    mlflow.set_tracking_uri(cfg.tracking_uri)

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(uri)
    load_seconds = time.perf_counter() - started
    engine = model.unwrap_python_model().engine_
    rows = _rows(cfg, engine, product)
    rng = np.random.default_rng(seed)

    # in-process, one application at a time
    picks = rng.integers(0, len(rows), single + WARM_UP_CALLS)
    one_row_frames = [rows.iloc[[i]] for i in picks]
    for frame in one_row_frames[:WARM_UP_CALLS]:
        model.predict(frame)
    times = []
    for frame in one_row_frames[WARM_UP_CALLS:]:
        t0 = time.perf_counter()
        model.predict(frame)
        times.append(time.perf_counter() - t0)
    single_ms = np.asarray(times) * 1e3

    # batch
    batch = rows.iloc[rng.integers(0, len(rows), applications)].reset_index(drop=True)
    batch["application_id"] = [f"B{i:07d}" for i in range(applications)]
    t0 = time.perf_counter()
    decisions = model.predict(batch)
    batch_seconds = time.perf_counter() - t0
    assert len(decisions) == applications

    # served on loopback
    served_ms = _served(uri, cfg.tracking_uri, rows, served, rng)

    result = {
        "single_p50_ms": round(float(np.percentile(single_ms, 50)), 2),
        "single_p99_ms": round(float(np.percentile(single_ms, 99)), 2),
        "batch_per_second": int(applications / batch_seconds),
        "served_p50_ms": round(float(np.percentile(served_ms, 50)), 2),
        "served_p99_ms": round(float(np.percentile(served_ms, 99)), 2),
        "single_calls": single,
        "batch_applications": applications,
        "batch_seconds": round(batch_seconds, 2),
        "served_requests": served,
        "batch_decisions": {k: int(v) for k, v in decisions["decision"].value_counts().items()},
        "batch_rows_with_4_reasons": int((decisions["reason_4_en"] != "").sum()),
        "product": product,
        "params": params_name,
        "model": engine.credit_model.__class__.__name__,
        "model_features": len(engine.input_spec.feature_names),
        "trees": int(getattr(getattr(engine.credit_model, "estimator_", None), "n_iter_", 0)),
        "source_rows": len(rows),
        "load_seconds": round(load_seconds, 2),
        "pipeline_seconds": None if built_seconds is None else round(built_seconds, 1),
        "load_average_1m": round(load_average, 2),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))


def _build(root: Path, params_name: str, product: str, rebuild: bool) -> float | None:
    """Run the pipeline for `product` and make its version the approved champion (unless one is)."""
    from creditmine import config
    from creditmine import artifacts
    from creditmine.governance import review
    from creditmine.registry.store import champion_version, connect

    if rebuild and root.exists():
        shutil.rmtree(root)
    if (root / "params").is_dir():
        cfg = config.load(root / "params" / params_name, run_name=RUN_NAME)
        name = f"{cfg.params.mlflow.model_prefix}-{product}"
        if champion_version(connect(cfg.tracking_uri), name) is not None:
            return None
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "params").is_dir():
        shutil.copytree(REPO / "params", root / "params")
    (root / "mlruns").mkdir(exist_ok=True)
    (root / "notebooks").unlink(missing_ok=True)
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["MPLBACKEND"] = "Agg"
    env["CREDITMINE_DEVELOPER"] = "benchmark-developer"
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("creditmine")), "run", "--params", str(root / "params" / params_name),
         "--run-name", RUN_NAME, "--products", product, "--fresh"],
        cwd=root, env=env, check=True,
    )
    cfg = config.load(root / "params" / params_name, run_name=RUN_NAME)
    registration = artifacts.read_registration(artifacts.layout(cfg, product))
    name, version = registration["model_name"], registration["version"]
    try:
        review.approve(cfg.tracking_uri, name, version, reviewer="benchmark-validator", comment="benchmark")
    except review.ReviewRefused as exc:
        raise SystemExit(f"cannot benchmark {name}: {exc}") from None
    review.promote(cfg.tracking_uri, name, version, actor="benchmark-validator", comment="benchmark")
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


def _served(uri: str, tracking_uri: str, rows, requests: int, rng) -> np.ndarray:
    """Latency (ms) of one-application REST requests to `mlflow models serve` on loopback."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = (WORK / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", uri, "-h", "127.0.0.1",
         "-p", str(port), "--env-manager", "local", "-w", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited; see {WORK / 'serve.log'}")
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("mlflow models serve did not start within 180 s") from None
                time.sleep(0.5)
        bodies = []
        for i in rng.integers(0, len(rows), requests + WARM_UP_CALLS):
            frame = rows.iloc[[i]]
            data = frame.astype(object).where(frame.notna(), None).values.tolist()
            bodies.append(json.dumps({"dataframe_split": {"columns": list(frame.columns), "data": data}}).encode())
        times = []
        for k, body in enumerate(bodies):
            request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=60) as reply:
                reply.read()
            if k >= WARM_UP_CALLS:
                times.append(time.perf_counter() - t0)
        return np.asarray(times) * 1e3
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    main()
