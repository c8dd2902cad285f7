"""SHAP attributions: the fast TreeSHAP against shap and against a brute-force Shapley computation,
interaction values, the scorecard's closed form against shap's LinearExplainer, the additivity gate."""

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import HistGradientBoostingClassifier

from creditmine.explain.attributions import (
    AdditivityError, Attributions, HistGradientBoostingExplainer, check_additivity, explain_model,
)
from creditmine.models.gbm import GbmModel
from creditmine.models.scorecard import ScorecardModel


def _numeric_data(n=3000, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[rng.random((n, p)) < 0.1] = np.nan
    z = np.nan_to_num(X)
    logit = z[:, 0] - 0.7 * z[:, 1] + 0.8 * z[:, 2] * z[:, 3] - 2.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def numeric_booster():
    X, y = _numeric_data()
    model = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15, early_stopping=False, random_state=0)
    return model.fit(X, y), X


@pytest.fixture(scope="module")
def categorical_booster():
    rng = np.random.default_rng(1)
    n = 3000
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 6, n).astype(float)])
    X[rng.random(n) < 0.1, 2] = np.nan
    X[rng.random(n) < 0.05, 0] = np.nan
    logit = X[:, 1] + np.where(np.isin(X[:, 2], [1, 3]), 1.2, -0.4) + 0.5 * np.nan_to_num(X[:, 0]) - 2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = HistGradientBoostingClassifier(max_iter=12, max_leaf_nodes=6, categorical_features=[False, False, True],
                                           early_stopping=False, random_state=0)
    return model.fit(X, y), X


def test_equals_shap_tree_explainer_and_adds_up(numeric_booster):
    model, X = numeric_booster
    explainer = HistGradientBoostingExplainer(batch_rows=16).fit(model)
    ours = explainer.shap_values(X[:300])
    reference = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    theirs = reference.shap_values(X[:300], check_additivity=False)
    assert np.max(np.abs(ours - theirs)) < 1e-9
    assert explainer.expected_value_ == pytest.approx(float(np.ravel(reference.expected_value)[0]), abs=1e-9)
    total = ours.sum(axis=1) + explainer.expected_value_
    assert np.max(np.abs(total - model.decision_function(X[:300]))) < 1e-9
    # one row (serial kernel) and many rows (parallel kernel) give the same values
    assert np.allclose(explainer.shap_values(X[5:6]), ours[5:6], atol=1e-12)


def test_categorical_splits_match_brute_force_shapley(categorical_booster):
    model, X = categorical_booster
    rows = X[:25].copy()
    rows[0, 2] = 9.0    # a category never seen in training: routed like a missing value
    rows[1, 2] = np.nan
    explainer = HistGradientBoostingExplainer().fit(model)
    ours = explainer.shap_values(rows)
    assert np.max(np.abs(ours.sum(axis=1) + explainer.expected_value_ - model.decision_function(rows))) < 1e-9
    brute = _brute_force_path_dependent_shap(model, rows)
    assert np.max(np.abs(ours - brute)) < 1e-9


def test_interaction_values_equal_shap(numeric_booster):
    model, X = numeric_booster
    rows = X[:40]
    ours = HistGradientBoostingExplainer().fit(model).interaction_values(rows, [2, 0])
    theirs = shap.TreeExplainer(model).shap_interaction_values(rows)
    assert np.max(np.abs(ours[:, 0, :] - theirs[:, 2, :])) < 1e-9
    assert np.max(np.abs(ours[:, 1, :] - theirs[:, 0, :])) < 1e-9
    # the designed interaction of features 2 and 3 is the strongest pair of feature 2
    strength = np.abs(ours[:, 0, :]).mean(axis=0)
    strength[2] = 0
    assert strength.argmax() == 3


def test_gbm_model_attributions_in_model_feature_names():
    frame, y = _frame(1500, 3)
    model = GbmModel(categorical_features=["rating"], max_iter=20, random_state=0).fit(frame, y)
    att = explain_model(model, frame.iloc[:200])
    assert list(att.values.columns) == model.model_features_
    assert check_additivity(att, 1e-6, "gbm") < 1e-9
    assert np.allclose(att.output, model.decision_function(frame.iloc[:200]))


def test_scorecard_closed_form_equals_shap_linear_explainer():
    frame, y = _frame(2500, 4)
    model = ScorecardModel(categorical_features=["rating"], max_features=4, random_state=0).fit(frame, y)
    background, rows = frame.iloc[:1500], frame.iloc[1500:1700]
    att = explain_model(model, rows, background=background)
    assert check_additivity(att, 1e-6, "scorecard") < 1e-9
    woe_background, woe_rows = model.woe_transform(background), model.woe_transform(rows)
    masker = shap.maskers.Independent(woe_background.to_numpy(), max_samples=len(woe_background))
    linear = shap.LinearExplainer((np.asarray(model.coef_), model.intercept_), masker)
    assert np.allclose(att.values.to_numpy(), linear.shap_values(woe_rows.to_numpy()), atol=1e-9)
    assert att.base_value == pytest.approx(float(linear.expected_value), abs=1e-9)


def test_additivity_gate_names_the_row():
    values = pd.DataFrame({"a": [0.1, 0.2], "b": [0.3, -0.1]}, index=["app-1", "app-2"])
    good = Attributions(values, base_value=-2.0, output=np.array([-1.6, -1.9]))
    assert check_additivity(good, 1e-6, "m") < 1e-12
    bad = Attributions(values, base_value=-2.0, output=np.array([-1.6, -1.8]))
    with pytest.raises(AdditivityError, match=r"app-2.*tolerance is 1e-06"):
        check_additivity(bad, 1e-6, "product/gbm")


def test_rejects_a_matrix_of_the_wrong_width(numeric_booster):
    model, X = numeric_booster
    with pytest.raises(ValueError, match="must have 6 columns"):
        HistGradientBoostingExplainer().fit(model).shap_values(X[:, :4])


# -- helpers -------------------------------------------------------------------------------------

def _frame(n, seed):
    rng = np.random.default_rng(seed)
    growth = rng.normal(size=n)
    late = rng.beta(1, 5, n)
    rating = rng.choice(["A", "B", "M", "C"], n, p=[0.3, 0.4, 0.2, 0.1])
    logit = -2.5 - 0.9 * growth + 3 * late + pd.Series(rating).map({"A": -0.5, "B": 0, "M": 0.5, "C": 1}).to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    growth[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame({"growth": growth, "late": late, "rating": rating, "noise": rng.normal(size=n)})
    return frame, y


def _brute_force_path_dependent_shap(model, rows):
    """Shapley values of E[f(x) | x_S] (path-dependent: cover-weighted at unknown splits) by
    enumerating every coalition, with the booster's own routing read from its raw prediction."""
    n_features = rows.shape[1]
    known, f_index = model._bin_mapper.make_known_categories_bitsets()
    matrix = model._preprocess_X(rows, reset=False)
    order = np.empty(n_features, dtype=int)
    for name, _, mask in model._preprocessor.transformers_:
        if name != "remainder":
            order[model._preprocessor.output_indices_[name]] = np.flatnonzero(mask)

    def goes_left(node, x):
        value = x[node["feature_idx"]]
        if np.isnan(value):
            return bool(node["missing_go_to_left"])
        if node["is_categorical"]:
            code = int(value)
            if value < 0:
                return bool(node["missing_go_to_left"])
            if (raw_left[node["bitset_idx"], code // 32] >> (code % 32)) & 1:
                return True
            if (known[f_index[node["feature_idx"]], code // 32] >> (code % 32)) & 1:
                return False
            return bool(node["missing_go_to_left"])
        return value <= node["num_threshold"]

    def expectation(nodes, index, x, coalition):
        node = nodes[index]
        if node["is_leaf"]:
            return node["value"]
        left, right = nodes[node["left"]], nodes[node["right"]]
        if node["feature_idx"] in coalition:
            return expectation(nodes, node["left"] if goes_left(node, x) else node["right"], x, coalition)
        return (left["count"] * expectation(nodes, node["left"], x, coalition)
                + right["count"] * expectation(nodes, node["right"], x, coalition)) / node["count"]

    out = np.zeros((len(rows), n_features))
    for r, x in enumerate(matrix):
        for stage in model._predictors:
            predictor = stage[0]
            raw_left = predictor.raw_left_cat_bitsets
            nodes = predictor.nodes
            for i in range(n_features):
                others = [j for j in range(n_features) if j != i]
                for size in range(n_features):
                    weight = factorial(size) * factorial(n_features - size - 1) / factorial(n_features)
                    for subset in combinations(others, size):
                        with_i = expectation(nodes, 0, x, set(subset) | {i})
                        without = expectation(nodes, 0, x, set(subset))
                        out[r, order[i]] += weight * (with_i - without)
    return out
