"""The monotone gradient boosting: constraints, categories, search, exact SHAP inputs, determinism."""

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from creditmine.models.gbm import GbmModel


def _applications(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    debt = rng.gamma(2.0, 1.0, n)
    sales = rng.lognormal(1.0, 0.6, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    region_risk = pd.Series(region).map({"north": -0.8, "south": 0.0, "east": 0.5, "west": 1.0}).to_numpy()
    # non-monotone wiggle in debt that the constraint must not follow
    logit = -2.5 + 0.7 * debt + 0.6 * np.sin(3 * debt) - 0.8 * np.log(sales) + region_risk
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"debt": debt, "sales": sales, "region": region})
    frame.loc[rng.random(n) < 0.05, "sales"] = np.nan
    return frame, y


def _model(**kwargs) -> GbmModel:
    options = dict(
        categorical_features=("region",), risk_directions={"debt": 1, "sales": -1}, max_iter=60,
        learning_rate=0.1, search_trials=2,
        search_space={"learning_rate": (0.05, 0.2), "max_leaf_nodes": (4, 16),
                      "min_samples_leaf": (20, 60), "l2_regularization": (0.0, 2.0)},
        random_state=5,
    )
    options.update(kwargs)
    return GbmModel(**options)


@pytest.fixture(scope="module")
def fitted():
    X, y = _applications(4000, 11)
    X_val, y_val = _applications(1500, 12)
    return _model().fit(X, y, X_val, y_val), X, y


def test_monotone_in_the_catalogued_direction(fitted):
    model, X, _ = fitted
    grid = np.linspace(0, 12, 60)
    for row in range(5):
        probe = pd.concat([X.iloc[[row]]] * len(grid), ignore_index=True).assign(debt=grid)
        assert (np.diff(model.decision_function(probe)) >= -1e-12).all()
        probe = pd.concat([X.iloc[[row]]] * len(grid), ignore_index=True).assign(sales=np.exp(grid / 3))
        assert (np.diff(model.decision_function(probe)) <= 1e-12).all()
    assert model.monotonic_cst_ == [1, -1, 0]


def test_categories_coded_by_default_rate_unseen_as_missing(fitted):
    model, X, _ = fitted
    assert model.categories_["region"] == ["north", "south", "east", "west"]
    probe = pd.concat([X.head(1)] * 3, ignore_index=True)
    probe["region"] = ["atlantis", None, "north"]
    matrix = model.transform_features(probe)
    assert np.isnan(matrix[0, 2]) and np.isnan(matrix[1, 2]) and matrix[2, 2] == 0
    assert model.predict_pd(probe.iloc[[0]])[0] == model.predict_pd(probe.iloc[[1]])[0]


def test_shap_tree_explainer_is_exact_on_transform_features(fitted):
    model, X, _ = fitted
    matrix = model.transform_features(X.head(100))
    explainer = shap.TreeExplainer(model.estimator_)
    values = explainer.shap_values(matrix)
    total = values.sum(axis=1) + explainer.expected_value
    assert np.abs(total - model.decision_function(X.head(100))).max() < 1e-6


def test_search_trials_logged_and_best_chosen(fitted):
    model, _, _ = fitted
    trials = pd.DataFrame(model.trials_)
    assert len(trials) == 3 and trials["chosen"].sum() == 1
    assert trials.loc[0, "learning_rate"] == 0.1  # the params' settings come first
    assert trials.loc[trials["chosen"], "auc"].item() == trials["auc"].max()
    # search_folds "auto": fewer than 5,000 training rows score the trials by 5-fold CV, not the small holdout
    expected = "cv_auc" if trials["rows"].iloc[0] < 5000 else "validation_auc"
    assert (trials["score"] == expected).all() and model.search_folds_ == (5 if expected == "cv_auc" else 0)


def test_cross_validated_search_on_small_data():
    X, y = _applications(800, 13)
    model = _model(search_folds=3, early_stopping=False, max_iter=40).fit(X, y)
    trials = pd.DataFrame(model.trials_)
    assert (trials["score"] == "cv_auc").all() and trials["chosen"].sum() == 1
    assert model.estimator_.n_iter_ == 40


def test_quality_and_determinism(fitted):
    model, X, y = fitted
    X_test, y_test = _applications(3000, 14)
    assert roc_auc_score(y_test, model.predict_pd(X_test)) > 0.75
    X_val, y_val = _applications(1500, 12)
    again = clone(model).fit(X, y, X_val, y_val)
    assert np.array_equal(again.predict_pd(X_test), model.predict_pd(X_test))
    assert np.array_equal(again.grade(X_test), model.grade(X_test))


def test_scores_and_grades_follow_pd(fitted):
    model, X, _ = fitted
    pd_, score, grade = model.predict_pd(X), model.credit_score(X), model.grade(X)
    order = np.argsort(pd_)
    assert (np.diff(score[order]) <= 1e-9).all() and (np.diff(grade[order]) >= 0).all()
    assert model.predict_proba(X)[:, 1] == pytest.approx(pd_)
    assert score[np.argmin(np.abs(pd_ - 1 / 51))] == pytest.approx(600, abs=5)


def test_bad_input_names_column_and_row(fitted):
    model, X, _ = fitted
    broken = X.head(4).astype({"debt": object})
    broken.loc[2, "debt"] = "n/a"
    with pytest.raises(ValueError, match=r"'debt'.*row 2.*'n/a'"):
        model.predict_pd(broken)
    with pytest.raises(TypeError, match="DataFrame"):
        model.predict_pd(X.to_numpy())
