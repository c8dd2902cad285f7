"""Decision log rows: queued decisions turned into Arrow (`build_batch`), with the documented
input digest (`input_digests`, `recompute_digests`). `creditmine.monitoring.log` queues them."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_REASONS = tuple(f"reason_{i}_{lang}" for lang in ("en", "zh") for i in range(1, 5))
DECISION_COLUMNS = (
    "decided_at", "applied_at", "application_id", "enterprise_id", "product", "model", "version", "source",
    "batch_id", "input_digest", "pd", "score", "grade", "decision", "credit_limit_cny", "term_months",
    *_REASONS, "error", "raw_input",
)
"""The columns of a decision log row (besides `inputs`, the struct of the features used)."""


class DecisionLogError(RuntimeError):
    """Decisions could not be written to the decision store; the message names the store and why."""


@dataclass
class _Pending:
    decided_at: float
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    source: str
    batch_id: str | None = None       # the call's; None: a new one when built



# -- rows -> Arrow --------------------------------------------------------------------------------

def build_batch(records, model: str, version: str, input_columns, categorical) -> pa.Table:
    """The decision log rows of queued decisions as one Arrow table (columns `DECISION_COLUMNS`
    and `inputs`)."""
    sizes = np.array([len(r.outputs) for r in records])
    inputs = pd.concat([r.inputs for r in records], ignore_index=True, sort=False) if len(records) > 1 \
        else records[0].inputs.reset_index(drop=True)
    outputs = pd.concat([r.outputs for r in records], ignore_index=True) if len(records) > 1 \
        else records[0].outputs.reset_index(drop=True)
    n = len(outputs)
    given = [c for c in input_columns if c in inputs.columns]
    typed, unreadable = _typed_inputs(inputs, input_columns, categorical, n)
    grade = pd.to_numeric(outputs["grade"], errors="coerce").fillna(0).astype(np.int64).to_numpy()
    raw = np.full(n, "", dtype=object)
    # what arrived, as text, only where the typed inputs cannot keep it (text where a number belongs):
    # a row referred for any other reason keeps its values in `inputs` as they came
    flagged = np.flatnonzero(unreadable)
    if len(flagged):
        rows = inputs.iloc[flagged]
        given_values = {c: rows[c].to_numpy(dtype=object) for c in given}
        for k, row in enumerate(flagged):
            raw[row] = json.dumps({c: _jsonable(given_values[c][k]) for c in given}, ensure_ascii=False,
                                  sort_keys=True)
    decided = np.repeat(np.array([r.decided_at for r in records]) * 1000, sizes).astype("int64")
    batch_ids = np.repeat(np.array([r.batch_id or uuid.uuid4().hex[:16] for r in records], dtype=object), sizes)
    sources = np.repeat(np.array([r.source for r in records], dtype=object), sizes)
    text = {c: _text(typed[c]) for c in input_columns if c in categorical}
    columns = {
        "decided_at": pa.array(decided, pa.timestamp("ms", tz="UTC")),
        "applied_at": _dates(inputs["applied_at"]) if "applied_at" in inputs else pa.nulls(n, pa.date32()),
        "application_id": _text(outputs["application_id"]),
        "enterprise_id": text.get("enterprise_id") if "enterprise_id" in text else _text_column(inputs, "enterprise_id", n),
        "product": text.get("product") if "product" in text else _text_column(inputs, "product", n),
        "model": pa.array(np.full(n, model, dtype=object), pa.string()),
        "version": pa.array(np.full(n, version, dtype=object), pa.string()),
        "source": pa.array(sources, pa.string()),
        "batch_id": pa.array(batch_ids, pa.string()),
        "input_digest": _digests(typed, text, input_columns, categorical, n),
        "pd": pa.array(pd.to_numeric(outputs["pd"], errors="coerce").to_numpy(float)),
        "score": pa.array(pd.to_numeric(outputs["score"], errors="coerce").to_numpy(float)),
        "grade": pa.array(grade),
        "decision": _text(outputs["decision"]),
        "credit_limit_cny": pa.array(pd.to_numeric(outputs["credit_limit_cny"], errors="coerce").to_numpy(float)),
        "term_months": pa.array(pd.to_numeric(outputs["term_months"], errors="coerce").fillna(0).astype(np.int64)
                                .to_numpy()),
        **{c: _text(outputs[c]) if c in outputs else pa.nulls(n, pa.string()) for c in _REASONS},
        "error": _text(outputs["error"]),
        "raw_input": pa.array(raw, pa.string()),
    }
    fields = [text[c] if c in categorical else pa.array(typed[c], pa.float64()) for c in input_columns]
    columns["inputs"] = pa.StructArray.from_arrays(fields, names=list(input_columns)) if fields else pa.nulls(n)
    return pa.table(columns)


TEXT_WIDTH = 32
"""Bytes of a text value hashed as they are (UTF-8); longer values are hashed through their SHA-256."""
_LONG, _BLANK = 0xFE, 0xFF            # bytes UTF-8 never holds: a text field holding one is not text as it came
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def input_digests(typed: dict[str, np.ndarray], input_columns, categorical) -> np.ndarray:
    """SHA-256 (hex) of each row's inputs, in `input_columns` order.

    The bytes hashed are, column after column: for a number, 8 bytes (IEEE 754 float64,
    little-endian; every blank the same NaN); for text, `TEXT_WIDTH` (32) bytes: its UTF-8 padded
    with zeros, or, for a text longer than that or holding a NUL character, 0xFE and the first 31
    bytes of the SHA-256 of its UTF-8, and for a blank 32 bytes of 0xFF. A row's digest does not
    depend on the batch it came in, and anyone holding its inputs can recompute it
    (`recompute_digests`). The digest is of the typed inputs the log keeps; a value that could not
    be read as a number is blank there, and the row keeps what arrived as text in `raw_input`.
    """
    n = len(next(iter(typed.values()))) if typed else 0
    text = {c: _text(typed[c]) for c in input_columns if c in categorical}
    return np.array(_digests(typed, text, input_columns, categorical, n).to_pylist(), dtype=object)


def _digests(typed: dict, text: dict, input_columns, categorical, n: int) -> pa.Array:
    """`input_digests` of typed inputs whose text columns are also given as Arrow (`text`), as an
    Arrow string array."""
    if not input_columns:
        return pa.array([hashlib.sha256(b"").hexdigest()] * n, pa.string())
    widths = [TEXT_WIDTH if c in categorical else 8 for c in input_columns]
    width = sum(widths)
    parts = [_text_bytes(text[c], n) if c in categorical else _one_nan(typed[c]) for c in input_columns]
    sha = hashlib.sha256
    digests = bytearray()
    block = np.empty((min(n, _DIGEST_ROWS), width), dtype=np.uint8)      # rows filled and hashed a block at a time
    numbers = block.view("<f8")                                         # every field is a multiple of 8 bytes
    for start in range(0, n, _DIGEST_ROWS):
        stop = min(n, start + _DIGEST_ROWS)
        rows, at = stop - start, 0
        for part, size in zip(parts, widths):
            if size == 8:
                numbers[:rows, at // 8] = part[start:stop]
            else:
                block[:rows, at:at + size] = part[start:stop]
            at += size
        flat = memoryview(block[:rows].reshape(-1))
        digests += b"".join([sha(flat[i:i + width]).digest() for i in range(0, rows * width, width)])
    raw = np.frombuffer(bytes(digests), dtype=np.uint8).reshape(n, 32)
    hexes = np.empty((n, 64), dtype=np.uint8)
    hexes[:, 0::2], hexes[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 15]
    offsets = np.arange(0, 64 * (n + 1), 64, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(hexes)])


_DIGEST_ROWS = 2048
_NAN_BITS = np.array(np.nan, dtype="<f8").view("<u8")


def _one_nan(values) -> np.ndarray:
    """Numbers as little-endian float64 with every blank the same NaN (a NaN's payload may differ)."""
    numbers = np.asarray(values, dtype="<f8")
    bits = numbers.view("<u8")
    odd = (bits != _NAN_BITS) & np.isnan(numbers)
    if odd.any():
        numbers = numbers.copy()
        numbers[odd] = np.nan
    return numbers


def recompute_digests(inputs: pd.DataFrame) -> np.ndarray:
    """The input digests of logged decisions from the features the log kept (`LoggedDecisions.inputs`):
    equal to their `input_digest` unless the log was changed."""
    columns = list(inputs.columns)
    text = {c for c in columns if not pd.api.types.is_numeric_dtype(inputs[c].dtype)}
    typed = {c: inputs[c].to_numpy(dtype=object if c in text else float) for c in columns}
    return input_digests(typed, columns, text)


def _text_bytes(values: pa.Array, n: int) -> np.ndarray:
    """The `TEXT_WIDTH` bytes of each text value (see `input_digests`), from the column's distinct values."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.cast(pa.large_binary())
    count = len(distinct)
    blocks = np.zeros((count + 1, TEXT_WIDTH), dtype=np.uint8)
    blocks[-1] = _BLANK
    if count:
        offsets = np.frombuffer(distinct.buffers()[1], dtype=np.int64)[distinct.offset:distinct.offset + count + 1]
        data = np.frombuffer(distinct.buffers()[2], dtype=np.uint8) if distinct.buffers()[2] is not None \
            else np.zeros(0, np.uint8)
        lengths = np.diff(offsets)
        has_nul = np.zeros(count, dtype=bool)
        zeros = np.flatnonzero(data[offsets[0]:offsets[-1]] == 0) + offsets[0]
        if len(zeros):
            has_nul[np.searchsorted(offsets, zeros, side="right") - 1] = True
        short = (lengths <= TEXT_WIDTH) & ~has_nul
        positions = np.arange(TEXT_WIDTH)
        inside = short[:, None] & (positions < lengths[:, None])
        source = np.minimum(offsets[:-1, None] + positions, max(len(data) - 1, 0))
        if len(data):
            blocks[:-1][inside] = data[source[inside]]
        for k in np.flatnonzero(~short):
            blocks[k] = np.frombuffer(bytes([_LONG]) + hashlib.sha256(distinct[k].as_py()).digest()[:TEXT_WIDTH - 1],
                                      dtype=np.uint8)
    codes = encoded.indices.fill_null(count).to_numpy(zero_copy_only=False) if n else np.array([], int)
    return blocks[codes]


def _typed_inputs(inputs: pd.DataFrame, input_columns, categorical, n: int) -> tuple[dict, np.ndarray]:
    """Each input column typed (numbers float64, text object or Arrow-backed); rows with a value that
    is not a number where a number belongs are flagged (their raw text is kept too)."""
    typed, unreadable = {}, np.zeros(n, dtype=bool)
    for column in input_columns:
        if column not in inputs:
            typed[column] = np.full(n, None, dtype=object) if column in categorical else np.full(n, np.nan)
            continue
        values = inputs[column]
        if column in categorical:
            typed[column] = values
            continue
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            unreadable |= (numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")).to_numpy()
            numbers = numbers.to_numpy()
        typed[column] = numbers
    return typed, unreadable


def _text(values) -> pa.Array:
    """Text values (a Series or an array; blanks None) as an Arrow string array."""
    if isinstance(values, pa.Array) and values.type == pa.string():
        return values
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(series.dtype):
        array = pa.array(series)                                   # Arrow-backed text: no copy
    else:
        objects = series.astype(object)
        blank = objects.isna().to_numpy()
        if not blank.all() and not all(isinstance(v, str) for v in objects[~blank]):
            objects = objects.where(blank, objects.astype(str))
        array = pa.array(objects.to_numpy(), pa.string(), mask=blank)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else array.cast(pa.string())


def _text_column(inputs: pd.DataFrame, column: str, n: int) -> pa.Array:
    return _text(inputs[column]) if column in inputs else pa.nulls(n, pa.string())


def _dates(values: pd.Series) -> pa.Array:
    """Application dates (text or dates, unreadable ones blank) as Arrow dates. Each distinct value is
    parsed once (a call's rows hold a few dozen); the first is the first of the rows, so pandas
    infers the same format as from the rows."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    when = pd.to_datetime(pd.Series(distinct, dtype=values.dtype if len(distinct) else object), errors="coerce")
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_localize(None)
    days = when.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    blank = np.append(when.isna().to_numpy(), True)[codes]           # code -1 (a blank) takes the last
    return pa.array(np.append(days, np.datetime64("NaT", "D"))[codes], pa.date32(), mask=blank)


def _jsonable(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


