"""Reading one column of application rows strictly: text, numbers and yes/no flags as numpy
arrays, every value that is not what the field needs recorded as that row's problem.

`creditmine.decision.inputs` validates whole rows with these; a number is plain ("1234.5"), never
"1,234" or "12,5", whose meaning depends on a locale.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from creditmine.decision.rows import ParsedRows

#: Up to this many rows are read in one go (see _Source).
_SMALL_BATCH_ROWS = 64
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_SEPARATED = re.compile(r"\d[,\s'_]\d|\..*\.")     # 1,234  1 234  12,5  1_000  1.234.567


def _add(problems: dict[int, list[str]], row: int, message: str) -> None:
    problems.setdefault(int(row), []).append(message)


class _Source:
    """The input's columns as numpy arrays, read once.

    A few rows are read in one `to_numpy(dtype=object)` call (a column at a time costs more than
    the whole decision of one application); many rows are read a column at a time. Parsed JSON
    rows (`ParsedRows`) come as that matrix already, with their columns' kinds. `get` gives the
    values and their kind: "float" (numeric, NaN for blanks), "bool" or "other" (objects).
    """

    def __init__(self, rows: pd.DataFrame | ParsedRows):
        self.n = len(rows)
        self.rows = rows
        if isinstance(rows, ParsedRows):
            self.position = {name: j for j, name in enumerate(rows.columns)}
            self.kinds = rows.kinds
            self.matrix = rows.values
            return
        self.position = {str(name): j for j, name in enumerate(rows.columns)}
        self.kinds = {str(name): _kind(dtype) for name, dtype in rows.dtypes.items()}
        self.matrix = rows.to_numpy(dtype=object) if self.n <= _SMALL_BATCH_ROWS else None

    def __contains__(self, name: str) -> bool:
        return name in self.position

    def get(self, name: str) -> tuple[np.ndarray, str]:
        kind = self.kinds[name]
        if self.matrix is not None:
            values = self.matrix[:, self.position[name]]
            return (_floats(values) if kind == "float" else values), kind
        column = self.rows.iloc[:, self.position[name]]
        if kind == "float":
            return column.to_numpy(dtype=float, na_value=np.nan, copy=True), kind
        return column.to_numpy(dtype=object), kind


def _kind(dtype) -> str:
    try:
        return _cached_kind(dtype)
    except TypeError:  # an unhashable dtype
        return _kind_of(dtype)


@functools.lru_cache(maxsize=256)
def _cached_kind(dtype) -> str:
    return _kind_of(dtype)


def _kind_of(dtype) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "float"
    return "other"


def _floats(values: np.ndarray) -> np.ndarray:
    """Numbers of a numeric column's objects as float64 (pd.NA and None as NaN)."""
    try:
        return np.array(values, dtype=float)
    except TypeError:
        return np.array(np.where(pd.isna(values), np.nan, values), dtype=float)


def _missing_column(source: _Source, name: str, problems, which: np.ndarray | None = None) -> None:
    for row in np.arange(source.n) if which is None else np.flatnonzero(which):
        _add(problems, row, f"missing field {name}")


def _text(source: _Source, name: str, problems, required: bool, must_exist: bool = False) -> np.ndarray:
    """A text column as an object array, "" for blanks; blank: an error when required; absent: when required or must_exist."""
    if name not in source:
        if required or must_exist:
            _missing_column(source, name, problems)
        return np.full(source.n, "", dtype=object)
    values, kind = source.get(name)
    values = np.asarray(values, dtype=object)
    blank = pd.isna(values)
    if kind == "other" and all(isinstance(v, str) for v in values[~blank]):
        values = np.where(blank, "", values).astype(object)
    else:  # numbers or mixed objects: ids may arrive as integers
        values = np.array(["" if b else _as_text(v) for v, b in zip(values, blank)], dtype=object)
    blank |= values == ""
    if required:
        for row in np.flatnonzero(blank):
            _add(problems, row, f"{name} is blank")
    return values


def _as_text(value) -> str:
    """An identifier or category as text; a whole float (17.0, from a numeric column) as 17."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _number(
    source: _Source, name: str, problems, *, required: bool, rows_needing: np.ndarray | None = None
) -> np.ndarray:
    """A numeric column as float64 (NaN for blanks); text that is no number is an error.

    A missing column is an error for every row (or for `rows_needing` only); a blank value is an
    error only when `required`. Infinite values are errors. Yes/no columns count as 1 / 0 for a
    feature, never for an amount or a term.
    """
    n = source.n
    if name not in source:
        if rows_needing is None or rows_needing.any():
            _missing_column(source, name, problems, rows_needing)
        return np.full(n, np.nan)
    raw, kind = source.get(name)
    if kind == "float":
        values = raw
    elif kind == "bool" and not required:
        values = _floats(raw)
    else:
        values = np.full(n, np.nan)
        for row, value in enumerate(raw):
            parsed = _parse_number(value)
            if parsed is None:
                _add(problems, row, _not_a_number(name, value))
            else:
                values[row] = parsed
    infinite = np.isinf(values)
    for row in np.flatnonzero(infinite):
        _add(problems, row, f"{name} must be finite; got {values[row]}")
    values[infinite] = np.nan
    if required:
        for row in np.flatnonzero(np.isnan(values) & ~infinite):
            if not _already_reported(problems, row, name):
                _add(problems, row, f"{name} is blank")
    return values


def _parse_number(value) -> float | None:
    """A float from a number or numeric text; NaN for a blank; None when it is no number."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return np.nan
        if _PLAIN_NUMBER.fullmatch(text) or text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            return float(text)
    return None


def _not_a_number(name: str, value) -> str:
    """Why `value` is no number; separators get their own message, never a guess at their meaning."""
    shown = repr(value) if not isinstance(value, str) else f"'{value[:40]}'"
    if isinstance(value, str) and _SEPARATED.search(value.strip()):
        return (f"{name}: {shown} has a thousands separator or a decimal comma; "
                "expected a plain number such as 1234.5")
    return f"{name}: expected a number, got {shown}"


def _already_reported(problems, row: int, name: str) -> bool:
    return any(message.startswith(name) or message.endswith(f" {name}") for message in problems.get(int(row), []))


def _flag(source: _Source, name: str, problems) -> np.ndarray:
    """A yes/no column as 1.0 / 0.0 (NaN where blank); blanks and anything but
    true/false/1/0/yes/no are errors."""
    n = source.n
    if name not in source:
        _missing_column(source, name, problems)
        return np.full(n, np.nan)
    raw, kind = source.get(name)
    if kind == "float":
        flags = raw.copy()
        blank = np.isnan(flags)
        bad = ~blank & ~np.isin(flags, (0.0, 1.0))
        for row in np.flatnonzero(blank):
            _add(problems, row, f"{name} is blank")
        for row in np.flatnonzero(bad):
            _add(problems, row, f"{name}: expected true or false, got {flags[row]:g}")
        flags[bad] = np.nan
        return flags
    flags = np.full(n, np.nan)
    for row, value in enumerate(raw):
        if isinstance(value, (bool, np.bool_)):
            flags[row] = float(value)
        elif isinstance(value, (int, float, np.integer, np.floating)) and not pd.isna(value) and value in (0, 1):
            flags[row] = float(value)
        elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            flags[row] = float(value.strip().lower() in _TRUE)
        elif value is None or (not isinstance(value, str) and pd.isna(value)):
            _add(problems, row, f"{name} is blank")
        else:
            _add(problems, row, f"{name}: expected true or false, got {value!r}")
    return flags
