"""The decision log's writer: queued decisions sent in pieces to a writer process (a fresh
interpreter, fed over a pipe) that builds their rows and appends them to the store, or written in
the deciding process when no writer process can run. `creditmine.monitoring.log` drives it."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time

import pandas as pd
import pyarrow as pa

from creditmine.monitoring.log_rows import DecisionLogError, _Pending, build_batch

_log = logging.getLogger("creditmine.decisions")

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
            [sys.executable, "-c", "from creditmine.monitoring.log_writer import _worker_main; _worker_main()"],
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


