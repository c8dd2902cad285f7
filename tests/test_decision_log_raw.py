"""Raw segments (`creditmine.monitoring.log_raw`): a big call is written as it came and read back as
exactly the rows a writer builds from it (bit for bit, whatever the column types), a call Arrow
cannot give back exactly takes the usual path, a call spanning months is split by month as the
store reckons it, nothing is written twice when a write fails, and the writer compacts raw
segments into Parquet by itself once idle."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from creditmine.monitoring.log import DecisionLog, DecisionLogError, recompute_digests
from creditmine.monitoring.log_raw import RAW_KEY, RAW_ROWS, built_rows, raw_tables
from creditmine.monitoring.log_rows import _Pending, build_batch
from creditmine.monitoring.store import ParquetDecisionStore

MODEL, VERSION = "creditmine-quick_loan", "3"
COLUMNS = ("application_id", "product", "requested_amount_cny", "enterprise_id", "region", "employees")
TEXT = {"application_id", "product", "enterprise_id", "region"}
NAN_PAYLOAD = np.array([0x7FF8000000000123], dtype="<u8").view("<f8")[0]


def _call(n: int, start: int = 0, applied="2025-03-02"):
    ids = [f"AP{start + i:07d}" for i in range(n)]
    inputs = pd.DataFrame({"application_id": ids, "product": "tax", "enterprise_id": [f"E{i % 7}" for i in range(n)],
                           "requested_amount_cny": np.arange(n, dtype=float) + 1e5, "region": "华东",
                           "employees": np.arange(n) % 50, "applied_at": applied, "unused": 1.0})
    outputs = pd.DataFrame({
        "application_id": ids, "pd": np.linspace(0.01, 0.3, n), "score": 600.0, "grade": np.arange(n) % 8 + 1,
        "decision": np.where(np.arange(n) % 3, "approve", "refer"), "credit_limit_cny": 1e5, "term_months": 12,
        **{f"reason_{i}_{lang}": f"reason {i}" for i in range(1, 5) for lang in ("en", "zh")}, "error": "",
    })
    return inputs, outputs


def _tricky(kind: str):
    inputs, outputs = _call(40)
    if kind == "blanks":
        inputs.loc[::3, "requested_amount_cny"] = np.nan
        inputs.loc[1, "requested_amount_cny"] = NAN_PAYLOAD            # an odd NaN is still the one blank
        inputs.loc[2, "requested_amount_cny"] = -0.0
        inputs["region"] = pd.Series(["华东", None, "", "x" * 40, "a\x00b"] * 8, dtype=object)
        outputs.loc[::5, "pd"] = np.nan
        outputs.loc[::4, "error"] = "requested_amount_cny: blank"
    elif kind == "text where a number belongs":
        inputs["employees"] = pd.Series(["12", " ", "abc", None] * 10, dtype=object)
        inputs["requested_amount_cny"] = pd.Series([f"{v:.2f}" for v in range(40)], dtype="str")
    elif kind == "extension types":
        inputs["employees"] = pd.array([1, None] * 20, dtype="Int64")
        inputs["region"] = pd.Categorical(["华东", "华北"] * 20)
        inputs["applied_at"] = pd.to_datetime(["2025-03-02", None] * 20)
        outputs["term_months"] = pd.array([12, None] * 20, dtype="Int64")
    elif kind == "dates as text, some unreadable":
        inputs["applied_at"] = ["2025-03-31", "2025-02-30", "", None, "2025-03-01"] * 8
    elif kind == "bools and missing columns":
        inputs["employees"] = np.arange(40) % 2 == 0
        inputs = inputs.drop(columns=["enterprise_id"])
    return _Pending(1_744_280_000.25, inputs, outputs, "score", "b1")


def _bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("kind", ["plain", "blanks", "text where a number belongs", "extension types",
                                  "dates as text, some unreadable", "bools and missing columns"])
def test_a_raw_segment_reads_back_as_exactly_the_rows_a_writer_builds(kind):
    record = _tricky(kind)
    expected = build_batch([record], MODEL, VERSION, COLUMNS, TEXT)
    tables = raw_tables(record, MODEL, VERSION, COLUMNS, TEXT)
    assert tables is not None
    built = pa.concat_tables([built_rows(table) for _, table in tables])
    order = pa.array(np.argsort(built["application_id"].to_numpy(zero_copy_only=False), kind="stable"))
    assert _bytes(built.take(order)) == _bytes(expected)            # bit for bit, NaN payloads and all
    assert "unused" not in tables[0][1].column_names and "i:unused" not in tables[0][1].column_names


def test_a_call_spanning_months_is_split_as_the_store_reckons_months(tmp_path):
    record = _tricky("dates as text, some unreadable")        # March, a date that is no date, blanks
    tables = raw_tables(record, MODEL, VERSION, COLUMNS, TEXT)
    decided = pd.Timestamp(record.decided_at, unit="s").strftime("%Y-%m")
    assert sorted(month for month, _ in tables) == sorted({"2025-03", decided})
    store = ParquetDecisionStore(tmp_path)
    store.append_raw(MODEL, VERSION, tables)
    raw = store.read(MODEL, VERSION)
    months = {p.parent.name for p in tmp_path.rglob("raw-*.arrow")}
    assert months == {f"month={month}" for month, _ in tables}
    reference = ParquetDecisionStore(tmp_path / "built")
    reference.append(build_batch([record], MODEL, VERSION, COLUMNS, TEXT))
    pd.testing.assert_frame_equal(raw.decisions, reference.read(MODEL, VERSION).decisions)
    assert store.compact() == 40 and not list(tmp_path.rglob("raw-*.arrow"))
    pd.testing.assert_frame_equal(store.read(MODEL, VERSION).decisions, raw.decisions)
    pd.testing.assert_frame_equal(store.read(MODEL, VERSION).inputs, raw.inputs)


@pytest.mark.parametrize("column, values", [
    ("employees", pd.Series([1, "two"] * 20, dtype=object)),           # a mix of types
    ("employees", pd.Series(list(range(40)), dtype=object)),           # numbers held as objects
    ("region", pd.Series([1.5, "华东"] * 20, dtype=object)),
])
def test_a_call_arrow_cannot_give_back_exactly_takes_the_usual_path(tmp_path, column, values):
    inputs, outputs = _call(RAW_ROWS)
    inputs[column] = pd.concat([values] * (RAW_ROWS // 40), ignore_index=True)
    assert raw_tables(_Pending(time.time(), inputs, outputs, "score"), MODEL, VERSION, COLUMNS, TEXT) is None
    log = DecisionLog(ParquetDecisionStore(tmp_path), MODEL, VERSION, COLUMNS, TEXT, source="score",
                      flush_seconds=60, flush_rows=10**9, use_process=False)
    log.record(inputs, outputs)
    assert log.flush() == RAW_ROWS
    assert not list(tmp_path.rglob("raw-*.arrow")) and list(tmp_path.rglob("seg-*.arrow"))
    log.close()
    logged = ParquetDecisionStore(tmp_path).read(MODEL, VERSION)
    assert len(logged) == RAW_ROWS


@pytest.mark.parametrize("use_process", [True, False])
def test_a_big_call_is_written_raw_then_compacted_into_the_same_rows(tmp_path, use_process):
    log = DecisionLog(ParquetDecisionStore(tmp_path), MODEL, VERSION, COLUMNS, TEXT, source="score",
                      flush_seconds=60, flush_rows=10**9, use_process=use_process)
    log.record(*_call(RAW_ROWS + 5))
    log.record(*_call(3, start=RAW_ROWS + 5))                     # a small call goes through the writer
    assert log.flush() == RAW_ROWS + 8
    assert len(list(tmp_path.rglob("raw-*.arrow"))) == 1 and len(list(tmp_path.rglob("seg-*.arrow"))) == 1
    before = ParquetDecisionStore(tmp_path).read(MODEL, VERSION)
    assert log.compact() == RAW_ROWS + 8
    assert not list(tmp_path.rglob("*.arrow")) and len(list(tmp_path.rglob("part-*.parquet"))) == 1
    log.close()
    after = ParquetDecisionStore(tmp_path).read(MODEL, VERSION)
    pd.testing.assert_frame_equal(before.decisions, after.decisions)
    pd.testing.assert_frame_equal(before.inputs, after.inputs)
    assert after.decisions.groupby("batch_id").size().sort_values().tolist() == [3, RAW_ROWS + 5]
    assert (recompute_digests(after.inputs[list(COLUMNS)]) == after.decisions["input_digest"].to_numpy()).all()


class _FailsOnce(ParquetDecisionStore):
    """A store whose `fail` next writes of one kind ("raw" or "built") fail, as a full disk would."""

    def __init__(self, folder, fail: dict):
        super().__init__(folder)
        self.fail = fail

    def append_raw(self, model, version, tables):
        written = super().append_raw(model, version, tables)
        if self.fail.get("raw", 0):
            self.fail["raw"] -= 1
            for path in written:
                path.unlink()
            raise OSError("No space left on device")
        return written

    def append(self, table):
        if self.fail.get("built", 0):
            self.fail["built"] -= 1
            raise OSError("No space left on device")
        return super().append(table)


@pytest.mark.parametrize("fail", [{"raw": 1}, {"built": 1}, {"raw": 1, "built": 2}])
def test_a_write_that_fails_keeps_what_was_not_written_and_writes_every_row_once(tmp_path, fail):
    store = _FailsOnce(tmp_path, dict(fail))
    log = DecisionLog(store, MODEL, VERSION, COLUMNS, TEXT, source="score", flush_seconds=60, flush_rows=10**9,
                      use_process=False)                          # the store's failures happen in this process
    log.record(*_call(RAW_ROWS))
    log.record(*_call(2, start=RAW_ROWS))
    log.record(*_call(RAW_ROWS, start=RAW_ROWS + 2))
    total = 2 * RAW_ROWS + 2
    for _ in range(sum(fail.values())):
        with pytest.raises(DecisionLogError, match="No space left"):
            log.flush()
    log.flush()
    assert log.rows_written == total
    log.close()
    ids = ParquetDecisionStore(tmp_path).read(MODEL, VERSION).decisions["application_id"]
    assert sorted(ids) == [f"AP{i:07d}" for i in range(total)]


def test_the_writer_process_compacts_raw_segments_once_idle(tmp_path):
    log = DecisionLog(ParquetDecisionStore(tmp_path), MODEL, VERSION, COLUMNS, TEXT, source="score",
                      flush_seconds=60, flush_rows=10**9)
    log.record(*_call(RAW_ROWS))
    assert log.flush() == RAW_ROWS and list(tmp_path.rglob("raw-*.arrow"))
    deadline = time.time() + 20
    while list(tmp_path.rglob("raw-*.arrow")) and time.time() < deadline:
        time.sleep(0.2)
    assert not list(tmp_path.rglob("raw-*.arrow")) and len(list(tmp_path.rglob("part-*.parquet"))) == 1
    log.close()
    assert len(ParquetDecisionStore(tmp_path).read(MODEL, VERSION)) == RAW_ROWS


class _Local(ParquetDecisionStore):
    """A store the writer process cannot receive (it holds a lambda)."""

    def __init__(self, folder):
        super().__init__(folder)
        self.hook = lambda: None


def test_a_store_the_writer_process_cannot_receive_is_compacted_here_at_close(tmp_path):
    log = DecisionLog(_Local(tmp_path), MODEL, VERSION, COLUMNS, TEXT, source="score", flush_seconds=60,
                      flush_rows=10**9)
    log.record(*_call(RAW_ROWS))
    log.record(*_call(2, start=RAW_ROWS))
    log.close()
    assert not list(tmp_path.rglob("*.arrow")) and len(list(tmp_path.rglob("part-*.parquet"))) == 1
    assert len(ParquetDecisionStore(tmp_path).read(MODEL, VERSION)) == RAW_ROWS + 2


@pytest.mark.parametrize("values", [
    pd.Series(["2025-03-02", "2025-03-31", None, "", "2025-02-30", "2025-03-02"]),
    pd.Series(["2025-03-02", "2025-03-31", None, "", "2025-02-30"], dtype="str"),
    pd.Series(["03/02/2025", "2025-03-31", "not a date"]),
    pd.Series([np.nan, "2025-03-02"], dtype=object),
    pd.Series([None, None], dtype=object),
    pd.Series([], dtype="str"),
    pd.to_datetime(pd.Series(["2025-03-02", None])),
    pd.to_datetime(pd.Series(["2025-03-02 23:00", None])).dt.tz_localize("Asia/Shanghai"),
])
def test_application_dates_parsed_once_per_distinct_value_are_what_pandas_makes_of_each_row(values):
    from creditmine.monitoring.log_rows import _dates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)            # pandas falls back to dateutil for odd text
        when = pd.to_datetime(values, errors="coerce")
        dates = _dates(values)
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_localize(None)
    expected = [None if pd.isna(t) else t.date() for t in when]
    assert dates.to_pylist() == expected


def test_a_call_without_a_decision_column_is_not_written_raw():
    inputs, outputs = _call(RAW_ROWS)
    record = _Pending(time.time(), inputs, outputs.drop(columns=["error"]), "score")
    assert raw_tables(record, MODEL, VERSION, COLUMNS, TEXT) is None     # the usual path raises now


def test_an_edited_raw_segment_is_named_by_the_reader_and_kept(tmp_path):
    store = ParquetDecisionStore(tmp_path)
    store.append_raw(MODEL, VERSION, raw_tables(_tricky("plain"), MODEL, VERSION, COLUMNS, TEXT))
    [path] = tmp_path.rglob("raw-*.arrow")
    table = pa.ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
    metadata = json.loads(table.schema.metadata[RAW_KEY])
    metadata["outputs"]["order"].remove("decision")                    # a column taken out by hand
    edited = table.replace_schema_metadata({RAW_KEY: json.dumps(metadata).encode()})
    with pa.ipc.new_file(path, edited.schema) as writer:
        writer.write_table(edited)
    for step in (lambda: store.read(MODEL, VERSION), store.compact):
        with pytest.raises(ValueError, match=f"{path.name}: the decisions of this raw segment cannot be built"):
            step()
    assert path.exists() and not list(tmp_path.rglob("part-*.parquet"))     # kept, as it is
