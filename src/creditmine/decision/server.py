"""The served decision model: MLflow's invocation protocol, without MLflow's per-request overhead.

`creditmine serve` loads the gate's verified local copy of an approved version (the loader checks
the files again) and serves it with this module on uvicorn. It speaks the protocol of
`mlflow models serve`:

- ``POST /invocations``: JSON (``dataframe_split``, ``dataframe_records``, ``inputs``,
  ``instances``), CSV or Parquet; the answer is ``{"predictions": [...]}``, one object per
  application with the decision columns (`creditmine.decision.model.OUTPUT_COLUMNS`), byte for
  byte what MLflow's server writes, or MLflow's own error for a body it refuses;
- ``GET /ping`` and ``GET /health``: 200 once the model is loaded; ``GET /version``: MLflow's
  version.

Where MLflow's scoring server spends its time on one application, besides the decision: building
a pandas DataFrame from the JSON (type inference on every one of ~110 columns), reading it back
into arrays, building the output DataFrame and turning it into records
(`DataFrame.to_dict(orient="records")` and JSON with a Python-level encoder), plus FastAPI's
middleware and a thread hop per request. Here, a JSON table of up to `FAST_ROWS` rows is read as
parsed (`creditmine.decision.rows.ParsedRows`: each column's kind inferred as pandas infers its
dtype, so validation reads the same values), the engine returns arrays
(`DecisionEngine.decide_columns`), and the records are written straight from them. Every other
body (larger tables, ``inputs``, CSV, Parquet, ``params``, anything malformed) goes through
MLflow's own `invocations`, so it is accepted, decided or refused exactly as `mlflow models serve`
does. Model calls are serialised (one at a time, as the engine's thread limits assume).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from creditmine.decision.rows import ParsedRows

__all__ = ["FAST_ROWS", "Invocations", "Reply", "ScoringApp", "predictions_json", "serve"]

#: Tables up to this many rows take the fast path (one decision is what a user waits for).
FAST_ROWS = 64
#: Bodies up to this size are decided on the event loop's thread (no thread hop); larger ones on
#: the model's own thread, so that /ping keeps answering during a large batch.
INLINE_BYTES = 256 * 1024
_JSON = "application/json"
_FORMATS = ("dataframe_split", "dataframe_records")
_logger = logging.getLogger(__name__)


class Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes


_NOT_ALLOWED = Reply(405, _JSON, b'{"detail":"Method Not Allowed"}')


class Invocations:
    """``POST /invocations`` of a loaded decision model (`mlflow.pyfunc.load_model` of its copy)."""

    def __init__(self, model):
        from creditmine.decision.loader import DecisionPyfunc

        impl = model._model_impl  # MLflow's stable developer API for the loaded model object
        if not isinstance(impl, DecisionPyfunc):
            raise TypeError(f"not a creditmine decision model: {type(impl).__name__}")
        self.model = model
        self.engine = impl.engine_
        self.log = getattr(impl, "log_", None)  # the decision log (None: off); the fast path records too
        self.input_schema = model.metadata.get_input_schema()
        self._lock = threading.Lock()

    def __call__(self, body: bytes, content_type: str | None) -> Reply:
        rows = parse_table(body, content_type)
        if rows is not None:
            try:
                with self._lock:
                    out = self.engine.decide_columns(rows)
                if self.log is not None:
                    import pandas as pd

                    self.log.record(rows.frame(), pd.DataFrame(out))
                return Reply(200, _JSON, predictions_json(out))
            except Exception:  # MLflow's path gives its own answer for this body
                _logger.exception("the fast path failed; answering through MLflow's parser")
        return self.through_mlflow(body, content_type)

    def close(self) -> None:
        """Write what the decision log holds (once; a later call does nothing)."""
        if self.log is not None:
            self.log.close()
            logging.getLogger("uvicorn.error").info("decision log: %s decisions written to %s", self.log.rows_written,
                                                    self.log.store)
            self.log = None

    def through_mlflow(self, body: bytes, content_type: str | None) -> Reply:
        """What `mlflow models serve` answers for this body (its parser, predict and encoder)."""
        from mlflow.exceptions import MlflowException
        from mlflow.pyfunc import scoring_server

        try:
            with self._lock:
                result = scoring_server.invocations(body, content_type or "", self.model, self.input_schema)
        except MlflowException as exc:
            return Reply(exc.get_http_status_code(), _JSON, exc.serialize_as_json().encode())
        except Exception:  # as MLflow's server does: logged, and a bare 500
            _logger.exception("invocation failed")
            return Reply(500, "text/plain; charset=utf-8", b"Internal Server Error")
        content_type = result.mimetype if result.mimetype == _JSON else f"{result.mimetype}; charset=utf-8"
        return Reply(result.status, content_type, result.response.encode())


def parse_table(body: bytes, content_type: str | None) -> ParsedRows | None:
    """The rows of a small JSON table body (``dataframe_split`` or ``dataframe_records``, at most
    `FAST_ROWS` rows, nothing else in the body); None for any other body."""
    if not content_type:
        return None
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    if mime != _JSON:
        return None
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key != "charset" or value.lower() != "utf-8":
            return None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    (key, table), = payload.items()
    if key == "dataframe_split" and isinstance(table, dict) and len(table.get("data") or ()) <= FAST_ROWS:
        return ParsedRows.from_split(table)
    if key == "dataframe_records" and isinstance(table, list) and len(table) <= FAST_ROWS:
        return ParsedRows.from_records(table)
    return None


def predictions_json(out: dict) -> bytes:
    """``{"predictions": [records]}`` as MLflow's server writes a DataFrame of these columns
    (`DataFrame.to_dict(orient="records")`, then `json.dump`: NaN for a missing number)."""
    names = list(out)
    records = [dict(zip(names, values)) for values in zip(*(out[name].tolist() for name in names))]
    return json.dumps({"predictions": records}).encode()


class ScoringApp:
    """The ASGI application: /invocations, /ping, /health and /version."""

    def __init__(self, invocations: Invocations, version: str | None = None):
        if version is None:
            import mlflow

            version = mlflow.__version__
        self.invocations = invocations
        self.version = version.encode()
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="creditmine-model")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.invocations.close)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path in ("/ping", "/health", "/version"):
            if method not in ("GET", "HEAD"):
                await _send(send, _NOT_ALLOWED)
                return
            body = self.version if path == "/version" else b"\n"
            await _send(send, Reply(200, _JSON, b"" if method == "HEAD" else body))
        elif path == "/invocations":
            if method != "POST":
                await _send(send, _NOT_ALLOWED)
                return
            body = await _body(receive)
            content_type = _header(scope, b"content-type")
            if len(body) <= INLINE_BYTES:
                reply = self.invocations(body, content_type)
            else:
                loop = asyncio.get_running_loop()
                reply = await loop.run_in_executor(self._model_thread, self.invocations, body, content_type)
            await _send(send, reply)
        else:
            await _send(send, Reply(404, _JSON, b'{"detail":"Not Found"}'))


def serve(model, host: str = "127.0.0.1", port: int = 5001, access_log: bool = False) -> None:
    """Serve a loaded decision model until interrupted (uvicorn, one process)."""
    import uvicorn

    invocations = Invocations(model)
    try:
        uvicorn.Server(uvicorn.Config(ScoringApp(invocations), host=host, port=port, lifespan="on",
                                      access_log=access_log, log_level="info")).run()
    finally:
        invocations.close()


async def _lifespan(receive, send, on_shutdown) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # uvicorn re-raises SIGTERM once shut down, which ends the process before atexit: the
            # decision log is written here, while the process still runs
            on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _body(receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _send(send, reply: Reply) -> None:
    await send({"type": "http.response.start", "status": reply.status, "headers": [
        (b"content-type", reply.content_type.encode()), (b"content-length", str(len(reply.body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": reply.body})
