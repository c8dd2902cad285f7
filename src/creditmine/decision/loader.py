"""How MLflow loads a registered decision model: this module, from the installed creditmine.

The decision model is logged as a pyfunc with ``loader_module: creditmine.decision.loader`` and a
data folder (`creditmine.decision.model.DATA_FILES`: the credit model in skops format, the catalog,
the policy, the master scale, and `config.json` naming the registered model and the run). Its
artifacts hold data only; loading imports nothing from them.

`_load_pyfunc` first hands the exact local files MLflow downloaded to the deployment gate
(`creditmine.registry.gate.guard_loaded_copy`: an approved, unrejected version of this run whose
manifest every file matches), and only then deserialises them, from that same folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from creditmine.decision.model import _LOGGING_RUN_ID, DATA_FILES, DecisionEngine

__all__ = ["DATA_FOLDER", "DecisionPyfunc", "_load_pyfunc"]

DATA_FOLDER = "decision"
"""Name of the data folder inside the logged model (MLflow keeps it under data/)."""


class DecisionPyfunc:
    """What `mlflow.pyfunc.load_model` gives: application rows in, decisions with reasons out."""

    def __init__(self, engine: DecisionEngine, settings: dict, log=None):
        self.engine_ = engine
        self.settings = settings
        self.log_ = log  # creditmine.monitoring.log.DecisionLog: every decision is recorded

    @property
    def python_model(self) -> "DecisionPyfunc":
        """This object: what MLflow's `PyFuncModel.unwrap_python_model()` gives."""
        return self

    def predict(self, model_input, params: dict | None = None) -> pd.DataFrame:
        """Decide each application row (see `creditmine.decision.model.OUTPUT_COLUMNS`)."""
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        decisions = self.engine_.decide(model_input)
        if self.log_ is not None:
            self.log_.record(model_input, decisions)
        return decisions


def _load_pyfunc(data_path: str) -> DecisionPyfunc:
    """MLflow's entry point: gate the files in `data_path`'s model, then build the engine from them.

    Raises
    ------
    creditmine.registry.gate.DeploymentRefused : the files are not an approved version's (the
        message says which check failed); nothing has been deserialised.
    """
    folder = Path(data_path)
    settings = json.loads((folder / DATA_FILES["config"]).read_text(encoding="utf-8"))
    logging_now, deployable = _LOGGING_RUN_ID.get(), None
    if logging_now is None or logging_now != settings.get("run_id"):
        from creditmine.registry.gate import DeploymentRefused, guard_loaded_copy

        name, run_id = settings.get("model_name"), settings.get("run_id")
        if not name or not run_id:
            raise DeploymentRefused(f"{folder}: the decision model names no registered model and run")
        model_dir = _model_root(folder)
        tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or settings.get("tracking_uri")
        deployable = guard_loaded_copy(name, run_id, model_dir, tracking_uri)
    engine = DecisionEngine.from_folder(folder)
    if deployable is None:  # the model being logged, loaded by MLflow to check it: decides nothing
        return DecisionPyfunc(engine, settings)
    from creditmine.monitoring.log import attach

    return DecisionPyfunc(engine, settings, attach(engine, settings, deployable.version, tracking_uri))


def _model_root(folder: Path) -> Path:
    """The folder holding the MLmodel file (MLflow passes <model>/data/<data folder>)."""
    for candidate in (folder, *folder.parents):
        if (candidate / "MLmodel").is_file():
            return candidate
    raise FileNotFoundError(f"{folder}: no MLmodel above the decision model's data")
