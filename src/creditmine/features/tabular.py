"""Bring your own tabular data: one row per application, its columns become the features.

`params.data.source: tabular` names a CSV or Parquet file, its target and bad value, optionally an
id and an application-date column, and risk directions per column. Stage 01 then writes the same
files as for the synthetic world (features.parquet with the key columns, catalog.json, ...), with a
catalog derived from the columns, so stages 02-05 run unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.features.catalog import KEY_COLUMNS, FeatureSpec

__all__ = ["read_tabular", "tabular_catalog", "tabular_features"]


def tabular_features(cfg) -> tuple[pd.DataFrame, list[FeatureSpec]]:
    """The feature table and catalog of a bring-your-own data set (params `data.tabular`).

    Returns
    -------
    (frame, catalog): frame has the key columns (application_id, enterprise_id = application_id,
    product, applied_at (NaT without a date column), requested_amount_cny and term_months (NaN:
    unknown), default_12m (1.0 bad, 0.0 good, NaN when the target is empty), split), then every
    other column: numeric ones as float64, the rest as strings.
    """
    from creditmine.data.split import assign_split

    tp = cfg.params.data.tabular
    path = cfg.resolve(tp.path)
    raw = read_tabular(path)
    used = [c for c in (tp.id_column, tp.target_column, tp.date_column) if c]
    for column in used:
        if column not in raw.columns:
            raise ValueError(f"{path}: no column '{column}' (named in data.tabular); it has {', '.join(raw.columns)}")
    feature_names = [c for c in raw.columns if c not in used]
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
        applied = pd.to_datetime(raw[tp.date_column], errors="coerce")
        bad = (applied.isna() & raw[tp.date_column].notna()).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: column '{tp.date_column}' row {row + 1}: "
                             f"{raw[tp.date_column].iloc[row]!r} is not a date")
    else:
        applied = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ms]")

    frame = pd.DataFrame({
        "application_id": ids.to_numpy(),
        "enterprise_id": ids.to_numpy(),
        "product": tp.product,
        "applied_at": applied.to_numpy(),
        "requested_amount_cny": np.nan,
        "term_months": np.nan,
        "default_12m": _outcome(raw[tp.target_column], tp.bad_value),
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


def _outcome(target: pd.Series, bad_value) -> np.ndarray:
    """1.0 where the target equals the bad value, 0.0 elsewhere, NaN where it is empty."""
    if pd.api.types.is_numeric_dtype(target) and isinstance(bad_value, (int, float)):
        bad = target.to_numpy(dtype=float) == float(bad_value)
    else:
        bad = (target.astype(str) == str(bad_value)).to_numpy()
    return np.where(target.isna().to_numpy(), np.nan, bad.astype(float))
