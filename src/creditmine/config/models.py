"""Params of stage 02: the scorecard, the gradient boosting, calibration and the master scale.

These sections hold the one set of defaults: the estimators of `creditmine.models` take their
constructor defaults from them (a test checks every one).
"""

from typing import Literal

from pydantic import Field, model_validator

from creditmine.config.base import Section


class ScaleParams(Section):
    """The points scale of both models: base_points at good:bad odds base_odds, pdo points double the odds."""

    base_points: float = 600.0
    base_odds: float = Field(50.0, gt=0, description="good:bad odds at base_points")
    pdo: float = Field(20.0, gt=0, description="points to double the odds")


class CalibrationParams(Section):
    """Raw log-odds to PD: Platt by default, since isotonic steps tie applications, which costs ranking
    (out-of-time AUC) and leaves master-scale grades empty; "auto" picks isotonic when its log loss is lower."""

    method: Literal["auto", "isotonic", "sigmoid"] = Field(
        "sigmoid", description="sigmoid (Platt, keeps the ranking), isotonic, or auto"
    )
    folds: int = Field(5, ge=2, description="folds comparing isotonic and Platt when 'auto'")
    pd_floor: float = Field(0.0003, gt=0, lt=0.1, description="smallest PD a calibrated model gives (3 bp)")


class MasterScaleParams(Section):
    """The rating master scale: grades 1 (best) .. G with PD boundaries from the development PDs."""

    grades: int = Field(10, ge=2, le=26, description="grades of the rating master scale")
    method: Literal["quantile", "geometric"] = Field(
        "quantile",
        description="grade PD boundaries: quantiles of development PDs, or log-spaced between their 1st and 99th percentiles",
    )


class ScorecardParams(Section):
    """Optimal binning and the WoE logistic regression of the scorecard."""

    min_bin_share: float = Field(0.05, gt=0, lt=0.5)
    max_bins: int = Field(6, ge=2)
    min_iv: float = Field(0.02, ge=0, description="drop features below this information value")
    max_correlation: float = Field(0.7, gt=0, le=1, description="drop the weaker of two features above")
    max_features: int = Field(25, ge=1)
    regularization_c: float = Field(1.0, gt=0)
    unknown_trend: Literal["auto", "auto_asc_desc", "peak", "valley"] = Field(
        "auto_asc_desc", description="binning trend of features whose risk direction is 0 (unknown)"
    )
    special_values: tuple[float, ...] = Field(
        (), description="numeric codes scored in their own 'Special' bin (e.g. -1 for 'not applicable')"
    )
    woe_smoothing: float = Field(0.5, ge=0, description="pseudo-count added to goods and bads of a bin that has no goods or no bads")
    binning_time_limit: float = Field(10.0, gt=0, description="seconds for the binning solver per feature")
    drop_wrong_sign: bool = Field(True, description="drop features whose coefficient contradicts the WoE and refit")


class SearchSpace(Section):
    """Ranges of the seeded random hyper-parameter search (log-uniform for rates, uniform else)."""

    learning_rate: tuple[float, float] = (0.02, 0.2)
    max_leaf_nodes: tuple[int, int] = (7, 63)
    min_samples_leaf: tuple[int, int] = (20, 400)
    l2_regularization: tuple[float, float] = (0.0, 10.0)

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> "SearchSpace":
        for name in ("learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization"):
            low, high = getattr(self, name)
            if high < low:
                raise ValueError(f"{name}: upper bound below lower bound; got ({low}, {high})")
        return self


class GbmParams(Section):
    max_iter: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    max_leaf_nodes: int = Field(31, ge=2)
    min_samples_leaf: int = Field(50, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    class_weight: Literal["balanced"] | None = None
    early_stopping: bool = True
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    n_iter_no_change: int = Field(20, ge=1, description="early stopping patience in boosting rounds")
    search_trials: int = Field(6, ge=0, description="seeded random hyper-parameter trials; 0 = none")
    search_space: SearchSpace = SearchSpace()
    search_rows: int | None = Field(
        20_000, ge=1000, description="trials fit on a stratified sample of this many training rows, the best is refitted on all; None = all"
    )
    search_folds: int = Field(
        0, ge=0, description="score trials by stratified k-fold AUC on the training data (small data); 0 = on the holdout"
    )
    monotone: bool = Field(True, description="monotone constraints from the catalog's risk direction")


class ModelParams(Section):
    """Stage 02: which model is primary, the parts both models share, and each model's own settings."""

    primary: Literal["gbm", "scorecard"] = "gbm"
    scale: ScaleParams = ScaleParams()
    calibration: CalibrationParams = CalibrationParams()
    master_scale: MasterScaleParams = MasterScaleParams()
    scorecard: ScorecardParams = ScorecardParams()
    gbm: GbmParams = GbmParams()
    threads: int | None = Field(
        1, ge=1, description="OpenMP threads of the boosting; None = all cores (oversubscribes a shared machine)"
    )
