"""Benchmark of monitoring after go-live: the decision log's cost, stage 06 on one month of 100,000
decisions, and creditmine's statistics beside their peers on the same data.

The champion is real: a synthetic world of `--enterprises` enterprises (quick loans without first
loans, applications four times as frequent as the default world's) through stages 00-05 in a
throw-away project under `benchmarks/.work/monitor/`, approved and promoted by a second person.
Production rows are the production period's applications (`creditmine.data.synthetic_production`),
drawn with replacement to the wanted counts.

Figures:
- `log_batch_*`: applications per second of the batch path of `creditmine score`
  (`creditmine.decision.score.score_applications`: the pyfunc's `predict` on chunks of
  `CHUNK_ROWS` rows, each chunk recorded as it is decided, and written by the log's writer thread
  as a raw segment while the next is decided) on `--decisions` rows, log off and on, alternating,
  the median of `BATCH_REPEATS`; "on" runs until every row is in the store (the log's `flush`,
  which waits for the store to take the rows, is inside the time); the drop in %, target <= 10 %;
  `log_compact_*`: the compaction of those segments into Parquet (their rows built) that the
  writer process does once idle, timed after each "on" run (so it never overlaps the next run);
  `log_cpu_*`: CPU seconds of the deciding process (off and on) and of the writer process
  (writing, compacting), medians;
- `log_predict_one_call_*`: the same, but the whole batch in one `predict` call (nothing to overlap
  with: the log's work all comes after the decisions), shown for comparison, no target;
- `log_single_*`: p50 / p99 of one-application `predict` calls (`--single` per setting, in
  `SINGLE_BLOCKS` alternating blocks; one log for all "on" blocks, so its writer thread sends what waits every
  `flush_seconds` during them), log off and on; target: p99 rises by <= 1 ms; `log_record_*`:
  p50 / p99 of `DecisionLog.record` within those calls;
- `monitor_seconds`: stage 06 (`creditmine.monitoring.stage.run`, plots included, nothing
  recorded) on one month holding `--decisions` decisions, cold (the development reference built);
  target < 30 s; beside it `evidently_seconds`, Evidently's DataDriftPreset on the same columns
  (the month's inputs against the development sample);
- `psi_*`: creditmine's PSI (`creditmine.validation.stability.psi`) against optbinning's
  ScorecardMonitoring (system PSI of an optbinning scorecard's score) and toad's PSI, on the same
  bins; the largest absolute difference (target <= 1e-9);
- `label_free_auc_*`: creditmine's expected AUC (`creditmine.monitoring.estimates.expected_auc`)
  against NannyML's CBPE (roc_auc, one chunk) on the same rows and PDs, and the difference.

Peers (NannyML, Evidently, toad) are imported from the environment, else from
`benchmarks/.work/peers` (`pip install --target`, kept apart because their pins would move the
project's pandas), else skipped with a note. Evidently 0.7 imports
one helper that pandas 3 removed (`pandas.core.dtypes.common.infer_dtype_from_object`); the
benchmark supplies it (noted in the results).

Usage: nice .venv/bin/python benchmarks/monitor.py [--decisions 100000] [--single 4000] [--rebuild]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "monitor.json"
WORK = HERE / ".work" / "monitor"
PEERS = HERE / ".work" / "peers"
MONTH = "2025-03"
BATCH_REPEATS = 5
SINGLE_BLOCKS = 16
PARAMS = """\
name: bench
seed: 11
products: [quick_loan]
data:
  source: synthetic
  synthetic: {{enterprises: {enterprises}, start: "2021-01", end: "2024-12", applications_scale: 4}}
split: {{train_end: 2022-12-31, oot_start: 2023-01-01, holdout_share: 0.2}}
models:
  primary: gbm
  gbm: {{max_iter: 150, search_trials: 0}}
  scorecard: {{max_features: 12, binning_time_limit: 5}}
validation:
  bootstrap: 30
  gating: [auc_oot, auc_drop, psi_score]
monitoring:
  production: {{start: "2025-01", months: 3, scenario: none}}
"""


@click.command()
@click.option("--decisions", default=100_000, show_default=True, help="decisions of the monitored month and the batch")
@click.option("--single", default=4_000, show_default=True, help="one-application calls per logging setting")
@click.option("--enterprises", default=3_000, show_default=True)
@click.option("--rebuild", is_flag=True, help="rebuild the project even when a champion exists")
@click.option("--skip-evidently", is_flag=True, help="leave out Evidently (minutes on 100,000 rows)")
def main(decisions: int, single: int, enterprises: int, rebuild: bool, skip_evidently: bool) -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # the peers' usage analytics stay off: nothing leaves this machine
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["ITERATIVE_DO_NOT_TRACK"] = "1"
    load_average = os.getloadavg()[0]
    root = WORK / "project"
    built = _build(root, enterprises, rebuild)
    from creditmine import config
    from creditmine.data.synthetic_production import production_sample
    from creditmine.decision.score import load_decision_model, tracking_store

    cfg = config.load(root / "params" / "bench.yaml")
    os.environ["MLFLOW_TRACKING_URI"] = cfg.tracking_uri
    store_dir = root / "mlruns" / "decisions"
    shutil.rmtree(store_dir, ignore_errors=True)
    results: dict = {"decisions": decisions, "enterprises": enterprises, "build_seconds": built,
                     "load_average_1m": load_average, "cores": os.cpu_count(), "notes": []}
    with tracking_store(cfg.tracking_uri):
        sample = production_sample(cfg, "quick_loan", progress=False)
        model = load_decision_model("models:/creditmine-quick_loan@champion", cfg.tracking_uri)
        impl = model.unwrap_python_model()
        log = impl.log_
        rows = _month_rows(sample.rows, decisions, seed=0)
        results.update(_log_overhead(model, impl, log, rows, single))
        # the monitored month: one batch logged into the project's decision store
        impl.log_ = log
        log.store.folder = store_dir
        model.predict(rows)
        log.flush()
        from creditmine.monitoring.stage import run

        started = time.perf_counter()
        result = run(cfg, "quick_loan", pd.Period(MONTH, "M").end_time.date(), progress=False, record=False)
        results["monitor_seconds"] = round(time.perf_counter() - started, 2)
        results["monitor_verdict"] = result.verdict
        results["monitor_target_s"] = 30
        from creditmine.monitoring.reference import load_reference

        reference = load_reference(cfg.tracking_uri, result.model, result.version, "quick_loan",
                                   cfg.params.monitoring.reference_splits, cfg.product("quick_loan").application_products)
        from creditmine.monitoring.store import open_store

        logged = open_store(cfg.tracking_uri).read(result.model, result.version)
    results.update(_psi_peers(reference, logged, cfg, results["notes"]))
    results.update(_cbpe(cfg, reference, logged, results["notes"]))
    if not skip_evidently:
        results.update(_evidently(reference, logged, results["notes"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    _print(results)


# -- the project ----------------------------------------------------------------------------------

def _build(root: Path, enterprises: int, rebuild: bool) -> float:
    marker = root / ".built"
    if marker.is_file() and not rebuild:
        return float(marker.read_text())
    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    (root / "params" / "products").mkdir(parents=True)
    (root / "mlruns").mkdir()
    (root / "params" / "bench.yaml").write_text(PARAMS.format(enterprises=enterprises))
    product = (REPO / "params" / "products" / "quick_loan.yaml").read_text()
    product = product.replace("application_products: [tax, invoice, electricity, customs, first_loan]",
                              "application_products: [tax, invoice, electricity, customs]")
    (root / "params" / "products" / "quick_loan.yaml").write_text(product)
    from creditmine import config
    from creditmine.data import prepare
    from creditmine.decision.score import tracking_store
    from creditmine.features.stage import run as features
    from creditmine.governance.service import ReviewService
    from creditmine.governance.stage import register_version
    from creditmine.governance.lineage import log_version_run
    from creditmine.models.stage import run as train
    from creditmine.registry.gate import registry_for
    from creditmine.registry.trail_store import open_trail
    from creditmine.validation.stage import run as validate

    cfg = config.load(root / "params" / "bench.yaml")
    with tracking_store(cfg.tracking_uri):
        prepare(cfg)
        features(cfg)
        train(cfg, "quick_loan")
        validate(cfg, "quick_loan")
        run_id, info = log_version_run(cfg, "quick_loan")
        version = register_version(cfg, "quick_loan", run_id, info.model_uri)
        validator = ReviewService(registry_for(cfg.tracking_uri), open_trail(cfg.tracking_uri), "bench-validator")
        validator.approve(version.name, version.version, "benchmark")
        validator.promote(version.name, version.version, "benchmark")
    seconds = round(time.perf_counter() - started, 1)
    marker.write_text(str(seconds))
    return seconds


def _month_rows(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    picked = rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)
    days = pd.Period(MONTH, "M").days_in_month
    picked["application_id"] = [f"BM{i:010d}" for i in range(n)]
    picked["applied_at"] = (pd.Timestamp(f"{MONTH}-01") + pd.to_timedelta(rng.integers(0, days, n), unit="D")).strftime("%Y-%m-%d")
    return picked


# -- the decision log's cost ----------------------------------------------------------------------

def _log_overhead(model, impl, log, rows: pd.DataFrame, single: int) -> dict:
    from creditmine.monitoring.log import DecisionLog
    from creditmine.monitoring.store import ParquetDecisionStore

    from creditmine.decision.score import CHUNK_ROWS, score_applications

    def fresh_log(folder, source):
        return DecisionLog(ParquetDecisionStore(folder), log.model, log.version, log.input_columns, log.categorical,
                           source=source)

    def writer_cpu() -> float:
        from creditmine.monitoring.log_writer import _Worker

        worker = _Worker.shared()
        if worker is None:
            return float("nan")
        fields = Path(f"/proc/{worker._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    cpu: dict[str, list] = {"off": [], "on": [], "writer": [], "compact": [], "compact_seconds": []}

    def timed(decide, folder, source, account=False):
        impl.log_ = fresh_log(folder, source) if folder is not None else None
        writer_before, mine_before = writer_cpu(), os.times()
        started = time.perf_counter()
        decide()
        if impl.log_ is not None:
            impl.log_.flush()                 # every row in the store
        seconds = time.perf_counter() - started
        mine, writer_after = os.times(), writer_cpu()
        if account:
            cpu["on" if folder is not None else "off"].append(mine.user + mine.system - mine_before.user - mine_before.system)
        if impl.log_ is not None:
            compact_started = time.perf_counter()
            impl.log_.compact()
            if account:
                cpu["compact_seconds"].append(time.perf_counter() - compact_started)
                cpu["writer"].append(writer_after - writer_before)
                cpu["compact"].append(writer_cpu() - writer_after)
            impl.log_.close()
        return seconds

    model.predict(rows.iloc[:2000])            # warm
    batch = {"off": [], "on": []}
    one_call = {"off": [], "on": []}
    loads = []
    with tempfile.TemporaryDirectory(prefix="creditmine-bench-") as tmp:
        for repeat in range(BATCH_REPEATS):     # alternate, so both settings meet the same load
            for setting in ("off", "on"):
                folder = Path(tmp) / f"score-{setting}{repeat}" if setting == "on" else None
                batch[setting].append(timed(lambda: score_applications(model, rows, progress=False), folder, "score",
                                            account=True))
                loads.append(os.getloadavg()[0])
        for repeat in range(BATCH_REPEATS):
            for setting in ("off", "on"):
                folder = Path(tmp) / f"predict-{setting}{repeat}" if setting == "on" else None
                one_call[setting].append(timed(lambda: model.predict(rows), folder, "pyfunc"))
        rng = np.random.default_rng(1)
        picks = rng.integers(0, len(rows), single)
        frames = [rows.iloc[[i]] for i in picks]
        times = {"off": [], "on": []}
        recording: list[float] = []
        single_log = fresh_log(Path(tmp) / "single", "pyfunc")
        record = single_log.record

        def timed_record(*args, **kwargs):
            t0 = time.perf_counter()
            record(*args, **kwargs)
            recording.append(time.perf_counter() - t0)

        single_log.record = timed_record
        for block in range(SINGLE_BLOCKS):        # alternate, so both settings meet the same load
            for setting in ("off", "on"):
                impl.log_ = single_log if setting == "on" else None
                warm = len(recording)
                for frame in frames[:20]:
                    model.predict(frame)
                del recording[warm:]                 # the warm-up calls' records are not counted
                part = frames[block::SINGLE_BLOCKS]
                for frame in part:
                    t0 = time.perf_counter()
                    model.predict(frame)
                    times[setting].append(time.perf_counter() - t0)
        single_log.close()
    impl.log_ = log
    off, on = float(np.median(batch["off"])), float(np.median(batch["on"]))
    one_off, one_on = float(np.median(one_call["off"])), float(np.median(one_call["on"]))
    single_off, single_on = np.array(times["off"]) * 1000, np.array(times["on"]) * 1000
    recording_ms = np.array(recording) * 1000
    return {
        "log_batch_path": f"creditmine.decision.score.score_applications, chunks of {CHUNK_ROWS:,} rows",
        "log_batch_per_second_off": round(len(rows) / off), "log_batch_per_second_on": round(len(rows) / on),
        "log_batch_seconds_off": [round(x, 3) for x in batch["off"]], "log_batch_seconds_on": [round(x, 3) for x in batch["on"]],
        "log_batch_drop_pct": round(100 * (on - off) / off, 1), "log_batch_target_pct": 10,
        "log_batch_load_average_1m": [round(x, 2) for x in loads],
        "log_compact_seconds": round(float(np.median(cpu["compact_seconds"])), 3),
        "log_cpu_deciding_off": round(float(np.median(cpu["off"])), 2),
        "log_cpu_deciding_on": round(float(np.median(cpu["on"])), 2),
        "log_cpu_writer": round(float(np.median(cpu["writer"])), 2),
        "log_cpu_writer_compact": round(float(np.median(cpu["compact"])), 2),
        "log_predict_one_call_seconds_off": [round(x, 3) for x in one_call["off"]],
        "log_predict_one_call_seconds_on": [round(x, 3) for x in one_call["on"]],
        "log_predict_one_call_drop_pct": round(100 * (one_on - one_off) / one_off, 1),
        "log_record_p50_ms": round(float(np.percentile(recording_ms, 50)), 3),
        "log_record_p99_ms": round(float(np.percentile(recording_ms, 99)), 3),
        "log_single_load_average_1m": round(os.getloadavg()[0], 2),
        "log_single_p50_ms_off": round(float(np.percentile(single_off, 50)), 3),
        "log_single_p99_ms_off": round(float(np.percentile(single_off, 99)), 3),
        "log_single_p50_ms_on": round(float(np.percentile(single_on, 50)), 3),
        "log_single_p99_ms_on": round(float(np.percentile(single_on, 99)), 3),
        "log_single_p99_rise_ms": round(float(np.percentile(single_on, 99) - np.percentile(single_off, 99)), 3),
        "log_single_target_ms": 1.0, "log_single_calls": int(len(single_on)),
    }


# -- peers ----------------------------------------------------------------------------------------

def _peer(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        if PEERS.is_dir() and str(PEERS) not in sys.path:
            sys.path.append(str(PEERS))
        try:
            return importlib.import_module(name)
        except ImportError:
            return None


def _psi_peers(reference, logged, cfg, notes: list) -> dict:
    from creditmine.validation.stability import psi, quantile_edges

    out = {}
    expected = reference.decisions.loc[reference.scored, "score"].to_numpy(float)
    actual = logged.decisions.loc[logged.decisions["grade"] > 0, "score"].to_numpy(float)
    edges = quantile_edges(expected, cfg.params.validation.psi_bins)
    ours = psi(expected, actual, edges=edges)
    out["psi_creditmine"] = ours
    toad = _peer("toad")
    if toad is None:
        notes.append("toad not installed: its PSI skipped")
    else:
        codes_e = np.searchsorted(edges, expected, side="right")
        codes_a = np.searchsorted(edges, actual, side="right")
        theirs = float(toad.metrics.PSI(pd.Series(codes_a), pd.Series(codes_e)))
        out["psi_toad"] = theirs
        out["psi_toad_abs_diff"] = abs(theirs - ours)
    # optbinning: the system PSI of a scorecard's score, on optbinning's own bins
    from optbinning import BinningProcess, Scorecard
    from optbinning.scorecard import ScorecardMonitoring
    from sklearn.linear_model import LogisticRegression

    features = [f for f in reference.importance.index[:8] if reference.kinds.get(f) == "numeric"][:6]
    dev = reference.sample
    y_dev = dev["default_12m"].fillna(0).to_numpy(int)
    card = Scorecard(binning_process=BinningProcess(features), estimator=LogisticRegression(max_iter=500),
                     scaling_method="min_max", scaling_method_params={"min": 300, "max": 850}).fit(dev[features], y_dev)
    month = logged.inputs[features]
    y_month = np.zeros(len(month), dtype=int)
    y_month[: max(1, len(month) // 50)] = 1
    monitoring = ScorecardMonitoring(card, psi_method="quantile", psi_n_bins=10).fit(month, y_month, dev[features], y_dev)
    table = monitoring.psi_table()
    theirs = float(table["PSI"].iloc[-1]) if str(table.index[-1]).lower().startswith("total") or "Totals" in str(table.index[-1]) \
        else float(table["PSI"].sum())
    splits = monitoring.psi_splits
    # optbinning's bins are (a, b] (np.digitize right=True); creditmine's [a, b): the next float up is the same cut
    ours_same_bins = psi(card.score(dev[features]), card.score(month), edges=np.nextafter(np.asarray(splits), np.inf))
    out.update({"psi_optbinning": theirs, "psi_creditmine_optbinning_bins": ours_same_bins,
                "psi_optbinning_abs_diff": abs(theirs - ours_same_bins), "psi_optbinning_bins": len(splits) + 1})
    return out


def _cbpe(cfg, reference, logged, notes: list) -> dict:
    from creditmine.monitoring.estimates import expected_auc

    approved = logged.decisions[logged.decisions["decision"] == "approve"]
    ours = expected_auc(approved["pd"])
    out = {"label_free_auc_creditmine": ours, "label_free_rows": int(len(approved))}
    nml = _peer("nannyml")
    if nml is None:
        notes.append("nannyml not installed: CBPE skipped")
        return out
    dev = reference.decisions.assign(y=reference.sample["default_12m"].to_numpy())
    dev = dev[dev["y"].notna() & (dev["decision"] == "approve")]
    threshold = float(np.median(approved["pd"]))
    ref = pd.DataFrame({"p": dev["pd"].to_numpy(), "y_pred": (dev["pd"] > threshold).astype(int), "y": dev["y"].astype(int)})
    ana = pd.DataFrame({"p": approved["pd"].to_numpy(), "y_pred": (approved["pd"] > threshold).astype(int)})
    started = time.perf_counter()
    estimator = nml.CBPE(y_pred_proba="p", y_pred="y_pred", y_true="y", metrics=["roc_auc"],
                         problem_type="classification_binary", chunk_number=1)
    estimator.fit(ref)
    frame = estimator.estimate(ana).filter(period="analysis").to_df()
    theirs = float(frame[("roc_auc", "value")].iloc[0])
    out.update({"label_free_auc_nannyml_cbpe": theirs, "label_free_auc_abs_diff": abs(theirs - ours),
                "nannyml_seconds": round(time.perf_counter() - started, 2),
                "nannyml_calibrated": bool(getattr(estimator, "needs_calibration", False))})
    return out


def _evidently(reference, logged, notes: list) -> dict:
    import pandas.core.dtypes.common as common

    if not hasattr(common, "infer_dtype_from_object"):
        common.infer_dtype_from_object = lambda dtype: dtype if isinstance(dtype, type) else pd.api.types.pandas_dtype(dtype).type
        notes.append("Evidently 0.7 imports pandas.core.dtypes.common.infer_dtype_from_object, gone in pandas 3: supplied")
    if _peer("evidently") is None:
        notes.append("evidently not installed: its data-drift preset skipped")
        return {}
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = [f for f in reference.features if f in logged.inputs.columns]
    current = logged.inputs[columns].copy()
    ref = reference.sample[columns].copy()
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, ref)
    seconds = time.perf_counter() - started
    drifted = snapshot.dict()["metrics"][0]["value"]
    return {"evidently_seconds": round(seconds, 2), "evidently_columns": len(columns),
            "evidently_drifted_columns": drifted.get("count"), "evidently_version": _peer("evidently").__version__}


def _print(results: dict) -> None:
    rows = [
        ("decision log, batch", f"{results['log_batch_per_second_off']:,}/s off, {results['log_batch_per_second_on']:,}/s on: "
                                f"{results['log_batch_drop_pct']:+.1f} % (target <= 10 %)"),
        ("decision log, CPU", f"deciding {results['log_cpu_deciding_off']} s off, {results['log_cpu_deciding_on']} s on; "
                              f"writer {results['log_cpu_writer']} s, then compaction {results['log_cpu_writer_compact']} s "
                              f"({results['log_compact_seconds']} s, when idle)"),
        ("decision log, one call", f"{results['log_predict_one_call_drop_pct']:+.1f} % "
                                   f"({results['decisions']:,} rows in one predict; no target)"),
        ("decision log, single", f"p99 {results['log_single_p99_ms_off']:.2f} ms off, {results['log_single_p99_ms_on']:.2f} ms on: "
                                 f"{results['log_single_p99_rise_ms']:+.2f} ms (target <= 1 ms)"),
        ("monitor one month", f"{results['decisions']:,} decisions in {results['monitor_seconds']:.1f} s (target < 30 s)"
                              + (f"; Evidently DataDriftPreset {results['evidently_seconds']:.1f} s on "
                                 f"{results['evidently_columns']} columns" if "evidently_seconds" in results else "")),
        ("PSI vs optbinning", f"{results['psi_creditmine_optbinning_bins']:.12f} vs {results['psi_optbinning']:.12f} "
                              f"(|diff| {results['psi_optbinning_abs_diff']:.1e})"),
    ]
    if "psi_toad" in results:
        rows.append(("PSI vs toad", f"{results['psi_creditmine']:.12f} vs {results['psi_toad']:.12f} "
                                    f"(|diff| {results['psi_toad_abs_diff']:.1e})"))
    if "label_free_auc_nannyml_cbpe" in results:
        rows.append(("label-free AUC vs CBPE", f"{results['label_free_auc_creditmine']:.4f} vs "
                                               f"{results['label_free_auc_nannyml_cbpe']:.4f} (|diff| "
                                               f"{results['label_free_auc_abs_diff']:.4f}, {results['label_free_rows']:,} rows)"))
    for name, text in rows:
        print(f"{name:<24} {text}")
    for note in results["notes"]:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
