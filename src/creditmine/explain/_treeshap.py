"""The compiled path kernel of exact path-dependent TreeSHAP (see `creditmine.explain.attributions`):
per row, the leaf shares' polynomials by quadrature. It gives the interaction values, and the SHAP
values when the precomputed tables (`creditmine.explain._treeshap_tables`) exceed the memory budget.

Kept apart so that importing the explain package does not compile anything; numba caches the
machine code on disk after the first call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


def _tree_shap(X, tree_start, parent, feature, threshold, missing_left, is_left, cover, previous,
              is_leaf, value, left, right, category, category_left, tree_q, tq, wq, max_nodes, batch_rows,
              cond_feature, cond_on):
    """SHAP values (n_rows, n_features) of the sum of the trees' leaf values for the rows of X.

    For each tree and batch of rows: a pre-order pass carries, for every node c, the product G_c(t)
    over the distinct features on the root-to-c path of (z_j (1 - t) + o_j t), evaluated at the
    quadrature nodes t_q of the tree (`tq[t]`, weights `wq[t]`, `tree_q[t]` of them; z_j: cover fraction, o_j: 1 when the row follows the path on j). A
    post-order pass sums H_c = sum of v_l G_l over the leaves below c; the leaves whose last
    split on j is the edge into c give j the share (o_j - z_j) * sum_q w_q D_c(t_q) / f_c(t_q),
    with D_c = H_c minus the sums under deeper edges on j.

    With `cond_feature` >= 0 that feature is always in the coalition (`cond_on`) or never: its factor
    is o (or z) instead of the polynomial, and it gets no value itself; half the difference of the
    two runs is the SHAP interaction value of each feature with it (as shap computes them).
    """
    n_rows, n_features = X.shape
    n_trees = tree_start.shape[0] - 1
    q_max = tq.shape[1]
    n_batches = (n_rows + batch_rows - 1) // batch_rows
    phi = np.zeros((n_rows, n_features))
    for bi in prange(n_batches):
        r0 = bi * batch_rows
        r1 = min(n_rows, r0 + batch_rows)
        nb = r1 - r0
        follow = np.empty((max_nodes, nb))
        G = np.empty((max_nodes, q_max, nb))
        H = np.empty((max_nodes, q_max, nb))
        P = np.empty((max_nodes, q_max, nb))
        local = np.zeros((n_features, nb))
        for t in range(n_trees):
            s0 = tree_start[t]
            m = tree_start[t + 1] - s0
            n_q = tree_q[t]   # ceil(d / 2) points integrate this tree's polynomials exactly
            for q in range(n_q):
                for b in range(nb):
                    G[0, q, b] = 1.0
                    P[0, q, b] = 0.0
            for k in range(1, m):
                s = s0 + k
                p = parent[s] - s0
                j = feature[s]
                pv = previous[s]
                pk = pv - s0
                thr = threshold[s]
                goes_left_missing = missing_left[s] == 1
                left_edge = is_left[s] == 1
                ci = category[s]
                for b in range(nb):
                    x = X[r0 + b, j]
                    if np.isnan(x):
                        went_left = goes_left_missing
                    elif ci >= 0:
                        # the booster's rule: negative codes are missing, codes as uint8
                        if x < 0:
                            went_left = goes_left_missing
                        else:
                            went_left = category_left[ci, int(x) % 256] == 1
                    else:
                        went_left = x <= thr
                    o = 1.0 if went_left == left_edge else 0.0
                    if pv >= 0:
                        o *= follow[pk, b]
                    follow[k, b] = o
                z = cover[s]
                if j == cond_feature:
                    for b in range(nb):
                        f = follow[k, b] if cond_on else z
                        fp = 1.0
                        if pv >= 0:
                            fp = follow[pk, b] if cond_on else cover[pv]
                        for q in range(n_q):
                            # a factor 0 (off the path when always present) zeroes the subtree
                            G[k, q, b] = 0.0 if f == 0.0 else G[p, q, b] * f / fp
                            P[k, q, b] = 0.0
                    continue
                for q in range(n_q):
                    tt = tq[t, q]
                    if pv >= 0:
                        zp = cover[pv]
                        for b in range(nb):
                            f = z * (1.0 - tt) + follow[k, b] * tt
                            fp = zp * (1.0 - tt) + follow[pk, b] * tt
                            G[k, q, b] = G[p, q, b] * f / fp
                            P[k, q, b] = 0.0
                    else:
                        for b in range(nb):
                            f = z * (1.0 - tt) + follow[k, b] * tt
                            G[k, q, b] = G[p, q, b] * f
                            P[k, q, b] = 0.0
            for k in range(m - 1, -1, -1):
                s = s0 + k
                if is_leaf[s] == 1:
                    v = value[s]
                    for q in range(n_q):
                        for b in range(nb):
                            H[k, q, b] = v * G[k, q, b]
                else:
                    lk = left[s] - s0
                    rk = right[s] - s0
                    for q in range(n_q):
                        for b in range(nb):
                            H[k, q, b] = H[lk, q, b] + H[rk, q, b]
                if k == 0:
                    continue
                j = feature[s]
                if j == cond_feature:
                    continue
                z = cover[s]
                for b in range(nb):
                    acc = 0.0
                    o = follow[k, b]
                    for q in range(n_q):
                        tt = tq[t, q]
                        acc += wq[t, q] * (H[k, q, b] - P[k, q, b]) / (z * (1.0 - tt) + o * tt)
                    local[j, b] += (o - z) * acc
                pv = previous[s]
                if pv >= 0:
                    pk = pv - s0
                    for q in range(n_q):
                        for b in range(nb):
                            P[pk, q, b] += H[k, q, b]
        for j in range(n_features):
            for b in range(nb):
                phi[r0 + b, j] = local[j, b]
    return phi


# many rows: one batch of rows per thread; a few rows (one application online): no thread start-up
tree_shap_parallel = njit(parallel=True, cache=True)(_tree_shap)
tree_shap_serial = njit(cache=True)(_tree_shap)


def tree_shap(X, *tables, batch_rows, cond_feature=-1, cond_on=False):
    """`_tree_shap` on all cores for many rows, on one core for a batch or less."""
    kernel = tree_shap_serial if X.shape[0] <= batch_rows else tree_shap_parallel
    return kernel(X, *tables, batch_rows, cond_feature, cond_on)
