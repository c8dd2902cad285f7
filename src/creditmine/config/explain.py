"""Params of stage 03: SHAP attributions and reason codes."""

from pydantic import Field

from creditmine.config.base import Section


class ExplainParams(Section):
    max_rows: int | None = Field(None, ge=1, description="cap on explained out-of-time rows (seeded sample)")
    top_reasons: int = Field(4, ge=1, description="reason codes per application")
    dependence_plots: int = Field(6, ge=0, description="dependence plots per model (top features)")
    interaction_rows: int = Field(500, ge=10, description="rows for SHAP interaction values")
    additivity_tolerance: float = Field(1e-6, gt=0, description="max |base + SHAP - log-odds|; the stage fails beyond")
    stability_rows: int = Field(5000, ge=50, description="training rows explained for the ranking stability")
    stability_top: int = Field(10, ge=2, description="length of the feature ranking compared")
    stability_min_spearman: float = Field(
        0.5, ge=-1, le=1, description="rank correlation below which the summary asks the validator to review"
    )
    segment_min_rows: int = Field(100, ge=10, description="smaller products / industry sections are not judged")
    sign_check_min_rows: int = Field(30, ge=5, description="rows with a value needed to judge a feature's sign")
    sign_check_tolerance: float = Field(
        0.05, ge=0, lt=1, description="|Spearman| below this is 'no clear direction', not a violation"
    )
    verify_rows: int = Field(200, ge=0, description="rows on which the fast TreeSHAP is checked against shap's")
    treeshap_memory_mb: float = Field(
        256, ge=0, description="MiB the gradient boosting's precomputed TreeSHAP tables may take (estimated "
        "before they are built); beyond, SHAP values come from the slower path kernel, with the same values"
    )
    interactions_top: int = Field(10, ge=1, description="strongest feature pairs shown")
    waterfall_features: int = Field(10, ge=3, description="features shown per waterfall")
