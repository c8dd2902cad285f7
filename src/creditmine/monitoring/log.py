"""The decision log: every decision of `creditmine score`, `creditmine serve` and the pyfunc, kept.

One row per decided application: when (`decided_at`, UTC; `applied_at` from the input), which
application (`application_id`, `enterprise_id`, `product`), which model (`model`, `version`), how it
came (`source`: score, serve or pyfunc; `batch_id` of the call), a SHA-256 digest of the inputs
(`input_digest`, see `input_digests`), the features used (`inputs`, one typed field per input column
of the model), and what was decided: `pd`, `score`, `grade`, `decision`, `credit_limit_cny`,
`term_months`, the reasons (`reason_1_en` .. `reason_4_zh`) and `error` (why a row was referred);
a row that could not be read as given keeps its values as text too (`raw_input`, JSON).

Recording costs the caller a shallow copy of its rows (copy-on-write keeps them as they were) and
an append to a list: `DecisionLog.record` queues the inputs and outputs, and a writer thread hands
them every `flush_seconds` (or `flush_rows` rows), and when the process exits, to a writer process,
serialised and sent a piece at a time (at most `PIECE_ROWS` rows, letting the deciding threads run
between pieces); the writer process turns them into Arrow as they come and appends them to the store
once all have come (in this process when no writer process can run or the store cannot travel to
it); the rows stay queued here until the store has taken them. A store that cannot be written keeps the rows
queued and the failure is raised: by `flush` and `close`, and by `record` once `max_backlog` rows
wait, so decisions never go on unlogged. The stores (`creditmine.monitoring.store`): partitioned
Parquet beside the embedded MLflow store (`mlruns/decisions/model=<name>/version=<v>/month=<YYYY-MM>/`),
or a PostgreSQL table in team mode (`CREDITMINE_DECISION_STORE=postgresql://...`).

Environment: ``CREDITMINE_DECISION_LOG=off`` turns logging off; ``CREDITMINE_DECISION_STORE``
names the store (a folder or a PostgreSQL DSN); ``CREDITMINE_DECISION_SOURCE`` names the source
(`creditmine serve` sets ``serve``).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
import uuid
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DECISION_COLUMNS", "DecisionLog", "DecisionLogError", "ENV_LOG", "ENV_SOURCE", "ENV_STORE", "attach",
    "build_batch", "input_digests", "logging_enabled", "recompute_digests",
]

ENV_LOG, ENV_STORE, ENV_SOURCE = "CREDITMINE_DECISION_LOG", "CREDITMINE_DECISION_STORE", "CREDITMINE_DECISION_SOURCE"
SOURCES = ("score", "serve", "pyfunc")

_REASONS = tuple(f"reason_{i}_{lang}" for lang in ("en", "zh") for i in range(1, 5))
DECISION_COLUMNS = (
    "decided_at", "applied_at", "application_id", "enterprise_id", "product", "model", "version", "source",
    "batch_id", "input_digest", "pd", "score", "grade", "decision", "credit_limit_cny", "term_months",
    *_REASONS, "error", "raw_input",
)
"""The columns of a decision log row (besides `inputs`, the struct of the features used)."""

_log = logging.getLogger("creditmine.decisions")


class DecisionLogError(RuntimeError):
    """Decisions could not be written to the decision store; the message names the store and why."""


def logging_enabled() -> bool:
    """False when CREDITMINE_DECISION_LOG is off/0/false/no."""
    return os.environ.get(ENV_LOG, "on").strip().lower() not in ("off", "0", "false", "no")


@dataclass
class _Pending:
    decided_at: float
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    source: str
    batch_id: str | None = None       # the call's; None: a new one when built


class DecisionLog:
    """Queue decisions and append them to a decision store from a writer thread.

    Parameters
    ----------
    store : a decision store (`append(table)`; see `creditmine.monitoring.store`).
    model, version : the registered model version deciding.
    input_columns : the model's input columns, in order (`decision.package.input_columns`).
    categorical : the input columns that are text (categories, ids, product).
    source : "score", "serve" or "pyfunc" (CREDITMINE_DECISION_SOURCE, else "pyfunc").
    flush_seconds, flush_rows : the writer appends at least this often, or once this many rows wait.
    max_backlog : rows that may wait on a store that fails before `record` refuses new decisions.
    use_process : build and append the rows in the writer process (else in the writer thread).
    """

    def __init__(self, store, model: str, version: str, input_columns, categorical=(), source: str | None = None,
                 flush_seconds: float = 5.0, flush_rows: int = 10_000, max_backlog: int = 1_000_000,
                 use_process: bool = True):
        self.store, self.model, self.version = store, str(model), str(version)
        self.input_columns = tuple(input_columns)
        self.categorical = frozenset(categorical)
        source = source or os.environ.get(ENV_SOURCE) or "pyfunc"
        if source not in SOURCES:
            raise ValueError(f"{ENV_SOURCE}={source!r}: the source must be one of {', '.join(SOURCES)}")
        self.source = source
        self.flush_seconds, self.flush_rows, self.max_backlog = flush_seconds, flush_rows, max_backlog
        self._pending: list[_Pending] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.rows_written = 0
        self.use_process = use_process
        if use_process:
            _Worker.shared()        # started now, so it is ready when the first decisions are written
        _OPEN.add(self)

    def __repr__(self) -> str:
        return f"DecisionLog({self.model} v{self.version} -> {self.store})"

    # -- the caller's side ---------------------------------------------------------------------
    def record(self, inputs: pd.DataFrame, outputs: pd.DataFrame, source: str | None = None) -> None:
        """Queue the decisions `outputs` (the decision model's columns) made on `inputs` (same rows).

        Raises
        ------
        DecisionLogError : the store has failed and `max_backlog` rows already wait.
        """
        if len(outputs) != len(inputs):
            raise ValueError(f"decision log: {len(outputs)} decisions for {len(inputs)} input rows")
        if not len(outputs):
            return
        if self._error is not None and self._pending_rows >= self.max_backlog:
            raise DecisionLogError(f"decision log {self.store}: {self._pending_rows:,} decisions wait unwritten "
                                   f"({self._error}); no more decisions until the store takes them")
        item = _Pending(time.time(), _keep(inputs), _keep(outputs), source or self.source, uuid.uuid4().hex[:16])
        with self._lock:
            if self._closed:
                raise DecisionLogError(f"decision log {self.store} is closed")
            self._pending.append(item)
            self._pending_rows += len(outputs)
            big = self._pending_rows >= self.flush_rows
        if self._thread is None:
            self._start()
        if big:
            self._wake.set()

    def flush(self) -> int:
        """Write every queued decision now; returns the rows written.

        Raises
        ------
        DecisionLogError : naming the store, when it cannot take them (they stay queued).
        """
        written = self._drain()
        if self._error is not None and self._pending_rows:
            raise DecisionLogError(f"decision log {self.store}: {self._pending_rows:,} decisions not written "
                                   f"({self._error})")
        return written

    def close(self) -> None:
        """Flush and stop the writer (also run at interpreter exit)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
            self._wake.set()
            _OPEN.discard(self)

    # -- the writer ----------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"decision-log-{self.model}-{self.version}",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # noqa: BLE001 - kept in self._error and raised to the caller
                pass

    def _drain(self) -> int:
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                rows = self._pending_rows
            if not batch:
                return 0
            try:
                written = self._write(batch)
            except Exception as exc:  # noqa: BLE001 - the rows stay queued, the failure is raised
                with self._lock:
                    self._pending = batch + self._pending
                self._error = exc
                _log.error("decision log %s: %s decisions not written: %s", self.store, rows, exc)
                raise DecisionLogError(f"decision log {self.store}: {exc}") from exc
            with self._lock:
                self._pending_rows -= written
            self._error = None
            self.rows_written += written
            return written

    def _write(self, batch: list[_Pending]) -> int:
        """Append queued decisions to the store: in the writer process, else (none could start, or it
        ended) here."""
        spec = (self.store, self.model, self.version, self.input_columns, self.categorical)
        worker = _Worker.shared() if self.use_process else None
        if worker is not None:
            try:
                return worker.write(spec, batch)
            except _WorkerGone as exc:
                _log.warning("decision log %s: the writer process ended (%s); writing in this process", self.store, exc)
        return _write_here(spec, batch)


_OPEN: "weakref.WeakSet[DecisionLog]" = weakref.WeakSet()
PIECE_ROWS = 5_000
"""Rows serialised and sent to the writer process at a time; the writer process builds at least
`_BUILD_ROWS` rows at a time."""
_BUILD_ROWS = 2_000


def _keep(inputs: pd.DataFrame) -> pd.DataFrame:
    """The caller's rows as they are now: with copy-on-write (pandas 3) a shallow copy is enough, a
    later change of the caller's frame copies its own data."""
    cow = int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True
    return inputs.copy(deep=not cow)


def _write_here(spec, batch) -> int:
    builder = _Builder(spec)
    for item in batch:
        builder.add([item])
    return builder.finish()


def _pieces(item: _Pending):
    """A queued call's rows in pieces of at most `PIECE_ROWS` (one batch id)."""
    n = len(item.outputs)
    if n <= PIECE_ROWS:
        yield item
        return
    for start in range(0, n, PIECE_ROWS):
        yield _Pending(item.decided_at, item.inputs.iloc[start:start + PIECE_ROWS],
                       item.outputs.iloc[start:start + PIECE_ROWS], item.source, item.batch_id)


class _Builder:
    """Rows turned into Arrow as they come, at least `_BUILD_ROWS` at a time, and appended to the
    store in one go (`finish`)."""

    def __init__(self, spec):
        self.store, self.model, self.version, self.input_columns, self.categorical = spec
        self.tables: list[pa.Table] = []
        self.waiting: list[_Pending] = []
        self.waiting_rows = 0

    def add(self, records) -> None:
        self.waiting += records
        self.waiting_rows += sum(len(r.outputs) for r in records)
        if self.waiting_rows >= _BUILD_ROWS:
            self._build()

    def _build(self) -> None:
        if self.waiting:
            self.tables.append(build_batch(self.waiting, self.model, self.version, self.input_columns,
                                           self.categorical))
        self.waiting, self.waiting_rows = [], 0

    def finish(self) -> int:
        self._build()
        if not self.tables:
            return 0
        table = self.tables[0] if len(self.tables) == 1 else pa.concat_tables(self.tables, promote_options="default")
        self.store.append(table)
        return table.num_rows


class _WorkerGone(RuntimeError):
    """The writer process is not there (it could not start, or it ended)."""


class _Worker:
    """One writer process per process that decides (a fresh interpreter running `_worker_main`, so
    safe beside threads and without importing the caller's script): it gets queued decisions and the
    store over a pipe, builds the rows and appends them, and answers with the rows written or the
    store's error. The deciding process keeps the rows until the answer comes."""

    _shared: _Worker | None = None
    _shared_lock = threading.Lock()

    def __init__(self):
        if os.name != "posix":
            raise OSError("the writer process needs POSIX pipes")
        from multiprocessing.connection import Connection

        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if isinstance(p, str) and p))
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from creditmine.monitoring.log import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.gone: str | None = None

    @classmethod
    def shared(cls) -> _Worker | None:
        with cls._shared_lock:
            worker = cls._shared
            if worker is not None and worker._pid == os.getpid() and worker.gone is None:
                return worker
            if worker is not None and worker._pid == os.getpid():
                return None              # it ended: the logs write in their own process from now on
            try:
                cls._shared = worker = cls()
            except Exception as exc:  # noqa: BLE001 - no process: the logs write in their own process
                _log.warning("decision log: no writer process (%s); writing in this process", exc)
                cls._shared = None
                return None
            return worker

    def write(self, spec, batch: list[_Pending]) -> int:
        """Send the store and the rows, a piece at a time (the GIL let go between pieces), then
        wait for the rows written (or the store's error)."""
        with self._lock:
            if self.gone is not None:
                raise _WorkerGone(self.gone)
            try:
                self._message(("begin", spec))
                unsent = None
                for item in batch:
                    for piece in _pieces(item):
                        try:
                            self._message(("piece", [piece]))
                        except _Unpicklable as exc:
                            unsent = exc
                            break
                        time.sleep(0)       # the deciding threads take the GIL between pieces
                    if unsent is not None:
                        break
                self._message(("end", unsent is None))
                status, value = self._recv.recv()
            except (OSError, EOFError) as exc:
                self.gone = f"{type(exc).__name__}: {exc}"
                raise _WorkerGone(self.gone) from None
            except _Unpicklable as exc:                     # e.g. a store that cannot travel
                self._message(("end", False))
                self._recv.recv()
                raise _WorkerGone(f"cannot send the rows: {exc}") from None
        if unsent is not None:
            raise _WorkerGone(f"cannot send the rows: {unsent}")
        if status == "ok":
            return value
        if status == "unreadable":
            raise _WorkerGone(f"the writer process cannot read the rows: {value}")
        raise DecisionLogError(value)

    def _message(self, message) -> None:
        buffers: list = []
        try:
            header = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise _Unpicklable(str(exc)) from None
        self._send.send_bytes(pickle.dumps(len(buffers)))
        self._send.send_bytes(header)
        for buffer in buffers:
            self._send.send_bytes(buffer.raw())


class _Unpicklable(RuntimeError):
    """A message for the writer process cannot be serialised."""


def _worker_main() -> None:
    """The writer process: write what comes on stdin until the deciding process closes it (the
    answers go out on the process's stdout; anything printed goes to stderr)."""
    import signal
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C stops the deciding process, which flushes first
    conn, answers = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    builder, failed = None, None        # one write: "begin" (the store), "piece"s (rows), "end"
    while True:
        try:
            count = pickle.loads(conn.recv_bytes())
            header = conn.recv_bytes()
            buffers = [conn.recv_bytes() for _ in range(count)]
        except (EOFError, OSError):
            return
        try:
            kind, value = pickle.loads(header, buffers=buffers)
        except Exception as exc:  # noqa: BLE001 - e.g. a store class only the deciding process knows
            kind, value = "unreadable", f"{type(exc).__name__}: {exc}"
        if kind == "unreadable":
            failed = failed or ("unreadable", value)
        elif kind == "begin":
            builder, failed = _Builder(value), None
        elif kind == "piece":
            if failed is None:
                try:
                    builder.add(value)
                except Exception as exc:  # noqa: BLE001 - the deciding process raises it
                    failed = ("error", f"{type(exc).__name__}: {exc}")
        elif kind == "end":
            if failed is not None:
                answer = failed
            elif not value:
                answer = ("aborted", "")
            else:
                try:
                    answer = ("ok", builder.finish())
                except Exception as exc:  # noqa: BLE001 - the deciding process raises it
                    answer = ("error", f"{type(exc).__name__}: {exc}")
            builder, failed = None, None
            try:
                answers.send(answer)
            except (EOFError, OSError):
                return


@atexit.register
def _close_all() -> None:
    for log in list(_OPEN):
        try:
            log.close()
        except Exception as exc:  # noqa: BLE001 - at exit the error can only be reported
            _log.error("%s: %s", log, exc)


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
    flagged = np.flatnonzero((grade == 0) | unreadable)
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
        "input_digest": pa.array(_digests(typed, text, input_columns, categorical, n), pa.string()),
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
"""Code points of a text value hashed as they are; longer values are hashed through their SHA-256."""


def input_digests(typed: dict[str, np.ndarray], input_columns, categorical) -> np.ndarray:
    """SHA-256 (hex) of each row's inputs, in `input_columns` order.

    The bytes hashed are, column after column: for a number, 8 bytes (IEEE 754 float64,
    little-endian; every blank the same NaN); for text, 128 bytes: up to `TEXT_WIDTH` code points
    in UTF-32 little-endian padded with zeros, or for a longer text 0xFFFFFFFF, the SHA-256 of its
    UTF-8 and zeros, and for a blank 128 bytes of 0xFF. A row's digest does not depend on the
    batch it came in, and anyone holding its inputs can recompute it (`recompute_digests`). The digest
    is of the typed inputs the log keeps; a value that could not be read as a number is blank there,
    and the row keeps what arrived as text in `raw_input`.
    """
    n = len(next(iter(typed.values()))) if typed else 0
    text = {c: _text(typed[c]) for c in input_columns if c in categorical}
    return np.array(_digests(typed, text, input_columns, categorical, n), dtype=object)


def _digests(typed: dict, text: dict, input_columns, categorical, n: int) -> list[str]:
    """`input_digests` of typed inputs whose text columns are also given as Arrow (`text`)."""
    if not input_columns:
        return [hashlib.sha256(b"").hexdigest()] * n
    widths = [4 * TEXT_WIDTH if c in categorical else 8 for c in input_columns]
    width = sum(widths)
    parts = []
    for column in input_columns:
        if column in categorical:
            parts.append(_text_bytes(text[column], n))
        else:
            values = np.asarray(typed[column], dtype="<f8")
            blank = np.isnan(values)
            parts.append(np.where(blank, np.nan, values) if blank.any() else values)   # one NaN for every blank
    sha = hashlib.sha256
    digests: list[str] = []
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
        digests += [sha(flat[i:i + width]).hexdigest() for i in range(0, rows * width, width)]
    return digests


_DIGEST_ROWS = 2048


def recompute_digests(inputs: pd.DataFrame) -> np.ndarray:
    """The input digests of logged decisions from the features the log kept (`LoggedDecisions.inputs`):
    equal to their `input_digest` unless the log was changed."""
    columns = list(inputs.columns)
    text = {c for c in columns if not pd.api.types.is_numeric_dtype(inputs[c].dtype)}
    typed = {c: inputs[c].to_numpy(dtype=object if c in text else float) for c in columns}
    return input_digests(typed, columns, text)


def _text_bytes(values: pa.Array, n: int) -> np.ndarray:
    """The 128 bytes of each text value (see `input_digests`), from the column's distinct values."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_pylist()
    blocks = np.zeros((len(distinct) + 1, 4 * TEXT_WIDTH), dtype=np.uint8)
    blocks[-1] = 0xFF                                            # the blank
    if distinct:
        short = np.array([v if len(v) <= TEXT_WIDTH else "" for v in distinct], dtype=f"<U{TEXT_WIDTH}")
        blocks[:-1] = np.ascontiguousarray(short).view(np.uint8).reshape(len(distinct), 4 * TEXT_WIDTH)
        for k, value in enumerate(distinct):
            if len(value) > TEXT_WIDTH:
                digest = hashlib.sha256(value.encode("utf-8")).digest()
                blocks[k] = np.frombuffer(b"\xff\xff\xff\xff" + digest + bytes(4 * TEXT_WIDTH - 36), np.uint8)
    codes = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False) if n else np.array([], int)
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
    """Application dates (text or dates, unreadable ones blank) as Arrow dates."""
    when = pd.to_datetime(values, errors="coerce")
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_localize(None)
    days = when.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    return pa.array(days, pa.date32(), mask=when.isna().to_numpy())


def _jsonable(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# -- where a loaded model logs --------------------------------------------------------------------

def attach(engine, settings: dict, version: str, tracking_uri: str | None) -> DecisionLog | None:
    """The decision log of a loaded decision model, or None when logging is off.

    Parameters
    ----------
    engine : the `DecisionEngine` (its input spec names the input columns).
    settings : the decision model's config.json (`model_name`).
    version : the registered version the gate let through.
    tracking_uri : the store the model was loaded from; the decision store is beside it unless
        CREDITMINE_DECISION_STORE names another.
    """
    if not logging_enabled():
        return None
    from creditmine.decision.package import input_columns
    from creditmine.monitoring.store import open_store

    spec = engine.input_spec
    columns = input_columns(list(spec.feature_names), spec.policy)
    text = {"application_id", "product", "enterprise_id", *spec.categorical_features}
    return DecisionLog(open_store(tracking_uri), settings["model_name"], version, columns, text)
