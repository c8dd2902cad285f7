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
them to the store every `flush_seconds` (or once `flush_rows` rows wait), and when the process
exits: a call of `RAW_ROWS` rows or more as a raw segment, written from here as it came (file
stores, `creditmine.monitoring.log_raw`), the others through a writer process
(`creditmine.monitoring.log_writer`), which turns them into Arrow and appends them (in this process
when no writer process can run or the store cannot travel to it); the rows stay queued here until
the store has taken them. A store that cannot be written keeps the rows
queued and the failure is raised: by `flush` and `close`, and by `record` once `max_backlog` rows
wait, so decisions never go on unlogged. The stores (`creditmine.monitoring.store`): partitioned
files beside the embedded MLflow store (`mlruns/decisions/model=<name>/version=<v>/month=<YYYY-MM>/`,
Arrow segments as written, compacted into Parquet when the writer is idle), or a PostgreSQL table
in team mode (`CREDITMINE_DECISION_STORE=postgresql://...`).

Environment: ``CREDITMINE_DECISION_LOG=off`` turns logging off; ``CREDITMINE_DECISION_STORE``
names the store (a folder or a PostgreSQL DSN); ``CREDITMINE_DECISION_SOURCE`` names the source
(`creditmine serve` sets ``serve``).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
import uuid
import weakref

import pandas as pd

from creditmine.monitoring.log_raw import RAW_ROWS, raw_tables
from creditmine.monitoring.log_rows import (
    DECISION_COLUMNS,
    DecisionLogError,
    _Pending,
    build_batch,
    input_digests,
    recompute_digests,
)
from creditmine.monitoring.log_writer import (
    _keep,
    _Worker,
    _WorkerGone,
    _write_here,
    compact_here,
)

__all__ = [
    "DECISION_COLUMNS", "DecisionLog", "DecisionLogError", "ENV_LOG", "ENV_SOURCE", "ENV_STORE", "attach",
    "build_batch", "input_digests", "logging_enabled", "recompute_digests",
]

ENV_LOG, ENV_STORE, ENV_SOURCE = "CREDITMINE_DECISION_LOG", "CREDITMINE_DECISION_STORE", "CREDITMINE_DECISION_SOURCE"
SOURCES = ("score", "serve", "pyfunc")

_log = logging.getLogger("creditmine.decisions")


def logging_enabled() -> bool:
    """False when CREDITMINE_DECISION_LOG is off/0/false/no."""
    return os.environ.get(ENV_LOG, "on").strip().lower() not in ("off", "0", "false", "no")


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
        self._compact_here = False          # some rows were written without the writer process knowing
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

    def compact(self) -> int:
        """Flush, then merge the store's segments of this model version into Parquet now (the writer
        does it by itself once idle); returns the rows compacted."""
        self.flush()
        spec = (self.store, self.model, self.version, self.input_columns, self.categorical)
        worker = _Worker.shared() if self.use_process else None
        if worker is not None:
            try:
                return worker.compact(spec)
            except _WorkerGone:
                pass
        return compact_here(spec)

    def close(self) -> None:
        """Flush and stop the writer (also run at interpreter exit). Without a writer process the
        segments are compacted here too."""
        if self._closed:
            return
        try:
            self.flush()
            if (not self.use_process or _Worker.current() is None or self._compact_here) and self.rows_written:
                compact_here((self.store, self.model, self.version))
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
            if not batch:
                return 0
            left = list(batch)                   # what is not written yet; `_write` takes out what it writes
            written = 0
            try:
                written = self._write(left)
            except Exception as exc:  # noqa: BLE001 - the rows stay queued, the failure is raised
                with self._lock:
                    self._pending = left + self._pending
                self._error = exc
                waiting = sum(len(r.outputs) for r in left)
                _log.error("decision log %s: %s decisions not written: %s", self.store, waiting, exc)
                raise DecisionLogError(f"decision log {self.store}: {exc}") from exc
            self._error = None
            return written

    def _taken(self, rows: int) -> None:
        with self._lock:
            self._pending_rows -= rows
        self.rows_written += rows

    def _write(self, left: list[_Pending]) -> int:
        """Append queued decisions to the store, taking each out of `left` once written: a big call
        as a raw segment from here (stores that take them), the rest in the writer process, else
        (none could start, or it ended) here."""
        spec = (self.store, self.model, self.version, self.input_columns, self.categorical)
        worker = _Worker.shared() if self.use_process else None
        try:
            written = self._write_raw(left)
        except Exception:
            self._compact_here = True           # what it wrote before it failed is compacted at close
            raise
        if written and worker is not None:
            try:
                worker.note(spec, written)          # so that it compacts them once idle
            except _WorkerGone:
                self._compact_here = True
        if not left:
            return written
        rows = None
        if worker is not None:
            try:
                rows = worker.write(spec, left)
            except _WorkerGone as exc:
                _log.warning("decision log %s: the writer process ended (%s); writing in this process", self.store, exc)
        if rows is None:
            rows = _write_here(spec, left)
            self._compact_here = True
        left.clear()
        self._taken(rows)
        return written + rows

    def _write_raw(self, left: list[_Pending]) -> int:
        append_raw = getattr(self.store, "append_raw", None)
        if append_raw is None:
            return 0
        written = 0
        for record in [r for r in left if len(r.outputs) >= RAW_ROWS]:
            tables = raw_tables(record, self.model, self.version, self.input_columns, self.categorical)
            if tables is None:
                continue                             # it goes the usual way
            append_raw(self.model, self.version, tables)
            left[:] = [r for r in left if r is not record]
            self._taken(len(record.outputs))
            written += len(record.outputs)
        return written


_OPEN: "weakref.WeakSet[DecisionLog]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for log in list(_OPEN):
        try:
            log.close()
        except Exception as exc:  # noqa: BLE001 - at exit the error can only be reported
            _log.error("%s: %s", log, exc)
    _Worker.stop_shared()
    if _SIGTERM["caught"]:                   # the decisions are logged: end as the signal would have
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        signal.raise_signal(signal.SIGTERM)


_SIGTERM = {"held": False, "caught": False}


def hold_sigterm_until_logged() -> None:
    """Make a server's SIGTERM end the process only once its decisions are logged.

    uvicorn (which `mlflow models serve` runs) takes SIGTERM for a graceful shutdown, then puts back
    the handler it found and raises the signal again, which ends the process before atexit writes
    the last seconds' decisions. The handler installed here (from the main thread, as the served
    model loads) blocks the signal in the main thread and passes it on to the handler it found
    (with none, it ends the process by `SystemExit`), so a signal raised again waits; at exit,
    once the logs are closed, the process ends by SIGTERM as it would have."""
    if _SIGTERM["held"] or os.name != "posix" or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_IGN, None):
        return                                # ignored, or handled outside Python: left alone

    def on_sigterm(signum, frame):
        _SIGTERM["caught"] = True
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    _SIGTERM["held"] = True


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
    log = DecisionLog(open_store(tracking_uri), settings["model_name"], version, columns, text)
    if log.source == "serve":
        hold_sigterm_until_logged()
    return log
