"""The feature definitions, written once as SQL in DuckDB's dialect; sqlglot translates them for Spark.

Every query reads the `spine` (one row per application: app_key (an integer standing for the
application_id in joins and groups, cheaper than the string), application_id, enterprise_id, applied_at,
product, requested_amount_cny, term_months, award_id, and `since_<k>m` = applied_at minus k
months for each window k, computed once in Python so that both engines and the pandas reference
share the same calendar arithmetic) and the raw tables under their own names.

Point in time: every join keeps only records whose knowledge date (filed_at, published_at,
issued_at, billed_at, declared_at, awarded_at) is strictly before applied_at. Monthly tables are
ranked by period within each application (r = 1 is the latest period filed or billed before the
application), so "the last k filed months" is `r <= k`.

Exact sums: amounts and quantities are cast to DECIMAL(18, 4) before they are summed (the raw
tables hold yuan to the fen), so sums are exact and do not depend on the order in which an engine
adds rows: the same records give the same bytes on DuckDB whatever the row order and number of
threads, and the same values on Spark (ratios divide in DOUBLE; engines may differ in the last bit).

Missing values: when an application has no record of a source (its `<source>_missing` flag is 1),
every feature of that source is NULL; otherwise counts and sums in a window are 0 when nothing
fell in it, and ratios are NULL when their denominator is not positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot

from creditmine.features import sql
from creditmine.features.sql import window_offsets

__all__ = ["FeatureQueries", "RATING_RANKS", "feature_queries", "to_dialect", "window_offsets"]

# Tax credit ratings from best to worst (State Taxation Administration scale).
RATING_RANKS = {"A": 1, "B": 2, "M": 3, "C": 4, "D": 5}

# Invoice status codes inside the aggregates (any other status is 3).
_STATUS = {"normal": 0, "void": 1, "red-letter": 2}



@dataclass(frozen=True)
class FeatureQueries:
    """Named intermediate queries (run in order, each visible to the next) and the final select."""

    steps: tuple[tuple[str, str], ...]
    final: str


def feature_queries(windows_months: tuple[int, ...], filing_deadline_day: int) -> FeatureQueries:
    """The SQL (DuckDB dialect) of every synthetic-world feature for the given windows.

    Parameters
    ----------
    windows_months : look-back windows in months; the longest is the annual window.
    filing_deadline_day : day of the month after the period by which a monthly VAT return is due
        (a return filed later is late).
    """
    windows = tuple(sorted(set(windows_months)))
    annual = windows[-1]
    growth = tuple(k for k in windows if 2 * k <= annual)
    steps = (
        ("tax_ranked", _tax_ranked(filing_deadline_day)),
        ("tax_f", _tax_features(windows)),
        ("rating_ranked", _rating_ranked()),
        ("rating_f", _rating_features()),
        ("inv", _invoice_rows(windows)),
        ("inv_counterparty", _invoice_counterparties()),
        ("inv_f", _invoice_features(windows, growth)),
        ("elec_ranked", sql.monthly_ranked(
            "electricity", "billed_at",
            f"{sql.exact('m.kwh')} AS kwh, {sql.exact('m.bill_cny')} AS bill_cny, "
            "CASE WHEN m.paid_on_time THEN 0 ELSE 1 END AS late",
            "m.kwh DESC, m.bill_cny DESC, m.paid_on_time DESC")),
        ("elec_f", _electricity_features(windows)),
        ("cust", _customs_rows(windows)),
        ("cust_f", _customs_features(windows, growth)),
        ("award_f", _award_features(annual)),
        ("own_award_f", _own_award_features()),
        ("prior_f", _prior_applications(annual)),
    )
    return FeatureQueries(steps=steps, final=_final(windows, growth))


def to_dialect(sql: str, dialect: str) -> str:
    """Translate one query from DuckDB's dialect (the one the definitions are written in)."""
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]


# ---------------------------------------------------------------------------------------------

def _tax_ranked(deadline_day: int) -> str:
    return sql.monthly_ranked(
        "tax_filings", "filed_at",
        f"{sql.exact('m.taxable_sales_cny')} AS sales, {sql.exact('m.vat_payable_cny')} AS payable, "
        f"{sql.exact('m.vat_paid_cny')} AS paid, "
        f"CASE WHEN m.filed_at > m.period + INTERVAL 1 MONTH + INTERVAL {deadline_day - 1} DAY "
        "THEN 1 ELSE 0 END AS late",
        "m.taxable_sales_cny DESC, m.vat_payable_cny DESC, m.vat_paid_cny DESC",
    )


def _tax_features(windows) -> str:
    annual = windows[-1]
    cols = []
    for k in windows:
        cols.append(f"{sql.window_sum('sales', 0, k)} AS taxable_sales_{k}m")
        cols.append(f"{sql.growth('sales', k)} AS taxable_sales_growth_{k}m")
        cols.append(f"{sql.cv('sales', k)} AS taxable_sales_cv_{k}m")
        cols.append(f"{sql.count(f'r <= {k} AND late = 1')} AS tax_late_filings_{k}m")
        # not a feature: the numerator of the final step's VAT burden relative to the statutory rate
        cols.append(f"{sql.window_sum('payable', 0, k)} AS vat_payable_{k}m")
    a = f"r <= {annual}"
    cols += [
        f"{sql.ratio(sql.count(f'{a} AND late = 1'), f'COUNT(CASE WHEN {a} THEN 1 END)')} AS tax_late_filing_share_{annual}m",
        f"{sql.ratio(sql.window_sum('paid', 0, annual), sql.window_sum('payable', 0, annual))} AS vat_paid_ratio_{annual}m",
        f"{sql.window_sum('payable - paid', 0, annual)} AS vat_unpaid_{annual}m",
        f"{sql.count(f'{a} AND paid < payable')} AS vat_underpaid_months_{annual}m",
        f"{sql.ratio(sql.window_sum('payable', 0, annual), sql.window_sum('sales', 0, annual))} AS vat_burden_{annual}m",
        f"{sql.count(f'{a} AND sales <= 0')} AS tax_zero_sales_months_{annual}m",
        "COUNT(*) AS tax_history_months",
        f"MIN({sql.months('applied_at')} - {sql.months('period')}) AS tax_filing_lag_months",
    ]
    return "SELECT app_key,\n  " + ",\n  ".join(cols) + "\nFROM tax_ranked GROUP BY app_key"


def _rating_ranked() -> str:
    ranks = " ".join(f"WHEN '{k}' THEN {v}" for k, v in RATING_RANKS.items())
    return f"""
SELECT s.app_key, g.rating, CASE g.rating {ranks} END AS rating_rank,
       ROW_NUMBER() OVER (PARTITION BY s.app_key ORDER BY g.published_at DESC, g.year DESC, g.rating DESC) AS r
FROM spine s JOIN tax_credit_ratings g ON g.enterprise_id = s.enterprise_id AND g.published_at < s.applied_at"""


def _rating_features() -> str:
    return """
SELECT app_key,
  MAX(CASE WHEN r = 1 THEN rating END) AS tax_rating_latest,
  MAX(CASE WHEN r = 1 THEN rating_rank END) AS tax_rating_rank,
  MAX(CASE WHEN r = 1 THEN rating_rank END) - MAX(CASE WHEN r = 2 THEN rating_rank END) AS tax_rating_change,
  COUNT(*) AS tax_rating_years
FROM rating_ranked GROUP BY app_key"""


def _invoice_rows(windows) -> str:
    """Invoices of the annual window before each application, narrowed to what the aggregates need.

    `band` counts the window starts on or before the invoice date (see `_in_window`), `st` codes the
    status (0 normal, 1 void, 2 red-letter, 3 other), so the wide aggregate compares integers.
    """
    annual = windows[-1]
    statuses = " ".join(f"WHEN '{name}' THEN {code}" for name, code in _STATUS.items())
    return f"""
SELECT s.app_key, i.counterparty_id, i.direction = 'sales' AS is_sale,
       CASE i.status {statuses} ELSE 3 END AS st,
       {sql.band('i.issued_at', windows)} AS band,
       {sql.months('s.applied_at')} - {sql.months('i.issued_at')} AS month_offset,
       DATE_DIFF('day', i.issued_at, s.applied_at) AS age_days,
       {sql.exact('i.amount_cny')} AS amount
FROM spine s JOIN invoices i ON i.enterprise_id = s.enterprise_id
 AND i.issued_at < s.applied_at AND i.issued_at >= s.since_{annual}m"""


def _invoice_counterparties() -> str:
    """Normal (neither void nor red-letter) invoice amount per application and counterparty."""
    return f"""
SELECT app_key, is_sale, counterparty_id, CAST(SUM(amount) AS {sql.DECIMAL}) AS amount
FROM inv WHERE st = {_STATUS['normal']} GROUP BY app_key, is_sale, counterparty_id"""


def _invoice_features(windows, growth) -> str:
    annual = windows[-1]
    normal, void, red_letter = (f"st = {_STATUS[k]}" for k in ("normal", "void", "red-letter"))
    net_sale = f"is_sale AND NOT {void}"

    def net_sales_between(lo: int | None, hi: int | None) -> str:
        """Net sales dated within window `lo` but not within window `hi`."""
        cond = [net_sale]
        if lo:
            cond.append(sql.in_window(windows, lo))
        if hi:
            cond.append(f"NOT {sql.in_window(windows, hi)}")
        return f"SUM(CASE WHEN {' AND '.join(cond)} THEN amount ELSE 0.0 END)"

    cols = []
    for k in windows:
        in_k = sql.in_window(windows, k)
        cols += [
            f"{net_sales_between(k, None)} AS invoiced_sales_{k}m",
            f"{sql.count(f'is_sale AND {in_k}')} AS sales_invoices_{k}m",
            f"{sql.ratio(sql.count(f'is_sale AND {in_k} AND {void}'), sql.count(f'is_sale AND {in_k}'))} AS invoice_void_share_{k}m",
            f"{sql.ratio(sql.count(f'is_sale AND {in_k} AND {red_letter}'), sql.count(f'is_sale AND {in_k}'))} AS invoice_red_letter_share_{k}m",
        ]
    for k in growth:
        recent, earlier = net_sales_between(k, None), net_sales_between(2 * k, k)
        cols.append(f"CASE WHEN {earlier} > 0 THEN {sql.div(recent, earlier)} - 1 END AS invoiced_sales_growth_{k}m")
    red = f"SUM(CASE WHEN is_sale AND {red_letter} THEN -amount ELSE 0.0 END)"
    normal_sales = f"SUM(CASE WHEN is_sale AND {normal} THEN amount ELSE 0.0 END)"
    purchases = f"SUM(CASE WHEN NOT is_sale AND NOT {void} THEN amount ELSE 0.0 END)"
    cols += [
        f"{sql.ratio(red, normal_sales)} AS invoice_red_letter_amount_share_{annual}m",
        f"{purchases} AS invoiced_purchases_{annual}m",
        f"{sql.ratio(net_sales_between(None, None), purchases)} AS sales_to_purchases_{annual}m",
        f"{sql.distinct_months('is_sale', 'month_offset')} AS sales_invoice_months_{annual}m",
        "MIN(CASE WHEN is_sale THEN age_days END) AS days_since_last_sales_invoice",
        f"{sql.ratio(normal_sales, sql.count(f'is_sale AND {normal}'))} AS avg_sales_invoice_cny_{annual}m",
    ]
    body = ",\n  ".join(cols)
    return f"""
WITH agg AS (SELECT app_key,
  {body}
  FROM inv GROUP BY app_key),
conc AS (SELECT app_key,
  SUM(CASE WHEN is_sale THEN 1 ELSE 0 END) AS customers,
  SUM(CASE WHEN NOT is_sale THEN 1 ELSE 0 END) AS suppliers,
  SUM(CASE WHEN is_sale THEN amount ELSE 0.0 END) AS sales_total,
  SUM(CASE WHEN is_sale THEN CAST(amount AS DECIMAL(38, 4)) * CAST(amount AS DECIMAL(38, 4)) ELSE 0.0 END) AS sales_squares,
  MAX(CASE WHEN is_sale THEN amount END) AS sales_top
  FROM inv_counterparty GROUP BY app_key)
SELECT agg.*,
  COALESCE(conc.customers, 0) AS customers_{annual}m,
  COALESCE(conc.suppliers, 0) AS suppliers_{annual}m,
  {sql.ratio('conc.sales_squares', 'CAST(conc.sales_total AS DOUBLE) * CAST(conc.sales_total AS DOUBLE)')} AS customer_hhi_{annual}m,
  {sql.ratio('conc.sales_top', 'conc.sales_total')} AS top_customer_share_{annual}m
FROM agg LEFT JOIN conc ON conc.app_key = agg.app_key"""


def _electricity_features(windows) -> str:
    annual = windows[-1]
    cols = []
    for k in windows:
        cols.append(f"{sql.window_sum('kwh', 0, k)} AS electricity_kwh_{k}m")
        cols.append(f"{sql.growth('kwh', k)} AS electricity_kwh_growth_{k}m")
        cols.append(f"{sql.count(f'r <= {k} AND late = 1')} AS electricity_late_payments_{k}m")
    cols += [
        f"{sql.cv('kwh', annual)} AS electricity_kwh_cv_{annual}m",
        f"{sql.window_sum('bill_cny', 0, annual)} AS electricity_bill_{annual}m",
        f"{sql.ratio(sql.count(f'r <= {annual} AND late = 0'), f'COUNT(CASE WHEN r <= {annual} THEN 1 END)')} AS electricity_on_time_share_{annual}m",
        "COUNT(*) AS electricity_history_months",
        f"MIN({sql.months('applied_at')} - {sql.months('period')}) AS electricity_billing_lag_months",
    ]
    return "SELECT app_key,\n  " + ",\n  ".join(cols) + "\nFROM elec_ranked GROUP BY app_key"


def _customs_rows(windows) -> str:
    annual = windows[-1]
    return f"""
SELECT s.app_key, s.applied_at, {sql.since_columns(windows)},
       c.declared_at, c.direction = 'export' AS is_export, {sql.exact('c.value_cny')} AS value, c.hs_chapter
FROM spine s JOIN customs c ON c.enterprise_id = s.enterprise_id
 AND c.declared_at < s.applied_at AND c.declared_at >= s.since_{annual}m"""


def _customs_features(windows, growth) -> str:
    annual = windows[-1]

    def exports_between(lo: str | None, hi: str | None) -> str:
        cond = ["is_export"] + ([f"declared_at >= {lo}"] if lo else []) + ([f"declared_at < {hi}"] if hi else [])
        return f"SUM(CASE WHEN {' AND '.join(cond)} THEN value ELSE 0.0 END)"

    cols = [f"{exports_between(f'since_{k}m', None)} AS exports_{k}m" for k in windows]
    for k in growth:
        recent, earlier = exports_between(f"since_{k}m", None), exports_between(f"since_{2 * k}m", f"since_{k}m")
        cols.append(f"CASE WHEN {earlier} > 0 THEN {sql.div(recent, earlier)} - 1 END AS exports_growth_{k}m")
    cols += [
        f"SUM(CASE WHEN NOT is_export THEN value ELSE 0.0 END) AS imports_{annual}m",
        f"COUNT(*) AS customs_declarations_{annual}m",
        f"{sql.distinct_months('is_export', sql.months('applied_at') + ' - ' + sql.months('declared_at'))} AS export_months_{annual}m",
        f"COUNT(DISTINCT hs_chapter) AS customs_hs_chapters_{annual}m",
        "DATE_DIFF('day', MAX(declared_at), MAX(applied_at)) AS days_since_last_declaration",
    ]
    return "SELECT app_key,\n  " + ",\n  ".join(cols) + "\nFROM cust GROUP BY app_key"


def _remaining_share(applied: str, start: str, end: str) -> str:
    """Share of a contract's duration still ahead at `applied` (1 before it starts, 0 after it ends)."""
    return (
        f"CASE WHEN {end} < {applied} THEN 0.0 WHEN {start} >= {applied} THEN 1.0 "
        f"ELSE CAST(DATE_DIFF('day', {applied}, {end}) AS DOUBLE) / GREATEST(DATE_DIFF('day', {start}, {end}), 1) END"
    )


def _award_features(annual: int) -> str:
    share = _remaining_share("s.applied_at", "a.start_on", "a.end_on")
    amount = sql.exact("a.contract_amount_cny")
    return f"""
SELECT s.app_key,
  {sql.count(f'a.awarded_at >= s.since_{annual}m')} AS awards_won_{annual}m,
  COUNT(*) AS awards_won_total,
  SUM(CASE WHEN a.awarded_at >= s.since_{annual}m THEN {amount} ELSE 0.0 END) AS award_value_{annual}m,
  SUM({amount}) AS award_value_total,
  {sql.count('a.end_on >= s.applied_at')} AS active_contracts,
  SUM({sql.exact(f'CAST(a.contract_amount_cny AS DOUBLE) * {share}')}) AS active_remaining_value,
  COUNT(DISTINCT a.purchaser) AS distinct_purchasers,
  DATE_DIFF('day', MAX(a.awarded_at), MAX(s.applied_at)) AS days_since_last_award
FROM spine s JOIN procurement_awards a ON a.enterprise_id = s.enterprise_id AND a.awarded_at < s.applied_at
GROUP BY s.app_key"""


def _own_award_features() -> str:
    share = _remaining_share("s.applied_at", "a.start_on", "a.end_on")
    remaining = f"a.contract_amount_cny * {share}"
    return f"""
SELECT s.app_key,
  a.contract_amount_cny AS contract_value,
  {remaining} AS remaining_contract_value,
  {sql.ratio('s.requested_amount_cny', remaining)} AS requested_to_remaining_value,
  DATE_DIFF('day', s.applied_at, a.end_on) AS contract_days_remaining,
  a.category AS award_category
FROM spine s JOIN procurement_awards a ON a.award_id = s.award_id AND a.awarded_at < s.applied_at"""


def _prior_applications(annual: int) -> str:
    return f"""
SELECT s.app_key, COUNT(*) AS prior_applications_{annual}m
FROM spine s JOIN spine p ON p.enterprise_id = s.enterprise_id
 AND p.applied_at < s.applied_at AND p.applied_at >= s.since_{annual}m
GROUP BY s.app_key"""


_SOURCE_STEPS = {
    "tax": "tax_f", "tax_rating": "rating_f", "invoices": "inv_f",
    "electricity": "elec_f", "customs": "cust_f", "procurement": "award_f",
}


def _final(windows, growth) -> str:
    # Imported here: the catalog names the output columns, this module only computes them.
    from creditmine.features.catalog import synthetic_catalog

    annual = windows[-1]
    computed = {
        "product": None, "requested_amount_cny": None, "term_months": None,  # key columns, carried by the spine
        f"prior_applications_{annual}m": f"COALESCE(prior_f.prior_applications_{annual}m, 0)",
        f"requested_to_sales_{annual}m": sql.ratio("s.requested_amount_cny", f"tax_f.taxable_sales_{annual}m"),
        "enterprise_age_years": "CAST(DATE_DIFF('day', e.registered_at, s.applied_at) AS DOUBLE) / 365.25",
        "registered_capital_cny": "e.registered_capital_cny",
        "employees": "e.employees",
        "specialized_innovative": "CASE WHEN e.specialized_innovative THEN 1.0 WHEN NOT e.specialized_innovative THEN 0.0 END",
        "high_tech": "CASE WHEN e.high_tech THEN 1.0 WHEN NOT e.high_tech THEN 0.0 END",
        "industry_section": "e.industry_section",
        f"invoiced_to_taxable_sales_{annual}m": sql.ratio(f"inv_f.invoiced_sales_{annual}m", f"tax_f.taxable_sales_{annual}m"),
        f"electricity_bill_to_sales_{annual}m": sql.ratio(f"elec_f.electricity_bill_{annual}m", f"tax_f.taxable_sales_{annual}m"),
        "sources_missing_count": " + ".join(
            f"CASE WHEN {step}.app_key IS NULL THEN 1 ELSE 0 END" for step in _SOURCE_STEPS.values()
        ),
    }
    relative = {k: _vat_burden_rel_rate(k) for k in windows}
    for k in windows:
        computed[f"vat_burden_rel_rate_{k}m"] = relative[k]
    computed[f"vat_burden_rel_rate_change_{windows[0]}m_{annual}m"] = f"({relative[windows[0]]}) - ({relative[annual]})"
    for source, step in _SOURCE_STEPS.items():
        computed[f"{source}_missing"] = f"CASE WHEN {step}.app_key IS NULL THEN 1 ELSE 0 END"
    step_of_source = {**_SOURCE_STEPS}
    cols = []
    for spec in synthetic_catalog(windows):
        if spec.name in computed:
            expr = computed[spec.name]
            if expr is None:
                continue
        elif spec.name in ("contract_value", "remaining_contract_value", "requested_to_remaining_value",
                           "contract_days_remaining", "award_category"):
            expr = f"own_award_f.{spec.name}"
        else:
            expr = f"{step_of_source[spec.source]}.{spec.name}"
        cast = "VARCHAR" if spec.kind == "categorical" else "DOUBLE"
        cols.append(f"CAST({expr} AS {cast}) AS {spec.name}")
    joins = "\n".join(
        f"LEFT JOIN {step} ON {step}.app_key = s.app_key"
        for step in (*_SOURCE_STEPS.values(), "own_award_f", "prior_f")
    )
    return (
        "SELECT s.application_id,\n  " + ",\n  ".join(cols)
        + f"\nFROM spine s LEFT JOIN enterprises e ON e.enterprise_id = s.enterprise_id\n{joins}"
        + "\nORDER BY s.application_id"
    )


def _vat_burden_rel_rate(k: int) -> str:
    """VAT payable over taxable sales of the last k filed months, over the industry's statutory rate.

    NULL when sales are not positive or the section has no statutory rate in the catalog's table.
    """
    from creditmine.features.catalog import STATUTORY_VAT_RATES

    rate = " ".join(f"WHEN '{section}' THEN {rate!r}" for section, rate in STATUTORY_VAT_RATES.items())
    burden = sql.ratio(f"tax_f.vat_payable_{k}m", f"tax_f.taxable_sales_{k}m")
    return f"({burden}) / CAST(CASE e.industry_section {rate} END AS DOUBLE)"
