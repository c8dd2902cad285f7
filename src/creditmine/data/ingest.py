"""Ingestion of a user's own tables: validate, keep the good rows, quarantine every other row.

`ingest(source_dir, out_dir)` reads `<table>.csv` or `<table>.parquet` for every table of the data
model, parses each value strictly (nothing is coerced: "12.5" is a number, "12,5" is a rejected
row), checks the pandera schemas and the cross-table rules, and writes

- `<out_dir>/<table>.parquet`: the accepted rows, in the data model's types;
- `<out_dir>/<table>.quarantine.csv`: every rejected row with its original values (as text), its
  row number in the source file (1 = first data row) and the rules it broke;
- `<out_dir>/_SUCCESS`: written last.

A file that is missing, unreadable, not UTF-8, empty, or lacks or mistypes a column stops the
ingestion with an `IngestError` naming the file and the column.
"""

from __future__ import annotations

import io as _io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmine.data import io, schemas

QUARANTINE_SUFFIX = ".quarantine.csv"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]00:00(:00(\.0+)?)?)?$")
_INT = re.compile(r"^[+-]?\d+$")
_BOOL = {"true": True, "false": False, "1": True, "0": False}


class IngestError(ValueError):
    """A source file cannot be ingested at all; the message names the file (and column)."""


@dataclass
class TableReport:
    """Reconciliation of one table: every row read is either accepted or quarantined."""

    table: str
    source: str
    read: int
    accepted: int
    quarantined: int

    @property
    def reconciled(self) -> bool:
        return self.read == self.accepted + self.quarantined


@dataclass
class IngestReport:
    """What `ingest` read, accepted and quarantined, per table."""

    out_dir: Path
    tables: list[TableReport] = field(default_factory=list)

    @property
    def quarantined_total(self) -> int:
        return sum(t.quarantined for t in self.tables)

    @property
    def reconciled(self) -> bool:
        return all(t.reconciled for t in self.tables)

    def to_frame(self) -> pd.DataFrame:
        """One row per table: table, source, read, accepted, quarantined, reconciled."""
        return pd.DataFrame([
            {"table": t.table, "source": t.source, "read": t.read, "accepted": t.accepted,
             "quarantined": t.quarantined, "reconciled": t.reconciled}
            for t in self.tables
        ])

    def to_text(self) -> str:
        """The reconciliation as an aligned text table, with totals."""
        frame = self.to_frame()
        totals = {"table": "total", "source": "", "read": frame["read"].sum(), "accepted": frame["accepted"].sum(),
                  "quarantined": frame["quarantined"].sum(), "reconciled": bool(frame["reconciled"].all())}
        frame = pd.concat([frame, pd.DataFrame([totals])], ignore_index=True)
        frame["reconciled"] = np.where(frame["reconciled"], "read = accepted + quarantined", "MISMATCH")
        return frame.to_string(index=False)


def ingest(source_dir: str | os.PathLike, out_dir: str | os.PathLike, as_of: date | None = None) -> IngestReport:
    """Validate a user's tables and write the accepted rows and the quarantined ones.

    Parameters
    ----------
    source_dir : folder with `<table>.csv` (UTF-8, header row, ISO dates YYYY-MM-DD, booleans
        true/false) or `<table>.parquet` for every table of `io.TABLES`.
    out_dir : folder for the accepted tables, quarantine files and `_SUCCESS`.
    as_of : end of the data window; records dated after it are rejected. Today when None.

    Returns
    -------
    IngestReport: per table, rows read, accepted and quarantined.

    Raises
    ------
    IngestError
        When a file is missing, unreadable, empty, not UTF-8, or has a missing, unexpected or
        mistyped column; the message names every such file and column.
    """
    source = Path(source_dir)
    if not source.is_dir():
        raise IngestError(f"{source}: source folder not found")
    as_of = as_of or date.today()
    raw, typed, parse_failures, problems = {}, {}, {}, []
    for name in io.TABLES:
        try:
            path = _locate(source, name)
            raw[name] = (path, _read_strings(path, name))
            typed[name], parse_failures[name] = _parse(raw[name][1], name)
        except IngestError as exc:
            problems.append(str(exc))
    if problems:
        raise IngestError("; ".join(problems))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / io.SUCCESS_MARKER).unlink(missing_ok=True)
    report = IngestReport(out_dir=out)
    accepted: dict[str, pd.DataFrame] = {}
    for name in io.TABLES:
        path, strings = raw[name]
        frame = typed[name]
        failures = _row_failures(frame, name, as_of, parse_failures[name])
        # cross-table rules on rows that passed their own table's rules
        candidates = {**accepted, name: frame.loc[~frame.index.isin(failures["row"])]}
        cross = schemas.cross_table_failures(candidates)
        cross = cross[cross["table"] == name]
        failures = pd.concat([failures, cross[["row", "column", "rule"]]], ignore_index=True)
        bad = np.zeros(len(frame), dtype=bool)
        bad[failures["row"].to_numpy(dtype=np.int64)] = True
        accepted[name] = frame.loc[~bad]
        io.write_table(out, name, pa.Table.from_pandas(accepted[name], preserve_index=False))
        _write_quarantine(out / f"{name}{QUARANTINE_SUFFIX}", strings, failures, bad, path)
        report.tables.append(TableReport(name, str(path), len(frame), int((~bad).sum()), int(bad.sum())))
    (out / io.SUCCESS_MARKER).write_text(report.to_frame().to_csv(index=False, sep="\t"))
    return report


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
    """Typed columns and the (row, column, rule) of each value that does not parse."""
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
                f"{_type_word(arrow_field.type)} (e.g. {example!r}) (mistyped column)"
            )
        typed[column] = parsed
        rows = np.flatnonzero(bad)
        failures.append(pd.DataFrame({
            "row": rows, "column": column,
            "rule": [f"{column}: {values.iloc[r]!r} is not a valid {_type_word(arrow_field.type)}" for r in rows],
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


def _row_failures(frame: pd.DataFrame, name: str, as_of: date, parse_failures: pd.DataFrame) -> pd.DataFrame:
    """Parse failures plus schema failures; a value that did not parse reports only that."""
    check_frame = frame.copy()
    schema_failures = schemas.validate_table(check_frame, name, as_of)
    whole = schema_failures[schema_failures["row"] < 0]
    if len(whole):
        raise IngestError(f"table '{name}': {'; '.join(whole['rule'].unique())}")
    schema_failures = schema_failures[["row", "column", "rule"]]
    unparsed = set(zip(parse_failures["row"], parse_failures["column"]))
    keep = [(r, c) not in unparsed for r, c in zip(schema_failures["row"], schema_failures["column"])]
    return pd.concat([parse_failures, schema_failures[keep]], ignore_index=True)


def _write_quarantine(path: Path, strings: pd.DataFrame, failures: pd.DataFrame, bad: np.ndarray, source: Path) -> None:
    """Rejected rows with their original text, source row number and every rule they broke."""
    rules = failures.groupby("row")["rule"].agg(lambda r: "; ".join(dict.fromkeys(r)))
    rows = np.flatnonzero(bad)
    quarantine = pd.DataFrame({
        "source_file": source.name,
        "source_row": rows + 1,
        "rule": rules.reindex(rows).to_numpy(),
    })
    quarantine = pd.concat([quarantine, strings.iloc[rows].reset_index(drop=True)], axis=1)
    quarantine.to_csv(path, index=False, encoding="utf-8")


def _type_word(arrow_type: pa.DataType) -> str:
    return {pa.float64(): "number", pa.int64(): "whole number", pa.bool_(): "boolean (true/false)",
            pa.date32(): "date (YYYY-MM-DD)", pa.string(): "text"}[arrow_type]


def _source_hint(strings: pd.DataFrame) -> str:
    path = strings.attrs.get("source")
    return f"{path}: " if path else ""
