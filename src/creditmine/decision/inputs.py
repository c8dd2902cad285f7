"""Validation of application rows before a decision: every bad row gets its own error, none crashes.

A row is *valid* when it names its application, a product the model covers, a positive requested
amount, a whole positive term, the enterprise's specialized-innovative flag, numbers (or blanks)
for every model feature and a non-negative (or blank) limit base. Anything else gives the row an
error message naming the field and the value that arrived; the decision model refers such rows
with that message instead of scoring them, so nothing is silently defaulted. An enterprise with
no data at all (no data source with a record: each source's `<source>_missing` indicator set, or
all its features blank) is referred too: a PD from nothing is no PD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from creditmine.config import PolicyParams
from creditmine.decision.policy import BASE_COLUMNS, limit_base_columns

#: Application fields the decision needs besides the model's features and the limit bases.
APPLICATION_FIELDS = ("application_id", "product", "requested_amount_cny", "term_months", "specialized_innovative")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class InputSpec:
    """What a decision model needs of each application row.

    feature_names : the primary model's input columns, in order.
    categorical_features : those of them that are categories (passed through as text).
    application_products : application product codes the model covers; empty means any.
    policy : the product's decision policy (its limit rules name the limit-base columns).
    feature_sources : feature -> data source from the catalog; features of the "application"
        source say nothing about the enterprise, and `<source>_missing` indicators say whether
        their source has a record. Used to recognise an enterprise with no data at all.
    """

    feature_names: tuple[str, ...]
    categorical_features: frozenset[str]
    application_products: tuple[str, ...]
    policy: PolicyParams
    feature_sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidatedBatch:
    """Application rows after validation.

    columns : column -> ndarray of the rows, typed: numeric features and amounts float64 (NaN
        when blank; yuan), term_months float months, specialized_innovative 1.0 / 0.0,
        categorical features, product and application_id text (object; "" or None when blank).
        Values of invalid rows are unspecified.
    errors : ndarray[str], "" for a valid row, else why it cannot be decided automatically.
    index : the input rows' index.
    """

    columns: dict[str, np.ndarray]
    errors: np.ndarray
    index: pd.Index

    @property
    def valid(self) -> np.ndarray:
        return self.errors == ""

    @property
    def frame(self) -> pd.DataFrame:
        """The typed columns as a DataFrame (same index as the input)."""
        return pd.DataFrame(self.columns, index=self.index, copy=False)


def validate_applications(rows: pd.DataFrame, spec: InputSpec) -> ValidatedBatch:
    """Type and check application rows; collect one error message per bad row.

    Parameters
    ----------
    rows : one row per application: the fields of `APPLICATION_FIELDS`, the model's features and
        the limit-base columns of the row's product (see `creditmine.decision.policy.BASE_COLUMNS`).
    spec : what the model needs.

    Returns
    -------
    ValidatedBatch
    """
    if not isinstance(rows, pd.DataFrame):
        raise TypeError(f"application rows must be a pandas DataFrame; got {type(rows).__name__}")
    n = len(rows)
    problems: dict[int, list[str]] = {}
    typed: dict[str, np.ndarray] = {}

    typed["application_id"] = _text(rows, "application_id", problems, required=True)
    typed["product"] = _text(rows, "product", problems, required=True)
    if spec.application_products:
        known = np.isin(typed["product"], spec.application_products) | (typed["product"] == "")
        for row in np.flatnonzero(~known):
            _add(problems, row, f"unknown product '{typed['product'][row]}' (this model decides "
                                f"{', '.join(spec.application_products)})")

    amount = _number(rows, "requested_amount_cny", problems, required=True)
    for row in np.flatnonzero(amount <= 0):
        _add(problems, row, f"requested_amount_cny must be positive; got {amount[row]:g}")
    typed["requested_amount_cny"] = amount

    term = _number(rows, "term_months", problems, required=True)
    bad_term = (term < 1) | (np.floor(term) != term)
    for row in np.flatnonzero(bad_term & ~np.isnan(term)):
        _add(problems, row, f"term_months must be a whole number of months >= 1; got {term[row]:g}")
    typed["term_months"] = term

    typed["specialized_innovative"] = _flag(rows, "specialized_innovative", problems)

    for column in limit_base_columns(spec.policy):
        if column in typed:
            continue
        needed = _rows_needing_base(typed["product"], column, spec.policy)
        base = _number(rows, column, problems, required=False, rows_needing=needed)
        for row in np.flatnonzero((base < 0) & needed):
            _add(problems, row, f"{column} must not be negative; got {base[row]:g}")
        typed[column] = base

    blank: dict[str, np.ndarray] = {}
    for name in spec.feature_names:
        if name in typed:  # an application field or limit base the model also reads: checked above
            values = typed[name]
            blank[name] = values == "" if values.dtype == object else np.isnan(values)
        elif name in spec.categorical_features:
            values = _category(rows, name, problems)
            blank[name] = values == ""
            typed[name] = np.where(values == "", None, values)
        else:
            values = _number(rows, name, problems, required=False)
            blank[name] = np.isnan(values)
            typed[name] = values
    for row in np.flatnonzero(_no_data(typed, blank, spec, n)):
        _add(problems, row, "no data on the enterprise: no government data source has a record")

    errors = np.full(n, "", dtype=object)
    for row, messages in problems.items():
        errors[row] = "; ".join(messages)
    return ValidatedBatch(columns=typed, errors=errors, index=rows.index)


def _no_data(typed: dict, blank: dict[str, np.ndarray], spec: InputSpec, n: int) -> np.ndarray:
    """Rows where no data source of the enterprise has a record.

    A source has a record when its `<source>_missing` indicator is 0, or, without an indicator
    among the model's features, when any of its features is not blank. Application fields
    (product, amount, term) say nothing about the enterprise.
    """
    by_source: dict[str, list[str]] = {}
    for name in spec.feature_names:
        source = spec.feature_sources.get(name, "unknown")
        if source != "application":
            by_source.setdefault(source, []).append(name)
    if not by_source:
        return np.zeros(n, dtype=bool)
    has_record = np.zeros(n, dtype=bool)
    for source, names in by_source.items():
        indicator = f"{source}_missing"
        if indicator in names and indicator not in spec.categorical_features:
            # the indicator decides; only where it is blank do the source's values
            flag = typed[indicator]
            others = [name for name in names if name != indicator]
            any_value = np.zeros(n, dtype=bool)
            for name in others:
                any_value |= ~blank[name]
            has_record |= np.where(np.isnan(flag), any_value, flag == 0)
            continue
        for name in names:
            has_record |= ~blank[name]
    return ~has_record


def _rows_needing_base(products: np.ndarray, column: str, policy: PolicyParams) -> np.ndarray:
    """Rows whose product's limit rule reads `column`."""
    default_reads = BASE_COLUMNS[policy.default_limit_rule.base] == column
    needed = np.full(len(products), default_reads, dtype=bool)
    for product, rule in policy.limit_rules.items():
        needed[products == product] = BASE_COLUMNS[rule.base] == column
    return needed


def _add(problems: dict[int, list[str]], row: int, message: str) -> None:
    problems.setdefault(int(row), []).append(message)


def _missing_column(rows: pd.DataFrame, name: str, problems, which: np.ndarray | None = None) -> None:
    targets = np.arange(len(rows)) if which is None else np.flatnonzero(which)
    for row in targets:
        _add(problems, row, f"missing field {name}")


def _text(rows: pd.DataFrame, name: str, problems, required: bool) -> np.ndarray:
    """A text column as an object array, "" for blanks; blanks are errors when required."""
    if name not in rows:
        if required:
            _missing_column(rows, name, problems)
        return np.full(len(rows), "", dtype=object)
    column = rows[name]
    values = column.to_numpy(dtype=object)
    blank = pd.isna(values)
    if isinstance(column.dtype, pd.StringDtype) or all(isinstance(v, str) for v in values[~blank]):
        values = np.where(blank, "", values).astype(object)
    else:  # numbers or mixed objects: ids may arrive as integers
        values = np.array(["" if b else str(v) for v, b in zip(values, blank)], dtype=object)
    blank |= values == ""
    if required:
        for row in np.flatnonzero(blank):
            _add(problems, row, f"{name} is blank")
    return values


def _category(rows: pd.DataFrame, name: str, problems) -> np.ndarray:
    if name not in rows:
        _missing_column(rows, name, problems)
        return np.full(len(rows), "", dtype=object)
    return _text(rows, name, problems, required=False)


def _number(
    rows: pd.DataFrame, name: str, problems, *, required: bool, rows_needing: np.ndarray | None = None
) -> np.ndarray:
    """A numeric column as float64 (NaN for blanks); text that is no number is an error.

    A missing column is an error for every row (or for `rows_needing` only); a blank value is an
    error only when `required`. Infinite values are errors.
    """
    n = len(rows)
    if name not in rows:
        if rows_needing is None or rows_needing.any():
            _missing_column(rows, name, problems, rows_needing)
        return np.full(n, np.nan)
    column = rows[name]
    if pd.api.types.is_bool_dtype(column.dtype) and not required:
        values = column.to_numpy(dtype=float, na_value=np.nan, copy=True)
    elif pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan, copy=True)
    else:
        raw = column.to_numpy(dtype=object)
        values = np.full(n, np.nan)
        for row, value in enumerate(raw):
            parsed = _parse_number(value)
            if parsed is None:
                shown = repr(value) if not isinstance(value, str) else f"'{value[:40]}'"
                _add(problems, row, f"{name}: expected a number, got {shown}")
            else:
                values[row] = parsed
    infinite = np.isinf(values)
    for row in np.flatnonzero(infinite):
        _add(problems, row, f"{name} must be finite; got {values[row]}")
    values[infinite] = np.nan
    if required:
        for row in np.flatnonzero(np.isnan(values) & ~infinite):
            if not _already_reported(problems, row, name):
                _add(problems, row, f"{name} is blank")
    return values


def _parse_number(value) -> float | None:
    """A float from a number or numeric text; NaN for a blank; None when it is no number."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text == "":
            return np.nan
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _already_reported(problems, row: int, name: str) -> bool:
    return any(message.startswith(name) or message.endswith(f" {name}") for message in problems.get(int(row), []))


def _flag(rows: pd.DataFrame, name: str, problems) -> np.ndarray:
    """A yes/no column as 1.0 / 0.0 (NaN where blank); blanks and anything but
    true/false/1/0/yes/no are errors."""
    n = len(rows)
    if name not in rows:
        _missing_column(rows, name, problems)
        return np.full(n, np.nan)
    column = rows[name]
    if pd.api.types.is_bool_dtype(column.dtype) and not column.hasnans:
        return column.to_numpy(dtype=float)
    flags = np.full(n, np.nan)
    for row, value in enumerate(column.to_numpy(dtype=object)):
        if isinstance(value, (bool, np.bool_)):
            flags[row] = float(value)
        elif isinstance(value, (int, float, np.integer, np.floating)) and not pd.isna(value) and value in (0, 1):
            flags[row] = float(value)
        elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            flags[row] = float(value.strip().lower() in _TRUE)
        elif value is None or (not isinstance(value, str) and pd.isna(value)):
            _add(problems, row, f"{name} is blank")
        else:
            _add(problems, row, f"{name}: expected true or false, got {value!r}")
    return flags
