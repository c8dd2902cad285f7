"""The synthetic government-data world: enterprises, their records, loan applications and outcomes.

Each enterprise has a latent health that drifts month to month; every source (tax filings,
ratings, invoices, electricity, customs, procurement awards) reflects it with noise, and the true
probability of default of each loan application is a logistic function of what the sources show
before the application date. Enterprises are generated in chunks, each with its own random stream
(`SeedSequence(seed, spawn_key=(chunk,))`), and written as one Parquet row group per chunk, so the
output depends only on the params and the seed, and memory stays flat as the world grows.
docs/synthetic.md describes the world.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from creditmine.config.data import SyntheticParams
from creditmine.data import io, uscc, world

_EPOCH = np.datetime64("1970-01-01", "D")
_TYPICAL_LOG_SALES = 12.6   # log of a typical micro enterprise's monthly sales (about 300k yuan)
_PRODUCT_INDEX = {p: i for i, p in enumerate(world.PRODUCTS)}

# Monthly application rate per eligible enterprise, and the log-odds intercept of default
_APPLICATION_RATE = {
    "procurement": 0.10, "tax": 0.016, "invoice": 0.013, "electricity": 0.010, "customs": 0.04,
    "engineering": 0.02, "tech": 0.02, "first_loan": 0.012,
}
_PD_INTERCEPT = {
    "procurement": -4.25, "tax": -4.6, "invoice": -4.45, "electricity": -4.4, "customs": -4.35,
    "engineering": -4.15, "tech": -4.55, "first_loan": -3.95,
}
# Requested amount as a share of the trailing 12 months' sales (median)
_REQUEST_SHARE = {
    "tax": 0.12, "invoice": 0.10, "electricity": 0.08, "customs": 0.10, "engineering": 0.20,
    "tech": 0.20, "first_loan": 0.06,
}


@dataclass
class GenerationSummary:
    """What `generate` wrote: rows per table, seconds taken and where."""

    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def generate(params: SyntheticParams, seed: int, out_dir: str | os.PathLike, progress: bool = True) -> GenerationSummary:
    """Write the synthetic world's tables as Parquet into `out_dir`.

    Parameters
    ----------
    params : size, data window and world settings.
    seed : master seed; the same params and seed give byte-identical files.
    out_dir : folder to write `<table>.parquet` (every table of `io.ARROW_SCHEMAS`) and, last,
        the `_SUCCESS` marker; an existing marker is removed first.
    progress : show a tqdm bar over chunks.

    Returns
    -------
    GenerationSummary with the number of rows written per table.
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / io.SUCCESS_MARKER).unlink(missing_ok=True)
    calendar = _Calendar.of(params)
    chunk = params.chunk_enterprises
    starts = list(range(0, params.enterprises, chunk))
    with io.TableWriters(out) as writers:
        for index, first in enumerate(tqdm(starts, desc="generating", unit="chunk", disable=not progress)):
            n = min(chunk, params.enterprises - first)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
            tables = _Chunk(index, first, n, calendar, params, rng).tables()
            for name, columns in tables.items():
                writers.write(name, columns)
        rows = dict(writers.rows)
    (out / io.SUCCESS_MARKER).write_text("".join(f"{k}\t{v}\n" for k, v in rows.items()))
    return GenerationSummary(out_dir=out, rows=rows, seconds=time.perf_counter() - started)


def is_complete(data_dir: str | os.PathLike) -> bool:
    """True when `data_dir` holds every table and the `_SUCCESS` marker written after them."""
    folder = Path(data_dir)
    return (folder / io.SUCCESS_MARKER).is_file() and all(
        io.table_path(folder, name).is_file() for name in io.ARROW_SCHEMAS
    )


def remove_partial(data_dir: str | os.PathLike) -> None:
    """Delete a data folder left incomplete by an interrupted generation."""
    folder = Path(data_dir)
    if folder.is_dir() and not is_complete(folder):
        shutil.rmtree(folder)


# ---------------------------------------------------------------------------------------------
# The calendar of the data window
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """Months of the data window as day numbers (days since 1970-01-01)."""

    month_start: np.ndarray      # (T + 1,) first day of each month, and of the month after the window
    year: np.ndarray             # (T,)
    month_of_year: np.ndarray    # (T,) 1..12
    window_end: int              # last day of the window
    spring_dip: np.ndarray       # (T,) log-multiplier of activity around the Spring Festival
    shock: np.ndarray            # (T,) macro shock intensity in [0, 1]

    @classmethod
    def of(cls, params: SyntheticParams) -> "_Calendar":
        first = np.datetime64(params.start, "M")
        last = np.datetime64(params.end, "M")
        months = np.arange(first, last + 2)      # one extra: the month after the window
        starts = (months.astype("datetime64[D]") - _EPOCH).astype(np.int64)
        in_window = months[:-1]
        year = in_window.astype("datetime64[Y]").astype(int) + 1970
        moy = in_window.astype(int) % 12 + 1
        festival = np.array([world.SPRING_FESTIVAL_MONTH.get(int(y), 2) for y in year])
        # the festival month loses about a quarter of activity, the months beside it a little
        spring_dip = np.where(moy == festival, -0.28, np.where(np.abs(moy - festival) == 1, -0.07, 0.0))
        shock_start = np.datetime64(params.shock_start, "M")
        shock_end = np.datetime64(params.shock_end, "M")
        after = (in_window - shock_end).astype(int)
        ramp = np.clip(1.0 + (in_window - shock_start).astype(int), 0, 2) / 2.0
        shock = np.where(
            (in_window >= shock_start) & (in_window <= shock_end), ramp,
            np.where(in_window > shock_end, np.exp(-np.maximum(after, 0) / 4.0), 0.0),
        )
        return cls(starts, year, moy, int(starts[-1] - 1), spring_dip, shock)

    @property
    def months(self) -> int:
        return len(self.year)


# ---------------------------------------------------------------------------------------------
# One chunk of enterprises and everything about them
# ---------------------------------------------------------------------------------------------


class _Chunk:
    """Generates all tables for enterprises first .. first + n - 1 from one random stream."""

    def __init__(self, index: int, first: int, n: int, calendar: _Calendar, params: SyntheticParams, rng):
        self.index, self.first, self.n = index, first, n
        self.cal, self.params, self.rng = calendar, params, rng
        self.T = calendar.months

    def tables(self) -> dict[str, dict]:
        self._enterprises()
        self._health_and_sales()
        out = {"enterprises": self._enterprise_table()}
        out["tax_filings"] = self._tax_filings()
        out["tax_credit_ratings"] = self._ratings()
        out["invoices"] = self._invoices()
        out["electricity"] = self._electricity()
        out["customs"] = self._customs()
        out["procurement_awards"] = self._awards()
        out["applications"], out["ground_truth"] = self._applications()
        return out

    # -- enterprises --------------------------------------------------------------------------
    def _enterprises(self) -> None:
        rng, n, cal = self.rng, self.n, self.cal
        ind = world.INDUSTRIES
        shares = np.array([i.share for i in ind])
        self.sec = rng.choice(len(ind), n, p=shares / shares.sum())
        n_div = np.array([len(i.divisions) for i in ind])
        self.div_pick = (rng.random(n) * n_div[self.sec]).astype(int)
        d_w = np.array([d[2] for d in world.DISTRICTS])
        self.district = rng.choice(len(world.DISTRICTS), n, p=d_w / d_w.sum())
        # age: most firms are years old (log-normal); some register inside the window
        new = rng.random(n) < 0.12
        age_years = np.clip(np.exp(rng.normal(np.log(5.0), 0.9, n)), 0.3, 40.0)
        window_days = cal.month_start[-1] - cal.month_start[0]
        reg_new = cal.month_start[0] + (rng.random(n) * 0.75 * window_days).astype(np.int64)
        self.registered = np.where(new, reg_new, cal.month_start[0] - (age_years * 365.25).astype(np.int64))
        self.reg_month = np.clip(np.searchsorted(cal.month_start, self.registered, side="right") - 1, 0, None)
        self.reg_month = np.where(self.registered < cal.month_start[0], 0, self.reg_month)
        mu_sales = np.array([i.log_sales for i in ind])[self.sec]
        # size: log-normal with a heavier right tail; young firms start smaller
        self.size = (mu_sales + 1.15 * rng.normal(size=n) + 0.25 * np.clip(rng.standard_t(4, n), -4, 6)
                     - 0.4 * (self._age_at(cal.month_start[0]) < 2))
        si_base = np.where(np.isin(self.sec, self._secs("C", "I", "M")), 0.07, 0.008)
        self.si = rng.random(n) < si_base * np.where(self.size > 13.0, 1.8, 0.6)
        ht_base = np.select([self.sec == self._sec("I"), np.isin(self.sec, self._secs("C", "M"))], [0.25, 0.15], 0.02)
        self.high_tech = rng.random(n) < np.clip(ht_base + 0.5 * self.si, 0, 1)
        # long-run health: specialized-innovative and older firms are healthier
        age0 = np.clip(self._age_at(cal.month_start[0]), 0, None)
        self.mu = 0.75 * rng.normal(size=n) + 0.35 * self.si + 0.15 * np.tanh((age0 - 3) / 3)
        self.employees = np.maximum(1, np.round(np.exp(1.9 + 0.75 * (self.size - _TYPICAL_LOG_SALES) + 0.5 * rng.normal(size=n))))
        capital = np.exp(self.size + 0.4 + 0.9 * rng.normal(size=n))
        self.capital = np.maximum(1.0, np.round(capital / 1e4)) * 1e4
        # sources: thin-file firms only appear in tax and electricity records late in the window
        thin = rng.random(n) < self.params.thin_file_share
        onboard = (rng.random(n) * self.T * 0.8).astype(int)
        self.tax_from = np.maximum(self.reg_month, np.where(thin, onboard, 0))
        self.has_elec = rng.random(n) < np.array([i.electricity_share for i in ind])[self.sec] * np.where(thin, 0.5, 1.0)
        customs_share = np.array([i.customs_share for i in ind])[self.sec]
        self.has_customs = rng.random(n) < customs_share * np.where(self.size > 13.0, 1.6, 0.7)
        self.bidder = rng.random(n) < np.array([i.procurement_share for i in ind])[self.sec] * np.where(self.size > 12.3, 1.2, 0.7)
        # customers: a pool of K buyers, chosen with a power law whose exponent sets concentration
        self.n_customers = 2 + rng.poisson(np.clip(6 * np.exp(0.5 * (self.size - _TYPICAL_LOG_SALES)), 0, 200))
        self.concentration = np.exp(rng.normal(0.6, 0.5, n))
        self.top_customer_share = self.n_customers ** (-1.0 / self.concentration)
        self.n_suppliers = 2 + rng.poisson(4, n)
        self.volatility = 0.08 + 0.22 / (1 + np.exp(1.5 * self.mu + 0.3 * rng.normal(size=n)))
        growth = np.array([i.growth for i in ind])[self.sec]
        self.growth = growth + 0.03 * self.mu + 0.04 * rng.normal(size=n)
        self.serial = 50_000_000 + (np.arange(self.first, self.first + n, dtype=np.int64) * 7919) % 10_000_000
        self.id_bytes = uscc.code_bytes(self.serial, np.array([d[1] for d in world.DISTRICTS])[self.district])

    def _enterprise_table(self) -> dict:
        ind = world.INDUSTRIES
        divisions = np.array([ind[s].divisions[d] for s, d in zip(self.sec, self.div_pick)]) if self.n else np.array([], dtype=str)
        return {
            "enterprise_id": io.fixed_width_strings(self.id_bytes),
            "industry_section": np.array(world.SECTIONS)[self.sec],
            "industry_division": divisions,
            "district": np.array([d[0] for d in world.DISTRICTS])[self.district],
            "registered_at": self.registered,
            "registered_capital_cny": self.capital,
            "employees": self.employees.astype(np.int64),
            "specialized_innovative": self.si,
            "high_tech": self.high_tech,
        }

    # -- latent health, macro factor and sales -------------------------------------------------
    def _health_and_sales(self) -> None:
        rng, n, T, cal = self.rng, self.n, self.T, self.cal
        rho, sd = 0.92, 0.6
        dev = np.empty((n, T))
        dev[:, 0] = sd * rng.normal(size=n)
        shocks = sd * np.sqrt(1 - rho ** 2) * rng.normal(size=(n, T))
        for t in range(1, T):
            dev[:, t] = rho * dev[:, t - 1] + shocks[:, t]
        self.h = self.mu[:, None] + dev
        exposure = np.array([i.shock_exposure for i in world.INDUSTRIES])[self.sec]
        self.macro = -0.6 * exposure[:, None] * cal.shock[None, :]          # <= 0, log units
        season = np.array([i.seasonality for i in world.INDUSTRIES])[self.sec][:, cal.month_of_year - 1]
        years = np.arange(T) / 12.0
        self.log_sales = (
            self.size[:, None] + self.growth[:, None] * years[None, :] + 0.5 * dev + season
            + cal.spring_dip[None, :] + self.macro
            + self.volatility[:, None] * rng.normal(size=(n, T))
        )
        self.active = np.arange(T)[None, :] >= self.reg_month[:, None]
        self.sales = np.where(self.active, np.exp(self.log_sales), 0.0)
        # the VAT burden (payable / sales) follows the margin, which follows health
        self.margin = np.clip(0.22 + 0.08 * self.h + 0.02 * rng.normal(size=(n, T)), 0.01, 0.6)

    # -- tax filings and ratings ---------------------------------------------------------------
    def _tax_filings(self) -> dict:
        rng, cal, T = self.rng, self.cal, self.T
        visible = self.active & (np.arange(T)[None, :] >= self.tax_from[:, None])
        h = self.h
        skipped = rng.random(h.shape) < _sigmoid(-4.6 - 1.2 * h)
        late = rng.random(h.shape) < _sigmoid(-2.8 - 1.5 * h)
        late_days = 1 + np.minimum(rng.geometric(0.06, h.shape), 120)
        early_days = rng.integers(0, 12, h.shape)
        deadline = cal.month_start[1:][None, :] + 14
        filed = np.where(late, deadline + late_days, deadline - early_days)
        vat_rate = np.array([i.vat_rate for i in world.INDUSTRIES])[self.sec]
        payable = self.sales * vat_rate[:, None] * self.margin
        underpaid = rng.random(h.shape) < _sigmoid(-3.4 - 1.3 * h)
        paid = np.where(underpaid, payable * rng.uniform(0.0, 0.8, h.shape), payable)
        keep = visible & ~skipped & (filed <= cal.window_end)
        e, t = np.nonzero(keep)
        # kept for ratings and eligibility (lender's view: counts before a date)
        self.filed_late = late & keep
        self.underpaid = underpaid & keep
        self.filed_month = np.full(h.shape, -1)
        self.filed_month[e, t] = np.searchsorted(cal.month_start, filed[e, t], side="right") - 1
        self.filing_kept = keep
        return {
            "enterprise_id": self._ids(e),
            "period": cal.month_start[t],
            "taxable_sales_cny": np.round(self.sales[e, t], 2),
            "vat_payable_cny": np.round(payable[e, t], 2),
            "vat_paid_cny": np.round(paid[e, t], 2),
            "filed_at": filed[e, t],
        }

    def _ratings(self) -> dict:
        """Yearly tax credit ratings, published in April of the following year."""
        rng, cal = self.rng, self.cal
        years = np.unique(cal.year)
        rows_e, rows_y, rows_r, rows_p = [], [], [], []
        first_year = int(years[0])
        for y in [first_year - 1, *map(int, years)]:
            published = int((np.datetime64(f"{y + 1}-04-01") - _EPOCH).astype(int))
            published = published + rng.integers(0, 25, self.n)
            in_year = cal.year == y
            if in_year.any():
                filed = self.filing_kept[:, in_year]
                count = filed.sum(axis=1)
                h_year = (self.h[:, in_year] * filed).sum(axis=1) / np.maximum(count, 1)
                late = (self.filed_late[:, in_year]).sum(axis=1) / np.maximum(count, 1)
                under = (self.underpaid[:, in_year]).sum(axis=1) / np.maximum(count, 1)
                rated = count > 0
                new = count < 12
            else:       # the year before the window: from the health at the window start
                h_year, late, under = self.h[:, 0], 0.0, 0.0
                rated = (self.registered < cal.month_start[0] - 365) & (self.tax_from == 0)
                new = np.zeros(self.n, dtype=bool)
            score = h_year - 2.5 * late - 2.0 * under + 0.25 * rng.normal(size=self.n)
            grade = np.select([new, score > 0.75, score > -1.05, score > -1.9], ["M", "A", "B", "C"], "D")
            keep = rated & (published <= cal.window_end)
            e = np.flatnonzero(keep)
            rows_e.append(e)
            rows_y.append(np.full(len(e), y))
            rows_r.append(grade[e])
            rows_p.append(published[e])
        e = np.concatenate(rows_e)
        published = np.concatenate(rows_p)
        self.ratings = (e, np.concatenate(rows_y), np.concatenate(rows_r), published)
        return {
            "enterprise_id": self._ids(e),
            "year": np.concatenate(rows_y).astype(np.int64),
            "rating": np.concatenate(rows_r).astype(str),
            "published_at": published,
        }

    # -- invoices ------------------------------------------------------------------------------
    def _invoices(self) -> dict:
        rng, cal, T = self.rng, self.cal, self.T
        visible = self.active & (np.arange(T)[None, :] >= self.tax_from[:, None])
        coverage = np.array([i.invoice_coverage for i in world.INDUSTRIES])[self.sec]
        rate = np.clip(3.0 * np.exp(0.45 * (self.size - _TYPICAL_LOG_SALES)), 0.3, 300)
        sales_count = np.where(visible, rng.poisson(rate[:, None] * np.ones((1, T))), 0)
        buy_count = np.where(visible, rng.poisson(0.6 * rate[:, None] * np.ones((1, T))), 0)
        # invoiced totals: sales track taxable sales with noise; purchases follow the cost share
        sales_total = self.sales * coverage[:, None] * np.exp(0.12 * rng.normal(size=(self.n, T)))
        buy_total = self.sales * np.clip(1 - self.margin, 0.3, 0.99) * 0.8 * np.exp(0.15 * rng.normal(size=(self.n, T)))
        self.invoice_months = sales_count > 0
        parts = []
        for direction, counts, totals in (("sales", sales_count, sales_total), ("purchase", buy_count, buy_total)):
            flat = counts.ravel()
            cell = np.repeat(np.arange(flat.size), flat)        # one entry per invoice: its (e, t) cell
            e, t = np.divmod(cell, T)
            weight = rng.gamma(0.8, 1.0, cell.size)
            cell_sum = np.bincount(cell, weights=weight, minlength=flat.size)
            amount = totals.ravel()[cell] * weight / cell_sum[cell]
            u = rng.random(cell.size)
            if direction == "sales":
                pool, exponent = self.n_customers[e], self.concentration[e]
            else:
                pool, exponent = self.n_suppliers[e], np.full(cell.size, 1.3)
            k = np.minimum((pool * u ** exponent).astype(np.int64), pool - 1)
            parts.append((direction, e, t, amount, k))
        direction = np.concatenate([np.full(len(p[1]), p[0] == "sales") for p in parts])
        e = np.concatenate([p[1] for p in parts])
        t = np.concatenate([p[2] for p in parts])
        amount = np.concatenate([p[3] for p in parts])
        k = np.concatenate([p[4] for p in parts])
        order = np.lexsort((rng.random(len(e)), t, e))         # by enterprise, then month
        direction, e, t, amount, k = direction[order], e[order], t[order], amount[order], k[order]
        h = self.h[e, t]
        u = rng.random(len(e))
        p_void, p_red = _sigmoid(-4.2 - 0.8 * h), _sigmoid(-4.4 - 1.0 * h)
        status = np.where(u < p_void, "void", np.where(u < p_void + p_red, "red-letter", "normal"))
        amount = np.where(status == "red-letter", -amount * rng.uniform(0.2, 1.0, len(e)), amount)
        amount = np.round(np.maximum(np.abs(amount), 1.0) * np.sign(amount + (amount == 0)), 2)
        vat_rate = np.array([i.vat_rate for i in world.INDUSTRIES])[self.sec][e]
        days_in_month = np.diff(self.cal.month_start)[t]
        issued = cal.month_start[t] + (rng.random(len(e)) * days_in_month).astype(np.int64)
        # counterparties: distinct per (enterprise, pool slot, direction), registered across China
        cp_key = (self.first + e) * 1_000 + k + np.where(direction, 0, 500)
        cp_serial = 10_000_000 + (cp_key * 7907) % 40_000_000
        cp_division = world.COUNTERPARTY_DIVISIONS[(cp_key * 31) % len(world.COUNTERPARTY_DIVISIONS)]
        year2 = (cal.year[t] % 100)
        sequence = self.index * 10**10 + np.arange(len(e))
        invoice_id = np.hstack([uscc.digit_bytes(year2, 2), np.full((len(e), 2), ord("1"), np.uint8),
                                uscc.digit_bytes(sequence, 16)])
        self.invoice_cells = (e, t, direction, amount, status)
        return {
            "invoice_id": io.fixed_width_strings(invoice_id),
            "enterprise_id": self._ids(e),
            "counterparty_id": io.fixed_width_strings(uscc.code_bytes(cp_serial, cp_division)),
            "direction": np.where(direction, "sales", "purchase"),
            "issued_at": issued,
            "amount_cny": amount,
            "tax_cny": np.round(amount * vat_rate, 2),
            "status": status,
        }

    # -- electricity ---------------------------------------------------------------------------
    def _electricity(self) -> dict:
        rng, cal, T = self.rng, self.cal, self.T
        ind = world.INDUSTRIES
        visible = self.active & self.has_elec[:, None] & (np.arange(T)[None, :] >= self.tax_from[:, None] - 6)
        elastic = np.array([i.electricity_elasticity for i in ind])[self.sec][:, None]
        intensity = np.array([i.kwh_per_cny for i in ind])[self.sec] * np.exp(0.3 * rng.normal(size=self.n))
        summer_winter = np.where(np.isin(cal.month_of_year, (7, 8, 12, 1)), 0.08, 0.0)[None, :]
        dev = self.h - self.mu[:, None]
        kwh = (intensity[:, None] * np.exp(self.size)[:, None]
               * np.exp(elastic * (self.log_sales - self.size[:, None]) + 0.25 * dev + summer_winter
                        + 0.06 * rng.normal(size=(self.n, T))))
        industrial = np.isin(self.sec, self._secs("A", "C", "E"))
        price = np.where(industrial, 0.72, 0.85)[:, None] * np.exp(0.02 * rng.normal(size=(self.n, T)))
        billed = cal.month_start[1:][None, :] + rng.integers(2, 9, (self.n, T))
        on_time = rng.random((self.n, T)) < _sigmoid(2.9 + 1.4 * self.h)
        keep = visible & (billed <= cal.window_end)
        e, t = np.nonzero(keep)
        self.elec_kept = keep
        self.elec_billed_month = np.searchsorted(cal.month_start, billed, side="right") - 1
        return {
            "enterprise_id": self._ids(e),
            "period": cal.month_start[t],
            "kwh": np.round(kwh[e, t], 1),
            "bill_cny": np.round(kwh[e, t] * price[e, t], 2),
            "billed_at": billed[e, t],
            "paid_on_time": on_time[e, t],
        }

    # -- customs -------------------------------------------------------------------------------
    def _customs(self) -> dict:
        rng, cal, T = self.rng, self.cal, self.T
        ind = world.INDUSTRIES
        trader = self.has_customs & np.ones(self.n, bool)
        rate = 0.7 * np.exp(0.3 * (self.size - _TYPICAL_LOG_SALES))
        counts = np.where(self.active & trader[:, None], rng.poisson(rate[:, None] * np.ones((1, T))), 0)
        cell = np.repeat(np.arange(counts.size), counts.ravel())
        e, t = np.divmod(cell, T)
        export_share = np.array([i.export_share for i in ind])[self.sec][e]
        export = rng.random(len(e)) < export_share
        value = np.exp(self.log_sales[e, t] + np.log(0.25) + 0.15 * self.h[e, t] + 1.0 * rng.normal(size=len(e))) / np.maximum(rate[e], 1)
        chapters = [ind[s].hs_chapters for s in range(len(ind))]
        pick = (rng.random(len(e)) * np.array([len(c) for c in chapters])[self.sec[e]]).astype(int)
        hs = np.array([chapters[s][j] for s, j in zip(self.sec[e], pick)]) if len(e) else np.array([], dtype=str)
        days_in_month = np.diff(cal.month_start)[t]
        declared = cal.month_start[t] + (rng.random(len(e)) * days_in_month).astype(np.int64)
        serial = self.index * 1_000_000 + np.arange(len(e))
        decl_id = np.hstack([uscc.digit_bytes(np.full(len(e), 101), 4), uscc.digit_bytes(cal.year[t], 4),
                             uscc.digit_bytes(export.astype(int), 1), uscc.digit_bytes(serial, 9)])
        self.customs_cells = (e, t, export, value)
        return {
            "declaration_id": io.fixed_width_strings(decl_id),
            "enterprise_id": self._ids(e),
            "declared_at": declared,
            "direction": np.where(export, "export", "import"),
            "value_cny": np.round(value, 2),
            "hs_chapter": hs,
        }

    # -- procurement awards --------------------------------------------------------------------
    def _awards(self) -> dict:
        rng, cal, T = self.rng, self.cal, self.T
        age = self._age_at(cal.month_start[:-1][None, :])
        annual = 0.9 * np.exp(0.25 * (self.size[:, None] - _TYPICAL_LOG_SALES) + 0.35 * self.h + 0.2 * np.clip(age, 0, 5) / 5)
        counts = np.where(self.active & self.bidder[:, None], rng.poisson(annual / 12.0), 0)
        cell = np.repeat(np.arange(counts.size), counts.ravel())
        e, t = np.divmod(cell, T)
        weights = np.array([i.category_weights for i in world.INDUSTRIES])[self.sec[e]]
        u = rng.random(len(e))
        category = np.where(u < weights[:, 0], 0, np.where(u < weights[:, 0] + weights[:, 1], 1, 2))
        median = np.array([3e5, 5e5, 2e6])[category]
        amount = np.round(median * np.exp(0.3 * (self.size[e] - _TYPICAL_LOG_SALES) + 0.9 * rng.normal(size=len(e))), -2)
        low, high = np.array([2, 6, 6])[category], np.array([10, 25, 31])[category]
        duration = rng.integers(low, high)
        days_in_month = np.diff(cal.month_start)[t]
        awarded = cal.month_start[t] + (rng.random(len(e)) * days_in_month).astype(np.int64)
        start_on = awarded + rng.integers(7, 46, len(e))
        end_on = start_on + np.round(duration * 30.44).astype(np.int64)
        # status at the data end: weak firms lose contracts; it is not known at award time
        end_month = np.clip(np.searchsorted(cal.month_start, end_on, side="right") - 1, 0, T - 1)
        h_late = np.minimum(self.h[e, t], self.h[e, end_month])
        terminated = rng.random(len(e)) < _sigmoid(-3.6 - 1.5 * h_late)
        status = np.where(terminated, "terminated", np.where(end_on <= cal.window_end, "completed", "active"))
        purchaser = np.array(world.PURCHASERS)[rng.integers(0, len(world.PURCHASERS), len(e))]
        serial = self.index * 100_000 + np.arange(len(e))
        award_id = np.hstack([np.frombuffer(b"BJZC", np.uint8)[None, :].repeat(len(e), 0),
                              uscc.digit_bytes(cal.year[t], 4), uscc.digit_bytes(serial, 9)])
        self.award_cells = (e, t, amount, start_on, end_on, award_id)
        return {
            "award_id": io.fixed_width_strings(award_id),
            "enterprise_id": self._ids(e),
            "purchaser": purchaser,
            "awarded_at": awarded,
            "contract_amount_cny": amount.astype(float),
            "start_on": start_on,
            "end_on": end_on,
            "category": np.array(["goods", "services", "works"])[category],
            "status": status,
        }

    # -- applications and outcomes -------------------------------------------------------------
    def _applications(self) -> tuple[dict, dict]:
        """Applications month by month (first loans depend on earlier bookings), with true PD."""
        rng, cal, T, n = self.rng, self.cal, self.T, self.n
        state = _LenderView(self)
        has_loan = np.zeros(n, dtype=bool)
        scale = self.params.applications_scale
        demand_base = np.exp(0.1 * (self.size - _TYPICAL_LOG_SALES))
        records = []
        for t in range(T):
            view = state.at(t)
            demand = demand_base * np.exp(-0.25 * view["h_last"]) * scale
            eligible = {
                "procurement": view["award"] >= 0,
                "tax": (view["filings"] >= 12) & np.isin(view["rating"], ("A", "B", "M"))
                & np.isin(view["rating_in_month"], ("A", "B", "M")),
                "invoice": view["invoice_months"] >= 10,
                "electricity": view["bills"] >= 12,
                "customs": view["declarations"] >= 3,
                "engineering": (self.sec == self._sec("E")) & (view["age"] >= 1),
                "tech": self.si | self.high_tech,
                "first_loan": ~has_loan & (view["age"] >= 0.5),
            }
            u = rng.random((len(world.PRODUCTS), n))
            for p, product in enumerate(world.PRODUCTS):
                arrives = eligible[product] & self.active[:, t] & (u[p] < _APPLICATION_RATE[product] * demand)
                e = np.flatnonzero(arrives)
                if len(e) == 0:
                    continue
                record = self._price_applications(product, e, t, view)
                records.append(record)
                has_loan[record["booked_e"]] = True
        if records:
            cols = {key: np.concatenate([r[key] for r in records]) for key in records[0] if key != "t"}
        else:
            cols = {k: np.array([]) for k in ("e", "applied", "product", "amount", "term", "award", "booked", "default", "pd", "booked_e")}
        order = np.lexsort((cols["product"], cols["applied"], cols["e"]))
        cols = {k: v[order] for k, v in cols.items() if k != "booked_e"}
        m = len(order)
        app_id = np.hstack([np.frombuffer(b"AP", np.uint8)[None, :].repeat(m, 0),
                            uscc.digit_bytes(self.index * 10_000_000 + np.arange(m), 12)])
        app_ids = io.fixed_width_strings(app_id)
        award_ids = self.award_cells[5]
        award_strings = io.fixed_width_strings(award_ids) if len(award_ids) else None
        import pyarrow as pa
        import pyarrow.compute as pc

        has_award = cols["award"] >= 0
        if award_strings is not None:
            taken = award_strings.take(pa.array(np.where(has_award, cols["award"], 0).astype(np.int64)))
            award_col = pc.if_else(pa.array(has_award), taken, pa.scalar(None, pa.string()))
        else:
            award_col = pa.nulls(m, type=pa.string())
        apps = {
            "application_id": app_ids,
            "enterprise_id": self._ids(cols["e"].astype(np.int64)),
            "applied_at": cols["applied"],
            "product": np.array(world.PRODUCTS)[cols["product"].astype(int)],
            "requested_amount_cny": cols["amount"],
            "term_months": cols["term"].astype(np.int64),
            "award_id": award_col,
            "booked": cols["booked"].astype(bool),
            "default_12m": cols["default"],
        }
        return apps, {"application_id": app_ids, "true_pd": cols["pd"]}

    def _price_applications(self, product: str, e: np.ndarray, t: int, view: dict) -> dict:
        """Amounts, terms, true PD, booking and outcome for the applications of one product in month t."""
        rng, cal = self.rng, self.cal
        m = len(e)
        sales12 = view["sales12"][e]
        revenue = np.where(sales12 > 0, sales12, 12 * np.exp(self.size[e]))
        award = np.full(m, -1)
        term = np.where(rng.random(m) < 0.25, 6, 12)
        if product == "procurement":
            award = view["award"][e]
            remaining = view["remaining"][e]
            amount = remaining * rng.uniform(0.3, 0.95, m)
            months_left = np.maximum(3, np.minimum(12, (view["days_left"][e] / 30.44).astype(int)))
            term = months_left
            ratio = amount / np.maximum(remaining, 1.0)
            amount_risk = 1.6 * np.maximum(ratio - 0.6, 0) + 0.25 * np.maximum(np.log(amount / revenue / 0.15), 0)
        else:
            amount = revenue * np.exp(np.log(_REQUEST_SHARE[product]) + 0.5 * rng.normal(size=m))
            amount_risk = 0.7 * np.maximum(np.log(amount / revenue / 0.15), 0)
        cap = np.where(self.si[e], 50e6, 10e6)
        amount = np.clip(np.round(amount / 1e4) * 1e4, 3e4, cap)
        sec = self.sec[e]
        base_risk = np.array([i.base_risk for i in world.INDUSTRIES])[sec]
        age = view["age"][e]
        small = self.size[e] < _TYPICAL_LOG_SALES
        z = (
            _PD_INTERCEPT[product]
            - 1.55 * view["h_mean12"][e]
            - 0.45 * view["h_trend6"][e]
            + amount_risk
            + base_risk
            + 0.45 * (age < 2) + 0.25 * (age < 1)
            - 1.5 * self.macro[e, max(t - 1, 0)]
            + 1.6 * self.top_customer_share[e] * small
            + 1.5 * (self.volatility[e] - 0.15)
            - 0.3 * self.si[e]
            + 0.35 * (view["filings"][e] < 6)
            + 0.12 * rng.normal(size=m)        # the part no source shows
        )
        pd_true = _sigmoid(z)
        # the bank's past policy booked most applications, fewer of the visibly weak ones
        booked = rng.random(m) < _sigmoid(1.6 - 0.7 * (z + 4.1))
        matured = t + 12 <= self.T - 1
        outcome = (rng.random(m) < pd_true).astype(float)
        default = np.where(booked & matured, outcome, np.nan)
        days_in_month = cal.month_start[t + 1] - cal.month_start[t]
        applied = cal.month_start[t] + (rng.random(m) * days_in_month).astype(np.int64)
        return {
            "t": t, "e": e, "applied": applied, "product": np.full(m, _PRODUCT_INDEX[product]),
            "amount": amount, "term": term, "award": award, "booked": booked, "default": default,
            "pd": pd_true, "booked_e": e[booked],
        }

    # -- helpers -------------------------------------------------------------------------------
    def _ids(self, e: np.ndarray):
        return io.fixed_width_strings(self.id_bytes[e])

    def _age_at(self, day) -> np.ndarray:
        """Age in years at a day number (broadcasts)."""
        registered = self.registered if np.ndim(day) == 0 else self.registered[:, None]
        return (day - registered) / 365.25

    @staticmethod
    def _sec(letter: str) -> int:
        return world.SECTIONS.index(letter)

    @staticmethod
    def _secs(*letters: str) -> list[int]:
        return [world.SECTIONS.index(x) for x in letters]


class _LenderView:
    """What a lender could know about each enterprise at the start of month t (records strictly before)."""

    def __init__(self, chunk: _Chunk):
        self.c = chunk
        n, T = chunk.n, chunk.T
        # tax filings known before month t: count by month of filing, cumulated
        known = np.zeros((n, T + 1), dtype=np.int64)
        e, t = np.nonzero(chunk.filing_kept)
        np.add.at(known, (e, np.minimum(chunk.filed_month[e, t] + 1, T)), 1)
        self.filings_before = np.cumsum(known, axis=1)[:, :T]
        # electricity bills known before month t
        known = np.zeros((n, T + 1), dtype=np.int64)
        e, t = np.nonzero(chunk.elec_kept)
        np.add.at(known, (e, np.minimum(chunk.elec_billed_month[e, t] + 1, T)), 1)
        self.bills_before = np.cumsum(known, axis=1)[:, :T]
        # months with sales invoices and customs declarations, trailing 12 months before t
        self.invoice_months = _trailing(chunk.invoice_months.astype(float), 12)
        decl = np.zeros((n, T))
        ce, ct, _, _ = chunk.customs_cells
        np.add.at(decl, (ce, ct), 1)
        self.declarations = _trailing(decl, 12)
        self.sales12 = _trailing(chunk.sales, 12)
        active = chunk.active.astype(float)
        h_sum = _trailing(chunk.h * active, 12)
        count = _trailing(active, 12)
        self.h_mean12 = np.where(count > 0, h_sum / np.maximum(count, 1), chunk.mu[:, None])
        h_prev = np.hstack([chunk.h[:, :1], chunk.h[:, :-1]])           # h at t-1
        h_prev6 = np.hstack([np.repeat(chunk.h[:, :1], 7, axis=1), chunk.h[:, :-7]])[:, :T]   # h at t-7
        self.h_last = h_prev
        self.h_trend6 = h_prev - h_prev6
        # ratings: the latest published before month t, and any published during month t (an
        # application later in that month sees the new one, so eligibility needs both)
        self.rating = np.full((n, T), "", dtype="<U1")
        self.rating_in_month = np.full((n, T), "", dtype="<U1")
        re, _, rr, rp = chunk.ratings
        pub_month = np.searchsorted(chunk.cal.month_start, rp, side="right") - 1
        order = np.argsort(pub_month, kind="stable")
        for i in order:       # a handful of ratings per enterprise: cheap
            if pub_month[i] + 1 < T:
                self.rating[re[i], max(pub_month[i] + 1, 0):] = rr[i]
            if 0 <= pub_month[i] < T:
                self.rating_in_month[re[i], pub_month[i]] = rr[i]
        self.rating_in_month = np.where(self.rating_in_month == "", self.rating, self.rating_in_month)
        self._awards(chunk)

    def _awards(self, chunk: _Chunk) -> None:
        """The active award with the largest remaining value at each month start."""
        n, T, cal = chunk.n, chunk.T, chunk.cal
        self.award = np.full((n, T), -1)
        self.remaining = np.zeros((n, T))
        self.days_left = np.zeros((n, T))
        ae, at, amount, start_on, end_on, _ = chunk.award_cells
        for i in np.argsort(-amount, kind="stable"):
            months = np.arange(at[i] + 1, T)
            day = cal.month_start[months]
            running = (day >= start_on[i]) & (day < end_on[i] - 60)
            months, day = months[running], day[running]
            if len(months) == 0:
                continue
            left = amount[i] * (end_on[i] - day) / (end_on[i] - start_on[i])
            better = left > self.remaining[ae[i], months]
            self.award[ae[i], months[better]] = i
            self.remaining[ae[i], months[better]] = left[better]
            self.days_left[ae[i], months[better]] = (end_on[i] - day)[better]

    def at(self, t: int) -> dict:
        c = self.c
        return {
            "filings": self.filings_before[:, t],
            "bills": self.bills_before[:, t],
            "invoice_months": self.invoice_months[:, t],
            "declarations": self.declarations[:, t],
            "sales12": self.sales12[:, t],
            "h_mean12": self.h_mean12[:, t],
            "h_trend6": self.h_trend6[:, t],
            "h_last": self.h_last[:, t],
            "rating": self.rating[:, t],
            "rating_in_month": self.rating_in_month[:, t],
            "award": self.award[:, t],
            "remaining": self.remaining[:, t],
            "days_left": self.days_left[:, t],
            "age": (c.cal.month_start[t] - c.registered) / 365.25,
        }


def _trailing(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over months t-window .. t-1 for each month t (0 before any data)."""
    n, T = values.shape
    cum = np.hstack([np.zeros((n, 1)), np.cumsum(values, axis=1)])
    upper = np.arange(T)
    lower = np.maximum(upper - window, 0)
    return cum[:, upper] - cum[:, lower]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))

