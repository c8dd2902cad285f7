"""Params of a product's decision policy: grades to decisions, limits and terms."""

from typing import Literal

from pydantic import Field, model_validator

from creditmine.config.base import Section


#: Limit-rule base -> the column of the feature table holding it (yuan): the exposure measures a
#: product's limit may be a share of.
LIMIT_BASE_COLUMNS = {
    "remaining_contract_value": "remaining_contract_value",
    "taxable_sales_12m": "taxable_sales_12m",
    "invoiced_sales_12m": "invoiced_sales_12m",
    "electricity_bill_12m": "electricity_bill_12m",
    "exports_12m": "exports_12m",
    "requested_amount": "requested_amount_cny",
}


class LimitRule(Section):
    """Credit limit = share x base, scaled by grade, capped; `base` names the exposure measure."""

    base: Literal[tuple(LIMIT_BASE_COLUMNS)]  # type: ignore[valid-type] - the keys above
    share: float = Field(..., gt=0, le=1.0)


class PolicyParams(Section):
    """Grades -> approve / refer / decline (grades in neither list are declined), limits, terms."""

    approve_grades: tuple[int, ...] = (1, 2, 3, 4, 5)
    refer_grades: tuple[int, ...] = (6, 7)
    limit_rules: dict[str, LimitRule] = Field(
        default_factory=dict, description="application product code -> limit rule"
    )
    default_limit_rule: LimitRule = LimitRule(base="requested_amount", share=1.0)
    grade_limit_scale: dict[int, float] = Field(
        default_factory=dict,
        description="grade -> multiplier of the limit; empty means 1 for every grade; when given it "
        "must name every approve and refer grade",
    )
    cap_cny: float = Field(10_000_000, gt=0)
    cap_specialized_cny: float = Field(50_000_000, gt=0, description="cap of specialized-innovative enterprises")
    cap_at_requested: bool = True
    max_term_months: int = Field(12, ge=1)
    min_limit_cny: float = Field(
        10_000, ge=0, description="an approval whose limit falls below this is referred instead"
    )
    limit_step_cny: float = Field(1_000, ge=0, description="limits are rounded down to a multiple; 0: no rounding")

    @model_validator(mode="after")
    def _grades_are_consistent(self) -> "PolicyParams":
        both = sorted(set(self.approve_grades) & set(self.refer_grades))
        if both:
            raise ValueError(f"grades {both} are both in approve_grades and refer_grades")
        if any(g < 1 for g in (*self.approve_grades, *self.refer_grades)):
            raise ValueError("grades start at 1 (the best grade)")
        if self.grade_limit_scale:
            decided = set(self.approve_grades) | set(self.refer_grades)
            unscaled = sorted(decided - set(self.grade_limit_scale))
            if unscaled:
                raise ValueError(f"grade_limit_scale has no multiplier for grades {unscaled}")
            negative = {g: s for g, s in self.grade_limit_scale.items() if s < 0}
            if negative:
                raise ValueError(f"grade_limit_scale multipliers must be >= 0; got {negative}")
        return self
