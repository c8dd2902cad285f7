"""Rows of a source table that repeat a key: identical copies are removed, conflicts quarantined.

Every table of the data model has a key (`creditmine.data.schemas.KEYS`: application_id,
invoice_id, (enterprise_id, period) for the monthly tables, ...). Rows sharing a key are compared
on every column, in the data model's types (so "12.5" and "12.50" are the same amount; a value that
did not parse is compared as written):

- all of them equal: an *identical duplicate*; the first is kept, the others are removed and
  counted (`KeyCheck.copy_of` names the row each one repeats), nothing is lost;
- any two different: a *key conflict*; no row can be told to be the right one, so every row of
  the key is quarantined, its rule naming the key, the other rows and the columns that differ.

A row whose key is empty or did not parse takes no part: it is rejected for that on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from creditmine.data import schemas
from creditmine.data.sources import FAILURE_COLUMNS, SourceTable

#: A conflict's rule lists at most this many other rows.
MAX_ROWS_LISTED = 10
_UNPARSED = "\x00unparsed:"


@dataclass(frozen=True)
class KeyCheck:
    """The duplicates of one table.

    copy_of : per row position, the position of the earlier identical row it repeats, or -1.
    conflicts : one failure per row of a conflicting key (`creditmine.data.sources.FAILURE_COLUMNS`).
    """

    copy_of: np.ndarray
    conflicts: pd.DataFrame

    @property
    def removed(self) -> np.ndarray:
        """Mask of the identical copies that are removed (the first of each is kept)."""
        return self.copy_of >= 0


def check_keys(table: SourceTable, name: str) -> KeyCheck:
    """Find the identical duplicates and the key conflicts of a parsed source table.

    Parameters
    ----------
    table : the parsed source file (`creditmine.data.sources.read_sources`).
    name : its table in the data model, whose key `schemas.KEYS[name]` is checked.

    Returns
    -------
    KeyCheck
    """
    key = list(schemas.KEYS[name])
    n = len(table.typed)
    copy_of = np.full(n, -1, dtype=np.int64)
    values = _comparable(table)
    complete = np.ones(n, dtype=bool)
    for column in key:
        complete &= values[column].notna().to_numpy() & ~table.unparsed(column)
    positions = np.flatnonzero(complete)
    shared = values.iloc[positions].duplicated(subset=key, keep=False).to_numpy()
    if not shared.any():
        return KeyCheck(copy_of, pd.DataFrame(columns=FAILURE_COLUMNS))
    positions = positions[shared]
    rows = values.iloc[positions].reset_index(drop=True)
    group = rows.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
    new_version = ~rows.duplicated(keep="first").to_numpy()   # first occurrence of each distinct row
    versions = np.bincount(group, weights=new_version.astype(float)).astype(np.int64)
    first = pd.Series(positions).groupby(group).transform("first").to_numpy()

    identical = versions[group] == 1
    copies = identical & (positions != first)
    copy_of[positions[copies]] = first[copies]

    conflict = ~identical
    if not conflict.any():
        return KeyCheck(copy_of, pd.DataFrame(columns=FAILURE_COLUMNS))
    return KeyCheck(copy_of, _conflict_failures(table, key, rows[conflict], positions[conflict], group[conflict]))


def _comparable(table: SourceTable) -> pd.DataFrame:
    """The typed rows, with each value that did not parse replaced by its text (marked)."""
    if table.parse_failures.empty:
        return table.typed
    values = table.typed.copy()
    for column in table.parse_failures["column"].unique():
        unparsed = table.unparsed(column)
        marked = values[column].astype(object)
        marked[unparsed] = _UNPARSED + table.strings.loc[unparsed, column].astype(str)
        values[column] = marked
    return values


def _conflict_failures(table: SourceTable, key: list[str], rows: pd.DataFrame, positions: np.ndarray,
                       group: np.ndarray) -> pd.DataFrame:
    """One rule per row of a conflicting key: the key as written, the other rows, what differs."""
    others_columns = [c for c in rows.columns if c not in key]
    differs = rows[others_columns].groupby(group).nunique(dropna=False) > 1
    key_name = key[0] if len(key) == 1 else f"({', '.join(key)})"
    reason = f"duplicate key {key_name} with different values"
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    rules = np.empty(len(positions), dtype=object)
    for members in np.split(order, starts[1:]):
        at = positions[members]
        written = table.strings.loc[at[0], key]
        key_text = (f"{key[0]} {written.iloc[0]!r}" if len(key) == 1
                    else f"{key_name} = ({', '.join(repr(v) for v in written)})")
        columns = [c for c in others_columns if differs.loc[group[members[0]], c]]
        for j, member in enumerate(members):
            others = np.delete(at, j) + 1                      # source rows, 1 = first data row
            listed = ", ".join(map(str, others[:MAX_ROWS_LISTED]))
            if len(others) > MAX_ROWS_LISTED:
                listed += f" and {len(others) - MAX_ROWS_LISTED:,} more"
            rules[member] = (f"duplicate key {key_text} also on row{'s' if len(others) > 1 else ''} "
                             f"{listed} with a different {', '.join(columns)}")
    return pd.DataFrame({"row": positions, "column": ", ".join(key), "rule": rules, "reason": reason})
