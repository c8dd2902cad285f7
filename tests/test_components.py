"""The parts both credit models share are components with one set of defaults: the params'."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from creditmine.config import (
    CalibrationParams, GbmParams, MasterScaleParams, ModelParams, ScaleParams, ScorecardParams,
)
from creditmine.models import GbmModel, LogOddsCalibrator, MasterScale, PointsScale, ScorecardModel

PAIRS = [
    (GbmModel, GbmParams), (ScorecardModel, ScorecardParams), (PointsScale, ScaleParams),
    (LogOddsCalibrator, CalibrationParams), (MasterScale, MasterScaleParams),
]


@pytest.mark.parametrize(("estimator", "section"), PAIRS, ids=[e.__name__ for e, _ in PAIRS])
def test_every_params_default_is_the_estimators_default(estimator, section):
    defaults = estimator().get_params(deep=False)
    for key, value in section().model_dump().items():
        if key == "search_space":   # None in the estimator stands for the params' default space
            continue
        assert key in defaults, f"{section.__name__}.{key} is no parameter of {estimator.__name__}"
        assert defaults[key] == value, f"{estimator.__name__}({key}={defaults[key]!r}) but params say {value!r}"


def test_from_params_on_default_params_is_the_default_estimator_with_its_components():
    models = ModelParams()
    for estimator in (GbmModel, ScorecardModel):
        built = estimator.from_params(models).get_params(deep=True)
        plain = estimator(risk_directions={}, scale=PointsScale(), calibration=LogOddsCalibrator(),
                          grading=MasterScale()).get_params(deep=True)
        for key in ("scale", "calibration", "grading"):
            built.pop(key), plain.pop(key)
        if estimator is GbmModel:
            assert built.pop("search_space") == GbmParams().search_space.model_dump()
            plain.pop("search_space")
        assert built == plain
    assert GbmModel().n_threads == models.threads


def test_components_are_cloned_and_fitted_per_model():
    rng = np.random.default_rng(0)
    import pandas as pd

    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    y = (rng.random(2000) < 1 / (1 + np.exp(-(-2.5 + X["a"])))).astype(int)
    grading = MasterScale(grades=5)
    model = GbmModel(max_iter=20, grading=grading, scale=PointsScale(base_points=500)).fit(X, y)
    assert not hasattr(grading, "records_")           # the parameter stays unfitted
    assert len(model.master_scale_) == 5 and model.grade(X).max() <= 5
    pd_ = model.predict_pd(X)
    assert np.allclose(model.credit_score(X), PointsScale(base_points=500).points(pd_))
    again = clone(model).fit(X, y)
    assert np.array_equal(again.predict_pd(X), pd_)
