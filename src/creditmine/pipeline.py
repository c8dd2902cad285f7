"""The pipeline: stage 00 (data) in process, then notebooks 01..05 executed by papermill.

Each stage reads the previous stages' outputs by path (docs/architecture.md) and leaves its
executed notebook and a code-free HTML rendering in reports/<run_name>/. Stage 01 runs once per
run; stages 02..05 run once per product of the params. The run is recorded in runs/<run>/run.json
(so that a notebook opened without parameters finds it), ends with reports/<run>/index.html, and
`summary` says per product what came out and what to do next.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from creditmine import artifacts
from creditmine.artifacts import STAGES, Stage
from creditmine.config import RunConfig

KERNEL_NAME = "creditmine"


class StageFailed(RuntimeError):
    """A stage notebook raised; the message names the stage, the product and the error."""

    def __init__(self, stage: Stage, product: str | None, error: str, notebook: Path):
        where = f"stage {stage.name}" + (f" (product {product})" if product else "")
        super().__init__(f"{where} failed: {error} [executed notebook: {notebook}]")
        self.stage, self.product, self.error, self.notebook = stage, product, error, notebook


@dataclass
class StageRun:
    stage: str
    product: str | None
    notebook: Path
    html: Path
    seconds: float


@dataclass
class PipelineResult:
    run_name: str
    runs: list[StageRun] = field(default_factory=list)
    products: tuple[str, ...] = ()
    index: Path | None = None
    seconds: float = 0.0
    states: dict[str, str] = field(default_factory=dict)   # product -> review state of its version

    @property
    def reports(self) -> list[Path]:
        return [r.html for r in self.runs]


def select_stages(spec: str | None) -> tuple[Stage, ...]:
    """Stages named by a comma-separated list of numbers or names ('01,02', '03_explain'); all when empty."""
    if not spec:
        return STAGES
    chosen = []
    for token in (s.strip() for s in spec.split(",") if s.strip()):
        found = artifacts.stage(token)
        if found not in chosen:
            chosen.append(found)
    return tuple(sorted(chosen, key=lambda s: s.number))


def run(
    cfg: RunConfig,
    stages: tuple[Stage, ...] = STAGES,
    products: tuple[str, ...] | None = None,
    fresh: bool = False,
    log=print,
) -> PipelineResult:
    """Run the selected stages for the selected products (all by default).

    Parameters
    ----------
    cfg : the validated run configuration.
    stages : stages to run, in order.
    products : products for stages 02..05; every product of the params when None.
    fresh : delete runs/<run_name>/ and reports/<run_name>/ first, so every output is regenerated.
    log : where progress lines go.

    Raises
    ------
    StageFailed : when a notebook raises; later stages do not run.
    """
    from creditmine.config import resolve_tracking_env
    from creditmine.reports.index import write_index
    from creditmine.reports.notebook import write_run_record

    products = tuple(products or cfg.products)
    for name in products:
        cfg.product(name)  # an unknown product fails before any stage runs
    if fresh:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
        shutil.rmtree(cfg.reports_dir, ignore_errors=True)
    # the notebooks run in notebooks/: a relative store URI must not mean a second store there
    resolve_tracking_env(cfg.root)
    write_run_record(cfg, products)
    result = PipelineResult(run_name=cfg.run_name, products=products)
    begun = time.perf_counter()
    try:
        if any(s.number == "01" for s in stages):
            from creditmine.data import prepare

            started = time.perf_counter()
            data_dir = prepare(cfg)
            log(f"[00_data] {data_dir} ({time.perf_counter() - started:.1f} s)")
        kernel = _kernel_name()
        for stage in (s for s in stages if not s.per_product):
            result.runs.append(_execute(cfg, stage, None, kernel, log))
        for product in products:
            for stage in (s for s in stages if s.per_product):
                result.runs.append(_execute(cfg, stage, product, kernel, log))
    finally:
        # the index shows what there is, also after a failed stage
        result.seconds = time.perf_counter() - begun
        result.states = review_states(cfg, cfg.products)
        try:
            result.index = write_index(cfg, cfg.products, result.states)
        except (OSError, ValueError) as exc:
            log(f"[index] not written: {exc}")
    return result


def review_states(cfg: RunConfig, products) -> dict[str, str]:
    """The review state of each product's registered version (registration.json), as the store's
    audit trail records it; products whose state cannot be read are left out."""
    registered = {}
    for product in products:
        try:
            registered[product] = artifacts.read_registration(artifacts.layout(cfg, product))
        except (FileNotFoundError, ValueError):
            continue
    if not registered:
        return {}
    states = {}
    try:
        from creditmine.registry.trail import recorded_state
        from creditmine.registry.trail_store import open_trail

        entries = open_trail(cfg.tracking_uri).entries()
        for product, record in registered.items():
            states[product] = recorded_state(entries, record["model_name"], record["version"]) or ""
    except Exception:  # noqa: BLE001 - the summary then shows the state a registration starts in
        return states
    return states


def summary(cfg: RunConfig, result: PipelineResult) -> list[str]:
    """The lines `creditmine run` ends with: per product the primary model, its out-of-time AUC,
    the verdict and the gating tests that set it, the registered version, its review state and
    the next command; then the index of the reports."""
    from creditmine.reports.index import summary_lines

    minutes, seconds = divmod(int(round(result.seconds)), 60)
    took = f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
    lines = [f"run '{cfg.run_name}': {len(result.runs)} stage runs in {took}"]
    lines += summary_lines(cfg, result.products, result.states)
    if result.index is not None:
        lines.append(f"reports: {result.index}")
    return lines


PACKAGED_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
"""The stage notebooks installed with creditmine (src/creditmine/notebooks links the repository's)."""


def notebook_path(root, notebook: str) -> Path:
    """A stage notebook: the project's own (`notebooks/<name>` under `root`) when it has one, else
    the copy installed with creditmine, so a project folder needs nothing but its params."""
    own = Path(root) / "notebooks" / notebook
    if own.is_file():
        return own
    packaged = PACKAGED_NOTEBOOKS / notebook
    if not packaged.is_file():
        raise FileNotFoundError(f"{own}: no such notebook, and none installed with creditmine ({packaged})")
    return packaged


def _execute(cfg: RunConfig, stage: Stage, product: str | None, kernel: str, log) -> StageRun:
    import papermill as pm

    from creditmine.reports.render import notebook_to_html

    executed, html = artifacts.layout(cfg, product).report(stage)
    executed.parent.mkdir(parents=True, exist_ok=True)
    parameters = {"params_file": str(cfg.params_path.resolve()), "run_name": cfg.run_name}
    if product is not None:
        parameters["product"] = product
    label = stage.name + (f"/{product}" if product else "")
    log(f"[{label}] running")
    started = time.perf_counter()
    try:
        notebook = notebook_path(cfg.root, stage.notebook)
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=kernel,
            cwd=str(notebook.parent if notebook.parent == cfg.root / "notebooks" else cfg.root),
            progress_bar=False,
            report_mode=False,
        )
    except pm.PapermillExecutionError as exc:
        raise StageFailed(stage, product, f"{exc.ename}: {exc.evalue}", executed) from None
    notebook_to_html(executed, html, title=f"creditmine · {cfg.run_name} · {label}")
    seconds = time.perf_counter() - started
    log(f"[{label}] done in {seconds:.1f} s -> {html}")
    return StageRun(stage.name, product, executed, html, seconds)


def _kernel_name() -> str:
    """The project's kernel when it is registered, else the current interpreter's python3 kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"
