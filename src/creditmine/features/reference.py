"""An independent plain-pandas implementation of the synthetic-world features.

It restates every definition of `creditmine.features.definitions` with pandas merges and
group-bys, sharing nothing with the SQL but the catalog's column names, so that a test can hold
the engine's results to it, and the benchmark can measure the engine against it. It is meant for
small data and for checking: it materialises every application x record pair in memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmine.features.catalog import KEY_COLUMNS, STATUTORY_VAT_RATES, synthetic_catalog

__all__ = ["reference_features"]

_RANKS = {"A": 1, "B": 2, "M": 3, "C": 4, "D": 5}


def reference_features(
    tables: dict[str, pd.DataFrame],
    applications: pd.DataFrame,
    windows_months: tuple[int, ...] = (3, 6, 12),
    filing_deadline_day: int = 15,
) -> pd.DataFrame:
    """The features of `compute_features`, computed with pandas alone.

    Parameters
    ----------
    tables : raw table name -> DataFrame (enterprises, tax_filings, tax_credit_ratings, invoices,
        electricity, customs, procurement_awards), with datetime64 dates.
    applications : application_id, enterprise_id, applied_at, product, requested_amount_cny,
        term_months, award_id.
    windows_months, filing_deadline_day : as in `FeatureParams`.

    Returns
    -------
    DataFrame: application_id then the non-key catalogued features, sorted by application_id.
    """
    windows = tuple(sorted(set(windows_months)))
    annual = windows[-1]
    growth = tuple(k for k in windows if 2 * k <= annual)
    spine = _spine(applications, windows)
    ids = pd.Index(spine["application_id"], name="application_id")
    out: dict[str, pd.Series] = {}

    tax = _tax(spine, tables["tax_filings"], windows, filing_deadline_day)
    rating = _ratings(spine, tables["tax_credit_ratings"])
    invoices = _invoices(spine, tables["invoices"], windows, growth)
    electricity = _electricity(spine, tables["electricity"], windows)
    customs = _customs(spine, tables["customs"], windows, growth)
    awards = _awards(spine, tables["procurement_awards"], annual)
    own = _own_award(spine, tables["procurement_awards"])
    present = {"tax": tax, "tax_rating": rating, "invoices": invoices, "electricity": electricity,
               "customs": customs, "procurement": awards}
    for frame in (tax, rating, invoices, electricity, customs, awards, own):
        for column in frame.columns:
            out[column] = frame[column].reindex(ids)
    for source, frame in present.items():
        out[f"{source}_missing"] = pd.Series((~ids.isin(frame.index)).astype(float), index=ids)
    out["sources_missing_count"] = sum(out[f"{s}_missing"] for s in present)

    s = spine.set_index("application_id")
    out[f"prior_applications_{annual}m"] = _prior_applications(spine, annual).reindex(ids).fillna(0.0)
    sales_annual = out[f"taxable_sales_{annual}m"]
    out[f"requested_to_sales_{annual}m"] = _ratio(s["requested_amount_cny"], sales_annual)
    out[f"invoiced_to_taxable_sales_{annual}m"] = _ratio(out[f"invoiced_sales_{annual}m"], sales_annual)
    out[f"electricity_bill_to_sales_{annual}m"] = _ratio(out[f"electricity_bill_{annual}m"], sales_annual)

    ent = s[["enterprise_id", "applied_at"]].reset_index().merge(
        tables["enterprises"], on="enterprise_id", how="left").set_index("application_id").reindex(ids)
    out["enterprise_age_years"] = (ent["applied_at"] - ent["registered_at"]).dt.days / 365.25
    out["registered_capital_cny"] = ent["registered_capital_cny"]
    out["employees"] = ent["employees"]
    for flag in ("specialized_innovative", "high_tech"):
        out[flag] = ent[flag].map({True: 1.0, False: 0.0})
    out["industry_section"] = ent["industry_section"]
    rate = ent["industry_section"].map(STATUTORY_VAT_RATES).astype(float)
    for k in windows:
        burden = _ratio(out[f"vat_payable_{k}m"], out[f"taxable_sales_{k}m"])
        out[f"vat_burden_rel_rate_{k}m"] = burden / rate
    out[f"vat_burden_rel_rate_change_{windows[0]}m_{annual}m"] = (
        out[f"vat_burden_rel_rate_{windows[0]}m"] - out[f"vat_burden_rel_rate_{annual}m"])

    catalog = synthetic_catalog(windows)
    columns = {"application_id": ids.to_numpy()}
    for spec in catalog:
        if spec.name in KEY_COLUMNS:
            continue
        values = out[spec.name].reindex(ids)
        if spec.kind == "categorical":
            columns[spec.name] = pd.Series(values.astype(object).where(values.notna(), None).to_numpy(), dtype=object)
        else:
            columns[spec.name] = pd.to_numeric(values).astype("float64").to_numpy()
    frame = pd.DataFrame(columns)  # built at once: a column at a time fragments the frame
    return frame.sort_values("application_id", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------

def _spine(applications: pd.DataFrame, windows) -> pd.DataFrame:
    spine = applications[["application_id", "enterprise_id", "applied_at", "requested_amount_cny",
                          "award_id"]].copy()
    spine["application_id"] = spine["application_id"].astype(str)
    spine["applied_at"] = pd.to_datetime(spine["applied_at"]).dt.normalize()
    for k in sorted({*windows, *(2 * k for k in windows if 2 * k <= windows[-1])}):
        spine[f"since_{k}m"] = spine["applied_at"] - pd.DateOffset(months=k)
    return spine


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = num.astype(float), den.astype(float)
    return (num / den).where(den > 0)


def _month_index(dates: pd.Series) -> pd.Series:
    return dates.dt.year * 12 + dates.dt.month


def _pairs(spine: pd.DataFrame, table: pd.DataFrame, known_at: str, since: str | None = None) -> pd.DataFrame:
    """Every application x record of its enterprise known strictly before applied_at (and since)."""
    merged = spine.merge(table, on="enterprise_id", how="inner")
    keep = merged[known_at] < merged["applied_at"]
    if since is not None:
        keep &= merged[known_at] >= merged[since]
    return merged[keep.to_numpy()].reset_index(drop=True)


def _ranked(spine, table, known_at, tie_break) -> pd.DataFrame:
    """Monthly records known before the application, r = 1 for the latest period (ties: values descending)."""
    m = _pairs(spine, table, known_at)
    keys = ["application_id", "period", known_at, *tie_break]
    m = m.sort_values(keys, ascending=[True] + [False] * (len(keys) - 1), kind="stable")
    m["r"] = m.groupby("application_id").cumcount() + 1
    return m


def _sum_where(m: pd.DataFrame, values, mask, empty_is_zero: bool) -> pd.Series:
    """Per application, the sum of `values` where `mask`; NaN (or 0) when no row matches."""
    frame = pd.DataFrame({"application_id": m["application_id"].to_numpy(),
                          "v": np.where(mask, values, np.nan)})
    return frame.groupby("application_id")["v"].sum(min_count=0 if empty_is_zero else 1)


def _count_where(m, mask) -> pd.Series:
    return _sum_where(m, np.asarray(mask, dtype=float), np.ones(len(m), bool), True)


def _growth(m, value: str, k: int) -> pd.Series:
    recent = _sum_where(m, m[value], m["r"] <= k, False)
    earlier_mask = (m["r"] > k) & (m["r"] <= 2 * k)
    earlier = _sum_where(m, m[value], earlier_mask, False)
    full = _count_where(m, earlier_mask) == k
    return (recent / earlier - 1).where(full & (earlier > 0))


def _cv(m, value: str, k: int) -> pd.Series:
    frame = pd.DataFrame({"application_id": m["application_id"], "v": m[value].where(m["r"] <= k)})
    g = frame.groupby("application_id")["v"]
    mean, std = g.mean(), g.std(ddof=1)
    return (std / mean).where(mean > 0)


def _tax(spine, filings, windows, deadline_day) -> pd.DataFrame:
    annual = windows[-1]
    m = _ranked(spine, filings, "filed_at", ["taxable_sales_cny", "vat_payable_cny", "vat_paid_cny"])
    deadline = m["period"] + pd.DateOffset(months=1) + pd.Timedelta(days=deadline_day - 1)
    late = (m["filed_at"] > deadline).to_numpy()
    r = m["r"].to_numpy()
    m["sales"] = m["taxable_sales_cny"]
    out = {}
    for k in windows:
        out[f"taxable_sales_{k}m"] = _sum_where(m, m["taxable_sales_cny"], r <= k, False)
        out[f"taxable_sales_growth_{k}m"] = _growth(m, "sales", k)
        out[f"taxable_sales_cv_{k}m"] = _cv(m, "sales", k)
        out[f"tax_late_filings_{k}m"] = _count_where(m, (r <= k) & late)
        # not a feature: the numerator of the VAT burden relative to the statutory rate
        out[f"vat_payable_{k}m"] = _sum_where(m, m["vat_payable_cny"], r <= k, False)
    a = r <= annual
    paid = _sum_where(m, m["vat_paid_cny"], a, False)
    payable = _sum_where(m, m["vat_payable_cny"], a, False)
    sales = _sum_where(m, m["taxable_sales_cny"], a, False)
    out[f"tax_late_filing_share_{annual}m"] = _ratio(_count_where(m, a & late), _count_where(m, a))
    out[f"vat_paid_ratio_{annual}m"] = _ratio(paid, payable)
    out[f"vat_unpaid_{annual}m"] = _sum_where(m, m["vat_payable_cny"] - m["vat_paid_cny"], a, False)
    out[f"vat_underpaid_months_{annual}m"] = _count_where(m, a & (m["vat_paid_cny"] < m["vat_payable_cny"]).to_numpy())
    out[f"vat_burden_{annual}m"] = _ratio(payable, sales)
    out[f"tax_zero_sales_months_{annual}m"] = _count_where(m, a & (m["taxable_sales_cny"] <= 0).to_numpy())
    out["tax_history_months"] = m.groupby("application_id").size().astype(float)
    lag = _month_index(m["applied_at"]) - _month_index(m["period"])
    out["tax_filing_lag_months"] = lag.groupby(m["application_id"]).min().astype(float)
    return pd.DataFrame(out)


def _ratings(spine, ratings) -> pd.DataFrame:
    m = _pairs(spine, ratings, "published_at")
    m = m.sort_values(["application_id", "published_at", "year", "rating"], ascending=[True, False, False, False],
                      kind="stable")
    m["r"] = m.groupby("application_id").cumcount() + 1
    m["rank"] = m["rating"].map(_RANKS).astype(float)
    latest = m[m["r"] == 1].set_index("application_id")
    previous = m[m["r"] == 2].set_index("application_id")
    out = pd.DataFrame(index=latest.index)
    out["tax_rating_latest"] = latest["rating"]
    out["tax_rating_rank"] = latest["rank"]
    out["tax_rating_change"] = latest["rank"] - previous["rank"].reindex(latest.index)
    out["tax_rating_years"] = m.groupby("application_id").size().astype(float)
    return out


def _invoices(spine, invoices, windows, growth) -> pd.DataFrame:
    annual = windows[-1]
    m = _pairs(spine, invoices, "issued_at", since=f"since_{annual}m")
    sale = (m["direction"] == "sales").to_numpy()
    status = m["status"].to_numpy()
    amount = m["amount_cny"].to_numpy()
    net_sale = sale & (status != "void")
    out = {}

    def net_sales(lo=None, hi=None):
        mask = net_sale.copy()
        if lo:
            mask &= (m["issued_at"] >= m[lo]).to_numpy()
        if hi:
            mask &= (m["issued_at"] < m[hi]).to_numpy()
        return _sum_where(m, amount, mask, True)

    for k in windows:
        in_k = (m["issued_at"] >= m[f"since_{k}m"]).to_numpy()
        n = _count_where(m, sale & in_k)
        out[f"invoiced_sales_{k}m"] = net_sales(f"since_{k}m")
        out[f"sales_invoices_{k}m"] = n
        out[f"invoice_void_share_{k}m"] = _ratio(_count_where(m, sale & in_k & (status == "void")), n)
        out[f"invoice_red_letter_share_{k}m"] = _ratio(_count_where(m, sale & in_k & (status == "red-letter")), n)
    for k in growth:
        recent, earlier = net_sales(f"since_{k}m"), net_sales(f"since_{2 * k}m", f"since_{k}m")
        out[f"invoiced_sales_growth_{k}m"] = (recent / earlier - 1).where(earlier > 0)
    normal_sales = _sum_where(m, amount, sale & (status == "normal"), True)
    red = _sum_where(m, -amount, sale & (status == "red-letter"), True)
    purchases = _sum_where(m, amount, ~sale & (status != "void"), True)
    out[f"invoice_red_letter_amount_share_{annual}m"] = _ratio(red, normal_sales)
    out[f"invoiced_purchases_{annual}m"] = purchases
    out[f"sales_to_purchases_{annual}m"] = _ratio(net_sales(), purchases)
    sales_rows = m[sale]
    months = _month_index(sales_rows["issued_at"])
    distinct = pd.DataFrame({"application_id": sales_rows["application_id"], "month": months}).drop_duplicates()
    apps = pd.Index(m["application_id"].unique())
    out[f"sales_invoice_months_{annual}m"] = distinct.groupby("application_id").size().reindex(apps).fillna(0).astype(float)
    last_sale = sales_rows.groupby("application_id")["issued_at"].max().reindex(apps)
    applied = m.groupby("application_id")["applied_at"].max().reindex(apps)
    out["days_since_last_sales_invoice"] = (applied - last_sale).dt.days.astype(float)
    out[f"avg_sales_invoice_cny_{annual}m"] = _ratio(normal_sales, _count_where(m, sale & (status == "normal")))

    normal = m[status == "normal"]
    per_party = normal.groupby(["application_id", normal["direction"] == "sales", "counterparty_id"])["amount_cny"].sum()
    per_party = per_party.rename_axis(["application_id", "is_sale", "counterparty_id"]).reset_index()
    sales_party = per_party[per_party["is_sale"]]
    g = sales_party.groupby("application_id")["amount_cny"]
    total, squares, top = g.sum(), (sales_party["amount_cny"] ** 2).groupby(sales_party["application_id"]).sum(), g.max()
    out[f"customers_{annual}m"] = g.size().reindex(apps).fillna(0).astype(float)
    out[f"suppliers_{annual}m"] = (per_party[~per_party["is_sale"]].groupby("application_id").size()
                                   .reindex(apps).fillna(0).astype(float))
    out[f"customer_hhi_{annual}m"] = _ratio(squares, total * total).reindex(apps)
    out[f"top_customer_share_{annual}m"] = _ratio(top, total).reindex(apps)
    return pd.DataFrame({k: v.reindex(apps) for k, v in out.items()})


def _electricity(spine, electricity, windows) -> pd.DataFrame:
    annual = windows[-1]
    m = _ranked(spine, electricity, "billed_at", ["kwh", "bill_cny", "paid_on_time"])
    late = ~m["paid_on_time"].astype(bool).to_numpy()
    r = m["r"].to_numpy()
    out = {}
    for k in windows:
        out[f"electricity_kwh_{k}m"] = _sum_where(m, m["kwh"], r <= k, False)
        out[f"electricity_kwh_growth_{k}m"] = _growth(m, "kwh", k)
        out[f"electricity_late_payments_{k}m"] = _count_where(m, (r <= k) & late)
    a = r <= annual
    out[f"electricity_kwh_cv_{annual}m"] = _cv(m, "kwh", annual)
    out[f"electricity_bill_{annual}m"] = _sum_where(m, m["bill_cny"], a, False)
    out[f"electricity_on_time_share_{annual}m"] = _ratio(_count_where(m, a & ~late), _count_where(m, a))
    out["electricity_history_months"] = m.groupby("application_id").size().astype(float)
    lag = _month_index(m["applied_at"]) - _month_index(m["period"])
    out["electricity_billing_lag_months"] = lag.groupby(m["application_id"]).min().astype(float)
    return pd.DataFrame(out)


def _customs(spine, customs, windows, growth) -> pd.DataFrame:
    annual = windows[-1]
    m = _pairs(spine, customs, "declared_at", since=f"since_{annual}m")
    export = (m["direction"] == "export").to_numpy()
    value = m["value_cny"].to_numpy()
    out = {}

    def exports(lo=None, hi=None):
        mask = export.copy()
        if lo:
            mask &= (m["declared_at"] >= m[lo]).to_numpy()
        if hi:
            mask &= (m["declared_at"] < m[hi]).to_numpy()
        return _sum_where(m, value, mask, True)

    for k in windows:
        out[f"exports_{k}m"] = exports(f"since_{k}m")
    for k in growth:
        recent, earlier = exports(f"since_{k}m"), exports(f"since_{2 * k}m", f"since_{k}m")
        out[f"exports_growth_{k}m"] = (recent / earlier - 1).where(earlier > 0)
    apps = pd.Index(m["application_id"].unique())
    out[f"imports_{annual}m"] = _sum_where(m, value, ~export, True)
    out[f"customs_declarations_{annual}m"] = m.groupby("application_id").size().astype(float)
    exp = m[export]
    months = pd.DataFrame({"application_id": exp["application_id"], "month": _month_index(exp["declared_at"])})
    out[f"export_months_{annual}m"] = months.drop_duplicates().groupby("application_id").size().reindex(apps).fillna(0).astype(float)
    out[f"customs_hs_chapters_{annual}m"] = m.groupby("application_id")["hs_chapter"].nunique().astype(float)
    last = m.groupby("application_id")["declared_at"].max()
    applied = m.groupby("application_id")["applied_at"].max()
    out["days_since_last_declaration"] = (applied - last).dt.days.astype(float)
    return pd.DataFrame({k: v.reindex(apps) for k, v in out.items()})


def _remaining_share(applied: pd.Series, start: pd.Series, end: pd.Series) -> pd.Series:
    ahead = (end - applied).dt.days.astype(float)
    duration = np.maximum((end - start).dt.days.astype(float), 1.0)
    share = ahead / duration
    share = share.where(start < applied, 1.0)
    return share.where(end >= applied, 0.0)


def _awards(spine, awards, annual) -> pd.DataFrame:
    m = _pairs(spine, awards, "awarded_at")
    recent = (m["awarded_at"] >= m[f"since_{annual}m"]).to_numpy()
    amount = m["contract_amount_cny"].to_numpy()
    share = _remaining_share(m["applied_at"], m["start_on"], m["end_on"])
    g = m.groupby("application_id")
    return pd.DataFrame({
        f"awards_won_{annual}m": _count_where(m, recent),
        "awards_won_total": g.size().astype(float),
        f"award_value_{annual}m": _sum_where(m, amount, recent, True),
        "award_value_total": g["contract_amount_cny"].sum(),
        "active_contracts": _count_where(m, (m["end_on"] >= m["applied_at"]).to_numpy()),
        # Each contract's remaining value to 1/10000 yuan, as the exact decimal sum of the SQL does.
        "active_remaining_value": (m["contract_amount_cny"] * share).round(4).groupby(m["application_id"]).sum(),
        "distinct_purchasers": g["purchaser"].nunique().astype(float),
        "days_since_last_award": (g["applied_at"].max() - g["awarded_at"].max()).dt.days.astype(float),
    })


def _own_award(spine, awards) -> pd.DataFrame:
    s = spine[spine["award_id"].notna()][["application_id", "applied_at", "requested_amount_cny", "award_id"]]
    m = s.merge(awards.drop(columns=["enterprise_id"]), on="award_id", how="inner")
    m = m[m["awarded_at"] < m["applied_at"]].set_index("application_id")
    remaining = m["contract_amount_cny"] * _remaining_share(m["applied_at"], m["start_on"], m["end_on"])
    return pd.DataFrame({
        "contract_value": m["contract_amount_cny"],
        "remaining_contract_value": remaining,
        "requested_to_remaining_value": _ratio(m["requested_amount_cny"], remaining),
        "contract_days_remaining": (m["end_on"] - m["applied_at"]).dt.days.astype(float),
        "award_category": m["category"],
    })


def _prior_applications(spine, annual) -> pd.Series:
    earlier = spine[["enterprise_id", "applied_at"]].rename(columns={"applied_at": "earlier_at"})
    m = spine[["application_id", "enterprise_id", "applied_at", f"since_{annual}m"]].merge(earlier, on="enterprise_id")
    keep = (m["earlier_at"] < m["applied_at"]) & (m["earlier_at"] >= m[f"since_{annual}m"])
    return m[keep].groupby("application_id").size().astype(float)
