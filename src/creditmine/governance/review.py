"""The deployment review as a validator uses it: list, show, verify, the trail, and the actions.

The actions (register, approve, reject, promote, rollback) run the review rules of
`creditmine.governance.service`: in this process on a laptop, acting as the operating-system user,
or inside the team server for an ``http(s)://`` store, acting as the account of the caller's MLflow
credentials (`actions(tracking_uri)`). What a listing or a review shows about a version (its state,
developer, verdict and reviewer) is what the verified audit trail records, not what its tags say.
"""

from __future__ import annotations

from pathlib import Path

from creditmine.config import Params
from creditmine.config.tracking import TrackingParams
from creditmine.governance.compare import compare_with_champion
from creditmine.governance.service import ReviewRefused, ReviewService
from creditmine.registry.gate import registry_for, trail_problems
from creditmine.registry.integrity import check_version_files, read_version_manifest
from creditmine.registry.ports import NotFound
from creditmine.registry.states import TAG_DEVELOPER, TAG_MANIFEST, TAG_MONITORING, TAG_STATE, TAG_VERDICT
from creditmine.registry.trail import REFUSED, champion, entries_for, monitoring_record, recorded_state, registration
from creditmine.registry.trail_store import is_remote, open_trail, store_folder

__all__ = ["ReviewRefused", "actions", "default_pack_dir", "list_versions", "show", "trail", "verify"]


def actions(tracking_uri: str, settings: TrackingParams | None = None):
    """The review actions on a store, as its rules require: a `ReviewService` acting as the OS user
    for a local store, the team server's endpoints for an http(s) one."""
    if is_remote(tracking_uri):
        from creditmine.governance.remote import RemoteActions

        return RemoteActions(tracking_uri)
    from creditmine.governance.identity import os_user

    settings = settings or TrackingParams()
    return ReviewService(registry_for(tracking_uri), open_trail(tracking_uri, settings.lock_timeout_s), os_user())


def list_versions(tracking_uri: str, model: str | None = None) -> list[dict]:
    """One dict per model version (newest first): model, version, state, verdict, developer,
    reviewer, aliases, run id; state, developer, verdict and reviewer as the audit trail records them."""
    registry = registry_for(tracking_uri)
    entries = open_trail(tracking_uri).entries()
    client = registry.client
    names = [model] if model else sorted(m.name for m in client.search_registered_models(max_results=1000))
    rows = []
    for name in names:
        try:
            aliases = client.get_registered_model(name).aliases or {}
        except Exception:  # noqa: BLE001 - MLflow's own not-found error
            raise ReviewRefused(f"registered model {name} does not exist") from None
        aliases_of: dict[str, list[str]] = {}
        for alias, number in aliases.items():
            aliases_of.setdefault(str(number), []).append(alias)
        for number in sorted(registry.version_numbers(name), key=lambda v: -int(v)):
            rows.append({"model": name, "version": int(number), **_recorded(entries, name, number),
                         "aliases": ",".join(sorted(aliases_of.get(str(number), [])))})
    return rows


def show(tracking_uri: str, model: str, version: str | int, params: Params | None = None,
         pack_dir: str | Path | None = None) -> dict:
    """Everything a validator needs about one version, and the path of its review pack.

    Returns
    -------
    dict with `model`, `version`, `state`, `verdict`, `developer`, `reviewer`, `comment`, `aliases`,
    `run_id`, `metrics` (list of {metric, value, light}, key metrics first), `comparison` (see
    `compare_with_champion`), `tags_disagree` (tags that say otherwise than the trail),
    `monitoring` (the trail's latest monitoring verdict: verdict, as_of, seq, actor,
    blocks_decisions, report, why; empty before the first) and `review_pack` (path of the
    self-contained HTML file).
    """
    from creditmine.governance.review_pack import write_review_pack

    settings = params.mlflow if params is not None else TrackingParams()
    registry = registry_for(tracking_uri)
    mv = _version(registry, model, version)
    client = registry.client
    run = client.get_run(mv.run_id)
    entries = open_trail(tracking_uri).entries()
    recorded = _recorded(entries, model, mv.version)
    lights = {k[len("light."):]: v for k, v in run.data.tags.items() if k.startswith("light.")}
    metrics = run.data.metrics
    # the lit tests first (stage 04 logs each test's value as metric light.<test>), then the key
    # metrics of the params, then every other metric
    first = [f"light.{t}" for t in lights if f"light.{t}" in metrics]
    first += [m for m in settings.key_metrics if m in metrics and m not in first]
    ordered = first + sorted(m for m in metrics if m not in first)
    summary = {
        "model": model, "version": int(mv.version), **recorded,
        "aliases": sorted(mv.aliases or []), "run_id": mv.run_id,
        "git_commit": run.data.tags.get("git_commit", ""), "git_dirty": run.data.tags.get("git_dirty", ""),
        "metrics": [
            {"metric": m, "value": metrics[m], "light": lights.get(m.removeprefix("light."), "")} for m in ordered
        ],
        "lights": lights,
        "tags_disagree": _tags_disagree(mv.tags, recorded),
        "comparison": compare_with_champion(client, model, mv.version, params),
    }
    summary["review_pack"] = str(write_review_pack(client, summary, pack_dir or default_pack_dir(tracking_uri)))
    return summary


def verify(tracking_uri: str, model: str | None = None, version: str | int | None = None) -> list[str]:
    """Problems found: the trail's chain, signatures and anchors; for a version also its tags
    against the trail and every artifact against the manifest. Empty when all hold."""
    registry = registry_for(tracking_uri)
    trail_of_store = open_trail(tracking_uri)
    if model is not None:
        try:
            registry.model_tags(model)
        except NotFound as exc:
            raise ReviewRefused(str(exc)) from None
    problems = trail_problems(trail_of_store, registry, model)
    if model is not None and version is not None:
        mv = _version(registry, model, version)
        entries = trail_of_store.entries()
        recorded = _recorded(entries, model, mv.version)
        problems += [f"{model} version {mv.version}: tag {tag} says {said!r} but the trail records {truth!r}"
                     for tag, (said, truth) in _tags_disagree(mv.tags, recorded).items()]
        record = registration(entries, model, mv.version)
        if record is None:
            problems.append(f"{model} version {mv.version} has no registration in the audit trail")
        else:
            details = record.get("details") or {}
            try:
                manifest = read_version_manifest(registry, details["run_id"], details["manifest_hash"])
                problems += check_version_files(registry, details["run_id"], details["model_location"], manifest)
            except (ValueError, NotFound, KeyError) as exc:
                problems.append(str(exc))
    return problems


def trail(tracking_uri: str, model: str | None = None, version: str | int | None = None) -> list[dict]:
    """The audit-trail entries, optionally only those of a model (and version)."""
    entries = open_trail(tracking_uri).entries()
    return entries_for(entries, model, version) if model is not None else entries


def default_pack_dir(tracking_uri: str) -> Path:
    """review_packs/ beside a local store (mlruns/review_packs), else ~/.cache/creditmine/review_packs."""
    if is_remote(tracking_uri):
        return Path.home() / ".cache" / "creditmine" / "review_packs"
    return store_folder(tracking_uri) / "review_packs"


# -- helpers -------------------------------------------------------------------------------------

def _recorded(entries: list[dict], model: str, version) -> dict:
    """State, verdict, developer, reviewer and comment of a version as the trail records them."""
    record = registration(entries, model, version) or {}
    decisions = [e for e in entries_for(entries, model, version) if e.get("action") in ("approve", "reject")]
    last = decisions[-1] if decisions else {}
    current, previous = champion(entries, model)
    monitored = monitoring_record(entries, model, version) or {}
    watch = monitored.get("details") or {}
    return {
        "state": recorded_state(entries, model, version) or "",
        "verdict": (record.get("details") or {}).get("verdict", ""),
        "developer": record.get("actor", ""),
        "reviewer": last.get("actor", ""),
        "comment": last.get("comment", ""),
        "run_id": (record.get("details") or {}).get("run_id", ""),
        "manifest_hash": (record.get("details") or {}).get("manifest_hash", ""),
        "refused_attempts": sum(1 for e in entries_for(entries, model, version) if e.get("action") == REFUSED),
        "trail_champion": current == str(version),
        "trail_previous_champion": previous == str(version),
        "monitoring_verdict": watch.get("verdict", ""),
        "monitoring": {"verdict": watch.get("verdict"), "as_of": watch.get("as_of"), "seq": monitored.get("seq"),
                       "actor": monitored.get("actor"), "blocks_decisions": bool(watch.get("blocks_decisions")),
                       "report": watch.get("report"), "why": watch.get("why", [])} if monitored else {},
    }


def _tags_disagree(tags: dict, recorded: dict) -> dict:
    pairs = {TAG_STATE: "state", TAG_VERDICT: "verdict", TAG_DEVELOPER: "developer", TAG_MANIFEST: "manifest_hash",
             TAG_MONITORING: "monitoring_verdict"}
    return {tag: (tags.get(tag), recorded[key]) for tag, key in pairs.items()
            if recorded.get(key) and tags.get(tag) != recorded[key]}


def _version(registry, model: str, version):
    try:
        return registry.get_version(model, version)
    except NotFound as exc:
        raise ReviewRefused(str(exc)) from None
