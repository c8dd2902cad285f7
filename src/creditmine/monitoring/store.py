"""Decision stores: where the decision log goes and how the monitor reads it back.

- `ParquetDecisionStore`: partitioned Parquet beside the embedded MLflow store,
  ``mlruns/decisions/model=<name>/version=<v>/month=<YYYY-MM>/part-<time>-<pid>-<id>.parquet``
  (the month of the application date, else of the decision). Each append writes new files under a
  temporary name and renames them, so a reader never sees half a file; files are never rewritten.
- `creditmine.monitoring.postgres_store.PostgresDecisionStore`: a PostgreSQL table (team mode).

`open_store(tracking_uri)` picks the store: CREDITMINE_DECISION_STORE (a folder, or a
``postgresql://`` DSN), else `decisions/` beside an embedded store, else, for a team server
without a decision store named, `~/.cache/creditmine/decisions/<host>/` (with a warning: the
monitor reads decisions where they were written).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["DECISIONS_FOLDER", "LoggedDecisions", "ParquetDecisionStore", "open_store"]

DECISIONS_FOLDER = "decisions"
_log = logging.getLogger("creditmine.decisions")


@dataclass
class LoggedDecisions:
    """Decision log rows read back: `decisions` (the log's columns, with `month`) and `inputs` (the
    features used, one column per input column), row for row."""

    decisions: pd.DataFrame
    inputs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.decisions)

    def subset(self, rows) -> "LoggedDecisions":
        rows = np.asarray(rows)
        return LoggedDecisions(self.decisions.loc[rows].reset_index(drop=True) if rows.dtype == bool
                               else self.decisions.iloc[rows].reset_index(drop=True),
                               self.inputs.loc[rows].reset_index(drop=True) if rows.dtype == bool
                               else self.inputs.iloc[rows].reset_index(drop=True))


class ParquetDecisionStore:
    """The decision log as partitioned Parquet files under `folder`."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def __str__(self) -> str:
        return str(self.folder)

    def append(self, table: pa.Table) -> list[Path]:
        """Write decision log rows (`creditmine.monitoring.log_rows.build_batch`), one file per
        model, version and month."""
        if table.num_rows == 0:
            return []
        keys = pa.table({"model": table["model"], "version": table["version"], "month": _months(table)})
        groups = keys.group_by(["model", "version", "month"], use_threads=False).aggregate([])
        written = []
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        for model, version, month in sorted(zip(*(groups[c].to_pylist() for c in ("model", "version", "month")))):
            if groups.num_rows == 1:
                part_table = table
            else:
                chosen = pc.and_(pc.and_(pc.equal(keys["model"], model), pc.equal(keys["version"], version)),
                                 pc.equal(keys["month"], month))
                part_table = table.filter(chosen)
            part = self.partition(model, version, month)
            part.mkdir(parents=True, exist_ok=True)
            name = f"part-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
            temporary = part / f".{name}.tmp"
            pq.write_table(part_table, temporary, compression="lz4",
                           use_dictionary=["model", "version", "source", "product", "decision", "batch_id"],
                           write_statistics=["decided_at", "applied_at", "grade"])
            os.replace(temporary, part / name)
            written.append(part / name)
        return written

    def partition(self, model: str, version, month: str) -> Path:
        return self.folder / f"model={model}" / f"version={version}" / f"month={month}"

    def versions(self, model: str) -> list[str]:
        folder = self.folder / f"model={model}"
        return sorted((p.name.removeprefix("version=") for p in folder.glob("version=*")), key=_number) \
            if folder.is_dir() else []

    def read(self, model: str, version, until: date | None = None, since: date | None = None) -> LoggedDecisions:
        """The decisions of `model` `version` whose month lies in [since, until] (both optional),
        ordered by application date, decision time and application id."""
        folder = self.folder / f"model={model}" / f"version={version}"
        files = []
        for part in sorted(folder.glob("month=*")) if folder.is_dir() else ():
            month = part.name.removeprefix("month=")
            if until is not None and month > f"{until:%Y-%m}":
                continue
            if since is not None and month < f"{since:%Y-%m}":
                continue
            files += sorted(p for p in part.glob("part-*.parquet"))
        if not files:
            return _empty()
        tables = [pq.read_table(path) for path in files]
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{folder}: decision log files with different columns ({exc})") from None
        return to_frames(table)


def to_frames(table: pa.Table) -> LoggedDecisions:
    """Split a decision log table into the decisions and the inputs (struct `inputs` flattened)."""
    inputs = table["inputs"].combine_chunks() if "inputs" in table.column_names else None
    decisions = table.drop_columns(["inputs"]) if inputs is not None else table
    frame = decisions.to_pandas(date_as_object=False)
    if inputs is not None and pa.types.is_struct(inputs.type):
        features = pd.DataFrame({inputs.type.field(i).name: inputs.field(i).to_numpy(zero_copy_only=False)
                                 for i in range(inputs.type.num_fields)})
    else:
        features = pd.DataFrame(index=range(len(frame)))
    applied = pd.to_datetime(frame["applied_at"])
    decided = pd.to_datetime(frame["decided_at"]).dt.tz_convert(None)
    frame["month"] = applied.fillna(decided).dt.to_period("M")
    order = np.lexsort((frame["application_id"].astype(str).to_numpy(), decided.to_numpy(),
                        applied.fillna(decided).to_numpy()))
    return LoggedDecisions(frame.iloc[order].reset_index(drop=True), features.iloc[order].reset_index(drop=True))


def open_store(tracking_uri: str | None):
    """The decision store of a tracking store (see the module's description)."""
    named = os.environ.get("CREDITMINE_DECISION_STORE")
    if named:
        if urlparse(named).scheme in ("postgresql", "postgres"):
            from creditmine.monitoring.postgres_store import PostgresDecisionStore

            return PostgresDecisionStore(named)
        return ParquetDecisionStore(named)
    import mlflow

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()
    from creditmine.registry.trail_store import is_remote, store_folder

    if is_remote(uri):
        folder = Path.home() / ".cache" / "creditmine" / DECISIONS_FOLDER / (urlparse(uri).hostname or "server")
        _log.warning("decisions of the team server %s are logged to %s; set CREDITMINE_DECISION_STORE to the "
                     "team's PostgreSQL decision store", uri, folder)
        return ParquetDecisionStore(folder)
    return ParquetDecisionStore(store_folder(uri) / DECISIONS_FOLDER)


def _months(table: pa.Table) -> pa.Array:
    """The month (YYYY-MM) of each row: of the application date, else of the decision."""
    applied = table["applied_at"].cast(pa.timestamp("ms"))
    decided = table["decided_at"].cast(pa.timestamp("ms"))
    when = pc.coalesce(applied, decided)
    if isinstance(when, pa.ChunkedArray):
        when = when.combine_chunks()
    months = when.to_numpy(zero_copy_only=False).astype("datetime64[M]")   # the text of distinct months only
    distinct, codes = np.unique(months, return_inverse=True)
    names = pa.array([str(m) for m in distinct], pa.string())
    return names.take(pa.array(codes.reshape(-1).astype(np.int32))) if len(months) else pa.array([], pa.string())


def _number(version: str):
    return (0, int(version)) if version.isdigit() else (1, version)


def _empty() -> LoggedDecisions:
    from creditmine.monitoring.log import DECISION_COLUMNS

    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    frame["month"] = pd.Series(dtype="period[M]")
    return LoggedDecisions(frame, pd.DataFrame())
