"""Params of stage 06 (monitoring after go-live) and of the synthetic world's production period."""

from typing import Literal

from pydantic import Field, field_validator, model_validator

from creditmine.config.base import Section
from creditmine.config.validation import Thresholds

SCENARIOS = ("none", "regional_shock", "applicant_mix")
"""Drift scenarios of the production period: none, a regional shock from `drift_start` (the
enterprises of `districts` lose health and sales), or a change in the applicant mix from
`drift_start` (young and weak enterprises apply `mix_factor` times as often)."""


class ProductionParams(Section):
    """The months after the development data in which the champion decides (synthetic world only).

    The production world is the development world's process run on past `data.synthetic.end`:
    the same enterprises (identities and attributes), their months drawn afresh over the longer
    calendar, and `maturity_months` more months so every production loan's outcome is known.
    """

    start: str = Field("2025-01", pattern=r"^\d{4}-\d{2}$", description="first month the champion decides, YYYY-MM")
    months: int = Field(18, ge=1, le=60, description="months of the production period")
    scenario: Literal["none", "regional_shock", "applicant_mix"] = Field(
        "none", description="drift of the production period: none | regional_shock | applicant_mix"
    )
    drift_start: str = Field("2025-10", pattern=r"^\d{4}-\d{2}$", description="first month of the drift")
    districts: tuple[str, ...] = Field(
        ("Chaoyang", "Haidian", "Fengtai"), min_length=1, description="districts hit by the regional shock"
    )
    shock: float = Field(1.6, gt=0, le=5, description="health the regional shock takes at full strength")
    mix_factor: float = Field(4.0, gt=1, le=20, description="how much more often young, weak enterprises apply")

    @model_validator(mode="after")
    def _drift_inside(self) -> "ProductionParams":
        if self.drift_start < self.start:
            raise ValueError(f"drift_start must not be before start; got {self.drift_start} < {self.start}")
        return self


def default_monitoring_thresholds() -> dict[str, Thresholds]:
    """Traffic-light thresholds of the monitoring tests; params override them one by one.

    PSI and CSI bands are Siddiqi's, as in stage 04; p-value bands the usual 5 % / 1 %.
    """
    low = dict(higher_is_better=False)
    high = dict(higher_is_better=True)
    return {
        # population
        "psi_score": Thresholds(green=0.10, amber=0.25, **low),
        "csi_max": Thresholds(green=0.10, amber=0.25, **low),
        "source_missing_jump": Thresholds(green=0.10, amber=0.30, **low),
        "new_category_share": Thresholds(green=0.01, amber=0.05, **low),
        # decisions
        "bad_input_share": Thresholds(green=0.02, amber=0.05, **low),
        "approval_rate_change": Thresholds(green=0.10, amber=0.20, **low),
        "reason_mix_psi": Thresholds(green=0.10, amber=0.25, **low),
        # outcomes
        "early_default_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "jeffreys_pvalue_min": Thresholds(green=0.05, amber=0.01, **high),
        "binomial_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        "auc_pvalue": Thresholds(green=0.05, amber=0.01, **high),
        # label-free estimates
        "expected_default_rate_ratio": Thresholds(green=1.30, amber=1.60, **low),
        "expected_auc_drop": Thresholds(green=0.03, amber=0.07, **low),
    }


class MonitoringParams(Section):
    """Stage 06: what `creditmine monitor` tests, how it lights them, and what a red verdict does."""

    production: ProductionParams = ProductionParams()
    thresholds: dict[str, Thresholds] = Field(
        default_factory=default_monitoring_thresholds,
        description="test name -> light thresholds; keys given here override the defaults one by one",
    )
    gating: tuple[str, ...] = Field(
        ("psi_score", "source_missing_jump", "new_category_share", "bad_input_share", "jeffreys_pvalue_min",
         "auc_pvalue"),
        description="tests whose worst light is the verdict; CSI, early defaults and the label-free ratios "
        "are shown and lit but do not gate by default (CSI of single months moves with the season and "
        "with features that grow with the data's history)",
    )
    min_month_size: int = Field(
        200, ge=1, description="a month with fewer decisions is shown but not judged (its PSI is mostly noise)"
    )
    maturity_months: int = Field(12, ge=1, le=36, description="months on book at which an outcome has matured")
    min_defaults: int = Field(5, ge=0, description="fewest matured defaults for the AUC back-test")
    red_blocks_decisions: bool = Field(
        False, description="a red monitoring verdict also stops the version deciding (recorded in the trail)"
    )
    label_free_draws: int = Field(
        400, ge=50, description="outcome draws from the PDs for the interval of the label-free AUC estimate"
    )
    reports_dir: str = Field("reports/monitor", description="reports/monitor/<product>/<as_of>.html")
    outputs_dir: str = Field("runs/monitor", description="runs/monitor/<product>/<as_of>/ (monitor.json, plots)")
    reference_splits: tuple[Literal["train", "holdout", "oot"], ...] = Field(
        ("train", "holdout"), min_length=1, description="splits of the feature table that make the development sample"
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def _merge_with_defaults(cls, value):
        if value is None:
            return default_monitoring_thresholds()
        if not isinstance(value, dict):
            return value
        return {**default_monitoring_thresholds(), **value}

    @model_validator(mode="after")
    def _gating_tests_have_thresholds(self) -> "MonitoringParams":
        unknown = [name for name in self.gating if name not in self.thresholds]
        if unknown:
            raise ValueError(f"gating names tests without thresholds: {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(self.thresholds))}")
        return self
