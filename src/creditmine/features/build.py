"""Point-in-time features of the synthetic world, one row per application, on DuckDB (default) or Spark.

The definitions (`creditmine.features.definitions`) are SQL written once; DuckDB runs them as they
are, Spark runs sqlglot's translation. Raw tables are read by the engine straight from their
Parquet files, so the invoices never pass through pandas. Stage 01 itself is
`creditmine.features.stage.run`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmine.features.catalog import KEY_COLUMNS, FeatureSpec, synthetic_catalog
from creditmine.features.definitions import feature_queries, to_dialect, window_offsets

__all__ = ["FEATURE_TABLES", "compute_features", "feature_columns", "prepare_spine"]

# Raw tables the feature definitions read (applications become the spine).
FEATURE_TABLES = (
    "enterprises", "tax_filings", "tax_credit_ratings", "invoices", "electricity", "customs",
    "procurement_awards",
)

# Columns of each raw table that the definitions read.
REQUIRED_COLUMNS = {
    "enterprises": ("enterprise_id", "industry_section", "registered_at", "registered_capital_cny", "employees",
                    "specialized_innovative", "high_tech"),
    "tax_filings": ("enterprise_id", "period", "taxable_sales_cny", "vat_payable_cny", "vat_paid_cny", "filed_at"),
    "tax_credit_ratings": ("enterprise_id", "year", "rating", "published_at"),
    "invoices": ("enterprise_id", "counterparty_id", "direction", "issued_at", "amount_cny", "status"),
    "electricity": ("enterprise_id", "period", "kwh", "bill_cny", "billed_at", "paid_on_time"),
    "customs": ("enterprise_id", "declared_at", "direction", "value_cny", "hs_chapter"),
    "procurement_awards": ("award_id", "enterprise_id", "purchaser", "awarded_at", "contract_amount_cny",
                           "start_on", "end_on", "category"),
}

_SPINE_COLUMNS = (
    "application_id", "enterprise_id", "applied_at", "product", "requested_amount_cny",
    "term_months", "award_id",
)


def feature_columns(catalog: list[FeatureSpec]) -> list[str]:
    """Names of the catalogued features, in catalog order."""
    return [s.name for s in catalog]


def prepare_spine(applications: pd.DataFrame, windows_months: tuple[int, ...]) -> pa.Table:
    """One row per application with the window start dates every definition shares.

    `since_<k>m` is applied_at minus k calendar months (k: each window and twice each growth window) (clamped to the month's last day, as
    pandas' DateOffset does), so that DuckDB, Spark and the pandas reference agree to the day.
    """
    missing = [c for c in _SPINE_COLUMNS if c not in applications]
    if missing:
        raise ValueError(f"applications: missing column(s) {', '.join(missing)}")
    applied = pd.to_datetime(applications["applied_at"])
    bad = applied.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"applications: applied_at is empty in row {row} "
                         f"(application_id {applications['application_id'].iloc[row]!r})")
    duplicated = applications["application_id"].duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise ValueError(f"applications: application_id {applications['application_id'].iloc[row]!r} "
                         f"is duplicated (row {row})")
    columns = {
        "app_key": pa.array(np.arange(len(applications), dtype=np.int32)),
        "application_id": pa.array(applications["application_id"].astype(str).to_numpy(), pa.string()),
        "enterprise_id": pa.array(applications["enterprise_id"].astype(str).to_numpy(), pa.string()),
        "applied_at": _dates(applied),
        "product": pa.array(applications["product"].astype(str).to_numpy(), pa.string()),
        "requested_amount_cny": pa.array(applications["requested_amount_cny"].astype("float64").to_numpy()),
        "term_months": pa.array(applications["term_months"].astype("float64").to_numpy()),
        "award_id": pa.array(applications["award_id"].astype(object).where(applications["award_id"].notna(), None)
                             .to_numpy(), pa.string()),
    }
    for k in window_offsets(windows_months):
        columns[f"since_{k}m"] = _dates(applied - pd.DateOffset(months=k))
    return pa.table(columns)


def compute_features(
    tables: Mapping[str, pd.DataFrame | str | os.PathLike],
    applications: pd.DataFrame,
    windows_months: tuple[int, ...] = (3, 6, 12),
    filing_deadline_day: int = 15,
    backend: str = "duckdb",
    threads: int | None = None,
    memory_limit_gb: float = 4.0,
    spark_master: str = "local[2]",
    progress: bool = False,
) -> pd.DataFrame:
    """Every synthetic-world feature of every application, from the raw tables.

    Parameters
    ----------
    tables : raw table name -> DataFrame, or path of its Parquet file (read by the engine itself).
        Needs every name of `FEATURE_TABLES`.
    applications : the applications (application_id, enterprise_id, applied_at, product,
        requested_amount_cny, term_months, award_id).
    windows_months, filing_deadline_day : see `FeatureParams`.
    backend : "duckdb" or "spark" (pyspark in `spark_master`).

    Returns
    -------
    DataFrame: application_id, then the catalogued features other than the key columns
    (numeric float64 with NaN, categorical strings with None), sorted by application_id.
    """
    missing = [t for t in FEATURE_TABLES if t not in tables]
    if missing:
        raise ValueError(f"compute_features: missing raw table(s) {', '.join(missing)}")
    _check_columns(tables)
    spine = prepare_spine(applications, windows_months)
    queries = feature_queries(tuple(windows_months), filing_deadline_day)
    if backend == "duckdb":
        result = _run_duckdb(tables, spine, queries, threads, memory_limit_gb, progress)
    elif backend == "spark":
        result = _run_spark(tables, spine, queries, spark_master, progress)
    else:
        raise ValueError(f"features.backend must be 'duckdb' or 'spark', got {backend!r}")
    return _normalize(result, synthetic_catalog(tuple(windows_months)))


# ---------------------------------------------------------------------------------------------

def _check_columns(tables) -> None:
    """Every column a definition reads is in its table (Parquet files: read from the footer only)."""
    import pyarrow.parquet as pq

    for name, needed in REQUIRED_COLUMNS.items():
        source = tables[name]
        if isinstance(source, pd.DataFrame):
            present, where = set(source.columns), f"table '{name}'"
        else:
            present, where = set(pq.read_schema(source).names), f"{source}"
        missing = [c for c in needed if c not in present]
        if missing:
            raise ValueError(f"{where}: missing column(s) {', '.join(missing)} needed by the feature definitions")


def _dates(values: pd.Series) -> pa.Array:
    return pa.array(values.dt.normalize().to_numpy().astype("datetime64[D]"), pa.date32())


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _run_duckdb(tables, spine, queries, threads, memory_limit_gb, progress) -> pd.DataFrame:
    import duckdb
    from tqdm import tqdm

    spill = tempfile.mkdtemp(prefix="creditmine-duckdb-")  # work beyond memory_limit spills here
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute(f"SET memory_limit = '{memory_limit_gb}GB'")
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute("SET preserve_insertion_order = false")
        con.register("spine", spine)
        for name, source in tables.items():
            if isinstance(source, pd.DataFrame):
                con.register(name, _arrow(source))
            else:
                path = str(source).replace("'", "''")
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        for name, sql in tqdm(queries.steps, desc="features (duckdb)", disable=not progress, leave=False):
            con.execute(f"CREATE TEMP TABLE {name} AS {sql}")
        return con.sql(queries.final).to_arrow_table().to_pandas()
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _run_spark(tables, spine, queries, master, progress) -> pd.DataFrame:
    from tqdm import tqdm

    from creditmine.features.spark import spark_session

    spark = spark_session(master)
    spark.createDataFrame(spine.to_pandas(date_as_object=True)).createOrReplaceTempView("spine")
    for name, source in tables.items():
        if isinstance(source, pd.DataFrame):
            frame = spark.createDataFrame(_spark_ready(source))
        else:
            frame = spark.read.parquet(str(source))
        frame.createOrReplaceTempView(name)
    for name, sql in tqdm(queries.steps, desc="features (spark)", disable=not progress, leave=False):
        spark.sql(to_dialect(sql, "spark")).createOrReplaceTempView(name)
    return spark.sql(to_dialect(queries.final, "spark")).toArrow().to_pandas()


def _spark_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime.date (Spark DateType) and strings as objects, for createDataFrame."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.date.astype(object).where(out[column].notna(), None)
        elif pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def _normalize(result: pd.DataFrame, catalog: list[FeatureSpec]) -> pd.DataFrame:
    """Numeric features float64 (NaN for missing), categorical ones object strings (None)."""
    names = [s.name for s in catalog if s.name not in KEY_COLUMNS]
    columns = {"application_id": result["application_id"].astype(str).to_numpy()}
    kinds = {s.name: s.kind for s in catalog}
    for name in names:
        values = result[name]
        if kinds[name] == "categorical":
            columns[name] = values.astype(object).where(values.notna(), None).to_numpy()
        else:
            columns[name] = pd.to_numeric(values).astype("float64").to_numpy()
    out = pd.DataFrame(columns)
    return out.sort_values("application_id", kind="stable").reset_index(drop=True)
