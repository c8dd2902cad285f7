"""The deployment gate: may this model version decide on loans? The one place that says so.

A version may decide when the audit trail, checked entry by entry (hash chain, Ed25519 signatures,
the registry's anchors), records its approval and no later rejection; when the `champion` alias is
what the trail's latest promotion or rollback says it is (an alias moved by hand is not a
promotion); and when its files still have the hashes of the manifest recorded, signed, at its
registration. Review-state tags are a display for the MLflow UI and decide nothing.

`creditmine score` and `creditmine serve` call `check_deployable` before loading anything; the
decision model's loader (`creditmine.decision.loader`) calls `guard_loaded_copy` on the exact files
it is about to read; the artifact repository of registered versions
(`creditmine.registry.gated_repo`) checks every file before MLflow parses the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from creditmine.registry import integrity
from creditmine.registry.ports import ClientRegistry, NotFound
from creditmine.registry.trail import (
    HEAD_TAG, REFUSED, SEQ_TAG, TrailError, chain_problems, champion, entries_for, monitoring_blocks, recorded_state,
    registration, registrations_of_run,
)
from creditmine.registry.trail_store import open_trail

__all__ = ["Deployable", "DeploymentRefused", "anchor_problems", "check_deployable", "guard_loaded_copy",
           "registry_for", "trail_problems"]

APPROVED, REJECTED = "approved", "rejected"


class DeploymentRefused(RuntimeError):
    """A model version may not decide; the message says which check failed."""


@dataclass(frozen=True)
class Deployable:
    """A version the gate let through, with what its trail entries recorded."""

    model: str
    version: str
    run_id: str
    model_location: str
    manifest_hash: str
    manifest: dict
    developer: str
    verdict: str
    registry: ClientRegistry

    def local_copy(self) -> Path:
        """A verified local copy of the decision model (cached by manifest hash)."""
        try:
            return integrity.verified_model_dir(self.registry, self.model_location, self.manifest, self.manifest_hash)
        except (ValueError, NotFound) as exc:
            raise DeploymentRefused(f"{self.model} version {self.version}: {exc}") from None


def check_deployable(model_name: str, version, tracking_uri: str | None = None, *, as_champion: bool = False,
                     every_artifact: bool = False, monitoring_block: bool = True) -> Deployable:
    """The version, if it may decide; else `DeploymentRefused` naming the failed check.

    Parameters
    ----------
    model_name, version : the registered model version (``creditmine-quick_loan``, 3).
    tracking_uri : the store; ``MLFLOW_TRACKING_URI`` / MLflow's current URI when None.
    as_champion : the version was reached through the `champion` alias: the trail's champion must
        be this version.
    every_artifact : also check every artifact of the version's run (reports, validation files)
        against the manifest, not only the manifest itself (the review actions do; loading checks
        the model's files as it downloads them).
    monitoring_block : refuse a version whose latest monitoring entry is red and blocks decisions
        (`monitoring.red_blocks_decisions`); the monitor itself, which only reads, passes False.
    """
    uri = _resolve(tracking_uri)
    registry = registry_for(uri)
    what = f"{model_name} version {version}"
    try:
        registry.get_version(model_name, version)
    except NotFound as exc:
        raise DeploymentRefused(f"{exc} in {uri}") from None
    entries = _verified_entries(uri, registry, model_name, what)
    state = recorded_state(entries, model_name, version)
    if state != APPROVED:
        raise DeploymentRefused(f"{what} is not approved (the audit trail records it {state or 'not at all'})")
    blocked = monitoring_blocks(entries, model_name, version) if monitoring_block else None
    if blocked is not None:
        raise DeploymentRefused(
            f"{what} may not decide: its monitoring verdict as of {blocked['details'].get('as_of')} is red (audit "
            f"#{blocked['seq']}) and monitoring.red_blocks_decisions stops it; a later monitoring verdict that is not "
            "red, recorded by someone other than its developer, lifts the block")
    record = registration(entries, model_name, version)
    if as_champion:
        current, _ = champion(entries, model_name)
        if current != str(version):
            raise DeploymentRefused(
                f"{what} holds the champion alias, but the audit trail's champion is "
                f"{'version ' + current if current else 'none'}: the alias was moved outside the review"
            )
    details = record.get("details") or {}
    try:
        manifest = integrity.read_version_manifest(registry, details["run_id"], details["manifest_hash"])
    except (ValueError, NotFound, KeyError) as exc:
        raise DeploymentRefused(f"{what}: artifacts do not match the manifest ({exc})") from None
    deployable = Deployable(model_name, str(version), details["run_id"], details["model_location"],
                            details["manifest_hash"], manifest, str(record.get("actor")),
                            str(details.get("verdict")), registry)
    if every_artifact:
        problems = integrity.check_version_files(registry, deployable.run_id, deployable.model_location, manifest)
        if problems:
            raise DeploymentRefused(f"{what}: artifacts do not match the manifest ({'; '.join(problems)})")
    return deployable


def guard_loaded_copy(model_name: str, run_id: str, model_dir: str | os.PathLike,
                      tracking_uri: str | None = None) -> Deployable:
    """Refuse to load a local copy of a decision model unless it is an approved version's, byte for byte.

    The loaded model knows its registered model and the run it was logged in, not the ``models:/``
    URI it was loaded by, so every version registered from that run is tried: it serves when one of
    them passes `check_deployable` and the files in `model_dir` (the exact ones about to be read)
    match that version's manifest, and none of them was rejected.
    """
    uri = _resolve(tracking_uri)
    registry = registry_for(uri)
    entries = _verified_entries(uri, registry, model_name, f"{model_name} (run {run_id})")
    versions = [e["version"] for e in registrations_of_run(entries, run_id) if e.get("model") == model_name]
    if not versions:
        raise DeploymentRefused(f"{model_name}: this model (run {run_id}) is not a registered version; "
                                "only a registered, approved version may decide")
    rejected = [v for v in versions if recorded_state(entries, model_name, v) == REJECTED]
    if rejected:
        raise DeploymentRefused(f"{model_name}: this model was rejected in review as version {', '.join(rejected)}")
    reasons = []
    for version in versions:
        try:
            deployable = check_deployable(model_name, version, uri)
        except DeploymentRefused as exc:
            reasons.append(str(exc))
            continue
        problems = integrity.model_files_problems(deployable.manifest, Path(model_dir))
        if not problems:
            return deployable
        reasons.append(f"{model_name} version {version}: the files being loaded do not match the manifest "
                       f"({'; '.join(problems)})")
    raise DeploymentRefused("; ".join(reasons))


def trail_problems(trail, registry, model: str | None = None) -> list[str]:
    """Broken links, bad signatures and missing anchors of a trail (empty when it verifies)."""
    try:
        entries = trail.entries()
    except TrailError as exc:
        return [str(exc)]
    return chain_problems(entries, trail.public_keys()) + anchor_problems(registry, entries, model)


def anchor_problems(registry, entries: list[dict], model: str | None = None) -> list[str]:
    """Anchors (the `audit_head`, `audit_seq` tags of a registered model) that do not name the
    model's latest trail entry: entries at the tail of the trail were cut. Entries recording
    refused attempts are not anchored (anyone may cause one, so they may not move the anchor)."""
    names = [model] if model else sorted({e.get("model") for e in entries if e.get("model")})
    problems = []
    for name in names:
        try:
            tags = registry.model_tags(name)
        except NotFound:
            continue
        own = [e for e in entries_for(entries, name) if e.get("action") != REFUSED]
        problems += _anchor(tags, own, f"model {name}")
    return problems


def registry_for(tracking_uri: str) -> ClientRegistry:
    from creditmine.registry.store import connect

    return ClientRegistry(connect(tracking_uri))


def _verified_entries(uri: str, registry, model_name: str, what: str) -> list[dict]:
    trail = open_trail(uri)
    try:
        entries = trail.entries()
        problems = chain_problems(entries, trail.public_keys())
    except Exception as exc:  # noqa: BLE001 - an unreadable trail (file or server) refuses, naming why
        raise DeploymentRefused(f"{what}: the audit trail {trail} cannot be read ({exc})") from None
    problems += anchor_problems(registry, entries, model_name)
    if problems:
        raise DeploymentRefused(f"{what}: the audit trail {trail} does not verify: {'; '.join(problems[:3])}")
    return entries


def _anchor(tags: dict, own: list[dict], what: str) -> list[str]:
    head = (tags or {}).get(HEAD_TAG)
    if head is None:
        return [f"{what}: has trail entries but no anchor"] if own else []
    if not own:
        return [f"{what}: its last recorded action ({head[:12]}) is missing from the trail"]
    latest = own[-1]
    if latest.get("hash") == head and str(latest.get("seq")) == tags.get(SEQ_TAG):
        return []
    if any(e.get("hash") == head for e in own):
        return [f"{what}: the trail has entries after #{tags.get(SEQ_TAG)} that the registry does not anchor"]
    return [f"{what}: its last recorded action #{tags.get(SEQ_TAG)} ({head[:12]}) is missing from the trail"]


def _resolve(tracking_uri: str | None) -> str:
    import mlflow

    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()
