"""What no client of the team server may do over HTTP, whoever it is (the admin included).

The registry's review state lives in the audit trail and in tags, aliases and descriptions that
only the server's review endpoints write. So, over MLflow's own REST API (both the /api and the
/ajax-api prefixes, behind any static prefix), the server refuses with HTTP 403:

- creating, renaming, updating or deleting registered models and model versions (versions are made
  by the register endpoint, which records who registered them);
- setting or deleting any tag of a registered model or a model version, and moving or deleting an alias;
- changing a run, a logged model or the artifacts of either once a version is registered from it:
  a registered version's files and figures never change (new artifacts make a new version).

Each refusal is recorded in the audit trail (who tried what).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = ["Refusal", "artifact_write_refusal", "registry_refusal"]

_API = r"/(?:ajax-)?api/2\.0"
_WRITE = ("POST", "PUT", "PATCH", "DELETE")

_REGISTRY_ROUTES = [
    (re.compile(_API + r"/mlflow/registered-models/(create|update|rename|delete)$"),
     "registered models are created and changed only by the review endpoints"),
    (re.compile(_API + r"/mlflow/registered-models/alias$"),
     "aliases move only through `creditmine review promote` and `rollback`"),
    (re.compile(_API + r"/mlflow/registered-models/(set-tag|delete-tag)$"),
     "registered-model tags are written only by the review rules"),
    (re.compile(_API + r"/mlflow/model-versions/(create|update|delete|transition-stage)$"),
     "model versions are registered only through `creditmine` stage 05 (the register endpoint)"),
    (re.compile(_API + r"/mlflow/model-versions/(set-tag|delete-tag)$"),
     "model-version tags (review state, verdict, developer, ...) are written only by the review rules"),
]
_RUN_WRITE = re.compile(_API + r"/mlflow/runs/[a-z-]+$")
_LOGGED_MODEL_WRITE = re.compile(_API + r"/mlflow/logged-models/(?P<id>m-[0-9a-f]+)(/.*)?$")
_ARTIFACT_PATH = re.compile(_API + r"/mlflow-artifacts/(?:artifacts|mpu/(?:create|complete|abort))/(?P<path>.*)$")
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_MODEL_ID = re.compile(r"m-[0-9a-f]+")
_UPLOAD = re.compile(_API + r"/mlflow/upload-artifact$")            # run and path in the query string
_PRESIGNED = re.compile(_API + r"/mlflow/artifacts/presigned-upload-url$")  # run_id or model_id in the body


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused (HTTP 403)."""

    reason: str


def registry_refusal(method: str, path: str, body: dict | None, backs_version,
                     query: dict | None = None) -> Refusal | None:
    """The refusal of a registry or run request, or None when it may go on.

    `body` is the request's JSON body, `query` its query string (MLflow's upload-artifact endpoint
    takes its run there, with the file as the body). `backs_version(run_id=None, model_id=None)`
    says whether a registered version was made from a run or a logged model.
    """
    if method not in _WRITE:
        return None
    for pattern, reason in _REGISTRY_ROUTES:
        if pattern.search(path):
            return Refusal(reason)
    body = body or {}
    if _RUN_WRITE.search(path):
        run_id = body.get("run_id") or body.get("run_uuid")
        if run_id and backs_version(run_id=str(run_id)):
            return Refusal(f"run {run_id} backs a registered version; its records no longer change")
    match = _LOGGED_MODEL_WRITE.search(path)
    if match and backs_version(model_id=match["id"]):
        return Refusal(f"logged model {match['id']} backs a registered version; it no longer changes")
    if _UPLOAD.search(path):
        # MLflow reads only the query string here; the body is the file, whatever it looks like
        run_id = (query or {}).get("run_uuid")
        if run_id and backs_version(run_id=str(run_id)):
            return Refusal(f"run {run_id} backs a registered version; its artifacts never change")
    if _PRESIGNED.search(path):
        run_id, model_id = body.get("run_id"), body.get("model_id")
        if run_id and backs_version(run_id=str(run_id)):
            return Refusal(f"run {run_id} backs a registered version; its artifacts never change")
        if model_id and backs_version(model_id=str(model_id)):
            return Refusal(f"logged model {model_id} backs a registered version; its files never change")
    return None


def artifact_write_refusal(method: str, path: str, backs_version) -> Refusal | None:
    """The refusal of a write to the proxied artifact store, or None.

    Artifact paths are ``<experiment location>/<run_id>/artifacts/...`` or ``<experiment
    location>/models/<model_id>/artifacts/...``, where an experiment's location may itself be
    nested (``mlflow-artifacts:/a/b``) or even lie inside another run's folder: every run id
    followed by ``artifacts`` and every ``models/<model id>`` along the path is checked. A path
    that climbs (``..``) is refused outright.
    """
    if method not in _WRITE:
        return None
    match = _ARTIFACT_PATH.search(path)
    if not match:
        return None
    parts = [p for p in match["path"].split("/") if p]
    if ".." in parts:
        return Refusal("artifact paths may not climb ('..')")
    for here, after in itertools.pairwise(parts):
        if here == "models" and _MODEL_ID.fullmatch(after) and backs_version(model_id=after):
            return Refusal(f"logged model {after} backs a registered version; its files never change")
        if _RUN_ID.fullmatch(here) and after == "artifacts" and backs_version(run_id=here):
            return Refusal(f"run {here} backs a registered version; its artifacts never change")
    return None
