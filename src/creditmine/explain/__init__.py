"""Stage 03: explain every model of a product, globally for the validator and locally for each
application (SHAP values, plots, checks, reason codes in English and Chinese).

`creditmine.explain.stage.run(cfg, product)` is the stage and `ExplainResult` what it returns;
`attributions` (TreeSHAP, closed-form scorecard SHAP), `reasons` (reason codes), `stability` and
`plots` are its parts. Submodules import SHAP and numba; import them directly.
"""

from __future__ import annotations

__all__ = ["ExplainResult", "benchmark_figures", "mask_id", "run"]

_HOMES = {"ExplainResult": "result", "benchmark_figures": "result", "mask_id": "result", "run": "stage"}


def __getattr__(name: str):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"creditmine.explain.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'creditmine.explain' has no attribute '{name}'")
