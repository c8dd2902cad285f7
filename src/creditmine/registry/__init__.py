"""The model registry in MLflow: stage 05 runs with lineage, manifests, the review and its audit trail.

Public entry points (imported lazily, so `import creditmine.registry.audit` stays light):
`log_pipeline_run`, `register_version`, `attach_reports`, `champion_development_auc`
(`creditmine.registry.tracking`) and `check_deployable` / `DeploymentRefused`
(`creditmine.registry.gate`).
"""

from __future__ import annotations

__all__ = [
    "DeploymentRefused", "attach_reports", "champion_development_auc", "check_deployable",
    "log_pipeline_run", "register_version",
]

_HOMES = {
    "log_pipeline_run": "tracking", "register_version": "tracking", "attach_reports": "tracking",
    "champion_development_auc": "tracking", "check_deployable": "gate", "DeploymentRefused": "gate",
}


def __getattr__(name: str):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"creditmine.registry.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'creditmine.registry' has no attribute '{name}'")
