"""Tables for people: every number formatted by what it is, no index, nothing truncated.

`table(frame)` renders a DataFrame through a pandas Styler: money with thousands separators in
whole yuan, shares and rates as percentages, counts as integers, other numbers to 4 significant
digits and never in scientific notation, dates as dates, missing cells as a dash. A table longer
than `max_rows` is collapsed in a <details> element (its summary says how many rows); an empty one
becomes a sentence. The output is deterministic (a Styler id derived from the content) and
carries only CSS classes, styled once by the report's stylesheet (`reports/report.css`).

Column kinds are inferred from names and values (`column_kind`); `formats` overrides them per
column with a kind name or a callable.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "KINDS", "HTML", "column_kind", "count", "details", "fmt", "header", "money", "number", "percent", "pvalue",
    "styler", "table", "table_html", "text_block",
]

DASH = "—"

_MONEY = re.compile(r"(_cny$|_cny_|amount|limit|loss|capital|exposure|sales|bill)", re.I)
_PVALUE = re.compile(r"(p_?value|^p$|_p$|^p_|pvalue)", re.I)
_PERCENT = re.compile(r"(share|rate|ratio_pct|_pct$|^pd$|^pd_|_pd$|mean_pd|observed|missing|approval|coverage)", re.I)


def HTML(text: str):
    """An HTML fragment a notebook displays as is (IPython's HTML display object)."""
    from IPython.display import HTML as IPythonHTML

    return IPythonHTML(text)


# -- single values --------------------------------------------------------------------------
def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float | np.floating) and math.isnan(value))
    except TypeError:
        return False


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def number(value, digits: int = 4) -> str:
    """`digits` significant digits with thousands separators, never in e-notation; magnitudes
    below 0.0001 as a power of ten ("3.6 × 10⁻¹⁵")."""
    if _missing(value):
        return DASH
    v = float(value)
    if not math.isfinite(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    a = abs(v)
    if a < 1e-4:
        exponent = math.floor(math.log10(a))
        mantissa = a / 10 ** exponent
        if round(mantissa, 1) >= 10:
            mantissa, exponent = mantissa / 10, exponent + 1
        sign = "−" if v < 0 else ""
        return f"{sign}{mantissa:.1f} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    decimals = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{a:,.{decimals}f}"
    return ("−" if v < 0 else "") + text


def count(value) -> str:
    """A whole number with thousands separators."""
    if _missing(value):
        return DASH
    return f"{float(value):,.0f}".replace("-", "−")


def money(value) -> str:
    """Whole yuan with thousands separators."""
    return count(value)


def percent(value) -> str:
    """A share as a percentage: one decimal from 10 %, two below, "< 0.01 %" for tiny shares."""
    if _missing(value):
        return DASH
    v = float(value)
    if not math.isfinite(v):
        return DASH
    a = abs(v)
    if a == 0:
        return "0 %"
    if a < 1e-4:
        return "< 0.01 %"
    text = f"{100 * a:.1f} %" if a >= 0.1 else f"{100 * a:.2f} %"
    return ("−" if v < 0 else "") + text


def pvalue(value) -> str:
    """A p-value to 3 significant digits; "< 0.0001" below that."""
    if _missing(value):
        return DASH
    v = float(value)
    if v < 1e-4:
        return "< 0.0001"
    return number(v, 3)


def _text(value) -> str:
    if _missing(value):
        return DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _date(value) -> str:
    if _missing(value):
        return DASH
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d")


def _month(value) -> str:
    return DASH if _missing(value) else pd.Timestamp(value).strftime("%Y-%m")


KINDS: dict[str, Callable[[object], str]] = {
    "money": money, "count": count, "percent": percent, "pvalue": pvalue, "number": number,
    "number3": lambda v: number(v, 3), "text": _text, "bool": _text, "date": _date, "month": _month,
    "signed": lambda v: DASH if _missing(v) else ("+" if float(v) > 0 else "") + number(v, 3),
}


def fmt(value, kind: str = "number") -> str:
    """One value formatted as `kind` (a key of KINDS)."""
    return KINDS[kind](value)


# -- columns --------------------------------------------------------------------------------
def column_kind(name: str, values: pd.Series) -> str:
    """How a column reads best, from its name and values: money, count, percent, pvalue, number,
    date, month, bool or text."""
    name = str(name)
    series = values
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series.dropna()
        return "month" if len(stamps) and (stamps.dt.day == 1).all() and name.lower() in ("month", "period") else "date"
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        numeric = pd.to_numeric(series, errors="coerce")
        given = series.notna() & series.map(lambda v: not isinstance(v, str | bool))
        if given.any() and numeric[given].notna().all() and not series[series.notna()].map(
                lambda v: isinstance(v, str)).any():
            series = numeric
        else:
            return "text"
    if not pd.api.types.is_numeric_dtype(series):
        return "text"
    finite = pd.to_numeric(series, errors="coerce").dropna()
    finite = finite[np.isfinite(finite.astype(float))]
    integral = len(finite) > 0 and bool((finite.astype(float) % 1 == 0).all())
    if _PVALUE.search(name):
        return "pvalue"
    if _MONEY.search(name):
        return "money"
    if _PERCENT.search(name) and (not len(finite) or finite.abs().max() <= 1.5):
        return "percent"
    if pd.api.types.is_integer_dtype(series) or integral:
        return "count"
    return "number"


def _numeric_kind(kind) -> bool:
    return kind in ("money", "count", "percent", "pvalue", "number", "number3", "signed")


# -- tables ---------------------------------------------------------------------------------
def table(
    frame: pd.DataFrame,
    caption: str | None = None,
    formats: Mapping[str, str | Callable] | None = None,
    classes: pd.DataFrame | None = None,
    max_rows: int = 25,
    collapsed: bool | None = None,
    empty: str | None = None,
    note: str | None = None,
    labels: Mapping[str, str] | None = None,
):
    """A DataFrame as a formatted HTML table (an IPython HTML object).

    Parameters
    ----------
    frame : the rows; a named or non-default index becomes ordinary columns.
    caption : shown above the table (and in the collapsed summary).
    formats : column -> kind (see KINDS) or a callable value -> str, overriding the inferred kind.
    classes : a frame of the same shape with CSS classes per cell (e.g. "light-red gating").
    max_rows : longer tables are collapsed in <details>.
    collapsed : force (True) or prevent (False) collapsing; by length when None.
    empty : the sentence shown instead of an empty table (default: "<caption>: none.").
    note : a sentence under the table.
    labels : column -> header text (by default underscores become spaces).
    """
    return HTML(table_html(frame, caption, formats, classes, max_rows, collapsed, empty, note, labels))


def table_html(frame, caption=None, formats=None, classes=None, max_rows=25, collapsed=None, empty=None,
               note=None, labels=None) -> str:
    """The HTML text of `table`."""
    frame = _flat(frame)
    head = f"<h4 class=\"cm-caption\">{html.escape(caption)}</h4>" if caption else ""
    if frame.empty:
        sentence = empty or (f"{caption}: none." if caption else "No rows.")
        return f"<p class=\"cm-empty\">{html.escape(sentence)}</p>"
    body = styler(frame, formats, classes, labels, caption).to_html().replace('<style type="text/css">\n</style>\n', "")
    tail = f"<p class=\"cm-note\">{html.escape(note)}</p>" if note else ""
    fold = len(frame) > max_rows if collapsed is None else collapsed
    if fold:
        what = html.escape(caption or "Table")
        rows = f"{len(frame):,} row" + ("s" if len(frame) != 1 else "")
        return (f"<details class=\"cm-details\"><summary>{what} — {rows} (show)</summary>"
                f"{body}{tail}</details>")
    return f"{head}{body}{tail}"


def styler(frame: pd.DataFrame, formats=None, classes: pd.DataFrame | None = None, labels=None, salt: str | None = None):
    """The pandas Styler behind `table`: formatted cells, CSS classes, no index, a stable id."""
    from pandas.io.formats.style import Styler

    frame = _flat(frame)
    formats = dict(formats or {})
    kinds = {c: formats.get(c) or column_kind(c, frame[c]) for c in frame.columns}
    numeric = {c: not callable(k) and _numeric_kind(k) for c, k in kinds.items()}
    cell_classes = pd.DataFrame([["num" if numeric[c] else "" for c in frame.columns]] * len(frame),
                                index=frame.index, columns=frame.columns)
    if classes is not None:
        extra = _flat(classes).reindex(index=frame.index, columns=frame.columns).fillna("").astype(str)
        cell_classes = cell_classes.where(extra == "", cell_classes + " " + extra)
    shown = frame.rename(columns=lambda c: (labels or {}).get(c, header(c)))
    cell_classes.columns = shown.columns
    formatters = {shown.columns[i]: _escaped(kinds[c]) for i, c in enumerate(frame.columns)}
    uuid = hashlib.sha256((str(salt) + frame.to_csv()).encode()).hexdigest()[:10]
    out = Styler(shown, uuid=uuid, cell_ids=False).format(formatters).hide(axis="index")
    return out.set_td_classes(cell_classes.map(str.strip)).set_table_attributes('class="cm-table"')


def header(column: str) -> str:
    """A column name as a header: underscores as spaces, a _cny suffix as "(CNY)"."""
    text = re.sub(r"_cny$", " (CNY)", str(column))
    return text.replace("_", " ")


def _escaped(kind) -> Callable[[object], str]:
    """The formatter of a kind, its text HTML-escaped; kind "html" passes markup through."""
    if kind == "html":
        return lambda v: "" if _missing(v) else str(v)
    func = kind if callable(kind) else KINDS[kind]
    return lambda v: html.escape(func(v))


def details(summary: str, content_html: str, open_: bool = False) -> str:
    """A collapsible block: `summary` (text) over `content_html`."""
    state = " open" if open_ else ""
    return f"<details class=\"cm-details\"{state}><summary>{html.escape(summary)}</summary>{content_html}</details>"


def text_block(lines, title: str | None = None):
    """Sentences as an HTML list (an IPython HTML object); HTML in the lines is kept."""
    items = "".join(f"<li>{line}</li>" for line in lines)
    head = f"<h4 class=\"cm-caption\">{html.escape(title)}</h4>" if title else ""
    return HTML(f"{head}<ul class=\"cm-list\">{items}</ul>")


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with a meaningful index turned into columns and a plain RangeIndex."""
    frame = frame.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(str(p) for p in c if str(p)) for c in frame.columns]
    frame.columns = [str(c) for c in frame.columns]
    named = any(n is not None for n in frame.index.names)
    if named or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(names=[n or "" for n in frame.index.names] if named else None)
        if not named:
            frame = frame.rename(columns={"index": ""})
    return frame.reset_index(drop=True)
