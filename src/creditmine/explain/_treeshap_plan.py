"""The plan of the precomputed TreeSHAP tables: which leaves share a table, what the tables cost
in memory (known before anything is built), and the index arrays the kernels read.

Path-dependent TreeSHAP gives leaf l of a tree, for a row x, the share of feature i

    v_l (o_i - z_i) * integral over [0, 1] of prod_{j in D_l, j != i} (z_j (1 - t) + o_j t) dt

where D_l are the distinct features split on between the root and l, z_j the product of the
count fractions of the edges on j (the cover) and o_j = 1 when x satisfies every condition on j
along that path. The share depends on x only through the bits o, so it can be computed once per
model for every bit pattern, and a row then costs one table look-up per leaf instead of
polynomial arithmetic (the idea of FastTreeSHAP v2 and of WOODELF).

One table per leaf costs d 2^d values for d = |D_l|; this plan shares tables between leaves. A
*group* is the subtree under a node c, stored as one table whose entry for a row is fixed by

- the row's bits o_j for the |A_c| distinct features split on above c (the leaf formula's o_j
  restricted to the edges from the root to c), and
- the row's direction at each of the I_c internal nodes of the subtree (1: left),

so the table has 2^(|A_c| + I_c) entries, each the summed shares of the subtree's leaves for the
W_c features they touch (A_c and the features split on inside the subtree). A pair of sibling
leaves then needs as many values as one of them did alone, and a row one look-up instead of two.
A dynamic programme over each tree picks the groups that need the fewest values, counting each
value added per row as ADD_WEIGHT values of memory (ties: the larger group); for creditmine's
default boosting (300 trees of 31 leaves) that is about 11 tables per tree instead of 31, and
less than half the memory of one table per leaf.

Memory of the tables (estimated here, before they are built), in bytes:

    8 * sum over groups of 2^(|A_c| + I_c) * W_c     (the float64 tables)
  + 8 * (9 nodes + 4 groups + 3 (I_c + W_c) per group)    (the index, an upper bound)
  + 8 * (4 leaves + 4 sum_l |D_l| + (d + ceil(d / 2)) 2^d) while building (the leaves'
    descriptions; the shares and products of the leaf of most distinct features d, for each of
    its 2^d patterns)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# The programme minimises table values + ADD_WEIGHT x values added per row: on the default
# boosting, 100 costs 1 % more memory for 15 % fewer look-ups and 12 % fewer additions per row.
ADD_WEIGHT = 100
# A group indexed by more bits would hold over 2^40 entries (8 TiB): no budget allows it, and the
# int64 bit patterns of the kernels stay far from overflowing.
MAX_INDEX_BITS = 40
# The kernels' arrays, per tree in ranges given by the rows of `tree_ranges` (columns below):
# - `split_int` (splits, 3): feature, 1 when missing values go left, categorical row (-1: numeric),
#   and `split_threshold`: the internal nodes of each tree in pre-order;
# - `pattern_int` (edges, 5): the edges down to the group roots, in pre-order: the pattern slot
#   of the edge's parent (0: the root, pattern 0), the parent's split within the tree, 1 for a
#   left child, the bit the edge sets (a feature new on the path) and the bit it clears when the
#   row goes the other way; pattern slot 1 + e is the pattern below edge e;
# - `group_int` (groups, 4): pattern slot of the group root, offset of its table, its width W_c,
#   its index bits |A_c| + I_c;
# - `member_int` (rows, 3): group within the tree, split within the tree, bit of the index;
# - `add_int` (rows, 3): group within the tree, feature (booster column), position in an entry.
RANGE_COLUMNS = ("split", "pattern", "group", "member", "add")


@dataclass
class TablePlan:
    """The groups of every tree and what their tables cost.

    Attributes
    ----------
    table_entries : int, float64 values in all tables (math.inf when some leaf is too deep).
    estimated_bytes : float, memory of tables, index and build scratch (bytes; see the module).
    groups : list of (tree, root local index), per tree in pre-order.
    max_leaf_features : int, most distinct features on one root-to-leaf path.
    """

    table_entries: float
    estimated_bytes: float
    groups: list = field(default_factory=list)
    max_leaf_features: int = 0

    @property
    def feasible(self) -> bool:
        return math.isfinite(self.estimated_bytes)


def plan_tables(tables: dict) -> TablePlan:
    """Choose the groups of every tree and estimate their memory, without building anything.

    Parameters
    ----------
    tables : the flat pre-order trees of `creditmine.explain._trees.flatten_trees`.
    """
    tree_start = tables["tree_start"]
    groups, entries, n_members, max_d, leaf_features, leaves = [], 0, 0, 0, 0, 0
    for t in range(len(tree_start) - 1):
        s0, m = int(tree_start[t]), int(tree_start[t + 1] - tree_start[t])
        paths, tree_entries, own, internal, width = _partition(tables, s0, m)
        entries += tree_entries
        depths = [len(paths[k]) for k in range(m) if tables["is_leaf"][s0 + k]]
        max_d, leaf_features, leaves = max(max_d, max(depths)), leaf_features + sum(depths), leaves + len(depths)
        stack = [0]
        while stack:
            k = stack.pop()
            if own[k]:
                if len(paths[k]) + internal[k] > 0:     # a tree of one leaf adds nothing
                    groups.append((t, k))
                    n_members += internal[k] + width[k]
            else:
                right_k, left_k = (int(tables["right"][s0 + k]) - s0, int(tables["left"][s0 + k]) - s0)
                stack += [right_k, left_k]
    if not math.isfinite(entries):
        return TablePlan(math.inf, math.inf, max_leaf_features=max_d)
    index = 9 * len(tables["parent"]) + 4 * len(groups) + 3 * n_members
    scratch = 4 * leaves + 4 * leaf_features + (max_d + (max_d + 1) // 2) * 2 ** max_d
    return TablePlan(entries, 8.0 * (entries + index + scratch), groups, max_d)


def _partition(tables: dict, s0: int, m: int):
    """One tree: distinct path features per node, and its groups by a dynamic programme.

    Returns
    -------
    paths : per node, the distinct features split on above it, in order of first appearance.
    entries : table values of the chosen groups (math.inf when a leaf is too deep).
    own : per node, True when its subtree is one group (if no ancestor's subtree is).
    internal, width : per node, I_c and W_c of its subtree.
    """
    parent, feature, is_leaf = tables["parent"], tables["feature"], tables["is_leaf"]
    left, right = tables["left"], tables["right"]
    paths = [()] * m
    for k in range(1, m):
        above, j = paths[int(parent[s0 + k]) - s0], int(feature[s0 + k])
        paths[k] = above if j in above else above + (j,)
    internal, width = [0] * m, [0] * m
    below = [frozenset()] * m       # features split on inside the subtree
    cost, entries, own = [0] * m, [0] * m, [True] * m
    for k in range(m - 1, -1, -1):  # children come after their parent in pre-order
        if is_leaf[s0 + k]:
            d = len(paths[k])
            width[k] = d
            entries[k] = d * 2 ** d if d <= MAX_INDEX_BITS else math.inf
            cost[k] = entries[k] + ADD_WEIGHT * d
            continue
        lk, rk = int(left[s0 + k]) - s0, int(right[s0 + k]) - s0
        internal[k] = internal[lk] + internal[rk] + 1
        below[k] = below[lk] | below[rk] | {int(feature[left[s0 + k]])}
        width[k] = len(below[k].union(paths[k]))
        bits = len(paths[k]) + internal[k]
        together = width[k] * 2 ** bits if bits <= MAX_INDEX_BITS else math.inf
        own[k] = together + ADD_WEIGHT * width[k] <= cost[lk] + cost[rk]
        entries[k] = together if own[k] else entries[lk] + entries[rk]
        cost[k] = together + ADD_WEIGHT * width[k] if own[k] else cost[lk] + cost[rk]
    return paths, entries[0], own, internal, width


def index_arrays(tables: dict, plan: TablePlan) -> dict:
    """The kernels' arrays for a feasible plan (see RANGE_COLUMNS), and the leaves that fill the
    tables: `leaf_int` (leaves, 3: group, first feature row, distinct features d), `leaf_value`,
    `leaf_feature_int` (rows, 3: position in the group's entries, mask, wanted bits; o_j = 1 when
    ``index & mask == wanted``) and `leaf_feature_cover` (rows,) z_j.
    """
    parent, feature, is_left = tables["parent"], tables["feature"], tables["is_left"]
    is_leaf, left, cover, tree_start = tables["is_leaf"], tables["left"], tables["cover"], tables["tree_start"]
    n_trees = len(tree_start) - 1
    by_tree = [[] for _ in range(n_trees)]
    for t, k in plan.groups:
        by_tree[t].append(k)
    ranges = np.zeros((n_trees + 1, len(RANGE_COLUMNS)), dtype=np.int64)
    out = {name: [] for name in ("split_int", "split_threshold", "pattern_int", "group_int", "member_int",
                                 "add_int", "leaf_int", "leaf_value", "leaf_feature_int", "leaf_feature_cover")}
    offset = 0
    for t in range(n_trees):
        s0, m = int(tree_start[t]), int(tree_start[t + 1] - tree_start[t])
        paths = [()] * m
        for k in range(1, m):
            above, j = paths[int(parent[s0 + k]) - s0], int(feature[s0 + k])
            paths[k] = above if j in above else above + (j,)
        split_of = {}
        for k in range(m):
            if not is_leaf[s0 + k]:
                child = int(left[s0 + k])
                split_of[k] = len(split_of)
                out["split_int"].append((int(feature[child]), int(tables["missing_left"][child]),
                                         int(tables["category"][child])))
                out["split_threshold"].append(float(tables["threshold"][child]))
        above_roots = set()
        for k in by_tree[t]:
            while k != 0 and k not in above_roots:
                above_roots.add(k)
                k = int(parent[s0 + k]) - s0
        slot_of = {0: 0}
        for k in sorted(above_roots):
            up, j = int(parent[s0 + k]) - s0, int(feature[s0 + k])
            bit = 1 << paths[k].index(j)
            out["pattern_int"].append((slot_of[up], split_of[up], int(is_left[s0 + k]),
                                       0 if j in paths[up] else bit, bit))
            slot_of[k] = len(slot_of)
        for g, k in enumerate(by_tree[t]):
            size = _subtree_size(is_leaf, s0, k)
            nodes = [n for n in range(k, k + size) if not is_leaf[s0 + n]]
            anc = paths[k]
            features = list(anc)
            for n in nodes:
                j = int(feature[left[s0 + n]])
                if j not in features:
                    features.append(j)
            bits = len(anc) + len(nodes)
            out["group_int"].append((slot_of[k], offset, len(features), bits))
            out["member_int"] += [(g, split_of[n], len(anc) + r) for r, n in enumerate(nodes)]
            out["add_int"] += [(g, j, position) for position, j in enumerate(features)]
            offset += len(features) << bits
            rank = {n: len(anc) + r for r, n in enumerate(nodes)}
            position_of = {j: i for i, j in enumerate(features)}
            group = len(out["group_int"]) - 1
            for leaf in range(k, k + size):
                if not is_leaf[s0 + leaf]:
                    continue
                described = _describe_leaf(parent, feature, is_left, cover, s0, k, size, leaf, anc, rank)
                out["leaf_int"].append((group, len(out["leaf_feature_int"]), len(described)))
                out["leaf_value"].append(float(tables["value"][s0 + leaf]))
                for j, (mask, wanted, z) in described.items():
                    out["leaf_feature_int"].append((position_of[j], mask, wanted))
                    out["leaf_feature_cover"].append(z)
        ranges[t + 1] = [len(out[name]) for name in ("split_int", "pattern_int", "group_int", "member_int", "add_int")]
    widths = {"split_int": 3, "pattern_int": 5, "group_int": 4, "member_int": 3, "add_int": 3,
              "leaf_int": 3, "leaf_feature_int": 3}
    arrays = {name: (np.asarray(v, dtype=np.int64).reshape(-1, widths[name]) if name in widths
                     else np.asarray(v, dtype=np.float64)) for name, v in out.items()}
    arrays["tree_ranges"] = ranges
    arrays["table_entries"] = offset
    arrays["max_scratch"] = int(max(1, np.diff(ranges, axis=0).max(initial=0) + 1))
    return arrays


def _subtree_size(is_leaf, s0: int, k: int) -> int:
    """Nodes in the subtree under local node k: pre-order keeps them contiguous from k on."""
    open_slots, n = 1, k
    while open_slots:
        open_slots += 1 if not is_leaf[s0 + n] else -1
        n += 1
    return n - k


def _describe_leaf(parent, feature, is_left, cover, s0, root, size, leaf, anc, rank) -> dict:
    """feature -> (mask, wanted bits, cover z) of one leaf of the group under `root`.

    Walking up from the leaf, the first edge met on a feature is its deepest, whose cover is z.
    An edge inside the group asks for the row's direction at its parent (the parent's bit); an
    edge above the group root is summarised by the feature's ancestor bit, wanted 1.
    """
    described = {}
    anc_bit = {j: i for i, j in enumerate(anc)}
    node = leaf
    while node != 0:
        up, j = int(parent[s0 + node]) - s0, int(feature[s0 + node])
        entry = described.setdefault(j, [0, 0, float(cover[s0 + node])])
        if root < node < root + size:
            bit = 1 << rank[up]
            entry[0] |= bit
            entry[1] |= bit if is_left[s0 + node] else 0
        else:
            entry[0] |= 1 << anc_bit[j]
            entry[1] |= 1 << anc_bit[j]
        node = up
    return {j: tuple(v) for j, v in described.items()}


def build_tables(tables: dict, plan: TablePlan) -> dict:
    """Fill the tables of a feasible plan: the arrays `explain_serial` / `explain_parallel` read.

    Returns
    -------
    dict: `tree_ranges`, `split_int`, `split_threshold`, `category_left`, `pattern_int`,
    `group_int`, `member_int`, `add_int`, `table` (float64, `plan.table_entries` values), and
    `max_scratch` (the kernels' scratch per row: int64 (3, max_scratch)).
    """
    from creditmine.explain._treeshap_tables import fill_tables

    arrays = index_arrays(tables, plan)
    most_points = max(1, (plan.max_leaf_features + 1) // 2)
    gauss_nodes = np.zeros((most_points + 1, most_points))
    gauss_weights = np.zeros((most_points + 1, most_points))
    for n in range(1, most_points + 1):
        nodes, weights = np.polynomial.legendre.leggauss(n)
        gauss_nodes[n, :n], gauss_weights[n, :n] = (nodes + 1.0) / 2.0, weights / 2.0
    table = np.zeros(arrays["table_entries"])
    d = plan.max_leaf_features
    fill_tables(arrays["group_int"], arrays["leaf_int"], arrays["leaf_value"], arrays["leaf_feature_int"],
                arrays["leaf_feature_cover"], gauss_nodes, gauss_weights, table,
                np.empty(max(1, d << d)), np.empty((most_points, max(1, 1 << d))))
    keep = ("tree_ranges", "split_int", "split_threshold", "pattern_int", "group_int", "member_int",
            "add_int", "max_scratch")
    return {**{name: arrays[name] for name in keep}, "category_left": tables["category_left"], "table": table}
