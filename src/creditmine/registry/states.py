"""The vocabulary of the registry: review states, version tags, aliases and the names of models.

One place for every name the stage 05, the review actions, the gate and the decision model share.
"""

from __future__ import annotations

__all__ = [
    "APPROVED", "CHAMPION", "MODEL_ARTIFACT", "PENDING", "PREVIOUS_CHAMPION", "REJECTED", "REVIEW_STATES",
    "TAG_COMMENT", "TAG_DEVELOPER", "TAG_MANIFEST", "TAG_MONITORING", "TAG_MONITORING_AS_OF", "TAG_PRIMARY", "TAG_REVIEWED_AT", "TAG_REVIEWER", "TAG_STATE",
    "TAG_VERDICT", "VERSION_SCHEME", "experiment_name", "gated_uri", "model_name",
]

# review states of a model version: pending -> approved | rejected
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
REVIEW_STATES = (PENDING, APPROVED, REJECTED)

# aliases of a registered model: the version deciding loans, and the one it replaced
CHAMPION, PREVIOUS_CHAMPION = "champion", "previous-champion"

# version tags written at registration and by the review actions
TAG_STATE, TAG_VERDICT, TAG_MANIFEST = "review_state", "validation_verdict", "manifest_hash"
TAG_DEVELOPER, TAG_REVIEWER, TAG_COMMENT = "developer", "reviewer", "review_comment"
TAG_REVIEWED_AT, TAG_PRIMARY = "reviewed_at", "primary_model"
# written by the monitoring trigger (stage 06): a display of the trail's latest `monitor` entry
TAG_MONITORING, TAG_MONITORING_AS_OF = "monitoring_verdict", "monitoring_as_of"

MODEL_ARTIFACT = "decision_model"
"""Name of the decision model logged in a stage 05 run."""

VERSION_SCHEME = "creditmine"
"""URI scheme of registered versions' sources, served by `creditmine.registry.gated_repo` (kept
here so that naming a source never imports the repository: MLflow loads it from its entry point)."""


def gated_uri(run_id: str) -> str:
    """The source of a version registered from run `run_id`: ``creditmine:/runs/<run_id>``."""
    return f"{VERSION_SCHEME}:/runs/{run_id}"


def experiment_name(cfg, product: str) -> str:
    """The MLflow experiment of a product: `<mlflow.experiment_prefix>-<product>`."""
    return f"{cfg.params.mlflow.experiment_prefix}-{product}"


def model_name(cfg, product: str) -> str:
    """The registered model of a product: `<mlflow.model_prefix>-<product>`."""
    return f"{cfg.params.mlflow.model_prefix}-{product}"
