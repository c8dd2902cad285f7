"""Params of a product's decision policy: grades to decisions, limits and terms."""

from typing import Literal

from pydantic import Field

from creditmine.config.base import Section


class LimitRule(Section):
    """Credit limit = share x base, scaled by grade, capped; `base` names the exposure measure."""

    base: Literal[
        "remaining_contract_value", "taxable_sales_12m", "invoiced_sales_12m",
        "electricity_bill_12m", "exports_12m", "requested_amount",
    ]
    share: float = Field(..., gt=0, le=1.0)


class PolicyParams(Section):
    approve_grades: tuple[int, ...] = (1, 2, 3, 4, 5)
    refer_grades: tuple[int, ...] = (6, 7)
    limit_rules: dict[str, LimitRule] = Field(
        default_factory=dict, description="application product code -> limit rule"
    )
    default_limit_rule: LimitRule = LimitRule(base="requested_amount", share=1.0)
    grade_limit_scale: dict[int, float] = Field(default_factory=dict, description="grade -> multiplier")
    cap_cny: float = Field(10_000_000, gt=0)
    cap_specialized_cny: float = Field(50_000_000, gt=0)
    cap_at_requested: bool = True
    max_term_months: int = Field(12, ge=1)
