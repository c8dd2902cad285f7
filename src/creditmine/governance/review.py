"""The deployment review of registered model versions: list, show, approve, reject, promote, rollback, verify.

Every action checks its preconditions first and raises `ReviewRefused` with a one-line reason when
one fails: a reviewer may not approve their own model (four eyes), a red validation verdict cannot
be approved, a version whose artifacts no longer match its manifest can be neither approved nor
promoted, only an approved version can take the `champion` alias, and a model or version that does
not exist cannot be acted on. Each action that passes is appended to the audit trail
(`creditmine.registry.audit`) and anchored in the registry's tags.

Review state lives in version tags (`review_state`: pending -> approved | rejected; `reviewer`,
`review_comment`, `reviewed_at`); the champion is the `champion` alias and the one it replaced keeps
`previous-champion`, which `rollback` restores.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from creditmine.config import Params
from creditmine.config.tracking import TrackingParams
from creditmine.governance.compare import compare_with_champion
from creditmine.registry import audit
from creditmine.registry.gate import DeploymentRefused, check_deployable, check_version_artifacts
from creditmine.registry.states import (
    APPROVED, CHAMPION, PENDING, PREVIOUS_CHAMPION, REJECTED, TAG_COMMENT, TAG_DEVELOPER, TAG_MANIFEST,
    TAG_REVIEWED_AT, TAG_REVIEWER, TAG_STATE, TAG_VERDICT,
)
from creditmine.registry.store import champion_version, connect, store_lock, with_retries

RED = "red"


class ReviewRefused(RuntimeError):
    """A review action was refused; the message (one line) says why."""


def list_versions(tracking_uri: str, model: str | None = None) -> list[dict]:
    """One dict per model version (newest first): model, version, state, verdict, developer, reviewer, aliases."""
    client = connect(tracking_uri)
    names = [model] if model else sorted(m.name for m in client.search_registered_models(max_results=1000))
    rows = []
    for name in names:
        # search results carry no aliases: take them from the registered model
        aliases_of: dict[str, list[str]] = {}
        for alias, number in (_registered(client, name).aliases or {}).items():
            aliases_of.setdefault(str(number), []).append(alias)
        for mv in sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: -int(v.version)):
            rows.append({
                "model": name, "version": int(mv.version), "state": mv.tags.get(TAG_STATE, ""),
                "verdict": mv.tags.get(TAG_VERDICT, ""), "developer": mv.tags.get(TAG_DEVELOPER, ""),
                "reviewer": mv.tags.get(TAG_REVIEWER, ""), "aliases": ",".join(sorted(aliases_of.get(str(mv.version), []))),
                "run_id": mv.run_id,
            })
    return rows


def show(tracking_uri: str, model: str, version: str | int, params: Params | None = None,
         pack_dir: str | Path | None = None) -> dict:
    """Everything a validator needs about one version, and the path of its review pack.

    Returns
    -------
    dict with `model`, `version`, `state`, `verdict`, `developer`, `reviewer`, `comment`, `aliases`,
    `run_id`, `metrics` (list of {metric, value, light}, key metrics first), `comparison` (see
    `compare_with_champion`) and `review_pack` (path of the self-contained HTML file).
    """
    from creditmine.governance.review_pack import write_review_pack

    settings = params.mlflow if params is not None else TrackingParams()
    client = connect(tracking_uri, settings)
    mv = _version(client, model, version)
    run = client.get_run(mv.run_id)
    lights = {k[len("light."):]: v for k, v in run.data.tags.items() if k.startswith("light.")}
    metrics = run.data.metrics
    # the lit tests first (stage 04 logs each test's value as metric light.<test>), then the key
    # metrics of the params, then every other metric
    first = [f"light.{t}" for t in lights if f"light.{t}" in metrics]
    first += [m for m in settings.key_metrics if m in metrics and m not in first]
    ordered = first + sorted(m for m in metrics if m not in first)
    summary = {
        "model": model, "version": int(mv.version), "state": mv.tags.get(TAG_STATE, ""),
        "verdict": mv.tags.get(TAG_VERDICT, ""), "developer": mv.tags.get(TAG_DEVELOPER, ""),
        "reviewer": mv.tags.get(TAG_REVIEWER, ""), "comment": mv.tags.get(TAG_COMMENT, ""),
        "aliases": sorted(mv.aliases or []), "run_id": mv.run_id,
        "git_commit": run.data.tags.get("git_commit", ""), "git_dirty": run.data.tags.get("git_dirty", ""),
        "manifest_hash": mv.tags.get(TAG_MANIFEST, ""),
        "metrics": [
            {"metric": m, "value": metrics[m], "light": lights.get(m.removeprefix("light."), "")} for m in ordered
        ],
        "lights": lights,
        "comparison": compare_with_champion(client, model, mv.version, params),
    }
    summary["review_pack"] = str(write_review_pack(client, summary, pack_dir or default_pack_dir(tracking_uri)))
    return summary


def approve(tracking_uri: str, model: str, version: str | int, reviewer: str, comment: str) -> dict:
    """Approve a pending version for deployment; returns the audit entry.

    Refused when: reviewer or comment is empty, the version is not pending, the reviewer is its
    developer, its validation verdict is red, the audit trail does not verify, or its artifacts no
    longer match the manifest.
    """
    client = connect(tracking_uri)
    mv = _version(client, model, version)
    reviewer, comment = _required(reviewer, "--reviewer"), _required(comment, "--comment")
    what = f"{model} version {mv.version}"
    state = mv.tags.get(TAG_STATE)
    if state != PENDING:
        raise ReviewRefused(f"{what} is {state or 'not under review'}; only a pending version can be approved")
    developer = mv.tags.get(TAG_DEVELOPER, "")
    if reviewer.strip().casefold() == developer.strip().casefold():
        raise ReviewRefused(f"{reviewer} developed {what} and may not approve it (four-eyes rule)")
    if mv.tags.get(TAG_VERDICT, "").lower() == RED:
        raise ReviewRefused(f"{what} has a red validation verdict and cannot be approved")
    _trail_must_verify(tracking_uri, client, model)
    _artifacts_must_match(client, model, mv.version, "approved")
    return _decide(tracking_uri, client, mv, APPROVED, reviewer, comment)


def reject(tracking_uri: str, model: str, version: str | int, reviewer: str, comment: str) -> dict:
    """Reject a pending or approved version (not the current champion); returns the audit entry."""
    client = connect(tracking_uri)
    mv = _version(client, model, version)
    reviewer, comment = _required(reviewer, "--reviewer"), _required(comment, "--comment")
    what = f"{model} version {mv.version}"
    state = mv.tags.get(TAG_STATE)
    if state not in (PENDING, APPROVED):
        raise ReviewRefused(f"{what} is {state or 'not under review'}; only a pending or approved version can be rejected")
    if CHAMPION in (mv.aliases or []):
        raise ReviewRefused(f"{what} is the champion; promote another version or roll back before rejecting it")
    _trail_must_verify(tracking_uri, client, model)
    return _decide(tracking_uri, client, mv, REJECTED, reviewer, comment)


def promote(tracking_uri: str, model: str, version: str | int, actor: str, comment: str = "") -> dict:
    """Give an approved version the `champion` alias; the champion it replaces gets `previous-champion`.

    Refused when the version is not approved (by tag and by the audit trail), the trail does not
    verify, its artifacts no longer match the manifest, or it already is the champion.
    """
    client = connect(tracking_uri)
    mv = _version(client, model, version)
    actor = _required(actor, "--reviewer")
    what = f"{model} version {mv.version}"
    if mv.tags.get(TAG_STATE) != APPROVED:
        raise ReviewRefused(f"{what} is {mv.tags.get(TAG_STATE) or 'not reviewed'}; only an approved version can be promoted")
    if CHAMPION in (mv.aliases or []):
        raise ReviewRefused(f"{what} already is the champion")
    _deployable(model, mv.version, tracking_uri, "promoted")
    with store_lock(tracking_uri):
        current = champion_version(client, model)
        if current is not None:
            with_retries(lambda: client.set_registered_model_alias(model, PREVIOUS_CHAMPION, current.version))
        with_retries(lambda: client.set_registered_model_alias(model, CHAMPION, mv.version))
        return audit.append(
            tracking_uri, "promote", model, mv.version, actor, comment,
            details={"champion": mv.version, "previous_champion": current.version if current else None,
                     "manifest_hash": mv.tags.get(TAG_MANIFEST)},
            client=client,
        )


def rollback(tracking_uri: str, model: str, actor: str, comment: str = "", version: str | int | None = None) -> dict:
    """Give `champion` back to the `previous-champion` version; the alias `previous-champion` is removed.

    Refused when there is no champion or no previous champion, when `version` is given and is not
    the current champion, or when the previous champion is no longer deployable.
    """
    client = connect(tracking_uri)
    _registered(client, model)
    actor = _required(actor, "--reviewer")
    current = champion_version(client, model)
    if current is None:
        raise ReviewRefused(f"{model} has no champion to roll back")
    if version is not None and str(version) != str(current.version):
        _version(client, model, version)
        raise ReviewRefused(f"{model} version {version} is not the champion (version {current.version} is)")
    previous = champion_version(client, model, PREVIOUS_CHAMPION)
    if previous is None:
        raise ReviewRefused(f"{model} has no previous champion to roll back to")
    _deployable(model, previous.version, tracking_uri, "restored as champion")
    with store_lock(tracking_uri):
        with_retries(lambda: client.set_registered_model_alias(model, CHAMPION, previous.version))
        with_retries(lambda: client.delete_registered_model_alias(model, PREVIOUS_CHAMPION))
        with_retries(lambda: client.set_model_version_tag(
            model, current.version, "rolled_back_at", datetime.now(timezone.utc).isoformat(timespec="seconds")
        ))
        return audit.append(
            tracking_uri, "rollback", model, previous.version, actor, comment,
            details={"champion": previous.version, "rolled_back": current.version},
            client=client,
        )


def verify(tracking_uri: str, model: str | None = None, version: str | int | None = None) -> list[str]:
    """Problems found in the audit trail (and, for a version, its tags and artifacts); empty = intact."""
    client = connect(tracking_uri)
    if model is not None:
        _registered(client, model)
    report = audit.verify(tracking_uri, client, model=model)
    problems = list(report.problems)
    if model is not None and version is not None:
        mv = _version(client, model, version)
        entries = audit.read_trail(report.path) if report.ok else []
        if report.ok:
            recorded = audit.recorded_state(entries, model, mv.version)
            if recorded != mv.tags.get(TAG_STATE):
                problems.append(f"{model} version {mv.version}: tag review_state '{mv.tags.get(TAG_STATE)}' but the trail records '{recorded}'")
            if audit.recorded_manifest_hash(entries, model, mv.version) != mv.tags.get(TAG_MANIFEST):
                problems.append(f"{model} version {mv.version}: manifest_hash tag differs from the trail")
        problems.extend(check_version_artifacts(client, model, mv.version))
    return problems


def trail(tracking_uri: str, model: str | None = None, version: str | int | None = None) -> list[dict]:
    """The audit-trail entries, optionally only those of a model (and version)."""
    entries = audit.read_trail(audit.audit_path(tracking_uri))
    if model is not None:
        entries = audit.entries_for(entries, model, version)
    return entries


def default_pack_dir(tracking_uri: str) -> Path:
    """review_packs/ beside the audit trail (mlruns/review_packs for the embedded store)."""
    return audit.audit_path(tracking_uri).parent / "review_packs"


# -- helpers -------------------------------------------------------------------------------------

def _decide(tracking_uri: str, client, mv, state: str, reviewer: str, comment: str) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with store_lock(tracking_uri):
        for key, value in {TAG_STATE: state, TAG_REVIEWER: reviewer, TAG_COMMENT: comment[:4000], TAG_REVIEWED_AT: now}.items():
            with_retries(lambda k=key, v=value: client.set_model_version_tag(mv.name, mv.version, k, v))
        return audit.append(
            tracking_uri, "approve" if state == APPROVED else "reject", mv.name, mv.version, reviewer, comment,
            details={"manifest_hash": mv.tags.get(TAG_MANIFEST), "verdict": mv.tags.get(TAG_VERDICT)},
            client=client,
        )


def _registered(client, model: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(model)
    except MlflowException:
        raise ReviewRefused(f"registered model {model} does not exist") from None


def _version(client, model: str, version):
    from mlflow.exceptions import MlflowException

    _registered(client, model)
    if not str(version).isdigit():
        raise ReviewRefused(f"version must be a number; got '{version}'")
    try:
        return client.get_model_version(model, str(version))
    except MlflowException:
        raise ReviewRefused(f"{model} has no version {version}") from None


def _required(value: str | None, option: str) -> str:
    if value is None or not str(value).strip():
        raise ReviewRefused(f"{option} is required and may not be empty")
    return str(value).strip()


def _trail_must_verify(tracking_uri: str, client, model: str) -> None:
    report = audit.verify(tracking_uri, client, model=model)
    if not report.ok:
        raise ReviewRefused(report.describe())


def _artifacts_must_match(client, model: str, version, verb: str) -> None:
    problems = check_version_artifacts(client, model, version)
    if problems:
        raise ReviewRefused(f"{model} version {version} cannot be {verb}: artifacts do not match the manifest ({'; '.join(problems)})")


def _deployable(model: str, version, tracking_uri: str, verb: str) -> None:
    try:
        check_deployable(model, version, tracking_uri)
    except DeploymentRefused as exc:
        raise ReviewRefused(f"cannot be {verb}: {exc}") from None
