"""Pandera schemas of the raw tables, and the rules that span tables.

`table_schema(name, as_of)` checks one table: types, ranges, allowed values, keys, the sign of
red-letter invoices and that no record is dated after the end of the data window `as_of`.
`cross_table_failures(tables)` checks that every foreign key resolves and that no application
predates its enterprise's registration. `validate_tables` runs both and returns every failure as a
row: (table, row, column, rule).
"""

from __future__ import annotations

import os
from datetime import date

import numpy as np
import pandas as pd

from creditmine.data import io, uscc, world

# GB/T 4754-2017: sections and the two-digit divisions in each
GBT4754_DIVISIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 96), "T": (97, 97),
}
DISTRICT_NAMES = tuple(d[0] for d in world.DISTRICTS)
RATINGS = world.RATINGS
PRODUCTS = world.PRODUCTS
INVOICE_STATUSES = ("normal", "void", "red-letter")
AWARD_CATEGORIES = ("goods", "services", "works")
AWARD_STATUSES = ("active", "completed", "terminated")

KEYS: dict[str, tuple[str, ...]] = {
    "enterprises": ("enterprise_id",),
    "tax_filings": ("enterprise_id", "period"),
    "tax_credit_ratings": ("enterprise_id", "year"),
    "invoices": ("invoice_id",),
    "electricity": ("enterprise_id", "period"),
    "customs": ("declaration_id",),
    "procurement_awards": ("award_id",),
    "applications": ("application_id",),
    "ground_truth": ("application_id",),
}
"""The primary key of each table."""

NULLABLE: dict[str, tuple[str, ...]] = {"applications": ("award_id", "default_12m")}
"""Columns that may be empty; every other column is required."""

FAILURE_COLUMNS = ["table", "row", "column", "rule"]


def table_schema(name: str, as_of: date | None = None, keys: bool = True):
    """The pandera DataFrameSchema of one raw table.

    Parameters
    ----------
    name : a table of the data model.
    as_of : end of the data window; records whose knowledge date (`io.KNOWN_AT`) is later fail.
        No such rule when None.
    keys : check that the key (`KEYS[name]`) is unique. Ingestion checks keys itself
        (`creditmine.data.duplicates`: identical copies are removed, conflicts explained).

    Returns
    -------
    pandera.pandas.DataFrameSchema, validating a DataFrame with the dtypes of `io.read_table`.
    """
    pa = _pandera()
    if name not in io.ARROW_SCHEMAS:
        raise ValueError(f"unknown table '{name}'; the data model has {', '.join(io.ARROW_SCHEMAS)}")
    nullable = set(NULLABLE.get(name, ()))
    key = KEYS[name]
    columns = {}
    for field in io.ARROW_SCHEMAS[name]:
        checks = list(_column_checks(name, field.name, as_of))
        columns[field.name] = pa.Column(
            _pandas_dtype(field.type), checks=checks, nullable=field.name in nullable,
            coerce=False, required=True, unique=keys and len(key) == 1 and field.name == key[0],
        )
    return pa.DataFrameSchema(
        columns,
        checks=list(_table_checks(name)),
        unique=list(key) if keys and len(key) > 1 else None,
        report_duplicates="all",
        strict=True,
        ordered=False,
        name=name,
    )


def validate_table(df: pd.DataFrame, name: str, as_of: date | None = None, keys: bool = True) -> pd.DataFrame:
    """Every rule a table breaks, one row per (row, column, rule); empty when the table is valid.

    `as_of` and `keys` are those of `table_schema`.

    Returns
    -------
    DataFrame with columns table, row (the DataFrame's index label; -1 for a whole-column
    problem), column, rule.
    """
    schema = table_schema(name, as_of, keys)
    import pandera.errors as pe

    try:
        schema.validate(df, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        rows = cases["index"].astype("float64").fillna(-1).astype(np.int64)
        return pd.DataFrame({
            "table": name,
            "row": rows.to_numpy(),
            "column": cases["column"].astype(object).where(cases["column"].notna(), "").to_numpy(),
            "rule": [_describe(c, col) for c, col in zip(cases["check"], cases["column"])],
        }).drop_duplicates(ignore_index=True)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})


def cross_table_failures(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Foreign keys that do not resolve (enterprise_id in every table, award_id in applications),
    and applications dated before their enterprise's registration (`applied_at < registered_at`).

    Parameters
    ----------
    tables : name -> DataFrame of the tables present (children without their parent are checked
        against an empty parent).
    """
    failures = []
    enterprises = tables.get("enterprises")
    known = set(enterprises["enterprise_id"].dropna()) if enterprises is not None else set()
    for name, df in tables.items():
        if name in ("enterprises", "ground_truth") or "enterprise_id" not in df:
            continue
        dangling = ~df["enterprise_id"].isin(known) & df["enterprise_id"].notna()
        failures.append(_failures(name, df.index[dangling], "enterprise_id",
                                  "foreign key: enterprise_id not found in enterprises"))
    apps = tables.get("applications")
    if apps is not None:
        awards = tables.get("procurement_awards")
        owner = (pd.Series(awards["enterprise_id"].to_numpy(), index=awards["award_id"].to_numpy())
                 if awards is not None else pd.Series(dtype=object))
        owner = owner[~owner.index.duplicated()]
        has_award = apps["award_id"].notna()
        award_owner = apps["award_id"].map(owner)
        dangling = has_award & award_owner.isna()
        failures.append(_failures("applications", apps.index[dangling], "award_id",
                                  "foreign key: award_id not found in procurement_awards"))
        other = has_award & award_owner.notna() & (award_owner != apps["enterprise_id"])
        failures.append(_failures("applications", apps.index[other], "award_id",
                                  "foreign key: award_id belongs to another enterprise"))
        if enterprises is not None:
            registered = pd.Series(enterprises["registered_at"].to_numpy(), index=enterprises["enterprise_id"].to_numpy())
            registered = registered[~registered.index.duplicated()]
            registered_at = registered.reindex(apps["enterprise_id"].to_numpy()).to_numpy()   # NaT: unknown
            early = apps["applied_at"].to_numpy() < registered_at
            failures.append(_failures("applications", apps.index[early], "applied_at",
                                      "applied_at is before the enterprise's registration (enterprises.registered_at)"))
    gt = tables.get("ground_truth")
    if gt is not None and apps is not None:
        dangling = ~gt["application_id"].isin(set(apps["application_id"]))
        failures.append(_failures("ground_truth", gt.index[dangling], "application_id",
                                  "foreign key: application_id not found in applications"))
    failures = [f for f in failures if len(f)]
    if not failures:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})
    return pd.concat(failures, ignore_index=True)


def validate_tables(tables: dict[str, pd.DataFrame], as_of: date | None = None) -> pd.DataFrame:
    """Every rule broken by a set of tables: each table's schema, then the cross-table rules."""
    parts = [validate_table(df, name, as_of) for name, df in tables.items()]
    parts.append(cross_table_failures(tables))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def validate_data_dir(data_dir: str | os.PathLike, as_of: date | None = None, include_ground_truth: bool = False) -> pd.DataFrame:
    """`validate_tables` on the tables of a data directory (as written by the generator or ingest)."""
    names = list(io.TABLES) + ([io.GROUND_TRUTH] if include_ground_truth else [])
    return validate_tables({name: io.read_table(data_dir, name) for name in names}, as_of)


# ---------------------------------------------------------------------------------------------


def _pandera():
    """pandera.pandas, imported without the FutureWarning pyspark emits when pandera probes it."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\..*")
        import pandera.pandas

    return pandera.pandas


def _column_checks(table: str, column: str, as_of: date | None):
    pa = _pandera()

    if column in ("enterprise_id", "counterparty_id"):
        yield pa.Check(_valid_codes,
                       error=f"{column} must be an 18-character unified social credit code with a valid check character")
    if column.endswith("_cny") or column in ("kwh",):
        if not (table == "invoices" and column in ("amount_cny", "tax_cny")):
            yield pa.Check.ge(0, error=f"{column} must be >= 0")
        yield pa.Check(lambda s: pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index) | s.isna(),
                       error=f"{column} must be finite")
    if column == "industry_section":
        yield pa.Check.isin(sorted(GBT4754_DIVISIONS), error="industry_section must be a GB/T 4754 section letter A-T")
    if column == "industry_division":
        yield pa.Check.str_matches(r"^\d{2}$", error="industry_division must be two digits (GB/T 4754 division)")
    if column == "district":
        yield pa.Check.isin(DISTRICT_NAMES, error=f"district must be one of Beijing's districts ({', '.join(DISTRICT_NAMES)})")
    if column == "employees":
        yield pa.Check.ge(0, error="employees must be >= 0")
    if column == "rating":
        yield pa.Check.isin(RATINGS, error="rating must be one of A, B, M, C, D")
    if column == "year":
        yield pa.Check.in_range(1990, 2100, error="year must be between 1990 and 2100")
    if column == "direction":
        allowed = ("sales", "purchase") if table == "invoices" else ("import", "export")
        yield pa.Check.isin(allowed, error=f"direction must be one of {', '.join(allowed)}")
    if column == "status":
        allowed = INVOICE_STATUSES if table == "invoices" else AWARD_STATUSES
        yield pa.Check.isin(allowed, error=f"status must be one of {', '.join(allowed)}")
    if column == "category":
        yield pa.Check.isin(AWARD_CATEGORIES, error=f"category must be one of {', '.join(AWARD_CATEGORIES)}")
    if column == "product":
        yield pa.Check.isin(PRODUCTS, error=f"product must be one of {', '.join(PRODUCTS)}")
    if column == "hs_chapter":
        yield pa.Check.str_matches(r"^(0[1-9]|[1-8]\d|9[0-7])$", error="hs_chapter must be a two-digit HS chapter 01-97")
    if column == "term_months":
        yield pa.Check.in_range(1, 360, error="term_months must be between 1 and 360")
    if column == "default_12m":
        yield pa.Check.isin([0.0, 1.0], error="default_12m must be 0, 1 or empty")
    if column == "true_pd":
        yield pa.Check.in_range(0, 1, error="true_pd must be in [0, 1]")
    if column == "period":
        yield pa.Check(lambda s: (s.dt.day == 1) | s.isna(), error="period must be the first day of a month")
    if column in ("enterprise_id", "invoice_id", "declaration_id", "award_id", "application_id", "purchaser", "counterparty_id"):
        yield pa.Check(lambda s: s.str.strip().str.len() > 0, error=f"{column} must not be blank")
    if as_of is not None and io.KNOWN_AT.get(table) == column:
        limit = pd.Timestamp(as_of)
        yield pa.Check(lambda s: s <= limit, error=f"{column} must not be after the end of the data window {as_of}")


def _table_checks(table: str):
    pa = _pandera()

    if table == "invoices":
        yield pa.Check(
            lambda d: ((d["status"] == "red-letter") & (d["amount_cny"] < 0)) | ((d["status"] != "red-letter") & (d["amount_cny"] >= 0)),
            error="amount_cny must be >= 0, and < 0 exactly for red-letter invoices",
        )
        yield pa.Check(
            lambda d: (np.sign(d["tax_cny"]) * np.sign(d["amount_cny"]) >= 0),
            error="tax_cny must have the sign of amount_cny",
        )
    if table == "enterprises":
        yield pa.Check(lambda d: _division_in_section(d["industry_section"], d["industry_division"]),
                       error="industry_division is not a division of industry_section (GB/T 4754-2017)")
    if table == "tax_filings":
        yield pa.Check(lambda d: d["filed_at"] >= d["period"], error="filed_at must not be before period")
    if table == "electricity":
        yield pa.Check(lambda d: d["billed_at"] >= d["period"], error="billed_at must not be before period")
    if table == "procurement_awards":
        yield pa.Check(lambda d: d["end_on"] >= d["start_on"], error="end_on must not be before start_on")
    if table == "applications":
        yield pa.Check(lambda d: (d["product"] == "procurement") == d["award_id"].notna(),
                       error="award_id is required for procurement applications and only for them")
        yield pa.Check(lambda d: d["booked"] | d["default_12m"].isna(),
                       error="default_12m must be empty when the application was not booked")


def _valid_codes(values: pd.Series) -> pd.Series:
    """USCC validity per value; ids repeat a lot (invoices), so each distinct value is checked once."""
    codes, uniques = pd.factorize(values)
    valid = np.append(uscc.valid_mask(np.asarray(uniques, dtype=object)), False)   # code -1: empty
    return pd.Series(valid[codes], index=values.index)


def _division_in_section(section: pd.Series, division: pd.Series) -> pd.Series:
    number = pd.to_numeric(division, errors="coerce")
    low = section.map(lambda s: GBT4754_DIVISIONS.get(s, (99, -1))[0]).astype(float)
    high = section.map(lambda s: GBT4754_DIVISIONS.get(s, (99, -1))[1]).astype(float)
    return (number >= low) & (number <= high)


def _pandas_dtype(arrow_type):
    import pyarrow as pa

    if arrow_type == pa.float64():
        return "float64"
    if arrow_type == pa.int64():
        return "int64"
    if arrow_type == pa.bool_():
        return "bool"
    if arrow_type == pa.date32():
        return "datetime64[ms]"
    return None     # strings: pandas' str dtype or object, checked by the value rules


def _describe(check, column) -> str:
    text = str(check)
    if text == "not_nullable":
        return f"{column} must not be empty"
    if text in ("field_uniqueness", "multiple_fields_uniqueness"):
        return f"duplicate key ({column})"
    if text == "column_in_dataframe":
        return f"missing column {column}"
    if text.startswith("dtype("):
        return f"{column} has the wrong type: expected {text[6:-1]}"
    return text


def _failures(table: str, index, column: str, rule: str) -> pd.DataFrame:
    return pd.DataFrame({"table": table, "row": np.asarray(index, dtype=np.int64), "column": column, "rule": rule})
