"""Stage 04: the independent validation of a product's models, from the files stages 01-03 wrote.

`validate_product` reads `02_train/scores.parquet`, `models.json`, `master_scale.csv`, the feature
table and catalog of stage 01 and, when present, `03_explain/explain.json`; it computes
discrimination, calibration, the ECB back-testing battery, stability, concentration, segments and
financial inclusion for the primary model and the challenger on the train, holdout and out-of-time
samples; lights every test from the params thresholds; and writes `validation.json`,
`model_card.md`, `model_card.html`, `tables/*.csv` and `plots/*.png` to `04_validate/`.

Choices a validator should know:
- Development AUC is the in-time holdout AUC (the train AUC of a boosted model is optimistic);
  the train sample is used only as the reference distribution for PSI, CSI and concentration.
- Rating migrations: an enterprise's last application up to `split.train_end` and its first
  application from `split.oot_start` on, labelled or not, are its two rating dates.
- Without application dates (a bring-your-own data set with no date column) the time-based parts
  (PSI by month, source missing-rates by month, migrations) are skipped and say so.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from creditmine.config import RunConfig, ValidationParams
from creditmine.validation import backtests, metrics, model_card, segments, stability
from creditmine.validation.lights import Light, evaluate_lights, lights_table, style_lights, verdict

__all__ = ["ValidationResult", "load_stage_inputs", "validate_product", "validate_frames"]

SPLITS = ("train", "holdout", "oot")
_SCORE_COLUMNS = ("application_id", "split", "default_12m")


@dataclass
class ValidationResult:
    """Everything stage 04 found: the verdict, the lights, flat metrics, tables and plot files."""

    product: str
    verdict: str
    lights: list[Light]
    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    stage_dir: Path | None = None
    card_markdown: str = ""

    def lights_table(self):
        """The lights as a coloured pandas Styler (gating tests first)."""
        return style_lights(lights_table(self.lights))

    def verdict_banner(self):
        """The verdict as a coloured HTML banner for the report."""
        from IPython.display import HTML

        colour = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}[self.verdict]
        gates = ", ".join(light.test for light in self.lights if light.gating)
        return HTML(
            f'<div style="background:{colour};color:white;padding:0.6em 1em;font-size:1.4em">'
            f"Validation verdict for {self.product}: <b>{self.verdict.upper()}</b></div>"
            f"<p>The verdict is the worst light of the gating tests ({gates}).</p>"
        )

    def table(self, name: str) -> pd.DataFrame:
        """One result table by name (see `tables`)."""
        if name not in self.tables:
            raise KeyError(f"no table '{name}'; tables: {', '.join(self.tables)}")
        return self.tables[name]

    def plot(self, name: str):
        """One saved plot as an inline image, or a note when that part was skipped."""
        from IPython.display import Image, Markdown

        if name not in self.plots:
            reason = self.skipped.get(name, "not produced for this model")
            return Markdown(f"*Plot '{name}' not shown: {reason}.*")
        return Image(filename=str(self.plots[name]))

    def section(self, name: str):
        """One report section as HTML: what it tests, its tables and its plots (embedded PNG).

        Sections: discrimination, calibration, ecb, stability, concentration, segments, inclusion.
        """
        from IPython.display import HTML

        if name not in _SECTIONS:
            raise KeyError(f"no section '{name}'; sections: {', '.join(_SECTIONS)}")
        text, tables, plots = _SECTIONS[name]
        parts = [f"<p>{text}</p>"]
        for table_name, caption, pick in tables:
            if table_name not in self.tables or not len(self.tables[table_name]):
                reason = self.skipped.get(_SKIP_KEYS.get(table_name, table_name), "not computed for this model")
                parts.append(f"<p><i>{caption}: not shown ({reason}).</i></p>")
                continue
            table = pick(self.tables[table_name], self) if pick else self.tables[table_name]
            table = table.copy()
            for column in table.columns:
                if pd.api.types.is_datetime64_any_dtype(table[column]):
                    table[column] = table[column].dt.strftime("%Y-%m")
            keep_index = table.index.name is not None or not isinstance(table.index, pd.RangeIndex)
            styler = table.style.format(precision=4, na_rep="")
            if not keep_index:
                styler = styler.hide(axis="index")
            parts.append(f"<h4>{caption}</h4>" + styler.to_html())
        for plot in plots:
            names = [p for p in self.plots if p.startswith(plot)] if plot.endswith("_") else [plot]
            for plot_name in names:
                if plot_name in self.plots:
                    data = base64.b64encode(self.plots[plot_name].read_bytes()).decode()
                    parts.append(f'<img alt="{plot_name}" src="data:image/png;base64,{data}" style="max-width:48%;margin:4px">')
                else:
                    parts.append(f"<p><i>Plot {plot_name} not shown: {self.skipped.get(plot_name, 'not produced')}.</i></p>")
        return HTML("\n".join(parts))

    def model_card(self):
        """The model card as rendered Markdown."""
        from IPython.display import Markdown

        return Markdown(self.card_markdown)

    def skipped_table(self) -> pd.DataFrame:
        """The parts that could not be assessed, with the reason."""
        return pd.DataFrame({"part": list(self.skipped), "reason": list(self.skipped.values())})


def validate_product(cfg: RunConfig, product: str, initial_auc: float | None = None,
                     progress: bool = True) -> ValidationResult:
    """Stage 04 for one product: read the earlier stages' files, validate, write 04_validate/.

    Parameters
    ----------
    cfg : the validated run configuration.
    product : a product of `cfg` whose stage 02 has run.
    initial_auc : the champion's development AUC (from the registry) for the ECB AUC back-test;
        None uses the primary model's own development (holdout) AUC.
    progress : show a tqdm bar over the parts.
    """
    product_params = cfg.product(product)
    inputs = load_stage_inputs(cfg, product)
    split_params = cfg.params.split
    result = validate_frames(
        scores=inputs["scores"], features=inputs["features"], catalog=inputs["catalog"],
        meta=inputs["meta"], master_scale=inputs["master_scale"], explain=inputs["explain"],
        enterprises=inputs["enterprises"],
        params=cfg.params.validation, approve_grades=product_params.policy.approve_grades,
        product=product, seed=cfg.params.seed, initial_auc=initial_auc,
        train_end=split_params.train_end, oot_start=split_params.oot_start,
        out_dir=cfg.stage_dir("04_validate", product), progress=progress,
        card_facts={
            "product_title": product_params.title_en,
            "application_products": list(product_params.application_products),
            "run_name": cfg.run_name, "params_file": str(cfg.params_path),
        },
    )
    return result


def load_stage_inputs(cfg: RunConfig, product: str) -> dict:
    """The files stage 04 reads, checked: scores, meta, master_scale, features, catalog, explain,
    and the raw enterprises table (district, industry, size for the segments) when it exists."""
    train_dir = cfg.stage_dir("02_train", product)
    features_dir = cfg.stage_dir("01_build_features")
    scores_path = train_dir / "scores.parquet"
    meta_path = train_dir / "models.json"
    scale_path = train_dir / "master_scale.csv"
    for path in (scores_path, meta_path, scale_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run stage 02 (train) for product '{product}' first")
    scores = pd.read_parquet(scores_path)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for key in ("primary", "challenger"):
        if key not in meta:
            raise ValueError(f"{meta_path}: key '{key}' is missing")
    _require(scores, [*_SCORE_COLUMNS, *(f"{k}_{m}" for m in (meta["primary"], meta["challenger"])
                                         for k in ("pd", "grade"))], scores_path)
    bad_split = ~scores["split"].isin([*SPLITS, "unlabelled"])
    if bad_split.any():
        row = int(np.flatnonzero(bad_split.to_numpy())[0])
        raise ValueError(f"{scores_path}: column 'split' row {row} is {scores['split'].iloc[row]!r}; "
                         "expected train, holdout, oot or unlabelled")
    master_scale = pd.read_csv(scale_path)
    _require(master_scale, ["grade", "pd_lower", "pd_upper"], scale_path)
    features_path = features_dir / "features.parquet"
    features = pd.read_parquet(features_path) if features_path.is_file() else None
    catalog_path = features_dir / "catalog.json"
    catalog = json.loads(catalog_path.read_text(encoding="utf-8")) if catalog_path.is_file() else []
    explain_path = cfg.stage_dir("03_explain", product) / "explain.json"
    explain = json.loads(explain_path.read_text(encoding="utf-8")) if explain_path.is_file() else None
    return {"scores": scores, "meta": meta, "master_scale": master_scale, "features": features,
            "catalog": catalog, "explain": explain, "enterprises": _enterprises(cfg)}


def validate_frames(*, scores: pd.DataFrame, meta: dict, master_scale: pd.DataFrame,
                    features: pd.DataFrame | None, catalog: list[dict], explain: dict | None,
                    params: ValidationParams, approve_grades, product: str, seed: int,
                    initial_auc: float | None, train_end=None, oot_start=None,
                    out_dir: Path | None = None, progress: bool = True,
                    card_facts: dict | None = None,
                    enterprises: pd.DataFrame | None = None) -> ValidationResult:
    """The validation on in-memory frames (what `validate_product` runs after reading the files).

    `enterprises` (enterprise_id and attributes such as district) adds segment columns that the
    feature table lacks. Writes the outputs to `out_dir` when given.
    """
    run = _Validation(scores, meta, master_scale, features, catalog, explain, enterprises, params,
                      approve_grades, product, seed, initial_auc, train_end, oot_start, out_dir)
    parts = [run.discrimination, run.calibration, run.ecb_battery, run.stability,
             run.concentration, run.segments, run.inclusion, run.explanations]
    for part in tqdm(parts, desc=f"validate {product}", disable=not progress, unit="part"):
        part()
    return run.finish(card_facts or {})


class _Validation:
    """The state of one validation run; each public method computes one section."""

    def __init__(self, scores, meta, master_scale, features, catalog, explain, enterprises, params,
                 approve_grades, product, seed, initial_auc, train_end, oot_start, out_dir):
        self.meta, self.params, self.product, self.seed = meta, params, product, seed
        self.primary, self.challenger = meta["primary"], meta["challenger"]
        self.models = [self.primary] + ([self.challenger] if self.challenger != self.primary else [])
        self.approve_grades = tuple(int(g) for g in approve_grades)
        self.initial_auc = initial_auc
        self.explain = explain
        self.catalog = catalog or []
        self.master_scale = master_scale
        self.n_grades = int(max(master_scale["grade"].max(),
                                *(scores[f"grade_{m}"].max() for m in self.models)))
        self.frame = _join(scores, features, enterprises)
        self.has_dates = "applied_at" in self.frame and self.frame["applied_at"].notna().any()
        if self.has_dates:
            self.frame["applied_at"] = pd.to_datetime(self.frame["applied_at"])
        self.train_end, self.oot_start = train_end, oot_start
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.values: dict[str, float | None] = {}
        self.notes: dict[str, str] = {}
        self.metrics: dict[str, float] = {}
        self.tables: dict[str, pd.DataFrame] = {}
        self.figures: dict[str, object] = {}
        self.skipped: dict[str, str] = {}

    # -- sections ------------------------------------------------------------------------------
    def discrimination(self) -> None:
        rows = []
        for model in self.models:
            curves = {}
            for split in SPLITS:
                y, score = self._labelled(split, f"pd_{model}")
                if len(y) == 0 or y.min() == y.max():
                    self.skipped[f"discrimination {model} {split}"] = "no labelled loans of both outcomes"
                    continue
                found = metrics.discrimination(y, score)
                ci = metrics.bootstrap_ci(y, score, self.params.bootstrap, self.params.confidence, self.seed)
                rows.append({"model": model, "role": self._role(model), "split": split, **found,
                             **{f"{k}_low": v[0] for k, v in ci.items()},
                             **{f"{k}_high": v[1] for k, v in ci.items()}})
                curves[split] = (y, score)
            if curves:
                self.figures[f"roc_{model}"] = metrics.plot_roc(curves, f"ROC curve: {model}")
        table = pd.DataFrame(rows)
        self.tables["discrimination"] = table
        self._record_table("discrimination", table, ["auc", "auc_low", "auc_high", "gini", "gini_low",
                                                     "gini_high", "ks", "ks_low", "ks_high", "auc_se", "n", "defaults"])
        primary = {r["split"]: r for r in rows if r["model"] == self.primary}
        dev_split = "holdout" if "holdout" in primary else "train"
        self.development_auc = primary.get(dev_split, {}).get("auc", float("nan"))
        self.metrics["development_auc"] = self.development_auc
        oot_auc = primary.get("oot", {}).get("auc")
        self.values["auc_oot"] = oot_auc
        self.values["auc_holdout"] = primary.get("holdout", {}).get("auc")
        self.values["ks_oot"] = primary.get("oot", {}).get("ks")
        drop = self.development_auc - oot_auc if oot_auc is not None else None
        self.metrics["auc_drop"] = drop if drop is not None else float("nan")
        dev_defaults = primary.get(dev_split, {}).get("defaults", 0)
        if drop is not None and dev_defaults < self.params.min_segment_defaults:
            # an AUC on a handful of defaults is noise; a drop measured from it would judge the noise
            self._skip("auc_drop", f"{dev_split} has {dev_defaults} defaults, fewer than "
                       f"validation.min_segment_defaults = {self.params.min_segment_defaults}; too few to judge")
        else:
            self.values["auc_drop"] = drop
            self.notes["auc_drop"] = f"{dev_split} AUC {self.development_auc:.3f} minus out-of-time AUC"
        y, score = self._labelled("oot", f"pd_{self.primary}")
        if len(y) and y.min() != y.max():
            self.figures["ks_oot"] = metrics.plot_ks(y, score, f"KS on out-of-time: {self.primary}")
        if self.challenger != self.primary:
            tests = []
            for split in ("holdout", "oot"):
                rows_mask = self._mask(split)
                sub = self.frame[rows_mask]
                if len(sub) == 0 or sub["default_12m"].nunique() < 2:
                    continue
                test = metrics.delong_test(sub["default_12m"], sub[f"pd_{self.primary}"], sub[f"pd_{self.challenger}"])
                tests.append({"split": split, "auc_primary": test.auc_a, "auc_challenger": test.auc_b,
                              "difference": test.difference, "se": test.se, "z": test.z, "p_value": test.p_value})
                self.metrics[f"delong.{split}.z"] = test.z
                self.metrics[f"delong.{split}.p_value"] = test.p_value
                if split == "oot":
                    self.values["challenger_auc_gap"] = -test.difference
                    self.notes["challenger_auc_gap"] = (f"challenger minus primary AUC; DeLong p = {test.p_value:.3g}")
                    self.figures["roc_oot_primary_vs_challenger"] = metrics.plot_roc(
                        {f"primary {self.primary}": (sub["default_12m"], sub[f"pd_{self.primary}"]),
                         f"challenger {self.challenger}": (sub["default_12m"], sub[f"pd_{self.challenger}"])},
                        "Out-of-time ROC: primary against challenger")
            self.tables["delong"] = pd.DataFrame(tests)

    def calibration(self) -> None:
        grade_tables, hl_rows, curves = [], [], {}
        for model in self.models:
            for split in SPLITS:
                sub = self.frame[self._mask(split)]
                if len(sub) == 0:
                    continue
                y, p, g = sub["default_12m"], sub[f"pd_{model}"], sub[f"grade_{model}"]
                by_grade = backtests.calibration_by_grade(y, p, g, self.n_grades)
                grade_tables.append(by_grade.reset_index().assign(model=model, split=split))
                groups = g if self.params.hosmer_lemeshow_groups is None else _quantile_groups(p, self.params.hosmer_lemeshow_groups)
                hl = backtests.hosmer_lemeshow(y, p, groups, dof_reduction=2 if split == "train" else 0)
                brier = backtests.brier_score(y, p)
                hl_rows.append({"model": model, "split": split, "hosmer_lemeshow": hl.statistic, "dof": hl.dof,
                                "hosmer_lemeshow_p": hl.p_value, "brier": brier,
                                "mean_pd": float(p.mean()), "observed_rate": float(y.mean())})
                portfolio = by_grade.loc["portfolio"]
                for name, value in (("brier", brier), ("hosmer_lemeshow_p", hl.p_value),
                                    ("binomial_p", portfolio["binomial_p"]), ("jeffreys_p", portfolio["jeffreys_p"]),
                                    ("mean_pd", portfolio["mean_pd"]), ("observed_rate", portfolio["observed_rate"])):
                    self.metrics[f"{model}.{split}.{name}"] = float(value)
                if model == self.primary:
                    curves[split] = backtests.calibration_curve(y, p, self.params.calibration_bins)
                if model == self.primary and split == "oot":
                    self.values["calibration_pvalue"] = float(portfolio["binomial_p"])
                    self.notes["calibration_pvalue"] = (
                        f"portfolio binomial test, mean PD {portfolio['mean_pd']:.4f} vs observed "
                        f"{portfolio['observed_rate']:.4f}")
                    self.values["jeffreys_pvalue"] = float(portfolio["jeffreys_p"])
                    self.values["hosmer_lemeshow_pvalue"] = hl.p_value
                    grades = by_grade.drop(index="portfolio")
                    judged = grades[grades["n"] >= self.params.min_segment_size]
                    under = (judged["jeffreys_p"] < self.params.thresholds["jeffreys_pvalue"].green).mean() if len(judged) else None
                    self.values["grades_underestimated_share"] = None if under is None else float(under)
                    self.notes["grades_underestimated_share"] = (
                        f"share of {len(judged)} grades with >= {self.params.min_segment_size} loans whose "
                        "Jeffreys test says the PD is underestimated")
                    self.figures["calibration"] = backtests.plot_calibration(
                        {f"{s}": c for s, c in curves.items()}, by_grade, f"Calibration: {self.primary}")
        self.tables["calibration_by_grade"] = pd.concat(grade_tables, ignore_index=True) if grade_tables else pd.DataFrame()
        self.tables["calibration_summary"] = pd.DataFrame(hl_rows)

    def ecb_battery(self) -> None:
        # 2.5.4.1: current AUC against the AUC at initial validation
        y, score = self._labelled("oot", f"pd_{self.primary}")
        source = "champion's development AUC" if self.initial_auc is not None else "the model's own development AUC"
        initial = self.initial_auc if self.initial_auc is not None else self.development_auc
        rows = []
        if len(y) and y.min() != y.max() and np.isfinite(initial):
            test = backtests.ecb_auc_test(initial, y, score)
            rows.append({"test": "AUC current vs initial (2.5.4.1)", "initial": test.auc_initial,
                         "current": test.auc_current, "statistic": test.statistic, "p_value": test.p_value,
                         "note": f"initial = {source}; s = DeLong SE {test.s_current:.4f}"})
            self.values["ecb_auc_pvalue"] = test.p_value
            self.notes["ecb_auc_pvalue"] = f"S = {test.statistic:.3f}; initial AUC {initial:.3f} ({source})"
            self.metrics.update({"ecb.auc_initial": test.auc_initial, "ecb.auc_current": test.auc_current,
                                 "ecb.auc_statistic": test.statistic, "ecb.auc_p_value": test.p_value})
        else:
            self.skipped["ecb_auc_pvalue"] = "no out-of-time loans of both outcomes"
        # 2.5.5.1-2: migrations between two rating dates
        self._migrations(rows)
        # 2.5.5.3: concentration in grades, current (out-of-time) against initial (train)
        init = self.frame.loc[self.frame["split"] == "train", f"grade_{self.primary}"]
        curr = self.frame.loc[self.frame["split"] == "oot", f"grade_{self.primary}"]
        if len(init) and len(curr):
            c_init = np.bincount(init.astype(int), minlength=self.n_grades + 1)[1:]
            c_curr = np.bincount(curr.astype(int), minlength=self.n_grades + 1)[1:]
            herf = backtests.herfindahl_test(c_init, c_curr)
            rows.append({"test": "Herfindahl concentration (2.5.5.3)", "initial": herf.hi_initial,
                         "current": herf.hi_current, "statistic": herf.cv_current - herf.cv_initial,
                         "p_value": herf.p_value,
                         "note": f"HI; CV initial {herf.cv_initial:.3f}, current {herf.cv_current:.3f}"})
            self.values["herfindahl_pvalue"] = herf.p_value
            self.notes["herfindahl_pvalue"] = (f"HI {herf.hi_initial:.3f} on train, {herf.hi_current:.3f} out of time; "
                                               "a master scale cut into equal train shares makes any shift show")
            self.metrics.update({"ecb.cv_initial": herf.cv_initial, "ecb.hi_initial": herf.hi_initial,
                                 "ecb.cv_current": herf.cv_current, "ecb.hi_current": herf.hi_current,
                                 "ecb.herfindahl_p_value": herf.p_value})
        self.tables["ecb_battery"] = pd.DataFrame(rows, columns=["test", "initial", "current", "statistic", "p_value", "note"])

    def stability(self) -> None:
        score_column = f"score_{self.primary}" if f"score_{self.primary}" in self.frame else f"pd_{self.primary}"
        reference = self.frame.loc[self.frame["split"] == "train", score_column]
        current = self.frame.loc[self.frame["split"] == "oot", score_column]
        if len(reference) and len(current):
            value = stability.psi(reference, current, bins=self.params.psi_bins)
            self.values["psi_score"] = value
            self.notes["psi_score"] = f"{score_column}, train against out-of-time"
            self.metrics["psi_score"] = value
        if self.has_dates:
            months = stability.psi_by_month(reference, self.frame[score_column], self.frame["applied_at"],
                                            bins=self.params.psi_bins, min_size=self.params.min_month_size)
            # development months are the reference itself: judge the months since out-of-time began
            months["judged"] &= months["month"] >= self._monitoring_start()
            self.tables["psi_by_month"] = months
            judged = months[months["judged"]]
            if len(judged):
                self.values["psi_score_month_max"] = float(judged["psi"].max())
                worst = judged.loc[judged["psi"].idxmax(), "month"]
                self.notes["psi_score_month_max"] = f"worst month {worst:%Y-%m} of {len(judged)} judged"
            else:
                self._skip("psi_score_month_max", f"no month since {self._monitoring_start():%Y-%m} has "
                           f"{self.params.min_month_size} applications (validation.min_month_size); "
                           "months are shown, not judged")
            t = self.params.thresholds["psi_score_month_max"]
            self.figures["psi_by_month"] = stability.plot_psi_by_month(months, t.green, t.amber)
        else:
            self._skip("psi_score_month_max", "no application dates: PSI by month cannot be computed")
            self.skipped["psi_by_month"] = "no application dates"
        # CSI per feature of the primary model (train against out-of-time)
        features = [f for f in (self._model_features() or [c["name"] for c in self.catalog]) if f in self.frame]
        if features and len(reference) and len(current):
            kinds = {c["name"]: c.get("kind", "numeric") for c in self.catalog}
            csi = stability.csi_table(self.frame.loc[self.frame["split"] == "train", features],
                                      self.frame.loc[self.frame["split"] == "oot", features], kinds, self.params.psi_bins)
            self.tables["csi"] = csi
            self.values["csi_max"] = float(csi["csi"].max())
            self.notes["csi_max"] = f"most shifted feature: {csi['feature'].iloc[0]}"
            for row in csi.itertuples():
                self.metrics[f"csi.{row.feature}"] = row.csi
            self.figures["csi"] = _bar(csi.head(15), "feature", "csi", "CSI per feature (most shifted 15)")
        else:
            self._skip("csi_max", "no feature table from stage 01 with the model's features")
        # missing-rate of each data source per month
        sources: dict[str, list[str]] = {}
        for spec in self.catalog:
            # a source is dark for an application when all its measured features are missing;
            # the 0/1 "<source>_missing" flags are never missing themselves, so they are left out
            is_flag = spec.get("unit") == "flag" or spec["name"].endswith("_missing")
            if (spec.get("kind", "numeric") == "numeric" and spec.get("source") and not is_flag
                    and spec["name"] in self.frame):
                sources.setdefault(spec["source"], []).append(spec["name"])
        if self.has_dates and sources:
            missing = stability.source_missing_by_month(self.frame, sources, self.frame["applied_at"])
            sizes = self.frame.groupby(self.frame["applied_at"].dt.to_period("M").dt.to_timestamp()).size()
            baseline = self.frame.loc[self.frame["split"] == "train"]
            base_rate = stability.source_missing_by_month(
                baseline, sources, pd.Series(pd.Timestamp("2000-01-01"), index=baseline.index)).iloc[0] if len(baseline) else None
            self.tables["source_missing_by_month"] = missing.reset_index()
            if base_rate is not None:
                big = sizes.reindex(missing.index).fillna(0).to_numpy() >= self.params.min_month_size_missing
                judged = missing[big & (missing.index >= self._monitoring_start())]
                jumps = (judged - base_rate).max() if len(judged) else pd.Series(dtype=float)
                if not len(jumps):
                    self._skip("source_missing_jump", f"no month since {self._monitoring_start():%Y-%m} has "
                               f"{self.params.min_month_size_missing} applications (validation.min_month_size_missing)")
                else:
                    self.values["source_missing_jump"] = float(jumps.max())
                    worst = jumps.idxmax()
                    month = (judged[worst] - base_rate[worst]).idxmax()
                    self.notes["source_missing_jump"] = (f"{worst} in {month:%Y-%m}: {judged.loc[month, worst]:.0%} "
                                                         f"without data vs {base_rate[worst]:.0%} in development")
                    for source, value in jumps.items():
                        self.metrics[f"missing_jump.{source}"] = float(value)
            # sources never missing in any month (application, enterprise attributes) would only crowd the plot
            self.figures["source_missing"] = stability.plot_source_missing(missing.loc[:, missing.max() > 0])
        else:
            reason = "no application dates" if not self.has_dates else "the catalog names no data sources"
            self._skip("source_missing_jump", f"{reason}: source missing-rates by month cannot be computed")
            self.skipped["source_missing"] = reason

    def concentration(self) -> None:
        rows = []
        for split in (*SPLITS, "all"):
            grades = self.frame[f"grade_{self.primary}"] if split == "all" else \
                self.frame.loc[self.frame["split"] == split, f"grade_{self.primary}"]
            if len(grades) == 0:
                continue
            shares = backtests.grade_concentration(grades, self.n_grades)
            rows.append(shares.reset_index().assign(split=split))
            if split == "oot":
                hhi = float((shares["share"] ** 2).sum())
                self.values["grade_concentration_hhi"] = hhi
                self.notes["grade_concentration_hhi"] = f"sum of squared grade shares out of time; {1 / self.n_grades:.3f} if even"
                self.values["grade_max_share"] = float(shares["share"].max())
                self.notes["grade_max_share"] = f"grade {int(shares['share'].idxmax())} on out-of-time"
                self.figures["grade_shares"] = _grade_share_plot(shares, self.approve_grades)
        self.tables["grade_shares"] = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    def segments(self) -> None:
        sample = self.frame[self.frame["split"] == "oot"].copy()
        tables = []
        for column in self.params.segment_columns:
            source = column
            if column == "size":
                source = next((c for c in self.params.size_columns if c in sample.columns), None)
                if source is None:
                    self.skipped["segment size"] = f"none of the size columns {', '.join(self.params.size_columns)}"
                    continue
                sample["size"] = segments.size_bands(sample[source], self.params.size_bands).to_numpy()
                source = "size"
            elif column not in sample.columns:
                self.skipped[f"segment {column}"] = f"column '{column}' is not in the scores or features"
                continue
            table = segments.segment_table(
                sample, source, y="default_12m", pd_column=f"pd_{self.primary}", grade=f"grade_{self.primary}",
                approve_grades=self.approve_grades, min_size=self.params.min_segment_size,
                min_defaults=self.params.min_segment_defaults)
            tables.append(table)
            self.figures[f"segments_{column}"] = segments.plot_segments(table, f"Out-of-time by {column}")
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        self.tables["segments"] = table
        judged = table[table["judged"] & table["auc"].notna()] if len(table) else table
        if len(judged):
            worst = judged.loc[judged["auc"].idxmin()]
            self.values["segment_auc_min"] = float(worst["auc"])
            small = int((~table["judged"]).sum())
            self.notes["segment_auc_min"] = (f"{worst['by']} = {worst['segment']}; {small} segments too small to judge")
        else:
            self._skip("segment_auc_min", "no segment large enough to judge")

    def inclusion(self) -> None:
        sample = self.frame[self.frame["split"] == "oot"]
        if "product" not in sample:
            self._skip("first_time_approval_ratio", "the scores have no product column")
            return
        first = sample["product"].isin(self.params.first_time_products).to_numpy()
        if not first.any() or first.all():
            self._skip("first_time_approval_ratio", "no first-time borrowers (products "
                       f"{', '.join(self.params.first_time_products)}) beside other applications out of time")
            return
        found = segments.inclusion_analysis(sample, first, y="default_12m", pd_column=f"pd_{self.primary}",
                                            grade=f"grade_{self.primary}", approve_grades=self.approve_grades)
        self.tables["inclusion"] = pd.DataFrame([found]).T.rename(columns={0: "value"})
        self.values["first_time_approval_ratio"] = found["approval_ratio"]
        self.notes["first_time_approval_ratio"] = (
            f"first-time {found['first_time_approval_rate']:.1%} vs others {found['others_approval_rate']:.1%}; "
            f"at the portfolio's bad rate {found['equal_bad_rate_approval_rate']:.1%} could be approved")
        for key, value in found.items():
            self.metrics[f"inclusion.{key}"] = value

    def explanations(self) -> None:
        if self.explain is None:
            self.skipped["explanations"] = "03_explain/explain.json not found"
            return
        for key, value in _flatten(self.explain).items():
            self.metrics[f"explain.{key}"] = value

    # -- finishing -----------------------------------------------------------------------------
    def finish(self, card_facts: dict) -> ValidationResult:
        for name, reason in self.skipped.items():
            if name in self.params.thresholds and name not in self.values:
                self.values[name] = None
                self.notes.setdefault(name, reason)
        lights = evaluate_lights(self.values, self.params, self.notes)
        final = verdict(lights)
        for light in lights:
            if light.value is not None:
                self.metrics[f"light.{light.test}"] = light.value
        flat = {k: float(v) for k, v in self.metrics.items() if _is_number(v)}
        card = self._card(card_facts, lights, final)
        result = ValidationResult(self.product, final, lights, flat, self.tables, {}, dict(self.skipped),
                                  self.out_dir, card)
        if self.out_dir is not None:
            self._write(result, lights, card_facts)
        return result

    def _write(self, result: ValidationResult, lights: list[Light], card_facts: dict) -> None:
        out = self.out_dir
        (out / "plots").mkdir(parents=True, exist_ok=True)
        (out / "tables").mkdir(parents=True, exist_ok=True)
        for name, figure in self.figures.items():
            path = out / "plots" / f"{name}.png"
            figure.savefig(path, dpi=110)
            result.plots[name] = path
        for name, table in self.tables.items():
            if len(table):
                table.to_csv(out / "tables" / f"{name}.csv", index=not isinstance(table.index, pd.RangeIndex))
        document = {
            "product": self.product, "verdict": result.verdict,
            "gating": list(self.params.gating),
            "primary": self.primary, "challenger": self.challenger,
            "initial_auc": self.initial_auc if self.initial_auc is not None else self.development_auc,
            "initial_auc_source": "champion" if self.initial_auc is not None else "own development",
            "lights": [light.to_dict() for light in lights],
            "metrics": result.metrics,
            "skipped": result.skipped,
            "plots": sorted(p.name for p in result.plots.values()),
            **{k: v for k, v in card_facts.items() if k in ("run_name", "params_file")},
        }
        (out / "validation.json").write_text(json.dumps(document, indent=2, allow_nan=False), encoding="utf-8")
        sections = model_card.model_card_sections(self._card_facts(card_facts, lights, result.verdict))
        title = f"Model card: creditmine-{self.product}"
        (out / "model_card.md").write_text(model_card.to_markdown(title, sections), encoding="utf-8")
        (out / "model_card.html").write_text(model_card.to_html(title, sections, result.verdict), encoding="utf-8")

    def _card(self, facts: dict, lights, final) -> str:
        sections = model_card.model_card_sections(self._card_facts(facts, lights, final))
        return model_card.to_markdown(f"Model card: creditmine-{self.product}", sections)

    def _card_facts(self, facts: dict, lights, final) -> dict:
        frame = self.frame
        if self.has_dates:
            window = f"applications {frame['applied_at'].min():%Y-%m-%d} to {frame['applied_at'].max():%Y-%m-%d}"
            if self.train_end and self.oot_start:
                window += f"; development up to {self.train_end}, out-of-time from {self.oot_start}"
        else:
            window = "no application dates; a stratified random sample stands in for out-of-time"
        splits = {s: (int((frame["split"] == s).sum()),
                      int(frame.loc[frame["split"] == s, "default_12m"].sum()) if s != "unlabelled" else "no outcome yet")
                  for s in (*SPLITS, "unlabelled")}
        disc = self.tables.get("discrimination", pd.DataFrame())
        metric_rows = [{"model": r["model"], "split": r["split"], "auc": r["auc"],
                        "auc_ci": (r["auc_low"], r["auc_high"]), "gini": r["gini"], "ks": r["ks"]}
                       for _, r in disc.iterrows()]
        red = [l.test for l in lights if l.light == "red"]
        small = self.tables.get("segments", pd.DataFrame())
        limitations = [
            "PDs are 12-month probabilities of default estimated on booked, matured loans; declined "
            "applications have no outcome (reject inference is not applied).",
            "Out-of-time performance covers one period; a new macro shock may move default rates.",
        ]
        if red:
            limitations.append(f"Red lights: {', '.join(red)}.")
        if len(small) and (~small["judged"]).any():
            limitations.append(f"{int((~small['judged']).sum())} segments are too small to judge.")
        ethical = [
            "Decisions use government data about enterprises, not about persons; owners' personal "
            "data and protected characteristics are not features.",
            "First-time borrowers (no credit history) are monitored for approval-rate gaps "
            "(financial inclusion light).",
            "Every automated decline carries reason codes so that the applicant can contest it.",
        ]
        return {
            "model_name": f"creditmine-{self.product}", "product": self.product, "verdict": final,
            "owner": "credit risk modelling team; independent review by model validation",
            "intended_use": ("Estimate the 12-month probability of default of small and micro "
                             "enterprises applying for unsecured credit, to grade, approve, refer or "
                             "decline and to set limits under the product's policy."),
            "out_of_scope": ["consumer (personal) lending", "large corporates", "pricing without review"],
            "data_window": window, "splits": splits, "primary": self.primary, "challenger": self.challenger,
            "features": self._model_features(), "metrics": metric_rows,
            "lights": [l.to_dict() for l in lights], "limitations": limitations, "ethical": ethical,
            "skipped": self.skipped, **facts,
        }

    # -- helpers -------------------------------------------------------------------------------
    def _mask(self, split: str) -> pd.Series:
        return (self.frame["split"] == split) & self.frame["default_12m"].notna()

    def _labelled(self, split: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        sub = self.frame[self._mask(split)]
        return sub["default_12m"].to_numpy(float), sub[column].to_numpy(float)

    def _model_features(self) -> list[str]:
        """The primary model's own features (models.json `models.<primary>.features`), else the candidates."""
        own = (self.meta.get("models") or {}).get(self.primary, {})
        return list((own.get("features") if isinstance(own, dict) else None) or self.meta.get("features") or [])

    def _monitoring_start(self) -> pd.Timestamp:
        """First month judged for drift: the out-of-time start, else the first out-of-time application."""
        if self.oot_start is not None:
            return pd.Timestamp(self.oot_start).to_period("M").to_timestamp()
        oot = self.frame.loc[self.frame["split"] == "oot", "applied_at"]
        start = oot.min() if len(oot) else self.frame["applied_at"].min()
        return pd.Timestamp(start).to_period("M").to_timestamp()

    def _role(self, model: str) -> str:
        return "primary" if model == self.primary else "challenger"

    def _skip(self, test: str, reason: str) -> None:
        self.values[test] = None
        self.notes[test] = reason
        self.skipped[test] = reason

    def _record_table(self, prefix: str, table: pd.DataFrame, columns: list[str]) -> None:
        for _, row in table.iterrows():
            for column in columns:
                self.metrics[f"{row['model']}.{row['split']}.{column}"] = row[column]

    def _migrations(self, rows: list[dict]) -> None:
        reason = None
        if not self.has_dates:
            reason = "no application dates: no two rating dates"
        elif "enterprise_id" not in self.frame:
            reason = "the scores have no enterprise_id"
        elif self.train_end is None or self.oot_start is None:
            reason = "split.train_end and split.oot_start are not set"
        if reason is None:
            grade = f"grade_{self.primary}"
            dated = self.frame.sort_values(["applied_at", "application_id"], kind="stable")
            before = dated[dated["applied_at"] <= pd.Timestamp(self.train_end)].groupby("enterprise_id")[grade].last()
            after = dated[dated["applied_at"] >= pd.Timestamp(self.oot_start)].groupby("enterprise_id")[grade].first()
            pairs = pd.concat([before.rename("initial"), after.rename("current")], axis=1, join="inner")
            if len(pairs) < self.params.min_migration_pairs:
                reason = (f"{len(pairs)} enterprises rated both up to {self.train_end} and from "
                          f"{self.oot_start}; at least {self.params.min_migration_pairs} needed")
        if reason is not None:
            for test in ("migration_mwb_upper", "migration_mwb_lower", "migration_ztest_pvalue"):
                self._skip(test, reason)
            self.skipped["migration"] = reason
            return
        counts = backtests.migration_matrix(pairs["initial"], pairs["current"], self.n_grades)
        upper, lower = backtests.matrix_weighted_bandwidth(counts)
        z = backtests.migration_stability_ztests(counts)
        tested = z["p_value"].dropna()
        # family-wise smallest p (Bonferroni-Holm's first step) so that many cells do not flag by chance
        family_p = float(min(1.0, tested.min() * len(tested))) if len(tested) else None
        self.tables["migration_matrix"] = counts
        self.tables["migration_ztests"] = z
        self.values.update({"migration_mwb_upper": upper, "migration_mwb_lower": lower,
                            "migration_ztest_pvalue": family_p})
        self.notes["migration_mwb_upper"] = f"{len(pairs)} enterprises rated at both dates (downgrades)"
        self.notes["migration_mwb_lower"] = f"{len(pairs)} enterprises rated at both dates (upgrades)"
        self.notes["migration_ztest_pvalue"] = f"smallest of {len(tested)} cell p-values, Holm-adjusted"
        self.metrics.update({"ecb.mwb_upper": upper, "ecb.mwb_lower": lower, "ecb.migration_pairs": len(pairs)})
        if family_p is not None:
            self.metrics["ecb.migration_ztest_p_value"] = family_p
        rows.append({"test": "Matrix weighted bandwidth (2.5.5.1)", "initial": np.nan, "current": np.nan,
                     "statistic": np.nan, "p_value": np.nan,
                     "note": f"upper {upper:.3f}, lower {lower:.3f} over {len(pairs)} enterprises"})
        rows.append({"test": "Migration matrix stability z-tests (2.5.5.2)", "initial": np.nan, "current": np.nan,
                     "statistic": float(z["z"].min()) if len(tested) else np.nan, "p_value": family_p,
                     "note": f"{len(tested)} cells; smallest p Holm-adjusted"})
        self.figures["migration"] = backtests.plot_migration(counts, f"Rating migrations: {self.primary}")


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


def _enterprises(cfg: RunConfig) -> pd.DataFrame | None:
    """Segment attributes of the raw enterprises table, when the data source has one."""
    from creditmine.data.io import read_table, table_path

    if cfg.params.data.source == "tabular" or not table_path(cfg.data_dir, "enterprises").is_file():
        return None
    return read_table(cfg.data_dir, "enterprises", columns=["enterprise_id", "industry_section", "district", "employees"])


def _require(frame: pd.DataFrame, columns, path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}")


def _quantile_groups(p, groups: int) -> np.ndarray:
    ranks = pd.Series(np.asarray(p, float)).rank(method="first").to_numpy()
    return np.minimum((ranks - 1) * groups // len(ranks), groups - 1).astype(int)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))


def _flatten(obj, prefix: str = "") -> dict[str, float]:
    out = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(obj, bool):
        out[prefix.rstrip(".")] = float(obj)
    elif _is_number(obj):
        out[prefix.rstrip(".")] = float(obj)
    return out


def _bar(table: pd.DataFrame, label: str, value: str, title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, max(2.5, 0.28 * len(table) + 1)))
    ax = fig.subplots()
    ax.barh(table[label].astype(str), table[value], color="#1565c0")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set(xlabel=value, title=title)
    fig.tight_layout()
    return fig


def _grade_share_plot(shares: pd.DataFrame, approve_grades):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    colours = ["#2e7d32" if g in approve_grades else "#9e9e9e" for g in shares.index]
    ax.bar(shares.index.astype(str), shares["share"], color=colours)
    ax.set(xlabel="grade (green: approved by policy)", ylabel="share of applications",
           title="Out-of-time applications per grade")
    fig.tight_layout()
    return fig


def _primary_oot(table: pd.DataFrame, result: ValidationResult) -> pd.DataFrame:
    """The out-of-time rows of the primary model (the role recorded in the discrimination table)."""
    roles = result.tables.get("discrimination", pd.DataFrame())
    rows = table[table["split"] == "oot"]
    if len(roles):
        rows = rows[rows["model"] == roles.loc[roles["role"] == "primary", "model"].iloc[0]]
    return rows.drop(columns=["model", "split"]).set_index("grade")


# tables whose reason for being absent is recorded under the name of their part
_SKIP_KEYS = {"source_missing_by_month": "source_missing", "migration_matrix": "migration"}

_SECTIONS = {
    "discrimination": (
        "How well the PD ranks defaults above performing loans: AUC, Gini and KS with seeded "
        "percentile bootstrap intervals on each sample, and DeLong's test of the primary model "
        "against the challenger on the same loans.",
        [("discrimination", "AUC, Gini and KS with bootstrap intervals", None),
         ("delong", "DeLong test: primary against challenger", None)],
        ["roc_", "ks_oot"]),
    "calibration": (
        "Whether predicted PDs match observed default rates. One-sided binomial and Jeffreys tests "
        "(H0: the PD is not underestimated; ECB 2.5.3.1) per grade and for the portfolio, "
        "Hosmer-Lemeshow over the grades (chi-square with G degrees of freedom out of sample, G-2 in "
        "sample) and the Brier score.",
        [("calibration_summary", "Portfolio calibration per model and sample", None),
         ("calibration_by_grade", "Per grade, primary model, out-of-time", _primary_oot)],
        ["calibration"]),
    "ecb": (
        "The ECB's PD back-testing battery (Instructions for reporting the validation results of "
        "internal models, 2019, section 2.5): current AUC against the AUC at initial validation, "
        "customer migrations between two rating dates (matrix weighted bandwidths and z-tests of "
        "the migration matrix) and the concentration in grades (Herfindahl index).",
        [("ecb_battery", "Tests", None), ("migration_matrix", "Migration matrix (counts)", None)],
        ["migration"]),
    "stability": (
        "Whether today's applicants look like the development sample: PSI of the score (train "
        "against out-of-time and per application month), CSI per feature, and the share of "
        "applications without data from each source per month (a feed that goes dark shows).",
        [("psi_by_month", "PSI of the score per application month", None),
         ("csi", "CSI per feature (most shifted first, top 15)", lambda t, r: t.head(15)),
         ("source_missing_by_month", "Share of applications without data, per source and month", None)],
        ["psi_by_month", "csi", "source_missing"]),
    "concentration": (
        "The share of applications per grade, per sample; green bars are grades the policy approves.",
        [("grade_shares", "Share of applications per grade and sample",
          lambda t, r: t.pivot(index="grade", columns="split", values="share")
          .reindex(columns=[c for c in (*SPLITS, "all") if c in set(t["split"])]))],
        ["grade_shares"]),
    "segments": (
        "AUC, bad rate and approval rate on out-of-time applications by product, industry section, "
        "district and size; segments below the minimum size or number of defaults are flagged as too "
        "small to judge and left out of the segment light.",
        [("segments", "Segments", None)],
        ["segments_"]),
    "inclusion": (
        "First-time borrowers (first_loan) against the others at the policy's cut-off, and the share "
        "of first-time borrowers that a cut-off holding them to the portfolio's bad rate would approve.",
        [("inclusion", "Financial inclusion", None)],
        []),
}
