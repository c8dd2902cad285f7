"""The deployment gate: may this model version be used to score applications? The one place that says so.

`check_deployable` is called by `creditmine score`, `creditmine serve`, the review actions that
move the champion, and (through `guard_deployment`) by the decision pyfunc as it loads. It needs
nothing but the tracking store: the version's tags, its run's artifacts and the audit trail, which
sits beside the SQLite file of the tracking URI (or at the path in the ``CREDITMINE_AUDIT_TRAIL``
environment variable; see `creditmine.registry.audit`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from creditmine.registry import manifest as mf
from creditmine.registry.states import APPROVED, REJECTED, TAG_MANIFEST, TAG_STATE
from creditmine.registry.store import _download, connect, download_model

__all__ = ["DeploymentRefused", "check_deployable", "check_version_artifacts", "guard_deployment",
           "model_dir_of", "registered_versions"]

MODEL_PREFIX = "model/"
"""Manifest paths of the model's own files start with this."""
# written by MLflow into a downloaded copy of a registered model, not stored with it
DOWNLOAD_ONLY = ("registered_model_meta",)


class DeploymentRefused(RuntimeError):
    """A model version may not be deployed; the message says which check failed."""


def check_deployable(model_name: str, version: str | int, tracking_uri: str | None = None) -> None:
    """Raise `DeploymentRefused` unless the version is approved, its trail verifies and its artifacts match.

    Checks, in order: the registered model and version exist; the version's `review_state` tag is
    ``approved``; the audit trail's hash chain and the registry's anchors verify; the trail's latest
    review decision for the version is an approval (so a hand-edited tag is caught) and its
    recorded manifest hash equals the version's `manifest_hash` tag; every artifact still has the
    hash listed in the manifest.

    Parameters
    ----------
    model_name : registered model, e.g. ``creditmine-procurement``.
    version : version number.
    tracking_uri : the store; ``MLFLOW_TRACKING_URI`` / MLflow's current URI when None.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from creditmine.registry import audit

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()
    client = connect(uri)
    what = f"{model_name} version {version}"
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        raise DeploymentRefused(f"registered model {model_name} does not exist in {uri}") from None
    try:
        mv = client.get_model_version(model_name, str(version))
    except MlflowException:
        raise DeploymentRefused(f"{what} does not exist in {uri}") from None
    state = mv.tags.get(TAG_STATE)
    if state != APPROVED:
        raise DeploymentRefused(f"{what} is not approved (review state: {state or 'none'})")
    report = audit.verify(uri, client, model=model_name)
    if not report.ok:
        raise DeploymentRefused(f"{what}: {report.describe()}")
    entries = audit.read_trail(report.path)
    recorded = audit.recorded_state(entries, model_name, mv.version)
    if recorded != APPROVED:
        raise DeploymentRefused(
            f"{what}: the audit trail records no approval (last recorded state: {recorded or 'none'}); "
            f"its '{TAG_STATE}' tag was not set by a review"
        )
    recorded_hash = audit.recorded_manifest_hash(entries, model_name, mv.version)
    if recorded_hash != mv.tags.get(TAG_MANIFEST):
        raise DeploymentRefused(
            f"{what}: its '{TAG_MANIFEST}' tag differs from the manifest hash recorded in the audit trail"
        )
    problems = check_version_artifacts(client, model_name, mv.version)
    if problems:
        raise DeploymentRefused(f"{what}: artifacts do not match the manifest ({'; '.join(problems)})")


def check_version_artifacts(client, name: str, version) -> list[str]:
    """What no longer matches for a version: manifest hash vs tag, run artifacts, model files.

    Returns
    -------
    list of one-line problems; empty when the run's `manifest.json` still hashes to the version's
    `manifest_hash` tag and every listed file (run artifacts and model files) has its listed hash.
    """
    mv = client.get_model_version(name, str(version))
    expected = mv.tags.get(TAG_MANIFEST)
    if not expected:
        return [f"{name} version {mv.version} has no {TAG_MANIFEST} tag"]
    problems = []
    with tempfile.TemporaryDirectory(prefix="creditmine-chk-") as tmp:
        tmp = Path(tmp)
        run_dir = Path(_download(client, mv.run_id, "", tmp / "run"))
        manifest_file = run_dir / mf.MANIFEST_FILE
        if not manifest_file.is_file():
            return [f"run {mv.run_id} has no {mf.MANIFEST_FILE}"]
        try:
            manifest = mf.read_manifest(manifest_file)
        except ValueError as exc:
            return [str(exc)]
        if mf.manifest_hash(manifest) != expected:
            problems.append(f"{mf.MANIFEST_FILE} of run {mv.run_id} no longer hashes to the registered {expected[:12]}")
        run_part = {"algorithm": mf.ALGORITHM, "files": {k: v for k, v in manifest["files"].items() if not k.startswith(MODEL_PREFIX)}}
        model_part = {"algorithm": mf.ALGORITHM, "files": {
            k: v for k, v in manifest["files"].items()
            if k.startswith(MODEL_PREFIX) and k[len(MODEL_PREFIX):] not in DOWNLOAD_ONLY
        }}
        run_check = mf.check_files(run_part, run_dir)
        if not run_check.ok:
            problems.append(f"run artifacts: {run_check.describe()}")
        if model_part["files"]:
            try:
                model_dir = download_model(mv.source, tmp / "model", client.tracking_uri)
            except Exception as exc:  # noqa: BLE001 - any store error means the files cannot be checked
                return [*problems, f"model files of {mv.source} cannot be read ({str(exc).splitlines()[0]})"]
            model_check = mf.check_files(model_part, model_dir, prefix=MODEL_PREFIX)
            if not model_check.ok:
                problems.append(f"model files: {model_check.describe()}")
    return problems


def guard_deployment(settings: dict, model_dir: str | os.PathLike | None) -> None:
    """Refuse to serve this artifact unless a registered version of it passes the deployment gate.

    A loaded model does not know the ``models:/`` URI it was loaded by (`mlflow models serve`
    hands it a local copy), so it finds the versions registered from exactly this artifact: the
    MLflow run recorded at logging and the logged-model id of its MLmodel file. It serves when at
    least one of them passes `check_deployable` (approved by review, audit trail verified,
    artifacts matching their manifest) and none of them was rejected; a pending copy of an approved
    artifact does not block it, a rejection of the same artifact does. Tracking URI:
    MLFLOW_TRACKING_URI, else the one recorded at logging.

    Raises
    ------
    DeploymentRefused : naming the model, the versions and the reasons.
    """
    model_name = settings.get("model_name")
    run_id = settings.get("run_id")
    if not model_name or not run_id:
        raise DeploymentRefused(
            "decision model: its configuration names no registered model and run; it was not "
            "logged by creditmine.decision.package and cannot be checked"
        )
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or settings.get("tracking_uri")
    versions = registered_versions(model_name, run_id, _logged_model_id(model_dir), tracking_uri)
    rejected = [v.version for v in versions if v.tags.get(TAG_STATE) == REJECTED]
    if rejected:
        raise DeploymentRefused(
            f"{model_name}: this artifact was rejected in review as version {', '.join(rejected)}"
        )
    reasons = []
    for version in versions:
        try:
            check_deployable(model_name, version.version, tracking_uri=tracking_uri)
            return
        except DeploymentRefused as exc:
            reasons.append(str(exc))
    raise DeploymentRefused("; ".join(reasons))


def registered_versions(model_name: str, run_id: str, model_id: str | None, tracking_uri: str | None) -> list:
    """Versions of `model_name` registered from this artifact (run id, and logged-model id if known).

    Returns
    -------
    list of ModelVersion, oldest first.

    Raises
    ------
    DeploymentRefused : when there is none.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    found = client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    if model_id:
        found = [v for v in found if getattr(v, "model_id", None) == model_id or model_id in (v.source or "")]
    if not found:
        raise DeploymentRefused(
            f"{model_name}: this artifact (run {run_id}) is not a registered version; only a "
            "registered, approved version may decide"
        )
    return sorted(found, key=lambda v: int(v.version))


def model_dir_of(artifacts: dict[str, str]) -> Path | None:
    """The folder holding the MLmodel file of a loaded model, from its artifacts' local paths."""
    for path in artifacts.values():
        for folder in Path(path).parents:
            if (folder / "MLmodel").is_file():
                return folder
    return None


def _logged_model_id(model_dir: str | os.PathLike | None) -> str | None:
    import mlflow

    if model_dir is None:
        return None
    return getattr(mlflow.models.Model.load(str(model_dir)), "model_id", None)
