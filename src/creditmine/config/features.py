"""Params of stage 01: feature construction."""

from typing import Literal

from pydantic import Field

from creditmine.config.base import Section


class FeatureParams(Section):
    backend: Literal["duckdb", "spark"] = "duckdb"
    windows_months: tuple[int, ...] = (3, 6, 12)
    cache: bool = Field(True, description="reuse the feature table when inputs and params are unchanged")
    threads: int | None = Field(None, gt=0, description="engine threads; all cores when absent")
