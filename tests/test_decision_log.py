"""The decision log's promises: nothing lost when the store fails (the rows stay queued, flush
raises, a later flush writes them), record refuses once `max_backlog` rows wait, a store that
cannot travel is written in this process, a call of many rows keeps one batch id, and the
logged rows are the caller's rows as they were when recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditmine.monitoring.log import DecisionLog, DecisionLogError, recompute_digests
from creditmine.monitoring.store import ParquetDecisionStore

COLUMNS = ("application_id", "product", "requested_amount_cny", "enterprise_id")
TEXT = {"application_id", "product", "enterprise_id"}


def _call(n: int, start: int = 0):
    ids = [f"AP{start + i:06d}" for i in range(n)]
    inputs = pd.DataFrame({"application_id": ids, "product": "tax", "enterprise_id": "E1",
                           "requested_amount_cny": np.arange(n, dtype=float) + 1e5, "applied_at": "2025-03-02"})
    outputs = pd.DataFrame({
        "application_id": ids, "pd": 0.05, "score": 600.0, "grade": 3, "decision": "approve",
        "credit_limit_cny": 1e5, "term_months": 12,
        **{f"reason_{i}_{lang}": "" for i in range(1, 5) for lang in ("en", "zh")}, "error": "",
    })
    return inputs, outputs


def _log(store, **kwargs) -> DecisionLog:
    return DecisionLog(store, "creditmine-quick_loan", "3", COLUMNS, TEXT, source="score", flush_seconds=60,
                       flush_rows=10**9, **kwargs)              # written when flushed, not by the writer thread


@pytest.mark.parametrize("use_process", [True, False])
def test_a_failing_store_loses_nothing_and_flush_raises_until_it_takes_the_rows(tmp_path, use_process):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    store = ParquetDecisionStore(blocked / "decisions")        # cannot be made: a file is in the way
    log = _log(store, use_process=use_process)
    big = 10_007
    log.record(*_call(big))
    log.record(*_call(1, start=big))
    with pytest.raises(DecisionLogError, match="not-a-folder"):
        log.flush()
    assert log.rows_written == 0
    store.folder = tmp_path / "decisions"
    assert log.flush() == big + 1
    log.close()
    logged = ParquetDecisionStore(tmp_path / "decisions").read("creditmine-quick_loan", "3")
    assert len(logged) == big + 1
    assert sorted(logged.decisions["application_id"]) == [f"AP{i:06d}" for i in range(big + 1)]
    assert logged.decisions.groupby("batch_id").size().sort_values().tolist() == [1, big]   # one id per call
    assert (recompute_digests(logged.inputs[list(COLUMNS)]) == logged.decisions["input_digest"].to_numpy()).all()


def test_record_refuses_new_decisions_once_max_backlog_rows_wait(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    log = _log(ParquetDecisionStore(blocked / "decisions"), use_process=False, max_backlog=5)
    log.record(*_call(3))
    with pytest.raises(DecisionLogError):
        log.flush()
    log.record(*_call(3, start=3))                                    # 3 wait: still taken
    with pytest.raises(DecisionLogError, match="6 decisions wait unwritten"):
        log.record(*_call(1, start=6))
    with pytest.raises(DecisionLogError):
        log.close()
    log.store.folder = tmp_path / "decisions"
    assert log.flush() == 6


class _Local(ParquetDecisionStore):
    """A store the writer process cannot receive (it holds a lambda)."""

    def __init__(self, folder):
        super().__init__(folder)
        self.hook = lambda: None


def test_a_store_that_cannot_travel_is_written_in_this_process(tmp_path):
    log = _log(_Local(tmp_path / "decisions"))
    log.record(*_call(10))
    assert log.flush() == 10
    assert log.compact() == 10                                        # compacted here too
    log.close()
    assert len(ParquetDecisionStore(tmp_path / "decisions").read("creditmine-quick_loan", "3")) == 10


def test_the_log_keeps_the_rows_as_they_were_when_recorded(tmp_path):
    log = _log(ParquetDecisionStore(tmp_path / "decisions"))
    inputs, outputs = _call(4)
    log.record(inputs, outputs)
    inputs.loc[0, "requested_amount_cny"] = -1.0                   # the caller changes its frames later
    outputs.loc[0, "decision"] = "decline"
    log.close()
    with pytest.raises(DecisionLogError, match="closed"):
        log.record(*_call(1))
    logged = ParquetDecisionStore(tmp_path / "decisions").read("creditmine-quick_loan", "3")
    first = logged.decisions["application_id"] == "AP000000"
    assert logged.inputs.loc[first.to_numpy(), "requested_amount_cny"].tolist() == [1e5]
    assert logged.decisions.loc[first, "decision"].tolist() == ["approve"]
