"""A red or amber verdict is explained in words, gating reds look different from the others, and
stage 05 never proposes approving a red version."""

import pytest

from creditmine.reports import register, verdicts
from factories import RED_AUC, from_stages, revalidate


@pytest.fixture(scope="module")
def red(tmp_path_factory, quick_loan_stages):
    """Stages 01-04 of a small quick-loan project (a copy of the session's `quick_loan_stages`), then
    stage 04 again with thresholds that turn the out-of-time AUC (a gating test) red."""
    cfg = from_stages(quick_loan_stages, tmp_path_factory.mktemp("red") / "project", "dev")
    cfg = revalidate(cfg, "quick_loan", **RED_AUC)
    from creditmine.validation.stage import run as validate

    return cfg, validate(cfg, "quick_loan", progress=False)


def test_a_red_verdict_names_its_gating_tests_their_meaning_and_what_to_do(red):
    _, result = red
    assert result.verdict == "red"
    found = result.explanation()
    assert [light["test"] for light in found.setting] == ["auc_oot"]
    assert found.headline == "RED, set by Out-of-time AUC."
    assert "Out-of-time AUC is" in found.reasons[0] and "amber needs >= 0.98" in found.reasons[0]
    assert "never saw" in found.reasons[0]                       # what the test means
    assert any("reject" in r for r in found.remedies) and not found.approvable
    html = result.at_a_glance().data
    assert "What the developer can do" in html and "RED, set by Out-of-time AUC" in html
    assert 'data-verdict="red"' in html


def test_gating_reds_look_different_from_the_others(red):
    _, result = red
    html = result.lights_table().data
    assert 'class="data row0 col0 light-red gating"' in html          # the gate, first and solid
    others = [light for light in result.lights if light.light == "red" and not light.gating]
    if others:
        assert "red (not gating)" in html
        assert "light-red gating" not in html.split("red (not gating)")[1].split("</tr>")[0]


def test_an_amber_verdict_set_by_a_gate_nobody_could_compute():
    lights = [
        {"test": "auc_oot", "value": 0.8, "light": "green", "gating": True, "threshold": {}, "note": ""},
        {"test": "auc_drop", "value": None, "light": "n/a", "gating": True, "threshold": {},
         "note": "holdout has 8 defaults"},
        {"test": "csi_max", "value": 3.2, "light": "red", "gating": False, "threshold": {}, "note": ""},
    ]
    found = verdicts.explain("amber", lights)
    assert found.headline == "AMBER, set by AUC drop, development to out of time."
    assert "could not be computed (holdout has 8 defaults)" in found.reasons[0]
    assert found.approvable and found.other_reds == ["csi_max"]


def test_the_next_step_of_a_red_version_is_never_an_approval():
    steps = register.next_steps("creditmine-quick_loan", 3, "red", "pending")
    commands = " ".join(command for _, command in steps)
    assert "approve" not in commands and "review reject creditmine-quick_loan 3" in commands
    assert steps[0][0].startswith("It cannot be approved: a red validation verdict is refused")
    amber = " ".join(command for _, command in register.next_steps("creditmine-quick_loan", 3, "amber", "pending"))
    assert "creditmine review approve creditmine-quick_loan 3 --comment TEXT" in amber



def test_stage_05_next_steps_follow_the_trail_not_an_edited_tag():
    from types import SimpleNamespace

    import pandas as pd

    from creditmine.governance.stage import RegisterResult

    version = SimpleNamespace(name="creditmine-quick_loan", version="3",
                              tags={"validation_verdict": "green", "review_state": "approved"})
    result = RegisterResult("run", "models:/m-1", version, pd.DataFrame(),
                            review={"verdict": "red", "state": "pending"})
    commands = " ".join(command for _, command in result.next_steps())
    assert "review reject creditmine-quick_loan 3" in commands and "approve" not in commands


@pytest.mark.slow
def test_stage_05_of_a_red_version_says_it_cannot_be_approved(red):
    from creditmine.governance.stage import run as register_stage

    cfg, _ = red
    result = register_stage(cfg, "quick_loan")
    html = result.at_a_glance(cfg).data
    assert "cannot be approved (red verdict)" in html and 'data-verdict="red"' in html
    assert "review approve" not in html and "review reject" in html
    assert "review approve" not in result.tags().data

    # the end of `creditmine run` and the run's index say the same
    from creditmine.reports.index import summary_lines, write_index

    lines = "\n".join(summary_lines(cfg, ["quick_loan"], {"quick_loan": "pending"}))
    assert "verdict RED, set by Out-of-time AUC: red" in lines
    assert f"registered creditmine-quick_loan version {result.version.version}, pending" in lines
    assert "It cannot be approved" in lines and "review approve" not in lines
    index = write_index(cfg, ["quick_loan"], {"quick_loan": "pending"}).read_text(encoding="utf-8")
    assert '<span data-verdict="red">' in index and "review approve" not in index
