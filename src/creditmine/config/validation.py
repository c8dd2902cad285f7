"""Params of stage 04: validation tests, traffic-light thresholds and which tests gate."""

from pydantic import Field

from creditmine.config.base import Section


class Thresholds(Section):
    """Green below (or above, for `higher_is_better`) `green`, amber up to `amber`, red beyond."""

    green: float
    amber: float
    higher_is_better: bool = False


class ValidationParams(Section):
    bootstrap: int = Field(200, ge=10, description="bootstrap resamples for confidence intervals")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    min_segment_size: int = Field(100, ge=1, description="smaller segments are flagged, not judged")
    min_segment_defaults: int = Field(10, ge=0)
    thresholds: dict[str, Thresholds] = Field(
        default_factory=lambda: {
            "auc_oot": Thresholds(green=0.70, amber=0.60, higher_is_better=True),
            "auc_drop": Thresholds(green=0.03, amber=0.07),
            "psi_score": Thresholds(green=0.10, amber=0.25),
            "csi_max": Thresholds(green=0.10, amber=0.25),
            "calibration_pvalue": Thresholds(green=0.05, amber=0.01, higher_is_better=True),
            "hosmer_lemeshow_pvalue": Thresholds(green=0.05, amber=0.01, higher_is_better=True),
            "grade_concentration_hhi": Thresholds(green=0.20, amber=0.30),
        }
    )
    gating: tuple[str, ...] = ("auc_oot", "auc_drop", "psi_score", "calibration_pvalue")
