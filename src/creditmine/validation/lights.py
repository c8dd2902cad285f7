"""Traffic lights: each test's value against its params thresholds, and the model's verdict.

A test is green, amber or red by the thresholds in `validation.thresholds`; a test that could not
be computed (no dates, too few pairs) is "n/a" with the reason. The verdict is the worst light of
the tests named in `validation.gating`; a gating test that could not be computed counts as amber,
since a gate nobody could check is not passed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from creditmine.config import Thresholds, ValidationParams

__all__ = ["LIGHTS", "Light", "evaluate_lights", "lights_table", "style_lights", "traffic_light", "verdict"]

LIGHTS = ("green", "amber", "red")
_RANK = {"n/a": -1, "green": 0, "amber": 1, "red": 2}
_COLOURS = {"green": "#c8e6c9", "amber": "#ffe082", "red": "#ef9a9a", "n/a": "#eeeeee"}


@dataclass(frozen=True)
class Light:
    """One test's light."""

    test: str
    value: float | None
    light: str  # green | amber | red | n/a
    gating: bool
    threshold: dict = field(default_factory=dict)  # green, amber, higher_is_better
    note: str = ""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["value"] = None if self.value is None or not math.isfinite(self.value) else float(self.value)
        return out


def traffic_light(value: float | None, thresholds: Thresholds) -> str:
    """green / amber / red for one value; "n/a" when the value is missing or not finite.

    Lower is better: green below `green`, amber below `amber`, red otherwise. Higher is better:
    green at or above `green`, amber at or above `amber`, red otherwise.
    """
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    v = float(value)
    if thresholds.higher_is_better:
        return "green" if v >= thresholds.green else "amber" if v >= thresholds.amber else "red"
    return "green" if v < thresholds.green else "amber" if v < thresholds.amber else "red"


def evaluate_lights(values: dict[str, float | None], params: ValidationParams,
                    notes: dict[str, str] | None = None) -> list[Light]:
    """Lights of every test in `values` (test name -> value), in the order given.

    Every name must have thresholds in `params.thresholds`; `notes[test]` explains a value or
    why it is missing.
    """
    notes = notes or {}
    unknown = [name for name in values if name not in params.thresholds]
    if unknown:
        raise KeyError(f"no thresholds in validation.thresholds for: {', '.join(unknown)}")
    lights = []
    for name, value in values.items():
        limits = params.thresholds[name]
        lights.append(Light(
            test=name,
            value=None if value is None else float(value),
            light=traffic_light(value, limits),
            gating=name in params.gating,
            threshold=limits.model_dump(),
            note=notes.get(name, ""),
        ))
    missing_gates = [g for g in params.gating if g not in values]
    for name in missing_gates:
        lights.append(Light(name, None, "n/a", True, params.thresholds[name].model_dump(),
                            notes.get(name, "not computed for this model")))
    return lights


def verdict(lights: list[Light]) -> str:
    """The worst light among the gating tests; amber for a gating test that could not be computed,
    green when nothing gates."""
    worst = "green"
    for light in lights:
        if not light.gating:
            continue
        colour = "amber" if light.light == "n/a" else light.light
        if _RANK[colour] > _RANK[worst]:
            worst = colour
    return worst


def lights_table(lights: list[Light]) -> pd.DataFrame:
    """The lights as a table: test, value, light, gating, rule (e.g. "green < 0.10, amber < 0.25"),
    note; gating tests first."""
    rows = []
    for light in lights:
        t = light.threshold
        if t:
            sign = ">=" if t["higher_is_better"] else "<"
            rule = f"green {sign} {t['green']:g}, amber {sign} {t['amber']:g}"
        else:
            rule = ""
        rows.append({"test": light.test, "value": light.value, "light": light.light,
                     "gating": light.gating, "rule": rule, "note": light.note})
    table = pd.DataFrame(rows, columns=["test", "value", "light", "gating", "rule", "note"])
    return table.sort_values("gating", ascending=False, kind="stable").reset_index(drop=True)


def style_lights(table: pd.DataFrame):
    """A pandas Styler colouring the light column (and the row's test name) by its light."""
    def colour(row):
        background = f"background-color: {_COLOURS.get(row['light'], '')}"
        return [background if column in ("test", "light") else "" for column in row.index]

    return (table.style.apply(colour, axis=1)
            .format({"value": lambda v: "" if v is None or pd.isna(v) else f"{v:.4g}"})
            .hide(axis="index"))
