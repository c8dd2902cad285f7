"""Stage 04: independent validation (discrimination, calibration, the ECB PD back-testing battery,
stability, segments, inclusion), traffic lights, the verdict and the model card.

`creditmine.validation.stage.run(cfg, product)` is the stage. It works on the files earlier stages
wrote and on plain arrays and DataFrames; it imports no model, feature or explanation code.
"""

from creditmine.validation.inputs import ValidationInputs, load_inputs
from creditmine.validation.lights import Light, evaluate_lights, lights_table, style_lights, traffic_light, verdict
from creditmine.validation.result import ValidationResult
from creditmine.validation.stage import run, validate

__all__ = [
    "Light", "ValidationInputs", "ValidationResult", "evaluate_lights", "lights_table", "load_inputs",
    "run", "style_lights", "traffic_light", "validate", "verdict",
]
