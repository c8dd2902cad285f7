"""A local or cluster Spark session configured for the feature definitions."""

from __future__ import annotations

import os
import sys

__all__ = ["spark_session"]


def spark_session(master: str = "local[2]", app_name: str = "creditmine-features"):
    """The active SparkSession, or a new one on `master` (UTC, no UI, few shuffle partitions) whose
    Python workers run this interpreter.

    UTC keeps dates from shifting between pandas, Parquet and Spark; few shuffle partitions suit
    the small per-application aggregates (a cluster sets its own through spark-defaults).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("features.backend 'spark' needs pyspark: pip install 'creditmine[spark]'") from exc
    # PySpark starts its Python workers with PYSPARK_PYTHON ("python3" on the PATH otherwise),
    # read when the context starts: this interpreter, whose environment has creditmine
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark
