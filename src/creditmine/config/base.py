"""The base of every params section: strict pydantic models that refuse unknown keys."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A params section: unknown keys are errors, values are validated, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
