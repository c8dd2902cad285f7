"""Ingestion of a user's own tables: validate, keep the good rows, quarantine every other row.

`ingest(source_dir, out_dir)` reads `<table>.csv` or `<table>.parquet` for every table of the data
model, parses each value strictly (nothing is coerced: "12.5" is a number, "12,5" is a rejected
row; `creditmine.data.sources`), removes identical duplicate rows and quarantines rows that share
a key but differ (`creditmine.data.duplicates`), checks the pandera schemas and the cross-table
rules (`creditmine.data.schemas`), and writes

- `<out_dir>/<table>.parquet`: the accepted rows, in the data model's types;
- `<out_dir>/<table>.quarantine.csv`: every rejected row with its original values (as text), its
  row number in the source file (1 = first data row) and the rules it broke;
- `<out_dir>/<table>.deduplicated.csv`: every identical copy removed, with its row number and the
  row it repeats;
- `<out_dir>/_SUCCESS`: written last, only when every table is within the quarantine limit.

Every row read is accepted, deduplicated or quarantined: `TableReport.reconciled`. The end of the
data window is given or derived from the data (`creditmine.data.window`). The previous `_SUCCESS`
is removed before anything else, so a refused or interrupted ingestion never looks complete.

A file that is missing, unreadable, not UTF-8, empty, or lacks or mistypes a column stops the
ingestion with an `IngestError` naming the file and the column. A table with more than
`max_quarantine_share` of its rows quarantined stops it with `QuarantineLimitExceeded` once every
file is written, naming the table, the share and the most common reason.
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
from creditmine.data.duplicates import check_keys
from creditmine.data.sources import FAILURE_COLUMNS, IngestError, SourceTable, read_sources
from creditmine.data.window import WindowEnd, WindowError, window_end

__all__ = ["MAX_QUARANTINE_SHARE", "IngestError", "IngestReport", "QuarantineLimitExceeded", "TableReport", "ingest"]

MAX_QUARANTINE_SHARE = 0.05
"""A table with more than this share of its rows quarantined fails the ingestion (`--max-quarantine-share`)."""
QUARANTINE_SUFFIX = ".quarantine.csv"
DEDUPLICATED_SUFFIX = ".deduplicated.csv"


@dataclass
class TableReport:
    """Reconciliation of one table: every row read is accepted, deduplicated or quarantined.

    key_conflicts counts the quarantined rows that share their key with a different row.
    reasons : per reason (a rule without the row's values), the quarantined rows that broke it,
        most common first: (reason, rows, an example rule, its source row).
    """

    table: str
    source: str
    read: int
    accepted: int
    deduplicated: int
    quarantined: int
    key_conflicts: int = 0
    reasons: list[tuple[str, int, str, int]] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return self.read == self.accepted + self.deduplicated + self.quarantined

    @property
    def quarantined_share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


@dataclass
class IngestReport:
    """What `ingest` read, accepted, deduplicated and quarantined, per table, and its window end."""

    out_dir: Path
    window: WindowEnd | None = None
    tables: list[TableReport] = field(default_factory=list)

    @property
    def quarantined_total(self) -> int:
        return sum(t.quarantined for t in self.tables)

    @property
    def deduplicated_total(self) -> int:
        return sum(t.deduplicated for t in self.tables)

    @property
    def key_conflicts_total(self) -> int:
        return sum(t.key_conflicts for t in self.tables)

    @property
    def reconciled(self) -> bool:
        return all(t.reconciled for t in self.tables)

    def to_frame(self) -> pd.DataFrame:
        """One row per table: table, source, read, accepted, deduplicated, quarantined, key_conflicts, reconciled."""
        return pd.DataFrame([
            {"table": t.table, "source": t.source, "read": t.read, "accepted": t.accepted,
             "deduplicated": t.deduplicated, "quarantined": t.quarantined, "key_conflicts": t.key_conflicts,
             "reconciled": t.reconciled}
            for t in self.tables
        ], columns=["table", "source", "read", "accepted", "deduplicated", "quarantined", "key_conflicts", "reconciled"])

    def to_text(self) -> str:
        """The reconciliation as an aligned text table, with totals, and a line saying whether it holds."""
        frame = self.to_frame()
        counts = ["read", "accepted", "deduplicated", "quarantined", "key_conflicts"]
        totals = {"table": "total", "source": "", **{c: frame[c].sum() for c in counts},
                  "reconciled": bool(frame["reconciled"].all())}
        frame = pd.concat([frame, pd.DataFrame([totals])], ignore_index=True)
        frame["reconciled"] = np.where(frame["reconciled"], "yes", "MISMATCH")
        if self.reconciled:
            verdict = "every table reconciles: read = accepted + deduplicated + quarantined"
        else:
            verdict = "MISMATCH: read != accepted + deduplicated + quarantined for " + ", ".join(
                t.table for t in self.tables if not t.reconciled)
        return frame.to_string(index=False) + "\n" + verdict

    def over_limit(self, max_share: float) -> list[TableReport]:
        """The tables with more than `max_share` of their rows quarantined."""
        return [t for t in self.tables if t.quarantined_share > max_share]


class QuarantineLimitExceeded(IngestError):
    """A table has more than the allowed share of its rows quarantined; `report` says what was written."""

    def __init__(self, report: IngestReport, max_share: float):
        self.report = report
        self.max_share = max_share
        super().__init__("; ".join(_limit_message(t, max_share) for t in report.over_limit(max_share))
                         + f". Accepted rows and quarantine files are in {report.out_dir}; no {io.SUCCESS_MARKER} written")


def ingest(
    source_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    as_of: date | None = None,
    max_quarantine_share: float = MAX_QUARANTINE_SHARE,
) -> IngestReport:
    """Validate a user's tables and write the accepted rows, the removed copies and the quarantined rows.

    Parameters
    ----------
    source_dir : folder with `<table>.csv` (UTF-8, header row, ISO dates YYYY-MM-DD, booleans
        true/false) or `<table>.parquet` for every table of `io.TABLES`.
    out_dir : folder for the accepted tables, quarantine and deduplication files and `_SUCCESS`.
    as_of : end of the data window; records dated after it are rejected. When None, the latest
        knowledge date of the data, leaving out stray dates (`creditmine.data.window`).
    max_quarantine_share : the largest share (0..1) of a table's rows that may be quarantined.

    Returns
    -------
    IngestReport: per table, rows read, accepted, deduplicated and quarantined; the window end.

    Raises
    ------
    IngestError
        When a file is missing, unreadable, empty, not UTF-8, or has a missing, unexpected or
        mistyped column (the message names every such file and column), or when no window end
        can be derived. Nothing is written then.
    QuarantineLimitExceeded
        When a table has more than `max_quarantine_share` of its rows quarantined; every table and
        quarantine file is written, `_SUCCESS` is not.
    """
    if not 0 <= max_quarantine_share <= 1:
        raise ValueError(f"max_quarantine_share must be between 0 and 1; got {max_quarantine_share}")
    out = Path(out_dir)
    if out.is_dir():
        (out / io.SUCCESS_MARKER).unlink(missing_ok=True)
    source = Path(source_dir)
    if not source.is_dir():
        raise IngestError(f"{source}: source folder not found")
    tables = read_sources(source)
    try:
        window = window_end({name: t.typed for name, t in tables.items()}, as_of)
    except WindowError as exc:
        raise IngestError(f"{source}: {exc}") from None

    out.mkdir(parents=True, exist_ok=True)
    report = IngestReport(out_dir=out, window=window)
    accepted: dict[str, pd.DataFrame] = {}
    for name in io.TABLES:
        report.tables.append(_ingest_table(tables[name], name, window.as_of, accepted, out))
    if report.over_limit(max_quarantine_share):
        raise QuarantineLimitExceeded(report, max_quarantine_share)
    (out / io.SUCCESS_MARKER).write_text(report.to_frame().to_csv(index=False, sep="\t"))
    return report


def _ingest_table(table: SourceTable, name: str, as_of: date, accepted: dict[str, pd.DataFrame], out: Path) -> TableReport:
    """Deduplicate, validate and write one table; `accepted` gains its accepted rows."""
    frame = table.typed
    keys = check_keys(table, name)
    kept = ~keys.removed
    parse_failures = table.parse_failures[kept[table.parse_failures["row"].to_numpy(dtype=np.int64)]]
    failures = _row_failures(frame.loc[kept], name, as_of, parse_failures)
    failures = pd.concat([failures, keys.conflicts], ignore_index=True)
    # cross-table rules on rows that passed their own table's rules
    passed = kept.copy()
    passed[failures["row"].to_numpy(dtype=np.int64)] = False
    cross = schemas.cross_table_failures({**accepted, name: frame.loc[passed]})
    cross = cross[cross["table"] == name]
    failures = pd.concat([failures, cross.assign(reason=cross["rule"])[FAILURE_COLUMNS]], ignore_index=True)
    bad = np.zeros(len(frame), dtype=bool)
    bad[failures["row"].to_numpy(dtype=np.int64)] = True
    accepted[name] = frame.loc[kept & ~bad]
    io.write_table(out, name, pa.Table.from_pandas(accepted[name], preserve_index=False))
    _write_quarantine(out / f"{name}{QUARANTINE_SUFFIX}", table, failures, bad)
    _write_deduplicated(out / f"{name}{DEDUPLICATED_SUFFIX}", table, keys.copy_of)
    conflicts = int(np.unique(keys.conflicts["row"].to_numpy(dtype=np.int64)).size)
    return TableReport(name, str(table.path), len(frame), len(accepted[name]), int(keys.removed.sum()),
                       int(bad.sum()), conflicts, _reasons(failures))


def _row_failures(frame: pd.DataFrame, name: str, as_of: date, parse_failures: pd.DataFrame) -> pd.DataFrame:
    """Parse failures plus schema failures; a value that did not parse reports only that."""
    schema_failures = schemas.validate_table(frame.copy(), name, as_of, keys=False)
    whole = schema_failures[schema_failures["row"] < 0]
    if len(whole):
        raise IngestError(f"table '{name}': {'; '.join(whole['rule'].unique())}")
    schema_failures = schema_failures.assign(reason=schema_failures["rule"])[FAILURE_COLUMNS]
    unparsed = set(zip(parse_failures["row"], parse_failures["column"]))
    keep = [(r, c) not in unparsed for r, c in zip(schema_failures["row"], schema_failures["column"])]
    return pd.concat([parse_failures, schema_failures[keep]], ignore_index=True)


def _reasons(failures: pd.DataFrame) -> list[tuple[str, int, str, int]]:
    """(reason, rows, example rule, its source row), most common first."""
    if failures.empty:
        return []
    per_row = failures.drop_duplicates(["row", "reason"]).sort_values("row", kind="stable")
    grouped = per_row.groupby("reason", sort=False).agg(rows=("row", "size"), rule=("rule", "first"), first=("row", "first"))
    grouped = grouped.sort_values("rows", ascending=False, kind="stable")
    return [(reason, int(r.rows), str(r.rule), int(r.first) + 1) for reason, r in grouped.iterrows()]


def _limit_message(table: TableReport, max_share: float) -> str:
    reason, rows, rule, row = table.reasons[0]
    return (f"table '{table.table}' ({table.source}): {table.quarantined:,} of {table.read:,} rows quarantined "
            f"({table.quarantined_share:.1%}), more than the maximum share {max_share:.1%} "
            f"(--max-quarantine-share); most common reason: {reason} ({rows:,} rows, e.g. row {row}: {rule})")


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


def _write_deduplicated(path: Path, table: SourceTable, copy_of: np.ndarray) -> None:
    """Removed identical copies: their source row, the row they repeat and their original text."""
    rows = np.flatnonzero(copy_of >= 0)
    removed = pd.DataFrame({"source_file": table.path.name, "source_row": rows + 1, "copy_of_row": copy_of[rows] + 1})
    removed = pd.concat([removed, table.strings.iloc[rows].reset_index(drop=True)], axis=1)
    removed.to_csv(path, index=False, encoding="utf-8")
