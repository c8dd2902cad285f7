"""The compiled kernels of table TreeSHAP (see `creditmine.explain._treeshap_plan` for the method
and the arrays): fill the tables once per model, then explain rows with one look-up per group.

Kept apart so that importing the explain package does not compile anything; numba caches the
machine code on disk after the first call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def fill_tables(group_int, leaf_int, leaf_value, leaf_feature_int, leaf_feature_cover,
                gauss_nodes, gauss_weights, table, leaf_shares, products):
    """Sum the shares of every group's leaves into its table, for every index of the group.

    A leaf of d distinct features first gets its shares for each of its 2^d patterns o: for
    feature i, v (o_i - z_i) sum_q w_q prod_{j != i} f_j(t_q) with f_j(t) = z_j (1 - t) + o_j t,
    on the ceil(d / 2) Gauss-Legendre points that integrate these degree d - 1 polynomials
    exactly (row n of `gauss_nodes` / `gauss_weights` holds the n-point rule on [0, 1]). The
    products over all features are built for every pattern by doubling (`products`, scratch
    (points, 2^d)); leaving feature i out multiplies by the reciprocal of its factor. Each index
    of the group's table then reads the leaf's pattern from its masks and adds that row of
    shares (`leaf_shares`, scratch of d 2^d). `table` must be zero on entry.
    """
    for leaf in range(leaf_int.shape[0]):
        g, first, d = leaf_int[leaf, 0], leaf_int[leaf, 1], leaf_int[leaf, 2]
        if d == 0:
            continue
        v = leaf_value[leaf]
        n_q = max(1, (d + 1) // 2)
        n_patterns = 1 << d
        for q in range(n_q):
            t = gauss_nodes[n_q, q]
            products[q, 0] = 1.0
            for i in range(d):
                z = leaf_feature_cover[first + i]
                off, on = z * (1.0 - t), z + (1.0 - z) * t
                half = 1 << i
                for p in range(half):
                    products[q, p + half] = products[q, p] * on
                    products[q, p] *= off
        for i in range(d):
            z = leaf_feature_cover[first + i]
            row = leaf_shares[i * n_patterns:(i + 1) * n_patterns]
            row[:] = 0.0
            for q in range(n_q):
                t = gauss_nodes[n_q, q]
                w_off = gauss_weights[n_q, q] / (z * (1.0 - t))
                w_on = gauss_weights[n_q, q] / (z + (1.0 - z) * t)
                for p in range(n_patterns):
                    row[p] += products[q, p] * (w_on if (p >> i) & 1 else w_off)
            for p in range(n_patterns):
                row[p] *= v * (((p >> i) & 1) - z)
        bits = group_int[g, 3]
        offset, width = group_int[g, 1], group_int[g, 2]
        for index in range(1 << bits):
            pattern = 0
            for i in range(d):
                if (index & leaf_feature_int[first + i, 1]) == leaf_feature_int[first + i, 2]:
                    pattern |= 1 << i
            base = offset + index * width
            for i in range(d):
                table[base + leaf_feature_int[first + i, 0]] += leaf_shares[i * n_patterns + pattern]


@njit(cache=True)
def _explain_row(x, out, scratch, tree_ranges, split_int, split_threshold, category_left,
                 pattern_int, group_int, member_int, add_int, table):
    """Add the SHAP values of one row x to `out` (n_features,), one tree after the other.

    Per tree, in flat loops without data-dependent branches (a mispredicted branch costs more
    than the arithmetic): route the row at every split (`scratch[0]`, 1: left); carry its o-bits
    down the edges to the group roots (`scratch[1]`); index each group by its root's pattern and,
    above it, the row's directions at the group's splits (`scratch[2]`); add the indexed entries.
    """
    go_left, pattern, index = scratch[0], scratch[1], scratch[2]
    for t in range(tree_ranges.shape[0] - 1):
        # (indexed one by one: unpacking an array row costs more than a tree's work)
        sp0, pa0, g0 = tree_ranges[t, 0], tree_ranges[t, 1], tree_ranges[t, 2]
        me0, ad0 = tree_ranges[t, 3], tree_ranges[t, 4]
        sp1, pa1, g1 = tree_ranges[t + 1, 0], tree_ranges[t + 1, 1], tree_ranges[t + 1, 2]
        me1, ad1 = tree_ranges[t + 1, 3], tree_ranges[t + 1, 4]
        for s in range(sp0, sp1):
            v = x[split_int[s, 0]]
            missing = np.isnan(v)
            if split_int[s, 2] >= 0 and not missing:
                go_left[s - sp0] = _category_goes_left(v, s, split_int, category_left)
            else:
                go_left[s - sp0] = np.int64(v <= split_threshold[s]) | (np.int64(missing) & split_int[s, 1])
        pattern[0] = 0
        for e in range(pa0, pa1):
            wrong = go_left[pattern_int[e, 1]] ^ pattern_int[e, 2]
            pattern[e - pa0 + 1] = (pattern[pattern_int[e, 0]] | pattern_int[e, 3]) & ~(pattern_int[e, 4] * wrong)
        for g in range(g0, g1):
            index[g - g0] = pattern[group_int[g, 0]]
        for e in range(me0, me1):
            index[member_int[e, 0]] |= go_left[member_int[e, 1]] << member_int[e, 2]
        for g in range(g0, g1):
            index[g - g0] = group_int[g, 1] + index[g - g0] * group_int[g, 2]
        for e in range(ad0, ad1):
            out[add_int[e, 1]] += table[index[add_int[e, 0]] + add_int[e, 2]]


@njit(cache=True)
def _category_goes_left(code, s, split_int, category_left):
    """1 when the booster sends category `code` (not NaN) left at categorical split s: negative
    codes are missing values, the others are read as uint8, as the booster does."""
    if code < 0:
        return split_int[s, 1]
    return np.int64(category_left[split_int[s, 2], int(code) % 256])


@njit(cache=True)
def _explain_batch(X, r0, r1, out, work, tree_ranges, split_int, split_threshold, category_left,
                   pattern_int, group_int, member_int, add_int, table):
    """Add the SHAP values of rows r0..r1-1 of X to `out`, the same steps as `_explain_row` for
    all rows of the batch at once: the innermost loops run over rows, contiguous in `work`
    (int64 (3, max_scratch, >= r1 - r0) for routes, patterns and indices) so that they compile
    to vector instructions, and a tree's tables stay in cache while the batch reads them.
    """
    nb = r1 - r0
    n_features = X.shape[1]
    columns = np.empty((n_features, nb))      # the batch transposed: one feature's rows contiguous
    sums = np.zeros((n_features, nb))
    for b in range(nb):
        for j in range(n_features):
            columns[j, b] = X[r0 + b, j]
    go_left, pattern, index = work[0], work[1], work[2]
    for t in range(tree_ranges.shape[0] - 1):
        # (indexed one by one: unpacking an array row costs more than a tree's work)
        sp0, pa0, g0 = tree_ranges[t, 0], tree_ranges[t, 1], tree_ranges[t, 2]
        me0, ad0 = tree_ranges[t, 3], tree_ranges[t, 4]
        sp1, pa1, g1 = tree_ranges[t + 1, 0], tree_ranges[t + 1, 1], tree_ranges[t + 1, 2]
        me1, ad1 = tree_ranges[t + 1, 3], tree_ranges[t + 1, 4]
        for s in range(sp0, sp1):
            route, values = go_left[s - sp0], columns[split_int[s, 0]]
            threshold, missing_left = split_threshold[s], split_int[s, 1]
            for b in range(nb):
                v = values[b]
                route[b] = np.int64(v <= threshold) | (np.int64(np.isnan(v)) & missing_left)
            if split_int[s, 2] >= 0:
                for b in range(nb):
                    if not np.isnan(values[b]):
                        route[b] = _category_goes_left(values[b], s, split_int, category_left)
        pattern[0, :nb] = 0
        for e in range(pa0, pa1):
            above, route = pattern[pattern_int[e, 0]], go_left[pattern_int[e, 1]]
            below = pattern[e - pa0 + 1]
            is_left, sets, clears = pattern_int[e, 2], pattern_int[e, 3], pattern_int[e, 4]
            for b in range(nb):
                below[b] = (above[b] | sets) & ~(clears * (route[b] ^ is_left))
        for g in range(g0, g1):
            index[g - g0, :nb] = pattern[group_int[g, 0], :nb]
        for e in range(me0, me1):
            into, route, bit = index[member_int[e, 0]], go_left[member_int[e, 1]], member_int[e, 2]
            for b in range(nb):
                into[b] |= route[b] << bit
        for g in range(g0, g1):
            into, offset, width = index[g - g0], group_int[g, 1], group_int[g, 2]
            for b in range(nb):
                into[b] = offset + into[b] * width
        for e in range(ad0, ad1):
            at, into, position = index[add_int[e, 0]], sums[add_int[e, 1]], add_int[e, 2]
            for b in range(nb):
                into[b] += table[at[b] + position]
    for b in range(nb):
        for j in range(n_features):
            out[r0 + b, j] += sums[j, b]


@njit(cache=True)
def explain_serial(X, out, row_work, work, tree_ranges, split_int, split_threshold, category_left,
                   pattern_int, group_int, member_int, add_int, table):
    """SHAP values of the rows of X added to `out`, on the calling thread, with the caller's
    scratch: `row_work` (int64 (3, max_scratch)) for one row, `work` (int64 (3, max_scratch,
    batch rows)) for more. No thread start-up, and one row (an application online) allocates
    nothing."""
    n_rows = X.shape[0]
    if n_rows == 1:
        _explain_row(X[0], out[0], row_work, tree_ranges, split_int, split_threshold,
                     category_left, pattern_int, group_int, member_int, add_int, table)
        return
    step = work.shape[2]
    for r0 in range(0, n_rows, step):
        _explain_batch(X, r0, min(n_rows, r0 + step), out, work, tree_ranges, split_int,
                       split_threshold, category_left, pattern_int, group_int, member_int,
                       add_int, table)


@njit(parallel=True, cache=True)
def explain_parallel(X, batch_rows, max_scratch, tree_ranges, split_int, split_threshold,
                     category_left, pattern_int, group_int, member_int, add_int, table):
    """SHAP values (n_rows, n_features) of X, one batch of `batch_rows` rows per thread."""
    n_rows = X.shape[0]
    out = np.zeros((n_rows, X.shape[1]))
    n_batches = (n_rows + batch_rows - 1) // batch_rows
    for b in prange(n_batches):
        r0 = b * batch_rows
        work = np.empty((3, max_scratch, batch_rows), dtype=np.int64)
        _explain_batch(X, r0, min(n_rows, r0 + batch_rows), out, work, tree_ranges, split_int,
                       split_threshold, category_left, pattern_int, group_int, member_int,
                       add_int, table)
    return out
