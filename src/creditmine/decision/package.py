"""Log the decision model of a product into an MLflow run (stage 05 registers it afterwards).

The logged model is a pyfunc that loads through the installed creditmine
(``loader_module: creditmine.decision.loader``) and holds data only, in its data folder: the
product's primary credit model in skops format, `models.json`, the feature catalog (with the reason
texts in English and Chinese), the product's scope and policy as JSON, the rating master scale, and
`config.json` naming the registered model, the run and the tracking URI, so that the loaded model
can find its registered version and pass the deployment gate.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.config import RunConfig
from creditmine.decision.inputs import APPLICATION_FIELDS
from creditmine.decision.model import DATA_FILES, OUTPUT_COLUMNS, logging_model
from creditmine.decision.policy import limit_base_columns
# Distributions the decision model imports at run time (creditmine itself must be installed:
# serve with `mlflow models serve --env-manager local` from the project's environment).
_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scipy", "scikit-learn", "skops", "pydantic", "pyyaml")
_OPTIONAL_REQUIREMENTS = ("numba",)
_EXAMPLE_ROWS = 3


def log_decision_model(cfg: RunConfig, product: str, run_id: str):
    """Log the decision pyfunc of `product` into the MLflow run `run_id`; do not register it.

    Parameters
    ----------
    cfg : the run's configuration; reads stage 01's `catalog.json` and `features.parquet` (for
        the input example) and stage 02's `models.json`, `models/<primary>.skops` and
        `master_scale.csv`.
    product : product name (params/products/<product>.yaml).
    run_id : an existing run of the product's experiment in `cfg.tracking_uri`.

    Returns
    -------
    mlflow.models.model.ModelInfo : its `model_uri` (``models:/m-...``) is what the registry
        registers.
    """
    import mlflow

    from creditmine import artifacts
    from creditmine.registry.states import MODEL_ARTIFACT, model_name

    product_params = cfg.product(product)
    where = artifacts.layout(cfg, product)
    primary = artifacts.read_models_meta(where)["primary"]
    credit_model = artifacts.read_model(where, primary)
    catalog = artifacts.read_catalog(where)
    artifacts.read_master_scale(where)  # checked: the engine grades with it
    sources = {
        "credit_model": where.model_file(primary),
        "models_meta": where.models_meta,
        "catalog": where.catalog,
        "master_scale": where.master_scale,
    }
    columns = input_columns(list(credit_model.feature_names_in_), product_params.policy)
    example = input_example(where.features_table, columns, product_params.application_products)
    settings = {
        "product": product,
        "model_name": model_name(cfg, product),
        "run_id": run_id,
        "tracking_uri": cfg.tracking_uri,
        "primary_model": primary,
    }

    from creditmine.decision.loader import DATA_FOLDER

    with tempfile.TemporaryDirectory(prefix="creditmine-decision-") as tmp:
        data = Path(tmp) / DATA_FOLDER
        data.mkdir()
        for name, path in sources.items():
            shutil.copyfile(path, data / DATA_FILES[name])
        (data / DATA_FILES["policy"]).write_text(
            json.dumps(product_params.model_dump(mode="json"), indent=1, ensure_ascii=False), encoding="utf-8")
        (data / DATA_FILES["config"]).write_text(json.dumps(settings, indent=1), encoding="utf-8")
        with _in_run(cfg.tracking_uri, run_id), logging_model(run_id):
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                loader_module="creditmine.decision.loader",
                data_path=str(data),
                signature=signature(columns, catalog),
                input_example=example,
                pip_requirements=pip_requirements(),
                metadata={"creditmine_product": product, "creditmine_primary_model": primary,
                          "creditmine_input_columns": columns,
                          "serve_with": "mlflow models serve --env-manager local (creditmine installed)"},
            )
    return info


@contextlib.contextmanager
def _in_run(tracking_uri: str, run_id: str) -> Iterator[None]:
    """Make `run_id` of `tracking_uri` the active run (it may already be).

    MLflow stays pointed at `tracking_uri` afterwards (also through MLFLOW_TRACKING_URI, which
    `mlflow.set_tracking_uri` sets): stage 05 goes on to register this model in the same store,
    and resolving a ``models:/m-...`` URI goes through MLflow's current tracking URI.
    """
    import mlflow

    active = mlflow.active_run()
    if active is not None and active.info.run_id != run_id:
        raise ValueError(f"cannot log the decision model into run {run_id}: run {active.info.run_id} is active")
    mlflow.set_tracking_uri(tracking_uri)
    if active is not None:
        yield
    else:
        with mlflow.start_run(run_id=run_id):
            yield


def input_columns(feature_names: list[str], policy) -> list[str]:
    """The columns of an application row: application fields, limit bases, the model's features."""
    return list(dict.fromkeys([*APPLICATION_FIELDS, "enterprise_id", *limit_base_columns(policy), *feature_names]))


def signature(columns: list[str], catalog: list):
    """The decision columns as the output schema; no input schema.

    Inputs are validated row by row by the model itself (`creditmine.decision.inputs`), so one bad
    row gets its own error. An MLflow input schema would either fail the whole batch on one value
    of the wrong type (typed columns) or check every value in Python before the model runs (columns
    of any type: about 70 % of a 100,000-row batch's time here). The expected columns are in the
    input example and the model's metadata (`creditmine_input_columns`).
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    types = {"pd": "double", "score": "double", "grade": "long", "credit_limit_cny": "double", "term_months": "long"}
    outputs = Schema([ColSpec(types.get(name, "string"), name) for name in OUTPUT_COLUMNS])
    return ModelSignature(inputs=None, outputs=outputs)


def input_example(features_file: Path, columns: list[str], application_products) -> pd.DataFrame:
    """A few application rows of the product's scope from the feature table, JSON-friendly."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(features_file).names)
    # a bring-your-own data set has no enterprise flags: the example shows those fields blank
    frame = pd.read_parquet(features_file, columns=[c for c in dict.fromkeys([*columns, "enterprise_id"]) if c in present])
    for column in columns:
        if column not in frame:
            frame[column] = None
    if application_products:
        frame = frame[frame["product"].isin(application_products)]
    frame = frame.head(_EXAMPLE_ROWS).reset_index(drop=True)
    for column in frame.columns:
        if pd.api.types.is_bool_dtype(frame[column].dtype):
            frame[column] = frame[column].astype(bool)
        elif pd.api.types.is_numeric_dtype(frame[column].dtype):
            frame[column] = frame[column].astype(float)
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame[columns].replace({np.nan: None})


def pip_requirements() -> list[str]:
    """Pinned requirements of the installed third-party packages the model imports."""
    pins = []
    for name in (*_REQUIREMENTS, *_OPTIONAL_REQUIREMENTS):
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            if name not in _OPTIONAL_REQUIREMENTS:
                raise
    return pins
