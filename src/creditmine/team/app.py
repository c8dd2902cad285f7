"""The team server: MLflow's tracking server with its basic-auth app, and the review rules inside it.

`mlflow server --app-name creditmine` (entry point group ``mlflow.app``) runs `create_app`: MLflow's
basic-auth app (accounts and permissions in PostgreSQL), plus

- a guard that refuses, for every account, the HTTP writes that would change review state
  (`creditmine.team.guard`), recording each refused attempt in the audit trail;
- creditmine's endpoints under ``/api/2.0/creditmine/``: ``register``, ``approve``, ``reject``,
  ``promote``, ``rollback`` (POST), ``trail``, ``public-key``, ``whoami`` (GET). They run the
  review rules (`creditmine.governance.service`) as the authenticated account, on the server's own
  stores (no HTTP, so no client can skip them), with the trail in PostgreSQL (`trail_db`).

The server reads its settings from the environment `creditmine team up` gives it:
CREDITMINE_TEAM_FILE (accounts and roles), CREDITMINE_TEAM_DIR (its key), CREDITMINE_TRAIL_DSN
(the trail's database role).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

__all__ = ["ENDPOINTS", "create_app"]

ENV_TEAM_FILE, ENV_TEAM_DIR, ENV_TRAIL_DSN = "CREDITMINE_TEAM_FILE", "CREDITMINE_TEAM_DIR", "CREDITMINE_TRAIL_DSN"
PREFIX = "/api/2.0/creditmine"
ENDPOINTS = {
    "register": "POST", "approve": "POST", "reject": "POST", "promote": "POST", "rollback": "POST",
    "trail": "GET", "public-key": "GET", "whoami": "GET", "monitor": "POST",
}


def create_app():
    """The Flask (or, under uvicorn, FastAPI) app of the team server."""
    from flask import Blueprint
    from mlflow.server import app as flask_app
    from mlflow.server import auth as mlflow_auth

    blueprint = Blueprint("creditmine", __name__)
    for name, method in ENDPOINTS.items():
        blueprint.add_url_rule(f"{PREFIX}/{name}", f"creditmine_{name.replace('-', '_')}",
                               functools.partial(_endpoint, name), methods=[method])
        # basic-auth is fail-closed: a route needs a validator; ours check the rules themselves
        mlflow_auth.BEFORE_REQUEST_VALIDATORS[(f"{PREFIX}/{name}", method)] = mlflow_auth._allow_authenticated
    flask_app.register_blueprint(blueprint)
    _share_new_experiments_with_developers(mlflow_auth)
    app = mlflow_auth.create_app(flask_app)
    # The guards run before MLflow's permission checks, so that every refused write is refused
    # with the guard's reason and recorded, whatever the account's MLflow permissions; each
    # authenticates the caller itself before refusing (no credentials: 401, nothing recorded).
    flask_app.before_request_funcs.setdefault(None, []).insert(0, _flask_guard)
    if app is not flask_app:                      # under uvicorn: artifact uploads bypass Flask
        from starlette.middleware import Middleware
        from starlette.middleware.base import BaseHTTPMiddleware

        # first, so outermost: before basic-auth's middleware and before Flask-delegated routes
        app.user_middleware.insert(0, Middleware(BaseHTTPMiddleware, dispatch=_asgi_guard))
    return app


def _share_new_experiments_with_developers(mlflow_auth) -> None:
    """An experiment a developer creates is editable by every developer of the team (MLflow gives
    its creator MANAGE and everyone else the default READ): the team's pipelines share one
    experiment per product. What backs a registered version stays closed to all (the guard)."""
    creator_grant = mlflow_auth.set_can_manage_experiment_permission

    def grant(resp):
        creator_grant(resp)
        import logging

        experiment_id = (resp.get_json(silent=True) or {}).get("experiment_id")
        creator = mlflow_auth.authenticate_request().username
        for developer in _roles().developers:
            if developer == creator or not experiment_id:
                continue
            try:
                mlflow_auth.store.grant_user_permission(developer, "experiment", str(experiment_id), "EDIT")
            except Exception:
                logging.getLogger("creditmine.team").warning("could not share experiment %s with %s",
                                                             experiment_id, developer, exc_info=True)

    for key, handler in list(mlflow_auth.AFTER_REQUEST_HANDLERS.items()):
        if handler is creator_grant:
            mlflow_auth.AFTER_REQUEST_HANDLERS[key] = grant


# -- the endpoints --------------------------------------------------------------------------------

def _endpoint(name: str):
    from flask import g, jsonify, request

    from creditmine.governance.service import ReviewRefused
    from creditmine.registry.keys import public_pem

    actor = getattr(g, "mlflow_authenticated_user", None)
    try:
        if name == "whoami":
            roles = _roles()
            return jsonify(user=actor, developer=roles.is_developer(actor), validator=roles.is_validator(actor))
        if name == "trail":
            return jsonify(entries=_trail().entries())
        if name == "public-key":
            return jsonify(pem=public_pem(_trail().public_keys()[0]).decode("ascii"))
        body = request.get_json(silent=True, force=True) or {}
        service = _service(actor)
        if name == "register":
            # (a non-developer is refused by the rules themselves, for that reason)
            outside = _roles().is_developer(actor) and _outside_store(str(body.get("run_id", "")),
                                                                       str(body.get("model_id", "")))
            if outside:
                return _refuse(actor, "register", str(body.get("model", "")), outside)
            entry = service.register(str(body.get("model", "")), str(body.get("run_id", "")),
                                     str(body.get("model_id", "")), str(body.get("product", "")),
                                     str(body.get("run_name", "")))
        elif name in ("approve", "reject"):
            entry = getattr(service, name)(str(body.get("model", "")), body.get("version"), str(body.get("comment", "")))
        elif name == "promote":
            entry = service.promote(str(body.get("model", "")), body.get("version"), str(body.get("comment", "")))
        elif name == "monitor":
            from creditmine.monitoring.team_routes import record

            entry = record(service, body)
        else:
            entry = service.rollback(str(body.get("model", "")), str(body.get("comment", "")), body.get("version"))
        return jsonify(entry=entry)
    except ReviewRefused as exc:
        return _forbidden(str(exc))
    except Exception as exc:
        import logging

        logging.getLogger("creditmine.team").exception("creditmine %s failed", name)
        response = jsonify(error_code="INTERNAL_ERROR", message=f"creditmine {name} failed: {type(exc).__name__}: {exc}"[:500])
        response.status_code = 500
        return response


def _outside_store(run_id: str, model_id: str) -> str | None:
    """Why a run or logged model cannot be registered here: its files are not in this server's
    artifact store (``mlflow-artifacts:/``), so clients could change them without the server
    seeing the write (an experiment created with a local or shared-folder artifact location).
    None when both are in the store, or when either cannot be read (the review rules say so)."""
    from urllib.parse import urlparse

    from creditmine.registry.ports import ServerRegistry

    registry = ServerRegistry()
    try:
        where = {f"run {run_id}": registry.run_artifact_uri(run_id),
                 f"logged model {model_id}": registry.model_location(model_id)}
    except Exception:  # noqa: BLE001 - unknown run or model: ReviewService.register refuses it, naming it
        return None
    for what, uri in where.items():
        parsed = urlparse(uri)
        if parsed.scheme != "mlflow-artifacts" or parsed.netloc:
            return (f"{what} keeps its artifacts at {uri}, outside the team server's artifact store; only "
                    "runs and models stored through the server (mlflow-artifacts:/) can be registered, since "
                    "files elsewhere change without the server seeing it (create the experiment without an "
                    "artifact location)")
    return None


def _refuse(actor: str | None, action: str, model: str, reason: str):
    """Record a refused review action (who, what, why) and answer 403 with the reason."""
    from creditmine.registry.trail import REFUSED

    try:
        with _trail().transaction() as tx:
            tx.append(REFUSED, model or "-", None, actor or "unknown", reason, {"attempted": action})
    except Exception:  # noqa: BLE001 - the refusal stands even if recording it fails
        pass
    return _forbidden(reason)


def _service(actor: str):
    from creditmine.governance.service import ReviewService
    from creditmine.registry.ports import ServerRegistry

    return ReviewService(ServerRegistry(), _trail(), actor, _roles())


@functools.cache
def _roles():
    from creditmine.config.team import load_team
    from creditmine.governance.service import Roles

    team = load_team(os.environ[ENV_TEAM_FILE])
    return Roles(frozenset(team.developers), frozenset(team.validators))


def _trail():
    from creditmine.team.trail_db import PostgresTrail

    return PostgresTrail(os.environ[ENV_TRAIL_DSN], Path(os.environ[ENV_TEAM_DIR]) / "keys")


# -- the guard ------------------------------------------------------------------------------------

def _flask_guard():
    from flask import Response, request
    from mlflow.server import auth as mlflow_auth

    from creditmine.team.guard import registry_refusal

    if request.path.startswith(PREFIX):
        return None
    body = request.get_json(silent=True, force=True) if request.method in ("POST", "PATCH", "DELETE") else None
    body = body if isinstance(body, dict) else None
    refusal = registry_refusal(request.method, request.path, body, _backs_version, query=request.args.to_dict())
    if refusal is None:
        return None
    authorization = mlflow_auth.authenticate_request()
    if isinstance(authorization, Response):   # not authenticated: 401, and nothing is recorded
        return authorization
    model = (body or {}).get("name")
    _record_refusal(authorization.username, request.method, request.path, None if model is None else str(model),
                    refusal.reason)
    return _forbidden(refusal.reason)


async def _asgi_guard(request, call_next):
    from mlflow.server import auth as mlflow_auth
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, PlainTextResponse

    from creditmine.team.guard import artifact_write_refusal

    refusal = await run_in_threadpool(artifact_write_refusal, request.method, request.url.path, _backs_version)
    if refusal is None:
        return await call_next(request)
    user = await run_in_threadpool(mlflow_auth._authenticate_fastapi_request, request)
    if user is None:  # not authenticated: 401, and nothing is recorded
        return PlainTextResponse("You are not authenticated.", status_code=401,
                                 headers={"WWW-Authenticate": 'Basic realm="mlflow"'})
    await run_in_threadpool(_record_refusal, user.username, request.method, request.url.path, None, refusal.reason)
    return JSONResponse({"error_code": "PERMISSION_DENIED", "message": refusal.reason}, status_code=403)


def _backs_version(run_id: str | None = None, model_id: str | None = None) -> bool:
    """Whether the trail records a version registered from this run or logged model."""
    for entry in _trail().entries():
        if entry.get("action") != "register":
            continue
        details = entry.get("details") or {}
        if run_id and details.get("run_id") == run_id:
            return True
        if model_id and details.get("model_uri") == f"models:/{model_id}":
            return True
    return False


def _record_refusal(user, method: str, path: str, model, reason: str) -> None:
    from creditmine.registry.trail import REFUSED

    try:
        with _trail().transaction() as tx:
            tx.append(REFUSED, model or "-", None, user or "unknown", reason,
                      {"attempted": f"{method} {path}"})
    except Exception:  # noqa: BLE001 - the refusal stands even if recording it fails
        pass


def _forbidden(message: str):
    from flask import jsonify

    response = jsonify(error_code="PERMISSION_DENIED", message=message)
    response.status_code = 403
    return response
