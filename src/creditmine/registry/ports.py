"""The registry as the review rules and the gate use it, on a client or inside the team server.

`ClientRegistry` goes through an `MlflowClient` (the embedded store on a laptop; reads from a team
server). `ServerRegistry` acts on the tracking server's own stores in process: it is how the team
server's review endpoints change what no client may change over HTTP (aliases, review tags).
Both offer the same few operations, so the review rules run unchanged in both modes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["ClientRegistry", "NotFound", "ServerRegistry"]

_PROGRESS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


class NotFound(LookupError):
    """A registered model, version, run or artifact does not exist; the message names it."""


class ClientRegistry:
    """The registry through an MlflowClient."""

    def __init__(self, client):
        self.client = client
        self.tracking_uri = client.tracking_uri

    def get_version(self, name: str, version):
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            raise NotFound(f"registered model {name} does not exist") from None
        if not str(version).isdigit():
            raise NotFound(f"version must be a number; got '{version}'")
        try:
            return self.client.get_model_version(name, str(version))
        except MlflowException:
            raise NotFound(f"{name} has no version {version}") from None

    def model_tags(self, name: str) -> dict:
        from mlflow.exceptions import MlflowException

        try:
            return dict(self.client.get_registered_model(name).tags or {})
        except MlflowException:
            raise NotFound(f"registered model {name} does not exist") from None

    def version_numbers(self, name: str) -> list[str]:
        return sorted((str(v.version) for v in self.client.search_model_versions(f"name='{name}'")), key=int)

    def ensure_registered_model(self, name: str, description: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self._write(lambda: self.client.create_registered_model(name, description=description))

    def create_version(self, name: str, source: str, run_id: str, tags: dict, description: str) -> str:
        return str(self._write(lambda: self.client.create_model_version(
            name, source=source, run_id=run_id, tags=tags, description=description)).version)

    def set_version_tags(self, name: str, version, tags: dict) -> None:
        for key, value in tags.items():
            self._write(lambda k=key, v=value: self.client.set_model_version_tag(name, str(version), k, v))

    def set_model_tags(self, name: str, tags: dict) -> None:
        for key, value in tags.items():
            self._write(lambda k=key, v=value: self.client.set_registered_model_tag(name, k, v))

    def set_alias(self, name: str, alias: str, version) -> None:
        self._write(lambda: self.client.set_registered_model_alias(name, alias, str(version)))

    def delete_alias(self, name: str, alias: str) -> None:
        self._write(lambda: self.client.delete_registered_model_alias(name, alias))

    def _write(self, action):
        """One registry write, under the embedded store's lock and retried while SQLite is busy."""
        from creditmine.registry.store import store_lock, with_retries

        with store_lock(self.tracking_uri):
            return with_retries(action)

    def alias_version(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def get_run(self, run_id: str):
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException:
            raise NotFound(f"run {run_id} does not exist") from None

    def model_location(self, model_id: str) -> str:
        """The artifact location of a logged model (``models:/m-...``)."""
        return self.client.get_logged_model(model_id).artifact_location

    def model_source_run(self, model_id: str) -> str | None:
        """The run a logged model was logged in."""
        return self.client.get_logged_model(model_id).source_run_id

    def download(self, uri: str, dst: Path) -> Path:
        """Files under an artifact URI (a run's `<artifact_uri>/<path>` or a model location) into `dst`."""
        import mlflow.artifacts

        dst.mkdir(parents=True, exist_ok=True)
        try:
            with _no_progress_bars():
                return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst),
                                                                tracking_uri=self.tracking_uri))
        except Exception as exc:  # noqa: BLE001 - each artifact store raises its own error types
            raise NotFound(f"{uri}: cannot be read ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc})") from None

    def run_artifact_uri(self, run_id: str) -> str:
        return self.get_run(run_id).info.artifact_uri

    def put_run_file(self, run_id: str, local_file: Path) -> None:
        """Store one file at the top of a run's artifacts (the version's manifest)."""
        self.client.log_artifact(run_id, str(local_file))


class ServerRegistry(ClientRegistry):
    """The registry of the tracking server this process is, acted on in process (no HTTP, no
    permission checks: only the team server's own review endpoints use it)."""

    def __init__(self):
        from mlflow import MlflowClient
        from mlflow.server import handlers

        self._handlers = handlers
        store_uri = os.environ.get("_MLFLOW_SERVER_FILE_STORE", "")
        registry_uri = os.environ.get("_MLFLOW_SERVER_REGISTRY_STORE", store_uri)
        # a client on the server's own database: every call is a direct store call, not HTTP
        super().__init__(MlflowClient(tracking_uri=store_uri, registry_uri=registry_uri))

    def download(self, uri: str, dst: Path) -> Path:
        """Artifacts under an ``mlflow-artifacts:`` URI, read from the server's artifact destination."""
        if uri.startswith("mlflow-artifacts:"):
            repo = self._handlers._get_artifact_repo_mlflow_artifacts()
            relative = uri[len("mlflow-artifacts:"):].lstrip("/")
            dst.mkdir(parents=True, exist_ok=True)
            try:
                return Path(repo.download_artifacts(relative, str(dst)))
            except Exception as exc:  # noqa: BLE001 - the artifact store's own error types
                raise NotFound(f"{uri}: cannot be read ({exc})") from None
        return super().download(uri, dst)

    def put_run_file(self, run_id: str, local_file: Path) -> None:
        uri = self.run_artifact_uri(run_id)
        if uri.startswith("mlflow-artifacts:"):
            repo = self._handlers._get_artifact_repo_mlflow_artifacts()
            repo.log_artifact(str(local_file), uri[len("mlflow-artifacts:"):].lstrip("/"))
            return
        super().put_run_file(run_id, local_file)


@contextlib.contextmanager
def _no_progress_bars():
    """MLflow draws a bar per download; the checks download often and report for themselves."""
    previous = os.environ.get(_PROGRESS)
    os.environ[_PROGRESS] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_PROGRESS, None)
        else:
            os.environ[_PROGRESS] = previous
