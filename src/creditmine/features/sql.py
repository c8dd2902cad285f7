"""SQL building blocks of the feature definitions (DuckDB's dialect): exact decimals, safe ratios,
ranked monthly records, window sums, growth and volatility."""

from __future__ import annotations

__all__ = ["DECIMAL", "band", "count", "cv", "distinct_months", "div", "exact", "growth", "in_window",
           "monthly_ranked", "months", "ratio", "since_columns", "window_offsets", "window_sum"]

# Exact type of amounts (yuan), kWh and other summed quantities: 14 integer digits, 4 decimals.
DECIMAL = "DECIMAL(18, 4)"


def months(expr: str) -> str:
    """A month index (year * 12 + month) of a date expression."""
    return f"(YEAR({expr}) * 12 + MONTH({expr}))"


def exact(value: str) -> str:
    """A quantity as an exact decimal, so that sums of it do not depend on the order of the rows."""
    return f"CAST({value} AS {DECIMAL})"


def div(num: str, den: str) -> str:
    return f"(CAST({num} AS DOUBLE) / CAST({den} AS DOUBLE))"


def ratio(num: str, den: str) -> str:
    """num / den when den is positive, else NULL."""
    return f"CASE WHEN ({den}) > 0 THEN {div(num, den)} END"


def monthly_ranked(table: str, known_at: str, columns: str, tie_break: str) -> str:
    """Monthly records known before each application, r = 1 for the latest period.

    `tie_break` orders records of one period known on the same day (values descending), so that
    the ranking, hence every feature, does not depend on the order rows arrive in.
    """
    return f"""
SELECT s.app_key, s.applied_at, m.period, {columns},
       ROW_NUMBER() OVER (PARTITION BY s.app_key ORDER BY m.period DESC, m.{known_at} DESC, {tie_break}) AS r
FROM spine s JOIN {table} m ON m.enterprise_id = s.enterprise_id AND m.{known_at} < s.applied_at"""


def distinct_months(condition: str, offset: str) -> str:
    """Distinct calendar months among rows meeting `condition` (windows up to 5 years).

    `offset` is the row's month offset before the application month; a bit mask of offsets, OR-ed
    and counted, is exact and far cheaper than COUNT(DISTINCT ...) inside a wide aggregate.
    """
    return f"BIT_COUNT(BIT_OR(CASE WHEN {condition} THEN CAST(1 AS BIGINT) << ({offset}) ELSE CAST(0 AS BIGINT) END))"


def window_sum(value: str, lo: int, hi: int) -> str:
    """Sum of `value` over ranks lo < r <= hi."""
    return f"SUM(CASE WHEN r > {lo} AND r <= {hi} THEN {value} END)"


def growth(value: str, k: int) -> str:
    """Last k ranked months over the k before, minus 1; NULL unless all k earlier months exist."""
    recent, earlier = window_sum(value, 0, k), window_sum(value, k, 2 * k)
    full = f"COUNT(CASE WHEN r > {k} AND r <= {2 * k} THEN 1 END) = {k}"
    return f"CASE WHEN {full} AND {earlier} > 0 THEN {div(recent, earlier)} - 1 END"


def cv(value: str, k: int) -> str:
    """Sample standard deviation over mean of `value` (an exact decimal) for ranks r <= k.

    The moments are exact decimal sums, so the result does not depend on the order of the rows.
    """
    x = f"CASE WHEN r <= {k} THEN {value} END"
    wide = f"CAST({x} AS DECIMAL(38, 4))"  # room for the square
    n, sx, sxx = f"COUNT({x})", f"SUM({x})", f"SUM({wide} * {wide})"
    variance = f"GREATEST(CAST({n} * {sxx} - {sx} * {sx} AS DOUBLE), 0) / ({n} * ({n} - 1))"
    return f"CASE WHEN {n} >= 2 AND {sx} > 0 THEN SQRT({variance}) / {div(sx, n)} END"


def count(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def window_offsets(windows_months) -> tuple[int, ...]:
    """Month offsets whose start date the spine carries: every window and twice each growth window."""
    windows = tuple(sorted(set(windows_months)))
    return tuple(sorted({*windows, *(2 * k for k in windows if 2 * k <= windows[-1])}))


def since_columns(windows) -> str:
    return ", ".join(f"s.since_{k}m" for k in window_offsets(windows))


def band(date: str, windows) -> str:
    return " + ".join(f"CASE WHEN {date} >= s.since_{o}m THEN 1 ELSE 0 END" for o in window_offsets(windows))


def in_window(windows, k: int) -> str:
    """`band` condition for "dated on or after applied_at minus k months".

    Window starts move back as the offset grows, so a date on or after the start of offset k is on
    or after the start of every larger offset: it is in window k exactly when its band counts
    all the offsets from k up.
    """
    return f"band >= {sum(1 for o in window_offsets(windows) if o >= k)}"
