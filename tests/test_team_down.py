"""`creditmine team down` in the process that brought the server up (as the tests' team server does):
the stopped server is that process's child, and `down` returns as soon as it has exited, not after
the 30-second grace it gives a server slow to stop."""

from __future__ import annotations

import subprocess
import sys
import time

from creditmine.config.team import load_team
from creditmine.team.server import TeamServer


def test_down_returns_once_a_server_this_process_started_has_exited(tmp_path):
    team_file = tmp_path / "team.yaml"
    team_file.write_text("developers: [dana]\nvalidators: [li]\n", encoding="utf-8")
    server = TeamServer(load_team(team_file), team_file, tmp_path / "state")
    server.state_dir.mkdir()
    # a stand-in for the MLflow server: a child of this process leading its own process group
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    server.pid_file.write_text(str(child.pid))
    try:
        assert server._process_alive()
        started = time.monotonic()
        server.down(log=lambda *_: None)
        took = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
    assert took < 15, f"down waited {took:.0f} s for a server that had exited"  # the grace period is 30 s
    assert not server._process_alive() and not server.pid_file.exists()
