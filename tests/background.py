"""Commands that build the slow session-wide worlds, run one after the other in the background: given
before the first test (in the order the tests will need them), they run under Linux's SCHED_IDLE
policy, on CPU time the tests leave idle, and a fixture waits for a command's result only when a
test needs its world (the tests then wait, and the command has the machine).

Helpers for tests/conftest.py only.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

# runs `argv[1:]` in this process under SCHED_IDLE (inherited by its children), or as it is where
# the policy is not available
_IDLE = ("import os, sys\n"
         "try:\n    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
         "except (AttributeError, OSError):\n    pass\n"
         "os.execvp(sys.argv[1], sys.argv[1:])\n")


class Commands:
    """Commands run in the order given, by a thread of this process, each in its own process group
    with its output in files under `folder`; `result(name)` waits for one and returns its
    CompletedProcess."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._queue: queue.Queue = queue.Queue()
        self._done: dict[str, subprocess.CompletedProcess] = {}
        self._finished: dict[str, threading.Event] = {}
        self._running: subprocess.Popen | None = None
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_all, name="background-worlds", daemon=True)
        self._thread.start()

    def add(self, name: str, args: list[str], cwd: Path, env: dict[str, str], idle: bool = True) -> None:
        """Run `args` in `cwd` with `env` once the commands given before have ended; under SCHED_IDLE
        unless `idle` is False (a server the tests will talk to)."""
        assert name not in self._finished, f"{name} was given twice"
        self._finished[name] = threading.Event()
        self._queue.put((name, [sys.executable, "-c", _IDLE, *args] if idle else list(args), Path(cwd), dict(env)))

    def __contains__(self, name: str) -> bool:
        return name in self._finished

    def result(self, name: str) -> subprocess.CompletedProcess:
        """The finished command `name` (waits for it)."""
        self._finished[name].wait()
        return self._done[name]

    def stop(self) -> None:
        """Start nothing more and end the running command with its process group."""
        with self._lock:
            self._stopped = True
            process = self._running
        self._queue.put(None)
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        self._thread.join(timeout=60)

    def _run_all(self) -> None:
        while (item := self._queue.get()) is not None:
            name, args, cwd, env = item
            out, err = self.folder / f"{name}.stdout", self.folder / f"{name}.stderr"
            try:
                with self._lock:
                    if self._stopped:
                        raise RuntimeError("the session ended first")
                    with open(out, "w") as stdout, open(err, "w") as stderr:
                        self._running = subprocess.Popen(args, cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                                                         text=True, start_new_session=True)
                returncode = self._running.wait()
                self._done[name] = subprocess.CompletedProcess(
                    args, returncode, out.read_text(encoding="utf-8", errors="replace"),
                    err.read_text(encoding="utf-8", errors="replace"))
            except Exception as exc:  # noqa: BLE001 - the waiting fixture reports it
                self._done[name] = subprocess.CompletedProcess(args, -1, "", f"{name} did not run: {exc!r}")
            finally:
                with self._lock:
                    self._running = None
                self._finished[name].set()
