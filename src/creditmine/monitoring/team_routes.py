"""The monitoring trigger on the team server: ``POST /api/2.0/creditmine/monitor``.

The server runs `ReviewService.record_monitoring` as the authenticated account (the same rules as
on a laptop: a registered version, a team member, the four-eyes rule on lifting a block) on its own
registry and PostgreSQL trail; clients reach it through
`creditmine.governance.remote.RemoteActions.record_monitoring`. Request body: ``{"model", "version",
"verdict", "details", "comment"}``; answer ``{"entry": ...}``, or HTTP 403 with the reason.

The team server (`creditmine.team.app`) routes ``monitor`` here; the guard
(`creditmine.team.guard`) refuses every model-version tag write of a client, which covers
`PROTECTED_TAGS` (`monitoring_verdict`, `monitoring_as_of`).

Decisions in team mode go to the PostgreSQL decision store
(`creditmine.monitoring.postgres_store.PostgresDecisionStore`, ``CREDITMINE_DECISION_STORE``).
"""

from __future__ import annotations

from creditmine.registry.states import TAG_MONITORING, TAG_MONITORING_AS_OF

__all__ = ["PROTECTED_TAGS", "record"]

PROTECTED_TAGS = (TAG_MONITORING, TAG_MONITORING_AS_OF)
"""Model-version tags that only the monitoring trigger writes."""


def record(service, body: dict) -> dict:
    """Record the monitoring verdict a request carries, as the service's actor; returns the entry.

    Raises
    ------
    creditmine.governance.service.ReviewRefused : the rules refuse it (the server answers 403).
    """
    details = body.get("details")
    return service.record_monitoring(str(body.get("model", "")), body.get("version"), str(body.get("verdict", "")),
                                     details if isinstance(details, dict) else {}, str(body.get("comment", "")))
