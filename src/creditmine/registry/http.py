"""Calls to the team server's creditmine endpoints, with the caller's MLflow credentials.

Credentials are MLflow's (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`); the requests go
through MLflow's own HTTP client, so its TLS and retry settings apply.
"""

from __future__ import annotations

__all__ = ["API_PREFIX", "ServerRefused", "get_json", "post_json"]

API_PREFIX = "/api/2.0/creditmine"


class ServerRefused(RuntimeError):
    """The team server refused a request; the message is the server's, with the HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def get_json(tracking_uri: str, endpoint: str, params: dict | None = None) -> dict:
    return _request(tracking_uri, endpoint, "GET", params=params)


def post_json(tracking_uri: str, endpoint: str, body: dict) -> dict:
    return _request(tracking_uri, endpoint, "POST", json=body)


def _request(tracking_uri: str, endpoint: str, method: str, **kwargs) -> dict:
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    response = http_request(get_default_host_creds(tracking_uri), f"{API_PREFIX}/{endpoint}", method,
                            max_retries=2, backoff_factor=1, raise_on_status=False, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:300]}
    if response.status_code != 200:
        message = body.get("message") or f"HTTP {response.status_code}"
        raise ServerRefused(f"{message} (HTTP {response.status_code} from {tracking_uri})", response.status_code)
    return body
