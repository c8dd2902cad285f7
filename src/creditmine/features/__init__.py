"""Stage 01: point-in-time features per application, their catalog, and a pandas reference.

`build_features(cfg)` is the stage; `catalog.read_catalog` is how later stages learn the features.
"""

from creditmine.features.build import FeatureResult, build_features, compute_features, load_features

__all__ = ["FeatureResult", "build_features", "compute_features", "load_features"]
