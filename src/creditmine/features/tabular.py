"""Bring your own tabular data: one row per application, its columns become the features.

`params.data.source: tabular` names a CSV or Parquet file, its target with its bad (and optionally
good) values, optionally an id, an application-date column (with its format), the requested amount
and term columns (so that the policy's limits work), which columns are features, the population the
model is for, and risk directions per column. Rows whose target is neither bad nor good are kept,
unlabelled (split `unlabelled`), and counted in stage 01's profile. Stage 01 then writes the same
files as for the synthetic world (features.parquet with the key columns, catalog.json, ...), with a
catalog derived from the columns, so stages 02-05 run unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.features.catalog import KEY_COLUMNS, FeatureSpec

__all__ = ["outcome", "read_tabular", "tabular_catalog", "tabular_features"]


def tabular_features(cfg) -> tuple[pd.DataFrame, list[FeatureSpec]]:
    """The feature table and catalog of a bring-your-own data set (params `data.tabular`).

    Returns
    -------
    (frame, catalog): frame has the key columns (application_id, enterprise_id = application_id,
    product, applied_at (NaT without a date column), requested_amount_cny and term_months (from
    amount_column and term_column, else NaN), default_12m (1.0 bad, 0.0 good, NaN when the target is
    empty or neither), split), then the feature columns: numeric ones as float64, the rest as strings.
    """
    from creditmine.data.split import assign_split

    tp = cfg.params.data.tabular
    path = cfg.resolve(tp.path)
    raw = read_tabular(path)
    used = [c for c in (tp.id_column, tp.target_column, tp.date_column, tp.amount_column, tp.term_column) if c]
    named = [*used, *tp.exclude_columns, *(tp.feature_columns or ())]
    for column in dict.fromkeys(named):
        if column not in raw.columns:
            raise ValueError(f"{path}: no column '{column}' (named in data.tabular); it has {', '.join(raw.columns)}")
    keys = [c for c in (tp.id_column, tp.target_column, tp.date_column) if c]
    if tp.feature_columns is not None:
        feature_names = [c for c in tp.feature_columns if c not in keys]
    else:
        feature_names = [c for c in raw.columns if c not in keys and c not in tp.exclude_columns]
    clashes = [c for c in feature_names if c in KEY_COLUMNS]
    if clashes:
        raise ValueError(f"{path}: column(s) {', '.join(clashes)} clash with the key columns of the feature "
                         "table; rename them")
    unknown = [c for c in tp.risk_directions if c not in feature_names]
    if unknown:
        raise ValueError(f"{path}: data.tabular.risk_directions names {', '.join(unknown)}, not feature columns "
                         f"of the file")

    n = len(raw)
    if tp.id_column:
        ids = raw[tp.id_column].astype(str)
        duplicated = ids.duplicated().to_numpy()
        if duplicated.any():
            row = int(np.flatnonzero(duplicated)[0])
            raise ValueError(f"{path}: id column '{tp.id_column}' repeats {ids.iloc[row]!r} (row {row + 1})")
    else:
        width = len(str(max(n, 1)))
        ids = pd.Series([f"{i + 1:0{width}d}" for i in range(n)], index=raw.index)
    if tp.date_column:
        text = raw[tp.date_column]
        applied = pd.to_datetime(text, errors="coerce", format=tp.date_format)
        bad = (applied.isna() & text.notna()).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            shape = f" in the format {tp.date_format!r} (data.tabular.date_format)" if tp.date_format else \
                " (set data.tabular.date_format for a non-ISO format)"
            raise ValueError(f"{path}: column '{tp.date_column}' row {row + 1}: {text.iloc[row]!r} is not a date{shape}")
    else:
        applied = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ms]")

    frame = pd.DataFrame({
        "application_id": ids.to_numpy(),
        "enterprise_id": ids.to_numpy(),
        "product": tp.product,
        "applied_at": applied.to_numpy(),
        "requested_amount_cny": _number(raw, tp.amount_column, path),
        "term_months": _number(raw, tp.term_column, path),
        "default_12m": outcome(raw[tp.target_column], tp.bad_values, tp.good_values),
    })
    frame["split"] = assign_split(frame, cfg.params.split, cfg.params.seed,
                                  date_column="applied_at" if tp.date_column else None).to_numpy()
    catalog = tabular_catalog(raw[feature_names], tp.risk_directions, path.name, tp.product)
    columns = {}
    for spec in catalog:
        if spec.name in KEY_COLUMNS:
            continue
        values = raw[spec.name]
        if spec.kind == "numeric":
            columns[spec.name] = values.astype("float64").to_numpy()
        else:
            columns[spec.name] = values.astype(object).where(values.notna(), None).map(
                lambda v: v if v is None else str(v)).to_numpy()
    frame = pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)
    frame = frame.sort_values("application_id", kind="stable").reset_index(drop=True)
    return frame, catalog


def read_tabular(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, with a clear error when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: tabular data file not found (data.tabular.path)")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # parser errors differ by format; the message names the file
        raise ValueError(f"{path}: cannot read the tabular data ({exc})") from None


def tabular_catalog(columns: pd.DataFrame, risk_directions: dict, file_name: str, product: str) -> list[FeatureSpec]:
    """A catalog for arbitrary columns: numeric ones numeric, the rest categorical.

    Risk directions come from params (`data.tabular.risk_directions`), else 0 (unknown); the
    descriptions and reason templates are generic, naming the column.
    """
    specs = [_spec(
        "product", "application", 0, "category", 0, "product",
        f"Product code given to every row of {file_name}", f"{file_name}中每行的产品代码",
        "Product {value} carries a higher risk", "产品{value}风险较高", kind="categorical",
    )]
    for name in columns.columns:
        numeric = pd.api.types.is_numeric_dtype(columns[name]) and not pd.api.types.is_bool_dtype(columns[name])
        risk = int(risk_directions.get(name, 0))
        label = name.replace("_", " ")
        if not numeric:
            reason_en, reason_zh = f"{label}: {{value}}", f"{name}为{{value}}"
        elif risk > 0:
            reason_en, reason_zh = f"{label} is high ({{value:,.4g}})", f"{name}偏高（{{value:,.4g}}）"
        elif risk < 0:
            reason_en, reason_zh = f"{label} is low ({{value:,.4g}})", f"{name}偏低（{{value:,.4g}}）"
        else:
            reason_en, reason_zh = f"{label} is {{value:,.4g}}", f"{name}为{{value:,.4g}}"
        specs.append(_spec(
            name, "tabular", 0, "value" if numeric else "category", risk, name,
            f"Column '{name}' of {file_name}", f"{file_name}中的字段“{name}”",
            reason_en, reason_zh, kind="numeric" if numeric else "categorical",
        ))
    return specs


def _spec(name, source, window, unit, risk, group, en, zh, reason_en, reason_zh, kind="numeric") -> FeatureSpec:
    return FeatureSpec(name=name, source=source, window_months=window, unit=unit, description_en=en,
                       description_zh=zh, risk_direction=risk, reason_group=group, kind=kind,
                       reason_en=reason_en, reason_zh=reason_zh)


def outcome(target: pd.Series, bad_values, good_values=None) -> np.ndarray:
    """1.0 where the target is one of the bad values, 0.0 where it is good (one of `good_values`, or
    any other non-empty value when they are None), NaN elsewhere (empty, or neither bad nor good:
    the row is kept, unlabelled)."""
    bad = _matches(target, bad_values)
    good = ~bad if good_values is None else _matches(target, good_values)
    out = np.where(bad, 1.0, np.where(good, 0.0, np.nan))
    return np.where(target.isna().to_numpy(), np.nan, out)


def _matches(target: pd.Series, values) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(target) and all(isinstance(v, (int, float)) for v in values):
        return np.isin(target.to_numpy(dtype=float), [float(v) for v in values])
    return target.astype(str).isin([str(v) for v in values]).to_numpy()


def _number(raw: pd.DataFrame, column: str | None, path) -> np.ndarray:
    """A numeric key column (amount, term) from a column of the file, NaN when not given."""
    if column is None:
        return np.full(len(raw), np.nan)
    values = pd.to_numeric(raw[column], errors="coerce")
    bad = (values.isna() & raw[column].notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: column '{column}' row {row + 1}: {raw[column].iloc[row]!r} is not a number")
    return values.to_numpy(dtype=float)
