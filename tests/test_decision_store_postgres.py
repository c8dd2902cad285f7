"""The team mode's decision store: decision log rows into PostgreSQL and back, as the Parquet store
gives them (a throw-away cluster on loopback, made by the team server's own `Cluster`
in a folder the `postgres` user can reach when the tests run as root)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    from creditmine.team.postgres import Cluster, PostgresError, find_binaries

    try:
        find_binaries()
    except PostgresError as exc:
        pytest.fail(f"{exc} (the test set-up installs Debian's postgresql package)")
    # made as the team server's tests make theirs (tests/team_server.py on main): under the system's
    # temporary folder, open to others, not under pytest's (0700): run as root, PostgreSQL runs as
    # the `postgres` user, which must reach its cluster's folder
    root = Path(tempfile.mkdtemp(prefix="creditmine-pg-"))
    os.chmod(root, 0o755)
    made = Cluster(root / "postgres", _free_port())
    try:
        made.ensure()
        yield made
    finally:
        try:
            made.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _batch(n: int, model="creditmine-quick_loan", version="3"):
    from creditmine.monitoring.log import _Pending, build_batch

    rng = np.random.default_rng(0)
    inputs = pd.DataFrame({
        "application_id": [f"AP{i:04d}" for i in range(n)], "product": "tax", "enterprise_id": "E1",
        "requested_amount_cny": rng.uniform(1e5, 1e6, n), "term_months": 12.0, "industry_section": ["C", None] * (n // 2),
        "applied_at": ["2025-03-02"] * (n - 1) + ["2025-04-01"],
    })
    outputs = pd.DataFrame({
        "application_id": inputs["application_id"], "pd": rng.uniform(0, 0.2, n), "score": 600.0, "grade": 3,
        "decision": "approve", "credit_limit_cny": 1e5, "term_months": 12,
        **{f"reason_{i}_{lang}": f"r{i}{lang}" for i in range(1, 5) for lang in ("en", "zh")}, "error": "",
    })
    columns = ("application_id", "product", "requested_amount_cny", "term_months", "enterprise_id", "industry_section")
    return build_batch([_Pending(time.time(), inputs, outputs, "serve")], model, version, columns,
                       {"application_id", "product", "enterprise_id", "industry_section"})


def test_postgres_store_gives_back_what_the_parquet_store_gives(cluster, tmp_path):
    from creditmine.monitoring.postgres_store import PostgresDecisionStore
    from creditmine.monitoring.store import ParquetDecisionStore

    table = _batch(10)
    postgres = PostgresDecisionStore(cluster.dsn("postgres"))
    parquet = ParquetDecisionStore(tmp_path / "decisions")
    assert postgres.append(table) == 10
    parquet.append(table)
    a = postgres.read("creditmine-quick_loan", "3", until=pd.Timestamp("2025-03-31").date())
    b = parquet.read("creditmine-quick_loan", "3", until=pd.Timestamp("2025-03-31").date())
    assert len(a) == len(b) == 9                                    # April's decision is after the as-of month
    columns = ["application_id", "input_digest", "pd", "grade", "decision", "reason_4_zh", "source", "month"]
    pd.testing.assert_frame_equal(a.decisions[columns], b.decisions[columns])
    pd.testing.assert_frame_equal(a.inputs[b.inputs.columns], b.inputs, check_dtype=False)
    assert "decisions.log" in str(postgres) and cluster.dsn("postgres").split("@")[0].split(":")[-1] not in str(postgres)
