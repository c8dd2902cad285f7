"""The artifact repository of registered decision models: nothing reaches MLflow unverified.

Every version creditmine registers has the source ``creditmine:/runs/<run_id>``. MLflow hands such a
URI to this repository (entry point group ``mlflow.artifact_repository``, scheme ``creditmine``)
whenever it downloads the version: `mlflow.pyfunc.load_model("models:/...")`, `mlflow models
serve`, `mlflow.pyfunc.spark_udf`. Before anything is returned, and so before MLflow parses the
MLmodel file, the audit trail is verified (chain, signatures, anchors), the manifest recorded at
registration is read and checked against its signed hash, and every model file is checked against
the manifest (`creditmine.registry.integrity.verified_model_dir`, which keeps a verified copy keyed
by the manifest hash). A file changed in the artifact store, an MLmodel pointing at another loader
included, is refused; no code from the artifacts runs.

Inside a tracking server (the MLflow UI showing a version's files) the repository reads the files
as they are, for display.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # importing MLflow for the first time here loads this module's entry point before the class
    # below exists, and MLflow warns that it could not register it: `_register` (at the end) does
    warnings.filterwarnings("ignore", message='Failure attempting to register artifact repository for scheme "creditmine"')
    from mlflow.store.artifact.artifact_repo import ArtifactRepository

from creditmine.registry.states import VERSION_SCHEME, gated_uri

__all__ = ["GatedArtifactRepository", "gated_uri"]

# MLflow loads this module through its entry point (mlflow.artifact_repository); imported first by
# other code, it registers itself once its class exists (`_register`, at the end).
_PREFIX = f"{VERSION_SCHEME}:/runs/"


class GatedArtifactRepository(ArtifactRepository):
    """Read-only: the decision model of a registered version, verified file by file."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None):
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        if not artifact_uri.startswith(_PREFIX):
            raise ValueError(f"{artifact_uri}: expected {_PREFIX}<run id>")
        self.run_id = artifact_uri[len(_PREFIX):].strip("/").split("/")[0]

    def _store(self) -> str:
        import mlflow

        return self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()

    def _verified(self) -> Path:
        """The verified local copy of this run's decision model."""
        from creditmine.registry.gate import DeploymentRefused, _verified_entries, registry_for
        from creditmine.registry.integrity import read_version_manifest, verified_model_dir
        from creditmine.registry.trail import registrations_of_run

        uri = self._store()
        registry = registry_for(uri)
        entries = _verified_entries(uri, registry, None, f"the model of run {self.run_id}")
        records = registrations_of_run(entries, self.run_id)
        if not records:
            raise DeploymentRefused(f"run {self.run_id} backs no registered version in the audit trail")
        details = records[-1].get("details") or {}
        try:
            manifest = read_version_manifest(registry, self.run_id, details["manifest_hash"])
            return verified_model_dir(registry, details["model_location"], manifest, details["manifest_hash"])
        except (ValueError, KeyError) as exc:
            raise DeploymentRefused(f"{records[-1].get('model')} version {records[-1].get('version')}: "
                                    f"artifacts do not match the manifest ({exc})") from None

    def _display_source(self) -> str:
        """Inside a tracking server: the model's own location, read as it is (the UI shows files)."""
        from creditmine.registry.gate import registry_for
        from creditmine.registry.trail import registrations_of_run
        from creditmine.registry.trail_store import open_trail

        entries = open_trail(self._store()).entries()
        records = registrations_of_run(entries, self.run_id)
        return (records[-1].get("details") or {}).get("model_location") if records else \
            registry_for(self._store()).run_artifact_uri(self.run_id)

    def download_artifacts(self, artifact_path, dst_path=None):
        if _inside_server():
            from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

            return get_artifact_repository(self._display_source()).download_artifacts(artifact_path, dst_path)
        source = self._verified() / (artifact_path or "")
        if not source.exists():
            raise FileNotFoundError(f"{self.artifact_uri}/{artifact_path}: no such file in the verified model")
        dst = Path(dst_path) if dst_path else Path(self._tmp())
        target = dst / artifact_path if artifact_path else dst
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return str(target)

    def list_artifacts(self, path=None):
        from mlflow.entities import FileInfo

        root = self._verified() if not _inside_server() else None
        if root is None:
            from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

            return get_artifact_repository(self._display_source()).list_artifacts(path)
        folder = root / (path or "")
        return [FileInfo(f"{path}/{p.name}" if path else p.name, p.is_dir(), None if p.is_dir() else p.stat().st_size)
                for p in sorted(folder.iterdir())] if folder.is_dir() else []

    def _download_file(self, remote_file_path, local_path):
        shutil.copy2(self._verified() / remote_file_path, local_path)

    def log_artifact(self, local_file, artifact_path=None):
        raise PermissionError(f"{self.artifact_uri}: a registered version's files never change")

    def log_artifacts(self, local_dir, artifact_path=None):
        raise PermissionError(f"{self.artifact_uri}: a registered version's files never change")

    @staticmethod
    def _tmp() -> str:
        import tempfile

        return tempfile.mkdtemp(prefix="creditmine-model-")


def _inside_server() -> bool:
    return bool(os.environ.get("_MLFLOW_SERVER_FILE_STORE"))


def _register() -> None:
    """Make sure MLflow knows the scheme, whichever module is imported first.

    MLflow registers the entry point when its artifact repository registry is first imported; if
    that import happens while this module is being imported (creditmine imported before MLflow's
    registry), the entry point finds this module half-initialised and MLflow only warns, leaving
    ``creditmine:/`` sources unreadable in that process. Registering here, once the class exists,
    covers both orders.
    """
    from mlflow.store.artifact.artifact_repository_registry import _artifact_repository_registry

    _artifact_repository_registry.register(VERSION_SCHEME, GatedArtifactRepository)


_register()
