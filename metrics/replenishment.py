"""Replenishment from forecast demand: when each product runs out at the demand the forecast expects (weekly shape,
coming promotions, the shop's trend), when to reorder it (SPEC §4: goods should arrive 7–15 days before stock runs
out) and how much.

Forecasting 200 products one by one would cost minutes and most products sell a handful of units a day (too few to
model). Instead one model forecasts the shop's total daily units (`metrics.forecast`, with the promotion calendar)
and each product's demand is its share of that forecast, the share being its units over the last `window_days` days:

    demand of product p on future day k = units_sold_p / window_days × index_k,
    index_k = forecast total units of day k / average daily total units of the window.

With a flat index (no trend, no promotion ahead) this is exactly `metrics.stock`'s recent-average plan. Then:
- days of cover: how many days the stock on hand lasts at that demand (fractional: on_hand / daily when flat);
- stock-out date: as_of + the whole days the stock position (on hand + on order) lasts;
- reorder date = stock-out − lead time − 15 days (from then on it is on the reorder list), order by = stock-out −
  lead time − 7 days (after that the order is late);
- suggested quantity: forecast demand over the next lead time + 15 + `order_cover_days` days, less the position.

Known limits: a product's share is assumed constant (a product whose sales are taking off or fading is followed by
its last `window_days` days only), and the plan uses the point forecast (median), not an upper quantile.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from metrics import forecast as fc
from metrics.compute import kpi_series
from metrics.periods import latest_date
from metrics.stock import DEFAULT_BUFFER_DAYS, DEFAULT_WINDOW_DAYS, ORDER_COVER_DAYS, stock_cover

DEMAND_HISTORY_DAYS = 365  # a year of total units: every yearly promotion seen once, half the fit time of two
DEMAND_MODEL = "airline_promo"  # the faster of the calendar-aware SARIMAX candidates
DEMAND_HORIZON = 120  # days forecast; later days repeat the last four forecast weeks' average
TAIL_DAYS = 4 * fc.SEASON
MIN_DEMAND_HISTORY = 8 * fc.SEASON  # fewer days of sales: the recent average (too little to model a trend)


def demand_index(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    horizon: int = DEMAND_HORIZON,
    events: Sequence[fc.Event] | None = None,
) -> tuple[np.ndarray, str]:
    """Forecast total daily units of the `horizon` days after `as_of`, relative to the average daily units of the
    `window_days` days ending on `as_of` (1.0 = the recent average), and the model that made it.

    A flat 1.0 (model "recent average") when the shop sold nothing in the window or has under eight weeks of
    sales."""
    events = fc.load_calendar() if events is None else tuple(events)
    start = as_of - timedelta(days=DEMAND_HISTORY_DAYS - 1)
    frame = kpi_series(con, start, as_of, grain="day", metrics=["units"])
    days = pl.DataFrame({"period": pl.date_range(start, as_of, "1d", eager=True)})
    frame = days.join(frame.select("period", "units"), on="period", how="left").with_columns(
        pl.col("units").cast(pl.Float64).fill_null(0.0)
    )
    first, y = fc._trimmed(frame["period"].to_list(), frame["units"].to_numpy())
    recent = float(np.mean(y[-window_days:])) if len(y) else 0.0
    if recent <= 0 or len(y) < MIN_DEMAND_HISTORY:
        return np.ones(horizon), "recent average"
    name, band, _ = fc.forecast_series(first, y, horizon, events, model=DEMAND_MODEL)
    return np.asarray(band.forecast, dtype=float) / recent, name


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

    `stock`: as `metrics.stock.plan_reorders` (sku, name, category, supplier, lead_time_days, on_hand, on_order,
    units_sold over the `window_days` days ending on `as_of`). `index`: forecast demand of each day after `as_of`
    relative to the window's average (see `demand_index`). Adds the columns of `plan_reorders` (daily_units is the
    recent average) and forecast_units_30d (the product's forecast demand over the next 30 days)."""
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


def replenishment(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    buffer_days: tuple[int, int] = DEFAULT_BUFFER_DAYS,
    events: Sequence[fc.Event] | None = None,
) -> tuple[pl.DataFrame, str, float]:
    """The replenishment plan of every product counted in `inventory` as of `as_of` (default: the latest data date)
    at forecast demand: the plan (see `plan_replenishment`), the demand model, and the seconds it took."""
    began = time.perf_counter()
    as_of = as_of or latest_date(con) or date.today()
    cover = stock_cover(con, as_of, window_days, buffer_days)
    stock = cover.select("sku", "name", "category", "supplier", "lead_time_days", "stock_date", "on_hand",
                         "on_order", "units_sold")  # fmt: skip
    if stock.is_empty():
        return plan_replenishment(stock, as_of, np.ones(1), window_days, buffer_days), "none", 0.0
    index, model = demand_index(con, as_of, window_days, events=events)
    plan = plan_replenishment(stock, as_of, index, window_days, buffer_days)
    return plan, model, time.perf_counter() - began


def forecast_cover(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    buffer_days: tuple[int, int] = DEFAULT_BUFFER_DAYS,
) -> pl.DataFrame:
    """`replenishment`'s plan alone, with the demand model in a column `demand_model` (one value): the drop-in
    replacement of `metrics.stock.stock_cover` for pages and reports."""
    plan, model, _ = replenishment(con, as_of, window_days, buffer_days)
    return plan.with_columns(pl.lit(model).alias("demand_model"))


def reorder_now(plan: pl.DataFrame) -> pl.DataFrame:
    """The products needing action now: late ones first, then by stock-out date."""
    return plan.filter(pl.col("reorder_now")).sort(["late", "stockout_date"], descending=[True, False])
