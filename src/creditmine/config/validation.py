"""Params of stage 04: validation tests, traffic-light thresholds and which tests gate."""

from pydantic import Field, field_validator, model_validator

from creditmine.config.base import Section


class Thresholds(Section):
    """Green below (or above, for `higher_is_better`) `green`, amber up to `amber`, red beyond."""

    green: float
    amber: float
    higher_is_better: bool = False

    @model_validator(mode="after")
    def _amber_beyond_green(self) -> "Thresholds":
        worse = self.amber < self.green if self.higher_is_better else self.amber > self.green
        if not worse and self.amber != self.green:
            direction = "below" if self.higher_is_better else "above"
            raise ValueError(
                f"amber must lie {direction} green; got green={self.green}, amber={self.amber}, "
                f"higher_is_better={self.higher_is_better}"
            )
        return self


def default_thresholds() -> dict[str, Thresholds]:
    """The traffic-light thresholds every test starts from; params override them one by one.

    AUC and KS levels follow common retail/SME practice; PSI and CSI bands are Siddiqi's
    (< 0.10 stable, 0.10-0.25 watch, > 0.25 shifted); p-value bands are the usual 5 % / 1 %.
    """
    low = dict(higher_is_better=False)
    high = dict(higher_is_better=True)
    return {
        # discrimination
        "auc_oot": Thresholds(green=0.70, amber=0.60, **high),
        "auc_holdout": Thresholds(green=0.70, amber=0.60, **high),
        "auc_drop": Thresholds(green=0.03, amber=0.07, **low),
        "ks_oot": Thresholds(green=0.30, amber=0.20, **high),
        "challenger_auc_gap": Thresholds(green=0.01, amber=0.03, **low),
        # calibration
        "calibration_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "jeffreys_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "hosmer_lemeshow_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "grades_underestimated_share": Thresholds(green=0.20, amber=0.40, **low),
        # ECB PD back-testing battery (section 2.5)
        "ecb_auc_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "migration_mwb_upper": Thresholds(green=0.20, amber=0.35, **low),
        "migration_mwb_lower": Thresholds(green=0.20, amber=0.35, **low),
        "migration_ztest_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "herfindahl_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        # stability and concentration
        "psi_score": Thresholds(green=0.10, amber=0.25, **low),
        "psi_score_month_max": Thresholds(green=0.10, amber=0.25, **low),
        "csi_max": Thresholds(green=0.10, amber=0.25, **low),
        "source_missing_jump": Thresholds(green=0.10, amber=0.30, **low),
        "grade_concentration_hhi": Thresholds(green=0.20, amber=0.30, **low),
        "grade_max_share": Thresholds(green=0.30, amber=0.50, **low),
        # segments and financial inclusion
        "segment_auc_min": Thresholds(green=0.65, amber=0.55, **high),
        "first_time_approval_ratio": Thresholds(green=0.80, amber=0.50, **high),
        # guards of stages 01-02: features flagged by the leakage screen, categorical features grouped
        # or excluded for their cardinality, and the fewest defaults of the train, holdout and
        # out-of-time samples (an AUC on 20 defaults has a standard error near 0.05)
        "leakage_screen": Thresholds(green=1, amber=3, **low),
        "high_cardinality": Thresholds(green=1, amber=10, **low),
        "sample_defaults_min": Thresholds(green=50, amber=20, **high),
    }


class ValidationParams(Section):
    bootstrap: int = Field(200, ge=10, description="bootstrap resamples for confidence intervals")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    min_segment_size: int = Field(100, ge=1, description="smaller segments are flagged, not judged")
    min_segment_defaults: int = Field(10, ge=0)
    min_sample_defaults: int = Field(
        20, ge=1, description="a test on a sample (holdout, out-of-time) with fewer defaults is not assessed"
    )
    thresholds: dict[str, Thresholds] = Field(
        default_factory=default_thresholds,
        description="test name -> light thresholds; keys given here override the defaults one by one",
    )
    gating: tuple[str, ...] = ("auc_oot", "auc_drop", "psi_score", "calibration_pvalue")
    psi_bins: int = Field(10, ge=2, description="quantile bins of the development score for PSI/CSI")
    min_month_size: int = Field(
        200, ge=1,
        description="months with fewer applications are shown but not judged (PSI of a sample of n "
        "has a noise floor near (bins - 1) / n)",
    )
    min_month_size_missing: int = Field(
        50, ge=1, description="months with fewer applications are shown but not judged for source missing-rates"
    )
    hosmer_lemeshow_groups: int | None = Field(
        None, ge=3, description="equal-size PD groups for Hosmer-Lemeshow; the grades when absent"
    )
    calibration_bins: int = Field(10, ge=2, description="quantile bins of the calibration curve")
    segment_columns: tuple[str, ...] = Field(
        ("product", "industry_section", "district", "size"),
        description="segment columns of the scores or features; 'size' picks the size column below",
    )
    size_columns: tuple[str, ...] = Field(
        ("employees", "registered_capital_cny", "credit_amount"),
        description="first present numeric column is cut into size bands for the 'size' segment",
    )
    size_bands: int = Field(4, ge=2, description="quantile bands of the size column")
    first_time_products: tuple[str, ...] = Field(
        ("first_loan",), description="application product codes of first-time borrowers"
    )
    min_migration_pairs: int = Field(
        50, ge=1, description="fewest enterprises rated at both dates for the migration tests"
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def _merge_with_defaults(cls, value):
        # A params file names only the thresholds it changes; the others keep their defaults.
        if value is None:
            return default_thresholds()
        if not isinstance(value, dict):
            return value
        merged: dict = dict(default_thresholds())
        merged.update(value)
        return merged

    @model_validator(mode="after")
    def _gating_tests_have_thresholds(self) -> "ValidationParams":
        unknown = [name for name in self.gating if name not in self.thresholds]
        if unknown:
            raise ValueError(
                f"gating names tests without thresholds: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.thresholds))}"
            )
        return self
