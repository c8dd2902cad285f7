"""Benchmark: generate the synthetic world at scale; time, peak memory, rows and the oracle AUC.

    .venv/bin/python benchmarks/generate.py                 # 100,000 enterprises, 2021-01..2024-12
    .venv/bin/python benchmarks/generate.py --enterprises 20000

Prints one JSON object on its last line and writes it, with the machine's cores and memory, to
benchmarks/results/generate.json. Scratch data goes to benchmarks/.work/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from pathlib import Path

import click

HERE = Path(__file__).resolve().parent


@click.command()
@click.option("--enterprises", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--start", default="2021-01", show_default=True)
@click.option("--end", default="2024-12", show_default=True)
@click.option("--keep", is_flag=True, help="Keep the generated tables in benchmarks/.work/generate.")
def main(enterprises: int, seed: int, start: str, end: str, keep: bool) -> None:
    """Generate ENTERPRISES enterprises once and record the figures."""
    from creditmine.config.data import SyntheticParams
    from creditmine.data import profile, synthetic

    out = HERE / ".work" / "generate"
    shutil.rmtree(out, ignore_errors=True)
    params = SyntheticParams(enterprises=enterprises, start=start, end=end)
    started = time.perf_counter()
    summary = synthetic.generate(params, seed, out, progress=True)
    seconds = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # Linux: KiB
    world = profile.generator_summary(out)
    size_mb = sum(p.stat().st_size for p in out.glob("*.parquet")) / 2**20
    figures = {
        "enterprises": enterprises,
        "invoice_rows": summary.rows["invoices"],
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "rows": summary.rows,
        "parquet_mb": round(size_mb, 1),
        "chunk_enterprises": params.chunk_enterprises,
        "window": f"{start}..{end}",
        "seed": seed,
        "labelled_applications": world["labelled"],
        "default_rate": round(world["default_rate"], 4),
        "oracle_auc": round(world["oracle_auc"], 4),
    }
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    record = {**figures, "cores": os.cpu_count(), "memory_gb": round(_memory_gb(), 1)}
    results = HERE / "results" / "generate.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(record, indent=2) + "\n")
    click.echo(json.dumps(figures))


def _memory_gb() -> float:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


if __name__ == "__main__":
    main()
