"""Table TreeSHAP: exact against shap's TreeExplainer on deep trees with missing values and on the
gradient boosting's category codes, one row equal to a batch, the memory estimate and the
fallback to the path kernel beyond the budget, interaction values unchanged."""

import pickle
import threading

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import HistGradientBoostingClassifier

from creditmine.explain._trees import flatten_trees
from creditmine.explain._treeshap_plan import MAX_INDEX_BITS, plan_tables
from creditmine.explain.attributions import HistGradientBoostingExplainer
from creditmine.models.gbm import GbmModel


@pytest.fixture(scope="module")
def deep_booster():
    """Trees deeper than 10 splits, with missing values routed both ways."""
    rng = np.random.default_rng(7)
    n, p = 4000, 8
    X = rng.uniform(-1, 1, size=(n, p))
    X[rng.random((n, p)) < 0.15] = np.nan
    z = np.nan_to_num(X, nan=0.3)
    logit = 2 * np.sin(6 * z[:, 0]) * z[:, 1] + np.cos(5 * z[:, 2] * z[:, 3]) + z[:, 4] ** 2 - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = HistGradientBoostingClassifier(max_iter=25, max_leaf_nodes=48, min_samples_leaf=3, learning_rate=0.3,
                                           early_stopping=False, random_state=0).fit(X, y)
    return model, X


def _depth(model) -> int:
    deepest = 0
    for stage in model._predictors:
        nodes = stage[0].nodes
        stack = [(0, 0)]
        while stack:
            node, depth = stack.pop()
            deepest = max(deepest, depth)
            if not nodes[node]["is_leaf"]:
                stack += [(int(nodes[node]["left"]), depth + 1), (int(nodes[node]["right"]), depth + 1)]
    return deepest


def test_tables_equal_shap_on_deep_trees_with_missing_values(deep_booster):
    model, X = deep_booster
    assert _depth(model) > 10
    explainer = HistGradientBoostingExplainer().fit(model)
    assert explainer.kernel_ == "tables"
    rows = X[:400]
    ours = explainer.shap_values(rows)
    theirs = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent").shap_values(
        rows, check_additivity=False)
    assert np.max(np.abs(ours - theirs)) < 1e-9
    additivity = ours.sum(axis=1) + explainer.expected_value_ - model.decision_function(rows)
    assert np.max(np.abs(additivity)) < 1e-9


def test_gbm_category_codes_equal_shap():
    rng = np.random.default_rng(3)
    n = 3000
    rating = rng.choice(list("ABCDE"), n, p=[0.3, 0.25, 0.2, 0.15, 0.1]).astype(object)
    rating[rng.random(n) < 0.08] = None
    frame = pd.DataFrame({"rating": rating, "growth": rng.normal(size=n), "late": rng.beta(1, 4, n)})
    frame.loc[rng.random(n) < 0.1, "growth"] = np.nan
    risk = pd.Series(rating).map({"A": -1.0, "B": -0.3, "C": 0.2, "D": 0.6, "E": 1.2}).fillna(0.4).to_numpy()
    logit = -2 + risk - 0.8 * np.nan_to_num(frame["growth"].to_numpy()) + 2 * frame["late"].to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = GbmModel(categorical_features=["rating"], max_iter=40, random_state=0).fit(frame, y)
    rows = frame.iloc[:300].copy()
    rows.loc[rows.index[0], "rating"] = "Z"     # unseen: coded NaN, routed as missing
    matrix = np.asarray(model.transform_features(rows), dtype=float)
    assert np.isnan(matrix[0, model.model_features_.index("rating")])
    explainer = HistGradientBoostingExplainer().fit(model.estimator_)
    assert explainer.kernel_ == "tables"
    ours = explainer.shap_values(matrix)
    theirs = shap.TreeExplainer(model.estimator_, feature_perturbation="tree_path_dependent").shap_values(
        matrix, check_additivity=False)
    assert np.max(np.abs(ours - theirs)) < 1e-9


def test_one_row_a_few_rows_and_many_rows_agree(deep_booster):
    model, X = deep_booster
    explainer = HistGradientBoostingExplainer(batch_rows=32).fit(model)
    many = explainer.shap_values(X[:500])            # parallel, batches of 32 rows
    few = explainer.shap_values(X[:20])              # calling thread, one batch
    ones = np.vstack([explainer.shap_values(X[i:i + 1]) for i in range(20)])   # the one-row kernel
    assert np.max(np.abs(few - many[:20])) < 1e-12
    assert np.max(np.abs(ones - many[:20])) < 1e-12


def test_over_the_budget_the_path_kernel_gives_the_same_values(deep_booster):
    model, X = deep_booster
    tables = HistGradientBoostingExplainer().fit(model)
    fallback = HistGradientBoostingExplainer(memory_budget_mb=0).fit(model)
    assert fallback.kernel_ == "paths" and fallback.lookup_ is None
    assert fallback.table_memory_mb_ == pytest.approx(tables.table_memory_mb_)
    assert "over the budget" in fallback.method_["kernel_detail"]
    for rows in (X[:1], X[:10], X[:300]):
        assert np.max(np.abs(fallback.shap_values(rows) - tables.shap_values(rows))) < 1e-12
    # just below its own estimate the tables are refused, at it they are built
    at = HistGradientBoostingExplainer(memory_budget_mb=tables.table_memory_mb_).fit(model)
    below = HistGradientBoostingExplainer(memory_budget_mb=tables.table_memory_mb_ * 0.999).fit(model)
    assert at.kernel_ == "tables" and below.kernel_ == "paths"


def test_the_estimate_bounds_what_is_built(deep_booster):
    model, _ = deep_booster
    explainer = HistGradientBoostingExplainer().fit(model)
    built = sum(a.nbytes for a in explainer.lookup_) / 2 ** 20
    assert built <= explainer.table_memory_mb_ <= 2 * built


def test_a_leaf_too_deep_for_any_table_is_estimated_infinite():
    # one tree: a chain of MAX_INDEX_BITS + 1 splits, each on a new feature
    depth = MAX_INDEX_BITS + 1
    m = 2 * depth + 1
    parent, feature, is_leaf = np.full(m, -1), np.zeros(m, dtype=int), np.ones(m, dtype=int)
    left, right = np.full(m, -1), np.full(m, -1)
    node = 0
    for level in range(depth):            # pre-order: the left child is a leaf, the right goes on
        leaf, deeper = node + 1, node + 2
        is_leaf[node], left[node], right[node] = 0, leaf, deeper
        parent[leaf] = parent[deeper] = node
        feature[leaf] = feature[deeper] = level
        node = deeper
    tables = {"tree_start": np.array([0, m]), "parent": parent, "feature": feature, "is_leaf": is_leaf,
              "left": left, "right": right}
    plan = plan_tables(tables)
    assert not plan.feasible and plan.estimated_bytes == float("inf")


def test_interaction_values_are_unchanged_by_the_tables(deep_booster):
    model, X = deep_booster
    rows = X[:30]
    with_tables = HistGradientBoostingExplainer().fit(model).interaction_values(rows, [0, 2])
    without = HistGradientBoostingExplainer(memory_budget_mb=0).fit(model).interaction_values(rows, [0, 2])
    assert np.array_equal(with_tables, without)
    theirs = shap.TreeExplainer(model).shap_interaction_values(rows)
    assert np.max(np.abs(with_tables[:, 0, :] - theirs[:, 0, :])) < 1e-9


def test_concurrent_single_rows_and_a_pickled_copy(deep_booster):
    model, X = deep_booster
    explainer = HistGradientBoostingExplainer().fit(model)
    expected = explainer.shap_values(X[:200])
    results = {}

    def work(start):    # a failing thread leaves its key out
        results[start] = np.vstack([explainer.shap_values(X[i:i + 1]) for i in range(start, start + 100)])

    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 100]
    assert np.max(np.abs(np.vstack([results[0], results[100]]) - expected)) < 1e-12
    copy = pickle.loads(pickle.dumps(explainer))
    assert np.max(np.abs(copy.shap_values(X[:5]) - expected[:5])) < 1e-12


def test_flat_trees_feed_both_kernels(deep_booster):
    model, _ = deep_booster
    tables, _, _ = flatten_trees(model)
    plan = plan_tables(tables)
    leaves = int(tables["is_leaf"].sum())
    assert plan.feasible and 0 < len(plan.groups) <= leaves
