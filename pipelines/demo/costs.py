"""What the demo shop spends besides its goods: ad spend per day and paid campaign (about the sessions each brought),
and monthly operating expenses sized so that the shop nets a modest profit."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.calendar import Calendar
from pipelines.demo.orders import RETURNED
from pipelines.demo.traffic import CAMPAIGNS, Block, _campaign_weights
from warehouse import STATUSES, VALID_STATUSES

EXPENSES = (  # (category, note, share of the fixed cost base)
    ("rent", "办公室及摄影棚租金 Office & studio rent (杭州)", 0.14),
    ("salaries", "工资及社保 Salaries & social insurance", 0.58),
    ("software", "ERP/客服/SaaS 订阅 Software subscriptions", 0.06),
    ("utilities", "水电网 Utilities & internet", 0.025),
    ("professional_services", "代理记账与法务 Accounting & legal", 0.04),
    ("office", "办公用品 Office supplies", 0.015),
    ("content", "拍摄与内容制作 Photo & content production", 0.13),
)
VARIABLE_EXPENSES = (  # (category, note, CNY per order, CNY per month)
    ("warehouse", "第三方仓储 3PL warehousing", 4.2, 2_500.0),
    ("packaging", "包装材料 Packaging", 1.6, 0.0),
    ("customer_service", "客服外包 Outsourced customer service", 1.2, 3_000.0),
)
NET_MARGIN_TARGET = 0.05  # operating expenses are sized so the shop earns a modest profit overall


def _ad_spend(rng: np.random.Generator, cal: Calendar, sessions: Block) -> pl.DataFrame:
    """One row per day and paid campaign: impressions, clicks (about the sessions it brought) and cost in CNY."""
    real = ~sessions["phone"]
    weights = _campaign_weights(cal)
    paid = np.array([c.cpc > 0 for c in CAMPAIGNS])
    visits = np.zeros((cal.days, len(CAMPAIGNS)), dtype=np.int64)
    np.add.at(visits, (sessions["day"][real], sessions["campaign"][real]), 1)
    day, campaign = np.nonzero((weights > 0) & paid[None, :])
    cpc = np.array([c.cpc for c in CAMPAIGNS])[campaign]
    ctr = np.array([c.ctr for c in CAMPAIGNS])[campaign]
    promo = np.minimum(cal.promo[day], 1.5)
    # Not every ad click becomes a session (slow pages, back button); peak days have dearer, less clicked ads.
    clicks = np.round(visits[day, campaign] / rng.uniform(0.82, 0.95, day.size)).astype(np.int64)
    clicks += rng.poisson(2, day.size)
    impressions = np.round(clicks / (ctr * rng.lognormal(0, 0.12, day.size) / (1 + 0.2 * promo))).astype(np.int64)
    cost = clicks * cpc * (1 + 0.5 * promo) * rng.lognormal(0, 0.08, day.size)
    return pl.DataFrame(
        {
            "date": cal.dates[day],
            "source": pl.Series([CAMPAIGNS[c].source for c in campaign], dtype=pl.String),
            "medium": pl.Series([CAMPAIGNS[c].medium for c in campaign], dtype=pl.String),
            "campaign": pl.Series([CAMPAIGNS[c].name for c in campaign], dtype=pl.String),
            "cost": np.round(cost, 2),
            "impressions": impressions,
            "clicks": clicks,
        }
    )


def _expenses(
    rng: np.random.Generator, cal: Calendar, orders: Block, lines: Block, ad_spend: pl.DataFrame
) -> pl.DataFrame:
    """One row per month and category of operating expense (CNY), sized so the shop nets a modest profit."""
    months = np.unique(cal.months)
    month_of_day = np.searchsorted(months, cal.months)
    covered = np.bincount(month_of_day, minlength=months.size)
    month_days = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    coverage = covered / month_days

    # The month's contribution as the P&L computes it (SPEC §4), in CNY.
    valid = np.isin(orders["status"], [STATUSES.index(s) for s in VALID_STATUSES])
    m_order = month_of_day[orders["day"]]
    value = lines["quantity"] * lines["unit_price"]
    gross = np.bincount(lines["order"], weights=value, minlength=valid.size)
    kept = valid & (orders["status"] != RETURNED)
    cogs = np.bincount(lines["order"], weights=lines["quantity"] * lines["unit_cost"], minlength=valid.size)
    revenue = gross - orders["discount"] - orders["refund"] + orders["shipping_fee"]
    margin = revenue - np.where(kept, cogs, 0) - orders["shipping_cost"] - orders["payment_fee"]

    def per_month(values: np.ndarray) -> np.ndarray:
        return np.bincount(m_order[valid], weights=values[valid], minlength=months.size) / 100

    ad_day = (ad_spend["date"].to_numpy() - cal.dates[0]).astype(np.int64)
    ad = np.bincount(month_of_day[ad_day], weights=ad_spend["cost"].to_numpy(), minlength=months.size)
    revenue_m, contribution_m = per_month(revenue), per_month(margin) - ad
    orders_full = np.bincount(m_order[valid], minlength=months.size) / coverage  # orders of a whole month

    variable = {name: per_order * orders_full + base for name, _, per_order, base in VARIABLE_EXPENSES}
    month_no = months.astype(np.int64) % 12 + 1
    year_no = months.astype("datetime64[Y]").astype(np.int64) - months.astype("datetime64[Y]").astype(np.int64)[0]
    # The team grows with the business: staff and tools follow the trailing three months' revenue.
    full_revenue = np.maximum(revenue_m / coverage, 1.0)
    trailing = np.array([full_revenue[max(0, i - 2) : i + 1].mean() for i in range(months.size)])
    trend = trailing / trailing.mean()
    shapes = {
        "rent": 1.05**year_no,
        "salaries": 0.2 + 0.8 * trend,
        "software": 0.6 + 0.4 * trend,
        "utilities": 1 + 0.3 * np.isin(month_no, (7, 8, 1, 12)),
        "professional_services": np.ones(months.size),
        "office": rng.lognormal(0, 0.15, months.size),
        "content": (0.5 + 0.5 * trend) * (1 + 0.8 * np.isin(month_no, (5, 10))),  # shoots before 618 and 双11
    }
    # The P&L counts a month's expenses pro rata by the days the window covers; size the fixed costs (CNY a month)
    # so that contribution - expenses = NET_MARGIN_TARGET x revenue, but keep a small team's floor.
    target = contribution_m.sum() - NET_MARGIN_TARGET * revenue_m.sum()
    variable_total = sum((coverage * v).sum() for v in variable.values())
    fixed_shape = sum(share * shapes[name] for name, _, share in EXPENSES)
    fixed_base = max((target - variable_total) / (coverage * fixed_shape).sum(), 30_000.0)

    rows = []
    for name, note, share in EXPENSES:
        rows.append((name, note, fixed_base * share * shapes[name] * rng.lognormal(0, 0.02, months.size)))
    for name, note, *_ in VARIABLE_EXPENSES:
        rows.append((name, note, variable[name]))
    return pl.DataFrame(
        {
            "month": [str(m) for _ in rows for m in months],
            "category": [name for name, _, _ in rows for _ in months],
            "amount": np.round(np.concatenate([amount for _, _, amount in rows]), 2),
            "note": [note for _, note, _ in rows for _ in months],
        }
    ).sort("month", "category")
