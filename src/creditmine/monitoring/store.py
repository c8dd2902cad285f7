"""Decision stores: where the decision log goes and how the monitor reads it back.

- `ParquetDecisionStore`: partitioned files beside the embedded MLflow store,
  ``mlruns/decisions/model=<name>/version=<v>/month=<YYYY-MM>/`` (the month of the application
  date, else of the decision). An append writes an Arrow IPC segment (``seg-<time>-<pid>-<id>.arrow``,
  uncompressed: about 1.5 kB a decision), cheap enough to write while decisions are being made; a
  big call comes as a raw segment (``raw-...arrow``, `append_raw`: the call as it came, its rows
  built when read, see `creditmine.monitoring.log_raw`). `compact` later merges a partition's
  segments of both kinds into one Parquet file (``part-<time>-<pid>-<id>.parquet``), which the decision log's
  writer does once it is idle and when the deciding process ends. Every file is written under a
  temporary name and renamed, so a reader never sees half a file, and a reader takes both kinds:
  a Parquet file names the files it holds (its `creditmine.holds` metadata), so rows are never
  read twice, even when a compaction stopped before removing what it merged. Parquet files of a
  size tier are merged too (`MERGE_PARTS`), so a partition written a little at a time keeps few
  files. Rows are never changed.
- `creditmine.monitoring.postgres_store.PostgresDecisionStore`: a PostgreSQL table (team mode).

`open_store(tracking_uri)` picks the store: CREDITMINE_DECISION_STORE (a folder, or a
``postgresql://`` DSN), else `decisions/` beside an embedded store, else, for a team server
without a decision store named, `~/.cache/creditmine/decisions/<host>/` (with a warning: the
monitor reads decisions where they were written)."""

from __future__ import annotations

import fcntl
import json
import logging
import math
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
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from creditmine.monitoring.log_raw import built_rows

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
    """The decision log as partitioned files under `folder`: Arrow IPC segments as written, Parquet
    once compacted (see the module's description)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def __str__(self) -> str:
        return str(self.folder)

    def append(self, table: pa.Table) -> list[Path]:
        """Write decision log rows (`creditmine.monitoring.log_rows.build_batch`) as one segment per
        model, version and month."""
        written = []
        for part, rows in self._partitioned(table):
            part.mkdir(parents=True, exist_ok=True)
            written.append(_write_new(part, "seg", ".arrow", lambda path, rows=rows: _write_segment(rows, path)))
        return written

    def append_raw(self, model: str, version, tables) -> list[Path]:
        """Write one call's raw segments (`creditmine.monitoring.log_raw.raw_tables`: (month, table)
        pairs), all or none."""
        written: list[Path] = []
        try:
            for month, table in tables:
                part = self.partition(model, version, month)
                part.mkdir(parents=True, exist_ok=True)
                written.append(_write_new(part, "raw", ".arrow", lambda path, table=table: _write_segment(table, path)))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return written

    def compact(self, model: str | None = None, version=None) -> int:
        """Merge the segments of every partition (of `model`, `version` when given) into one Parquet
        file each; returns the rows compacted. A partition another process is compacting is left to it."""
        pattern = f"model={model or '*'}/version={'*' if version is None else version}/month=*"
        return sum(_compact(part) for part in sorted(self.folder.glob(pattern)) if part.is_dir())

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
        tables = []
        for part in sorted(folder.glob("month=*")) if folder.is_dir() else ():
            month = part.name.removeprefix("month=")
            if until is not None and month > f"{until:%Y-%m}":
                continue
            if since is not None and month < f"{since:%Y-%m}":
                continue
            tables += _read_partition(part)
        if not tables:
            return _empty()
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{folder}: decision log files with different columns ({exc})") from None
        return to_frames(table)

    def _partitioned(self, table: pa.Table):
        """(partition folder, its rows) for each model, version and month of `table`."""
        if table.num_rows == 0:
            return
        keys = pa.table({"model": table["model"], "version": table["version"], "month": _months(table)})
        groups = keys.group_by(["model", "version", "month"], use_threads=False).aggregate([])
        for model, version, month in sorted(zip(*(groups[c].to_pylist() for c in ("model", "version", "month")))):
            if groups.num_rows == 1:
                yield self.partition(model, version, month), table
                continue
            chosen = pc.and_(pc.and_(pc.equal(keys["model"], model), pc.equal(keys["version"], version)),
                             pc.equal(keys["month"], month))
            yield self.partition(model, version, month), table.filter(chosen)


HOLDS_KEY = b"creditmine.holds"
"""Parquet metadata of a compacted file: the JSON list of the files (segments, smaller Parquet
files) it holds."""
MERGE_PARTS = 4
"""Parquet files of one size tier (rows within a factor of `MERGE_PARTS`) merged into one, so a
partition written a little at a time (a server's flush every few seconds) keeps few files and each
row is rewritten a logarithmic number of times."""
_READ_ATTEMPTS = 20


def _write_new(folder: Path, kind: str, suffix: str, write) -> Path:
    """Write a new file `<kind>-<time>-<pid>-<id><suffix>` in `folder` under a temporary name, then
    rename it into place."""
    name = f"{kind}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"
    temporary = folder / f".{name}.tmp"
    try:
        write(temporary)
        os.replace(temporary, folder / name)
    finally:
        temporary.unlink(missing_ok=True)
    return folder / name


def _write_segment(table: pa.Table, path: Path) -> None:
    with ipc.new_file(path, table.schema) as writer:          # uncompressed: a fourth of lz4's CPU
        writer.write_table(table)


def _read_file(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    with pa.OSFile(str(path)) as source:          # read, not mapped: a file cut short in place is an error, not a crash
        table = ipc.open_file(source).read_all()
    if not path.name.startswith("raw-"):
        return table
    try:
        return built_rows(table)
    except Exception as exc:  # noqa: BLE001 - named with the file; the file is kept as it is
        raise ValueError(f"{path}: the decisions of this raw segment cannot be built: {type(exc).__name__}: {exc}") from exc


def _held(parquet_files) -> set[str]:
    """The files held by compacted Parquet files."""
    names: set[str] = set()
    for path in parquet_files:
        metadata = pq.read_metadata(path).metadata or {}
        if HOLDS_KEY in metadata:
            names.update(json.loads(metadata[HOLDS_KEY]))
    return names


def _live(part: Path) -> tuple[list[Path], list[Path]]:
    """A partition's Parquet files and segments that no Parquet file holds. Segments are listed
    first: a compaction that ends in between has then written the Parquet file holding them."""
    segments = _segments(part)
    parquet = sorted(part.glob("part-*.parquet"))
    held = _held(parquet)
    return [p for p in parquet if p.name not in held], [p for p in segments if p.name not in held]


def _segments(part: Path) -> list[Path]:
    """A partition's segments: built (``seg-``) and raw (``raw-``, see `creditmine.monitoring.log_raw`)."""
    return sorted(part.glob("seg-*.arrow")) + sorted(part.glob("raw-*.arrow"))


def _read_partition(part: Path) -> list[pa.Table]:
    """The rows of one partition, each once: read again when a file vanishes while read or the
    partition's files changed meanwhile (a compaction replaced them; a listing made while the
    folder changes may miss a file)."""
    for attempt in range(_READ_ATTEMPTS):
        try:
            parquet, segments = _live(part)
            tables = [_read_file(path) for path in parquet + segments]
            if _live(part) == (parquet, segments):
                return tables
        except FileNotFoundError:
            pass
        time.sleep(0.02 * (attempt + 1))
    raise RuntimeError(f"{part}: the decision log's files kept changing while read ({_READ_ATTEMPTS} attempts)")


def _compact(part: Path) -> int:
    """Merge one partition's segments into one Parquet file, then Parquet files of a size tier into
    one; returns the rows of the segments compacted (0 when another process holds the partition's lock)."""
    with open(part / ".compact.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        every = sorted(part.glob("part-*.parquet")) + _segments(part)
        held = _held(p for p in every if p.suffix == ".parquet")
        for path in every:
            if path.name in held:               # left by a compaction that stopped before removing them
                path.unlink(missing_ok=True)
        parquet, segments = _live(part)
        rows = _merge(part, segments) if segments else 0
        parquet = sorted(part.glob("part-*.parquet"))
        while True:
            tiers: dict[int, list[Path]] = {}
            for path in parquet:
                tiers.setdefault(_tier(pq.read_metadata(path).num_rows), []).append(path)
            full = sorted(tier for tier, paths in tiers.items() if len(paths) >= MERGE_PARTS)
            if not full:
                return rows
            merging = tiers[full[0]]
            _merge(part, merging)
            parquet = sorted(set(part.glob("part-*.parquet")) - set(merging))


def _tier(rows: int) -> int:
    return int(math.log(max(rows, 1), MERGE_PARTS))


def _merge(part: Path, files: list[Path]) -> int:
    """Write the rows of `files` as one new Parquet file that names them, then remove them."""
    table = pa.concat_tables([_read_file(path) for path in files], promote_options="permissive")
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           HOLDS_KEY: json.dumps([p.name for p in files]).encode()})
    _write_new(part, "part", ".parquet", lambda path: pq.write_table(
        table, path, compression="lz4",
        use_dictionary=["model", "version", "source", "product", "decision", "batch_id"],
        write_statistics=["decided_at", "applied_at", "grade"]))
    for path in files:
        path.unlink(missing_ok=True)
    return table.num_rows


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
