"""The trees of a fitted HistGradientBoostingClassifier as flat pre-order tables, the input of both
TreeSHAP kernels (`creditmine.explain._treeshap` and `creditmine.explain._treeshap_tables`)."""

from __future__ import annotations

import numpy as np


def flatten_trees(estimator) -> tuple[dict, float, int]:
    """Every tree's nodes in pre-order, with the per-edge facts the kernel needs.

    For the edge into node c from its parent p (splitting on feature j): `cover` is the product of
    the count fractions of every edge on j from the root to c (the path-dependent "zero fraction"),
    `previous` the slot of the nearest ancestor edge on the same feature (-1 when none), so the
    kernel can replace that feature's factor rather than multiply it twice. A categorical split
    gets a row of `category_left`: for each code 0..255, 1 when the booster sends it left (the
    split's left categories; unknown categories follow missing values, as the booster does).
    """
    columns = {k: [] for k in ("parent", "feature", "threshold", "missing_left", "is_left", "cover",
                               "previous", "is_leaf", "value", "left", "right", "category")}
    category_left = []
    known = f_index = None
    if getattr(estimator, "is_categorical_", None) is not None and np.any(estimator.is_categorical_):
        known_bitsets, f_index = estimator._bin_mapper.make_known_categories_bitsets()
        known = _bits(known_bitsets)
    tree_start = [0]
    expected = 0.0
    max_distinct = 0
    max_nodes = 0
    tree_distinct = []
    for stage in estimator._predictors:
        distinct = 0
        predictor = stage[0]
        nodes = predictor.nodes
        raw_left = _bits(predictor.raw_left_cat_bitsets) if len(predictor.raw_left_cat_bitsets) else None
        base = tree_start[-1]
        order = []          # pre-order of node ids
        slot = {}
        stack = [(0, -1, -1, False, {})]   # node, parent node, parent slot, is_left, feature -> slot
        while stack:
            node, parent, parent_slot, is_left, last_on = stack.pop()
            slot[node] = base + len(order)
            order.append(node)
            s = slot[node]
            rec = nodes[node]
            category = -1
            if parent < 0:
                columns["parent"].append(-1)
                columns["feature"].append(0)
                columns["threshold"].append(0.0)
                columns["missing_left"].append(0)
                columns["is_left"].append(0)
                columns["cover"].append(1.0)
                columns["previous"].append(-1)
            else:
                prec = nodes[parent]
                feature = int(prec["feature_idx"])
                fraction = float(rec["count"]) / float(prec["count"])
                previous = last_on.get(feature, -1)
                cover = fraction * (columns["cover"][previous] if previous >= 0 else 1.0)
                columns["parent"].append(parent_slot)
                columns["feature"].append(feature)
                columns["threshold"].append(float(prec["num_threshold"]))
                columns["missing_left"].append(int(prec["missing_go_to_left"]))
                columns["is_left"].append(int(is_left))
                columns["cover"].append(cover)
                columns["previous"].append(previous)
                if prec["is_categorical"]:
                    goes_left = raw_left[int(prec["bitset_idx"])].copy()
                    unknown = ~goes_left & ~known[int(f_index[feature])]
                    goes_left[unknown] = bool(prec["missing_go_to_left"])
                    category = len(category_left)
                    category_left.append(goes_left)
                last_on = {**last_on, feature: s}
            columns["category"].append(category)
            leaf = bool(rec["is_leaf"])
            columns["is_leaf"].append(int(leaf))
            columns["value"].append(float(rec["value"]))
            columns["left"].append(-1)
            columns["right"].append(-1)
            if leaf:
                expected += float(rec["value"]) * float(rec["count"]) / float(nodes[0]["count"])
                max_distinct = max(max_distinct, len(last_on))
                distinct = max(distinct, len(last_on))
            else:
                # right pushed first so the left subtree comes next in pre-order
                stack.append((int(rec["right"]), node, s, False, last_on))
                stack.append((int(rec["left"]), node, s, True, last_on))
        for node in order:
            rec = nodes[node]
            if not rec["is_leaf"]:
                columns["left"][slot[node]] = slot[int(rec["left"])]
                columns["right"][slot[node]] = slot[int(rec["right"])]
        max_nodes = max(max_nodes, len(order))
        tree_start.append(base + len(order))
        tree_distinct.append(distinct)
    dtypes = {"threshold": np.float64, "cover": np.float64, "value": np.float64}
    tables = {k: np.asarray(v, dtype=dtypes.get(k, np.int64)) for k, v in columns.items()}
    tables["category_left"] = (np.asarray(category_left, dtype=np.uint8).reshape(-1, 256)
                               if category_left else np.zeros((1, 256), dtype=np.uint8))
    tables["tree_start"] = np.asarray(tree_start, dtype=np.int64)
    tables["tree_distinct"] = np.asarray(tree_distinct, dtype=np.int64)
    tables["max_nodes"] = max_nodes
    return tables, expected, max_distinct


def booster_column_order(estimator) -> np.ndarray | None:
    """Original column of each column the trees split on, when the booster reorders them."""
    preprocessor = getattr(estimator, "_preprocessor", None)
    if preprocessor is None:
        return None
    order = np.empty(estimator.n_features_in_, dtype=np.int64)
    for name, _, mask in preprocessor.transformers_:
        if name == "remainder":
            continue
        where = preprocessor.output_indices_[name]
        order[where] = np.flatnonzero(np.asarray(mask, dtype=bool))
    return order


def _bits(bitsets: np.ndarray) -> np.ndarray:
    """(rows, 8) uint32 bitsets -> (rows, 256) booleans: bit v of row r is word v // 32, bit v % 32."""
    words = np.ascontiguousarray(bitsets, dtype="<u4")
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little").astype(bool)
