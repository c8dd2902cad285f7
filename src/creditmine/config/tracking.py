"""Params of the MLflow store, the registry and the deployment review."""

from pydantic import Field

from creditmine.config.base import Section


class TrackingParams(Section):
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; MLFLOW_TRACKING_URI, then sqlite:///mlruns/mlflow.db"
    )
    artifact_location: str = Field("mlruns/artifacts", description="artifact root of new experiments")
    experiment_prefix: str = "creditmine"
    model_prefix: str = "creditmine"
    # -- concurrency: several pipeline runs may write to one embedded SQLite store at once --
    lock_timeout_s: float = Field(
        300.0, gt=0, description="seconds to wait for the store's write lock before giving up"
    )
    write_retries: int = Field(
        6, ge=0, description="retries of a registry write that hit 'database is locked'"
    )
    retry_wait_s: float = Field(0.5, gt=0, description="first wait between retries; doubles each time")
    # -- the champion comparison of `creditmine review show` and the review pack (its PSI uses
    # validation.psi_bins, the same bins as stage 04) --
    key_metrics: tuple[str, ...] = Field(
        ("development_auc", "auc_drop", "psi_score"),
        description="metrics shown right after the lit tests by review show and its champion comparison",
    )
