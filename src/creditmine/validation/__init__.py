"""Stage 04: independent validation (discrimination, calibration, the ECB PD back-testing battery,
stability, segments, inclusion), traffic lights, the verdict and the model card.

Works on the files earlier stages wrote and on plain arrays and DataFrames; it imports no model,
feature or explanation code.
"""

from creditmine.validation.lights import Light, evaluate_lights, lights_table, style_lights, traffic_light, verdict
from creditmine.validation.stage import ValidationResult, load_stage_inputs, validate_frames, validate_product

__all__ = [
    "Light", "ValidationResult", "evaluate_lights", "lights_table", "load_stage_inputs",
    "style_lights", "traffic_light", "validate_frames", "validate_product", "verdict",
]
