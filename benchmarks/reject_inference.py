"""Benchmark of reject inference: through-the-door AUC and calibration against the true PD.

    .venv/bin/python benchmarks/reject_inference.py [--enterprises 5000] [--seeds 42,43,44]
        [--policies standard,strict] [--methods none,reweighting,parcelling,fuzzy_augmentation] [--resume]

For each past policy of the synthetic world (`data.synthetic.past_policy`: standard, the default
world's, and strict) and each seed, the world is generated at `--enterprises` (smaller than the
default 20,000 for speed; the JSON says which size its figures are for), stage 01 runs once and
stage 02 runs once per reject-inference method on params/default.yaml otherwise unchanged. Each
application of both products' scopes, booked or not, is scored by its product's model and compared
with its true PD (`ground_truth`, which no stage reads):

- `auc`: the expected AUC of outcomes drawn from the true PD (each application a default with weight
  true PD, a non-default with weight 1 - true PD), pooled over both products; the oracle's is the
  true PD's own;
- `calibration`: mean PD minus mean true PD over the same applications, with the long-run central
  tendency applied (as stage 02 writes the PD) and before it (`calibration_before_central_tendency`:
  the shift of the log-odds intercept undone);
- `oot_auc`: the ordinary AUC on the booked, labelled out-of-time applications, for reference.

A product whose stage 02 refuses to train (fewer training defaults than `models.guards.min_train_defaults`,
as a strict policy on a small world can leave) is listed under `refused` and left out of that run's pool.

Figures are the mean and the standard deviation over the seeds, primary model (gbm) and scorecard.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd
import yaml
from scipy import special

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "reject_inference"
RESULTS = HERE / "results" / "reject_inference.json"
DONE = HERE / ".work" / "reject_inference" / "runs.jsonl"   # every finished run, for --resume
METHODS = ("none", "reweighting", "parcelling", "fuzzy_augmentation")
MODELS = ("gbm", "scorecard")
REFUSED: list[dict] = []


@click.command()
@click.option("--enterprises", default=5000, show_default=True, help="size of each synthetic world")
@click.option("--seeds", default="42,43,44", show_default=True)
@click.option("--policies", default="standard,strict", show_default=True)
@click.option("--methods", default=",".join(METHODS), show_default=True)
@click.option("--resume", is_flag=True,
              help=f"reuse the finished runs of this size in {DONE.relative_to(ROOT)} (the same params and seed "
                   "give the same run), computing only the missing ones")
def main(enterprises: int, seeds: str, policies: str, methods: str, resume: bool) -> None:
    from creditmine.validation.sections.through_the_door import expected_auc

    started = time.perf_counter()
    seed_list = [int(s) for s in seeds.split(",")]
    method_list = [m for m in methods.split(",") if m]
    runs = []
    done = {}
    if resume and DONE.is_file():
        for line in DONE.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("enterprises", enterprises) == enterprises:
                done[(row["policy"], row["seed"], row["method"])] = row
    DONE.parent.mkdir(parents=True, exist_ok=True)
    for policy in policies.split(","):
        for seed in seed_list:
            missing = [m for m in method_list if (policy, seed, m) not in done]
            runs += [done[(policy, seed, m)] for m in method_list if (policy, seed, m) in done]
            frames = _world_scores(policy, seed, enterprises, missing) if missing else {}
            for method, frame in frames.items():
                row = {"policy": policy, "seed": seed, "method": method, "applications": len(frame),
                       "booked_share": float(frame["booked"].mean()),
                       "oracle_auc": expected_auc(frame["true_pd"], frame["true_pd"])}
                for model in MODELS:
                    row[f"{model}_auc"] = expected_auc(frame["true_pd"], frame[f"pd_{model}"])
                    row[f"{model}_calibration"] = float(frame[f"pd_{model}"].mean() - frame["true_pd"].mean())
                    before = frame[f"pd0_{model}"]
                    row[f"{model}_calibration_before_central_tendency"] = float(before.mean() - frame["true_pd"].mean())
                    oot = frame[(frame["split"] == "oot") & frame["default_12m"].notna()]
                    row[f"{model}_oot_auc"] = _auc(oot["default_12m"], oot[f"pd_{model}"])
                runs.append(row)
                print(json.dumps(row), flush=True)
                with DONE.open("a", encoding="utf-8") as finished:
                    finished.write(json.dumps(row | {"enterprises": enterprises}) + "\n")
    table = pd.DataFrame(runs)
    summary = {}
    for (policy, method), group in table.groupby(["policy", "method"], sort=False):
        figures = {}
        for column in [c for c in table.columns if c.endswith(("_auc", "_calibration", "_central_tendency"))]:
            figures[column] = {"mean": round(float(group[column].mean()), 4), "sd": round(float(group[column].std(ddof=1)), 4)
                               if len(group) > 1 else None}
        summary.setdefault(policy, {})[method] = figures
    result = {
        "enterprises": enterprises, "seeds": seed_list, "params": "params/default.yaml",
        "note": f"figures are for synthetic worlds of {enterprises:,} enterprises (the default world has 20,000); "
                "pooled over the procurement and quick_loan scopes; mean and sd over the seeds",
        "summary": summary, "runs": runs, "refused": REFUSED, "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    _print_table(summary)


def _world_scores(policy: str, seed: int, enterprises: int, methods: list[str]) -> dict[str, pd.DataFrame]:
    """Per method: every application of both products' scopes with both models' PDs and the truth."""
    from creditmine.data import prepare
    from creditmine.data.io import GROUND_TRUTH, read_table
    from creditmine.features.stage import run as build_features
    from creditmine.models.stage import run as train_product

    out = {}
    for method in methods:
        cfg = _config(policy, seed, enterprises, method)
        prepare(cfg, progress=False)
        build_features(cfg, progress=False)
        truth = read_table(cfg.data_dir, GROUND_TRUTH).merge(
            read_table(cfg.data_dir, "applications", columns=["application_id", "booked"]), on="application_id")
        pooled = []
        for product in cfg.params.products:
            try:
                trained = train_product(cfg, product, progress=False)
            except ValueError as refused:        # e.g. too few training defaults under a strict policy
                REFUSED.append({"policy": policy, "seed": seed, "method": method, "product": product,
                                "reason": str(refused)})
                print(f"refused: {policy} seed {seed} {method} {product}: {refused}", flush=True)
                continue
            scores = trained.scores.merge(truth, on="application_id", how="left", validate="one_to_one")
            for model in MODELS:
                shift = trained.models[model].calibrator_.shift_
                scores[f"pd0_{model}"] = special.expit(special.logit(scores[f"pd_{model}"]) - shift)
            pooled.append(scores)
        out[method] = pd.concat(pooled, ignore_index=True)
    return out


def _config(policy: str, seed: int, enterprises: int, method: str):
    from creditmine import config

    root = WORK
    params_dir = root / "params"
    (params_dir / "products").mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "params" / "products").glob("*.yaml"):
        shutil.copy(path, params_dir / "products" / path.name)
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    raw["seed"] = seed
    raw["data"]["synthetic"].update({"enterprises": enterprises, "past_policy": policy})
    raw.setdefault("models", {})["reject_inference"] = {"method": method}
    name = f"ri-{policy}-{seed}"
    path = params_dir / f"{name}-{method}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return config.load(path, run_name=name, root=root)


def _auc(y, score) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def _print_table(summary: dict) -> None:
    print(f"\n{'policy':9} {'method':19} {'oracle':>13} {'gbm auc':>13} {'gbm calib':>15} {'gbm calib pre':>15}"
          f" {'sc auc':>13} {'sc calib':>15}")
    for policy, methods in summary.items():
        for method, f in methods.items():
            def cell(key, pct=False):
                m, s = f[key]["mean"], f[key]["sd"]
                scale = 100 if pct else 1
                return f"{m * scale:+.2f}±{(s or 0) * scale:.2f}" if pct else f"{m:.4f}±{(s or 0):.4f}"
            print(f"{policy:9} {method:19} {cell('oracle_auc'):>13} {cell('gbm_auc'):>13} "
                  f"{cell('gbm_calibration', True):>15} {cell('gbm_calibration_before_central_tendency', True):>15} "
                  f"{cell('scorecard_auc'):>13} {cell('scorecard_calibration', True):>15}")


if __name__ == "__main__":
    main()
