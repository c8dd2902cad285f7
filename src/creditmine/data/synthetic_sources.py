"""The synthetic world, first layer: the calendar, enterprises, their health and sales, tax filings and ratings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditmine.config.data import SyntheticParams
from creditmine.data import io, uscc, world

_EPOCH = np.datetime64("1970-01-01", "D")
_TYPICAL_LOG_SALES = 12.6   # log of a typical micro enterprise's monthly sales (about 300k yuan)
_PRODUCT_INDEX = {p: i for i, p in enumerate(world.PRODUCTS)}
_SALES_ON_HEALTH = 0.7      # log sales per unit of health deviation
_SHOCK_ON_HEALTH = 1.0      # health lost per log unit of sales the macro shock takes


# ---------------------------------------------------------------------------------------------
# The calendar of the data window
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Months of the data window as day numbers (days since 1970-01-01)."""

    month_start: np.ndarray      # (T + 1,) first day of each month, and of the month after the window
    year: np.ndarray             # (T,)
    month_of_year: np.ndarray    # (T,) 1..12
    window_end: int              # last day of the window
    spring_dip: np.ndarray       # (T,) log-multiplier of activity around the Spring Festival
    shock: np.ndarray            # (T,) macro shock intensity in [0, 1]

    @classmethod
    def of(cls, params: SyntheticParams) -> "Calendar":
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


class SourceChunk:
    """Enterprises first .. first + n - 1 from one random stream: their attributes, latent health and
    sales, tax filings and ratings (the other sources and the applications are built on top)."""

    def __init__(self, index: int, first: int, n: int, calendar: Calendar, params: SyntheticParams, rng):
        self.index, self.first, self.n = index, first, n
        self.cal, self.params, self.rng = calendar, params, rng
        self.T = calendar.months

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
        exposure = np.array([i.shock_exposure for i in world.INDUSTRIES])[self.sec]
        self.macro = -0.6 * exposure[:, None] * cal.shock[None, :]          # <= 0, log units
        # the shock weakens health itself (margins, punctuality), so every source shows it
        self.dev = dev
        self.h = self.mu[:, None] + dev + _SHOCK_ON_HEALTH * self.macro
        season = np.array([i.seasonality for i in world.INDUSTRIES])[self.sec][:, cal.month_of_year - 1]
        years = np.arange(T) / 12.0
        self.log_sales = (
            self.size[:, None] + self.growth[:, None] * years[None, :] + _SALES_ON_HEALTH * dev + season
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
        skipped = rng.random(h.shape) < _sigmoid(-4.8 - 1.5 * h)
        late = rng.random(h.shape) < _sigmoid(-2.8 - 1.5 * h)
        late_days = 1 + np.minimum(rng.geometric(0.06, h.shape), 120)
        early_days = rng.integers(0, 12, h.shape)
        deadline = cal.month_start[1:][None, :] + 14
        filed = np.where(late, deadline + late_days, deadline - early_days)
        vat_rate = np.array([i.vat_rate for i in world.INDUSTRIES])[self.sec]
        payable = self.sales * vat_rate[:, None] * self.margin
        underpaid = rng.random(h.shape) < _sigmoid(-3.7 - 1.8 * h)
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


def _trailing(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over months t-window .. t-1 for each month t (0 before any data)."""
    n, T = values.shape
    cum = np.hstack([np.zeros((n, 1)), np.cumsum(values, axis=1)])
    upper = np.arange(T)
    lower = np.maximum(upper - window, 0)
    return cum[:, upper] - cum[:, lower]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))
