"""The review rules, run where nobody can skip them: in the team server for a shared store, in the
`creditmine` process on a laptop. One code path for both; only the identity and the stores differ.

Every action reads the audit trail under the trail's lock, checks its rules against what the trail
records (never against editable tags), and appends its entry in the same step, so that of two
concurrent actions on one version one wins and the other is refused. A refused attempt is itself
recorded (who tried what, and why it was refused). The rules:

- four eyes: whoever registered a version can neither approve, promote nor restore it;
- the verdict is the one recorded, signed, at registration from the validation results inside the
  version's manifest; a red verdict cannot be approved;
- a version's artifacts must still match its manifest to be approved, promoted or restored; nothing
  amends a registered version (new artifacts make a new version);
- only an approved version can become champion, and only the champion can be rolled back;
- on a team server, only developers register and only validators approve, reject, promote and roll back;
- a monitoring verdict (stage 06) is recorded for a registered version; when a red one stops the
  version deciding, only someone other than its developer may record the verdict that lifts the block.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from creditmine.governance.description import version_description
from creditmine.governance.identity import same_person
from creditmine.governance.vetting import RED, verdict_of, vet_model
from creditmine.registry import integrity
from creditmine.registry import manifest as mf
from creditmine.registry.gate import anchor_problems
from creditmine.registry.ports import NotFound
from creditmine.registry.states import (
    APPROVED, CHAMPION, PENDING, PREVIOUS_CHAMPION, REJECTED, TAG_COMMENT, TAG_DEVELOPER, TAG_MANIFEST,
    TAG_MONITORING, TAG_MONITORING_AS_OF, TAG_PRIMARY, TAG_REVIEWED_AT, TAG_REVIEWER, TAG_STATE, TAG_VERDICT,
    gated_uri,
)
from creditmine.registry.trail import (
    HEAD_TAG, MONITOR, REFUSED, SEQ_TAG, chain_problems, champion, monitoring_blocks, recorded_state, registration,
    registrations_of_run,
)

MONITORING_VERDICTS = ("green", "amber", "red")

__all__ = ["ReviewRefused", "ReviewService", "Roles"]


class ReviewRefused(RuntimeError):
    """A review action was refused; the message (one line) says why."""

    keep_trail = True  # the trail keeps the entry recording the refused attempt


@dataclass(frozen=True)
class Roles:
    """Who may do what on a team server (from the team file); None on a laptop, where anyone may."""

    developers: frozenset[str] = field(default_factory=frozenset)
    validators: frozenset[str] = field(default_factory=frozenset)

    def is_developer(self, actor: str) -> bool:
        return any(same_person(actor, d) for d in self.developers)

    def is_validator(self, actor: str) -> bool:
        return any(same_person(actor, v) for v in self.validators)


class ReviewService:
    """The review actions of one actor on one store.

    Parameters
    ----------
    registry : a `creditmine.registry.ports` registry (client or in-server).
    trail : the writable trail of the store (`FileTrail`, or the server's `PostgresTrail`).
    actor : who acts: the OS user, or the account the server authenticated.
    roles : the team's roles; None on a laptop.
    """

    def __init__(self, registry, trail, actor: str, roles: Roles | None = None):
        self.registry, self.trail, self.actor, self.roles = registry, trail, actor, roles

    # -- registration -------------------------------------------------------------------------
    def register(self, model: str, run_id: str, model_id: str, product: str, run_name: str = "") -> dict:
        """A new version of `model` from the decision model `model_id` logged in run `run_id`, pending.

        The manifest is built from the store's own bytes, the model is vetted (it must load through
        the installed creditmine and hold no code or pickles), the verdict is read from the run's
        validation.json; all three are recorded in the signed register entry.
        """
        if self.roles is not None and not self.roles.is_developer(self.actor):
            self._refuse("register", model, None, f"{self.actor} is not a developer of this team and may not register")
        try:
            run = self.registry.get_run(run_id)
            location = self.registry.model_location(model_id)
            source_run = self.registry.model_source_run(model_id)
        except (NotFound, Exception) as exc:  # noqa: BLE001 - an unknown logged model raises MLflow's own error
            self._refuse("register", model, None, f"run {run_id} or model {model_id} cannot be read ({exc})")
        if source_run != run_id:
            self._refuse("register", model, None, f"model {model_id} was logged in run {source_run}, not in run {run_id}")
        self._not_registered_yet(self.trail.entries(), model, run_id)
        with tempfile.TemporaryDirectory(prefix="creditmine-register-") as tmp:
            tmp = Path(tmp)
            # one copy of each: what is vetted and read is what the manifest records
            model_dir = self.registry.download(location, tmp / "model")
            problems = vet_model(model_dir)
            if problems:
                self._refuse("register", model, None, f"the decision model cannot be registered: {'; '.join(problems)}")
            run_dir = self.registry.download(self.registry.run_artifact_uri(run_id), tmp / "run")
            manifest = integrity.manifest_of(run_dir, model_dir)
            verdict, why = verdict_of(run_dir / "04_validate" / "validation.json")
            if verdict is None:
                self._refuse("register", model, None, why)
            description = version_description(run_dir / "04_validate" / "validation.json", product, run_name)
            manifest_hash = mf.write_manifest(manifest, tmp / mf.MANIFEST_FILE)
            primary = run.data.tags.get(TAG_PRIMARY, "")
            self.registry.ensure_registered_model(
                model, f"Credit model of the product '{product}' (creditmine); review with `creditmine review`.")
            with self.trail.transaction() as tx:
                self._trail_must_verify(tx, model)
                self._not_registered_yet(tx.entries, model, run_id, tx)
                # under the lock: a second registration of this run cannot overwrite the manifest
                self.registry.put_run_file(run_id, tmp / mf.MANIFEST_FILE)
                version = self.registry.create_version(model, gated_uri(run_id), run_id, {
                    TAG_STATE: PENDING, TAG_VERDICT: verdict, TAG_MANIFEST: manifest_hash, TAG_DEVELOPER: self.actor,
                    TAG_PRIMARY: primary, "product": product, "run_name": run_name,
                }, description)
                entry = tx.append("register", model, version, self.actor, f"registered from run {run_id} ({run_name})", {
                    "run_id": run_id, "model_uri": f"models:/{model_id}", "model_location": location,
                    "manifest_hash": manifest_hash, "verdict": verdict, "product": product,
                    "git_commit": run.data.tags.get("git_commit", "unknown"),
                })
                self._anchor(model, entry)
        self.registry.set_model_tags(model, {"latest_version": version, "latest_state": PENDING, "latest_verdict": verdict})
        return entry

    def _not_registered_yet(self, entries: list[dict], model: str, run_id: str, tx=None) -> None:
        """A run backs at most one version: registering it again would replace its manifest."""
        earlier = registrations_of_run(entries, run_id)
        if earlier:
            first = earlier[0]
            self._refuse("register", model, None, f"run {run_id} already backs {first.get('model')} version "
                         f"{first.get('version')}; new artifacts make a new run and a new version", tx)

    # -- decisions ----------------------------------------------------------------------------
    def approve(self, model: str, version, comment: str) -> dict:
        return self._decide("approve", model, version, comment)

    def reject(self, model: str, version, comment: str) -> dict:
        return self._decide("reject", model, version, comment)

    def promote(self, model: str, version, comment: str = "") -> dict:
        """`version` becomes the champion; the champion it replaces becomes previous-champion."""
        version = self._version(model, version)
        what = f"{model} version {version}"
        self._artifacts_must_match("promote", model, version)
        with self.trail.transaction() as tx:
            self._trail_must_verify(tx, model)
            self._validator_not_developer(tx, "promote", model, version)
            state = recorded_state(tx.entries, model, version)
            if state != APPROVED:
                self._refuse("promote", model, version, f"{what} is {state or 'not reviewed'}; only an approved "
                             "version can be promoted", tx)
            current, _ = champion(tx.entries, model)
            if current == version:
                self._refuse("promote", model, version, f"{what} already is the champion", tx)
            entry = tx.append("promote", model, version, self.actor, comment,
                              {"champion": version, "previous_champion": current})
            self._anchor(model, entry)
            if current is not None:
                self.registry.set_alias(model, PREVIOUS_CHAMPION, current)
            self.registry.set_alias(model, CHAMPION, version)
        self.registry.set_model_tags(model, {"champion": version})
        return entry

    def rollback(self, model: str, comment: str = "", version=None) -> dict:
        """Give the champion back to the previous champion (`version`: the champion being replaced)."""
        self.registry.model_tags(model)  # the model exists
        entries = self.trail.entries()
        current, previous = champion(entries, model)
        if current is None:
            self._refuse("rollback", model, version, f"{model} has no champion to roll back")
        if version is not None and str(version) != current:
            self._refuse("rollback", model, version, f"{model} version {version} is not the champion (version {current} is)")
        if previous is None:
            self._refuse("rollback", model, current, f"{model} has no previous champion to roll back to")
        self._artifacts_must_match("rollback", model, previous)
        with self.trail.transaction() as tx:
            self._trail_must_verify(tx, model)
            if champion(tx.entries, model) != (current, previous):
                self._refuse("rollback", model, current, f"{model}'s champion changed meanwhile; look again", tx)
            self._validator_not_developer(tx, "rollback", model, previous)
            if recorded_state(tx.entries, model, previous) != APPROVED:
                self._refuse("rollback", model, previous, f"{model} version {previous} is no longer approved and "
                             "cannot be restored as champion", tx)
            entry = tx.append("rollback", model, previous, self.actor, comment,
                              {"champion": previous, "previous_champion": None, "rolled_back": current})
            self._anchor(model, entry)
            self.registry.set_alias(model, CHAMPION, previous)
            self.registry.delete_alias(model, PREVIOUS_CHAMPION)
        self.registry.set_model_tags(model, {"champion": previous})
        return entry

    # -- monitoring ---------------------------------------------------------------------------
    def record_monitoring(self, model: str, version, verdict: str, details: dict | None = None,
                          comment: str = "") -> dict:
        """Record a monitoring verdict of a version (stage 06) in the trail: a signed, anchored
        `monitor` entry whose details hold the verdict, the as-of date, the lights that were not
        green and `blocks_decisions` (monitoring.red_blocks_decisions). The gate reads that entry;
        the tags `monitoring_verdict` and `monitoring_as_of` only show it.

        Refused when the verdict is not green, amber or red; when the version has no registration;
        (team) when the actor is neither a developer nor a validator; and when the version is
        blocked by a red verdict and the actor, its developer, records a verdict that would lift it.
        """
        details = dict(details or {})
        if verdict not in MONITORING_VERDICTS:
            self._refuse(MONITOR, model, version, f"monitoring verdict must be {', '.join(MONITORING_VERDICTS)}; "
                         f"got {verdict!r}")
        version = self._version(model, version)
        what = f"{model} version {version}"
        with self.trail.transaction() as tx:
            self._trail_must_verify(tx, model)
            record = registration(tx.entries, model, version)
            if record is None:
                self._refuse(MONITOR, model, version, f"{what} has no registration in the audit trail", tx)
            if self.roles is not None and not (self.roles.is_validator(self.actor) or self.roles.is_developer(self.actor)):
                self._refuse(MONITOR, model, version, f"{self.actor} is not a member of this team", tx)
            blocking = monitoring_blocks(tx.entries, model, version)
            if blocking is not None and verdict != RED and same_person(self.actor, record.get("actor")):
                self._refuse(MONITOR, model, version, f"{self.actor} developed {what}, which a red monitoring "
                             f"verdict (audit #{blocking['seq']}) stops deciding; someone else must record the "
                             "verdict that lifts the block (four-eyes rule)", tx)
            details["verdict"] = verdict
            details["blocks_decisions"] = bool(details.get("blocks_decisions")) and verdict == RED
            entry = tx.append(MONITOR, model, version, self.actor, comment, details)
            self._anchor(model, entry)
        self.registry.set_version_tags(model, version, {TAG_MONITORING: verdict,
                                                        TAG_MONITORING_AS_OF: str(details.get("as_of", ""))})
        return entry

    # -- the rules ----------------------------------------------------------------------------
    def _decide(self, action: str, model: str, version, comment: str) -> dict:
        version = self._version(model, version)
        what = f"{model} version {version}"
        if not str(comment or "").strip():
            self._refuse(action, model, version, "a comment is required and may not be empty")
        if action == "approve":
            self._artifacts_must_match(action, model, version)
        with self.trail.transaction() as tx:
            self._trail_must_verify(tx, model)
            state = recorded_state(tx.entries, model, version)
            record = registration(tx.entries, model, version)
            if record is None:
                self._refuse(action, model, version, f"{what} has no registration in the audit trail", tx)
            if self.roles is not None and not self.roles.is_validator(self.actor):
                self._refuse(action, model, version, f"{self.actor} is not a validator of this team", tx)
            if action == "approve":
                if state != PENDING:
                    self._refuse(action, model, version, f"{what} is {state}; only a pending version can be approved", tx)
                if same_person(self.actor, record.get("actor")):
                    self._refuse(action, model, version, f"{self.actor} developed {what} and may not approve it "
                                 "(four-eyes rule)", tx)
                verdict = (record.get("details") or {}).get("verdict")
                if verdict == RED:
                    self._refuse(action, model, version, f"{what} has a red validation verdict (recorded from its "
                                 "validation results at registration) and cannot be approved", tx)
            else:
                if state not in (PENDING, APPROVED):
                    self._refuse(action, model, version, f"{what} is {state}; only a pending or approved version "
                                 "can be rejected", tx)
                if champion(tx.entries, model)[0] == version:
                    self._refuse(action, model, version, f"{what} is the champion; promote another version or roll "
                                 "back before rejecting it", tx)
            entry = tx.append(action, model, version, self.actor, comment,
                              {"manifest_hash": (record.get("details") or {}).get("manifest_hash")})
            self._anchor(model, entry)
        state = APPROVED if action == "approve" else REJECTED
        self.registry.set_version_tags(model, version, {
            TAG_STATE: state, TAG_REVIEWER: self.actor, TAG_COMMENT: comment[:4000],
            TAG_REVIEWED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
        })
        self.registry.set_model_tags(model, {"latest_state": state} if self._is_latest(model, version) else {})
        return entry

    def _validator_not_developer(self, tx, action: str, model: str, version: str) -> None:
        if self.roles is not None and not self.roles.is_validator(self.actor):
            self._refuse(action, model, version, f"{self.actor} is not a validator of this team", tx)
        record = registration(tx.entries, model, version)
        if record is not None and same_person(self.actor, record.get("actor")):
            self._refuse(action, model, version, f"{self.actor} developed {model} version {version} and may not "
                         f"{action} it (four-eyes rule)", tx)

    def _artifacts_must_match(self, action: str, model: str, version: str) -> None:
        record = registration(self.trail.entries(), model, version)
        if record is None:
            self._refuse(action, model, version, f"{model} version {version} has no registration in the audit trail")
        details = record.get("details") or {}
        try:
            manifest = integrity.read_version_manifest(self.registry, details["run_id"], details["manifest_hash"])
            problems = integrity.check_version_files(self.registry, details["run_id"], details["model_location"], manifest)
        except (ValueError, NotFound, KeyError) as exc:
            problems = [str(exc)]
        if problems:
            self._refuse(action, model, version, f"{model} version {version}: artifacts do not match the manifest "
                         f"({'; '.join(problems)})")

    def _trail_must_verify(self, tx, model: str) -> None:
        problems = chain_problems(tx.entries, self.trail.public_keys()) + anchor_problems(self.registry, tx.entries, model)
        if problems:
            raise ReviewRefused(f"the audit trail {self.trail} does not verify: {'; '.join(problems[:3])}")

    def _version(self, model: str, version) -> str:
        try:
            return str(self.registry.get_version(model, version).version)
        except NotFound as exc:
            self._refuse("review", model, version, str(exc))

    def _refuse(self, action: str, model: str, version, reason: str, tx=None):
        """Record the refused attempt in the trail (who, what, why), then raise ReviewRefused."""
        details = {"attempted": action}
        try:
            if tx is not None:
                tx.append(REFUSED, model, version, self.actor, reason, details)
            else:
                with self.trail.transaction() as own:
                    own.append(REFUSED, model, version, self.actor, reason, details)
        except Exception:  # noqa: BLE001 - a refusal is never hidden by a failure to record it
            pass
        raise ReviewRefused(reason)

    def _anchor(self, model: str, entry: dict) -> None:
        """The model's anchor names its latest entry (set while the trail's lock is held)."""
        try:
            self.registry.model_tags(model)
        except NotFound:
            return  # a refused attempt on a model that does not exist has nothing to anchor
        self.registry.set_model_tags(model, {HEAD_TAG: entry["hash"], SEQ_TAG: str(entry["seq"])})

    def _is_latest(self, model: str, version: str) -> bool:
        return str(self.registry.model_tags(model).get("latest_version")) == str(version)

