"""Stage 03: explain every model version of a product, globally for the validator and locally for
each application (SHAP values, plots, checks, reason codes in English and Chinese).

`explain_product(cfg, product)` reads `runs/<run>/01_build_features/` and
`runs/<run>/<product>/02_train/`, and writes `runs/<run>/<product>/03_explain/`:
`shap_<model>.parquet`, `reasons.parquet`, `explain.json` and `plots/*.png`. It raises
`AdditivityError` (the stage fails) when base value + SHAP values miss a model's log-odds by more
than params `explain.additivity_tolerance`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExplainResult", "benchmark_figures", "explain_product", "mask_id"]

MODEL_ORDER = ("gbm", "scorecard")


@dataclass
class ExplainResult:
    """What stage 03 found for one product; tables and plot paths for the notebook.

    Attributes
    ----------
    stage_dir : runs/<run>/<product>/03_explain/.
    summary : the content of explain.json.
    importance : DataFrame model, feature, mean_abs_shap (log-odds), rank.
    sign_check : DataFrame model, feature, expected_direction, rows, correlation, status, ok.
    stability : DataFrame model, by, segment, rows, judged, spearman, overlap.
    reasons : the reason table (REASON_COLUMNS) of every explained out-of-time application.
    plots : name -> PNG path.
    """

    stage_dir: Path
    summary: dict
    importance: object
    sign_check: object
    stability: object
    reasons: object
    interactions: object
    plots: dict = field(default_factory=dict)

    def summary_table(self):
        """The one-screen summary for the validator: one row per check, with its verdict."""
        import pandas as pd

        s = self.summary
        floor = s["stability_min_spearman"]
        rows = []
        for model, m in s["models"].items():
            rows.append({"check": f"Additivity ({model})", "result": f"max error {m['additivity_max_error']:.2e} log-odds",
                         "verdict": "pass" if m["additivity_max_error"] <= s["additivity_tolerance"] else "FAIL"})
        for model, violations in s["sign_check"]["violations"].items():
            judged = s["sign_check"]["judged"][model]
            rows.append({"check": f"Sign check ({model})",
                         "result": f"{len(violations)} of {judged} features against the expected direction"
                                   + (f": {', '.join(violations)}" if violations else ""),
                         "verdict": "pass" if not violations else "REVIEW"})
        for model, st in s["stability"].items():
            rho = st["train_vs_oot"]["spearman"]
            rows.append({"check": f"Top-{st['train_vs_oot']['top']} ranking, train vs out-of-time ({model})",
                         "result": f"Spearman {rho:.2f}, {st['train_vs_oot']['overlap']} shared features" if rho is not None else "n/a",
                         "verdict": "pass" if rho is not None and rho >= floor else "REVIEW"})
            low = [f"{x['by']} {x['segment']}" for x in st["segments"]
                   if x["judged"] and (x["spearman"] if x["spearman"] is not None else -1) < floor]
            judged = sum(1 for x in st["segments"] if x["judged"])
            rows.append({"check": f"Ranking per product / industry section ({model})",
                         "result": f"{judged - len(low)} of {judged} segments with Spearman >= {floor:g}"
                                   + (f"; low: {', '.join(low[:6])}" if low else ""),
                         "verdict": "pass" if not low else "REVIEW"})
        agreement = s["top_reason_agreement"]
        share = agreement["share"]
        rows.append({"check": "Top reason agrees between the two models",
                     "result": f"{share:.0%} of {agreement['applications']} applications" if share is not None else "n/a",
                     "verdict": "info"})
        rows.append({"check": "Reason statements (EN + ZH)",
                     "result": f"{s['reasons']['applications_with_reasons']} of {s['rows_explained']} out-of-time "
                               f"applications have at least one reason; {s['reasons']['rows']} statements per language",
                     "verdict": "info"})
        rows.append({"check": "Chinese text in plots", "result": s["cjk_font_note"],
                     "verdict": "pass" if s["cjk_font"] else "REVIEW"})
        frame = pd.DataFrame(rows, columns=["check", "result", "verdict"])
        colours = {"pass": "background-color: #c8e6c9", "FAIL": "background-color: #ef9a9a",
                   "REVIEW": "background-color: #ffe082", "info": ""}
        return frame.style.hide(axis="index").map(lambda v: colours.get(v, ""), subset=["verdict"])

    def sign_check_table(self):
        """The sign check, violations in red."""
        table = self.sign_check.copy()

        def colour(row):
            style = "color: #c62828; font-weight: bold" if not row["ok"] else ""
            return [style] * len(row)

        return (table.style.apply(colour, axis=1).hide(axis="index")
                .format({"correlation": lambda v: "" if v is None or v != v else f"{v:+.2f}"}))

    def stability_table(self):
        """Ranking stability: train vs out-of-time and per segment (Spearman of the top features)."""
        return self.stability.style.hide(axis="index").format(
            {"spearman": lambda v: "" if v is None or v != v else f"{v:.2f}"}
        )

    def reason_sample(self, n: int = 8, seed: int = 0):
        """A few applications' reasons in both languages (ids masked)."""
        reasons = self.reasons
        ids = reasons["application_id"].drop_duplicates().sample(
            min(n, reasons["application_id"].nunique()), random_state=seed)
        sample = reasons[reasons["application_id"].isin(ids)].copy()
        sample["application_id"] = sample["application_id"].map(mask_id)
        sample = sample.sort_values(["application_id", "model", "rank"], kind="stable")
        return sample[["application_id", "model", "rank", "statement_en", "statement_zh"]].reset_index(drop=True)

    def methods_table(self):
        """How each model was explained: algorithm, background, output space, checks."""
        import pandas as pd

        rows = []
        for model, m in self.summary["models"].items():
            method = m["method"]
            check = m.get("verification", {})
            rows.append({
                "model": model, "algorithm": method.get("algorithm"), "background": method.get("background"),
                "output": method.get("output_space"), "base value (log-odds)": round(m["base_value"], 4),
                "additivity max error": f"{m['additivity_max_error']:.1e}",
                "check against shap.TreeExplainer": (
                    f"max |difference| {check['max_abs_difference']:.1e} on {check['checked_rows']} rows"
                    if "max_abs_difference" in check else check.get("note", "")),
                "reason reference": self.summary["reasons"]["reference"].get(model, ""),
            })
        return pd.DataFrame(rows).style.hide(axis="index")

    def image(self, name: str):
        """A saved plot, for display in the notebook."""
        from IPython.display import Image

        if name not in self.plots:
            raise KeyError(f"no plot '{name}'; the stage made {', '.join(sorted(self.plots))}")
        return Image(filename=self.plots[name])

    def images(self, prefix: str):
        """Every saved plot whose name starts with `prefix`, displayed one after another."""
        from IPython.display import display

        for name in sorted(self.plots):
            if name.startswith(prefix):
                display(self.image(name))


def explain_product(cfg, product: str, progress: bool = True) -> ExplainResult:
    """Run stage 03 for one product; see the module docstring for inputs and outputs.

    Parameters
    ----------
    cfg : `RunConfig` of the run.
    product : a product name of the params (`params/products/<product>.yaml`).
    progress : show a tqdm bar over the steps.
    """
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from creditmine.explain import plots as P
    from creditmine.explain.attributions import (
        HistGradientBoostingExplainer, check_additivity, explain_model, model_frame,
    )
    from creditmine.explain.reasons import ReasonCoder, top_reason_agreement, _spec_for
    from creditmine.explain.stability import importance, ranking_stability, segment_stability, sign_check
    from creditmine.features.catalog import read_catalog
    from creditmine.models.io import load_models
    from creditmine.reports.style import apply_style, cjk_font_note

    params = cfg.params.explain
    product_params = cfg.product(product)
    features_dir = cfg.stage_dir("01_build_features")
    train_dir = cfg.stage_dir("02_train", product)
    out_dir = cfg.stage_dir("03_explain", product)
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    font = apply_style()
    steps = tqdm(total=7, desc=f"explain {product}", disable=not progress)

    frame, catalog = _read_inputs(features_dir, train_dir)
    models = load_models(train_dir)
    names = [m for m in MODEL_ORDER if m in models] + [m for m in models if m not in MODEL_ORDER]
    rng = np.random.default_rng(cfg.params.seed)
    oot = frame[frame["split"] == "oot"]
    train = frame[frame["split"] == "train"]
    if len(oot) == 0:
        raise ValueError(f"{train_dir / 'scores.parquet'}: no out-of-time ('oot') applications for {product}")
    if len(train) == 0:
        raise ValueError(f"{train_dir / 'scores.parquet'}: no training applications for {product}")
    if params.max_rows and len(oot) > params.max_rows:
        oot = oot.iloc[np.sort(rng.choice(len(oot), params.max_rows, replace=False))]
    stability_train = train.iloc[np.sort(rng.choice(len(train), min(params.stability_rows, len(train)), replace=False))]
    specs = {s.name: s for s in catalog}
    steps.update()

    # -- attributions, additivity, the files --------------------------------------------------
    attributions, summary_models, timings = {}, {}, {}
    for name in names:
        model = models[name]
        X = model_frame(model, oot, "features.parquet")
        started = time.perf_counter()
        att = explain_model(model, X, background=model_frame(model, train, "features.parquet"))
        timings[name] = time.perf_counter() - started
        error = check_additivity(att, params.additivity_tolerance, f"{product}/{name}")
        att.to_frame(oot["application_id"]).to_parquet(out_dir / f"shap_{name}.parquet", index=False)
        attributions[name] = att
        summary_models[name] = {
            "additivity_max_error": error, "base_value": att.base_value, "method": att.method,
            "features": len(att.values.columns), "seconds": round(timings[name], 3),
        }
        if hasattr(model, "estimator_"):
            summary_models[name]["verification"] = _verify_against_shap(model, X, params.verify_rows)
    steps.update()

    # -- global: importance, beeswarm, dependence, interactions -------------------------------
    plots = {}
    importance_rows = []
    for name, att in attributions.items():
        imp = importance(att.values)
        importance_rows.append(pd.DataFrame({"model": name, "feature": imp.index, "mean_abs_shap": imp.to_numpy(),
                                             "rank": np.arange(1, len(imp) + 1)}))
        summary_models[name]["top_features"] = [
            {"feature": f, "mean_abs_shap": float(v)} for f, v in imp.head(params.stability_top).items()
        ]
        X = model_frame(models[name], oot, "features.parquet")
        plots[f"beeswarm_{name}"] = P.save(
            P.beeswarm(att.values, X, att.base_value, f"{name}: SHAP per application 每笔申请的SHAP值"),
            plot_dir / f"beeswarm_{name}.png")
        edges = models[name].bin_edges_ if hasattr(models[name], "bin_edges_") else {}
        for i, feature in enumerate(imp.index[: params.dependence_plots]):
            spec = _spec_for(feature, specs)
            title = f"{name}: {feature}" + (f"\n{spec.description_zh}" if spec is not None else "")
            plots[f"dependence_{name}_{i + 1:02d}"] = P.save(
                P.dependence(feature, X[feature] if feature in X else oot[feature], att.values[feature].to_numpy(),
                             title, edges=edges.get(feature)),
                plot_dir / f"dependence_{name}_{i + 1:02d}_{feature}.png")
    importance_table = pd.concat(importance_rows, ignore_index=True)
    plots["importance"] = P.save(P.importance_bars(importance_table), plot_dir / "importance.png")
    interactions = pd.DataFrame(columns=["feature_a", "feature_b", "mean_abs_interaction"])
    if "gbm" in attributions:
        interactions = _interactions(models["gbm"], oot, attributions["gbm"], params, rng)
        if len(interactions):
            plots["interactions_gbm"] = P.save(P.interaction_bars(interactions), plot_dir / "interactions_gbm.png")
    steps.update()

    # -- sign check --------------------------------------------------------------------------
    sign_rows, violations, judged = [], {}, {}
    for name, att in attributions.items():
        model_specs = {f: _spec_for(f, specs) for f in att.values.columns}
        table = sign_check(att.values, oot.set_index(att.values.index), model_specs, params.sign_check_min_rows,
                           params.sign_check_tolerance)
        table.insert(0, "model", name)
        sign_rows.append(table)
        violations[name] = table.loc[~table["ok"], "feature"].tolist()
        judged[name] = int(table["correlation"].notna().sum())
    sign_table = pd.concat(sign_rows, ignore_index=True)
    steps.update()

    # -- stability ---------------------------------------------------------------------------
    stability_rows, stability_summary = [], {}
    segments = _segments(oot, cfg)
    for name, att in attributions.items():
        model = models[name]
        train_att = explain_model(model, model_frame(model, stability_train, "features.parquet"),
                                  background=model_frame(model, train, "features.parquet"))
        reference = importance(att.values)
        versus = ranking_stability(importance(train_att.values), reference, params.stability_top)
        stability_rows.append({"model": name, "by": "sample", "segment": "train vs out-of-time",
                               "rows": len(stability_train), "judged": True, "spearman": versus["spearman"],
                               "overlap": versus["overlap"]})
        per_segment = []
        for label, values in segments.items():
            table = segment_stability(att.values, values, reference, params.stability_top,
                                      params.segment_min_rows, label)
            table.insert(0, "model", name)
            per_segment.append(table)
            stability_rows.extend(table.to_dict("records"))
        stability_summary[name] = {
            "train_vs_oot": versus,
            "segments": pd.concat(per_segment, ignore_index=True).drop(columns="model").to_dict("records") if per_segment else [],
        }
    stability_table = pd.DataFrame(stability_rows, columns=["model", "by", "segment", "rows", "judged", "spearman", "overlap"])
    steps.update()

    # -- reasons -------------------------------------------------------------------------------
    started = time.perf_counter()
    reason_tables = []
    for name in names:
        model = models[name]
        coder = ReasonCoder(catalog, top_k=params.top_reasons, model_name=name).fit(model)
        X = model_frame(model, oot, "features.parquet")
        if coder.kind_ == "gbm":   # the stage's SHAP values, already checked for additivity
            contributions = attributions[name].values[coder.features_].to_numpy()
        else:
            contributions = coder.contributions(X)
        reason_tables.append(coder.table(contributions, oot, oot["application_id"].to_numpy()))
    reasons = pd.concat(reason_tables, ignore_index=True)
    reasons["value"] = reasons["value"].map(_plain_value)
    reasons.to_parquet(out_dir / "reasons.parquet", index=False)
    reason_seconds = time.perf_counter() - started
    agreement = top_reason_agreement(reasons, names[0], names[1]) if len(names) > 1 else {
        "applications": 0, "agree": 0, "share": None}
    steps.update()

    # -- local: waterfalls of representative applications ----------------------------------------
    primary = cfg.primary_model(product) if cfg.primary_model(product) in models else names[0]
    representatives = _representatives(models[primary], oot, product_params.policy)
    labels = {f: f"{(_spec_for(f, specs).description_zh if _spec_for(f, specs) else '')[:16]} ({f})"
              for f in attributions[primary].values.columns}
    for i, (kind, position, pd_value) in enumerate(representatives):
        att = attributions[primary]
        app_id = mask_id(oot["application_id"].iloc[position])
        X = model_frame(models[primary], oot, "features.parquet")
        title = f"{kind} — {app_id}, PD {pd_value:.2%} ({primary})"
        plots[f"waterfall_{i + 1}"] = P.save(
            P.waterfall(att.values.iloc[position], att.base_value, X.iloc[position], title, labels,
                        params.waterfall_features),
            plot_dir / f"waterfall_{i + 1}.png")
    steps.update()
    steps.close()

    summary = {
        "product": product,
        "rows_explained": int(len(oot)),
        "additivity_tolerance": params.additivity_tolerance,
        "stability_min_spearman": params.stability_min_spearman,
        "models": summary_models,
        "primary": primary,
        "sign_check": {"violations": violations, "judged": judged, "tolerance": params.sign_check_tolerance,
                       "rows": sign_table.astype(object).where(sign_table.notna(), None).to_dict("records")},
        "stability": stability_summary,
        "top_reason_agreement": agreement,
        "reasons": {"rows": int(len(reasons)), "applications_with_reasons": int(reasons["application_id"].nunique()),
                    "top_k": params.top_reasons, "seconds": round(reason_seconds, 3),
                    "reference": {
                        "gbm": "SHAP value against the trees' training data (path-dependent TreeSHAP base value)",
                        "scorecard": "log-odds (coefficient x WoE) above the characteristic's best populated bin, "
                                     "i.e. the points below its best points, times ln 2 / pdo",
                    },
                    "grouping": "SHAP summed within the catalog's reason_group before ranking; only groups "
                                "pushing the PD up are reasons"},
        "interactions": interactions.to_dict("records"),
        "representatives": [{"kind": k, "application": mask_id(oot["application_id"].iloc[p]), "pd": float(v)}
                            for k, p, v in representatives],
        "cjk_font": font,
        "cjk_font_note": cjk_font_note(),
        "plots": {k: str(Path(v).relative_to(out_dir)) for k, v in plots.items()},
    }
    summary = _finite(json.loads(json.dumps(summary, default=_json_default)))
    (out_dir / "explain.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False, allow_nan=False),
                                          encoding="utf-8")
    return ExplainResult(out_dir, summary, importance_table, sign_table, stability_table, reasons, interactions, plots)


def benchmark_figures(root) -> "object":
    """The committed explain benchmark (benchmarks/results/explain.json) as a table, for the closing note."""
    import pandas as pd

    path = Path(root) / "benchmarks" / "results" / "explain.json"
    if not path.is_file():
        return pd.DataFrame({"note": [f"{path} not found: run benchmarks/explain.py"]})
    figures = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame({"figure": list(figures), "value": [str(v) for v in figures.values()]})


def mask_id(application_id) -> str:
    """An application id with all but its last 4 characters hidden."""
    text = str(application_id)
    return "****" + text[-4:] if len(text) > 4 else "****"


# ---------------------------------------------------------------------------------------------

def _read_inputs(features_dir: Path, train_dir: Path):
    """Features of the product's applications (with the split and PD of stage 02) and the catalog."""
    import pandas as pd

    from creditmine.features.catalog import read_catalog

    features_path = features_dir / "features.parquet"
    scores_path = train_dir / "scores.parquet"
    for path in (features_path, features_dir / "catalog.json", scores_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run the earlier stages for this run first")
    features = pd.read_parquet(features_path)
    scores = pd.read_parquet(scores_path, columns=["application_id", "split"])
    if "application_id" not in features.columns:
        raise ValueError(f"{features_path}: no column 'application_id'")
    frame = features.drop(columns=[c for c in ("split",) if c in features.columns]).merge(
        scores, on="application_id", how="inner", validate="one_to_one")
    return frame.reset_index(drop=True), read_catalog(features_dir / "catalog.json")


def _verify_against_shap(model, X, rows: int) -> dict:
    """The fast TreeSHAP against shap's own TreeExplainer on the first `rows` rows."""
    import numpy as np
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
    import numpy as np
    import pandas as pd

    from creditmine.explain.attributions import HistGradientBoostingExplainer
    from creditmine.explain.stability import importance

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
    import pandas as pd

    out = {}
    if "product" in oot.columns and oot["product"].nunique() > 1:
        out["product"] = oot["product"].to_numpy()
    if "industry_section" in oot.columns:
        out["industry_section"] = oot["industry_section"].to_numpy()
    elif "enterprise_id" in oot.columns and (cfg.data_dir / "enterprises.parquet").is_file():
        enterprises = pd.read_parquet(cfg.data_dir / "enterprises.parquet", columns=["enterprise_id", "industry_section"])
        out["industry_section"] = oot[["enterprise_id"]].merge(enterprises, how="left")["industry_section"].to_numpy()
    return out


def _representatives(model, oot, policy) -> list[tuple[str, int, float]]:
    """A clear approve, a clear decline and the two applications nearest the approval cut-off."""
    import numpy as np

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


def _finite(value):
    """NaN and infinities as null, so explain.json is strict JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_default(value):
    import numpy as np

    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)
