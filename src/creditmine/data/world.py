"""The fixed facts of the synthetic world: industries, Beijing districts, purchasers, holidays.

These are the world's definition (documented in docs/synthetic.md), not tunable thresholds:
industry risk, seasonality and shock exposure follow what SME lenders in Beijing report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Industry:
    """One GB/T 4754-2017 section and how enterprises in it behave.

    Attributes
    ----------
    section : GB/T 4754 section letter.
    name : English name of the section.
    divisions : two-digit GB/T 4754 division codes in the section.
    share : share of enterprises in the section.
    log_sales : mean log of monthly sales (yuan) of an enterprise of typical size.
    base_risk : additive log-odds of default.
    shock_exposure : how hard the macro shock hits sales and default (log units at full shock).
    growth : typical annual sales growth (log units per year).
    vat_rate : statutory VAT rate on sales.
    electricity_share : share of enterprises with an electricity account in their own name.
    kwh_per_cny : kWh used per yuan of sales.
    electricity_elasticity : how much electricity follows activity (1 factory, 0 office).
    customs_share : share of enterprises that trade across the border.
    export_share : share of declarations that are exports.
    procurement_share : share of enterprises that bid for government contracts.
    category_weights : probabilities of award categories goods, services, works.
    invoice_coverage : share of sales invoiced (retail and catering sell to consumers).
    seasonality : 12 log-multipliers of sales by calendar month (January first).
    hs_chapters : two-digit HS chapters the enterprises typically declare.
    """

    section: str
    name: str
    divisions: tuple[str, ...]
    share: float
    log_sales: float
    base_risk: float
    shock_exposure: float
    growth: float
    vat_rate: float
    electricity_share: float
    kwh_per_cny: float
    electricity_elasticity: float
    customs_share: float
    export_share: float
    procurement_share: float
    category_weights: tuple[float, float, float]
    invoice_coverage: float
    seasonality: tuple[float, ...]
    hs_chapters: tuple[str, ...]


def _divisions(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{d:02d}" for d in range(first, last + 1))


_FLAT = (0.0,) * 12

INDUSTRIES: tuple[Industry, ...] = (
    Industry("A", "agriculture, forestry, animal husbandry and fishery", _divisions(1, 5), 0.04,
             12.0, 0.25, 0.30, 0.02, 0.09, 0.60, 0.10, 0.8, 0.04, 0.50, 0.05, (0.80, 0.15, 0.05), 0.80,
             (-0.15, -0.1, -0.05, 0.0, 0.05, 0.05, 0.1, 0.15, 0.2, 0.1, -0.05, -0.1), ("03", "07", "08", "09", "12")),
    Industry("C", "manufacturing", _divisions(13, 43), 0.18,
             13.0, 0.00, 0.50, 0.04, 0.13, 0.95, 0.12, 0.9, 0.15, 0.70, 0.15, (0.75, 0.20, 0.05), 0.95,
             (0.0, -0.05, 0.0, 0.02, 0.02, 0.03, 0.0, 0.0, 0.03, 0.02, 0.05, 0.08), ("39", "61", "73", "84", "85", "87", "90", "94")),
    Industry("E", "construction", _divisions(47, 50), 0.08,
             13.2, 0.20, 0.50, 0.00, 0.09, 0.70, 0.02, 0.5, 0.01, 0.50, 0.45, (0.10, 0.20, 0.70), 0.95,
             (-0.3, -0.2, 0.0, 0.1, 0.12, 0.12, 0.1, 0.1, 0.1, 0.08, 0.0, -0.2), ("68", "72", "73")),
    Industry("F", "wholesale and retail trade", _divisions(51, 52), 0.25,
             12.6, 0.10, 0.90, 0.02, 0.13, 0.60, 0.01, 0.3, 0.12, 0.45, 0.10, (0.80, 0.15, 0.05), 0.70,
             (0.05, -0.05, -0.05, -0.03, 0.0, 0.03, -0.02, -0.02, 0.02, 0.05, 0.12, 0.15), ("33", "61", "62", "64", "84", "85", "95")),
    Industry("G", "transport, storage and postal services", _divisions(53, 60), 0.05,
             12.7, 0.20, 0.90, 0.02, 0.09, 0.60, 0.02, 0.4, 0.05, 0.50, 0.08, (0.10, 0.85, 0.05), 0.90,
             (0.0, -0.05, 0.0, 0.0, 0.0, 0.0, 0.02, 0.02, 0.03, 0.03, 0.08, 0.1), ("86", "87", "89")),
    Industry("H", "accommodation and catering", _divisions(61, 62), 0.06,
             11.9, 0.35, 1.30, 0.01, 0.06, 0.90, 0.08, 0.9, 0.00, 0.50, 0.03, (0.20, 0.80, 0.00), 0.45,
             (0.05, 0.0, -0.05, 0.0, 0.05, 0.05, 0.1, 0.1, 0.0, 0.1, -0.05, 0.0), ("16", "21", "22")),
    Industry("I", "information transmission, software and IT services", _divisions(63, 65), 0.12,
             12.7, -0.15, 0.10, 0.08, 0.06, 0.50, 0.005, 0.2, 0.02, 0.80, 0.25, (0.20, 0.80, 0.00), 0.98,
             (-0.05, -0.05, 0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.05, 0.15), ("84", "85")),
    Industry("L", "leasing and business services", _divisions(71, 72), 0.12,
             12.3, 0.05, 0.60, 0.03, 0.06, 0.50, 0.005, 0.2, 0.02, 0.50, 0.25, (0.15, 0.85, 0.00), 0.95,
             _FLAT, ("49", "84", "85")),
    Industry("M", "scientific research and technical services", _divisions(73, 75), 0.10,
             12.4, -0.10, 0.30, 0.06, 0.06, 0.50, 0.008, 0.3, 0.02, 0.60, 0.25, (0.20, 0.80, 0.00), 0.98,
             (-0.05, -0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.15), ("29", "30", "38", "90")),
)
"""The nine GB/T 4754 sections of the world, with their behaviour."""

SECTIONS = tuple(ind.section for ind in INDUSTRIES)
DIVISIONS = tuple(sorted({d for ind in INDUSTRIES for d in ind.divisions}))

# (name, administrative division code, share of enterprises)
DISTRICTS: tuple[tuple[str, int, float], ...] = (
    ("Dongcheng", 110101, 0.05), ("Xicheng", 110102, 0.06), ("Chaoyang", 110105, 0.20),
    ("Fengtai", 110106, 0.09), ("Shijingshan", 110107, 0.03), ("Haidian", 110108, 0.18),
    ("Mentougou", 110109, 0.015), ("Fangshan", 110111, 0.035), ("Tongzhou", 110112, 0.06),
    ("Shunyi", 110113, 0.05), ("Changping", 110114, 0.06), ("Daxing", 110115, 0.07),
    ("Huairou", 110116, 0.02), ("Pinggu", 110117, 0.015), ("Miyun", 110118, 0.015),
    ("Yanqing", 110119, 0.01),
)
"""Beijing's sixteen districts."""

COUNTERPARTY_DIVISIONS = np.array(
    [d[1] for d in DISTRICTS] + [310115, 440305, 330106, 120116, 130102, 320505, 370202, 510107]
)
"""Where counterparties are registered: Beijing and the large trading partners around China."""

PURCHASERS: tuple[str, ...] = tuple(
    f"北京市{district}{body}"
    for district in ("东城区", "西城区", "朝阳区", "海淀区", "丰台区", "通州区", "大兴区", "昌平区")
    for body in ("教育委员会", "卫生健康委员会", "城市管理委员会", "交通委员会", "财政局")
) + ("北京市政府采购中心", "北京市公安局", "北京市水务局", "北京市园林绿化局")
"""Government purchasers awarding contracts."""

SPRING_FESTIVAL_MONTH: dict[int, int] = {
    2015: 2, 2016: 2, 2017: 1, 2018: 2, 2019: 2, 2020: 1, 2021: 2, 2022: 2, 2023: 1,
    2024: 2, 2025: 1, 2026: 2, 2027: 2, 2028: 1, 2029: 2, 2030: 2,
}
"""Calendar month of the Spring Festival (the lunar new year) by year."""

PRODUCTS: tuple[str, ...] = (
    "procurement", "tax", "invoice", "electricity", "customs", "engineering", "tech", "first_loan",
)
"""Application product codes."""

RATINGS: tuple[str, ...] = ("A", "B", "M", "C", "D")
"""Tax credit ratings (纳税信用等级); M is given to new enterprises without a full year of history."""
