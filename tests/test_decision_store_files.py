"""The file decision store's promises: an append is an Arrow segment, compaction merges a
partition's segments (built or raw) into one Parquet file, a reader sees every row exactly once whatever the state
(segments, Parquet, a compaction that stopped half way, compactions and appends running at once),
and the writer process compacts by itself when idle and when the deciding process ends."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditmine.monitoring.log import DecisionLog
from creditmine.monitoring.log_raw import raw_tables
from creditmine.monitoring.log_rows import _Pending, build_batch
from creditmine.monitoring.store import ParquetDecisionStore

MODEL, VERSION = "creditmine-quick_loan", "3"
COLUMNS = ("application_id", "product", "requested_amount_cny", "enterprise_id")
TEXT = {"application_id", "product", "enterprise_id"}


def _call(n: int, start: int = 0, month: str = "2025-03"):
    ids = [f"AP{start + i:07d}" for i in range(n)]
    inputs = pd.DataFrame({"application_id": ids, "product": "tax", "enterprise_id": "E1",
                           "requested_amount_cny": np.arange(n, dtype=float) + 1e5, "applied_at": f"{month}-02"})
    outputs = pd.DataFrame({
        "application_id": ids, "pd": 0.05, "score": 600.0, "grade": 3, "decision": "approve",
        "credit_limit_cny": 1e5, "term_months": 12,
        **{f"reason_{i}_{lang}": "" for i in range(1, 5) for lang in ("en", "zh")}, "error": "",
    })
    return inputs, outputs


def _rows(n: int, start: int = 0, month: str = "2025-03"):
    inputs, outputs = _call(n, start, month)
    return build_batch([_Pending(time.time(), inputs, outputs, "score", f"b{start}")], MODEL, VERSION, COLUMNS, TEXT)


def _files(folder, pattern):
    return sorted(p.name for p in folder.rglob(pattern))


def _ids(store) -> list[str]:
    return store.read(MODEL, VERSION).decisions["application_id"].tolist()


def test_appends_are_segments_and_compaction_makes_one_parquet_file_per_partition(tmp_path):
    store = ParquetDecisionStore(tmp_path)
    store.append(_rows(3))
    store.append(_rows(2, start=3))
    store.append(_rows(4, start=5, month="2025-04"))
    assert len(_files(tmp_path, "seg-*.arrow")) == 3 and not _files(tmp_path, "*.parquet")
    before = store.read(MODEL, VERSION)
    assert store.compact(MODEL, VERSION) == 9
    assert not _files(tmp_path, "seg-*.arrow") and len(_files(tmp_path, "part-*.parquet")) == 2
    assert not _files(tmp_path, ".*.tmp")
    after = store.read(MODEL, VERSION)
    pd.testing.assert_frame_equal(before.decisions, after.decisions)
    pd.testing.assert_frame_equal(before.inputs, after.inputs)
    assert store.compact(MODEL, VERSION) == 0                       # nothing new
    store.append(_rows(1, start=9))
    assert store.compact() == 1 and len(_ids(store)) == 10


def test_a_compaction_that_stopped_before_removing_its_segments_reads_each_row_once(tmp_path):
    store = ParquetDecisionStore(tmp_path)
    store.append(_rows(5))
    [segment] = list(tmp_path.rglob("seg-*.arrow"))
    kept = tmp_path / "kept.arrow"
    shutil.copy(segment, kept)
    store.compact()
    shutil.copy(kept, segment)                                      # as if it stopped before the unlink
    kept.unlink()
    assert _ids(store) == [f"AP{i:07d}" for i in range(5)]
    assert store.compact() == 0 and not _files(tmp_path, "seg-*.arrow")   # the leftover goes
    assert len(_ids(store)) == 5


def test_parquet_files_of_a_size_tier_merge_so_a_partition_written_little_by_little_keeps_few(tmp_path):
    from creditmine.monitoring.store import MERGE_PARTS

    store = ParquetDecisionStore(tmp_path)
    counts = []
    for k in range(MERGE_PARTS ** 2):                                # a server's flush, then idle, many times
        store.append(_rows(5, start=5 * k))
        store.compact()
        counts.append(len(_files(tmp_path, "part-*.parquet")))
    assert counts[:MERGE_PARTS] == [1, 2, 3, 1]                      # the fourth of a tier merges them
    assert max(counts) < 2 * MERGE_PARTS and counts[-1] == 1
    assert sorted(_ids(store)) == [f"AP{i:07d}" for i in range(5 * MERGE_PARTS ** 2)]


def test_a_merge_that_stopped_before_removing_the_files_it_merged_reads_each_row_once(tmp_path):
    from creditmine.monitoring.store import MERGE_PARTS

    store = ParquetDecisionStore(tmp_path)
    for k in range(MERGE_PARTS - 1):
        store.append(_rows(5, start=5 * k))
        store.compact()
    kept = {p: p.read_bytes() for p in tmp_path.rglob("part-*.parquet")}
    store.append(_rows(5, start=5 * (MERGE_PARTS - 1)))
    store.compact()
    for path, data in kept.items():                                  # as if it stopped before the unlinks
        path.write_bytes(data)
    assert sorted(_ids(store)) == [f"AP{i:07d}" for i in range(5 * MERGE_PARTS)]
    store.compact()
    assert len(_files(tmp_path, "part-*.parquet")) == 1 and len(_ids(store)) == 5 * MERGE_PARTS


def test_a_partition_being_compacted_elsewhere_is_left_alone_and_still_read_whole(tmp_path):
    store = ParquetDecisionStore(tmp_path)
    store.append(_rows(4))
    [partition] = {p.parent for p in tmp_path.rglob("seg-*.arrow")}
    with open(partition / ".compact.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                           # another process compacts
        assert store.compact() == 0
        assert len(_ids(store)) == 4
    assert store.compact() == 4


_HAMMER = """
import sys, time
from creditmine.monitoring.store import ParquetDecisionStore
store = ParquetDecisionStore(sys.argv[1])
stop = time.time() + float(sys.argv[2])
while time.time() < stop:
    store.compact()
"""


def test_compactions_appends_and_reads_at_once_never_lose_or_repeat_a_row(tmp_path):
    store = ParquetDecisionStore(tmp_path)
    store.append(_rows(10))
    script = tmp_path.parent / f"{tmp_path.name}-hammer.py"
    script.write_text(textwrap.dedent(_HAMMER))
    compactors = [subprocess.Popen([sys.executable, str(script), str(tmp_path), "6"]) for _ in range(2)]
    try:
        appended, reads = 10, 0
        deadline = time.time() + 5
        while time.time() < deadline:
            if reads % 2:
                store.append(_rows(7, start=appended))
            else:                                                      # a big call's raw segment
                record = _Pending(time.time(), *_call(7, start=appended), "score", f"r{appended}")
                store.append_raw(MODEL, VERSION, raw_tables(record, MODEL, VERSION, COLUMNS, TEXT))
            appended += 7
            ids = _ids(store)
            assert len(ids) == len(set(ids)) == appended, f"read {len(ids)} rows ({len(set(ids))} distinct) of {appended}"
            reads += 1
    finally:
        for process in compactors:
            assert process.wait(timeout=60) == 0
    assert reads > 10
    store.compact()
    assert sorted(_ids(store)) == [f"AP{i:07d}" for i in range(appended)]
    assert not _files(tmp_path, "*.arrow") and not _files(tmp_path, ".*.tmp")


def test_the_writer_process_compacts_once_idle(tmp_path):
    log = DecisionLog(ParquetDecisionStore(tmp_path), MODEL, VERSION, COLUMNS, TEXT, source="score",
                      flush_seconds=60, flush_rows=10**9)
    log.record(*_call(6))
    assert log.flush() == 6
    assert _files(tmp_path, "seg-*.arrow")
    deadline = time.time() + 20
    while _files(tmp_path, "seg-*.arrow") and time.time() < deadline:
        time.sleep(0.2)
    assert not _files(tmp_path, "seg-*.arrow") and len(_files(tmp_path, "part-*.parquet")) == 1
    log.close()
    assert len(_ids(ParquetDecisionStore(tmp_path))) == 6


_DECIDE_AND_EXIT = """
import sys
import numpy as np, pandas as pd
from creditmine.monitoring.log import DecisionLog
from creditmine.monitoring.store import ParquetDecisionStore
ids = [f"AP{i:07d}" for i in range(50)]
inputs = pd.DataFrame({"application_id": ids, "product": "tax", "enterprise_id": "E1",
                       "requested_amount_cny": np.arange(50.0), "applied_at": "2025-03-02"})
outputs = pd.DataFrame({"application_id": ids, "pd": 0.05, "score": 600.0, "grade": 3, "decision": "approve",
                        "credit_limit_cny": 1e5, "term_months": 12, "error": ""})
log = DecisionLog(ParquetDecisionStore(sys.argv[1]), "creditmine-quick_loan", "3",
                  ("application_id", "product", "requested_amount_cny", "enterprise_id"),
                  {"application_id", "product", "enterprise_id"}, source="score", flush_seconds=60)
log.record(inputs, outputs)
from creditmine.monitoring.log_writer import _Worker
print(_Worker.shared().spool)
"""


def test_a_deciding_process_that_ends_leaves_every_row_and_its_writer_compacts_them(tmp_path):
    done = subprocess.run([sys.executable, "-c", _DECIDE_AND_EXIT, str(tmp_path)], check=True, timeout=120,
                          capture_output=True, text=True)
    spool = Path(done.stdout.strip())
    assert spool.name.startswith("creditmine-decisions-") and not spool.exists()     # its spool folder is gone
    assert len(_ids(ParquetDecisionStore(tmp_path))) == 50          # written at exit, before it ended
    deadline = time.time() + 20
    while _files(tmp_path, "seg-*.arrow") and time.time() < deadline:
        time.sleep(0.2)
    assert not _files(tmp_path, "seg-*.arrow") and len(_files(tmp_path, "part-*.parquet")) == 1
    assert len(_ids(ParquetDecisionStore(tmp_path))) == 50


@pytest.mark.parametrize("use_process", [True, False])
def test_compact_on_the_log_writes_parquet_now(tmp_path, use_process):
    log = DecisionLog(ParquetDecisionStore(tmp_path), MODEL, VERSION, COLUMNS, TEXT, source="score",
                      flush_seconds=60, flush_rows=10**9, use_process=use_process)
    log.record(*_call(3))
    assert log.compact() == 3
    assert not _files(tmp_path, "seg-*.arrow") and len(_files(tmp_path, "part-*.parquet")) == 1
    log.close()
