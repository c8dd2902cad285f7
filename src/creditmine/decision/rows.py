"""Application rows straight from parsed JSON, without a pandas DataFrame (the served model's fast path).

MLflow's scoring server turns every request body into a DataFrame (``dataframe_split`` or
``dataframe_records``), and that construction, type inference for each of a hundred-odd columns,
costs more than deciding one application. `ParsedRows` holds the same rows as a matrix of the
JSON values, with each column's kind ("float", "bool" or "other") inferred exactly as pandas infers
the column's dtype from those values, so that `creditmine.decision.inputs.validate_applications`
reads them as it reads the DataFrame MLflow would have built: the same values, the same errors,
the same decisions.

A body that is not a plain table (no column names, an index, repeated column names, rows of
another length, records that are not objects) is no `ParsedRows` (`from_split` / `from_records`
return None): the server hands it to MLflow's own parser, which accepts or refuses it as it
always has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ParsedRows", "infer_kind"]

_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_MISSING = float("nan")  # what pandas puts where a record lacks a key


@dataclass(frozen=True)
class ParsedRows:
    """Rows of JSON values: `columns` (names, in order), `values` (object ndarray, rows x columns)
    and `kinds` (column -> "float", "bool" or "other", as pandas would infer them)."""

    columns: tuple[str, ...]
    values: np.ndarray
    kinds: dict[str, str]

    def __len__(self) -> int:
        return self.values.shape[0]

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame of objects (what the decision log keeps of them)."""
        import pandas as pd

        return pd.DataFrame(self.values, columns=list(self.columns))

    @classmethod
    def from_split(cls, payload) -> ParsedRows | None:
        """The rows of a ``dataframe_split`` payload ({"columns": [...], "data": [[...], ...]}),
        or None when it is not a plain table of named columns (MLflow's parser then decides)."""
        if not isinstance(payload, dict) or set(payload) != {"columns", "data"}:
            return None
        columns, data = payload["columns"], payload["data"]
        if (not isinstance(columns, list) or not isinstance(data, list) or not data
                or not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns)):
            return None
        width = len(columns)
        values = np.empty((len(data), width), dtype=object)
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                return None
            for j, value in enumerate(row):
                values[i, j] = value
        return cls._of(tuple(columns), values)

    @classmethod
    def from_records(cls, records) -> ParsedRows | None:
        """The rows of a ``dataframe_records`` payload ([{"column": value, ...}, ...]): columns in
        the order they first appear, a key a record lacks is NaN (as in pandas); None when the
        records are not JSON objects with text keys."""
        if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
            return None
        position: dict[str, int] = {}
        for record in records:
            for key in record:
                if key not in position:
                    if not isinstance(key, str):
                        return None
                    position[key] = len(position)
        values = np.full((len(records), len(position)), _MISSING, dtype=object)
        for i, record in enumerate(records):
            for key, value in record.items():
                values[i, position[key]] = value
        return cls._of(tuple(position), values)

    @classmethod
    def _of(cls, columns: tuple[str, ...], values: np.ndarray) -> ParsedRows:
        return cls(columns, values, {name: infer_kind(values[:, j]) for j, name in enumerate(columns)})


def infer_kind(values) -> str:
    """The kind of a column of JSON values, as `inputs` reads the dtype pandas infers for them:
    "float" for numbers (ints within 64 bits, floats, None among them, not only None), "bool"
    for booleans only, "other" (object) for anything else (text, mixtures, lists, only None)."""
    has_number = has_bool = has_none = False
    low = high = 0
    for value in values:
        kind = type(value)
        if kind is float:
            has_number = True
        elif kind is int:
            has_number = True
            low, high = min(low, value), max(high, value)
        elif value is None:
            has_none = True
        elif kind is bool:
            has_bool = True
        else:
            return "other"
    if has_bool:
        return "bool" if not (has_number or has_none) else "other"
    if not has_number:
        return "other"
    if low < _INT64_MIN or high > _UINT64_MAX or (low < 0 and high > _INT64_MAX):
        return "other"
    return "float"
