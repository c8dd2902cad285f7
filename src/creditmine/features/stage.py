"""Stage 01: the point-in-time feature table of every application, its catalog and its profile.

`run(cfg)` builds (or reuses) the table for the synthetic world or a bring-your-own data set and
writes the stage's files through `creditmine.artifacts`: features.parquet, catalog.json,
data_dictionary.csv and profile.json.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from creditmine import artifacts
from creditmine.artifacts import FEATURE_KEY_COLUMNS, FeatureSpec
from creditmine.features.build import FEATURE_TABLES, compute_features, feature_columns
from creditmine.features.catalog import synthetic_catalog

__all__ = ["FeatureResult", "feature_profile", "run"]


@dataclass
class FeatureResult:
    """What stage 01 produced.

    Attributes
    ----------
    stage_dir : runs/<run>/01_build_features/.
    features : the feature table (key columns, then the features), sorted by application_id.
    catalog : the FeatureSpec list of the feature columns.
    cached : True when the table was reused because inputs and params were unchanged.
    seconds : wall time of this call, in seconds.
    profile : the content of profile.json (see `feature_profile`).
    """

    stage_dir: Path
    features: pd.DataFrame
    catalog: list[FeatureSpec]
    cached: bool
    seconds: float
    profile: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.stage_dir / "features.parquet"

    def at_a_glance(self):
        """The report's opening panel: size, samples, default rate, warnings (no CJK font, no
        out-of-time sample) and what to look at (HTML)."""
        from creditmine.features.report import at_a_glance

        profile = self.profile or feature_profile(self.features, self.catalog)
        return at_a_glance(profile, self.cached, self.seconds)

    def summary(self) -> pd.DataFrame:
        """One-row overview: applications, features, splits, cache use and time."""
        splits = self.features["split"].value_counts().to_dict()
        row = {
            "applications": len(self.features),
            "features": len(self.catalog),
            **{f"split_{k}": int(v) for k, v in sorted(splits.items())},
            "default_rate_labelled": float(self.features["default_12m"].mean()),
            "cached": self.cached,
            "seconds": round(self.seconds, 2),
        }
        return pd.DataFrame([row])


def run(cfg, product: str | None = None, progress: bool = True) -> FeatureResult:
    """Stage 01: build (or reuse) the feature table of every application.

    Parameters
    ----------
    cfg : RunConfig from `creditmine.config.load`.
    product : ignored (one feature table serves every product); accepted so that every stage has
        the same signature.
    progress : show a tqdm bar over the feature steps.
    """
    started = time.perf_counter()
    where = artifacts.layout(cfg)
    stage_dir = where.stage_dir(artifacts.FEATURES)
    stage_dir.mkdir(parents=True, exist_ok=True)
    tabular = cfg.params.data.source == "tabular"
    key = _cache_key(cfg, tabular)
    outputs = (where.features_table, where.catalog, where.data_dictionary, where.profile)
    if cfg.params.features.cache and where.features_cache_key.is_file() and all(p.is_file() for p in outputs):
        if json.loads(where.features_cache_key.read_text())["key"] == key:
            return FeatureResult(stage_dir, artifacts.read_features(where), artifacts.read_catalog(where), True,
                                 time.perf_counter() - started, artifacts.read_profile(where))
    where.features_cache_key.unlink(missing_ok=True)

    if tabular:
        from creditmine.features.tabular import tabular_features

        frame, catalog = tabular_features(cfg)
    else:
        frame, catalog = _synthetic_features(cfg, progress)

    artifacts.write_features(where, frame)
    artifacts.write_catalog(where, catalog)
    profile = feature_profile(frame, catalog)
    artifacts.write_profile(where, profile)
    where.features_cache_key.write_text(json.dumps({"key": key}))
    return FeatureResult(stage_dir, frame, catalog, False, time.perf_counter() - started, profile)


def feature_profile(frame: pd.DataFrame, catalog: list[FeatureSpec]) -> dict:
    """Figures of the feature table for profile.json and the report.

    Returns
    -------
    dict with rows, features, splits (counts), default rate by product and by application year
    (labelled applications only), and the missing share of every feature and of every source.
    """
    labelled = frame[frame["default_12m"].notna()]
    years = pd.to_datetime(labelled["applied_at"]).dt.year
    by_year = labelled.groupby([labelled["product"], years.rename("year")], dropna=False)["default_12m"]
    missing = frame[feature_columns(catalog)].isna().mean()
    sources = {s.name: s.source for s in catalog}
    by_source = missing.groupby(pd.Series(sources)).mean()
    return {
        "rows": int(len(frame)),
        "features": len(catalog),
        "splits": {k: int(v) for k, v in frame["split"].value_counts().sort_index().items()},
        "default_rate": float(labelled["default_12m"].mean()) if len(labelled) else None,
        "default_rate_by_product": {k: float(v) for k, v in labelled.groupby("product")["default_12m"].mean().items()},
        "default_rate_by_product_year": [
            {"product": p, "year": None if pd.isna(y) else int(y), "applications": int(n), "default_rate": float(r)}
            for (p, y), n, r in zip(by_year.mean().index, by_year.size(), by_year.mean())
        ],
        "missing_share": {k: float(v) for k, v in missing.items()},
        "missing_share_by_source": {k: float(v) for k, v in by_source.items()},
    }


def _synthetic_features(cfg, progress: bool) -> tuple[pd.DataFrame, list[FeatureSpec]]:
    from creditmine.data.io import read_table, table_path
    from creditmine.data.split import assign_split

    fp = cfg.params.features
    applications = read_table(cfg.data_dir, "applications")
    paths = {}
    for name in FEATURE_TABLES:
        paths[name] = table_path(cfg.data_dir, name)
        if not paths[name].is_file():
            raise FileNotFoundError(f"{paths[name]}: table '{name}' not found (run `creditmine generate` first)")
    features = compute_features(
        paths, applications, fp.windows_months, fp.filing_deadline_day, fp.backend, fp.threads,
        fp.memory_limit_gb, fp.spark_master, progress,
    )
    catalog = synthetic_catalog(fp.windows_months)
    keys = applications.sort_values("application_id", kind="stable").reset_index(drop=True)
    keys["split"] = assign_split(keys, cfg.params.split, cfg.params.seed).to_numpy()
    keys = keys[list(FEATURE_KEY_COLUMNS)].astype({"requested_amount_cny": "float64", "term_months": "float64",
                                                   "default_12m": "float64"})
    keys["application_id"] = keys["application_id"].astype(str)
    frame = keys.merge(features, on="application_id", how="left", validate="one_to_one")
    return frame, catalog


def _cache_key(cfg, tabular: bool) -> str:
    """Digest of the inputs (sizes and modification times of the files) and the params they feed."""
    import creditmine.features.catalog as catalog_module
    import creditmine.features.definitions as definitions_module
    import creditmine.features.sql as sql_module

    params = cfg.params
    if tabular:
        files = [cfg.resolve(params.data.tabular.path)]
    else:
        from creditmine.data.io import table_path

        files = [table_path(cfg.data_dir, name) for name in (*FEATURE_TABLES, "applications")]
    stamps = []
    for path in files:
        stat = path.stat() if path.exists() else None
        stamps.append([str(path), stat.st_size if stat else None, stat.st_mtime_ns if stat else None])
    catalog_yaml = Path(catalog_module.__file__).with_name("catalog.yaml")
    modules = (catalog_module, definitions_module, sql_module)
    code = [Path(m.__file__).read_bytes() for m in modules] + [catalog_yaml.read_bytes()]
    blob = json.dumps({
        "files": stamps,
        "features": params.features.model_dump(mode="json"),
        "split": params.split.model_dump(mode="json"),
        "data": params.data.model_dump(mode="json"),
        "seed": params.seed,
        "code": [hashlib.sha256(c).hexdigest() for c in code],
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
