"""The names every stage shares: the stages themselves, the sample splits and the two models."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALL_SPLITS", "EXPLAIN", "FEATURES", "LABELLED_SPLITS", "MODEL_NAMES", "MONITOR", "REGISTER", "SPLIT_HOLDOUT",
    "SPLIT_OOT", "SPLIT_TRAIN", "SPLIT_UNLABELLED", "STAGES", "Stage", "TRAIN", "VALIDATE", "stage",
]


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline.

    Attributes
    ----------
    number : "01" .. "05", the order of the stages.
    name : its folder under runs/<run>/ and the stem of its notebook and report, e.g. "02_train".
    title : what it does, in a few words ("train").
    per_product : False for stage 01 (one feature table serves every product), True for the others.
    """

    number: str
    name: str
    title: str
    per_product: bool

    @property
    def notebook(self) -> str:
        """File name of the stage's notebook in notebooks/."""
        return f"{self.name}.ipynb"

    def describe(self, product: str | None = None) -> str:
        """'stage 02 (train) for product quick_loan', for messages."""
        text = f"stage {self.number} ({self.title})"
        return text + (f" for product '{product}'" if product and self.per_product else "")


FEATURES = Stage("01", "01_build_features", "features", per_product=False)
TRAIN = Stage("02", "02_train", "train", per_product=True)
EXPLAIN = Stage("03", "03_explain", "explain", per_product=True)
VALIDATE = Stage("04", "04_validate", "validate", per_product=True)
REGISTER = Stage("05", "05_register", "register", per_product=True)
STAGES: tuple[Stage, ...] = (FEATURES, TRAIN, EXPLAIN, VALIDATE, REGISTER)
MONITOR = Stage("06", "06_monitor", "monitor", per_product=True)
"""Stage 06 runs after go-live (`creditmine monitor`), once per champion and as-of date: not a
pipeline stage, so not in `STAGES`."""

# Sample splits of the applications (assigned once, in stage 01, by creditmine.data.split).
SPLIT_TRAIN, SPLIT_HOLDOUT, SPLIT_OOT, SPLIT_UNLABELLED = "train", "holdout", "oot", "unlabelled"
LABELLED_SPLITS: tuple[str, ...] = (SPLIT_TRAIN, SPLIT_HOLDOUT, SPLIT_OOT)
"""Splits whose applications have a matured outcome, in the order reports show them."""
ALL_SPLITS: tuple[str, ...] = (*LABELLED_SPLITS, SPLIT_UNLABELLED)

MODEL_NAMES: tuple[str, ...] = ("scorecard", "gbm")
"""The models stage 02 fits for every product; models.json names the primary one."""


def stage(token: str) -> Stage:
    """The stage named by its number ("02", "2") or its name ("02_train").

    Raises
    ------
    ValueError : naming the stages there are.
    """
    for candidate in STAGES:
        if token in (candidate.number, candidate.name, candidate.number.lstrip("0")):
            return candidate
    known = ", ".join(s.number for s in STAGES)
    raise ValueError(f"unknown stage '{token}'; stages are {known} (or their names)")
