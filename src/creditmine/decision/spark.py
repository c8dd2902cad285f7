"""Batch decisions on Spark: the registered decision model through `mlflow.pyfunc.spark_udf`.

`creditmine score --engine spark` reads and checks the applications as the local engine does
(`creditmine.decision.score`: the same reader, the same refusal of repeated ids and of ids
missing from the feature table), and Spark decides the rows: the gate's verified local copy of
the version goes to `mlflow.pyfunc.spark_udf` (environment "local": this environment's
creditmine), whose Python workers load it through the decision model's loader, so each of them
checks the files it reads against the manifest again before deserialising anything. The rows go
to Spark with a schema from their pandas dtypes and come back in input order, with the columns
and types of in-process scoring.

Values of a column that mixes Python types (a JSON-lines input with numbers and text in one
field, say) travel as text, written as validation reads them (17.0 as "17"); a row with such a
value gets the same decision, its `error` may word the problem differently.

Local mode (``local[*]``) by default; `master` names another. The input and the decisions pass
through the driver as pandas DataFrames: a batch must fit in its memory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["decide_on_spark", "spark_unavailable"]

_ROW = "__creditmine_row"


def spark_unavailable() -> str | None:
    """None when Spark can run here (pyspark importable, a Java runtime found), else why not."""
    if importlib.util.find_spec("pyspark") is None:
        return "--engine spark needs pyspark, which is not installed: pip install 'creditmine[spark]'"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").is_file()) and shutil.which("java") is None:
        return ("--engine spark needs a Java runtime (Java 17) for Spark, and found none: "
                "install one, or set JAVA_HOME")
    return None


def spark_session(master: str | None = None):
    """The active SparkSession, or a new one (`master`, default ``local[*]``) whose Python
    workers run this interpreter, with Arrow for pandas UDFs."""
    from creditmine.features.spark import spark_session as session

    spark = session(master or "local[*]", "creditmine-score")
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    return spark


def decide_on_spark(model_dir: str | os.PathLike, rows: pd.DataFrame, tracking_uri: str | None = None,
                    master: str | None = None) -> pd.DataFrame:
    """Decide `rows` with the decision model in `model_dir` (the gate's verified local copy) on Spark.

    Returns
    -------
    DataFrame with `creditmine.decision.model.OUTPUT_COLUMNS`, one row per input row, in order.
    """
    import mlflow
    from pyspark.sql import functions as F

    from creditmine.decision.model import OUTPUT_COLUMNS
    from creditmine.decision.score import tracking_store

    spark = spark_session(master)
    # the workers' loader checks the gate in this store (spark_udf passes MLflow's current URI on)
    with tracking_store(tracking_uri):
        decide = mlflow.pyfunc.spark_udf(spark, str(model_dir), env_manager="local")
    columns = [str(c) for c in rows.columns]
    frame = _for_spark(rows)
    frame[_ROW] = np.arange(len(frame), dtype=np.int64)
    partitions = max(1, spark.sparkContext.defaultParallelism)
    sdf = spark.createDataFrame(frame, schema=_schema(frame)).repartition(partitions)
    decided = sdf.select(F.col(_ROW), decide(F.struct(*[F.col(f"`{c}`") for c in columns])).alias("decision_"))
    out = decided.select(_ROW, "decision_.*").toPandas().sort_values(_ROW)
    missing = [c for c in OUTPUT_COLUMNS if c not in out]
    if missing or len(out) != len(rows):
        raise RuntimeError(f"Spark returned {len(out)} rows for {len(rows)}, without columns {missing}")
    types = {"grade": np.int64, "term_months": np.int64, "pd": float, "score": float, "credit_limit_cny": float}
    return pd.DataFrame({c: out[c].to_numpy(dtype=types.get(c, object)) for c in OUTPUT_COLUMNS},
                        columns=list(OUTPUT_COLUMNS))


def _for_spark(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with column names as text and every column of one type Arrow can carry."""
    from creditmine.decision.columns import _as_text

    frame = rows.set_axis([str(c) for c in rows.columns], axis=1).reset_index(drop=True)
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        present = column[column.notna()]
        kinds = {type(v) for v in present}
        # text, numbers, and yes/no among blanks come back as they went (an object column); yes/no
        # without blanks would come back as booleans, which validation reads otherwise
        exact = all(abs(v) <= 2**53 for v in present if type(v) is int)    # as a double
        if kinds <= {str} or kinds <= {int, float} and exact or kinds <= {bool} and len(present) < len(column):
            continue
        frame[name] = [None if pd.isna(v) else _as_text(v) for v in column]
    return frame


def _schema(frame: pd.DataFrame):
    """The Spark schema of `frame` from its dtypes (an object column of blanks only is text)."""
    from pyspark.sql import types as T

    fields = []
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            kind = T.BooleanType()
        elif pd.api.types.is_integer_dtype(dtype):
            kind = T.LongType()
        elif pd.api.types.is_float_dtype(dtype):
            kind = T.DoubleType()
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = T.TimestampType()
        else:
            present = frame[name][frame[name].notna()]
            kinds = {type(v) for v in present}
            if present.size and kinds <= {bool}:
                kind = T.BooleanType()
            elif present.size and kinds <= {int, float}:
                kind = T.DoubleType()
            else:
                kind = T.StringType()
        fields.append(T.StructField(str(name), kind, nullable=True))
    return T.StructType(fields)
