"""The sections of stage 04, each a pure function of the `ValidationInputs` returning a `SectionResult`.

A section computes its tests' values (lit afterwards from the params thresholds), the flat metrics
logged to MLflow, its tables and its figures, and says what it could not assess and why. Sections do
not read each other's results: what two of them need (the development AUC, say) is computed once
in `ValidationInputs`. The report's words about each section live in the stage 04 notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SectionResult", "sections", "too_few_defaults"]


@dataclass
class SectionResult:
    """What one section found.

    Attributes
    ----------
    values : test name -> value for its traffic light (None: not assessed).
    notes : test name -> what the value is, or why it is missing.
    metrics : flat figures for validation.json and MLflow ("gbm.oot.auc", "psi_score", ...).
    tables : name -> DataFrame shown in the report and written to tables/<name>.csv.
    figures : name -> matplotlib Figure, written to plots/<name>.png.
    skipped : part or test -> why it could not be assessed.
    """

    values: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def skip(self, test: str, reason: str) -> None:
        """Record a test that could not be assessed (its light is n/a, with the reason)."""
        self.values[test] = None
        self.notes[test] = reason
        self.skipped[test] = reason

    def value(self, test: str, value: float | None, note: str = "") -> None:
        self.values[test] = value
        if note:
            self.notes[test] = note


def too_few_defaults(inputs, split: str) -> str | None:
    """Why tests on a sample cannot be judged (fewer defaults than `validation.min_sample_defaults`), or None."""
    labelled = inputs.labelled(split)
    defaults, minimum = int(labelled["default_12m"].sum()), inputs.params.min_sample_defaults
    if defaults < minimum:
        return (f"not assessed: the {split} sample has {defaults} defaults, fewer than "
                f"validation.min_sample_defaults = {minimum}")
    return None


def sections() -> dict[str, Callable]:
    """Section name -> section function, in the order of the report."""
    from creditmine.validation.sections import (
        calibration, discrimination, ecb, guards, population, portfolio, through_the_door,
    )

    return {
        "discrimination": discrimination.discrimination,
        "calibration": calibration.calibration,
        "ecb": ecb.ecb_battery,
        "stability": population.stability,
        "concentration": portfolio.concentration,
        "segments": portfolio.segments,
        "inclusion": portfolio.inclusion,
        "through_the_door": through_the_door.through_the_door,
        "guards": guards.guards,
        "explanations": portfolio.explanations,
    }
