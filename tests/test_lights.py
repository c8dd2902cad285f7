"""Traffic lights from params thresholds, the verdict, and the params that drive them."""

import math

import pytest

import creditmine.config
from creditmine.config import Thresholds, ValidationParams
from creditmine.validation import evaluate_lights, lights_table, style_lights, traffic_light, verdict

LOW = Thresholds(green=0.10, amber=0.25)
HIGH = Thresholds(green=0.70, amber=0.60, higher_is_better=True)


@pytest.mark.parametrize("value,light", [(0.0, "green"), (0.0999, "green"), (0.10, "amber"),
                                         (0.2499, "amber"), (0.25, "red"), (3.0, "red")])
def test_lower_is_better_bands(value, light):
    assert traffic_light(value, LOW) == light


@pytest.mark.parametrize("value,light", [(0.9, "green"), (0.70, "green"), (0.65, "amber"),
                                         (0.60, "amber"), (0.59, "red")])
def test_higher_is_better_bands(value, light):
    assert traffic_light(value, HIGH) == light


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_missing_values_are_not_applicable(value):
    assert traffic_light(value, LOW) == "n/a"


def test_verdict_is_the_worst_gating_light():
    params = ValidationParams(gating=("psi_score", "auc_oot"))
    lights = evaluate_lights({"psi_score": 0.05, "auc_oot": 0.65, "csi_max": 0.9}, params)
    by_test = {light.test: light for light in lights}
    assert by_test["csi_max"].light == "red" and not by_test["csi_max"].gating
    assert by_test["auc_oot"].light == "amber" and by_test["auc_oot"].gating
    assert by_test["psi_score"].threshold == {"green": 0.10, "amber": 0.25, "higher_is_better": False}
    assert verdict(lights) == "amber"
    lights = evaluate_lights({"psi_score": 0.40, "auc_oot": 0.80}, params)
    assert verdict(lights) == "red"
    assert verdict(evaluate_lights({"psi_score": 0.01, "auc_oot": 0.80}, params)) == "green"


def test_a_gating_test_that_could_not_be_computed_is_amber_not_green():
    params = ValidationParams(gating=("psi_score", "auc_oot"))
    lights = evaluate_lights({"psi_score": None}, params, {"psi_score": "no out-of-time sample"})
    assert [light.light for light in lights] == ["n/a", "n/a"]
    assert lights[0].note == "no out-of-time sample"
    assert verdict(lights) == "amber"


def test_unknown_test_names_are_refused():
    with pytest.raises(KeyError, match="no thresholds in validation.thresholds for: made_up"):
        evaluate_lights({"made_up": 1.0}, ValidationParams())


def test_params_override_thresholds_one_by_one(tmp_path):
    (tmp_path / "params" / "products").mkdir(parents=True)
    (tmp_path / "params" / "products" / "p.yaml").write_text("name: p\n")
    path = tmp_path / "params" / "x.yaml"
    path.write_text("products: [p]\nvalidation:\n  thresholds:\n    psi_score: {green: 0.05, amber: 0.1}\n"
                    "  gating: [psi_score, csi_max]\n")
    params = creditmine.config.load(path).params.validation
    assert params.thresholds["psi_score"].green == 0.05
    assert params.thresholds["auc_oot"] == HIGH  # default kept
    assert verdict(evaluate_lights({"psi_score": 0.07, "csi_max": 0.01}, params)) == "amber"
    path.write_text("products: [p]\nvalidation: {gating: [psi_score, no_such_test]}\n")
    with pytest.raises(creditmine.config.ConfigError, match="no_such_test"):
        creditmine.config.load(path)
    path.write_text("products: [p]\nvalidation: {thresholds: {psi_score: {green: 0.3, amber: 0.1}}}\n")
    with pytest.raises(creditmine.config.ConfigError, match="amber must lie above green"):
        creditmine.config.load(path)


def test_lights_table_puts_gates_first_and_styles_colours():
    params = ValidationParams(gating=("auc_oot",))
    table = lights_table(evaluate_lights({"psi_score": 0.3, "auc_oot": 0.75}, params))
    assert table["test"].tolist() == ["auc_oot", "psi_score"]
    assert table.loc[1, "rule"] == "green < 0.1, amber < 0.25"
    html = style_lights(table).to_html()
    assert "#ef9a9a" in html and "#c8e6c9" in html
