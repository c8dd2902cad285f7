"""The champion served by `mlflow models serve` on loopback answers the REST invocation protocol,
and a served model refuses to start for a version the deployment gate refuses."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import factories

PRODUCT = "quick_loan"

pytestmark = pytest.mark.slow
MLFLOW = Path(sys.executable).with_name("mlflow")
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`mlflow models serve` on 127.0.0.1 and a free port, from this environment; always stopped."""

    def __init__(self, model_uri: str, tracking_uri: str, log: Path, via_creditmine: bool = False,
                 server_kind: str = "creditmine"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()}
        env["MLFLOW_TRACKING_URI"] = tracking_uri
        # the server execs `uvicorn` by name: this environment's, as an activated venv would
        env["PATH"] = f"{MLFLOW.parent}{os.pathsep}{env.get('PATH', '')}"
        self.log = log
        self._log_handle = open(log, "wb")
        command = [str(MLFLOW), "models", "serve", "-m", model_uri, "-h", "127.0.0.1", "-p", str(self.port),
                   "--env-manager", "local", "-w", "1"]
        if via_creditmine:  # the gate first, then creditmine's server or `mlflow models serve`
            command = [sys.executable, "-m", "creditmine.cli", "serve", "--model", model_uri,
                       "--port", str(self.port), "--tracking-uri", tracking_uri, "--server", server_kind]
        self.process = subprocess.Popen(
            command,
            stdout=self._log_handle, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )

    def wait_ready(self) -> bool:
        """True once /ping answers; False when the server exits first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as reply:
                    if reply.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise TimeoutError(f"mlflow models serve did not answer within {START_TIMEOUT_S} s:\n{self.output()}")

    def invoke(self, frame: pd.DataFrame) -> pd.DataFrame:
        payload = {"dataframe_split": {
            "columns": list(frame.columns),
            "data": frame.astype(object).where(frame.notna(), None).values.tolist(),
        }}
        request = urllib.request.Request(f"{self.url}/invocations", data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            return pd.DataFrame(json.loads(reply.read())["predictions"])

    def output(self) -> str:
        self._log_handle.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server and its workers (its own process group, which it leads)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        self._log_handle.close()


@pytest.fixture(scope="module")
def registered(tmp_path_factory, quick_loan_stages):
    from creditmine.decision.score import tracking_store

    root = tmp_path_factory.mktemp("serve") / "project"
    root.mkdir()
    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        return factories.approved_champion(root, quick_loan_stages, PRODUCT)


def test_the_served_champion_decides_over_rest(registered, tmp_path):
    cfg, name, version, _, apps = registered
    server = Server(f"models:/{name}@champion", cfg.tracking_uri, tmp_path / "serve.log", via_creditmine=True)
    try:
        assert server.wait_ready(), server.output()
        sample = apps.iloc[:20].drop(columns=["default_12m"])
        out = server.invoke(sample)
        assert out["application_id"].tolist() == sample["application_id"].tolist()
        assert set(out["decision"]) <= {"approve", "refer", "decline"}
        assert out["pd"].between(0, 1).all() and (out["reason_1_zh"].str.len() > 0).mean() > 0.8
        single = server.invoke(sample.iloc[[3]])
        assert len(single) == 1 and single["decision"].iloc[0] == out["decision"].iloc[3]
        # bad rows over REST: per-row reasons, never a failed request
        bad = sample.iloc[:3].astype(object)
        bad.iloc[0, bad.columns.get_loc("requested_amount_cny")] = -1
        bad.iloc[1, bad.columns.get_loc("term_months")] = "twelve"
        bad = bad.drop(columns=["enterprise_age_years"])
        out = server.invoke(bad)
        assert out["decision"].tolist() == ["refer"] * 3
        assert "requested_amount_cny must be positive" in out["error"][0]
        assert "term_months: expected a number, got 'twelve'" in out["error"][1]
        assert out["error"].str.contains("missing field enterprise_age_years").all()
        assert out["pd"].isna().all()
    finally:
        server.stop()
    assert server.process.returncode is not None


def test_mlflow_models_serve_logs_the_last_decisions_when_stopped(registered, tmp_path):
    """uvicorn raises SIGTERM again once it has shut down, which used to end the server before the
    decisions of the last seconds were written; they are logged before it ends."""
    from creditmine.monitoring.store import open_store

    cfg, name, version, _, apps = registered
    server = Server(f"models:/{name}@champion", cfg.tracking_uri, tmp_path / "serve.log", via_creditmine=True,
                    server_kind="mlflow")
    sample = apps.iloc[40:47].drop(columns=["default_12m"])
    try:
        assert server.wait_ready(), server.output()
        server.invoke(sample)
        server.invoke(sample.iloc[[0]])
    finally:
        server.stop()                       # at once: well within the log's 5-second flush
    ids = set(sample["application_id"])
    deadline, logged = time.monotonic() + 60, pd.DataFrame()
    while time.monotonic() < deadline:      # the served process ends after the command that started it
        decisions = open_store(cfg.tracking_uri).read(name, version).decisions
        logged = decisions[decisions["application_id"].isin(ids)]
        if len(logged) >= len(sample) + 1:
            break
        time.sleep(0.5)
    assert len(logged) == len(sample) + 1, server.output()
    assert set(logged["source"]) == {"serve"} and logged["batch_id"].nunique() == 2


def test_a_served_model_refuses_an_unapproved_champion(registered, tmp_path):
    import mlflow

    from creditmine.decision.score import tracking_store

    cfg, name, version, _, _ = registered
    with tracking_store(cfg.tracking_uri):
        pending = factories.register(cfg, PRODUCT)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.tracking_uri)
    client.set_registered_model_alias(name, "champion", pending.version)  # the plain client, no review
    # `creditmine serve` refuses before loading anything from the artifact store
    refused = subprocess.run([sys.executable, "-m", "creditmine.cli", "serve", "--model", f"models:/{name}@champion",
                              "--tracking-uri", cfg.tracking_uri], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert f"refused to serve models:/{name}@champion" in refused.stderr
    assert "not approved" in refused.stderr and "Traceback" not in refused.stderr
    server = Server(f"models:/{name}@champion", cfg.tracking_uri, tmp_path / "refused.log")
    try:
        assert not server.wait_ready(), "the server started for an unapproved version"
        assert f"{name} version {pending.version} is not approved" in server.output()
    finally:
        server.stop()
        client.set_registered_model_alias(name, "champion", version)
    assert np.isfinite(server.process.returncode)
