"""The same feature definitions on Spark (pyspark, local mode) give the features DuckDB gives."""

from __future__ import annotations

import pytest

from creditmine import config
from creditmine.data.io import read_table, table_path
from creditmine.data.synthetic import generate
from creditmine.features.build import FEATURE_TABLES, compute_features
from creditmine.features.definitions import feature_queries, to_dialect

from factories import assert_same_features

pytestmark = [
    pytest.mark.spark, pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def test_definitions_translate_to_spark_sql():
    queries = feature_queries((3, 6, 12), 15)
    for _, sql in (*queries.steps, ("final", queries.final)):
        spark_sql = to_dialect(sql, "spark")
        assert "ARG_MAX" not in spark_sql and "EXCLUDE" not in spark_sql


def test_spark_features_equal_duckdb_features(tmp_path):
    pytest.importorskip("pyspark")
    generate(config.SyntheticParams(enterprises=60), seed=31, out_dir=tmp_path, progress=False)
    applications = read_table(tmp_path, "applications")
    paths = {t: table_path(tmp_path, t) for t in FEATURE_TABLES}
    duck = compute_features(paths, applications)
    spark = compute_features(paths, applications, backend="spark", spark_master="local[2]")
    # Sums are exact decimals on both engines; only the last bits of divisions may differ.
    assert_same_features(duck, spark, rtol=1e-12)
