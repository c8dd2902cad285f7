"""The decision server answers what `mlflow models serve` answers, byte for byte, on its fast path.

A small JSON table is decided from the parsed values (`creditmine.decision.rows.ParsedRows`), not
from a DataFrame; these tests hold it to MLflow's own `invocations` on the same model and body:
well-formed rows, every kind of bad value, records with missing keys, and the bodies the fast
path hands to MLflow (large tables, ``inputs``, CSV, malformed JSON). Then the HTTP routes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

import factories
from creditmine import config
from creditmine.decision.rows import ParsedRows, infer_kind
from creditmine.decision.server import (
    FAST_ROWS,
    Invocations,
    ScoringApp,
    parse_table,
    predictions_json,
)

JSON = "application/json"


@pytest.fixture(scope="module")
def served():
    """A decision model loaded as MLflow loads it (PyFuncModel over DecisionPyfunc), and rows."""
    from mlflow.models import Model
    from mlflow.pyfunc import PyFuncModel

    from creditmine.decision.loader import DecisionPyfunc
    from creditmine.decision.model import DecisionEngine
    from creditmine.explain.reasons import ReasonCoder
    from creditmine.features.catalog import synthetic_catalog
    from creditmine.models import GbmModel, MasterScale

    apps = factories.synthetic_applications(3000, seed=31)
    model = GbmModel(categorical_features=("product", "industry_section"), max_iter=30, search_trials=0,
                     min_samples_leaf=40, grading=MasterScale(grades=7), random_state=0)
    model.fit(apps[factories.MODEL_FEATURES], apps["default_12m"])
    catalog = synthetic_catalog()
    product = config.load(config.project_root() / "params" / "ci.yaml").product("quick_loan")
    engine = DecisionEngine(model, ReasonCoder(catalog, top_k=4).fit(model), product, catalog)
    engine.warm_up()
    pyfunc = PyFuncModel(model_meta=Model(), model_impl=DecisionPyfunc(engine, {}))
    rows = factories.synthetic_applications(200, seed=32).drop(columns=["default_12m"])
    rows["applied_at"] = rows["applied_at"].dt.strftime("%Y-%m-%d")
    return pyfunc, rows


def _split(frame: pd.DataFrame) -> dict:
    data = frame.astype(object).where(frame.notna(), None).values.tolist()
    return {"dataframe_split": {"columns": list(frame.columns), "data": data}}


def _records(frame: pd.DataFrame) -> dict:
    return {"dataframe_records": frame.astype(object).where(frame.notna(), None).to_dict(orient="records")}


def _mlflow_reply(model, body: bytes, content_type: str = JSON) -> tuple[int, bytes]:
    """What MLflow's scoring server answers (its own function, as its route calls it)."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    try:
        result = scoring_server.invocations(body, content_type, model, model.metadata.get_input_schema())
    except MlflowException as exc:
        return exc.get_http_status_code(), exc.serialize_as_json().encode()
    return result.status, result.response.encode()


def _same_as_mlflow(model, payload, content_type: str = JSON, fast: bool = True) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    rows = parse_table(body, content_type)
    assert (rows is not None) == fast
    status, expected = _mlflow_reply(model, body, content_type)
    if fast:  # the fast path itself, not a fallback to MLflow's after an error
        assert status == 200 and predictions_json(model._model_impl.engine_.decide_columns(rows)) == expected
    reply = Invocations(model)(body, content_type)
    assert (reply.status, reply.body) == (status, expected)
    return reply.body


# -- kinds ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [
    [None, None], [float("nan")], [None, float("nan")], [1, 2], [1, None], [1, 2.5], [True, False],
    [True, None], [True, 1], ["a", "b"], ["a", None], ["a", 1], [2**63], [2**64], [-1, 2**63],
    [-1, 2**63, None], [-(2**63) - 1], [[1], [2]], [{"a": 1}, None], [float("inf")], [float("nan"), True],
    [1.5, "2"], [0, 1], [None, 0.0, 1],
])
def test_column_kinds_are_the_kinds_of_the_dtypes_pandas_infers(values):
    from creditmine.decision.columns import _kind

    frame = pd.DataFrame(columns=["c"], data=[[v] for v in values])
    assert infer_kind(values) == _kind(frame["c"].dtype)


def test_records_take_the_columns_in_order_and_nan_for_a_missing_key():
    records = [{"b": 1, "a": 2}, {"c": True, "a": None}, {"d": None}]
    rows = ParsedRows.from_records(records)
    frame = pd.DataFrame(records)
    assert list(rows.columns) == list(frame.columns)
    assert rows.kinds == {"b": "float", "a": "float", "c": "other", "d": "float"}
    assert pd.isna(rows.values[0, 2]) and rows.values[1, 2] is True


# -- decisions: the fast path against MLflow's ----------------------------------------------------
def test_one_application_is_decided_as_mlflow_decides_it(served):
    model, rows = served
    for i in range(20):
        body = _same_as_mlflow(model, _split(rows.iloc[[i]]))
        _same_as_mlflow(model, _records(rows.iloc[[i]]))
    decided = json.loads(body)["predictions"][0]
    in_process = model.predict(rows.iloc[[19]]).iloc[0]
    assert decided["application_id"] == in_process["application_id"]
    assert decided["decision"] == in_process["decision"] and np.isclose(decided["pd"], in_process["pd"])


def test_a_table_up_to_the_fast_limit_and_beyond_it(served):
    model, rows = served
    _same_as_mlflow(model, _split(rows.iloc[:FAST_ROWS]))
    _same_as_mlflow(model, _records(rows.iloc[:FAST_ROWS]))
    _same_as_mlflow(model, _split(rows.iloc[:FAST_ROWS + 1]), fast=False)


@pytest.mark.parametrize("column, values", [
    ("requested_amount_cny", ["12,5", "1.234,56", "lots", -100, 0, "1234.5", True, None, float("inf"), 2**70]),
    ("term_months", ["twelve", 12.5, 0, "12", None, False]),
    ("specialized_innovative", [True, "yes", "no", 1, 0, 2, 2.0, "maybe", None, float("nan")]),
    ("product", ["mortgage", 17, None, "", "tax"]),
    ("industry_section", [17, 17.0, None, "Z", "", True]),
    ("enterprise_age_years", ["7", "7,5", None, float("inf"), float("-inf"), True, [1], {"a": 1}, 2**64]),
    ("taxable_sales_12m", [-1.0, None, "n/a", float("nan")]),
    ("application_id", [17, 17.0, None, "", 1e20]),
])
def test_every_kind_of_bad_value_gets_mlflows_answer(served, column, values):
    model, rows = served
    frame = rows.iloc[:len(values)].astype(object).reset_index(drop=True)
    for i, value in enumerate(values):
        frame.at[i, column] = value
    payload = {"dataframe_split": {"columns": list(frame.columns),
                                   "data": frame.where(frame.notna(), None).values.tolist()}}
    for i, value in enumerate(values):     # where() turned the NaN and inf test values into None
        payload["dataframe_split"]["data"][i][frame.columns.get_loc(column)] = value
    _same_as_mlflow(model, payload)
    for i in range(len(values)):          # one bad row alone: the kind of its column changes
        one = {"dataframe_split": {"columns": payload["dataframe_split"]["columns"],
                                   "data": [payload["dataframe_split"]["data"][i]]}}
        _same_as_mlflow(model, one)


def test_a_few_rows_read_in_one_block_are_read_as_many_rows_are(served):
    model, rows = served
    engine = model._model_impl.engine_
    frame = rows.iloc[:100].astype(object).reset_index(drop=True)
    frame.loc[::7, "enterprise_age_years"] = np.inf
    frame.loc[3::9, "taxable_sales_12m"] = "12,5"
    frame.loc[5::11, "invoiced_sales_12m"] = None
    frame.loc[6::13, "requested_amount_cny"] = -1.0
    many = engine.decide(frame)                                  # column by column (over 64 rows)
    # one row at a time, typed as pandas types it (numbers as float64: read in one block)
    singles = [frame.iloc[[i]].infer_objects() for i in range(len(frame))]
    assert (singles[1].dtypes == "float64").sum() >= 10
    one_by_one = pd.concat([engine.decide(single) for single in singles], ignore_index=True)
    pd.testing.assert_frame_equal(one_by_one, many)
    assert many["error"].str.contains("enterprise_age_years must be finite; got inf").sum() == 15


def test_missing_fields_repeated_ids_and_records_without_some_keys(served):
    model, rows = served
    _same_as_mlflow(model, _split(rows.iloc[:3].drop(columns=["enterprise_age_years", "product"])))
    twice = rows.iloc[[0, 1, 0]]
    _same_as_mlflow(model, _split(twice))
    records = _records(rows.iloc[:4])
    del records["dataframe_records"][1]["taxable_sales_12m"]
    del records["dataframe_records"][2]["specialized_innovative"]
    records["dataframe_records"][3] = {"application_id": "only-an-id"}
    _same_as_mlflow(model, records)
    _same_as_mlflow(model, {"dataframe_split": {"columns": ["application_id"], "data": [[None]]}})


def test_other_bodies_go_through_mlflow(served):
    model, rows = served
    frame = rows.iloc[:2]
    inputs = {"inputs": {c: frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in frame}}
    _same_as_mlflow(model, inputs, fast=False)
    split = _split(frame)
    _same_as_mlflow(model, {**split, "params": {"a": 1}}, fast=False)
    _same_as_mlflow(model, {"dataframe_split": {**split["dataframe_split"], "index": [5, 6]}}, fast=False)
    _same_as_mlflow(model, json.dumps(split).encode(), "application/json; charset=latin-1", fast=False)
    _same_as_mlflow(model, b"{not json", fast=False)
    _same_as_mlflow(model, b"[1, 2]", fast=False)
    _same_as_mlflow(model, {"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}, fast=False)
    _same_as_mlflow(model, {"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, fast=False)
    _same_as_mlflow(model, {"dataframe_records": [[1, 2]]}, fast=False)
    _same_as_mlflow(model, frame.to_csv(index=False).encode(), "text/csv", fast=False)
    reply = Invocations(model)(b"a,b\n1,2\n", "text/plain")
    assert reply.status == 415 and b"only supports" in reply.body


# -- HTTP ----------------------------------------------------------------------------------------
def _asgi(app, method: str, path: str, body: bytes = b"", content_type: str = JSON) -> tuple[int, dict, bytes]:
    sent = []
    chunks = [body[:10], body[10:]]

    async def receive():
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [(b"content-type", content_type.encode())]}
    asyncio.run(app(scope, receive, send))
    headers = dict(sent[0]["headers"])
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_routes_of_mlflows_scoring_server(served, monkeypatch):
    import mlflow

    model, rows = served
    app = ScoringApp(Invocations(model))
    for path in ("/ping", "/health"):
        assert _asgi(app, "GET", path) == (200, {b"content-type": b"application/json", b"content-length": b"1"}, b"\n")
    assert _asgi(app, "GET", "/version")[2] == mlflow.__version__.encode()
    assert _asgi(app, "GET", "/nowhere")[0] == 404
    assert _asgi(app, "GET", "/invocations")[0] == 405
    body = json.dumps(_split(rows.iloc[:2])).encode()
    status, headers, answer = _asgi(app, "POST", "/invocations", body)
    assert status == 200 and headers[b"content-type"] == b"application/json"
    assert answer == _mlflow_reply(model, body)[1]
    from creditmine.decision import server

    monkeypatch.setattr(server, "INLINE_BYTES", 0)     # a large body: decided on the model's thread
    assert _asgi(app, "POST", "/invocations", body)[2] == answer


def test_the_server_answers_on_loopback(served):
    import socket

    import uvicorn

    model, rows = served
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(ScoringApp(Invocations(model)), host="127.0.0.1", port=port,
                                           lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        body = json.dumps(_split(rows.iloc[[7]])).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": JSON})
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.read() == _mlflow_reply(model, body)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=30) as reply:
            assert reply.status == 200
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# -- `creditmine serve`: the gate, then the same decisions as in process --------------------------
@pytest.fixture(scope="module")
def champion(tmp_path_factory, quick_loan_stages):
    root = tmp_path_factory.mktemp("serve_fast") / "project"
    root.mkdir()
    from creditmine.decision.score import tracking_store

    with tracking_store(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"):
        cfg, name, version, _, _ = factories.approved_champion(root, quick_loan_stages)
    return cfg, name, version


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_creditmine_serve_decides_as_in_process_scoring(champion, tmp_path):
    import os
    import subprocess
    import sys

    from creditmine import artifacts
    from creditmine.decision.score import load_decision_model, tracking_store

    cfg, name, _ = champion
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed with the server, below
    server = subprocess.Popen(
        [sys.executable, "-m", "creditmine.cli", "serve", "--model", f"models:/{name}@champion",
         "--port", str(port), "--tracking-uri", cfg.tracking_uri],
        stdout=log, stderr=subprocess.STDOUT, env=factories.creditmine_env(), start_new_session=True)
    try:
        with tracking_store(cfg.tracking_uri):
            model = load_decision_model(f"models:/{name}@champion", cfg.tracking_uri)
        apps = artifacts.read_features(artifacts.layout(cfg)).drop(columns=["split"]).iloc[:100]
        apps["applied_at"] = apps["applied_at"].dt.strftime("%Y-%m-%d")
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "creditmine serve did not start"
                time.sleep(0.3)
        for frame in (apps.iloc[[4]], apps.iloc[:20], apps):    # the fast path; over 64 rows, MLflow's
            body = json.dumps(_split(frame)).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                             headers={"Content-Type": JSON})
            with urllib.request.urlopen(request, timeout=60) as reply:
                answer = reply.read()
            assert answer == _mlflow_reply(model, body)[1]        # MLflow's answer from the in-process model
            decided = pd.DataFrame(json.loads(answer)["predictions"])
            expected = model.predict(frame)
            assert list(decided.columns) == list(expected.columns)
            pd.testing.assert_frame_equal(decided, expected, check_dtype=False)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()
    # every served decision, the fast path's too, is in the decision log (written when the server stops)
    from creditmine.monitoring.store import open_store

    logged = open_store(cfg.tracking_uri).read(name, champion[2]).decisions
    served = logged[logged["source"] == "serve"]
    assert len(served) == 1 + 20 + len(apps), (tmp_path / "serve.log").read_text()[-2000:]
    assert set(served["application_id"]) == set(apps["application_id"].astype(str))


@pytest.mark.slow
def test_creditmine_serve_refuses_a_champion_the_review_did_not_promote(champion):
    import subprocess
    import sys

    import mlflow

    from creditmine.decision.score import tracking_store
    from creditmine.governance.stage import run as register

    cfg, name, version = champion
    with tracking_store(cfg.tracking_uri):
        pending = register(cfg, "quick_loan", progress=False).version
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.tracking_uri)
    client.set_registered_model_alias(name, "champion", pending.version)     # the plain client, no review
    try:
        refused = subprocess.run([sys.executable, "-m", "creditmine.cli", "serve", "--model",
                                  f"models:/{name}@champion", "--tracking-uri", cfg.tracking_uri],
                                 capture_output=True, text=True, timeout=120, env=factories.creditmine_env(),
                                 check=False)
    finally:
        client.set_registered_model_alias(name, "champion", version)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"refused to serve models:/{name}@champion" in refused.stderr and "not approved" in refused.stderr
