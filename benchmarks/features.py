"""Benchmark of stage 01: point-in-time features on DuckDB against the plain-pandas reference.

    .venv/bin/python benchmarks/features.py [--enterprises 100000] [--seed 42]

Generates the synthetic world (cached under benchmarks/.work/), then, each in a fresh child
process so that peak memory is its own, (1) runs stage 01 (`creditmine.features.stage.run`, DuckDB, cache off;
best of `--repeats` runs, since the machine is shared) and (2) computes the same features with `reference_features` (pandas, by chunks of enterprises so
it fits in memory; reading the tables into pandas counts in its time). Checks that both agree on a
sample of applications, prints one JSON object on its last line and writes it to
benchmarks/results/features.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "features"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=100_000, help="enterprises in the synthetic world")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pandas-chunk", type=int, default=10_000, help="enterprises per pandas chunk")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the stage; the best time counts")
    parser.add_argument("--worker", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "duckdb":
        return _duckdb_worker(Path(args.data_dir), Path(args.out))
    if args.worker == "pandas":
        return _pandas_worker(Path(args.data_dir), Path(args.out), args.pandas_chunk)

    data_dir = _world(args.enterprises, args.seed)
    # The machine is shared: the stage runs `--repeats` times and its best time counts (as timeit
    # does); CPU seconds (user + system) are reported too, since they do not depend on other load.
    runs, cpu = [], []
    for _ in range(args.repeats):
        before = _children_cpu_seconds()
        duck = _child("duckdb", data_dir, args)
        cpu.append(_children_cpu_seconds() - before)
        runs.append(duck["seconds"])
    duck_rss = _children_peak_rss_mb()
    before = _children_cpu_seconds()
    pandas_ = _child("pandas", data_dir, args)
    pandas_cpu = _children_cpu_seconds() - before
    result = {
        "enterprises": args.enterprises,
        "applications": duck["applications"],
        "invoice_rows": duck["invoice_rows"],
        "features": duck["features"],
        "seconds": round(min(runs), 2),
        "seconds_runs": [round(r, 2) for r in runs],
        "peak_rss_mb": round(duck_rss, 1),
        "cpu_seconds": round(min(cpu), 2),
        "pandas_seconds": round(pandas_["seconds"], 2),
        "pandas_cpu_seconds": round(pandas_cpu, 2),
        "pandas_peak_rss_mb": round(_children_peak_rss_mb(), 1),
        "speedup": round(pandas_["seconds"] / min(runs), 2),
        "cpu_speedup": round(pandas_cpu / min(cpu), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "max_abs_relative_difference": _agreement(WORK / "duckdb.parquet", WORK / "pandas.parquet"),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    out = HERE / "results" / "features.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    from creditmine.features.report import benchmark_summary

    print(benchmark_summary(result), file=sys.stderr)
    print(json.dumps(result))


def _world(enterprises: int, seed: int) -> Path:
    """The generated world, reused when a complete copy of the same size and seed exists."""
    from creditmine.config import SyntheticParams
    from creditmine.data.synthetic import generate, is_complete

    data_dir = WORK / f"world-{enterprises}-{seed}"
    if not is_complete(data_dir):
        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"generating {enterprises:,} enterprises into {data_dir}", file=sys.stderr)
        generate(SyntheticParams(enterprises=enterprises), seed=seed, out_dir=data_dir, progress=True)
    return data_dir


def _child(worker: str, data_dir: Path, args) -> dict:
    out = WORK / f"{worker}.json"
    command = [sys.executable, __file__, "--worker", worker, "--data-dir", str(data_dir), "--out", str(out),
               "--pandas-chunk", str(args.pandas_chunk)]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _children_peak_rss_mb() -> float:
    """Largest resident set of any finished child process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _duckdb_worker(data_dir: Path, out: Path) -> None:
    """Stage 01 as the pipeline runs it, on a params file pointing at the generated tables."""
    import pyarrow.parquet as pq

    from creditmine import config
    from creditmine.features.stage import run as build_features

    project = WORK / "project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "params").mkdir(parents=True)
    shutil.copytree(ROOT / "params" / "products", project / "params" / "products")
    params = project / "params" / "bench.yaml"
    params.write_text(
        "name: bench\nseed: 42\nproducts: [procurement, quick_loan]\n"
        f"data: {{source: files, files_dir: '{data_dir}'}}\n"
        "features: {cache: false}\n"
        "split: {train_end: 2022-12-31, oot_start: 2023-01-01}\n"
    )
    cfg = config.load(params, run_name="bench")
    started = time.perf_counter()
    result = build_features(cfg, progress=True)
    seconds = time.perf_counter() - started
    shutil.copy(result.path, WORK / "duckdb.parquet")
    out.write_text(json.dumps({
        "seconds": seconds,
        "applications": len(result.features),
        "features": len(result.catalog),
        "invoice_rows": pq.ParquetFile(data_dir / "invoices.parquet").metadata.num_rows,
    }))


def _pandas_worker(data_dir: Path, out: Path, chunk: int) -> None:
    """The pandas reference over every application, a chunk of enterprises at a time."""
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from creditmine.data.io import read_table
    from creditmine.features.build import FEATURE_TABLES
    from creditmine.features.reference import reference_features

    started = time.perf_counter()
    from creditmine.data.io import ARROW_SCHEMAS

    skip = {"invoice_id", "tax_cny", "declaration_id"}  # columns no feature reads
    tables = {name: read_table(data_dir, name, columns=[c for c in ARROW_SCHEMAS[name].names if c not in skip])
              for name in FEATURE_TABLES}
    applications = read_table(data_dir, "applications")
    enterprises = np.sort(applications["enterprise_id"].unique())
    groups = {name: frame.groupby("enterprise_id", sort=False).indices for name, frame in tables.items()}
    parts = []
    for start in tqdm(range(0, len(enterprises), chunk), desc="pandas reference", file=sys.stderr):
        ids = set(enterprises[start:start + chunk])
        sub = {}
        for name, frame in tables.items():
            rows = [groups[name][e] for e in ids if e in groups[name]]
            sub[name] = frame.iloc[np.concatenate(rows)] if rows else frame.iloc[:0]
        parts.append(reference_features(sub, applications[applications["enterprise_id"].isin(ids)]))
    features = pd.concat(parts, ignore_index=True).sort_values("application_id").reset_index(drop=True)
    seconds = time.perf_counter() - started
    features.to_parquet(WORK / "pandas.parquet", index=False)
    out.write_text(json.dumps({"seconds": seconds, "applications": len(features)}))


def _agreement(duck_path: Path, pandas_path: Path) -> float:
    """Largest relative difference between the engines' numeric features (NaN patterns must match)."""
    import numpy as np
    import pandas as pd

    duck, ref = pd.read_parquet(duck_path), pd.read_parquet(pandas_path)
    duck = duck[ref.columns]
    assert duck["application_id"].tolist() == ref["application_id"].tolist(), "different applications"
    worst = 0.0
    for column in ref.columns[1:]:
        if ref[column].dtype != "float64":
            assert ((duck[column] == ref[column]) | (duck[column].isna() & ref[column].isna())).all(), column
            continue
        a, b = duck[column].to_numpy(float), ref[column].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all(), f"{column}: missing values differ"
        ok = ~np.isnan(a)
        diff = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1.0)
        worst = max(worst, float(diff.max(initial=0.0)))
    return worst


if __name__ == "__main__":
    main()
