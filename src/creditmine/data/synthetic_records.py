"""The synthetic world, second layer: VAT invoices, electricity bills, customs declarations and
procurement awards, each reflecting the enterprise's health and size."""

from __future__ import annotations

import numpy as np

from creditmine.data import io, uscc, world
from creditmine.data.synthetic_sources import _TYPICAL_LOG_SALES, SourceChunk, _sigmoid


class RecordChunk(SourceChunk):
    """A chunk with the records of every other data source."""

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
        p_void, p_red = _sigmoid(-4.3 - 1.2 * h), _sigmoid(-4.6 - 1.5 * h)
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
        dev = self.dev
        kwh = (intensity[:, None] * np.exp(self.size)[:, None]
               * np.exp(elastic * (self.log_sales - self.size[:, None]) + 0.25 * dev + summer_winter
                        + 0.06 * rng.normal(size=(self.n, T))))
        industrial = np.isin(self.sec, self._secs("A", "C", "E"))
        price = np.where(industrial, 0.72, 0.85)[:, None] * np.exp(0.02 * rng.normal(size=(self.n, T)))
        billed = cal.month_start[1:][None, :] + rng.integers(2, 9, (self.n, T))
        on_time = rng.random((self.n, T)) < _sigmoid(3.0 + 1.8 * self.h)
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
