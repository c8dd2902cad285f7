"""What a decision model must be to be registered, and the verdict its validation results give.

A registrable decision model loads through the installed creditmine (`creditmine.decision.loader`)
and holds data only: no code directory, no pickled Python model, no pickle files. Its verdict is
recomputed from the lights of its own validation.json (the worst light of the gating tests; a
gating test that could not be assessed counts as amber), so a verdict key edited by hand is caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

__all__ = ["LOADER_MODULE", "RED", "verdict_of", "vet_model"]

LOADER_MODULE = "creditmine.decision.loader"
RED = "red"
_RANK = {"green": 0, "amber": 1, "red": 2}
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".cloudpickle", ".joblib", ".dill")


def vet_model(model_dir: Path) -> list[str]:
    """Why the model in `model_dir` cannot be registered (empty when it can)."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        return ["it has no MLmodel file"]
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return [f"its MLmodel file is not YAML ({str(exc).splitlines()[0]})"]
    problems = []
    flavors = spec.get("flavors") or {}
    pyfunc = flavors.get("python_function") or {}
    if pyfunc.get("loader_module") != LOADER_MODULE:
        problems.append(f"it must load through {LOADER_MODULE}, not {pyfunc.get('loader_module')!r}")
    if set(flavors) - {"python_function"}:
        problems.append(f"it carries other flavors ({', '.join(sorted(set(flavors) - {'python_function'}))})")
    for key in ("code", "python_model", "model_code_path", "cloudpickle_version"):
        if pyfunc.get(key):
            problems.append(f"its python_function flavor names {key}: code kept with the artifacts would run")
    if spec.get("code") or (model_dir / "code").exists():
        problems.append("it carries a code directory")
    pickles = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")
                     if p.is_file() and p.suffix.lower() in _PICKLE_SUFFIXES)
    if pickles:
        problems.append(f"it holds pickle files ({', '.join(pickles[:3])})")
    return problems


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
