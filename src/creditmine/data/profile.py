"""A profile of the raw tables for the stage 01 report: sizes, date ranges, gaps and default rates.

`profile_tables(data_dir)` reads only the tables a stage may read. `generator_summary(data_dir)`
also reads the generator's ground truth (oracle AUC): it is for tests and benchmarks, never for a
pipeline stage.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.data import io

SOURCES = ("tax_filings", "tax_credit_ratings", "invoices", "electricity", "customs", "procurement_awards")
"""Tables that are data sources about an enterprise (coverage is reported for each)."""


def profile_tables(data_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Profile the raw tables of a data directory.

    Parameters
    ----------
    data_dir : folder with the tables of `io.TABLES` (`cfg.data_dir`).

    Returns
    -------
    dict of DataFrames:

    - ``tables``: per table, rows, columns, the point-in-time date column, its first and last
      date, and the number of distinct enterprises;
    - ``missing``: per table and column, the share of empty values (0 to 1);
    - ``coverage``: per source, the share of enterprises with at least one record (thin files
      show as low coverage);
    - ``default_rates``: per product and application year, applications, booked, labelled
      (booked and matured) and the default rate among labelled applications;
    - ``categories``: per categorical column, the share of each value.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = Path(data_dir)
    table_rows, missing_rows, category_rows = [], [], []
    enterprise_sets: dict[str, int] = {}
    enterprise_count = None
    for name in io.TABLES:
        path = io.table_path(folder, name)
        parquet = pq.ParquetFile(path)
        n = parquet.metadata.num_rows
        date_col = io.KNOWN_AT.get(name)
        first = last = pd.NaT
        for column in parquet.schema_arrow.names:
            values = parquet.read(columns=[column]).column(0)
            missing_rows.append({"table": name, "column": column,
                                 "missing_share": values.null_count / n if n else 0.0})
            if column == date_col and n > values.null_count:
                bounds = pc.min_max(values).as_py()
                first, last = pd.Timestamp(bounds["min"]), pd.Timestamp(bounds["max"])
            if column == "enterprise_id":
                distinct = len(pc.unique(values))
                enterprise_sets[name] = distinct
                if name == "enterprises":
                    enterprise_count = distinct
            if column in _CATEGORICAL.get(name, ()):
                counts = pc.value_counts(values).to_pylist()
                for item in counts:
                    category_rows.append({"table": name, "column": column, "value": item["values"],
                                          "share": item["counts"] / n if n else 0.0})
        table_rows.append({"table": name, "rows": n, "columns": len(parquet.schema_arrow.names),
                           "date_column": date_col or "", "first_date": first, "last_date": last,
                           "enterprises": enterprise_sets.get(name, 0)})
    coverage = pd.DataFrame([
        {"source": s, "enterprises_with_records": enterprise_sets.get(s, 0),
         "share_of_enterprises": enterprise_sets.get(s, 0) / enterprise_count if enterprise_count else 0.0}
        for s in SOURCES
    ])
    return {
        "tables": pd.DataFrame(table_rows),
        "missing": pd.DataFrame(missing_rows),
        "coverage": coverage,
        "default_rates": default_rates(folder),
        "categories": pd.DataFrame(category_rows).sort_values(["table", "column", "share"], ascending=[True, True, False], ignore_index=True),
    }


def default_rates(data_dir: str | os.PathLike) -> pd.DataFrame:
    """Applications, bookings and the 12-month default rate by product and application year.

    Returns
    -------
    DataFrame with product, year, applications, booked, labelled (booked and matured: the
    outcome is known), defaults and default_rate (defaults / labelled; NaN when none labelled),
    plus an "all" row per year and per product.
    """
    apps = io.read_table(data_dir, "applications", columns=["product", "applied_at", "booked", "default_12m"])
    apps["year"] = apps["applied_at"].dt.year
    return _rates(apps, ["product", "year"])


def generator_summary(data_dir: str | os.PathLike) -> dict:
    """The synthetic world's own figures, from its ground truth: for tests and benchmarks only.

    Returns
    -------
    dict with labelled (booked, matured applications), default_rate, mean_true_pd (over the
    labelled), oracle_auc (true PD against the outcomes), and oracle_auc_by_product.
    """
    from sklearn.metrics import roc_auc_score

    apps = io.read_table(data_dir, "applications", columns=["application_id", "product", "default_12m"])
    truth = io.read_table(data_dir, io.GROUND_TRUTH)
    labelled = apps.merge(truth, on="application_id", how="inner", validate="one_to_one")
    labelled = labelled[labelled["default_12m"].notna()]
    y, pd_true = labelled["default_12m"].to_numpy(), labelled["true_pd"].to_numpy()
    by_product = {}
    for product, group in labelled.groupby("product"):
        if group["default_12m"].nunique() == 2:
            by_product[str(product)] = float(roc_auc_score(group["default_12m"], group["true_pd"]))
    return {
        "applications": int(len(apps)),
        "labelled": int(len(labelled)),
        "default_rate": float(y.mean()) if len(y) else float("nan"),
        "mean_true_pd": float(pd_true.mean()) if len(y) else float("nan"),
        "oracle_auc": float(roc_auc_score(y, pd_true)) if len(np.unique(y)) == 2 else float("nan"),
        "oracle_auc_by_product": by_product,
    }


def to_jsonable(profile: dict[str, pd.DataFrame]) -> dict:
    """The profile as plain lists of records (dates as ISO strings), for `profile.json`."""
    out = {}
    for key, frame in profile.items():
        frame = frame.copy()
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        out[key] = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return out


_CATEGORICAL = {
    "enterprises": ("industry_section", "district", "specialized_innovative", "high_tech"),
    "tax_credit_ratings": ("rating",),
    "invoices": ("direction", "status"),
    "customs": ("direction",),
    "procurement_awards": ("category", "status"),
    "applications": ("product", "booked"),
}


def _rates(apps: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    apps = apps.assign(
        labelled=apps["default_12m"].notna(),
        defaults=apps["default_12m"].fillna(0.0),
    )
    frames = [apps]
    for key in keys:       # margins: every product for each year, every year for each product
        frames.append(apps.assign(**{key: "all"}))
    frames.append(apps.assign(**{k: "all" for k in keys}))
    stacked = pd.concat([f.astype({k: str for k in keys}) for f in frames], ignore_index=True)
    table = stacked.groupby(keys, sort=True).agg(
        applications=("booked", "size"), booked=("booked", "sum"),
        labelled=("labelled", "sum"), defaults=("defaults", "sum"),
    ).reset_index()
    table["default_rate"] = table["defaults"] / table["labelled"].where(table["labelled"] > 0)
    return table.astype({"booked": "int64", "labelled": "int64", "defaults": "int64"})
