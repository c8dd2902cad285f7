"""What stage 03 found for one product (`ExplainResult`), shown as tables and plots in its report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExplainResult", "benchmark_figures", "mask_id"]


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
