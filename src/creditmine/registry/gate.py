"""The deployment gate: may this model version be used to score applications?

`check_deployable` is called by `creditmine score`, by the decision pyfunc's `load_context` and by a
served model. It needs nothing but the tracking store: the version's tags, its run's artifacts and
the audit trail, which sits beside the SQLite file of the tracking URI (or at the path in the
``CREDITMINE_AUDIT_TRAIL`` environment variable; see `creditmine.registry.audit`).
"""

from __future__ import annotations

import os


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
    from creditmine.registry.tracking import APPROVED, TAG_MANIFEST, TAG_STATE, check_version_artifacts, connect

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
