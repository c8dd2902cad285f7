"""The outcomes file of `creditmine monitor --outcomes FILE`: the booked loans and their defaults.

One row per booked loan (CSV, UTF-8, ISO dates; or Parquet): `application_id` (as decided by the
version), `booked_on` (the loan's start) and `defaulted_on` (blank while the loan performs). Each
value is read strictly, and a row that breaks a rule is rejected with its source row and reason,
never dropped silently or repaired: a blank or unknown application id (not decided by this
version), a date that is not YYYY-MM-DD, a booking after the as-of date, a default before the
booking, an application id given twice (every row of it). A default dated after the as-of date is
not known yet on that date: the loan counts as performing (`censored`). The counts reconcile:
read = accepted + rejected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["OUTCOME_COLUMNS", "Outcomes", "OutcomesError", "read_outcomes"]

OUTCOME_COLUMNS = ("application_id", "booked_on", "defaulted_on")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class OutcomesError(ValueError):
    """The outcomes file cannot be used at all (missing, unreadable, a column missing); one line."""


@dataclass
class Outcomes:
    """The outcomes as read.

    loans : accepted rows: application_id, booked_on, defaulted_on (NaT: no default known by as_of),
        row (the source row, 1-based, the header being row 1 of a CSV).
    rejected : rejected rows as given (text), with row and reason.
    read : rows read; read == len(loans) + len(rejected).
    censored : accepted loans whose default is dated after the as-of date (not known yet).
    path : the file.
    """

    loans: pd.DataFrame
    rejected: pd.DataFrame
    read: int
    censored: int = 0
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.read} rows read from {self.path}: {len(self.loans)} loans accepted "
                f"({self.censored} with a default after the as-of date, not yet known), {len(self.rejected)} rejected")


def read_outcomes(path: str | os.PathLike, as_of: date, decided_ids) -> Outcomes:
    """Read and check an outcomes file against the decisions of the monitored version.

    Parameters
    ----------
    path : .csv or .parquet.
    as_of : the monitoring date.
    decided_ids : application ids the version decided up to `as_of`.

    Raises
    ------
    OutcomesError : naming the file (and the column) when it is missing, unreadable, of another
        type or lacks a required column.
    """
    path = Path(path)
    raw = _read(path)
    missing = [c for c in ("application_id", "booked_on") if c not in raw.columns]
    if missing:
        raise OutcomesError(f"{path}: missing column {', '.join(missing)}; an outcomes file has "
                            f"{', '.join(OUTCOME_COLUMNS)} (defaulted_on blank while the loan performs)")
    if "defaulted_on" not in raw.columns:
        raw["defaulted_on"] = ""
    text = raw[list(OUTCOME_COLUMNS)].astype(str).apply(lambda c: c.str.strip())
    first_row = 2 if path.suffix.lower() == ".csv" else 1
    rows = np.arange(len(text)) + first_row
    reasons: list[list[str]] = [[] for _ in range(len(text))]

    ids = text["application_id"].to_numpy()
    booked = _dates(text["booked_on"], "booked_on", path, rows, reasons, required=True)
    defaulted = _dates(text["defaulted_on"], "defaulted_on", path, rows, reasons, required=False)
    as_of_ts = pd.Timestamp(as_of)
    known = set(map(str, decided_ids))
    for i, value in enumerate(ids):
        where = f"{path}, row {rows[i]}"
        if value == "":
            reasons[i].append(f"{where}, column application_id: blank")
        elif value not in known:
            reasons[i].append(f"{where}, column application_id: {value!r} was not decided by this version by {as_of}")
        if pd.notna(booked[i]) and booked[i] > as_of_ts:
            reasons[i].append(f"{where}, column booked_on: {booked[i]:%Y-%m-%d} is after the as-of date {as_of}")
        if pd.notna(booked[i]) and pd.notna(defaulted[i]) and defaulted[i] < booked[i]:
            reasons[i].append(f"{where}, column defaulted_on: {defaulted[i]:%Y-%m-%d} is before booked_on "
                              f"{booked[i]:%Y-%m-%d}")
    counts = pd.Series(ids).value_counts()
    for value in counts.index[(counts > 1).to_numpy() & (counts.index != "")]:
        at = np.flatnonzero(ids == value)
        for i in at:
            reasons[i].append(f"{path}, row {rows[i]}, column application_id: {value!r} appears {len(at)} times "
                              f"(rows {', '.join(map(str, rows[at]))})")
    bad = np.array([bool(r) for r in reasons], dtype=bool)
    rejected = text[bad].assign(row=rows[bad], reason=["; ".join(r) for r, b in zip(reasons, bad) if b])
    later = pd.Series(defaulted).notna().to_numpy() & (pd.Series(defaulted) > as_of_ts).to_numpy() & ~bad
    loans = pd.DataFrame({
        "application_id": ids[~bad],
        "booked_on": pd.to_datetime(pd.Series(booked)[~bad].to_numpy()),
        "defaulted_on": pd.to_datetime(pd.Series(defaulted).where(~later)[~bad].to_numpy()),
        "row": rows[~bad],
    })
    outcomes = Outcomes(loans.reset_index(drop=True), rejected.reset_index(drop=True), len(text),
                        int(later.sum()), path)
    assert outcomes.read == len(outcomes.loans) + len(outcomes.rejected)
    return outcomes


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise OutcomesError(f"{path}: outcomes file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            for column in frame.columns:
                if pd.api.types.is_datetime64_any_dtype(frame[column]):
                    frame[column] = frame[column].dt.strftime("%Y-%m-%d")
            return frame.astype(object).where(frame.notna(), "").astype(str)
    except Exception as exc:  # noqa: BLE001 - parsers raise many types; name the file and why
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutcomesError(f"{path}: cannot read the outcomes ({first})") from None
    raise OutcomesError(f"{path}: outcomes must be .csv or .parquet; got '{path.suffix}'")


def _dates(values: pd.Series, column: str, path: Path, rows: np.ndarray, reasons, required: bool) -> np.ndarray:
    iso = values.str.match(_ISO)
    parsed = pd.to_datetime(values.where(iso), format="%Y-%m-%d", errors="coerce")
    blank = (values == "").to_numpy()
    for i in np.flatnonzero(blank if required else np.zeros(len(values), dtype=bool)):
        reasons[i].append(f"{path}, row {rows[i]}, column {column}: blank")
    for i in np.flatnonzero(~blank & parsed.isna().to_numpy()):
        reasons[i].append(f"{path}, row {rows[i]}, column {column}: {values.iloc[i]!r} is not a date (YYYY-MM-DD)")
    return parsed.to_numpy(dtype=object)
