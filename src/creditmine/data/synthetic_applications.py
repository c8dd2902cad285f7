"""The synthetic world, third layer: loan applications month by month, their true PD and outcomes,
from what a lender could know before each application (`_LenderView`)."""

from __future__ import annotations

import numpy as np

from creditmine.data import io, uscc, world
from creditmine.data.synthetic_records import RecordChunk
from creditmine.data.synthetic_sources import _PRODUCT_INDEX, _TYPICAL_LOG_SALES, _sigmoid, _trailing

# Monthly application rate per eligible enterprise, and the log-odds intercept of default
_APPLICATION_RATE = {
    "procurement": 0.30, "tax": 0.029, "invoice": 0.022, "electricity": 0.018, "customs": 0.07,
    "engineering": 0.036, "tech": 0.036, "first_loan": 0.018,
}
_PD_INTERCEPT = {
    "procurement": -3.8, "tax": -4.35, "invoice": -4.2, "electricity": -4.15, "customs": -4.1,
    "engineering": -3.9, "tech": -4.3, "first_loan": -3.7,
}
# The past booking policy: P(booked) = sigmoid(level - steepness * (logit PD + 4.1)); "standard" is the
# world's default, "strict" books about half the applications and declines the weak more sharply
_PAST_POLICY = {"standard": (1.6, 0.7), "strict": (0.9, 1.3)}
# Requested amount as a share of the trailing 12 months' sales (median)
_REQUEST_SHARE = {
    "tax": 0.12, "invoice": 0.10, "electricity": 0.08, "customs": 0.10, "engineering": 0.20,
    "tech": 0.20, "first_loan": 0.06,
}


class ApplicationChunk(RecordChunk):
    """Every table of a chunk of enterprises: the sources, then the applications and outcomes."""

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

    # -- applications and outcomes -------------------------------------------------------------
    def _applications(self) -> tuple[dict, dict]:
        """Applications month by month (first loans depend on earlier bookings), with true PD."""
        rng, T, n = self.rng, self.T, self.n
        state = _LenderView(self)
        has_loan = np.zeros(n, dtype=bool)
        scale = self.params.applications_scale
        demand_base = np.exp(0.1 * (self.size - _TYPICAL_LOG_SALES))
        records = []
        for t in range(T):
            view = state.at(t)
            demand = demand_base * np.exp(-0.25 * view["h_last"]) * scale * self._demand_shift(t, view)
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

    def _demand_shift(self, t: int, view: dict):
        """Multiplies the application rates of month t (1.0: the world as documented; the
        production period's applicant-mix scenario changes it, `synthetic_production`)."""
        return 1.0

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
            - 0.3 * view["h_trend6"][e]
            + amount_risk
            + base_risk
            + 0.45 * (age < 2) + 0.25 * (age < 1)
            + 1.6 * self.top_customer_share[e] * small
            + 1.5 * (self.volatility[e] - 0.15)
            - 0.3 * self.si[e]
            + 0.35 * (view["filings"][e] < 6)
        )
        pd_true = _sigmoid(z)
        # the bank's past policy booked most applications, fewer of the visibly weak ones
        level, steepness = _PAST_POLICY[self.params.past_policy]
        booked = rng.random(m) < _sigmoid(level - steepness * (z + 4.1))
        matured = t + 12 <= self.T - 1
        outcome = (rng.random(m) < pd_true).astype(float)
        default = np.where(booked & matured, outcome, np.nan)
        days_in_month = cal.month_start[t + 1] - cal.month_start[t]
        applied = cal.month_start[t] + (rng.random(m) * days_in_month).astype(np.int64)
        # an enterprise registered during month t applies on or after its registration day
        applied = np.maximum(applied, self.registered[e])
        return {
            "t": t, "e": e, "applied": applied, "product": np.full(m, _PRODUCT_INDEX[product]),
            "amount": amount, "term": term, "award": award, "booked": booked, "default": default,
            "pd": pd_true, "booked_e": e[booked],
        }


class _LenderView:
    """What a lender could know about each enterprise at the start of month t (records strictly before)."""

    def __init__(self, chunk: ApplicationChunk):
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

    def _awards(self, chunk: ApplicationChunk) -> None:
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
