"""Stage 03: explain every model of a product, globally for the validator and locally for each
application (SHAP values, plots, checks, reason codes in English and Chinese).

`run(cfg, product)` reads stage 01's feature table and catalog and stage 02's models and scores,
and writes `shap_<model>.parquet`, `reasons.parquet`, `explain.json` and `plots/*.png` (paths in
`creditmine.artifacts.Layout`). It raises `AdditivityError` (the stage fails) when base value +
SHAP values miss a model's log-odds by more than params `explain.additivity_tolerance`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from creditmine import artifacts
from creditmine.artifacts import SPLIT_OOT, SPLIT_TRAIN
from creditmine.explain import plots as P
from creditmine.explain.attributions import check_additivity, explain_model, model_frame
from creditmine.explain.reasons import ReasonCoder, _spec_for, top_reason_agreement
from creditmine.explain.result import ExplainResult, mask_id
from creditmine.explain.stability import importance, ranking_stability, segment_stability, sign_check

__all__ = ["run"]

MODEL_ORDER = ("gbm", "scorecard")

_REASON_REFERENCE = {
    "gbm": "SHAP value against the trees' training data (path-dependent TreeSHAP base value)",
    "scorecard": "log-odds (coefficient x WoE) above the characteristic's best populated bin, "
                 "i.e. the points below its best points, times ln 2 / pdo",
}


@dataclass
class _Inputs:
    """What every step of stage 03 reads: the product's applications, models and catalog."""

    cfg: object
    product: str
    where: artifacts.Layout
    models: dict
    names: list[str]
    primary: str
    specs: dict
    catalog: list
    oot: pd.DataFrame
    train: pd.DataFrame
    stability_train: pd.DataFrame
    rng: np.random.Generator
    plot_dir: Path
    plots: dict = field(default_factory=dict)

    @property
    def params(self):
        return self.cfg.params.explain


def run(cfg, product: str, progress: bool = True) -> ExplainResult:
    """Stage 03 for one product; see the module docstring for inputs and outputs.

    Parameters
    ----------
    cfg : `RunConfig` of the run.
    product : a product name of the params (`params/products/<product>.yaml`).
    progress : show a tqdm bar over the steps.
    """
    from creditmine.reports.style import apply_style, cjk_font_note

    font = apply_style()
    steps = tqdm(total=7, desc=f"explain {product}", disable=not progress)
    inputs = _read_inputs(cfg, product)
    steps.update()
    attributions, summary_models = _attributions(inputs)
    steps.update()
    importance_table, interactions = _global_plots(inputs, attributions, summary_models)
    steps.update()
    sign_table, violations, judged = _sign_checks(inputs, attributions)
    steps.update()
    stability_table, stability_summary = _stability(inputs, attributions)
    steps.update()
    reasons, reason_seconds, agreement = _reasons(inputs, attributions)
    steps.update()
    representatives = _waterfalls(inputs, attributions)
    steps.update()
    steps.close()

    params, oot = inputs.params, inputs.oot
    summary = {
        "product": product,
        "rows_explained": int(len(oot)),
        "additivity_tolerance": params.additivity_tolerance,
        "stability_min_spearman": params.stability_min_spearman,
        "models": summary_models,
        "primary": inputs.primary,
        "sign_check": {"violations": violations, "judged": judged, "tolerance": params.sign_check_tolerance,
                       "rows": sign_table.astype(object).where(sign_table.notna(), None).to_dict("records")},
        "stability": stability_summary,
        "top_reason_agreement": agreement,
        "reasons": {"rows": int(len(reasons)), "applications_with_reasons": int(reasons["application_id"].nunique()),
                    "top_k": params.top_reasons, "seconds": round(reason_seconds, 3),
                    "reference": {m: _REASON_REFERENCE[m] for m in inputs.names if m in _REASON_REFERENCE},
                    "grouping": "SHAP summed within the catalog's reason_group before ranking; only groups "
                                "pushing the PD up are reasons"},
        "interactions": interactions.to_dict("records"),
        "representatives": [{"kind": k, "application": mask_id(oot["application_id"].iloc[p]), "pd": float(v)}
                            for k, p, v in representatives],
        "cjk_font": font,
        "cjk_font_note": cjk_font_note(),
        "plots": {k: str(Path(v).relative_to(inputs.where.stage_dir(artifacts.EXPLAIN))) for k, v in inputs.plots.items()},
    }
    artifacts.write_explain_summary(inputs.where, summary)
    summary = artifacts.read_explain_summary(inputs.where)  # what later stages see (strict JSON)
    return ExplainResult(inputs.where.stage_dir(artifacts.EXPLAIN), summary, importance_table, sign_table,
                         stability_table, reasons, interactions, inputs.plots)


# -- the steps ----------------------------------------------------------------------------------

def _read_inputs(cfg, product: str) -> _Inputs:
    """The product's applications (features with stage 02's split), its models and the catalog."""
    where = artifacts.layout(cfg, product)
    features = artifacts.read_features(where)
    scores = artifacts.read_scores(where, columns=["application_id", "split"])
    frame = features.drop(columns=["split"]).merge(scores, on="application_id", how="inner", validate="one_to_one")
    frame = frame.reset_index(drop=True)
    catalog = artifacts.read_catalog(where)
    models = artifacts.read_models(where)
    primary = artifacts.read_models_meta(where)["primary"]
    names = [m for m in MODEL_ORDER if m in models] + [m for m in models if m not in MODEL_ORDER]
    params = cfg.params.explain
    rng = np.random.default_rng(cfg.params.seed)
    oot = frame[frame["split"] == SPLIT_OOT]
    train = frame[frame["split"] == SPLIT_TRAIN]
    if len(oot) == 0:
        raise ValueError(f"{where.scores}: no out-of-time ('{SPLIT_OOT}') applications for {product}")
    if len(train) == 0:
        raise ValueError(f"{where.scores}: no training applications for {product}")
    if params.max_rows and len(oot) > params.max_rows:
        oot = oot.iloc[np.sort(rng.choice(len(oot), params.max_rows, replace=False))]
    stability_train = train.iloc[np.sort(rng.choice(len(train), min(params.stability_rows, len(train)), replace=False))]
    plot_dir = where.plots(artifacts.EXPLAIN)
    plot_dir.mkdir(parents=True, exist_ok=True)
    return _Inputs(cfg, product, where, models, names, primary, {s.name: s for s in catalog}, catalog, oot, train,
                   stability_train, rng, plot_dir)


def _attributions(inputs: _Inputs) -> tuple[dict, dict]:
    """SHAP values of every model on the out-of-time rows, checked for additivity, written per model."""
    attributions, summary_models = {}, {}
    for name in inputs.names:
        model = inputs.models[name]
        X = model_frame(model, inputs.oot, "features.parquet")
        started = time.perf_counter()
        att = explain_model(model, X, background=model_frame(model, inputs.train, "features.parquet"),
                            memory_budget_mb=inputs.params.treeshap_memory_mb)
        seconds = time.perf_counter() - started
        error = check_additivity(att, inputs.params.additivity_tolerance, f"{inputs.product}/{name}")
        att.to_frame(inputs.oot["application_id"]).to_parquet(inputs.where.shap_values(name), index=False)
        attributions[name] = att
        summary_models[name] = {
            "additivity_max_error": error, "base_value": att.base_value, "method": att.method,
            "features": len(att.values.columns), "seconds": round(seconds, 3),
        }
        if hasattr(model, "estimator_"):
            summary_models[name]["verification"] = _verify_against_shap(model, X, inputs.params.verify_rows)
    return attributions, summary_models


def _global_plots(inputs: _Inputs, attributions: dict, summary_models: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Importance, beeswarm and dependence plots per model, interactions of the boosting."""
    params, plots, oot = inputs.params, inputs.plots, inputs.oot
    importance_rows = []
    for name, att in attributions.items():
        imp = importance(att.values)
        importance_rows.append(pd.DataFrame({"model": name, "feature": imp.index, "mean_abs_shap": imp.to_numpy(),
                                             "rank": np.arange(1, len(imp) + 1)}))
        summary_models[name]["top_features"] = [
            {"feature": f, "mean_abs_shap": float(v)} for f, v in imp.head(params.stability_top).items()
        ]
        model = inputs.models[name]
        X = model_frame(model, oot, "features.parquet")
        plots[f"beeswarm_{name}"] = P.save(
            P.beeswarm(att.values, X, att.base_value, f"{name}: SHAP per application 每笔申请的SHAP值"),
            inputs.plot_dir / f"beeswarm_{name}.png")
        edges = model.bin_edges_ if hasattr(model, "bin_edges_") else {}
        for i, feature in enumerate(imp.index[: params.dependence_plots]):
            spec = _spec_for(feature, inputs.specs)
            title = f"{name}: {feature}" + (f"\n{spec.description_zh}" if spec is not None else "")
            plots[f"dependence_{name}_{i + 1:02d}"] = P.save(
                P.dependence(feature, X[feature] if feature in X else oot[feature], att.values[feature].to_numpy(),
                             title, edges=edges.get(feature)),
                inputs.plot_dir / f"dependence_{name}_{i + 1:02d}_{feature}.png")
    importance_table = pd.concat(importance_rows, ignore_index=True)
    plots["importance"] = P.save(P.importance_bars(importance_table), inputs.plot_dir / "importance.png")
    interactions = pd.DataFrame(columns=["feature_a", "feature_b", "mean_abs_interaction"])
    if "gbm" in attributions:
        interactions = _interactions(inputs.models["gbm"], oot, attributions["gbm"], params, inputs.rng)
        if len(interactions):
            plots["interactions_gbm"] = P.save(P.interaction_bars(interactions), inputs.plot_dir / "interactions_gbm.png")
    return importance_table, interactions


def _sign_checks(inputs: _Inputs, attributions: dict) -> tuple[pd.DataFrame, dict, dict]:
    """Spearman of each feature's value with its SHAP value, against the catalog's risk direction."""
    rows, violations, judged = [], {}, {}
    for name, att in attributions.items():
        model_specs = {f: _spec_for(f, inputs.specs) for f in att.values.columns}
        table = sign_check(att.values, inputs.oot.set_index(att.values.index), model_specs,
                           inputs.params.sign_check_min_rows, inputs.params.sign_check_tolerance)
        table.insert(0, "model", name)
        rows.append(table)
        violations[name] = table.loc[~table["ok"], "feature"].tolist()
        judged[name] = int(table["correlation"].notna().sum())
    return pd.concat(rows, ignore_index=True), violations, judged


def _stability(inputs: _Inputs, attributions: dict) -> tuple[pd.DataFrame, dict]:
    """The feature ranking on a training sample against out of time, and per segment."""
    params = inputs.params
    rows, summary = [], {}
    segments = _segments(inputs.oot, inputs.cfg)
    for name, att in attributions.items():
        model = inputs.models[name]
        train_att = explain_model(model, model_frame(model, inputs.stability_train, "features.parquet"),
                                  background=model_frame(model, inputs.train, "features.parquet"))
        reference = importance(att.values)
        versus = ranking_stability(importance(train_att.values), reference, params.stability_top)
        rows.append({"model": name, "by": "sample", "segment": "train vs out-of-time",
                     "rows": len(inputs.stability_train), "judged": True, "spearman": versus["spearman"],
                     "overlap": versus["overlap"]})
        per_segment = []
        for label, values in segments.items():
            table = segment_stability(att.values, values, reference, params.stability_top,
                                      params.segment_min_rows, label)
            table.insert(0, "model", name)
            per_segment.append(table)
            rows.extend(table.to_dict("records"))
        summary[name] = {
            "train_vs_oot": versus,
            "segments": pd.concat(per_segment, ignore_index=True).drop(columns="model").to_dict("records") if per_segment else [],
        }
    table = pd.DataFrame(rows, columns=["model", "by", "segment", "rows", "judged", "spearman", "overlap"])
    return table, summary


def _reasons(inputs: _Inputs, attributions: dict) -> tuple[pd.DataFrame, float, dict]:
    """The top reasons of every explained application, per model, and how often the models agree."""
    started = time.perf_counter()
    tables = []
    for name in inputs.names:
        model = inputs.models[name]
        coder = ReasonCoder(inputs.catalog, top_k=inputs.params.top_reasons, model_name=name).fit(model)
        if coder.kind_ == "gbm":   # the stage's SHAP values, already checked for additivity
            contributions = attributions[name].values[coder.features_].to_numpy()
        else:
            contributions = coder.contributions(model_frame(model, inputs.oot, "features.parquet"))
        tables.append(coder.table(contributions, inputs.oot, inputs.oot["application_id"].to_numpy()))
    reasons = pd.concat(tables, ignore_index=True)
    reasons["value"] = reasons["value"].map(_plain_value)
    reasons.to_parquet(inputs.where.reasons, index=False)
    seconds = time.perf_counter() - started
    names = inputs.names
    agreement = top_reason_agreement(reasons, names[0], names[1]) if len(names) > 1 else {
        "applications": 0, "agree": 0, "share": None}
    return reasons, seconds, agreement


def _waterfalls(inputs: _Inputs, attributions: dict) -> list[tuple[str, int, float]]:
    """Waterfalls of a clear approve, a clear decline and the two applications nearest the cut-off."""
    primary = inputs.primary if inputs.primary in inputs.models else inputs.names[0]
    model, att = inputs.models[primary], attributions[primary]
    representatives = _representatives(model, inputs.oot, inputs.cfg.product(inputs.product).policy)
    labels = {}
    for f in att.values.columns:
        spec = _spec_for(f, inputs.specs)
        labels[f] = f"{(spec.description_zh if spec else '')[:16]} ({f})"
    X = model_frame(model, inputs.oot, "features.parquet")
    for i, (kind, position, pd_value) in enumerate(representatives):
        app_id = mask_id(inputs.oot["application_id"].iloc[position])
        title = f"{kind} — {app_id}, PD {pd_value:.2%} ({primary})"
        inputs.plots[f"waterfall_{i + 1}"] = P.save(
            P.waterfall(att.values.iloc[position], att.base_value, X.iloc[position], title, labels,
                        inputs.params.waterfall_features),
            inputs.plot_dir / f"waterfall_{i + 1}.png")
    return representatives


# -- helpers ------------------------------------------------------------------------------------

def _verify_against_shap(model, X, rows: int) -> dict:
    """The fast TreeSHAP against shap's own TreeExplainer on the first `rows` rows."""
    import shap

    from creditmine.explain.attributions import HistGradientBoostingExplainer

    if rows == 0:
        return {"checked_rows": 0}
    estimator = model.estimator_
    if getattr(estimator, "is_categorical_", None) is not None and np.any(estimator.is_categorical_):
        return {"checked_rows": 0, "note": "shap's TreeExplainer does not read HistGradientBoosting's categorical "
                                           "splits; the values are checked by additivity (and, in the tests, against "
                                           "a brute-force Shapley computation)"}
    matrix = np.asarray(model.transform_features(X.iloc[:rows]), dtype=float)
    ours = HistGradientBoostingExplainer().fit(estimator).shap_values(matrix)
    theirs = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent").shap_values(
        matrix, check_additivity=False)
    return {"checked_rows": len(matrix), "max_abs_difference": float(np.max(np.abs(ours - theirs)))}


def _interactions(model, oot, att, params, rng):
    """Mean |SHAP interaction| of the strongest pairs among the gradient boosting's top features."""
    from creditmine.explain.attributions import HistGradientBoostingExplainer

    names = list(att.values.columns)
    rows = np.sort(rng.choice(len(oot), min(params.interaction_rows, len(oot)), replace=False))
    matrix = np.asarray(model.transform_features(oot.iloc[rows][list(model.feature_names_in_)]), dtype=float)
    top = [names.index(f) for f in importance(att.values).index[: params.stability_top]]
    values = HistGradientBoostingExplainer().fit(model.estimator_).interaction_values(matrix, top)
    strength = np.abs(values).mean(axis=0)   # (top, features)
    pairs = {}
    for a, j in enumerate(top):
        for i in range(len(names)):
            if i == j:
                continue
            key = tuple(sorted((names[i], names[j])))
            pairs[key] = max(pairs.get(key, 0.0), 2.0 * float(strength[a, i]))
    table = pd.DataFrame([(a, b, v) for (a, b), v in pairs.items()],
                         columns=["feature_a", "feature_b", "mean_abs_interaction"])
    return table.nlargest(params.interactions_top, "mean_abs_interaction").reset_index(drop=True)


def _segments(oot, cfg) -> dict:
    """Segments of the out-of-time rows: application product code and industry section."""
    from creditmine.data.io import read_table, table_path

    out = {}
    if "product" in oot.columns and oot["product"].nunique() > 1:
        out["product"] = oot["product"].to_numpy()
    if "industry_section" in oot.columns:
        out["industry_section"] = oot["industry_section"].to_numpy()
    elif "enterprise_id" in oot.columns and table_path(cfg.data_dir, "enterprises").is_file():
        enterprises = read_table(cfg.data_dir, "enterprises", columns=["enterprise_id", "industry_section"])
        out["industry_section"] = oot[["enterprise_id"]].merge(enterprises, how="left")["industry_section"].to_numpy()
    return out


def _representatives(model, oot, policy) -> list[tuple[str, int, float]]:
    """A clear approve, a clear decline and the two applications nearest the approval cut-off."""

    X = oot[list(model.feature_names_in_)]
    pds = model.predict_pd(X)
    order = np.argsort(pds, kind="stable")
    chosen = [("Clear approve 明确批准", int(order[0])), ("Clear decline 明确拒绝", int(order[-1]))]
    scale = model.master_scale_
    approve = [g for g in policy.approve_grades if g in set(scale["grade"])]
    if approve:
        cutoff = float(scale.loc[scale["grade"] == max(approve), "pd_upper"].iloc[0])
        below = np.flatnonzero(pds <= cutoff)
        above = np.flatnonzero(pds > cutoff)
        if len(below):
            chosen.append(("Near cut-off, approved 临界批准", int(below[np.argmax(pds[below])])))
        if len(above):
            chosen.append(("Near cut-off, not approved 临界未批准", int(above[np.argmin(pds[above])])))
    return [(kind, position, float(pds[position])) for kind, position in chosen]


def _plain_value(value):
    """Reason values as text, so one parquet column holds numbers and categories alike."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
