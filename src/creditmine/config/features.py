"""Params of stage 01: feature construction."""

from typing import Literal

from pydantic import Field, field_validator

from creditmine.config.base import Section


class FeatureParams(Section):
    backend: Literal["duckdb", "spark"] = "duckdb"
    windows_months: tuple[int, ...] = Field(
        (3, 6, 12), description="look-back windows in months; the longest is the annual window (ratios, exposures)"
    )
    cache: bool = Field(True, description="reuse the feature table when inputs and params are unchanged")
    threads: int | None = Field(None, gt=0, description="engine threads; all cores when absent")
    memory_limit_gb: float = Field(4.0, gt=0, description="DuckDB memory limit; larger work spills to disk")
    filing_deadline_day: int = Field(
        15, ge=1, le=28, description="day of the following month by which a monthly VAT return is due"
    )
    spark_master: str = Field("local[2]", description="Spark master URL when backend is spark")

    @field_validator("windows_months")
    @classmethod
    def _windows_hold_the_annual_window(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        windows = tuple(sorted(set(value)))
        if not windows or windows[0] <= 0:
            raise ValueError(f"windows must be positive month counts, got {value}")
        if windows[-1] != 12:
            # The exposure measures of the decision policy (taxable_sales_12m, ...) are annual.
            raise ValueError(f"the longest window must be 12 months (the exposure measures are annual), got {value}")
        return windows
