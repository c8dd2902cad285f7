"""Params of the development / holdout / out-of-time split."""

from datetime import date

from pydantic import Field, model_validator

from creditmine.config.base import Section


class SplitParams(Section):
    train_end: date | None = Field(None, description="last application date of development data")
    oot_start: date | None = Field(None, description="first application date of out-of-time data")
    holdout_share: float = Field(0.2, ge=0.0, lt=1.0, description="stratified in-time holdout")
    oot_share: float = Field(0.25, gt=0.0, lt=1.0, description="used only when there is no date column")

    @model_validator(mode="after")
    def _oot_after_train(self) -> "SplitParams":
        if self.train_end and self.oot_start and self.oot_start <= self.train_end:
            raise ValueError(
                f"oot_start must be after train_end; got {self.oot_start} <= {self.train_end}"
            )
        return self
