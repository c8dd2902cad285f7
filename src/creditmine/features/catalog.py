"""The feature catalog: every feature's name, source, window, meaning (EN/ZH), unit and risk direction.

This is the one place where features are described. Stage 01 writes the list to `catalog.json`
and `data_dictionary.csv`; later stages read it back with `read_catalog` and never import
`CATALOG` directly, so a bring-your-own data set (whose catalog is derived from its columns) flows
through the same code. The SQL definitions in `creditmine.features.definitions` and the pandas
reference in `creditmine.features.reference` compute exactly the numeric and categorical columns
named here (a test holds them to it).

Reason templates (`reason_en`, `reason_zh`) are statements about a declined applicant, written to
read right when the feature pushes risk up; `{value}` is the applicant's feature value.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import pandas as pd

from creditmine.data import world

__all__ = [
    "CATALOG", "FeatureSpec", "KEY_COLUMNS", "SOURCES", "STATUTORY_VAT_RATES", "catalog_frame",
    "missing_indicator", "read_catalog", "synthetic_catalog", "write_catalog",
]

# Columns that precede the features in features.parquet (product is also a catalogued feature).
KEY_COLUMNS = (
    "application_id", "enterprise_id", "product", "applied_at", "requested_amount_cny",
    "term_months", "default_12m", "split",
)

# Sources with an explicit "missing" indicator, in the order the catalog lists them.
SOURCES = ("tax", "tax_rating", "invoices", "electricity", "customs", "procurement")

# Statutory VAT rate (share of sales) by GB/T 4754 section, read from the world's definition:
# 13 % goods (C, F), 9 % agriculture, construction, transport (A, E, G), 6 % services (H, I, L, M).
# The SQL definitions and the pandas reference both divide the VAT burden by it.
STATUTORY_VAT_RATES: dict[str, float] = {ind.section: ind.vat_rate for ind in world.INDUSTRIES}


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of the feature table.

    Attributes
    ----------
    name : column name in features.parquet.
    source : raw table family it comes from (tax, tax_rating, invoices, electricity, customs,
        procurement, enterprise, application, or "tabular").
    window_months : look-back window in months; 0 when the feature has none (static or all history).
    unit : "CNY" (yuan), "ratio", "share", "count", "months", "days", "years", "flag", "category", ...
    description_en, description_zh : what the value means, in English and Chinese.
    risk_direction : +1 a higher value is riskier, -1 a higher value is safer, 0 unknown / not monotone.
    reason_group : features measuring one signal (e.g. every sales-growth window) share a group,
        so that an explanation does not list the same reason twice.
    kind : "numeric" (float64, NaN when missing) or "categorical" (string, null when missing).
    reason_en, reason_zh : reason statement templates with `{value}`, for a declined applicant.
    """

    name: str
    source: str
    window_months: int
    unit: str
    description_en: str
    description_zh: str
    risk_direction: Literal[-1, 0, 1]
    reason_group: str
    kind: Literal["numeric", "categorical"]
    reason_en: str
    reason_zh: str

    def __post_init__(self) -> None:
        if self.risk_direction not in (-1, 0, 1):
            raise ValueError(f"feature '{self.name}': risk_direction must be -1, 0 or 1, got {self.risk_direction!r}")
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"feature '{self.name}': kind must be 'numeric' or 'categorical', got {self.kind!r}")


def synthetic_catalog(windows_months: tuple[int, ...] = (3, 6, 12)) -> list[FeatureSpec]:
    """The catalog of the government-data world for the given look-back windows.

    Parameters
    ----------
    windows_months : look-back windows in months, ascending; the longest is the "annual" window
        (12 by default) used by ratios, concentration and the exposure measures.
    """
    windows = _check_windows(windows_months)
    specs = [
        *_application_specs(windows),
        *_enterprise_specs(),
        *_tax_specs(windows),
        *_rating_specs(),
        *_invoice_specs(windows),
        *_electricity_specs(windows),
        *_customs_specs(windows),
        *_procurement_specs(windows),
        _spec("sources_missing_count", "application", 0, "count", 1, "thin_file",
              "Number of the six government data sources with no record before the application",
              "申请前无记录的政府数据源个数（共六类）",
              "{value:.0f} of six government data sources have no record",
              "六类政府数据中有{value:.0f}类无记录"),
    ]
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"feature catalog: duplicated names {duplicated}")
    return specs


def missing_indicator(source: str) -> str:
    """Name of the 0/1 feature that flags an application with no record of `source`."""
    return f"{source}_missing"


def write_catalog(specs: list[FeatureSpec], path: str | os.PathLike) -> Path:
    """Write the catalog as JSON (a list of objects, one per feature); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in specs], ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_catalog(path: str | os.PathLike) -> list[FeatureSpec]:
    """Read a catalog written by `write_catalog`.

    Raises
    ------
    ValueError : naming the file and the entry when an entry lacks a field or has a bad value.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the feature catalog ({exc})") from None
    expected = {f.name for f in fields(FeatureSpec)}
    specs = []
    for i, entry in enumerate(raw):
        missing = expected - set(entry)
        if missing:
            raise ValueError(f"{path}: entry {i} ({entry.get('name', '?')}) lacks {sorted(missing)}")
        try:
            specs.append(FeatureSpec(**{k: entry[k] for k in expected}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: entry {i}: {exc}") from None
    return specs


def catalog_frame(specs: list[FeatureSpec]) -> pd.DataFrame:
    """The catalog as a DataFrame, one row per feature (the data dictionary)."""
    return pd.DataFrame([asdict(s) for s in specs], columns=[f.name for f in fields(FeatureSpec)])


# ---------------------------------------------------------------------------------------------
# The specs, source by source. Windows: `windows` ascending, `annual` = the longest.
# ---------------------------------------------------------------------------------------------

def _spec(name, source, window, unit, risk, group, en, zh, reason_en, reason_zh, kind="numeric"):
    return FeatureSpec(name, source, window, unit, en, zh, risk, group, kind, reason_en, reason_zh)


def _missing_spec(source: str, en_what: str, zh_what: str) -> FeatureSpec:
    return _spec(
        missing_indicator(source), source, 0, "flag", 1, "thin_file",
        f"1 when there is no {en_what} record before the application, else 0",
        f"申请前无{zh_what}记录为1，否则为0",
        f"No {en_what} record before the application", f"申请前无{zh_what}记录",
    )


def _check_windows(windows_months) -> tuple[int, ...]:
    windows = tuple(sorted(set(int(w) for w in windows_months)))
    if not windows or windows[0] <= 0:
        raise ValueError(f"features.windows_months must be positive month counts, got {windows_months!r}")
    return windows


def _growth_windows(windows: tuple[int, ...]) -> tuple[int, ...]:
    """Windows k whose growth (last k months versus the k before) fits in the annual look-back."""
    return tuple(k for k in windows if 2 * k <= windows[-1])


def _application_specs(windows):
    annual = windows[-1]
    return [
        _spec("product", "application", 0, "category", 0, "product",
              "Application product code (the 'mode' of a pooled model)", "申请产品代码（合并模型中的产品模式）",
              "Product {value} carries a higher risk", "产品{value}风险较高", kind="categorical"),
        _spec("requested_amount_cny", "application", 0, "CNY", 1, "loan_size",
              "Requested loan amount", "申请贷款金额",
              "Requested amount of CNY {value:,.0f} is large", "申请金额{value:,.0f}元偏高"),
        _spec("term_months", "application", 0, "months", 1, "loan_term",
              "Requested loan term", "申请贷款期限",
              "Requested term of {value:.0f} months is long", "申请期限{value:.0f}个月偏长"),
        _spec(f"prior_applications_{annual}m", "application", annual, "count", 1, "credit_seeking",
              f"Earlier loan applications of the enterprise in the last {annual} months",
              f"近{annual}个月企业此前的贷款申请次数",
              f"{{value:.0f}} earlier loan applications in the last {annual} months",
              f"近{annual}个月已有{{value:.0f}}次贷款申请"),
        _spec(f"requested_to_sales_{annual}m", "application", annual, "ratio", 1, "loan_size",
              f"Requested amount divided by taxable sales of the last {annual} filed months",
              f"申请金额与近{annual}个申报月应税销售额之比",
              f"Requested amount is {{value:.0%}} of annual taxable sales",
              f"申请金额为年应税销售额的{{value:.0%}}"),
    ]


def _enterprise_specs():
    return [
        _spec("enterprise_age_years", "enterprise", 0, "years", -1, "enterprise_age",
              "Years since registration at the application date", "申请日距工商注册的年数",
              "The enterprise is young ({value:.1f} years since registration)", "企业成立时间较短（{value:.1f}年）"),
        _spec("registered_capital_cny", "enterprise", 0, "CNY", -1, "enterprise_size",
              "Registered capital", "注册资本",
              "Registered capital is small (CNY {value:,.0f})", "注册资本较少（{value:,.0f}元）"),
        _spec("employees", "enterprise", 0, "count", -1, "enterprise_size",
              "Number of employees", "员工人数",
              "Few employees ({value:.0f})", "员工人数较少（{value:.0f}人）"),
        _spec("specialized_innovative", "enterprise", 0, "flag", -1, "enterprise_flags",
              "1 for a 'specialized and innovative' (专精特新) enterprise, else 0", "专精特新企业为1，否则为0",
              "Not a specialized and innovative enterprise", "非专精特新企业"),
        _spec("high_tech", "enterprise", 0, "flag", -1, "enterprise_flags",
              "1 for a certified high-tech enterprise, else 0", "高新技术企业为1，否则为0",
              "Not a certified high-tech enterprise", "非高新技术企业"),
        _spec("industry_section", "enterprise", 0, "category", 0, "industry",
              "Industry section (GB/T 4754 letter)", "国民经济行业门类（GB/T 4754）",
              "Industry section {value} carries a higher risk", "所属行业门类{value}风险较高", kind="categorical"),
    ]


def _tax_specs(windows):
    annual = windows[-1]
    specs = [_missing_spec("tax", "VAT filing", "增值税申报")]
    for k in windows:
        specs.append(_spec(
            f"taxable_sales_{k}m", "tax", k, "CNY", -1, "sales_level",
            f"Taxable sales of the last {k} filed months", f"最近{k}个已申报月份的应税销售额合计",
            f"Taxable sales of the last {k} months are low (CNY {{value:,.0f}})",
            f"近{k}个月应税销售额偏低（{{value:,.0f}}元）"))
    for k in windows:
        specs.append(_spec(
            f"taxable_sales_growth_{k}m", "tax", 2 * k, "ratio", -1, "sales_growth",
            f"Taxable sales of the last {k} filed months over the {k} months before, minus 1",
            f"最近{k}个申报月应税销售额相对前{k}个月的增长率",
            f"Taxable sales changed by {{value:+.0%}} over the last {k} months",
            f"近{k}个月应税销售额变化{{value:+.0%}}"))
    for k in windows:
        specs.append(_spec(
            f"taxable_sales_cv_{k}m", "tax", k, "ratio", 1, "sales_volatility",
            f"Coefficient of variation of monthly taxable sales over the last {k} filed months",
            f"最近{k}个申报月月度应税销售额的变异系数",
            f"Monthly taxable sales are volatile (coefficient of variation {{value:.2f}} over {k} months)",
            f"近{k}个月应税销售额波动较大（变异系数{{value:.2f}}）"))
    for k in windows:
        specs.append(_spec(
            f"tax_late_filings_{k}m", "tax", k, "count", 1, "tax_compliance",
            f"VAT returns filed after the deadline among the last {k} filed months",
            f"最近{k}个申报月中逾期申报的次数",
            f"{{value:.0f}} late VAT filings in the last {k} months", f"近{k}个月逾期申报{{value:.0f}}次"))
    specs += [
        _spec(f"tax_late_filing_share_{annual}m", "tax", annual, "share", 1, "tax_compliance",
              f"Share of the last {annual} filed months filed after the deadline",
              f"最近{annual}个申报月中逾期申报的占比",
              f"{{value:.0%}} of VAT returns in the last {annual} months were filed late",
              f"近{annual}个月{{value:.0%}}的增值税申报逾期"),
        _spec(f"vat_paid_ratio_{annual}m", "tax", annual, "ratio", -1, "tax_payment",
              f"VAT paid over VAT payable, last {annual} filed months",
              f"最近{annual}个申报月已缴增值税与应缴增值税之比",
              f"Only {{value:.0%}} of VAT payable was paid in the last {annual} months",
              f"近{annual}个月仅缴纳应缴增值税的{{value:.0%}}"),
        _spec(f"vat_unpaid_{annual}m", "tax", annual, "CNY", 1, "tax_payment",
              f"VAT payable minus VAT paid, last {annual} filed months",
              f"最近{annual}个申报月应缴未缴增值税",
              f"CNY {{value:,.0f}} of VAT payable unpaid in the last {annual} months",
              f"近{annual}个月欠缴增值税{{value:,.0f}}元"),
        _spec(f"vat_underpaid_months_{annual}m", "tax", annual, "count", 1, "tax_payment",
              f"Filed months whose VAT paid fell short of VAT payable, last {annual} filed months",
              f"最近{annual}个申报月中未足额缴纳增值税的月数",
              f"VAT underpaid in {{value:.0f}} of the last {annual} months",
              f"近{annual}个月有{{value:.0f}}个月未足额缴税"),
        _spec(f"vat_burden_{annual}m", "tax", annual, "ratio", 0, "tax_burden",
              f"VAT payable over taxable sales, last {annual} filed months (effective VAT rate)",
              f"最近{annual}个申报月应缴增值税与应税销售额之比（实际税负）",
              f"Effective VAT rate of {{value:.1%}} is unusual", f"增值税实际税负{{value:.1%}}异常"),
        *_vat_burden_rel_rate_specs(windows),
        _spec(f"tax_zero_sales_months_{annual}m", "tax", annual, "count", 1, "sales_level",
              f"Filed months with zero taxable sales among the last {annual}",
              f"最近{annual}个申报月中零销售申报的月数",
              f"{{value:.0f}} zero-sales VAT returns in the last {annual} months",
              f"近{annual}个月零申报{{value:.0f}}次"),
        _spec("tax_history_months", "tax", 0, "months", -1, "tax_history",
              "Number of monthly VAT returns filed before the application", "申请前已申报的增值税月数",
              "Short tax history ({value:.0f} months filed)", "纳税记录较短（{value:.0f}个月）"),
        _spec("tax_filing_lag_months", "tax", 0, "months", 1, "tax_recency",
              "Months between the application month and the latest filed period",
              "申请月份与最近已申报所属期之间的月数",
              "The latest VAT return is {value:.0f} months old", "最近一次增值税申报距今{value:.0f}个月"),
    ]
    return specs


def _vat_burden_rel_rate_specs(windows):
    """The VAT burden over the industry's statutory rate, per window, and its recent change.

    Risk direction -1: the burden (payable / sales) is the statutory rate times the value-added
    margin, so divided by the rate it measures the margin, and a thin or shrinking margin goes with
    weak health and default (in the synthetic world the margin follows the enterprise's health).
    """
    shortest, annual = windows[0], windows[-1]
    specs = [
        _spec(f"vat_burden_rel_rate_{k}m", "tax", k, "ratio", -1, "tax_margin",
              f"VAT payable over taxable sales of the last {k} filed months, divided by the statutory VAT rate "
              "of the enterprise's industry section (the value-added margin)",
              f"最近{k}个申报月应缴增值税与应税销售额之比除以所属行业门类的法定增值税税率（增值率）",
              f"VAT burden of the last {k} months is low for the industry ({{value:.2f}} times the statutory rate)",
              f"近{k}个月增值税税负相对行业法定税率偏低（为法定税率的{{value:.2f}}倍）")
        for k in windows
    ]
    if shortest < annual:
        specs.append(_spec(
            f"vat_burden_rel_rate_change_{shortest}m_{annual}m", "tax", annual, "ratio", -1, "tax_margin",
            f"VAT burden relative to the statutory rate over the last {shortest} filed months minus "
            f"the same over the last {annual}",
            f"最近{shortest}个申报月增值税税负与法定税率之比减去最近{annual}个申报月的该比值",
            f"VAT burden relative to the statutory rate changed by {{value:+.2f}} in the last {shortest} months "
            f"against the last {annual}",
            f"近{shortest}个月增值税税负与法定税率之比较近{annual}个月变化{{value:+.2f}}"))
    return specs


def _rating_specs():
    return [
        _missing_spec("tax_rating", "tax credit rating", "纳税信用评级"),
        _spec("tax_rating_latest", "tax_rating", 0, "category", 0, "tax_rating",
              "Latest published tax credit rating (A/B/M/C/D)", "最近一次公布的纳税信用等级（A/B/M/C/D）",
              "Tax credit rating is {value}", "纳税信用等级为{value}", kind="categorical"),
        _spec("tax_rating_rank", "tax_rating", 0, "rank", 1, "tax_rating",
              "Latest tax credit rating as a rank: A=1, B=2, M=3, C=4, D=5",
              "最近纳税信用等级的序数：A=1，B=2，M=3，C=4，D=5",
              "Low tax credit rating (rank {value:.0f} of 5)", "纳税信用等级偏低（第{value:.0f}档，共5档）"),
        _spec("tax_rating_change", "tax_rating", 0, "rank", 1, "tax_rating",
              "Latest rating rank minus the previous one (positive: downgraded)",
              "最近纳税信用等级序数减去上一次（正数为降级）",
              "Tax credit rating downgraded by {value:.0f} notches", "纳税信用等级下调{value:.0f}级"),
        _spec("tax_rating_years", "tax_rating", 0, "count", -1, "tax_history",
              "Number of tax credit ratings published before the application", "申请前已公布的纳税信用评级次数",
              "Only {value:.0f} tax credit ratings on record", "仅有{value:.0f}次纳税信用评级记录"),
    ]


def _invoice_specs(windows):
    annual = windows[-1]
    specs = [_missing_spec("invoices", f"VAT invoice (last {annual} months)", f"近{annual}个月增值税发票")]
    for k in windows:
        specs.append(_spec(
            f"invoiced_sales_{k}m", "invoices", k, "CNY", -1, "invoice_sales_level",
            f"Net sales invoiced in the last {k} months (normal minus red-letter, void excluded)",
            f"近{k}个月开具的销项发票净额（正常票减红字票，不含作废票）",
            f"Invoiced sales of the last {k} months are low (CNY {{value:,.0f}})",
            f"近{k}个月开票销售额偏低（{{value:,.0f}}元）"))
    for k in _growth_windows(windows):
        specs.append(_spec(
            f"invoiced_sales_growth_{k}m", "invoices", 2 * k, "ratio", -1, "invoice_sales_growth",
            f"Net invoiced sales of the last {k} months over the {k} months before, minus 1",
            f"近{k}个月销项发票净额相对前{k}个月的增长率",
            f"Invoiced sales changed by {{value:+.0%}} over the last {k} months",
            f"近{k}个月开票销售额变化{{value:+.0%}}"))
    for k in windows:
        specs.append(_spec(
            f"sales_invoices_{k}m", "invoices", k, "count", -1, "invoice_activity",
            f"Sales invoices issued in the last {k} months (every status)", f"近{k}个月开具的销项发票张数（含各状态）",
            f"Few sales invoices in the last {k} months ({{value:.0f}})", f"近{k}个月销项发票较少（{{value:.0f}}张）"))
    for k in windows:
        specs.append(_spec(
            f"invoice_void_share_{k}m", "invoices", k, "share", 1, "invoice_void",
            f"Share of sales invoices of the last {k} months that were voided",
            f"近{k}个月销项发票作废比例",
            f"{{value:.1%}} of sales invoices voided in the last {k} months",
            f"近{k}个月销项发票作废率{{value:.1%}}"))
    for k in windows:
        specs.append(_spec(
            f"invoice_red_letter_share_{k}m", "invoices", k, "share", 1, "invoice_red_letter",
            f"Share of sales invoices of the last {k} months that are red-letter (credit notes)",
            f"近{k}个月红字销项发票占比",
            f"{{value:.1%}} of sales invoices in the last {k} months are red-letter",
            f"近{k}个月红字发票占比{{value:.1%}}"))
    specs += [
        _spec(f"invoice_red_letter_amount_share_{annual}m", "invoices", annual, "share", 1, "invoice_red_letter",
              f"Red-letter amount as a share of normal sales invoice amount, last {annual} months",
              f"近{annual}个月红字发票金额占正常销项发票金额的比例",
              f"Red-letter invoices reversed {{value:.1%}} of sales in the last {annual} months",
              f"近{annual}个月红字冲销金额占销售额{{value:.1%}}"),
        _spec(f"invoiced_purchases_{annual}m", "invoices", annual, "CNY", 0, "invoice_purchases",
              f"Net purchase invoices received in the last {annual} months",
              f"近{annual}个月取得的进项发票净额",
              f"Invoiced purchases of CNY {{value:,.0f}} in the last {annual} months",
              f"近{annual}个月进项发票金额{{value:,.0f}}元"),
        _spec(f"sales_to_purchases_{annual}m", "invoices", annual, "ratio", -1, "invoice_margin",
              f"Net invoiced sales over net invoiced purchases, last {annual} months",
              f"近{annual}个月销项与进项发票净额之比",
              f"Invoiced sales are only {{value:.2f}} times purchases", f"销项金额仅为进项的{{value:.2f}}倍"),
        _spec(f"customers_{annual}m", "invoices", annual, "count", -1, "customer_base",
              f"Distinct customers invoiced in the last {annual} months", f"近{annual}个月开票客户数",
              f"Few customers in the last {annual} months ({{value:.0f}})", f"近{annual}个月客户较少（{{value:.0f}}户）"),
        _spec(f"suppliers_{annual}m", "invoices", annual, "count", -1, "supplier_base",
              f"Distinct suppliers invoicing the enterprise in the last {annual} months",
              f"近{annual}个月进项供应商数",
              f"Few suppliers in the last {annual} months ({{value:.0f}})", f"近{annual}个月供应商较少（{{value:.0f}}户）"),
        _spec(f"customer_hhi_{annual}m", "invoices", annual, "ratio", 1, "customer_concentration",
              f"Herfindahl index of sales by customer, last {annual} months (1 = a single customer)",
              f"近{annual}个月客户销售额赫芬达尔指数（1为单一客户）",
              f"Sales are concentrated on few customers (HHI {{value:.2f}})", f"销售集中于少数客户（HHI {{value:.2f}}）"),
        _spec(f"top_customer_share_{annual}m", "invoices", annual, "share", 1, "customer_concentration",
              f"Share of sales to the largest customer, last {annual} months", f"近{annual}个月第一大客户销售占比",
              f"The largest customer takes {{value:.0%}} of sales", f"第一大客户占销售额{{value:.0%}}"),
        _spec(f"sales_invoice_months_{annual}m", "invoices", annual, "count", -1, "invoice_activity",
              f"Calendar months with at least one sales invoice, last {annual} months",
              f"近{annual}个月有销项开票的月份数",
              f"Sales invoices in only {{value:.0f}} of the last {annual} months",
              f"近{annual}个月仅{{value:.0f}}个月有开票"),
        _spec("days_since_last_sales_invoice", "invoices", annual, "days", 1, "invoice_recency",
              "Days from the latest sales invoice to the application", "最近一张销项发票距申请日的天数",
              "No sales invoice for {value:.0f} days", "已{value:.0f}天未开具销项发票"),
        _spec(f"avg_sales_invoice_cny_{annual}m", "invoices", annual, "CNY", 0, "invoice_size",
              f"Average amount of a normal sales invoice, last {annual} months",
              f"近{annual}个月正常销项发票平均金额",
              f"Average sales invoice of CNY {{value:,.0f}}", f"销项发票平均金额{{value:,.0f}}元"),
        _spec(f"invoiced_to_taxable_sales_{annual}m", "invoices", annual, "ratio", 0, "sales_consistency",
              f"Net invoiced sales over taxable sales, last {annual} months (consistency of two sources)",
              f"近{annual}个月开票销售额与应税销售额之比（两源一致性）",
              f"Invoiced sales are {{value:.0%}} of declared taxable sales", f"开票销售额为申报销售额的{{value:.0%}}"),
    ]
    return specs


def _electricity_specs(windows):
    annual = windows[-1]
    specs = [_missing_spec("electricity", "electricity bill", "电费账单")]
    for k in windows:
        specs.append(_spec(
            f"electricity_kwh_{k}m", "electricity", k, "kWh", -1, "electricity_level",
            f"Electricity used in the last {k} billed months", f"最近{k}个计费月用电量",
            f"Low electricity use in the last {k} months ({{value:,.0f}} kWh)",
            f"近{k}个月用电量偏低（{{value:,.0f}}千瓦时）"))
    for k in windows:
        specs.append(_spec(
            f"electricity_kwh_growth_{k}m", "electricity", 2 * k, "ratio", -1, "electricity_trend",
            f"Electricity used in the last {k} billed months over the {k} before, minus 1",
            f"最近{k}个计费月用电量相对前{k}个月的增长率",
            f"Electricity use changed by {{value:+.0%}} over the last {k} months",
            f"近{k}个月用电量变化{{value:+.0%}}"))
    for k in windows:
        specs.append(_spec(
            f"electricity_late_payments_{k}m", "electricity", k, "count", 1, "electricity_payment",
            f"Electricity bills not paid on time among the last {k} billed months",
            f"最近{k}个计费月电费逾期缴纳次数",
            f"{{value:.0f}} electricity bills paid late in the last {k} months",
            f"近{k}个月电费逾期{{value:.0f}}次"))
    specs += [
        _spec(f"electricity_kwh_cv_{annual}m", "electricity", annual, "ratio", 1, "electricity_volatility",
              f"Coefficient of variation of monthly electricity use, last {annual} billed months",
              f"最近{annual}个计费月月度用电量的变异系数",
              f"Electricity use is volatile (coefficient of variation {{value:.2f}})",
              f"用电量波动较大（变异系数{{value:.2f}}）"),
        _spec(f"electricity_bill_{annual}m", "electricity", annual, "CNY", -1, "electricity_level",
              f"Electricity bills of the last {annual} billed months", f"最近{annual}个计费月电费合计",
              f"Electricity bills of the last {annual} months are low (CNY {{value:,.0f}})",
              f"近{annual}个月电费偏低（{{value:,.0f}}元）"),
        _spec(f"electricity_on_time_share_{annual}m", "electricity", annual, "share", -1, "electricity_payment",
              f"Share of the last {annual} electricity bills paid on time", f"最近{annual}个月电费按时缴纳比例",
              f"Only {{value:.0%}} of electricity bills were paid on time", f"电费按时缴纳率仅{{value:.0%}}"),
        _spec(f"electricity_bill_to_sales_{annual}m", "electricity", annual, "ratio", 0, "energy_intensity",
              f"Electricity bills over taxable sales, last {annual} months (energy intensity)",
              f"近{annual}个月电费与应税销售额之比（能耗强度）",
              f"Electricity costs are {{value:.1%}} of sales", f"电费占销售额{{value:.1%}}"),
        _spec("electricity_history_months", "electricity", 0, "months", -1, "electricity_history",
              "Number of monthly electricity bills issued before the application", "申请前的电费账单月数",
              "Short electricity history ({value:.0f} months)", "用电记录较短（{value:.0f}个月）"),
        _spec("electricity_billing_lag_months", "electricity", 0, "months", 1, "electricity_recency",
              "Months between the application month and the latest billed period",
              "申请月份与最近计费所属期之间的月数",
              "The latest electricity bill is {value:.0f} months old", "最近电费账单距今{value:.0f}个月"),
    ]
    return specs


def _customs_specs(windows):
    annual = windows[-1]
    specs = [_missing_spec("customs", f"customs declaration (last {annual} months)", f"近{annual}个月报关")]
    for k in windows:
        specs.append(_spec(
            f"exports_{k}m", "customs", k, "CNY", -1, "exports_level",
            f"Declared export value of the last {k} months", f"近{k}个月出口报关金额",
            f"Exports of the last {k} months are low (CNY {{value:,.0f}})", f"近{k}个月出口额偏低（{{value:,.0f}}元）"))
    for k in _growth_windows(windows):
        specs.append(_spec(
            f"exports_growth_{k}m", "customs", 2 * k, "ratio", -1, "exports_trend",
            f"Exports of the last {k} months over the {k} months before, minus 1",
            f"近{k}个月出口额相对前{k}个月的增长率",
            f"Exports changed by {{value:+.0%}} over the last {k} months", f"近{k}个月出口额变化{{value:+.0%}}"))
    specs += [
        _spec(f"imports_{annual}m", "customs", annual, "CNY", 0, "imports_level",
              f"Declared import value of the last {annual} months", f"近{annual}个月进口报关金额",
              f"Imports of CNY {{value:,.0f}} in the last {annual} months", f"近{annual}个月进口额{{value:,.0f}}元"),
        _spec(f"customs_declarations_{annual}m", "customs", annual, "count", -1, "customs_activity",
              f"Customs declarations (both directions) in the last {annual} months", f"近{annual}个月报关单数",
              f"Few customs declarations ({{value:.0f}})", f"报关单较少（{{value:.0f}}笔）"),
        _spec(f"export_months_{annual}m", "customs", annual, "count", -1, "customs_activity",
              f"Calendar months with an export declaration, last {annual} months", f"近{annual}个月有出口的月份数",
              f"Exports in only {{value:.0f}} of the last {annual} months", f"近{annual}个月仅{{value:.0f}}个月有出口"),
        _spec(f"customs_hs_chapters_{annual}m", "customs", annual, "count", -1, "customs_diversity",
              f"Distinct HS chapters declared in the last {annual} months", f"近{annual}个月报关商品HS章数",
              f"Trade in only {{value:.0f}} HS chapters", f"报关商品仅{{value:.0f}}个HS章"),
        _spec("days_since_last_declaration", "customs", annual, "days", 1, "customs_recency",
              "Days from the latest customs declaration to the application", "最近一次报关距申请日的天数",
              "No customs declaration for {value:.0f} days", "已{value:.0f}天无报关记录"),
    ]
    return specs


def _procurement_specs(windows):
    annual = windows[-1]
    return [
        _missing_spec("procurement", "government procurement award", "政府采购中标"),
        _spec(f"awards_won_{annual}m", "procurement", annual, "count", -1, "procurement_wins",
              f"Government procurement awards won in the last {annual} months", f"近{annual}个月政府采购中标次数",
              f"Only {{value:.0f}} procurement awards in the last {annual} months",
              f"近{annual}个月仅中标{{value:.0f}}次"),
        _spec("awards_won_total", "procurement", 0, "count", -1, "procurement_wins",
              "Government procurement awards won before the application", "申请前政府采购中标总次数",
              "Only {value:.0f} procurement awards on record", "政府采购中标记录仅{value:.0f}次"),
        _spec(f"award_value_{annual}m", "procurement", annual, "CNY", -1, "procurement_value",
              f"Contract value of awards won in the last {annual} months", f"近{annual}个月中标合同金额",
              f"Awards of the last {annual} months total only CNY {{value:,.0f}}",
              f"近{annual}个月中标金额仅{{value:,.0f}}元"),
        _spec("award_value_total", "procurement", 0, "CNY", -1, "procurement_value",
              "Contract value of every award won before the application", "申请前全部中标合同金额",
              "Awards on record total only CNY {value:,.0f}", "中标合同总额仅{value:,.0f}元"),
        _spec("active_contracts", "procurement", 0, "count", -1, "procurement_backlog",
              "Awarded contracts not yet ended at the application date", "申请日尚未到期的中标合同数",
              "Only {value:.0f} government contracts in progress", "在履行政府采购合同仅{value:.0f}个"),
        _spec("active_remaining_value", "procurement", 0, "CNY", -1, "procurement_backlog",
              "Remaining value of every awarded contract at the application date (pro rata of time left)",
              "申请日全部中标合同的剩余金额（按剩余期限折算）",
              "Remaining government contract value is only CNY {value:,.0f}", "剩余政府采购合同金额仅{value:,.0f}元"),
        _spec("distinct_purchasers", "procurement", 0, "count", -1, "procurement_wins",
              "Distinct government purchasers that awarded the enterprise a contract", "授予中标合同的不同采购人数",
              "Contracts from only {value:.0f} purchasers", "仅有{value:.0f}个采购人"),
        _spec("days_since_last_award", "procurement", 0, "days", 1, "procurement_recency",
              "Days from the latest award to the application", "最近一次中标距申请日的天数",
              "No procurement award for {value:.0f} days", "已{value:.0f}天无中标记录"),
        _spec("contract_value", "procurement", 0, "CNY", -1, "loan_contract",
              "Value of the contract backing the application (procurement loans; NaN otherwise)",
              "申请所依托的政府采购合同金额（政采贷；其他为空）",
              "The backing contract is small (CNY {value:,.0f})", "所依托合同金额较小（{value:,.0f}元）"),
        _spec("remaining_contract_value", "procurement", 0, "CNY", -1, "loan_contract",
              "Remaining value of the backing contract at the application date (pro rata of time left)",
              "申请日所依托合同的剩余金额（按剩余期限折算）",
              "Little of the backing contract remains (CNY {value:,.0f})", "所依托合同剩余金额较少（{value:,.0f}元）"),
        _spec("requested_to_remaining_value", "procurement", 0, "ratio", 1, "loan_contract",
              "Requested amount over the remaining value of the backing contract",
              "申请金额与所依托合同剩余金额之比",
              "Requested amount is {value:.0%} of the remaining contract value", "申请金额为合同剩余金额的{value:.0%}"),
        _spec("contract_days_remaining", "procurement", 0, "days", -1, "loan_contract",
              "Days from the application to the end of the backing contract", "申请日至所依托合同结束的天数",
              "The backing contract ends in {value:.0f} days", "所依托合同{value:.0f}天后结束"),
        _spec("award_category", "procurement", 0, "category", 0, "loan_contract",
              "Category of the backing contract (goods/services/works)", "所依托合同类别（货物/服务/工程）",
              "Contract category {value} carries a higher risk", "合同类别{value}风险较高", kind="categorical"),
    ]


CATALOG: list[FeatureSpec] = synthetic_catalog()
