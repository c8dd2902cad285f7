"""Params of the MLflow store and the registry."""

from pydantic import Field

from creditmine.config.base import Section


class TrackingParams(Section):
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; MLFLOW_TRACKING_URI, then sqlite:///mlruns/mlflow.db"
    )
    artifact_location: str = Field("mlruns/artifacts", description="artifact root of new experiments")
    experiment_prefix: str = "creditmine"
    model_prefix: str = "creditmine"
    register_model: bool = Field(True, description="register a model version in stage 05")
