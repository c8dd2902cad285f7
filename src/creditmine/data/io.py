"""The raw tables on disk: their names, Arrow types, and reading them back as pandas DataFrames.

One Parquet file per table, `<table>.parquet`, in a data directory (see docs/architecture.md,
"Raw tables"). Dates are `date32` in Parquet and `datetime64` in pandas; money is float64 yuan.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TABLES: tuple[str, ...] = (
    "enterprises", "tax_filings", "tax_credit_ratings", "invoices", "electricity", "customs",
    "procurement_awards", "applications",
)
"""The tables a pipeline stage may read, in dependency order (ground_truth is not among them)."""

GROUND_TRUTH = "ground_truth"
"""The generator's true PD per application: for tests and benchmarks only, never for a stage."""

SUCCESS_MARKER = "_SUCCESS"
"""Written last into a data directory once every table is complete."""

_STR, _DATE, _MONEY, _BOOL, _INT = pa.string(), pa.date32(), pa.float64(), pa.bool_(), pa.int64()

ARROW_SCHEMAS: dict[str, pa.Schema] = {
    "enterprises": pa.schema([
        ("enterprise_id", _STR), ("industry_section", _STR), ("industry_division", _STR),
        ("district", _STR), ("registered_at", _DATE), ("registered_capital_cny", _MONEY),
        ("employees", _INT), ("specialized_innovative", _BOOL), ("high_tech", _BOOL),
    ]),
    "tax_filings": pa.schema([
        ("enterprise_id", _STR), ("period", _DATE), ("taxable_sales_cny", _MONEY),
        ("vat_payable_cny", _MONEY), ("vat_paid_cny", _MONEY), ("filed_at", _DATE),
    ]),
    "tax_credit_ratings": pa.schema([
        ("enterprise_id", _STR), ("year", _INT), ("rating", _STR), ("published_at", _DATE),
    ]),
    "invoices": pa.schema([
        ("invoice_id", _STR), ("enterprise_id", _STR), ("counterparty_id", _STR),
        ("direction", _STR), ("issued_at", _DATE), ("amount_cny", _MONEY), ("tax_cny", _MONEY),
        ("status", _STR),
    ]),
    "electricity": pa.schema([
        ("enterprise_id", _STR), ("period", _DATE), ("kwh", _MONEY), ("bill_cny", _MONEY),
        ("billed_at", _DATE), ("paid_on_time", _BOOL),
    ]),
    "customs": pa.schema([
        ("declaration_id", _STR), ("enterprise_id", _STR), ("declared_at", _DATE),
        ("direction", _STR), ("value_cny", _MONEY), ("hs_chapter", _STR),
    ]),
    "procurement_awards": pa.schema([
        ("award_id", _STR), ("enterprise_id", _STR), ("purchaser", _STR), ("awarded_at", _DATE),
        ("contract_amount_cny", _MONEY), ("start_on", _DATE), ("end_on", _DATE),
        ("category", _STR), ("status", _STR),
    ]),
    "applications": pa.schema([
        ("application_id", _STR), ("enterprise_id", _STR), ("applied_at", _DATE),
        ("product", _STR), ("requested_amount_cny", _MONEY), ("term_months", _INT),
        ("award_id", _STR), ("booked", _BOOL), ("default_12m", _MONEY),
    ]),
    GROUND_TRUTH: pa.schema([("application_id", _STR), ("true_pd", _MONEY)]),
}
"""Column names and Arrow types of every table, in column order."""

KNOWN_AT: dict[str, str] = {
    "tax_filings": "filed_at", "tax_credit_ratings": "published_at", "invoices": "issued_at",
    "electricity": "billed_at", "customs": "declared_at", "procurement_awards": "awarded_at",
    "applications": "applied_at", "enterprises": "registered_at",
}
"""The date at which the lender could know each record (the point-in-time column)."""


def table_path(data_dir: str | os.PathLike, name: str) -> Path:
    """`<data_dir>/<name>.parquet`, checking that `name` is a table of the data model."""
    if name not in ARROW_SCHEMAS:
        raise ValueError(f"unknown table '{name}'; the data model has {', '.join(ARROW_SCHEMAS)}")
    return Path(data_dir) / f"{name}.parquet"


def read_table(data_dir: str | os.PathLike, name: str, columns: list[str] | None = None):
    """One raw table as a pandas DataFrame with the data model's dtypes.

    Parameters
    ----------
    data_dir : folder holding `<name>.parquet` (`cfg.data_dir`).
    name : a table of `TABLES` (or `ground_truth`, for tests and benchmarks only).
    columns : subset of columns to read; all by default.

    Returns
    -------
    DataFrame with dates as `datetime64[ms]` (midnight), money as float64 yuan, flags as bool,
    ids and categories as strings, `default_12m` float with NaN when not booked or immature.
    """
    path = table_path(data_dir, name)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: table '{name}' not found (run `creditmine generate` or ingest first)")
    known = ARROW_SCHEMAS[name].names
    if columns is not None:
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f"{path}: no column {', '.join(unknown)}; the table has {', '.join(known)}")
    table = pq.read_table(path, columns=columns)
    return table.to_pandas(date_as_object=False)


def write_table(data_dir: str | os.PathLike, name: str, table: pa.Table) -> Path:
    """Write a whole table at once (used by ingestion); casts to the data model's Arrow types."""
    path = table_path(data_dir, name)
    pq.write_table(table.select(ARROW_SCHEMAS[name].names).cast(ARROW_SCHEMAS[name]), path)
    return path


class TableWriters:
    """One streaming Parquet writer per table; each `write` call adds one row group.

    Use as a context manager: files are written to `<name>.parquet.tmp` and renamed on a clean
    exit, so a crash never leaves a table that looks complete.
    """

    def __init__(self, data_dir: str | os.PathLike, names=tuple(ARROW_SCHEMAS)):
        self.data_dir = Path(data_dir)
        self.names = tuple(names)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows = {name: 0 for name in self.names}

    def __enter__(self) -> "TableWriters":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            self._writers[name] = pq.ParquetWriter(
                self._tmp(name), ARROW_SCHEMAS[name], compression="zstd", write_statistics=True
            )
        return self

    def write(self, name: str, columns: dict) -> None:
        """Append one row group from a dict of column -> numpy array / Arrow array."""
        schema = ARROW_SCHEMAS[name]
        arrays = [_to_arrow(columns[field.name], field.type) for field in schema]
        batch = pa.Table.from_arrays(arrays, schema=schema)
        self._writers[name].write_table(batch)
        self.rows[name] += batch.num_rows

    def __exit__(self, exc_type, exc, tb) -> None:
        for writer in self._writers.values():
            writer.close()
        for name in self.names:
            if exc_type is None:
                os.replace(self._tmp(name), table_path(self.data_dir, name))
            else:
                self._tmp(name).unlink(missing_ok=True)

    def _tmp(self, name: str) -> Path:
        return self.data_dir / f"{name}.parquet.tmp"


def fixed_width_strings(byte_matrix) -> pa.Array:
    """An Arrow string array from an (n, width) uint8 matrix of ASCII codes, without a Python loop."""
    import numpy as np

    matrix = np.ascontiguousarray(byte_matrix, dtype=np.uint8)
    n, width = matrix.shape
    offsets = (np.arange(n + 1, dtype=np.int64) * width)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(matrix.tobytes())
    ).cast(pa.string())


def _to_arrow(values, arrow_type: pa.DataType) -> pa.Array:
    """A numpy array (dates as int days since 1970-01-01) as an Arrow array of `arrow_type`."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(arrow_type)
    if arrow_type == pa.date32():
        return pa.array(values.astype("int32"), type=pa.int32()).cast(pa.date32())
    return pa.array(values, type=arrow_type, from_pandas=True)
