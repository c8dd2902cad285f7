"""Committed notebooks are thin and clean: no outputs, a parameters cell, the project's kernel."""

import json
from pathlib import Path

import pytest

from creditmine.artifacts import MONITOR
from creditmine.pipeline import STAGES

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


NOTEBOOK_STAGES = (*STAGES, MONITOR)  # stage 06 runs after go-live (creditmine monitor), not in the pipeline


def test_every_stage_has_its_notebook():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(s.notebook for s in NOTEBOOK_STAGES)


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES, ids=lambda s: s.name)
def test_notebook_is_committed_without_outputs(stage):
    nb = json.loads((NOTEBOOKS / stage.notebook).read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{stage.notebook}: code cells {dirty} carry outputs or execution counts"


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES, ids=lambda s: s.name)
def test_notebook_has_literal_parameters_and_no_definitions(stage):
    nb = json.loads((NOTEBOOKS / stage.notebook).read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{stage.notebook}: needs exactly one cell tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    assert "params_file" in source and ("run_name" in source or stage is MONITOR)
    if stage is MONITOR:
        assert "as_of" in source and "model_uri" in source and "outcomes" in source
    if stage.per_product:
        assert "product" in source
    assert code[0] is tagged[0], "the parameters cell comes first"
    for cell in code:
        text = "".join(cell["source"])
        assert "\ndef " not in "\n" + text and "\nclass " not in "\n" + text, (
            f"{stage.notebook}: define functions in src/creditmine, not in the notebook"
        )
    assert nb["metadata"]["kernelspec"]["name"] == "creditmine"
