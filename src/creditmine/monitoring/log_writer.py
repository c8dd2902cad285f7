"""The decision log's writer: queued decisions handed to a writer process (a fresh interpreter,
fed over a pipe) that builds their rows and appends them to the store, or written in the deciding
process when no writer process can run. `creditmine.monitoring.log` drives it (and writes big calls
to file stores itself, as raw segments, telling the writer process so that it compacts them).

A write costs the deciding process little: the queued frames are pickled with their column buffers
out of band (no copy) and those buffers written to a spool file in a private folder (in memory,
under /dev/shm, where there is one), so the deciding threads are held up for one file write, not
for the pipe; the pipe carries the file's name. The writer process runs at a lower priority (it
takes the CPU the deciding threads leave), and compacts the store's new segments into Parquet once
no decisions have come for `COMPACT_IDLE_SECONDS`, once `COMPACT_ROWS` rows wait in segments, when
asked, and when the deciding process ends.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa

from creditmine.monitoring.log_rows import DecisionLogError, _Pending, build_batch

_log = logging.getLogger("creditmine.decisions")

IN_BAND_ROWS = 1_000
BUILD_ROWS = 20_000
"""Rows turned into Arrow at a time (bounds the writer's memory; a call's rows are never split)."""
COMPACT_IDLE_SECONDS = 2.0
COMPACT_ROWS = 1_000_000
"""Rows written since the last compaction after which the writer compacts without waiting to be
idle (bounds the space uncompressed segments take in a long batch)."""
WRITER_NICE = 10
"""How much lower the writer process's priority is than the deciding process's."""


def _keep(inputs: pd.DataFrame) -> pd.DataFrame:
    """The caller's rows as they are now: with copy-on-write (pandas 3) a shallow copy is enough, a
    later change of the caller's frame copies its own data."""
    cow = int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True
    return inputs.copy(deep=not cow)


def _write_here(spec, batch) -> int:
    builder = _Builder(spec)
    builder.add(batch)
    return builder.finish()


def compact_here(spec) -> int:
    """Compact the store's segments of the log's model version (stores without segments: 0)."""
    store, model, version = spec[:3]
    compact = getattr(store, "compact", None)
    return compact(model, version) if compact is not None else 0


class _Builder:
    """Rows turned into Arrow as they come, at least `BUILD_ROWS` at a time, and appended to the
    store in one go (`finish`)."""

    def __init__(self, spec):
        self.store, self.model, self.version, self.input_columns, self.categorical = spec
        self.tables: list[pa.Table] = []
        self.waiting: list[_Pending] = []
        self.waiting_rows = 0

    def add(self, records) -> None:
        for record in records:
            self.waiting.append(record)
            self.waiting_rows += len(record.outputs)
            if self.waiting_rows >= BUILD_ROWS:
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
    store through a spool file, builds the rows and appends them, and answers over a pipe with the
    rows written or the store's error. The deciding process keeps the rows until the answer comes."""

    _shared: _Worker | None = None
    _shared_lock = threading.Lock()

    def __init__(self):
        if os.name != "posix":
            raise OSError("the writer process needs POSIX pipes")
        from multiprocessing.connection import Connection

        memory = Path("/dev/shm")
        self.spool = Path(tempfile.mkdtemp(prefix="creditmine-decisions-",
                                           dir=memory if memory.is_dir() and os.access(memory, os.W_OK) else None))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if isinstance(p, str) and p))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from creditmine.monitoring.log_writer import _worker_main; _worker_main()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        except BaseException:
            shutil.rmtree(self.spool, ignore_errors=True)
            raise
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

    @classmethod
    def current(cls) -> _Worker | None:
        """This process's writer process when it runs (none is started)."""
        worker = cls._shared
        return worker if worker is not None and worker._pid == os.getpid() and worker.gone is None else None

    @classmethod
    def stop_shared(cls) -> None:
        """End this process's writer process (it compacts what it wrote, then exits, on its own
        time) and remove its spool folder; called once the logs are closed, at exit."""
        with cls._shared_lock:
            worker, cls._shared = cls._shared, None
        if worker is None or worker._pid != os.getpid():
            return
        with worker._lock:
            worker.gone = worker.gone or "stopped"
            for connection in (worker._send, worker._recv):
                try:
                    connection.close()
                except OSError:
                    pass
            shutil.rmtree(worker.spool, ignore_errors=True)

    def write(self, spec, batch: list[_Pending]) -> int:
        """Hand the store and the rows to the writer process and wait for the rows written (or the
        store's error)."""
        status, value = self._ask("write", [spec, *batch])
        if status == "ok":
            return value
        if status == "unreadable":
            raise _WorkerGone(f"the writer process cannot read the rows: {value}")
        raise DecisionLogError(value)

    def note(self, spec, rows: int) -> None:
        """Tell the writer process that `rows` rows were written to the store without it (raw
        segments), so that it compacts them with its own once idle."""
        status, value = self._ask("noted", [spec, rows])
        if status != "ok":
            raise _WorkerGone(f"the writer process cannot read the store: {value}")

    def compact(self, spec) -> int:
        """Have the writer process compact the store's new segments now; returns the rows compacted."""
        status, value = self._ask("compact", [spec])
        if status == "unreadable":
            raise _WorkerGone(f"the writer process cannot read the store: {value}")
        if status != "ok":
            raise DecisionLogError(value)
        return value

    def _ask(self, kind: str, parts: list) -> tuple[str, object]:
        """Write `parts` to a spool file, one pickle each (a server's one-row calls one at a time, the
        deciding threads taking the GIL in between), send its name and index, and wait for the answer."""
        with self._lock:
            if self.gone is not None:
                raise _WorkerGone(self.gone)
            path = self.spool / f"{uuid.uuid4().hex}.bin"
            try:
                index = self._spool(path, parts)
                try:
                    self._send.send((kind, str(path), index))
                    return self._recv.recv()
                except (OSError, EOFError) as exc:
                    self.gone = f"{type(exc).__name__}: {exc}"
                    raise _WorkerGone(self.gone) from None
            finally:
                path.unlink(missing_ok=True)

    @staticmethod
    def _spool(path: Path, parts: list) -> list[tuple[int, list[int]]]:
        index = []
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _WorkerGone(f"cannot write the spool file {path}: {exc}") from None
        try:
            for part in parts:
                buffers: list = []
                # a big call's column buffers go out of band (no copy); a small call in one piece
                # (one write, so the GIL changes hands once)
                big = isinstance(part, _Pending) and len(part.outputs) >= IN_BAND_ROWS
                try:
                    header = pickle.dumps(part, protocol=5, buffer_callback=buffers.append if big else None)
                    views = [buffer.raw() for buffer in buffers]
                except (pickle.PicklingError, AttributeError, TypeError, BufferError) as exc:  # a store holding a lambda
                    raise _WorkerGone(f"cannot send the rows: {exc}") from None
                for view in (memoryview(header), *views):
                    _write_all(fd, view)
                index.append((len(header), [view.nbytes for view in views]))
                time.sleep(0)
        except OSError as exc:                              # e.g. no room: this write goes another way
            raise _WorkerGone(f"cannot write the spool file {path}: {exc}") from None
        finally:
            os.close(fd)
        return index


def _write_all(fd: int, view: memoryview) -> None:
    while view.nbytes:
        view = view[os.write(fd, view):]


def _worker_main() -> None:
    """The writer process: write what comes until the deciding process closes the pipe, compacting
    what it wrote when idle and at the end (answers go out on the process's stdout; anything printed
    goes to stderr)."""
    import signal
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C stops the deciding process, which flushes first
    try:
        os.nice(WRITER_NICE)
    except OSError:
        pass
    conn, answers = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    written: dict[str, tuple] = {}          # what to compact: (spec, rows waiting) of each store and model version
    while True:
        try:
            if written and not conn.poll(COMPACT_IDLE_SECONDS):
                _compact_all(written)
                continue
            kind, path, index = conn.recv()
        except (EOFError, OSError):
            _compact_all(written)
            return
        try:
            message = _read_spool(path, index)
            payload = [pickle.loads(header, buffers=buffers) for header, buffers in message]
        except Exception as exc:  # noqa: BLE001 - e.g. a store class only the deciding process knows
            answer = ("unreadable", f"{type(exc).__name__}: {exc}")
        else:
            answer = _answer(kind, payload, written)
        message = payload = None             # the spool file's mapping goes with them
        try:
            answers.send(answer)
        except (EOFError, OSError):
            _compact_all(written)
            return
        # after the answer, so that the deciding process does not wait for it
        _compact_all(written, at_least=COMPACT_ROWS)


def _read_spool(path: str, index) -> list[tuple[memoryview, list[memoryview]]]:
    """The pickles of a spool file (header and buffers each), mapped (not copied) into memory."""
    with open(path, "rb") as source:
        total = sum(header + sum(sizes) for header, sizes in index)
        data = mmap.mmap(source.fileno(), total, access=mmap.ACCESS_READ) if total else b""
    view, at, parts = memoryview(data), 0, []
    for header_size, sizes in index:
        header, at = view[at:at + header_size], at + header_size
        buffers = []
        for size in sizes:
            buffers.append(view[at:at + size])
            at += size
        parts.append((header, buffers))
    return parts


def _answer(kind: str, payload: list, written: dict) -> tuple[str, object]:
    try:
        spec = payload[0]
        if kind == "compact":
            written.pop(_key(spec), None)
            return "ok", compact_here(spec)
        rows = payload[1] if kind == "noted" else _write_here(spec, payload[1:])
        key = _key(spec)
        written[key] = (spec, written.get(key, (spec, 0))[1] + rows)
        return "ok", rows
    except Exception as exc:  # noqa: BLE001 - the deciding process raises it
        return "error", f"{type(exc).__name__}: {exc}"


def _key(spec) -> str:
    store, model, version = spec[:3]
    return f"{store}|{model}|{version}"


def _compact_all(written: dict, at_least: int = 0) -> None:
    """Compact the stores and model versions written (those with at least `at_least` rows waiting)."""
    for key, (spec, waiting) in list(written.items()):
        if waiting < at_least:
            continue
        try:
            compact_here(spec)
        except FileNotFoundError:
            pass                              # the store's folder is gone
        except Exception as exc:  # noqa: BLE001 - reported; the segments stay readable and compact later
            print(f"creditmine decision log: compacting {spec[0]} failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
        written.pop(key, None)
