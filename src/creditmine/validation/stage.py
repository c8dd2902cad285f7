"""Stage 04: the independent validation of a product's models, from the files stages 01-03 wrote.

`run(cfg, product)` reads the product's scores, models.json, master scale, the feature table and
catalog and, when present, explain.json (`creditmine.validation.inputs`); runs every section
(`creditmine.validation.sections`) for the primary model and the challenger on the train, holdout
and out-of-time samples; lights every test from the params thresholds; and writes validation.json,
model_card.md, model_card.html, tables/*.csv and plots/*.png.

Choices a validator should know:
- Development AUC is the in-time holdout AUC (the train AUC of a boosted model is optimistic);
  the train sample is used only as the reference distribution for PSI, CSI and concentration.
- Rating migrations: an enterprise's last application up to `split.train_end` and its first
  application from `split.oot_start` on, labelled or not, are its two rating dates.
- Without application dates (a bring-your-own data set with no date column) the time-based parts
  (PSI by month, source missing-rates by month, migrations) are skipped and say so.
"""

from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm

from creditmine import artifacts
from creditmine.config import RunConfig
from creditmine.validation import model_card
from creditmine.validation.inputs import ValidationInputs, load_inputs
from creditmine.validation.lights import evaluate_lights, verdict
from creditmine.validation.result import ValidationResult
from creditmine.validation.sections import SectionResult, sections

__all__ = ["run", "validate"]


def run(cfg: RunConfig, product: str, initial_auc: float | None = None, progress: bool = True) -> ValidationResult:
    """Stage 04 for one product: read the earlier stages' files, validate, write 04_validate/.

    Parameters
    ----------
    cfg : the validated run configuration.
    product : a product of `cfg` whose stage 02 has run.
    initial_auc : the AUC at initial validation for the ECB AUC back-test; None takes the
        champion's development AUC from the registry when there is a champion, else the primary
        model's own development (holdout) AUC.
    progress : show a tqdm bar over the sections.
    """
    if initial_auc is None:
        from creditmine.registry.store import champion_development_auc

        initial_auc = champion_development_auc(cfg, product)
    inputs = load_inputs(cfg, product, initial_auc)
    product_params = cfg.product(product)
    facts = {
        "product_title": product_params.title_en,
        "application_products": list(product_params.application_products),
        "run_name": cfg.run_name, "params_file": str(cfg.params_path),
    }
    return validate(inputs, facts, artifacts.layout(cfg, product), progress)


def validate(inputs: ValidationInputs, facts: dict | None = None, where: artifacts.Layout | None = None,
             progress: bool = True) -> ValidationResult:
    """Every section on the inputs, the lights and the verdict; the files written when `where` is given."""
    found = SectionResult()
    for name, section in tqdm(sections().items(), desc=f"validate {inputs.product}", disable=not progress, unit="part"):
        part = section(inputs)
        for attribute in ("values", "notes", "metrics", "tables", "figures", "skipped"):
            getattr(found, attribute).update(getattr(part, attribute))
    params = inputs.params
    for name, reason in found.skipped.items():
        if name in params.thresholds and name not in found.values:
            found.values[name] = None
            found.notes.setdefault(name, reason)
    lights = evaluate_lights(found.values, params, found.notes)
    final = verdict(lights)
    for light in lights:
        if light.value is not None:
            found.metrics[f"light.{light.test}"] = light.value
    flat = {k: float(v) for k, v in found.metrics.items() if _is_number(v)}
    card = model_card.card_facts(inputs, lights, final, found.tables.get("discrimination", _empty()),
                                 found.tables.get("segments", _empty()), dict(found.skipped), facts or {})
    sections_of_card = model_card.model_card_sections(card)
    title = f"Model card: creditmine-{inputs.product}"
    result = ValidationResult(inputs.product, final, lights, flat, found.tables, {}, dict(found.skipped),
                              None, model_card.to_markdown(title, sections_of_card), inputs.primary)
    if where is not None:
        _write(where, inputs, result, found.figures, sections_of_card, title, facts or {})
    return result


def _write(where: artifacts.Layout, inputs: ValidationInputs, result: ValidationResult, figures: dict,
           card_sections, title: str, facts: dict) -> None:
    plots, tables = where.plots(artifacts.VALIDATE), where.validation_tables
    plots.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    result.stage_dir = where.stage_dir(artifacts.VALIDATE)
    for name, figure in figures.items():
        path = plots / f"{name}.png"
        figure.savefig(path, dpi=110)
        result.plots[name] = path
    for name, table in result.tables.items():
        if len(table):
            table.to_csv(tables / f"{name}.csv", index=not _plain_index(table))
    own = inputs.initial_auc is None
    artifacts.write_validation(where, {
        "product": inputs.product, "verdict": result.verdict,
        "gating": list(inputs.params.gating),
        "primary": inputs.primary, "challenger": inputs.challenger,
        "initial_auc": inputs.development_auc if own else inputs.initial_auc,
        "initial_auc_source": "own development" if own else "champion",
        "lights": [light.to_dict() for light in result.lights],
        "metrics": result.metrics,
        "skipped": result.skipped,
        "plots": sorted(p.name for p in result.plots.values()),
        **{k: v for k, v in facts.items() if k in ("run_name", "params_file")},
    })
    artifacts.write_model_card(where, result.card_markdown, model_card.to_html(title, card_sections, result.verdict))


def _plain_index(table) -> bool:
    import pandas as pd

    return isinstance(table.index, pd.RangeIndex)


def _empty():
    import pandas as pd

    return pd.DataFrame()


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))
