"""The feature catalog of the synthetic world, kept as data in `catalog.yaml` and validated on load.

This is the one place where the world's features are described; `catalog.yaml` explains its window
templates. Stage 01 writes the expanded list to `catalog.json` and `data_dictionary.csv`; later
stages read that file back (`creditmine.artifacts.read_catalog`) and never this module, so a
bring-your-own data set, whose catalog is derived from its columns, flows through the same code.
The SQL definitions (`creditmine.features.definitions`) and the pandas reference
(`creditmine.features.reference`) compute exactly the columns named here (a test holds them to it).

Reason templates (`reason_en`, `reason_zh`) are statements about a declined applicant, written to
read right when the feature pushes risk up; `{value}` is the applicant's feature value.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from creditmine.artifacts import FEATURE_KEY_COLUMNS, FeatureSpec, catalog_frame
from creditmine.data import world

__all__ = [
    "CATALOG", "FeatureSpec", "KEY_COLUMNS", "SOURCES", "STATUTORY_VAT_RATES", "catalog_frame",
    "missing_indicator", "synthetic_catalog",
]

KEY_COLUMNS = FEATURE_KEY_COLUMNS

# Sources with an explicit "missing" indicator, in the order the catalog lists them.
SOURCES = ("tax", "tax_rating", "invoices", "electricity", "customs", "procurement")

# Statutory VAT rate (share of sales) by GB/T 4754 section, read from the world's definition:
# 13 % goods (C, F), 9 % agriculture, construction, transport (A, E, G), 6 % services (H, I, L, M).
# The SQL definitions and the pandas reference both divide the VAT burden by it.
STATUTORY_VAT_RATES: dict[str, float] = {ind.section: ind.vat_rate for ind in world.INDUSTRIES}

_CATALOG_FILE = "catalog.yaml"
_WINDOW_TOKENS = ("k", "2k", "annual", "shortest")


class _Entry(BaseModel):
    """One entry of catalog.yaml: a feature, a window template, or a source's missing indicator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    missing: str | None = Field(None, description="a source whose 0/1 missing indicator this is")
    what_en: str = ""
    what_zh: str = ""
    windows: Literal["all", "growth"] | None = None
    when: Literal["shortest_below_annual"] | None = None
    source: str | None = None
    window: int | Literal["k", "2k", "annual", "shortest"] = 0
    unit: str | None = None
    risk: Literal[-1, 0, 1] | None = None
    group: str | None = None
    kind: Literal["numeric", "categorical"] = "numeric"
    en: str | None = None
    zh: str | None = None
    reason_en: str | None = None
    reason_zh: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> "_Entry":
        if self.missing is not None:
            if self.name is not None or not self.what_en or not self.what_zh:
                raise ValueError(f"missing indicator '{self.missing}' needs what_en and what_zh and no name")
            return self
        lacking = [k for k in ("name", "source", "unit", "risk", "group", "en", "zh", "reason_en", "reason_zh")
                   if getattr(self, k) is None]
        if lacking:
            raise ValueError(f"feature '{self.name or '?'}' lacks {', '.join(lacking)}")
        if self.windows is None and any(f"{{{t}}}" in (self.name or "") for t in ("k", "2k")):
            raise ValueError(f"feature '{self.name}' names {{k}} but has no windows: all | growth")
        return self


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    features: tuple[_Entry, ...]


def synthetic_catalog(windows_months: tuple[int, ...] = (3, 6, 12)) -> list[FeatureSpec]:
    """The catalog of the government-data world for the given look-back windows.

    Parameters
    ----------
    windows_months : look-back windows in months; the longest is the "annual" window (12 by
        default) used by ratios, concentration and the exposure measures.
    """
    windows = _check_windows(windows_months)
    specs = [spec for entry in _entries() for spec in _expand(entry, windows)]
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"feature catalog: duplicated names {duplicated}")
    return specs


def missing_indicator(source: str) -> str:
    """Name of the 0/1 feature that flags an application with no record of `source`."""
    return f"{source}_missing"


@functools.cache
def _entries() -> tuple[_Entry, ...]:
    text = Path(__file__).with_name(_CATALOG_FILE).read_text(encoding="utf-8")
    try:
        return _CatalogFile.model_validate(yaml.safe_load(text)).features
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"creditmine/features/{_CATALOG_FILE}: {where}: {first['msg']}") from None


def _expand(entry: _Entry, windows: tuple[int, ...]) -> list[FeatureSpec]:
    annual, shortest = windows[-1], windows[0]
    if entry.when == "shortest_below_annual" and not shortest < annual:
        return []
    if entry.missing is not None:
        values = {"annual": annual, "shortest": shortest}
        what_en, what_zh = _fill(entry.what_en, values), _fill(entry.what_zh, values)
        return [FeatureSpec(
            missing_indicator(entry.missing), entry.missing, 0, "flag",
            f"1 when there is no {what_en} record before the application, else 0",
            f"申请前无{what_zh}记录为1，否则为0", 1, "thin_file", "numeric",
            f"No {what_en} record before the application", f"申请前无{what_zh}记录",
        )]
    if entry.windows == "all":
        ks: tuple[int | None, ...] = windows
    elif entry.windows == "growth":
        ks = tuple(k for k in windows if 2 * k <= annual)
    else:
        ks = (None,)
    specs = []
    for k in ks:
        values = {"annual": annual, "shortest": shortest}
        if k is not None:
            values.update({"k": k, "2k": 2 * k})
        window = entry.window if isinstance(entry.window, int) else values[entry.window]
        specs.append(FeatureSpec(
            _fill(entry.name, values), entry.source, int(window), entry.unit, _fill(entry.en, values),
            _fill(entry.zh, values), entry.risk, entry.group, entry.kind,
            _fill(entry.reason_en, values), _fill(entry.reason_zh, values),
        ))
    return specs


def _fill(text: str, values: dict[str, int]) -> str:
    """Replace the window tokens ({k}, {2k}, {annual}, {shortest}); `{value...}` stays."""
    for token in _WINDOW_TOKENS:
        if token in values:
            text = text.replace(f"{{{token}}}", str(values[token]))
    return text


def _check_windows(windows_months) -> tuple[int, ...]:
    windows = tuple(sorted(set(int(w) for w in windows_months)))
    if not windows or windows[0] <= 0:
        raise ValueError(f"features.windows_months must be positive month counts, got {windows_months!r}")
    return windows


CATALOG: list[FeatureSpec] = synthetic_catalog()
