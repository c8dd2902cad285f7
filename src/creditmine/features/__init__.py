"""Stage 01: point-in-time features per application, their catalog, and a pandas reference.

`creditmine.features.stage.run(cfg)` is the stage; later stages learn the features from the
catalog file it writes (`creditmine.artifacts.read_catalog`).
"""

from creditmine.features.build import compute_features
from creditmine.features.stage import FeatureResult, run

__all__ = ["FeatureResult", "compute_features", "run"]
