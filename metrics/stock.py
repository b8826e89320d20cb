"""Stock cover and replenishment: how many days each product's stock lasts at its recent sales rate, and which
products to reorder now given the supplier's lead time and the guide's rule (SPEC §4: stock should be replenished
7–15 days before it runs out; the target `replenish_lead_days` in targets.toml).

For a product selling `d` units a day on average over the last `window_days` days:
- days of cover = on_hand / d (null when it sold nothing: it does not run out at this rate);
- it runs out (stock-out date) after (on_hand + on_order) / d days, counting what is already ordered;
- goods should arrive 7–15 days before that, so the order must go out between
  stock-out − lead time − 15 days (reorder date: from then on it is on the reorder list) and
  stock-out − lead time − 7 days (after that the order is late);
- the suggested quantity covers lead time + 15 days + `order_cover_days` of sales, less the stock position.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import duckdb
import numpy as np
import polars as pl

from metrics.facts import facts, query
from metrics.periods import latest_date

DEFAULT_WINDOW_DAYS = 28
DEFAULT_BUFFER_DAYS = (7, 15)
ORDER_COVER_DAYS = 30
TAIL_DAYS = 28  # demand past a forecast's end: the average of its last four weeks


def stock_sql() -> str:
    """The stock query: one row per product with a stock count on or before `$as_of`, with its units sold in the
    window [`$from_ts`, `$to_ts`)."""
    ctes = facts()
    ctes["last_stock"] = """
        -- one row per product counted on or before the as-of date: its latest count
        select sku, max(date) as stock_date, arg_max(on_hand, date) as on_hand,
            arg_max(coalesce(on_order, 0), date) as on_order
        from inventory
        where date <= $as_of
        group by sku"""
    ctes["recent_sales"] = """
        -- one row per product sold in the window: units of valid orders
        select sku, sum(quantity) as units
        from order_lines
        where ordered_at >= $from_ts and ordered_at < $to_ts
        group by sku"""
    ctes["cover"] = """
        -- one row per product with a stock count
        select s.sku, p.name, p.category, p.supplier, p.lead_time_days, s.stock_date, s.on_hand, s.on_order,
            coalesce(r.units, 0) as units_sold
        from last_stock s
        left join products p on p.sku = s.sku
        left join recent_sales r on r.sku = s.sku"""
    return query(ctes, "select * from cover\norder by sku")


def plan_reorders(
    stock: pl.DataFrame,
    as_of: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    buffer_days: tuple[int, int] = DEFAULT_BUFFER_DAYS,
    order_cover_days: int = ORDER_COVER_DAYS,
) -> pl.DataFrame:
    """Days of cover and reorder plan per product at its recent average. One row per row of `stock`, fewest days of
    cover first.

    `stock` has columns sku, name, category, supplier, lead_time_days (null: 0), on_hand, on_order, units_sold
    (over the `window_days` days ending on `as_of`). Adds: daily_units, days_of_cover, stockout_date, reorder_date,
    order_by (the last day to order), reorder_now, late, suggested_quantity.
    """
    flat = np.ones(1)  # every day like the window's average
    plan = plan_replenishment(stock, as_of, flat, window_days, buffer_days, order_cover_days)
    return plan.drop("forecast_units_30d")


def _extended(daily: np.ndarray, days: int) -> np.ndarray:
    """`daily` demand continued to at least `days` days by the average of its last four weeks."""
    if len(daily) >= days:
        return daily
    tail = float(np.mean(daily[-TAIL_DAYS:])) if len(daily) else 0.0
    return np.concatenate([daily, np.full(days - len(daily), tail)])


def days_lasting(amount: float, daily: np.ndarray) -> float | None:
    """How many days `amount` units last at the daily demand `daily` (day 1 first): k whole days where the first k
    days' demand D_k ≤ amount < D_(k+1), plus the fraction (amount − D_k) / demand of day k + 1. None if it lasts
    for ever (no demand)."""
    if amount <= 0:
        return 0.0
    tail = float(np.mean(daily[-TAIL_DAYS:])) if len(daily) else 0.0
    cumulative = np.cumsum(daily)
    if len(daily) and cumulative[-1] > amount:
        k = int(np.searchsorted(cumulative, amount, side="right"))  # days whose cumulative demand ≤ amount
        before = float(cumulative[k - 1]) if k else 0.0
        return k + (amount - before) / float(daily[k])
    if tail <= 0:
        return None
    return len(daily) + (amount - float(cumulative[-1] if len(daily) else 0.0)) / tail


def plan_replenishment(
    stock: pl.DataFrame,
    as_of: date,
    index: np.ndarray,
    window_days: int = DEFAULT_WINDOW_DAYS,
    buffer_days: tuple[int, int] = DEFAULT_BUFFER_DAYS,
    order_cover_days: int = ORDER_COVER_DAYS,
) -> pl.DataFrame:
    """Days of cover and reorder plan per product at forecast demand. One row per row of `stock`, fewest days of
    cover first.

    `stock`: as `plan_reorders` (sku, name, category, supplier, lead_time_days, on_hand, on_order, units_sold over
    the `window_days` days ending on `as_of`). `index`: demand of each day after `as_of` relative to the window's
    average (`metrics.replenishment.demand_index`; a flat 1.0 is the recent average). Adds the columns of
    `plan_reorders` (daily_units is the recent average) and forecast_units_30d (the product's demand over the next
    30 days)."""
    short, long = buffer_days
    index = np.asarray(index, dtype=float)
    rows = []
    for row in stock.iter_rows(named=True):
        daily = (row["units_sold"] or 0) / window_days
        on_hand = row["on_hand"] or 0
        position = on_hand + (row["on_order"] or 0)
        lead = row["lead_time_days"] or 0
        needed = lead + long + order_cover_days
        demand = daily * _extended(index, max(needed, 30))
        cover = days_lasting(on_hand, demand) if daily > 0 else None
        lasts = days_lasting(position, demand) if daily > 0 else None
        if lasts is not None:
            stockout = as_of + timedelta(days=math.floor(lasts + 1e-9))
            reorder_date = stockout - timedelta(days=lead + long)
            order_by = stockout - timedelta(days=lead + short)
            now = as_of >= reorder_date
            quantity = max(0, math.ceil(float(np.sum(demand[:needed])) - 1e-9) - position) if now else 0
            late = as_of > order_by
        else:
            stockout, reorder_date, order_by, now, late, quantity = None, None, None, False, False, 0
        rows.append({**row, "daily_units": daily, "forecast_units_30d": float(np.sum(demand[:30])),
                     "days_of_cover": cover, "stockout_date": stockout, "reorder_date": reorder_date,
                     "order_by": order_by, "reorder_now": now, "late": late,
                     "suggested_quantity": quantity})  # fmt: skip
    schema = {
        **stock.schema,
        "daily_units": pl.Float64,
        "forecast_units_30d": pl.Float64,
        "days_of_cover": pl.Float64,
        "stockout_date": pl.Date,
        "reorder_date": pl.Date,
        "order_by": pl.Date,
        "reorder_now": pl.Boolean,
        "late": pl.Boolean,
        "suggested_quantity": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").sort("days_of_cover", nulls_last=True)


def stock_cover(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    buffer_days: tuple[int, int] = DEFAULT_BUFFER_DAYS,
) -> pl.DataFrame:
    """Days of cover and reorder plan per product counted in `inventory` (see `plan_reorders`), as of `as_of`
    (default: the latest data date). Empty when there is no inventory."""
    as_of = as_of or latest_date(con)
    if as_of is None:
        as_of = date.today()
    params = {
        "as_of": as_of,
        "from_ts": datetime.combine(as_of - timedelta(days=window_days - 1), time()),
        "to_ts": datetime.combine(as_of + timedelta(days=1), time()),
    }
    stock = con.sql(stock_sql(), params=params).pl()
    stock = stock.with_columns(pl.col("on_hand", "on_order", "units_sold", "lead_time_days").cast(pl.Int64))
    return plan_reorders(stock, as_of, window_days, buffer_days)


def reorder_now(cover: pl.DataFrame) -> pl.DataFrame:
    """The products to reorder now, late ones first, then by stock-out date."""
    return cover.filter(pl.col("reorder_now")).sort(["late", "stockout_date"], descending=[True, False])
