"""The review actions on a team server: its endpoints, called with the caller's own credentials.

The server runs the review rules itself (`creditmine.team.app`); this side only asks. A refusal
comes back as HTTP 403 with the server's reason, raised here as `ReviewRefused`.
"""

from __future__ import annotations

from creditmine.governance.service import ReviewRefused
from creditmine.registry.http import ServerRefused, get_json, post_json

__all__ = ["RemoteActions"]


class RemoteActions:
    """`ReviewService`'s actions, run by the team server at `tracking_uri` as the caller's account."""

    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri

    @property
    def actor(self) -> str:
        return str(self._call("whoami", None).get("user"))

    def register(self, model: str, run_id: str, model_id: str, product: str, run_name: str = "") -> dict:
        return self._call("register", {"model": model, "run_id": run_id, "model_id": model_id,
                                       "product": product, "run_name": run_name})["entry"]

    def approve(self, model: str, version, comment: str) -> dict:
        return self._call("approve", {"model": model, "version": str(version), "comment": comment})["entry"]

    def reject(self, model: str, version, comment: str) -> dict:
        return self._call("reject", {"model": model, "version": str(version), "comment": comment})["entry"]

    def promote(self, model: str, version, comment: str = "") -> dict:
        return self._call("promote", {"model": model, "version": str(version), "comment": comment})["entry"]

    def rollback(self, model: str, comment: str = "", version=None) -> dict:
        return self._call("rollback", {"model": model, "comment": comment,
                                       "version": None if version is None else str(version)})["entry"]

    def record_monitoring(self, model: str, version, verdict: str, details: dict | None = None,
                          comment: str = "") -> dict:
        return self._call("monitor", {"model": model, "version": str(version), "verdict": verdict,
                                      "details": details or {}, "comment": comment})["entry"]

    def _call(self, endpoint: str, body: dict | None) -> dict:
        try:
            return get_json(self.tracking_uri, endpoint) if body is None else post_json(self.tracking_uri, endpoint, body)
        except ServerRefused as exc:
            raise ReviewRefused(str(exc)) from None
