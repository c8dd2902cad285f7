"""What every validation section reads: one frame of the product's applications and the run's facts.

`load_inputs(cfg, product)` reads stages 01-03 through `creditmine.artifacts`; `ValidationInputs`
can also be built from frames directly (tests, notebooks exploring a what-if).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from creditmine import artifacts
from creditmine.artifacts import SPLIT_HOLDOUT, SPLIT_OOT, SPLIT_TRAIN
from creditmine.config import ValidationParams
from creditmine.validation import metrics

__all__ = ["ValidationInputs", "load_inputs"]


@dataclass
class ValidationInputs:
    """The product's applications with both models' PDs and grades, and the facts sections need.

    Attributes
    ----------
    frame : scores.parquet joined with the feature table and, when there is one, the raw
        enterprises table (district, industry, size); `applied_at` as datetime.
    primary, challenger : model names (models.json).
    model_features : the primary model's own input features (models.json), else the candidates.
    catalog : the catalog entries as dicts (name, source, kind, unit, ...).
    explain : explain.json of stage 03, or None.
    params : the `validation` params section.
    approve_grades : grades the product's policy approves.
    n_grades : the number of grades of the master scale.
    initial_auc : the AUC at initial validation for the ECB back-test (the champion's development
        AUC), or None to use this model's own development AUC.
    train_end, oot_start : the split dates (None without application dates).
    seed : seed of the bootstraps.
    product : the product's name.
    refer_grades : grades the product's policy refers.
    training : what stage 02 reported beside the models (models.json): central_tendency,
        reject_inference, calibration_notes and guards, each per model where it applies.
    data_source : params `data.source` (synthetic, files or tabular).
    population : who the model is for (params `data.tabular.population`, else the data source's text).
    """

    frame: pd.DataFrame
    primary: str
    challenger: str
    model_features: list[str]
    catalog: list[dict]
    explain: dict | None
    params: ValidationParams
    approve_grades: tuple[int, ...]
    n_grades: int
    initial_auc: float | None = None
    train_end: date | None = None
    oot_start: date | None = None
    seed: int = 0
    product: str = ""
    refer_grades: tuple[int, ...] = ()
    training: dict = field(default_factory=dict)
    data_source: str = "synthetic"
    population: str = ""
    development_split: str = field(init=False)
    development_auc: float = field(init=False)

    def __post_init__(self) -> None:
        if "applied_at" in self.frame:
            self.frame["applied_at"] = pd.to_datetime(self.frame["applied_at"])
        self.development_split, self.development_auc = development_auc(self.frame, self.primary)

    @property
    def models(self) -> list[str]:
        """The primary model, then the challenger (when it is another model)."""
        return [self.primary] + ([self.challenger] if self.challenger != self.primary else [])

    @property
    def has_dates(self) -> bool:
        return "applied_at" in self.frame and bool(self.frame["applied_at"].notna().any())

    def rows(self, split: str) -> pd.DataFrame:
        """Every application of a split (labelled or not)."""
        return self.frame[self.frame["split"] == split]

    def labelled(self, split: str) -> pd.DataFrame:
        """The applications of a split with a matured outcome."""
        return self.frame[(self.frame["split"] == split) & self.frame["default_12m"].notna()]

    def outcomes(self, split: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(outcomes, values of `column`) of a split's labelled applications."""
        sub = self.labelled(split)
        return sub["default_12m"].to_numpy(float), sub[column].to_numpy(float)

    def monitoring_start(self) -> pd.Timestamp:
        """First month judged for drift: the out-of-time start, else the first out-of-time application."""
        if self.oot_start is not None:
            return pd.Timestamp(self.oot_start).to_period("M").to_timestamp()
        oot = self.rows(SPLIT_OOT)["applied_at"]
        start = oot.min() if len(oot) else self.frame["applied_at"].min()
        return pd.Timestamp(start).to_period("M").to_timestamp()

    def role(self, model: str) -> str:
        return "primary" if model == self.primary else "challenger"


def development_auc(frame: pd.DataFrame, primary: str) -> tuple[str, float]:
    """(split, AUC) at development: the primary model's PD on the in-time holdout, else on train.

    The holdout's, not the training sample's, because a boosted model's train AUC is optimistic;
    it feeds the AUC drop and, without a champion, the ECB AUC back-test (docs/architecture.md).
    NaN when the split lacks defaults or non-defaults.
    """
    for split in (SPLIT_HOLDOUT, SPLIT_TRAIN):
        rows = frame[(frame["split"] == split) & frame["default_12m"].notna()]
        if len(rows) and rows["default_12m"].nunique() == 2:
            return split, metrics.auc(rows["default_12m"].to_numpy(float), rows[f"pd_{primary}"].to_numpy(float))
    return SPLIT_HOLDOUT, float("nan")


def load_inputs(cfg, product: str, initial_auc: float | None = None) -> ValidationInputs:
    """The inputs of stage 04 for one product, read through `creditmine.artifacts`."""
    where = artifacts.layout(cfg, product)
    scores = artifacts.read_scores(where)
    meta = artifacts.read_models_meta(where)
    primary, challenger = meta["primary"], meta["challenger"]
    needed = [f"{k}_{m}" for m in (primary, challenger) for k in ("pd", "grade")]
    lacking = [c for c in ("default_12m", *needed) if c not in scores]
    if lacking:
        raise ValueError(f"{where.scores}: missing column(s) {', '.join(lacking)}")
    master_scale = artifacts.read_master_scale(where)
    features = artifacts.read_features(where) if where.features_table.is_file() else None
    catalog = [vars(s) for s in artifacts.read_catalog(where)] if where.catalog.is_file() else []
    own = (meta.get("models") or {}).get(primary, {})
    model_features = list((own.get("features") if isinstance(own, dict) else None) or meta.get("features") or [])
    frame = _join(scores, features, _enterprises(cfg))
    from creditmine.validation.sections.through_the_door import read_bookings_and_truth

    bookings = read_bookings_and_truth(cfg)
    if bookings is not None:
        frame = frame.merge(bookings, on="application_id", how="left", validate="one_to_one")
    n_grades = int(max(master_scale["grade"].max(), *(frame[f"grade_{m}"].max() for m in (primary, challenger))))
    split = cfg.params.split
    return ValidationInputs(
        frame=frame, primary=primary, challenger=challenger, model_features=model_features, catalog=catalog,
        explain=artifacts.read_explain_summary(where, required=False), params=cfg.params.validation,
        approve_grades=tuple(int(g) for g in cfg.product(product).policy.approve_grades), n_grades=n_grades,
        initial_auc=initial_auc, train_end=split.train_end, oot_start=split.oot_start, seed=cfg.params.seed,
        product=product, refer_grades=tuple(int(g) for g in cfg.product(product).policy.refer_grades),
        training={k: meta[k] for k in ("central_tendency", "reject_inference", "calibration_notes", "master_scale_notes",
                                      "guards")
                  if k in meta},
        data_source=cfg.params.data.source, population=_population(cfg),
    )


def _population(cfg) -> str:
    """Who the model is for: the tabular data set's `population` (else its file's applicants); "" for the
    government-data sources, whose text is the model card's own."""
    if cfg.params.data.source != "tabular":
        return ""
    tabular = cfg.params.data.tabular
    from pathlib import Path

    return getattr(tabular, "population", None) or f"the applicants of {Path(tabular.path).name} (not stated in " \
        "data.tabular.population)"


def _join(scores: pd.DataFrame, features: pd.DataFrame | None, enterprises: pd.DataFrame | None) -> pd.DataFrame:
    frame = scores.copy()
    if features is not None and "application_id" in features:
        extra = [c for c in features.columns if c not in frame.columns]
        frame = frame.merge(features[["application_id", *extra]], on="application_id", how="left", validate="one_to_one")
    if enterprises is not None and "enterprise_id" in frame and "enterprise_id" in enterprises:
        extra = [c for c in enterprises.columns if c not in frame.columns]
        if extra:
            frame = frame.merge(enterprises[["enterprise_id", *extra]], on="enterprise_id", how="left",
                                validate="many_to_one")
    return frame


def _enterprises(cfg) -> pd.DataFrame | None:
    """Segment attributes of the raw enterprises table, when the data source has one."""
    from creditmine.data.io import read_table, table_path

    if cfg.params.data.source == "tabular" or not table_path(cfg.data_dir, "enterprises").is_file():
        return None
    return read_table(cfg.data_dir, "enterprises", columns=["enterprise_id", "industry_section", "district", "employees"])
