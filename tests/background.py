"""Commands that build a slow session-wide world, run one after the other in the background: started
before the first test, they use the core the tests leave idle, and a fixture waits for their result
only when a test needs the world.

Helpers for tests/conftest.py only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path


class Commands:
    """Commands run in order in a thread of this process, each in its own process group, its output
    in files under `folder`; `result(name)` waits for one and returns its CompletedProcess."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._queue: list[tuple[str, list[str], Path, dict[str, str]]] = []
        self._done: dict[str, subprocess.CompletedProcess] = {}
        self._finished = {}
        self._running: subprocess.Popen | None = None
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_all, name="background-worlds", daemon=True)

    def add(self, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self._queue.append((name, args, Path(cwd), env))
        self._finished[name] = threading.Event()

    def __contains__(self, name: str) -> bool:
        return name in self._finished

    def start(self) -> Commands:
        self._thread.start()
        return self

    def result(self, name: str) -> subprocess.CompletedProcess:
        """The finished command `name` (waits for it)."""
        self._finished[name].wait()
        return self._done[name]

    def stop(self) -> None:
        """Start nothing more and end the running command with its process group."""
        with self._lock:
            self._stopped = True
            process = self._running
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def _run_all(self) -> None:
        for name, args, cwd, env in self._queue:
            out, err = self.folder / f"{name}.stdout", self.folder / f"{name}.stderr"
            try:
                with self._lock:
                    if self._stopped:
                        raise RuntimeError("stopped before it started")
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
