"""Stage 02: train the scorecard and the gradient boosting of one product, out of time (`run`).

Data use, per product scope (`params/products/<name>.yaml`):

- `train` applications (matured, up to `split.train_end`) fit the binning, the WoE logistic
  regression and the boosted trees (whose early stopping holds out its own stratified
  `gbm.validation_fraction` of them);
- the stratified in-time `holdout` scores the gradient boosting's search trials and fits the
  calibration of both models (isotonic or Platt, chosen by out-of-fold log loss on it);
- the master scale's boundaries come from the development PDs (train + holdout);
- `oot` applications (from `split.oot_start`) are never seen while fitting; `unlabelled` ones
  (immature or not booked) are scored but count nowhere, except:
- reject inference (`models.reject_inference`, none by default): the declined development
  applications (booked false in the raw `applications` table) join train and holdout with inferred
  outcomes, or the booked loans are reweighted by 1 / P(booked);
- the central tendency (`models.calibration.target`, long_run by default): the mean PD of the booked
  applications after `split.train_end` (features only, their outcomes are never read) is set by a
  shift of the log-odds intercept to the long-run default rate of the booked development loans plus
  the margin of conservatism; the master scale is fitted on the shifted development PDs;
- the guards (`models.guards`): a leakage screen and a high-cardinality guard on the training rows,
  and training refused below `min_train_defaults`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from creditmine import artifacts
from creditmine.artifacts import (
    ALL_SPLITS,
    LABELLED_SPLITS,
    MODEL_NAMES,
    SCORE_KEY_COLUMNS,
    SPLIT_OOT,
    SPLIT_TRAIN,
)
from creditmine.models import guards, reject_inference, training
from creditmine.models.gbm import GbmModel
from creditmine.models.master_scale import grade_table
from creditmine.models.scorecard import ScorecardModel

__all__ = ["TrainResult", "primary_model", "run"]


@dataclass
class TrainResult:
    """What stage 02 produced for one product (the same content as the files in `stage_dir`).

    Attributes
    ----------
    product : product name.
    stage_dir : runs/<run>/<product>/02_train/.
    models : {"scorecard": ScorecardModel, "gbm": GbmModel}, fitted.
    meta : content of models.json.
    metrics : content of train_metrics.json.
    scores : scores.parquet: every application of the scope with pd_, score_, grade_ per model.
    master_scale_table : master_scale.csv: both models' grades with development and OOT figures.
    seconds : wall time of the stage, in seconds.
    """

    product: str
    stage_dir: Path
    models: dict
    meta: dict
    metrics: dict
    scores: pd.DataFrame
    master_scale_table: pd.DataFrame
    seconds: float

    def at_a_glance(self):
        """The report's opening panel: primary model, out-of-time AUCs, calibration, sign check."""
        from creditmine.reports import train

        return train.at_a_glance(self.product, self.meta, self.metrics)

    def summary(self):
        """One row per model: primary or challenger, features, calibration, AUC per split (HTML)."""
        from creditmine.reports import train

        return train.summary(self.meta, self.metrics)

    def auc_table(self):
        """AUC of each model's PD per split, with applications and defaults per split (HTML)."""
        from creditmine.reports import train

        return train.auc_table(self.meta, self.metrics)

    def scorecard_table(self):
        """Every bin of the scorecard, one collapsible table per feature (HTML)."""
        from creditmine.reports import train

        return train.scorecard_table(self.models["scorecard"].scorecard_table_)

    def coefficients(self):
        """Scorecard coefficients with standard errors, p-values, VIFs and the sign check (HTML)."""
        from creditmine.reports import train

        return train.coefficients(self.models["scorecard"].coefficients_)

    def selection_frame(self) -> pd.DataFrame:
        """Every candidate feature of the scorecard: IV, kept or not, and why."""
        sc = self.models["scorecard"]
        rows = [
            {"feature": f, "iv": sc.iv_.get(f, np.nan), "kept": f in sc.features_, "reason": r}
            for f, r in self.meta["models"]["scorecard"]["selection_reasons"].items()
        ]
        return pd.DataFrame(rows).sort_values(["kept", "iv"], ascending=[False, False], ignore_index=True)

    def selection(self):
        """The kept features, and the dropped candidates with the reason (HTML)."""
        from creditmine.reports import train

        return train.selection(self.selection_frame())

    def trials(self):
        """The gradient boosting's hyper-parameter trials and their scores (HTML)."""
        from creditmine.reports import train

        return train.trials(pd.DataFrame(self.meta["models"]["gbm"]["trials"]))

    def master_scale(self, model: str | None = None) -> pd.DataFrame:
        """master_scale.csv (both models, or one): PD boundaries, development and OOT shares."""
        return self.master_scale_table if model is None else \
            self.master_scale_table[self.master_scale_table["model"] == model].reset_index(drop=True)

    def master_scale_report(self):
        """The primary model's master scale, the challenger's collapsed (HTML)."""
        from creditmine.reports import train

        return train.master_scale(self.master_scale_table, self.meta["primary"])

    def plot_calibration(self, bins: int = 10):
        """Observed default rate against mean PD in PD deciles of the OOT (else holdout) data, as the
        saved PNG (an image whatever matplotlib's backend)."""
        from IPython.display import Image

        from creditmine.reports import train

        path = self.stage_dir / "plots" / "calibration.png"
        train.plot_calibration(self.scores, path, bins)
        return Image(filename=str(path))

    def central_tendency(self) -> pd.DataFrame:
        """Per model: reject inference, the calibration's note, the long-run rate, each margin of
        conservatism category, the final add-on and the log-odds shift that set the mean PD."""
        rows = []
        for name in MODEL_NAMES:
            found = self.meta.get("central_tendency", {}).get(name, {})
            moc = found.get("margin_of_conservatism", {})
            inference = self.meta.get("reject_inference", {}).get(name, {})
            rows.append({
                "model": name, "reject_inference": inference.get("method", "none"),
                "rejects": inference.get("rejects", 0), "calibration": self.meta["calibration"][name],
                "calibration_note": self.meta.get("calibration_notes", {}).get(name, ""),
                "target": found.get("target"), "long_run_default_rate": found.get("long_run_default_rate"),
                "moc_a": moc.get("category_a"), "moc_b": moc.get("category_b"), "moc_c": moc.get("category_c"),
                "add_on": moc.get("add_on"), "target_mean_pd": found.get("target_mean_pd"),
                "portfolio": found.get("anchor_applications"),
                "mean_pd_before": found.get("population_mean_pd_before"),
                "mean_pd_after": found.get("population_mean_pd_after"), "log_odds_shift": found.get("log_odds_shift"),
            })
        return pd.DataFrame(rows)

    def central_tendency_report(self):
        """`central_tendency`, one row per figure and one column per model (HTML)."""
        from creditmine.reports import train

        return train.central_tendency(self.central_tendency())


def primary_model(cfg, product: str) -> str:
    """The primary model of a product: its product file's `primary_model`, else params `models.primary`.

    Stage 02 decides it once and writes it to models.json; later stages read it from there.
    """
    return cfg.product(product).primary_model or cfg.params.models.primary


def run(cfg, product: str, progress: bool = True) -> TrainResult:
    """Stage 02 for one product: fit both models, calibrate, grade, score, and write the files.

    Parameters
    ----------
    cfg : RunConfig from `creditmine.config.load`.
    product : a product name of the params (`params/products/<product>.yaml`).
    progress : show tqdm bars while fitting.

    Returns
    -------
    TrainResult; files (see `creditmine.artifacts.Layout`): models/scorecard.skops,
    models/gbm.skops, models.json, scorecard_table.csv, scorecard.json, scorecard.sql,
    master_scale.csv, scores.parquet, train_metrics.json, plots/calibration.png.
    """
    started = time.perf_counter()
    where = artifacts.layout(cfg, product)
    scope_params = cfg.product(product)
    frame, catalog = artifacts.read_features(where), artifacts.read_catalog(where)
    scope = _product_scope(frame, scope_params, cfg.params_path)
    specs = [s for s in catalog if not scope_params.sources or s.source in scope_params.sources]
    lacking = [s.name for s in specs if s.name not in scope.columns]
    if lacking:
        raise ValueError(f"{where.features_table}: catalogued features missing: {lacking[:10]}")
    split = scope["split"].astype(str).to_numpy()
    train = split == SPLIT_TRAIN
    train_defaults = int(scope.loc[train, "default_12m"].sum())
    minimum = cfg.params.models.guards.min_train_defaults
    if len(np.unique(scope.loc[train, "default_12m"])) < 2 or train_defaults < minimum:
        raise ValueError(
            f"product {product}: the training applications have {train_defaults} defaults among {int(train.sum())}, "
            f"fewer than models.guards.min_train_defaults = {minimum}; a model fitted on so few defaults would "
            "rank by chance: add data (a longer history, a wider product scope) rather than train")
    candidates, dropped = [], {}
    for s in specs:
        if scope.loc[train, s.name].nunique(dropna=False) <= 1:
            dropped[s.name] = "dropped: constant in the training applications"
        else:
            candidates.append(s.name)
    directions = {s.name: int(s.risk_direction) for s in specs}
    categorical = [s.name for s in specs if s.kind == "categorical" and s.name in candidates]
    candidates, excluded, screened = guards.screen(scope.loc[train, candidates], scope.loc[train, "default_12m"],
                                                   categorical, cfg.params.models.guards)
    dropped.update(excluded)
    if not candidates:
        raise ValueError(f"product {product}: every candidate feature was excluded by the guards: "
                         + "; ".join(f"{k} {v}" for k, v in list(excluded.items())[:5]))
    categorical = [c for c in categorical if c in candidates]
    X = scope[candidates]
    rows = training.plan(cfg, scope, X, reject_inference.booked_flags(cfg, scope["application_id"]))

    models_params, seed = cfg.params.models, cfg.params.seed
    builders = {
        "scorecard": ScorecardModel.from_params(models_params, categorical, directions, seed, progress),
        "gbm": GbmModel.from_params(models_params, categorical, directions, seed, progress),
    }
    fitted, fit_seconds, inference = {}, {}, {}
    for name in tqdm(MODEL_NAMES, desc=f"stage 02 {product}", disable=not progress):
        t0 = time.perf_counter()
        dev = training.samples(rows, builders[name])
        fitted[name] = builders[name].fit(
            dev.X, dev.y, dev.X_val, dev.y_val, sample_weight=dev.w, sample_weight_val=dev.w_val,
            X_anchor=X[rows.anchor], y_history=rows.y_history, history_years=rows.history_years)
        inference[name] = dev.summary
        fit_seconds[name] = round(time.perf_counter() - t0, 2)

    scores = scope[[c for c in SCORE_KEY_COLUMNS if c in scope.columns]].reset_index(drop=True)
    for name, model in fitted.items():
        pd_ = model.predict_pd(X)
        scores[f"pd_{name}"] = pd_
        scores[f"score_{name}"] = model.credit_score(X)
        scores[f"grade_{name}"] = model.grade(X)

    meta = _models_meta(cfg, product, fitted, candidates, categorical, directions, dropped, fit_seconds)
    meta["reject_inference"] = inference
    meta["guards"] = {**screened, "min_train_defaults": cfg.params.models.guards.min_train_defaults,
                      "train_defaults": train_defaults}
    meta["central_tendency"] = {name: {**m.calibrator_.central_tendency_, **rows.describe()} for name, m in fitted.items()}
    meta["calibration_notes"] = {name: m.calibrator_.note_ for name, m in fitted.items() if m.calibrator_.note_}
    meta["master_scale_notes"] = {name: m.grading_.note_ for name, m in fitted.items() if getattr(m.grading_, "note_", "")}
    metrics = _train_metrics(fitted, scores)
    metrics["central_tendency"] = meta["central_tendency"]
    metrics["reject_inference"] = inference
    metrics["guards"] = meta["guards"]
    master = _write(where, fitted, meta, metrics, scores)
    return TrainResult(product, where.stage_dir(artifacts.TRAIN), fitted, meta, metrics, scores, master,
                       time.perf_counter() - started)


# -- helpers ----------------------------------------------------------------------------------
def _product_scope(frame: pd.DataFrame, scope_params, params_path) -> pd.DataFrame:
    codes = scope_params.application_products
    scope = frame[frame["product"].astype(str).isin(codes)] if codes else frame
    if scope.empty:
        raise ValueError(
            f"product {scope_params.name} ({params_path}): no application has product in {list(codes)}; "
            f"the feature table has {sorted(frame['product'].astype(str).unique())}"
        )
    unknown = sorted(set(scope["split"].astype(str)) - set(ALL_SPLITS))
    if unknown:
        raise ValueError(f"features.parquet: column 'split' has unknown values {unknown}")
    labelled_unmatured = scope["split"].isin(LABELLED_SPLITS) & scope["default_12m"].isna()
    if labelled_unmatured.any():
        row = scope.index[labelled_unmatured.to_numpy()][0]
        raise ValueError(f"features.parquet: row {row} is in split '{scope.loc[row, 'split']}' without an outcome")
    return scope.sort_values("application_id", kind="stable").reset_index(drop=True)


def _models_meta(cfg, product, fitted, candidates, categorical, directions, dropped, fit_seconds) -> dict:
    primary = primary_model(cfg, product)
    scorecard, gbm = fitted["scorecard"], fitted["gbm"]
    reasons = {**scorecard.selection_reasons_, **dropped}
    return {
        "product": product,
        "run_name": cfg.run_name,
        "params_hash": cfg.params_hash,
        "primary": primary,
        "challenger": next(m for m in MODEL_NAMES if m != primary),
        "features": list(candidates),
        "categorical_features": list(categorical),
        "risk_directions": {f: directions.get(f, 0) for f in candidates},
        "calibration": {name: m.calibrator_.method_ for name, m in fitted.items()},
        "calibration_cv_log_loss": {name: m.calibrator_.cv_log_loss_ for name, m in fitted.items()},
        "trials": gbm.trials_,
        "selection_reasons": reasons,
        "fit_seconds": fit_seconds,
        "models": {
            "scorecard": {
                "features": list(scorecard.features_),
                "selection_reasons": reasons,
                "intercept": scorecard.intercept_,
                "coefficients": dict(zip(scorecard.features_, scorecard.coef_.tolist())),
            },
            "gbm": {
                "features": list(gbm.model_features_),
                "monotonic_cst": dict(zip(gbm.model_features_, gbm.monotonic_cst_)),
                "categories": gbm.categories_,
                "trials": gbm.trials_,
                "n_iter": int(gbm.estimator_.n_iter_),
            },
        },
        "scale": cfg.params.models.scale.model_dump(),
        "grades": cfg.params.models.master_scale.grades,
    }


def _train_metrics(fitted, scores: pd.DataFrame) -> dict:
    split = scores["split"].to_numpy()
    y = scores["default_12m"].to_numpy(dtype=float)
    auc: dict[str, dict] = {}
    for name in fitted:
        auc[name] = {}
        for s in LABELLED_SPLITS:
            rows = split == s
            if rows.any() and len(np.unique(y[rows])) == 2:
                auc[name][s] = float(roc_auc_score(y[rows], scores.loc[rows, f"pd_{name}"]))
    counts = {}
    for s in ALL_SPLITS:
        outcomes = y[(split == s) & ~np.isnan(y)]
        counts[s] = {
            "applications": int((split == s).sum()), "defaults": int(outcomes.sum()),
            "default_rate": float(outcomes.mean()) if len(outcomes) else None,
        }
    coefficients = fitted["scorecard"].coefficients_
    return {
        "auc": auc,
        "splits": counts,
        "coefficients": json.loads(coefficients.to_json(orient="records")),
        "sign_check": {
            "all_ok": bool(coefficients["sign_ok"].all() and coefficients["points_monotone_ok"].all()),
            "wrong_sign": coefficients.loc[~coefficients["sign_ok"], "feature"].tolist(),
            "points_not_monotone": coefficients.loc[~coefficients["points_monotone_ok"], "feature"].tolist(),
        },
        "iv": fitted["scorecard"].iv_,
    }


def _write(where, fitted, meta: dict, metrics: dict, scores: pd.DataFrame) -> pd.DataFrame:
    """Every file of stage 02; returns the master-scale table written."""
    for name, model in fitted.items():
        artifacts.write_model(where, name, model)
    artifacts.write_models_meta(where, meta)
    artifacts.write_train_metrics(where, metrics)
    scorecard = fitted["scorecard"]
    scorecard.scorecard_table_.to_csv(where.scorecard_table, index=False)
    where.scorecard_json.write_text(scorecard.to_json(), encoding="utf-8")
    where.scorecard_sql.write_text(scorecard.to_sql("applications") + "\n", encoding="utf-8")
    scales = []
    oot = scores["split"] == SPLIT_OOT
    for name, model in fitted.items():
        scale = model.master_scale_.rename(columns={
            "count": "count_development", "share": "share_development", "defaults": "defaults_development",
            "observed_default_rate": "observed_default_rate_development", "pd_mean": "pd_mean_development",
        })
        if oot.any():
            oot_table = grade_table(
                scale["pd_lower"].to_numpy(), scale["pd_upper"].to_numpy(),
                scores.loc[oot, f"pd_{name}"].to_numpy(), scores.loc[oot, "default_12m"].to_numpy(dtype=float),
            )
            scale["share_oot"] = oot_table["share"].to_numpy()
            scale["observed_default_rate_oot"] = oot_table["observed_default_rate"].to_numpy()
        scales.append(scale.assign(model=name))
    master = pd.concat(scales, ignore_index=True)
    master = master[["model", *[c for c in master.columns if c != "model"]]]
    artifacts.write_master_scale(where, master)
    artifacts.write_scores(where, scores)
    return master
