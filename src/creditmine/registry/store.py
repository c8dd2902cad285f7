"""The MLflow store: a client made safe for several processes, experiments, downloads, the champion.

Several pipeline runs may share one embedded SQLite store: the store's first use (schema creation)
and every registry write run under a file lock beside the database (`store_lock`), and writes that
still meet "database is locked" are retried (`with_retries`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from filelock import FileLock

from creditmine.config import RunConfig
from creditmine.config.tracking import TrackingParams
from creditmine.registry.states import CHAMPION, model_name

__all__ = [
    "champion_development_auc", "champion_version", "connect", "download_model", "download_run_artifacts",
    "ensure_experiment", "exists", "git_state", "read_run_json", "store_lock", "with_retries",
]


def champion_development_auc(cfg: RunConfig, product: str) -> float | None:
    """The development AUC (metric `development_auc` of its run) of the `champion` of the product's model.

    None when the model has no champion, is not registered yet, or the embedded store does not
    exist yet (it is not created for the question).
    """
    sqlite = _sqlite_file(cfg.tracking_uri)
    if sqlite is not None and not sqlite.is_file():
        return None
    client = connect(cfg.tracking_uri, cfg.params.mlflow)
    champion = champion_version(client, model_name(cfg, product))
    if champion is None or not champion.run_id:
        return None
    value = client.get_run(champion.run_id).data.metrics.get("development_auc")
    return None if value is None else float(value)


def connect(tracking_uri: str, settings: TrackingParams | None = None):
    """An MlflowClient on `tracking_uri` (tracking and registry), its store created under the lock.

    The first use of an SQLite store creates its schema; four processes doing that at once fail with
    "database is locked" or duplicate tables, so the first touch runs under `store_lock`.
    """
    from mlflow import MlflowClient

    settings = settings or TrackingParams()
    _prepare_sqlite_dir(tracking_uri)
    with store_lock(tracking_uri, settings):
        # constructing the client may already open (and migrate) the store
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        with_retries(lambda: client.search_experiments(max_results=1), settings)
        with_retries(lambda: client.search_registered_models(max_results=1), settings)
    return client


@contextlib.contextmanager
def store_lock(tracking_uri: str, settings: TrackingParams | None = None):
    """An inter-process file lock beside an SQLite store (no-op for other stores).

    A store on a read-only file system (a served model reading a mounted copy) cannot hold a lock
    file and needs none, since nobody writes to it: the lock is then skipped.
    """
    path = _sqlite_file(tracking_uri)
    if path is None or (path.parent.is_dir() and not os.access(path.parent, os.W_OK)):
        yield
        return
    settings = settings or TrackingParams()
    with FileLock(str(path) + ".lock", timeout=settings.lock_timeout_s):
        yield


def with_retries(action, settings: TrackingParams | None = None):
    """Run `action()`, retrying with doubling waits while SQLite reports 'database is locked'."""
    settings = settings or TrackingParams()
    wait = settings.retry_wait_s
    for attempt in range(settings.write_retries + 1):
        try:
            return action()
        except Exception as exc:
            if "database is locked" not in str(exc) or attempt == settings.write_retries:
                raise
            time.sleep(wait)
            wait *= 2


def ensure_experiment(client, name: str, cfg: RunConfig | None = None, settings: TrackingParams | None = None) -> str:
    """The id of experiment `name`, created when absent: with the configured artifact location on a
    local store, with none on a tracking server (which then keeps the files itself, under
    ``mlflow-artifacts:/``; a location of the client's would keep them out of its reach)."""
    with store_lock(client.tracking_uri, settings):
        existing = client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        remote = urlparse(client.tracking_uri).scheme in ("http", "https")
        location = cfg.artifact_location if cfg is not None and not remote else None
        if location:
            Path(unquote(urlparse(location).path)).mkdir(parents=True, exist_ok=True)
        return with_retries(lambda: client.create_experiment(name, artifact_location=location), settings)


def champion_version(client, name: str, alias: str = CHAMPION):
    """The ModelVersion holding `alias` in registered model `name`, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def read_run_json(client, run_id: str, artifact_path: str) -> dict | None:
    """A JSON artifact of a run, or None when the run does not have it."""
    with tempfile.TemporaryDirectory(prefix="creditmine-json-") as tmp:
        try:
            local = _download(client, run_id, artifact_path, Path(tmp))
        except Exception:  # noqa: BLE001 - absent artifact: MLflow raises store-specific errors
            return None
        return json.loads(Path(local).read_text(encoding="utf-8"))


def download_run_artifacts(client, run_id: str, artifact_path: str, dst: Path) -> Path | None:
    """Download one artifact file or folder of a run into `dst`; None when absent."""
    try:
        return Path(_download(client, run_id, artifact_path, dst))
    except Exception:  # noqa: BLE001 - absent artifact
        return None


def git_state(root: str | os.PathLike) -> tuple[str | None, bool]:
    """(HEAD commit, whether tracked or untracked files differ from it); (None, False) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, False
    return commit or None, bool(status.strip())


def _download(client, run_id: str, artifact_path: str, dst: Path) -> str:
    dst.mkdir(parents=True, exist_ok=True)
    return client.download_artifacts(run_id, artifact_path, str(dst))


def download_model(model_uri: str, dst: Path, tracking_uri: str) -> Path:
    """The files of a logged model, in `dst`.

    A ``models:/m-<id>`` URI is resolved to the logged model's artifact location through a client
    on `tracking_uri`: MLflow's own resolution of such URIs uses the process-wide tracking URI.
    """
    import mlflow.artifacts
    from mlflow import MlflowClient

    dst.mkdir(parents=True, exist_ok=True)
    location = model_uri
    if model_uri.startswith("models:/m-"):
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        location = client.get_logged_model(model_uri[len("models:/"):]).artifact_location
    return Path(mlflow.artifacts.download_artifacts(
        artifact_uri=location, dst_path=str(dst), tracking_uri=tracking_uri
    ))


def exists(getter) -> bool:
    """Whether an MLflow getter finds its object (an MlflowException means it does not)."""
    from mlflow.exceptions import MlflowException

    try:
        getter()
        return True
    except MlflowException:
        return False


def _sqlite_file(tracking_uri: str) -> Path | None:
    if not tracking_uri.startswith("sqlite:///") or ":memory:" in tracking_uri:
        return None
    return Path(unquote(tracking_uri[len("sqlite:///"):])).resolve()


def _prepare_sqlite_dir(tracking_uri: str) -> None:
    path = _sqlite_file(tracking_uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
