"""The verdict a version's validation results give, and (from `creditmine.registry.vetting`) what its
decision model's files must be.

The verdict is recomputed from the lights of its own validation.json (the worst light of the gating
tests; a gating test that could not be assessed counts as amber), so a verdict key edited by hand
is caught.
"""

from __future__ import annotations

import json
from pathlib import Path

from creditmine.registry.vetting import LOADER_MODULE, vet_model

__all__ = ["LOADER_MODULE", "RED", "verdict_of", "vet_model"]

RED = "red"
_RANK = {"green": 0, "amber": 1, "red": 2}


def verdict_of(path: Path) -> tuple[str | None, str]:
    """(verdict, "") from a validation.json, or (None, why it gives none)."""
    if not path.is_file():
        return None, "the run has no 04_validate/validation.json: validate before registering"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        lights = [light for light in document["lights"] if light.get("gating")]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return None, f"04_validate/validation.json cannot be read ({exc})"
    worst = "green"
    for light in lights:
        colour = light.get("light")
        colour = "amber" if colour not in _RANK else colour   # not assessed: a gate nobody checked
        worst = colour if _RANK[colour] > _RANK[worst] else worst
    stated = document.get("verdict")
    if stated != worst:
        return None, (f"04_validate/validation.json states the verdict {stated!r} but its gating lights give "
                      f"{worst!r}; the file was edited")
    return worst, ""
