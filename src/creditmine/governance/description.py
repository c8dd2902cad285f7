"""The short description a registered version shows in the MLflow UI: the verdict and why, in a few lines.

The full model card stays an artifact of the version (04_validate/model_card.md and .html); the
description is a bullet list (readable without table styles) of the verdict, the gating tests and
the key figures, kept under MLflow's 5,000-character limit of a version's description.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["MAX_DESCRIPTION", "version_description"]

MAX_DESCRIPTION = 4000


def version_description(validation_file: Path, product: str, run_name: str) -> str:
    """Markdown: the verdict, each gating test with its value and light, then the other red lights."""
    document = json.loads(validation_file.read_text(encoding="utf-8"))
    lights = document.get("lights", [])
    gating = [light for light in lights if light.get("gating")]
    other_red = [light for light in lights if not light.get("gating") and light.get("light") == "red"]
    metrics = document.get("metrics", {})
    lines = [
        f"**Validation verdict: {str(document.get('verdict', 'unknown')).upper()}** "
        f"(product {product}, pipeline run {run_name}; primary model {document.get('primary', '?')})",
        "",
        "Gating tests (the verdict is the worst of them):",
        *(f"- {_light(light)}" for light in gating),
    ]
    if other_red:
        lines += ["", "Red, not gating:", *(f"- {_light(light)}" for light in other_red[:8])]
    figures = [(k, metrics.get(k)) for k in ("development_auc", "auc_drop", "psi_score") if _finite(metrics.get(k))]
    if figures:
        lines += ["", "Key figures: " + "; ".join(f"{k} {v:.3f}" for k, v in figures)]
    lines += ["", "The model card is the artifact `04_validate/model_card.html` of this version's run; "
                  "`creditmine review show` gives the review pack."]
    text = "\n".join(lines)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 20] + "\n- ... (cut)"


def _light(light: dict) -> str:
    value = light.get("value")
    shown = f"{value:.4g}" if _finite(value) else "not assessed"
    return f"{light.get('test')}: {shown} → {str(light.get('light')).upper()}"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
