"""Stage 06 through papermill: `notebooks/06_monitor.ipynb` executed, rendered to HTML without code.

`monitor_report(cfg, product, as_of, ...)` is what `creditmine monitor` and `creditmine
monitor-period` run: the notebook calls `creditmine.monitoring.stage.run` in one cell; the executed
notebook and its HTML go to `reports/monitor/<product>/<as_of>.{ipynb,html}`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from creditmine import artifacts

__all__ = ["monitor_report"]


def monitor_report(cfg, product: str, as_of: str, model_uri: str | None = None, outcomes: str | Path | None = None,
                   record: bool = True) -> tuple[dict, Path]:
    """Run stage 06's notebook and render its report; returns (monitor.json's content, HTML path).

    Raises
    ------
    creditmine.pipeline.StageFailed : the notebook raised (the message names the error and the
        executed notebook).
    """
    import papermill as pm

    from creditmine.pipeline import StageFailed, _kernel_name
    from creditmine.reports.render import notebook_to_html

    where = artifacts.monitor_layout(cfg, product, as_of)
    executed, html = where.report
    executed.parent.mkdir(parents=True, exist_ok=True)
    parameters = {"params_file": str(Path(cfg.params_path).resolve()), "product": product, "as_of": str(as_of),
                  "model_uri": model_uri or "", "outcomes": str(Path(outcomes).resolve()) if outcomes else "",
                  "record": bool(record)}
    started = time.perf_counter()
    try:
        pm.execute_notebook(str(cfg.root / "notebooks" / artifacts.MONITOR.notebook), str(executed),
                            parameters=parameters, kernel_name=_kernel_name(), cwd=str(cfg.root / "notebooks"),
                            progress_bar=False, report_mode=False)
    except pm.PapermillExecutionError as exc:
        raise StageFailed(artifacts.MONITOR, product, f"{exc.ename}: {exc.evalue}", executed) from None
    notebook_to_html(executed, html, title=f"creditmine · monitoring · {product} · {as_of}")
    summary = json.loads(where.summary.read_text(encoding="utf-8"))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary, html
