"""Replenishment from forecast demand: when each product runs out at the demand the forecast expects (weekly shape,
coming promotions, the shop's trend), when to reorder it (SPEC §4: goods should arrive 7–15 days before stock runs
out) and how much.

Forecasting 200 products one by one would cost minutes and most products sell a handful of units a day (too few to
model). Instead one model forecasts the shop's total daily units (`metrics.forecast`, with the promotion calendar)
and each product's demand is its share of that forecast, the share being its units over the last `window_days` days:

    demand of product p on future day k = units_sold_p / window_days × index_k,
    index_k = forecast total units of day k / average daily total units of the window.

The plan is `metrics.stock.plan_replenishment`; with a flat index (no trend, no promotion ahead) it is the
recent-average plan (`metrics.stock.plan_reorders`). Then:
- days of cover: how many days the stock on hand lasts at that demand (fractional: on_hand / daily when flat);
- stock-out date: as_of + the whole days the stock position (on hand + on order) lasts;
- reorder date = stock-out − lead time − 15 days (from then on it is on the reorder list), order by = stock-out −
  lead time − 7 days (after that the order is late);
- suggested quantity: forecast demand over the next lead time + 15 + `order_cover_days` days, less the position.

Known limits: a product's share is assumed constant (a product whose sales are taking off or fading is followed by
its last `window_days` days only), and the plan uses the point forecast (median), not an upper quantile.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from metrics import forecast as fc
from metrics.compute import kpi_series
from metrics.periods import latest_date
from metrics.stock import DEFAULT_BUFFER_DAYS, DEFAULT_WINDOW_DAYS, plan_replenishment, reorder_now, stock_cover

DEMAND_HISTORY_DAYS = 365  # a year of total units: every yearly promotion seen once, half the fit time of two
DEMAND_MODEL = "airline_promo"  # the faster of the calendar-aware SARIMAX candidates
DEMAND_HORIZON = 120  # days forecast; later days repeat the last four forecast weeks' average
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
    events: Sequence[fc.Event] | None = None,
) -> pl.DataFrame:
    """`replenishment`'s plan alone, with the demand model in a column `demand_model` (one value): the drop-in
    replacement of `metrics.stock.stock_cover` for pages and reports."""
    plan, model, _ = replenishment(con, as_of, window_days, buffer_days, events)
    return plan.with_columns(pl.lit(model).alias("demand_model"))


__all__ = ["demand_index", "forecast_cover", "reorder_now", "replenishment"]
