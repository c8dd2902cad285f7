"""What a stage notebook needs before its stage runs: the run configuration and the product.

Opened in JupyterLab with its defaults (empty parameters), a notebook works on the latest run that
`creditmine run` (or `make pipeline`) left: each run records its params file in
`runs/<run>/run.json` (`write_run_record`). Executed by the pipeline, papermill passes the
parameters explicitly and nothing is guessed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from creditmine import config

__all__ = ["RUN_RECORD", "latest_run", "product_of", "read_run_record", "run_config", "write_run_record"]

RUN_RECORD = "run.json"
"""File in runs/<run>/ naming the params file and the products of the run."""

DEFAULT_PARAMS = Path("params") / "default.yaml"


def write_run_record(cfg: config.RunConfig, products) -> Path:
    """runs/<run>/run.json: the run's name, its params file (relative to the project when inside
    it) and products. Written by the pipeline before any stage runs."""
    params = cfg.params_path.resolve()
    try:
        shown = params.relative_to(cfg.root).as_posix()
    except ValueError:
        shown = params.as_posix()
    path = cfg.run_dir / RUN_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_name": cfg.run_name, "params_file": shown, "products": list(products)}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def read_run_record(root: Path, run_name: str) -> dict | None:
    """The record of runs/<run_name>/, or None when that run has none."""
    path = Path(root) / "runs" / run_name / RUN_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("params_file") else None


def latest_run(root: Path) -> dict | None:
    """The record of the most recently started run under runs/, or None when there is none."""
    records = []
    for path in (Path(root) / "runs").glob(f"*/{RUN_RECORD}"):
        record = read_run_record(root, path.parent.name)
        if record:
            records.append((path.stat().st_mtime_ns, path.parent.name, record))
    return max(records)[2] if records else None


def run_config(params_file: str | os.PathLike = "", run_name: str = "", start: str | os.PathLike | None = None):
    """The RunConfig a notebook works on.

    Parameters
    ----------
    params_file : the params YAML; when empty, the one of `run_name`'s run record, else of the
        latest run, else params/default.yaml (what `make pipeline` runs).
    run_name : names runs/<run_name>/; when empty, the latest run's, else the params' name.
    start : where to look for the project (the notebook's folder by default).

    The environment's MLFLOW_TRACKING_URI, when relative, is resolved against the project root
    first, so the notebook's stage writes to the same store as the command line.
    """
    if params_file:
        cfg = config.load(params_file, run_name=run_name or None)
    else:
        root = config.project_root(start)
        record = read_run_record(root, run_name) if run_name else latest_run(root)
        if record:
            params, run_name = Path(record["params_file"]), run_name or record["run_name"]
        else:
            params = DEFAULT_PARAMS
        cfg = config.load(params if params.is_absolute() else root / params, run_name=run_name or None, root=root)
    config.resolve_tracking_env(cfg.root)
    return cfg


def product_of(cfg: config.RunConfig, product: str = "") -> str:
    """`product`, checked against the params, or the params' first product when empty."""
    if not product:
        return next(iter(cfg.products))
    cfg.product(product)
    return product
