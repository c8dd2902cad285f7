"""The synthetic world's production period: the months after the development data in which the
champion decides, an optional drift, and the outcome of every production application.

The production world is the development world's process run over a longer calendar, from
`data.synthetic.start` to the end of the production period plus `monitoring.maturity_months` (so
that every production loan's outcome is known to the simulation), from the same master seed: the
same enterprises (identities, industries, districts, sizes), their months drawn afresh. It is kept
beside the development world (`<data dir>-production-<hash>/`) and never feeds stages 01-05: the
development world's files, and so its bytes, are untouched (`tests/test_synthetic.py`).

Drift (`monitoring.production.scenario`, from `drift_start`):

- ``regional_shock``: the enterprises registered in `districts` lose `shock` of health (half in
  the first month, all of it from the second on) and half as much in log sales; the sources show
  it (sales and invoices fall, filings come late, bills go unpaid; government contract awards go
  on as before) and their true PD rises;
- ``applicant_mix``: young enterprises (under two years) and weak ones (health below -0.5) apply
  `mix_factor` times as often: the same enterprises, another applicant mix.

Both leave every random draw where it was, so the world before `drift_start` is the same in every
scenario. A production application's outcome is drawn from its true PD with uniforms hashed from
(seed, enterprise, date, product): the same application has the same outcome in every scenario.
A default happens in month on book k = 1..12 under a constant monthly hazard (the PD spread evenly
over the year): P(K <= k | default) = (1 - (1 - PD)^(k/12)) / PD.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.config.data import SyntheticParams
from creditmine.data import world
from creditmine.data.synthetic_applications import ApplicationChunk

__all__ = ["PRODUCTION_VERSION", "ProductionChunk", "ProductionSample", "production_data_dir", "production_months",
           "production_sample", "prepare_production"]

PRODUCTION_VERSION = "1"
"""Changes whenever the same params would give another production world or other outcomes."""

DAYS_PER_MONTH = 30.4375
"""A month on book, in days (365.25 / 12)."""


class ProductionChunk(ApplicationChunk):
    """A chunk of the production world: the development world's chunk plus the scenario's drift."""

    def __init__(self, index, first, n, calendar, params, rng, production=None):
        super().__init__(index, first, n, calendar, params, _FixedDrawRng(rng))
        self.production = production
        months = np.arange(np.datetime64(params.start, "M"), np.datetime64(params.end, "M") + 1)
        self._drift_t = int(np.searchsorted(months, np.datetime64(production.drift_start, "M")))

    def _health_and_sales(self) -> None:
        super()._health_and_sales()
        p = self.production
        if p.scenario != "regional_shock":
            return
        names = np.array([d[0] for d in world.DISTRICTS])
        hit = np.isin(names[self.district], p.districts)
        ramp = np.clip((np.arange(self.T) - self._drift_t + 1) / 2.0, 0.0, 1.0)
        drop = p.shock * hit[:, None] * ramp[None, :]
        self._h_before_shock = self.h
        self.h = self.h - drop
        self.log_sales = self.log_sales - 0.5 * drop
        self.sales = np.where(self.active, np.exp(self.log_sales), 0.0)
        self.margin = np.clip(self.margin - 0.08 * drop, 0.01, 0.6)

    def _awards(self) -> dict:
        # government purchasers award contracts as before the shock: the awards' draws are one
        # vector over every award, so a shocked count after the drift would move those before it
        shocked = self.h
        self.h = getattr(self, "_h_before_shock", shocked)
        try:
            return super()._awards()
        finally:
            self.h = shocked

    def _demand_shift(self, t: int, view: dict):
        p = self.production
        if p.scenario != "applicant_mix" or t < self._drift_t:
            return 1.0
        weak = (view["age"] < 2.0) | (view["h_last"] < -0.5)
        return np.where(weak, p.mix_factor, 1.0)


class _FixedDrawRng:
    """A numpy Generator whose Poisson draws take exactly one uniform each (inverse CDF).

    numpy's Poisson sampler takes a number of uniforms that depends on the mean, so a drift that
    changes one enterprise's award rate after `drift_start` would shift every later draw of the
    stream, before the drift too. With one uniform per draw, the world before the drift is the
    same in every scenario."""

    def __init__(self, rng):
        self._rng = rng

    def poisson(self, lam=1.0, size=None):
        from scipy import stats

        lam = np.asarray(lam, dtype=float)
        shape = lam.shape if size is None else size
        return np.maximum(stats.poisson.ppf(self._rng.random(shape), lam), 0).astype(np.int64)

    def __getattr__(self, name):
        return getattr(self._rng, name)


@dataclass
class ProductionSample:
    """The production applications of one product and what became of them.

    rows : application rows as a scoring client sends them (the feature table's key columns but
        the split and outcome, then the features), sorted by applied_at, application_id.
    truth : application_id, applied_at, true_pd, defaulted (bool: within 12 months, whether or
        not the loan is booked) and defaulted_on (date, NaT when it did not default): known to the
        simulation only; the monitor sees an outcome when a loan was booked and the date has passed.
    """

    rows: pd.DataFrame
    truth: pd.DataFrame


def production_synthetic(cfg) -> SyntheticParams:
    """The synthetic params of the production world (the development world's, on a longer calendar)."""
    synthetic, production = cfg.params.data.synthetic, cfg.params.monitoring.production
    if cfg.params.data.source != "synthetic":
        raise ValueError(f"{cfg.params_path}: the production period is simulated for the synthetic world only "
                         f"(data.source is {cfg.params.data.source}); give the monitor your own decisions and outcomes")
    if production.start <= synthetic.end:
        raise ValueError(f"{cfg.params_path}: monitoring.production.start {production.start} must come after "
                         f"data.synthetic.end {synthetic.end} (the production period follows the development data)")
    unknown = sorted(set(production.districts) - {d[0] for d in world.DISTRICTS})
    if unknown:
        raise ValueError(f"{cfg.params_path}: monitoring.production.districts: unknown district "
                         f"{', '.join(unknown)}; the world's are {', '.join(d[0] for d in world.DISTRICTS)}")
    last = np.datetime64(production.start, "M") + production.months - 1 + cfg.params.monitoring.maturity_months
    return synthetic.model_copy(update={"end": str(last)})


def production_months(cfg) -> list[pd.Period]:
    """The months of the production period, first to last."""
    production = cfg.params.monitoring.production
    first = pd.Period(production.start, "M")
    return [first + i for i in range(production.months)]


def production_key(cfg) -> str:
    """Digest of everything the production world depends on."""
    blob = json.dumps({
        "version": PRODUCTION_VERSION,
        "synthetic": production_synthetic(cfg).model_dump(mode="json"),
        "production": cfg.params.monitoring.production.model_dump(mode="json"),
        "seed": cfg.params.seed,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def production_data_dir(cfg) -> Path:
    """`<data dir>-production-<hash>/`: the production world of these params."""
    return cfg.data_dir.parent / f"{cfg.data_dir.name}-production-{production_key(cfg)[:12]}"


def prepare_production(cfg, progress: bool = True) -> Path:
    """Generate the production world unless a complete copy is there; return its folder."""
    from filelock import FileLock

    from creditmine.data import io, synthetic

    folder = production_data_dir(cfg)
    folder.parent.mkdir(parents=True, exist_ok=True)
    key = production_key(cfg)
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        if synthetic.is_complete(folder) and _marker(folder).get("production_key") == key:
            return folder
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        production = cfg.params.monitoring.production
        synthetic.generate(production_synthetic(cfg), cfg.params.seed, folder, progress=progress,
                           chunk_type=functools.partial(ProductionChunk, production=production),
                           marker={"production_key": key, "scenario": production.scenario})
    if not (folder / io.SUCCESS_MARKER).is_file():  # pragma: no cover - generate writes it last
        raise RuntimeError(f"{folder}: the production world was not completed")
    return folder


def production_sample(cfg, product: str, progress: bool = True) -> ProductionSample:
    """The production applications of `product` with their features and outcomes (cached in the
    production world's folder, keyed by the feature params)."""
    from creditmine.data.io import read_table, table_path
    from creditmine.features.build import FEATURE_TABLES, compute_features

    folder = prepare_production(cfg, progress)
    scope = cfg.product(product).application_products
    fp = cfg.params.features
    key = hashlib.sha256(json.dumps({"features": fp.model_dump(mode="json"), "scope": list(scope),
                                     "production": production_key(cfg)}, sort_keys=True).encode()).hexdigest()[:12]
    rows_file, truth_file = folder / f"rows-{product}-{key}.parquet", folder / f"truth-{product}-{key}.parquet"
    if rows_file.is_file() and truth_file.is_file():
        return ProductionSample(pd.read_parquet(rows_file), pd.read_parquet(truth_file))

    months = production_months(cfg)
    apps = read_table(folder, "applications")
    applied = pd.to_datetime(apps["applied_at"])
    inside = (applied >= months[0].start_time) & (applied <= months[-1].end_time)
    if scope:
        inside &= apps["product"].isin(scope)
    apps = apps[inside].sort_values("application_id", kind="stable").reset_index(drop=True)
    paths = {name: table_path(folder, name) for name in FEATURE_TABLES}
    features = compute_features(paths, apps, fp.windows_months, fp.filing_deadline_day, fp.backend, fp.threads,
                                fp.memory_limit_gb, fp.spark_master, progress)
    keys = apps[["application_id", "enterprise_id", "product", "applied_at", "requested_amount_cny", "term_months"]]
    keys = keys.astype({"requested_amount_cny": "float64", "term_months": "float64", "application_id": str})
    rows = keys.merge(features, on="application_id", how="left", validate="one_to_one")
    order = np.lexsort((rows["application_id"].to_numpy(), pd.to_datetime(rows["applied_at"]).to_numpy()))
    rows = rows.iloc[order].reset_index(drop=True)

    truth = read_table(folder, "ground_truth").astype({"application_id": str})
    truth = keys[["application_id", "enterprise_id", "product", "applied_at"]].merge(
        truth, on="application_id", how="left", validate="one_to_one")
    truth = draw_outcomes(truth, cfg.params.seed).iloc[order].reset_index(drop=True)
    rows.to_parquet(rows_file, index=False)
    truth.to_parquet(truth_file, index=False)
    return ProductionSample(rows, truth)


def draw_outcomes(truth: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Whether and when each application would default, from its true PD.

    Parameters
    ----------
    truth : application_id, enterprise_id, product, applied_at, true_pd.
    seed : the params' seed.

    Returns
    -------
    application_id, applied_at, true_pd, defaulted, defaulted_on.
    """
    applied = pd.to_datetime(truth["applied_at"]).dt.normalize()
    keys = (str(seed) + "|" + truth["enterprise_id"].astype(str) + "|" + applied.dt.strftime("%Y-%m-%d")
            + "|" + truth["product"].astype(str))
    occurrence = keys.groupby(keys).cumcount().astype(str)
    u = np.array([_uniforms(k) for k in (keys + "|" + occurrence)]).reshape(-1, 3)
    pd_true = truth["true_pd"].to_numpy(float)
    defaulted = u[:, 0] < pd_true
    safe = np.clip(pd_true, 1e-12, 1 - 1e-12)
    month = np.ceil(12 * np.log1p(-u[:, 1] * safe) / np.log1p(-safe))
    month = np.clip(month, 1, 12)
    days = np.floor((month - 1 + u[:, 2]) * DAYS_PER_MONTH).astype(int)
    defaulted_on = applied + pd.to_timedelta(np.where(defaulted, days, 0), unit="D")
    return pd.DataFrame({
        "application_id": truth["application_id"].astype(str).to_numpy(),
        "applied_at": applied.to_numpy(),
        "true_pd": pd_true,
        "defaulted": defaulted,
        "defaulted_on": defaulted_on.where(defaulted).to_numpy(),
    })


def _uniforms(key: str) -> tuple[float, float, float]:
    digest = hashlib.sha256(key.encode()).digest()
    words = np.frombuffer(digest[:24], dtype="<u8")
    return tuple((words >> np.uint64(11)).astype(float) / float(1 << 53))


def _marker(folder: Path) -> dict:
    from creditmine.data import io

    path = folder / io.SUCCESS_MARKER
    if not path.is_file():
        return {}
    return dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line)
