"""A user's source files, read and parsed strictly: every value as text, then typed value by value.

`read_sources(source_dir)` finds `<table>.csv` or `<table>.parquet` for every table of the data
model, reads each value exactly as written (nothing is coerced: "12.5" is a number, "12,5" is not),
and parses it into the data model's type. A value that does not parse is not an error of the file:
its row is rejected later with the rule it broke. A file that is missing, unreadable, not UTF-8,
empty, or lacks or mistypes a column is: `IngestError`, naming the file and the column.
"""

from __future__ import annotations

import io as _io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmine.data import io

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]00:00(:00(\.0+)?)?)?$")
_INT = re.compile(r"^[+-]?\d+$")
_BOOL = {"true": True, "false": False, "1": True, "0": False}
#: Columns of a parse-failure frame: position of the row, column, the rule with the value, the
#: rule without it (what rows have in common, for counting reasons).
FAILURE_COLUMNS = ["row", "column", "rule", "reason"]


class IngestError(ValueError):
    """A source file cannot be ingested at all; the message names the file (and column)."""


@dataclass(frozen=True)
class SourceTable:
    """One source file, read and parsed.

    path : the file read.
    strings : its rows, every value a str exactly as in the file (None when empty), columns in the
        data model's order; row position 0 is source row 1 (the first data row).
    typed : the same rows in the data model's dtypes (a value that did not parse is missing).
    parse_failures : one row per value that did not parse (`FAILURE_COLUMNS`).
    """

    path: Path
    strings: pd.DataFrame
    typed: pd.DataFrame
    parse_failures: pd.DataFrame

    def unparsed(self, column: str) -> np.ndarray:
        """Mask of the rows whose `column` did not parse."""
        mask = np.zeros(len(self.typed), dtype=bool)
        mask[self.parse_failures.loc[self.parse_failures["column"] == column, "row"].to_numpy(dtype=np.int64)] = True
        return mask


def read_sources(source: Path, names=io.TABLES) -> dict[str, SourceTable]:
    """Read and parse the file of every table.

    Raises
    ------
    IngestError
        When a file is missing, unreadable, empty, not UTF-8, or has a missing, unexpected or
        mistyped column; the message names every such file and column, not only the first.
    """
    tables, problems = {}, []
    for name in names:
        try:
            path = _locate(source, name)
            strings = _read_strings(path, name)
            typed, failures = _parse(strings, name)
            tables[name] = SourceTable(path, strings, typed, failures)
        except IngestError as exc:
            problems.append(str(exc))
    if problems:
        raise IngestError("; ".join(problems))
    return tables


def type_word(arrow_type: pa.DataType) -> str:
    """How a rule names a data model type: number, whole number, date (YYYY-MM-DD), ..."""
    return {pa.float64(): "number", pa.int64(): "whole number", pa.bool_(): "boolean (true/false)",
            pa.date32(): "date (YYYY-MM-DD)", pa.string(): "text"}[arrow_type]


# ---------------------------------------------------------------------------------------------
# Reading: every value as text, exactly as in the file
# ---------------------------------------------------------------------------------------------


def _locate(source: Path, name: str) -> Path:
    found = [source / f"{name}{ext}" for ext in (".csv", ".parquet") if (source / f"{name}{ext}").is_file()]
    if not found:
        raise IngestError(f"{source / name}.csv (or .parquet): file missing for table '{name}'")
    if len(found) > 1:
        raise IngestError(f"{found[0]} and {found[1]}: two files for table '{name}'; keep one")
    return found[0]


def _read_strings(path: Path, name: str) -> pd.DataFrame:
    """The file's rows with every value as a str (None when empty), columns checked by name and type."""
    expected = io.ARROW_SCHEMAS[name]
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: empty file (not even a header row)")
    if path.suffix == ".csv":
        frame = _read_csv(path)
    else:
        frame = _read_parquet(path, expected)
    missing = [c for c in expected.names if c not in frame.columns]
    if missing:
        raise IngestError(f"{path}: missing column {', '.join(missing)} (table '{name}' needs {', '.join(expected.names)})")
    extra = [c for c in frame.columns if c not in expected.names]
    if extra:
        raise IngestError(f"{path}: unexpected column {', '.join(map(str, extra))} (table '{name}' has {', '.join(expected.names)})")
    frame = frame[expected.names].reset_index(drop=True)
    frame.attrs["source"] = str(path)
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise IngestError(f"{path}: empty file (not even a header row)")
    try:
        frame = pd.read_csv(_io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise IngestError(f"{path}: malformed CSV ({str(exc).strip().splitlines()[-1]})") from None
    duplicated = frame.columns[frame.columns.str.contains(r"\.\d+$") & frame.columns.str.replace(r"\.\d+$", "", regex=True).isin(frame.columns)]
    if len(duplicated):
        raise IngestError(f"{path}: repeated column header {', '.join(duplicated)}")
    return frame.astype(object).where(frame.notna() & (frame != ""), None)


def _read_parquet(path: Path, expected: pa.Schema) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any reader error means the file is unusable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(f"{path}: not a readable Parquet file ({first})") from None
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in expected.names:
            want = expected.field(name).type
            if not _compatible(column.type, want):
                raise IngestError(f"{path}: column {name} has type {column.type}, expected {want} (mistyped column)")
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            text = column.cast(pa.timestamp("ms")).cast(pa.string())
        else:
            text = column.cast(pa.string())
        columns[name] = np.asarray(text.to_pylist(), dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_dictionary(got):
        got = got.value_type
    if pa.types.is_null(got):
        return True          # an all-empty column: its rows fail as empty, not as mistyped
    if want == pa.string():
        return pa.types.is_string(got) or pa.types.is_large_string(got)
    if want == pa.float64():
        return pa.types.is_floating(got) or pa.types.is_integer(got)
    if want == pa.int64():
        return pa.types.is_integer(got)
    if want == pa.bool_():
        return pa.types.is_boolean(got)
    if want == pa.date32():
        return pa.types.is_date(got) or pa.types.is_timestamp(got)
    return got == want


# ---------------------------------------------------------------------------------------------
# Parsing: strict, value by value; a value that does not parse rejects its row
# ---------------------------------------------------------------------------------------------


def _parse(strings: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed columns and the (row, column, rule, reason) of each value that does not parse."""
    typed, failures = {}, []
    for arrow_field in io.ARROW_SCHEMAS[name]:
        column = arrow_field.name
        values = strings[column]
        present = values.notna().to_numpy()
        parsed, ok = _parse_column(values, arrow_field.type)
        bad = present & ~ok
        if bad.any() and not (present & ok).any():
            example = values[bad].iloc[0]
            raise IngestError(
                f"{_source_hint(strings)}column {column} of table '{name}': no value is a valid "
                f"{type_word(arrow_field.type)} (e.g. {example!r}) (mistyped column)"
            )
        typed[column] = parsed
        rows = np.flatnonzero(bad)
        failures.append(pd.DataFrame({
            "row": rows, "column": column,
            "rule": [f"{column}: {values.iloc[r]!r} is not a valid {type_word(arrow_field.type)}" for r in rows],
            "reason": f"{column} is not a valid {type_word(arrow_field.type)}",
        }))
    return pd.DataFrame(typed, index=strings.index), pd.concat(failures, ignore_index=True)


def _parse_column(values: pd.Series, arrow_type: pa.DataType) -> tuple[pd.Series, np.ndarray]:
    """Parsed values (empty and unparseable as missing) and a mask of values that parsed."""
    text = values.astype(object)
    present = text.notna()
    if arrow_type == pa.string():
        return values.astype("str").where(present, None), present.to_numpy()
    if arrow_type in (pa.float64(), pa.int64()):
        stripped = text.where(present, "").astype(str).str.strip()
        numbers = pd.to_numeric(stripped.where(present, None), errors="coerce")
        ok = present & numbers.notna()
        if arrow_type == pa.int64():
            ok &= stripped.str.match(_INT)
            return pd.Series(np.where(ok, numbers.fillna(0), 0).astype(np.int64), index=values.index), ok.to_numpy()
        # "nan" and "inf" parse as floats but are not amounts: finite values only
        ok &= np.isfinite(numbers.fillna(0).to_numpy(dtype=float))
        return numbers.where(ok).astype("float64"), ok.to_numpy()
    if arrow_type == pa.bool_():
        lowered = text.where(present, "").astype(str).str.strip().str.lower()
        ok = present & lowered.isin(list(_BOOL))
        return pd.Series(lowered.map(_BOOL).fillna(False).astype(bool).to_numpy(), index=values.index), ok.to_numpy()
    if arrow_type == pa.date32():
        stripped = text.where(present, "").astype(str).str.strip()
        shape_ok = present & stripped.str.match(_DATE)
        days = pd.to_datetime(stripped.str.slice(0, 10).where(shape_ok, None), format="%Y-%m-%d", errors="coerce")
        ok = shape_ok & days.notna()
        return days.where(ok).astype("datetime64[ms]"), ok.to_numpy()
    raise TypeError(f"no parser for {arrow_type}")


def _source_hint(strings: pd.DataFrame) -> str:
    path = strings.attrs.get("source")
    return f"{path}: " if path else ""
