"""Ingestion of a user's own tables: validate, keep the good rows, quarantine every other row.

`ingest(source_dir, out_dir)` reads `<table>.csv` or `<table>.parquet` for every table of the data
model, parses each value strictly (nothing is coerced: "12.5" is a number, "12,5" is a rejected
row; `creditmine.data.sources`), checks the pandera schemas and the cross-table rules, and writes

- `<out_dir>/<table>.parquet`: the accepted rows, in the data model's types;
- `<out_dir>/<table>.quarantine.csv`: every rejected row with its original values (as text), its
  row number in the source file (1 = first data row) and the rules it broke;
- `<out_dir>/_SUCCESS`: written last. The previous one is removed before anything else, so a
  refused or interrupted ingestion never leaves output that looks complete.

A file that is missing, unreadable, not UTF-8, empty, or lacks or mistypes a column stops the
ingestion with an `IngestError` naming the file and the column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmine.data import io, schemas
from creditmine.data.sources import IngestError, SourceTable, read_sources

__all__ = ["IngestError", "IngestReport", "TableReport", "ingest"]

QUARANTINE_SUFFIX = ".quarantine.csv"


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
    out = Path(out_dir)
    if out.is_dir():
        (out / io.SUCCESS_MARKER).unlink(missing_ok=True)
    source = Path(source_dir)
    if not source.is_dir():
        raise IngestError(f"{source}: source folder not found")
    as_of = as_of or date.today()
    tables = read_sources(source)

    out.mkdir(parents=True, exist_ok=True)
    report = IngestReport(out_dir=out)
    accepted: dict[str, pd.DataFrame] = {}
    for name in io.TABLES:
        table = tables[name]
        frame = table.typed
        failures = _row_failures(frame, name, as_of, table.parse_failures)
        # cross-table rules on rows that passed their own table's rules
        candidates = {**accepted, name: frame.loc[~frame.index.isin(failures["row"])]}
        cross = schemas.cross_table_failures(candidates)
        cross = cross[cross["table"] == name]
        failures = pd.concat([failures, cross[["row", "column", "rule"]]], ignore_index=True)
        bad = np.zeros(len(frame), dtype=bool)
        bad[failures["row"].to_numpy(dtype=np.int64)] = True
        accepted[name] = frame.loc[~bad]
        io.write_table(out, name, pa.Table.from_pandas(accepted[name], preserve_index=False))
        _write_quarantine(out / f"{name}{QUARANTINE_SUFFIX}", table, failures, bad)
        report.tables.append(TableReport(name, str(table.path), len(frame), int((~bad).sum()), int(bad.sum())))
    (out / io.SUCCESS_MARKER).write_text(report.to_frame().to_csv(index=False, sep="\t"))
    return report


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


def _write_quarantine(path: Path, table: SourceTable, failures: pd.DataFrame, bad: np.ndarray) -> None:
    """Rejected rows with their original text, source row number and every rule they broke."""
    rules = failures.groupby("row")["rule"].agg(lambda r: "; ".join(dict.fromkeys(r)))
    rows = np.flatnonzero(bad)
    quarantine = pd.DataFrame({
        "source_file": table.path.name,
        "source_row": rows + 1,
        "rule": rules.reindex(rows).to_numpy(),
    })
    quarantine = pd.concat([quarantine, table.strings.iloc[rows].reset_index(drop=True)], axis=1)
    quarantine.to_csv(path, index=False, encoding="utf-8")

