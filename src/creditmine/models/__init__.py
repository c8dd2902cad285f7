"""Stage 02 models: the WoE scorecard and the monotone gradient boosting, calibrated and graded.

`creditmine.models.stage.run(cfg, product)` is the stage; the fitted models are saved and read
back through `creditmine.artifacts` (`write_model`, `read_models`).
"""

from creditmine.models.binning import score_json
from creditmine.models.calibration import LogOddsCalibrator
from creditmine.models.components import MasterScale, PointsScale
from creditmine.models.gbm import GbmModel
from creditmine.models.scorecard import ScorecardModel
from creditmine.models.stage import TrainResult, primary_model, run

__all__ = [
    "GbmModel", "LogOddsCalibrator", "MasterScale", "PointsScale", "ScorecardModel", "TrainResult",
    "primary_model", "run", "score_json",
]
