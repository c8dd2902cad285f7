"""Raw segments: a big call's decisions written as they came, so the deciding process hands them
to the store in one file write and goes on deciding.

A raw segment (``raw-<time>-<pid>-<id>.arrow`` in a month partition of
`creditmine.monitoring.store.ParquetDecisionStore`) is an Arrow IPC file holding one call's inputs
(the columns the log keeps, as ``i:<name>``) and its decisions (``o:<name>``), with what the rows
need besides in its `RAW_KEY` metadata (model, version, input columns, decision time, source,
call). Reading it builds the log's rows (`built_rows`) with the same `build_batch` a writer runs,
so a reader cannot tell a raw segment from a built one; compaction builds them once, when idle, into
Parquet. A call whose columns Arrow could not give back exactly as they came (an object column of
numbers, a mix of types, an extension type), or that lacks a decision column, is not written raw
(`raw_tables` gives None) and takes the usual path."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmine.monitoring.log_rows import _dates, _Pending, build_batch

RAW_KEY = b"creditmine.raw"
RAW_ROWS = 1_000
"""Calls of at least this many rows are written raw; smaller ones (a server's one-row calls) are
gathered and built by the writer, so a server does not leave one file per decision."""
_LOGGED_TOO = ("applied_at", "enterprise_id", "product")      # read by `build_batch` besides the input columns
DECIDED = ("application_id", "pd", "score", "grade", "decision", "credit_limit_cny", "term_months", "error")
"""The decision columns `build_batch` needs (a call without one is not written raw)."""
_TEXT_TYPES = (pa.string(), pa.large_string(), pa.null())
_NUMPY_KINDS = "fiub"                 # floats, integers, booleans: kept as their NumPy bytes


def raw_tables(record: _Pending, model: str, version: str, input_columns, categorical) -> list[tuple[str, pa.Table]] | None:
    """The raw segments of one call: (month, table) for each month of its rows (the month of the
    application date, else of the decision, as `build_batch` and the store reckon it), or None when
    the call cannot be written raw."""
    inputs, outputs = record.inputs, record.outputs
    if not (inputs.columns.is_unique and outputs.columns.is_unique) \
            or not all(isinstance(c, str) for c in (*inputs.columns, *outputs.columns)) \
            or not set(DECIDED).issubset(outputs.columns):
        return None          # the usual path says what is wrong now, rather than the reader later
    kept = [c for c in dict.fromkeys((*input_columns, *_LOGGED_TOO)) if c in inputs.columns]
    given, made = _columns(inputs, kept), _columns(outputs, list(outputs.columns))
    if given is None or made is None:
        return None
    metadata = {
        "model": model, "version": version, "input_columns": list(input_columns),
        "categorical": sorted(categorical), "decided_at": record.decided_at, "source": record.source,
        "batch_id": record.batch_id or uuid.uuid4().hex[:16], "inputs": given[1], "outputs": made[1],
    }
    table = pa.Table.from_arrays([*given[0], *made[0]], names=[f"i:{c}" for c in kept] + [f"o:{c}" for c in outputs.columns])
    table = table.replace_schema_metadata({RAW_KEY: json.dumps(metadata).encode()})
    months = _months(inputs, record.decided_at)
    distinct = np.unique(months)
    if len(distinct) == 1:
        return [(str(distinct[0]), table)]
    return [(str(month), table.take(pa.array(np.flatnonzero(months == month)))) for month in distinct]


def built_rows(table: pa.Table) -> pa.Table:
    """The decision log rows of a raw segment (what `build_batch` makes of the call it holds)."""
    metadata = json.loads(table.schema.metadata[RAW_KEY])
    record = _Pending(metadata["decided_at"], _frame(table, "i:", metadata["inputs"]),
                      _frame(table, "o:", metadata["outputs"]), metadata["source"], metadata["batch_id"])
    return build_batch([record], metadata["model"], metadata["version"], tuple(metadata["input_columns"]),
                       frozenset(metadata["categorical"]))


def _columns(frame: pd.DataFrame, names: list[str]):
    """`names` of `frame` as Arrow arrays, and how to give them back as they were:
    NumPy numbers and booleans as they are (no copy, every bit kept), other columns through
    pyarrow's pandas conversion (its metadata restores their dtypes); None when one would not
    come back exactly."""
    dtypes = frame.dtypes
    plain = {c: dtypes[c].str for c in names if isinstance(dtypes[c], np.dtype) and dtypes[c].kind in _NUMPY_KINDS}
    others = [c for c in names if c not in plain]
    converted = None
    if others:
        try:
            converted = pa.Table.from_pandas(frame, columns=others, preserve_index=False, nthreads=1)
        except (pa.ArrowException, TypeError, ValueError):
            return None
        for field in converted.schema:
            # an object column comes back as it went only when it holds text and blanks; an
            # extension type only where its reader registered it
            if (dtypes[field.name] == object and field.type not in _TEXT_TYPES) or isinstance(field.type, pa.ExtensionType):
                return None
    arrays = [pa.array(frame[c].to_numpy()) if c in plain else converted[c] for c in names]
    how = {"order": names, "numpy": plain,
           "pandas": converted.schema.metadata[b"pandas"].decode() if converted is not None else None}
    return arrays, how


def _frame(table: pa.Table, prefix: str, how: dict) -> pd.DataFrame:
    converted = None
    others = [c for c in how["order"] if c not in how["numpy"]]
    if others:
        part = pa.Table.from_arrays([table[prefix + c] for c in others], names=others)
        converted = part.replace_schema_metadata({b"pandas": how["pandas"].encode()}).to_pandas()
    return pd.DataFrame({c: table[prefix + c].to_numpy().astype(how["numpy"][c], copy=False) if c in how["numpy"]
                         else converted[c] for c in how["order"]}, columns=how["order"])


def _months(inputs: pd.DataFrame, decided_at: float) -> np.ndarray:
    decided = np.datetime64(int(decided_at * 1000), "ms").astype("datetime64[M]")
    if "applied_at" not in inputs:
        return np.full(len(inputs), decided)
    applied = _dates(inputs["applied_at"]).to_numpy(zero_copy_only=False).astype("datetime64[M]")
    return np.where(np.isnat(applied), decided, applied)
