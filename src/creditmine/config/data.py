"""Params of the data stage: where the raw tables come from."""

from datetime import date
from typing import Literal

from pydantic import Field, model_serializer, model_validator

from creditmine.config.base import Section


class SyntheticParams(Section):
    """The synthetic government-data world (see docs/synthetic.md)."""

    enterprises: int = Field(20_000, gt=0, description="number of enterprises to simulate")
    start: str = Field("2021-01", pattern=r"^\d{4}-\d{2}$", description="first month, YYYY-MM")
    end: str = Field("2024-12", pattern=r"^\d{4}-\d{2}$", description="last month, YYYY-MM")
    chunk_enterprises: int = Field(5_000, gt=0, description="enterprises generated per chunk")
    shock_start: str = Field("2022-03", pattern=r"^\d{4}-\d{2}$", description="first month of the macro shock")
    shock_end: str = Field("2022-08", pattern=r"^\d{4}-\d{2}$", description="last month at full shock; recovery follows")
    applications_scale: float = Field(
        1.0, gt=0, le=20, description="multiplies every product's monthly application rate"
    )
    thin_file_share: float = Field(
        0.10, ge=0, le=1, description="share of enterprises whose tax and electricity records start late in the window"
    )
    past_policy: Literal["standard", "strict"] = Field(
        "standard",
        description="the bank's past booking policy: standard books about 70 % of applications, fewer of the visibly "
        "weak; strict books about half and turns the weak away more sharply (reject-inference studies)",
    )

    @model_serializer(mode="wrap")
    def _standard_policy_unsaid(self, handler):
        # the default world's params (and so its data folder's hash) stay what they were before the
        # past-policy switch existed: the standard policy is left out of the dump
        out = handler(self)
        if isinstance(out, dict) and out.get("past_policy") == "standard":
            out.pop("past_policy")
        return out

    @model_validator(mode="after")
    def _window_is_ordered(self) -> "SyntheticParams":
        if self.end < self.start:
            raise ValueError(f"end must not be before start; got {self.start} > {self.end}")
        if self.shock_end < self.shock_start:
            raise ValueError(f"shock_end must not be before shock_start; got {self.shock_start} > {self.shock_end}")
        return self


class TabularParams(Section):
    """Any tabular credit data set (one row per application) instead of the synthetic world."""

    path: str = Field(..., description="CSV or Parquet file, relative to the project root")
    id_column: str | None = Field(None, description="row id; the row number when absent")
    target_column: str
    bad_values: tuple[str | int | float, ...] = Field(
        (1,), min_length=1, description="values of target_column that mean default"
    )
    good_values: tuple[str | int | float, ...] | None = Field(
        None, description="values that mean no default; rows with any other value are kept unlabelled and counted. "
        "None: every non-empty value that is not bad is good",
    )
    date_column: str | None = Field(None, description="application date; random split when absent")
    date_format: str | None = Field(None, description="strftime format of date_column (e.g. %d/%m/%Y); ISO when absent")
    feature_columns: tuple[str, ...] | None = Field(None, description="the columns that are features; all others when absent")
    exclude_columns: tuple[str, ...] = Field((), description="columns that are not features (ids, notes, later outcomes)")
    amount_column: str | None = Field(None, description="requested amount, so that the policy's limits work")
    term_column: str | None = Field(None, description="term in months")
    population: str | None = Field(None, description="who the model is for, in a few words (the model card says it)")
    risk_directions: dict[str, Literal[-1, 0, 1]] = Field(
        default_factory=dict, description="+1: higher value, higher risk; -1: lower risk"
    )
    product: str = Field("all", description="product code given to every row")

    @model_validator(mode="before")
    @classmethod
    def _one_bad_value(cls, data):
        # `bad_value: x` is the one-value form of `bad_values: [x]`
        if isinstance(data, dict) and "bad_value" in data:
            data = dict(data)
            if "bad_values" in data:
                raise ValueError("give bad_values or bad_value, not both")
            data["bad_values"] = [data.pop("bad_value")]
        return data

    @model_validator(mode="after")
    def _columns_are_consistent(self) -> "TabularParams":
        if self.feature_columns is not None and self.exclude_columns:
            raise ValueError("give feature_columns or exclude_columns, not both")
        overlap = set(map(str, self.bad_values)) & set(map(str, self.good_values or ()))
        if overlap:
            raise ValueError(f"values both bad and good: {sorted(overlap)}")
        return self


class DataParams(Section):
    source: Literal["synthetic", "files", "tabular"] = "synthetic"
    synthetic: SyntheticParams = SyntheticParams()
    files_dir: str | None = Field(None, description="ingested tables in the data model (source=files)")
    tabular: TabularParams | None = None
    as_of: date | None = Field(None, description="end of the data window; the last month's end by default")

    @model_validator(mode="after")
    def _source_has_its_settings(self) -> "DataParams":
        if self.source == "files" and not self.files_dir:
            raise ValueError("source 'files' needs files_dir")
        if self.source == "tabular" and self.tabular is None:
            raise ValueError("source 'tabular' needs a tabular section")
        return self
