"""A product scope: which applications one model is built for, and its decision policy."""

from pydantic import Field

from creditmine.config.base import Section
from creditmine.config.policy import PolicyParams


class ProductParams(Section):
    name: str = Field(..., pattern=r"^[a-z0-9_]+$")
    title_en: str = ""
    title_zh: str = ""
    application_products: tuple[str, ...] = Field(
        (), description="application product codes in scope; empty means every application"
    )
    sources: tuple[str, ...] = Field(
        (), description="data sources whose features the model may use; empty means all"
    )
    primary_model: str | None = Field(None, pattern=r"^(gbm|scorecard)$", description="overrides models.primary")
    policy: PolicyParams = PolicyParams()
