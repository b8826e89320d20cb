"""Replenishment from forecast demand (metrics/replenishment.py): dates worked out by hand in comments."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from metrics.replenishment import reorder_now
from metrics.stock import days_lasting, plan_reorders, plan_replenishment
from tests.support.small import stock_rows

AS_OF = date(2024, 6, 30)


def promotion_index(days: int = 200) -> np.ndarray:
    # Forecast demand at the recent average (1.0) every day, except days 3 and 4 after 30 June (3 and 4 July), a
    # promotion the forecast expects at twice the usual demand.
    index = np.ones(days)
    index[2:4] = 2.0
    return index


def products() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "name": ["Alpha", "Beta", "Gamma"],
            "category": ["x", "x", "y"],
            "supplier": ["s", "s", "s"],
            "lead_time_days": [10, 14, None],
            "on_hand": [20, 30, 3],
            "on_order": [0, 0, 10],
            "units_sold": [56, 28, 28],  # over 28 days: 2, 1 and 1 a day
        },
        schema_overrides={"lead_time_days": pl.Int64},
    )


def test_reorder_dates_follow_forecast_demand_lead_time_and_buffer() -> None:
    plan = plan_replenishment(products(), AS_OF, promotion_index(), window_days=28, buffer_days=(7, 15))
    rows = {r["sku"]: r for r in plan.iter_rows(named=True)}

    # A sells 2 a day, 4 on the promotion days: 2, 2, 4, 4, 2, 2, 2, 2 → 20 units after 8 days, so its 20 on hand
    # last 8.0 days (the recent average alone says 10) and it runs out on 30 June + 8 = 8 July. Lead time 10 days,
    # goods due 7–15 days before: order from 8 July − 25 = 13 June, at the latest 8 July − 17 = 21 June. Reorder
    # now, late. Quantity: demand over the next 10 + 15 + 30 = 55 days = 55 × 2 + 2 × 2 extra = 114, less 20 = 94.
    a = rows["A"]
    assert (a["daily_units"], a["days_of_cover"]) == (2.0, 8.0)
    assert (a["stockout_date"], a["reorder_date"], a["order_by"]) == (
        date(2024, 7, 8),
        date(2024, 6, 13),
        date(2024, 6, 21),
    )
    assert (a["reorder_now"], a["late"], a["suggested_quantity"]) == (True, True, 94)
    assert a["forecast_units_30d"] == pytest.approx(64.0)  # 30 × 2 + 2 × 2

    # B sells 1 a day, 2 on the promotion days: the first k days (k ≥ 4) take k + 2 units, so its 30 on hand last
    # 28 days: it runs out on 28 July (30 days at the recent average). Lead time 14: order from 28 July − 29 =
    # 29 June (yesterday: reorder now), at the latest 28 July − 21 = 7 July (not late). Quantity: 14 + 15 + 30 = 59
    # days of demand = 59 + 2 = 61, less 30 = 31.
    b = rows["B"]
    assert (b["days_of_cover"], b["stockout_date"], b["reorder_date"], b["order_by"]) == (
        28.0,
        date(2024, 7, 28),
        date(2024, 6, 29),
        date(2024, 7, 7),
    )
    assert (b["reorder_now"], b["late"], b["suggested_quantity"]) == (True, False, 31)

    # C sells 1 a day, 2 on the promotion days: 1, 1, 2, … Its 3 on hand last 2 days and half of the third
    # (2 used, 1 left of day 3's 2): 2.5 days of cover. With the 10 on order the position of 13 lasts 11 days
    # (11 + 2 = 13): runs out 11 July. No lead time: order from 11 July − 15 = 26 June (now), by 4 July (not late).
    # Quantity: 45 days of demand = 47, less 13 = 34.
    c = rows["C"]
    assert (c["days_of_cover"], c["stockout_date"], c["reorder_date"], c["order_by"]) == (
        2.5,
        date(2024, 7, 11),
        date(2024, 6, 26),
        date(2024, 7, 4),
    )
    assert (c["reorder_now"], c["late"], c["suggested_quantity"]) == (True, False, 34)

    assert plan["sku"].to_list() == ["C", "A", "B"], "fewest days of cover first"
    assert reorder_now(plan)["sku"].to_list() == ["A", "C", "B"], "late first, then by stock-out date"


def test_a_flat_forecast_gives_the_recent_average_plan() -> None:
    # Demand forecast at the recent average every day: the same plan as metrics.stock.
    stock = stock_rows()
    ours = plan_replenishment(stock, AS_OF, np.ones(120), window_days=28, buffer_days=(7, 15))
    theirs = plan_reorders(stock, AS_OF, window_days=28, buffer_days=(7, 15), order_cover_days=30)
    columns = ["sku", "days_of_cover", "stockout_date", "reorder_date", "order_by", "reorder_now", "late"]
    assert ours.select(columns).equals(theirs.select(columns))
    assert ours["suggested_quantity"].to_list() == theirs["suggested_quantity"].to_list()


def test_days_lasting_continues_past_the_forecast_at_its_last_weeks_average() -> None:
    # 28 forecast days of 1 unit, then the last four weeks' average (1) carries on: 100 units last 100 days.
    assert days_lasting(100, np.ones(28)) == pytest.approx(100.0)
    assert days_lasting(0, np.ones(28)) == 0.0
    assert days_lasting(5, np.zeros(28)) is None
