"""Stage 02 models: the WoE scorecard and the monotone gradient boosting, calibrated and graded."""

from creditmine.models.gbm import GbmModel
from creditmine.models.io import load_model, load_models, read_models_meta, save_model
from creditmine.models.scorecard import ScorecardModel, score_json
from creditmine.models.train import TrainResult, plot_calibration, train_product

__all__ = [
    "GbmModel", "ScorecardModel", "TrainResult", "load_model", "load_models", "plot_calibration",
    "read_models_meta", "save_model", "score_json", "train_product",
]
