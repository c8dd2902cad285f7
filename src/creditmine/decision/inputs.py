"""Validation of application rows before a decision: every bad row gets its own error, none crashes.

A row is *valid* when it names its application (once in the input), a product the model covers, a
positive requested amount, a whole positive term, the enterprise's specialized-innovative flag,
plain numbers (or blanks) for every model feature (never "1,234" or "12,5", whose meaning depends
on a locale), a non-negative (or blank) limit base and no value below `LOWER_BOUNDS`. Anything else
gives the row an error naming the field and the value that arrived; the decision model refers such
rows with it instead of scoring them, so nothing is silently defaulted or reinterpreted. An
enterprise with no data at all (no data source with a record: each source's `<source>_missing`
indicator set, or all its features blank) is referred too: a PD from nothing is no PD.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from creditmine.config import PolicyParams
from creditmine.decision.columns import _add, _as_text, _flag, _floats, _number, _Source, _text
from creditmine.decision.policy import BASE_COLUMNS, limit_base_columns
from creditmine.decision.rows import ParsedRows

#: Application fields the decision needs besides the model's features and the limit bases.
APPLICATION_FIELDS = ("application_id", "product", "requested_amount_cny", "term_months", "specialized_innovative")
#: Smallest allowed value of columns that cannot be negative by nature (the enterprise's counts and
#: money), wherever validation reads them (features, fields); one dict until the catalog has bounds.
LOWER_BOUNDS: dict[str, float] = {"employees": 0.0, "registered_capital_cny": 0.0}


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

    @functools.cached_property
    def plain_numeric_features(self) -> tuple[str, ...]:
        """Numeric features that are no application field or limit base (read by `_number` alone)."""
        checked = {*APPLICATION_FIELDS, *limit_base_columns(self.policy)}
        return tuple(n for n in self.feature_names if n not in checked and n not in self.categorical_features)

    @functools.cached_property
    def source_groups(self) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
        """Per data source of the enterprise (not "application"): its `<source>_missing` indicator
        when the model reads it as a number (else None), and its other features (see `_no_data`)."""
        by_source: dict[str, list[str]] = {}
        for name in self.feature_names:
            source = self.feature_sources.get(name, "unknown")
            if source != "application":
                by_source.setdefault(source, []).append(name)
        groups = []
        for source, names in by_source.items():
            indicator = f"{source}_missing"
            if indicator in names and indicator not in self.categorical_features:
                groups.append((indicator, tuple(n for n in names if n != indicator)))
            else:
                groups.append((None, tuple(names)))
        return tuple(groups)


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
        the limit-base columns of the row's product (see `creditmine.decision.policy.BASE_COLUMNS`);
        a DataFrame, or the same rows as parsed JSON (`creditmine.decision.rows.ParsedRows`).
    spec : what the model needs.

    Returns
    -------
    ValidatedBatch
    """
    if not isinstance(rows, (pd.DataFrame, ParsedRows)):
        raise TypeError(f"application rows must be a pandas DataFrame; got {type(rows).__name__}")
    n = len(rows)
    source = _Source(rows)
    problems: dict[int, list[str]] = {}
    typed: dict[str, np.ndarray] = {}

    typed["application_id"] = _text(source, "application_id", problems, required=True)
    repeated = duplicate_ids(typed["application_id"])
    for row in np.flatnonzero(repeated != ""):
        _add(problems, row, repeated[row])
    typed["product"] = _text(source, "product", problems, required=True)
    if spec.application_products:
        known = np.isin(typed["product"], spec.application_products) | (typed["product"] == "")
        for row in np.flatnonzero(~known):
            _add(problems, row, f"unknown product '{typed['product'][row]}' (this model decides "
                                f"{', '.join(spec.application_products)})")

    amount = _number(source, "requested_amount_cny", problems, required=True)
    for row in np.flatnonzero(amount <= 0):
        _add(problems, row, f"requested_amount_cny must be positive; got {amount[row]:g}")
    typed["requested_amount_cny"] = amount

    term = _number(source, "term_months", problems, required=True)
    bad_term = (term < 1) | (np.floor(term) != term)
    for row in np.flatnonzero(bad_term & ~np.isnan(term)):
        _add(problems, row, f"term_months must be a whole number of months >= 1; got {term[row]:g}")
    typed["term_months"] = term

    typed["specialized_innovative"] = _flag(source, "specialized_innovative", problems)

    for column in limit_base_columns(spec.policy):
        if column in typed:
            continue
        needed = _rows_needing_base(typed["product"], column, spec.policy)
        base = _number(source, column, problems, required=False, rows_needing=needed)
        for row in np.flatnonzero((base < 0) & needed):
            _add(problems, row, f"{column} must not be negative; got {base[row]:g}")
        typed[column] = base

    blank: dict[str, np.ndarray] = {}
    numbers = _numeric_block(source, spec)
    for name in spec.feature_names:
        if name in typed:  # an application field or limit base the model also reads: checked above
            values = typed[name]
            blank[name] = values == "" if values.dtype == object else np.isnan(values)
        elif name in spec.categorical_features:
            values = _text(source, name, problems, required=False, must_exist=True)
            blank[name] = values == ""
            typed[name] = np.where(values == "", None, values)
        elif name in numbers.position:
            j = numbers.position[name]
            for row, value in numbers.infinite.get(name, ()):
                _add(problems, row, f"{name} must be finite; got {value}")
            typed[name], blank[name] = numbers.values[:, j], numbers.blank[:, j]
        else:
            values = _number(source, name, problems, required=False)
            blank[name] = np.isnan(values)
            typed[name] = values
    for column, bound in LOWER_BOUNDS.items():
        values = typed.get(column)
        if values is not None and values.dtype != object:
            below = "negative" if bound == 0 else f"below {bound:g}"
            for row in np.flatnonzero(values < bound):
                _add(problems, row, f"{column} must not be {below}; got {values[row]:g}")
    for row in np.flatnonzero(_no_data(typed, blank, spec, n)):
        _add(problems, row, "no data on the enterprise: no government data source has a record")

    errors = np.full(n, "", dtype=object)
    for row, messages in problems.items():
        errors[row] = "; ".join(messages)
    index = rows.index if isinstance(rows, pd.DataFrame) else pd.RangeIndex(n)
    return ValidatedBatch(columns=typed, errors=errors, index=index)


def duplicate_ids(ids) -> np.ndarray:
    """Per row, "" or why it is refused: its application_id appears more than once in `ids` (one
    whole input, in row order; rows are numbered from 1, as in the input file; blanks never repeat)."""
    text = ["" if v is None or v is pd.NA or isinstance(v, float) and np.isnan(v) else _as_text(v) for v in ids]
    errors = np.full(len(text), "", dtype=object)
    if len(set(text)) == len(text):          # the usual case, and one row: no pandas (latency)
        return errors
    text = pd.Series(text, dtype=object)
    repeated = (text.duplicated(keep=False) & (text != "")).to_numpy()
    for value, at in text[repeated].groupby(text[repeated], sort=False).groups.items():
        rows = np.asarray(at) + 1
        listed = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10:,} more" if len(rows) > 10 else "")
        errors[rows - 1] = f"application_id {value} appears {len(rows)} times in the input (rows {listed})"
    return errors


def _no_data(typed: dict, blank: dict[str, np.ndarray], spec: InputSpec, n: int) -> np.ndarray:
    """Rows where no data source of the enterprise has a record.

    A source has a record when its `<source>_missing` indicator is 0, or, without an indicator
    among the model's features, when any of its features is not blank. Application fields
    (product, amount, term) say nothing about the enterprise.
    """
    groups = spec.source_groups
    if not groups:
        return np.zeros(n, dtype=bool)
    has_record = np.zeros(n, dtype=bool)
    for indicator, names in groups:
        any_value = _any_value(blank, names, n)
        if indicator is None:
            has_record |= any_value
        else:
            # the indicator decides; only where it is blank do the source's values
            flag = typed[indicator]
            has_record |= np.where(np.isnan(flag), any_value, flag == 0)
    return ~has_record


def _any_value(blank: dict[str, np.ndarray], names: list[str], n: int) -> np.ndarray:
    """Rows with a value in any of the columns `names` (one numpy call, not one per column)."""
    if not names:
        return np.zeros(n, dtype=bool)
    return ~np.array([blank[name] for name in names]).all(axis=0)


@dataclass(frozen=True)
class _NumericBlock:
    """The numeric features of a few rows read as one float matrix (`_numeric_block`)."""

    position: dict[str, int]
    values: np.ndarray
    blank: np.ndarray
    infinite: dict[str, list[tuple[int, float]]]


_NO_BLOCK = _NumericBlock({}, np.empty((0, 0)), np.empty((0, 0), dtype=bool), {})


def _numeric_block(source: _Source, spec: InputSpec) -> _NumericBlock:
    """The model's numeric features that arrive as numbers, for a few rows, in one go.

    What `_number` does column by column (infinite values are errors and become blanks), with one
    numpy call for all of them instead of several per column: for one application, a hundred
    columns of one value each cost more in numpy calls than the rest of the decision. Columns of
    blanks only are read as blanks, as `_number` reads them. Many rows, and columns of another
    kind (text that may hold numbers), go through `_number`.
    """
    if source.matrix is None:
        return _NO_BLOCK
    kinds, position, matrix = source.kinds, source.position, source.matrix
    names = [name for name in spec.plain_numeric_features if name in position
             and (kinds[name] == "float" or kinds[name] == "other" and _all_blank(matrix[:, position[name]]))]
    if not names:
        return _NO_BLOCK
    values = _floats(matrix[:, [position[name] for name in names]])
    infinite = np.isinf(values)
    found: dict[str, list[tuple[int, float]]] = {}
    if infinite.any():
        for row, j in zip(*np.nonzero(infinite)):
            found.setdefault(names[j], []).append((int(row), values[row, j]))
        for entries in found.values():
            entries.sort()
        values[infinite] = np.nan
    return _NumericBlock({name: j for j, name in enumerate(names)}, values, np.isnan(values), found)


def _all_blank(values: np.ndarray) -> bool:
    return all(v is None or v is pd.NA or type(v) is float and math.isnan(v) for v in values)


def _rows_needing_base(products: np.ndarray, column: str, policy: PolicyParams) -> np.ndarray:
    """Rows whose product's limit rule reads `column`."""
    default_reads = BASE_COLUMNS[policy.default_limit_rule.base] == column
    needed = np.full(len(products), default_reads, dtype=bool)
    for product, rule in policy.limit_rules.items():
        needed[products == product] = BASE_COLUMNS[rule.base] == column
    return needed
