"""Params of stage 02: the scorecard, the gradient boosting, calibration and the master scale."""

from typing import Literal

from pydantic import Field

from creditmine.config.base import Section


class ScorecardParams(Section):
    base_points: float = 600.0
    base_odds: float = Field(50.0, gt=0, description="good:bad odds at base_points")
    pdo: float = Field(20.0, gt=0, description="points to double the odds")
    min_bin_share: float = Field(0.05, gt=0, lt=0.5)
    max_bins: int = Field(6, ge=2)
    min_iv: float = Field(0.02, ge=0, description="drop features below this information value")
    max_correlation: float = Field(0.7, gt=0, le=1, description="drop the weaker of two features above")
    max_features: int = Field(25, ge=1)
    regularization_c: float = Field(1.0, gt=0)


class GbmParams(Section):
    max_iter: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    max_leaf_nodes: int = Field(31, ge=2)
    min_samples_leaf: int = Field(50, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    class_weight: Literal["balanced"] | None = None
    early_stopping: bool = True
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    search_trials: int = Field(6, ge=0, description="seeded random hyper-parameter trials; 0 = none")
    monotone: bool = Field(True, description="monotone constraints from the catalog's risk direction")


class ModelParams(Section):
    primary: Literal["gbm", "scorecard"] = "gbm"
    scorecard: ScorecardParams = ScorecardParams()
    gbm: GbmParams = GbmParams()
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    grades: int = Field(10, ge=2, le=26, description="grades of the rating master scale")
