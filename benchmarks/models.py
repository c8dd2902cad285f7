"""Benchmark of stage 02: model quality against the oracle and against peer scorecards, and fit time.

    .venv/bin/python benchmarks/models.py [--rows 100000] [--params params/default.yaml] [--skip-peers]

Measured in one run:
- `synthetic_oracle_auc`, `synthetic_gbm_oot_auc`, `synthetic_scorecard_oot_auc`: stage 02 on the
  default synthetic world (both products, `creditmine.models.stage.run` as the pipeline runs it); AUCs on the
  out-of-time applications of both products pooled, each application scored by its product's
  model, the oracle being the true PD of the same applications (`ground_truth`, which no stage
  reads). Per-product figures are under `synthetic_by_product`.
- `german_*_cv_auc`: German credit, 5-fold stratified cross-validation (seed 42), mean AUC over the
  folds. Ours: the scorecard and the gradient boosting configured by params/germancredit.yaml,
  each fitted on the fold's training rows, calibrated on the same rows, and scored by its PD.
  Peers, on the very
  same folds (written to a file both sides read): scorecardpy's README procedure (var_filter,
  woebin, woebin_ply, L1 logistic regression) and toad's tutorial procedure (select by
  empty/IV/correlation, chi-square Combiner, WOETransformer, stepwise, logistic regression), run
  in a side environment with pandas < 3 (benchmarks/.work/peers-venv, made here).
- `fit_seconds_100k`: wall time to fit both models (default params: binning of every feature,
  selection, regression, 7 boosting trials, calibration, master scale) on `rows` applications drawn
  with replacement from the default world's labelled applications (every catalogued feature),
  80 % training and 20 % holdout; `fit_cpu_seconds_100k` is the CPU time of the same fit (the
  models run on one thread), which is what the fit takes on an idle core when the shared machine
  is busy (`load_average_1m` at the end of the run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "models"
PEERS_VENV = HERE / ".work" / "peers-venv"
RESULTS = HERE / "results" / "models.json"
GERMAN = ROOT / "datasets" / "germancredit" / "germancredit.csv"
PEER_PACKAGES = ["pandas<3", "numpy<2.3", "scikit-learn", "scorecardpy==0.1.9.7", "toad"]


@click.command()
@click.option("--rows", default=100_000, show_default=True, help="applications of the fit-time measurement")
@click.option("--params", "params_file", default=str(ROOT / "params" / "default.yaml"), show_default=True)
@click.option("--run-name", default="bench-models", show_default=True)
@click.option("--skip-peers", is_flag=True, help="do not build or run the scorecardpy/toad environment")
def main(rows: int, params_file: str, run_name: str, skip_peers: bool) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    result: dict = {}
    result.update(_synthetic(params_file, run_name))
    result.update(_german(skip_peers))
    result["fit_seconds_100k"], result["fit_cpu_seconds_100k"], result["fit_rows"] = _fit_time(params_file, run_name, rows)
    result["load_average_1m"] = round(os.getloadavg()[0], 1)
    result["cores"] = os.cpu_count()
    result["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


def _synthetic(params_file: str, run_name: str) -> dict:
    from creditmine import config
    from creditmine.data import prepare
    from creditmine.data.io import read_table
    from creditmine.features.stage import run as build_features
    from creditmine.models.stage import run as train_product

    cfg = config.load(params_file, run_name=run_name)
    prepare(cfg, progress=True)
    build_features(cfg, progress=True)
    truth = read_table(cfg.data_dir, "ground_truth")[["application_id", "true_pd"]]
    pooled, by_product = [], {}
    for product in cfg.params.products:
        started = time.perf_counter()
        trained = train_product(cfg, product, progress=True)
        oot = trained.scores[trained.scores["split"] == "oot"].merge(truth, on="application_id")
        pooled.append(oot)
        by_product[product] = {
            "oot_applications": len(oot), "oot_defaults": int(oot["default_12m"].sum()),
            "oracle_auc": _auc(oot, "true_pd"), "gbm_oot_auc": _auc(oot, "pd_gbm"),
            "scorecard_oot_auc": _auc(oot, "pd_scorecard"),
            "train_applications": trained.metrics["splits"]["train"]["applications"],
            "train_defaults": trained.metrics["splits"]["train"]["defaults"],
            "stage_seconds": round(time.perf_counter() - started, 1),
        }
    oot = pd.concat(pooled, ignore_index=True)
    return {
        "synthetic_oracle_auc": _auc(oot, "true_pd"),
        "synthetic_gbm_oot_auc": _auc(oot, "pd_gbm"),
        "synthetic_scorecard_oot_auc": _auc(oot, "pd_scorecard"),
        "synthetic_by_product": by_product,
    }


def _german(skip_peers: bool) -> dict:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from creditmine import config
    from creditmine.models import GbmModel, ScorecardModel

    cfg = config.load(ROOT / "params" / "germancredit.yaml")
    tabular = cfg.params.data.tabular
    frame = pd.read_csv(GERMAN)
    y = (frame.pop(tabular.target_column) == tabular.bad_value).astype(int).to_numpy()
    folds = [
        {"train": tr.tolist(), "test": te.tolist()}
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=42).split(frame, y)
    ]
    folds_path = WORK / "german_folds.json"
    folds_path.write_text(json.dumps(folds))
    directions = dict(tabular.risk_directions)
    aucs = {"scorecard": [], "gbm": []}
    for fold in folds:
        train, test = frame.iloc[fold["train"]], frame.iloc[fold["test"]]
        for name, cls in (("scorecard", ScorecardModel), ("gbm", GbmModel)):
            model = cls.from_params(cfg.params.models, risk_directions=directions, seed=cfg.params.seed)
            model.fit(train, y[fold["train"]], train, y[fold["train"]])
            aucs[name].append(float(roc_auc_score(y[fold["test"]], model.predict_pd(test))))
    out = {
        "german_scorecard_cv_auc": round(float(np.mean(aucs["scorecard"])), 4),
        "german_gbm_cv_auc": round(float(np.mean(aucs["gbm"])), 4),
        "german_fold_aucs": {k: [round(a, 4) for a in v] for k, v in aucs.items()},
    }
    if not skip_peers:
        peers = _run_peers(folds_path)
        out["german_scorecardpy_cv_auc"] = round(float(np.mean(peers["scorecardpy"])), 4)
        out["german_toad_cv_auc"] = round(float(np.mean(peers["toad"])), 4)
        out["german_fold_aucs"].update({k: [round(a, 4) for a in v] for k, v in peers.items()})
    return out


def _fit_time(params_file: str, run_name: str, rows: int) -> tuple[float, float, int]:
    from creditmine import artifacts, config
    from creditmine.models import GbmModel, ScorecardModel

    cfg = config.load(params_file, run_name=run_name)
    where = artifacts.layout(cfg)
    catalog = artifacts.read_catalog(where)
    table = artifacts.read_features(where)
    table = table[table["split"] != "unlabelled"]
    sample = table.sample(n=rows, replace=len(table) < rows, random_state=cfg.params.seed).reset_index(drop=True)
    names = [s.name for s in catalog]
    directions = {s.name: s.risk_direction for s in catalog}
    categorical = [s.name for s in catalog if s.kind == "categorical"]
    holdout = np.random.default_rng(cfg.params.seed).random(rows) < 0.2
    X, y = sample[names], sample["default_12m"].to_numpy()
    started, cpu = time.perf_counter(), time.process_time()
    for cls in (ScorecardModel, GbmModel):
        model = cls.from_params(cfg.params.models, categorical, directions, cfg.params.seed, progress=True)
        model.fit(X[~holdout], y[~holdout], X[holdout], y[holdout])
    return round(time.perf_counter() - started, 1), round(time.process_time() - cpu, 1), rows


def _auc(frame: pd.DataFrame, column: str) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(frame["default_12m"], frame[column])), 4)


def _run_peers(folds_path: Path) -> dict:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    script = WORK / "peers_cv.py"
    script.write_text(PEERS_SCRIPT)
    done = subprocess.run(
        [str(python), str(script), str(GERMAN), str(folds_path)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# Runs in the side environment (pandas < 3): the peers' documented procedures on the same folds.
PEERS_SCRIPT = r'''
import json, sys, warnings
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
warnings.filterwarnings("ignore")
import scorecardpy as sc
import toad

data = pd.read_csv(sys.argv[1])
data["creditability"] = (data["creditability"] == "bad").astype(int)
folds = json.load(open(sys.argv[2]))
out = {"scorecardpy": [], "toad": []}
for fold in folds:
    train, test = data.iloc[fold["train"]].copy(), data.iloc[fold["test"]].copy()
    # scorecardpy README: filter, woebin, woebin_ply, L1 logistic regression
    kept = sc.var_filter(train, y="creditability")
    bins = sc.woebin(kept, y="creditability")
    train_woe = sc.woebin_ply(kept, bins)
    test_woe = sc.woebin_ply(test[kept.columns], bins)
    x_cols = [c for c in train_woe.columns if c != "creditability"]
    lr = LogisticRegression(penalty="l1", C=0.9, solver="saga", max_iter=5000, random_state=0)
    lr.fit(train_woe[x_cols], train_woe["creditability"])
    out["scorecardpy"].append(roc_auc_score(test_woe["creditability"], lr.predict_proba(test_woe[x_cols])[:, 1]))
    # toad tutorial: select, chi-square combiner, WoE, stepwise, logistic regression
    selected, dropped = toad.selection.select(train, target="creditability", empty=0.5, iv=0.02, corr=0.7, return_drop=True)
    combiner = toad.transform.Combiner()
    combiner.fit(selected, y="creditability", method="chi", min_samples=0.05)
    woe = toad.transform.WOETransformer()
    train_t = woe.fit_transform(combiner.transform(selected), selected["creditability"], exclude=["creditability"])
    final = toad.selection.stepwise(train_t, target="creditability", estimator="ols", direction="both", criterion="aic")
    cols = [c for c in final.columns if c != "creditability"]
    test_t = woe.transform(combiner.transform(test[selected.columns]))
    lr = LogisticRegression(max_iter=5000).fit(final[cols], final["creditability"])
    out["toad"].append(roc_auc_score(test["creditability"], lr.predict_proba(test_t[cols])[:, 1]))
print(json.dumps(out))
'''


if __name__ == "__main__":
    main()
