"""Params of stage 03: SHAP attributions and reason codes."""

from pydantic import Field

from creditmine.config.base import Section


class ExplainParams(Section):
    background_rows: int = Field(500, ge=10, description="background sample for the GBM explainer")
    max_rows: int | None = Field(None, ge=1, description="cap on explained out-of-time rows")
    top_reasons: int = Field(4, ge=1)
    dependence_plots: int = Field(6, ge=0)
    interaction_rows: int = Field(500, ge=10, description="rows for SHAP interaction values")
    additivity_tolerance: float = Field(1e-6, gt=0)
