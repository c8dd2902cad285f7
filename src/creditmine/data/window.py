"""The end of the data window (`as_of`) of an ingestion: given, or derived from the data's dates.

Records whose knowledge date (`creditmine.data.io.KNOWN_AT`: filed_at, issued_at, applied_at, ...)
is after `as_of` are rejected. Without a given `as_of`, it is the latest knowledge date in the data:
contract dates (`start_on`, `end_on`) are not among them, as a contract may run past the window.

A stray date far past the data (a typo such as 2042 for 2024) must not become the end of the window,
or it would let itself and every other late record through. So the distinct knowledge dates of all
tables are split wherever more than `STRAY_GAP_DAYS` separate two consecutive dates; the window
ends at the last date of the stretch holding the most records, and the later dates are reported as
strays (their records are rejected as dated after the window). Data with a real gap of more than
a quarter at its end should be ingested with an explicit `as_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from creditmine.data import io

STRAY_GAP_DAYS = 92
"""A date more than this many days after every earlier knowledge date is a stray, not the window's end."""


class WindowError(ValueError):
    """No end of the data window can be derived (the data has no knowledge dates at all)."""


@dataclass(frozen=True)
class WindowEnd:
    """The end of the data window and where it comes from.

    as_of : the last day of the window.
    column : "table.column" whose latest date it is when derived; None when given.
    strays : ("table.column", first date, last date, rows) of the knowledge dates left out as strays.
    """

    as_of: date
    column: str | None = None
    strays: tuple[tuple[str, date, date, int], ...] = ()

    def describe(self) -> str:
        """One line: the as-of and why, e.g. "as-of 2024-12-31, the latest date in invoices.issued_at"."""
        if self.column is None:
            return f"as-of {self.as_of}, as given"
        text = f"as-of {self.as_of}, the latest date in {self.column}"
        if self.strays:
            rows = sum(s[3] for s in self.strays)
            listed = ", ".join(f"{c} {a}" + (f" to {b}" if b != a else "") + f" ({r:,} row{'s' if r > 1 else ''})"
                               for c, a, b, r in self.strays)
            text += (f"; {rows:,} later row{'s are' if rows > 1 else ' is'} more than {STRAY_GAP_DAYS} days past "
                     f"the rest of the data and quarantined as after the window: {listed} "
                     f"(give --as-of to set the window end)")
        return text


def window_end(tables: dict[str, pd.DataFrame], as_of: date | None = None) -> WindowEnd:
    """The given `as_of`, or the one derived from the knowledge dates of `tables`.

    Parameters
    ----------
    tables : name -> the table's rows in the data model's dtypes (dates as datetime64).
    as_of : the end of the window when the user gives it.

    Raises
    ------
    WindowError
        When `as_of` is None and no table has a knowledge date.
    """
    if as_of is not None:
        return WindowEnd(as_of)
    counts = []
    for name, frame in tables.items():
        column = io.KNOWN_AT.get(name)
        if column is None or column not in frame:
            continue
        days = frame[column].dropna().dt.floor("D").value_counts()
        counts.append(pd.DataFrame({"date": days.index, "column": f"{name}.{column}", "rows": days.to_numpy()}))
    counts = [c for c in counts if len(c)]
    if not counts:
        raise WindowError("no knowledge date (" + ", ".join(f"{t}.{c}" for t, c in io.KNOWN_AT.items())
                          + ") in the data to derive the end of the data window from; give --as-of YYYY-MM-DD")
    found = pd.concat(counts, ignore_index=True)
    per_day = found.groupby("date")["rows"].sum().sort_index()
    gaps = np.diff(per_day.index.to_numpy()).astype("timedelta64[D]").astype(np.int64)
    stretch = np.r_[0, np.cumsum(gaps > STRAY_GAP_DAYS)]
    rows = np.bincount(stretch, weights=per_day.to_numpy().astype(float))
    biggest = len(rows) - 1 - int(np.argmax(rows[::-1]))         # the latest one on a tie
    end = per_day.index[stretch == biggest].max()
    order = {f"{t}.{io.KNOWN_AT[t]}": i for i, t in enumerate(io.TABLES)}
    at_end = found.loc[found["date"] == end, "column"]
    column = min(at_end, key=lambda c: order.get(c, len(order)))
    later = found[found["date"] > end]
    strays = tuple(
        (c, group["date"].min().date(), group["date"].max().date(), int(group["rows"].sum()))
        for c, group in sorted(later.groupby("column"), key=lambda item: order.get(item[0], len(order)))
    )
    return WindowEnd(end.date(), column, strays)
