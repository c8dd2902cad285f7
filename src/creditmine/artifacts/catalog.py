"""The record of one feature (`FeatureSpec`) and the catalog file stage 01 writes and later stages read.

Later stages learn the features only from this file, never from the synthetic world's catalog, so a
bring-your-own data set (whose catalog stage 01 derives from its columns) flows through unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import pandas as pd

__all__ = ["FeatureSpec", "catalog_frame", "read_catalog_file", "write_catalog_file"]


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of the feature table.

    Attributes
    ----------
    name : column name in features.parquet.
    source : raw table family it comes from (tax, tax_rating, invoices, electricity, customs,
        procurement, enterprise, application, or "tabular").
    window_months : look-back window in months; 0 when the feature has none (static or all history).
    unit : "CNY" (yuan), "ratio", "share", "count", "months", "days", "years", "flag", "category", ...
    description_en, description_zh : what the value means, in English and Chinese.
    risk_direction : +1 a higher value is riskier, -1 a higher value is safer, 0 unknown / not monotone.
    reason_group : features measuring one signal (e.g. every sales-growth window) share a group,
        so that an explanation does not list the same reason twice.
    kind : "numeric" (float64, NaN when missing) or "categorical" (string, null when missing).
    reason_en, reason_zh : reason statement templates with `{value}`, for a declined applicant.
    """

    name: str
    source: str
    window_months: int
    unit: str
    description_en: str
    description_zh: str
    risk_direction: Literal[-1, 0, 1]
    reason_group: str
    kind: Literal["numeric", "categorical"]
    reason_en: str
    reason_zh: str

    def __post_init__(self) -> None:
        if self.risk_direction not in (-1, 0, 1):
            raise ValueError(f"feature '{self.name}': risk_direction must be -1, 0 or 1, got {self.risk_direction!r}")
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"feature '{self.name}': kind must be 'numeric' or 'categorical', got {self.kind!r}")


def write_catalog_file(specs: list[FeatureSpec], path: str | os.PathLike) -> Path:
    """Write the catalog as JSON (a list of objects, one per feature); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in specs], ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_catalog_file(path: str | os.PathLike) -> list[FeatureSpec]:
    """Read a catalog written by `write_catalog_file`.

    Raises
    ------
    ValueError : naming the file and the entry when an entry lacks a field or has a bad value.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the feature catalog ({exc})") from None
    expected = {f.name for f in fields(FeatureSpec)}
    specs = []
    for i, entry in enumerate(raw):
        missing = expected - set(entry)
        if missing:
            raise ValueError(f"{path}: entry {i} ({entry.get('name', '?')}) lacks {sorted(missing)}")
        try:
            specs.append(FeatureSpec(**{k: entry[k] for k in expected}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: entry {i}: {exc}") from None
    return specs


def catalog_frame(specs: list[FeatureSpec]) -> pd.DataFrame:
    """The catalog as a DataFrame, one row per feature (the data dictionary)."""
    return pd.DataFrame([asdict(s) for s in specs], columns=[f.name for f in fields(FeatureSpec)])
