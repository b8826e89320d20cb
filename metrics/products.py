"""Product sales and stock alerts for the reports (shopkpi/reports/content.py).

NOTE: rebuilt by the dashboard session after it overwrote this file by accident (same path, same minute); the
interface follows what shopkpi/reports/content.py calls. The reports' owner should check it against their version.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from metrics.periods import Period
from metrics.stock import stock_cover
from shopkpi.warehouse import VALID_STATUSES

PRODUCT_SALES_SQL = f"""
with
period_lines as (
    -- one row per line of a valid order of the period or of the previous period
    select i.sku, i.quantity, i.quantity * i.unit_price as line_sales,
        o.ordered_at >= $start_ts as in_period
    from order_items i
    join orders o on o.order_id = i.order_id
    where o.status in ({", ".join(f"'{s}'" for s in VALID_STATUSES)})
        and o.ordered_at >= $previous_start_ts and o.ordered_at < $end_ts
),
by_product as (
    -- one row per product of the catalogue or sold in either period
    select coalesce(p.sku, l.sku) as sku, any_value(p.name) as name, any_value(p.category) as category,
        coalesce(sum(case when l.in_period then l.quantity end), 0) as units,
        coalesce(sum(case when l.in_period then l.line_sales end), 0) as gross_sales,
        coalesce(sum(case when not l.in_period then l.line_sales end), 0) as previous_gross_sales
    from products p
    full join period_lines l on l.sku = p.sku
    group by 1
)
select * from by_product
order by gross_sales desc, sku
"""


def product_sales(con: duckdb.DuckDBPyConnection, period: Period) -> pl.DataFrame:
    """One row per product: units and gross sales in the period and the previous period, best sellers first.

    Columns: sku, name, category, units, gross_sales, previous_gross_sales, sales_change, sales_change_rate (null
    where the previous period sold nothing).
    """
    previous = period.previous()
    params = {"start_ts": period.start_ts, "end_ts": period.end_ts, "previous_start_ts": previous.start_ts}
    frame = con.sql(PRODUCT_SALES_SQL, params=params).pl()
    frame = frame.with_columns(
        pl.col("units").cast(pl.Int64), pl.col("gross_sales", "previous_gross_sales").cast(pl.Float64)
    )
    return frame.with_columns(
        (pl.col("gross_sales") - pl.col("previous_gross_sales")).alias("sales_change"),
        pl.when(pl.col("previous_gross_sales") != 0)
        .then((pl.col("gross_sales") - pl.col("previous_gross_sales")) / pl.col("previous_gross_sales"))
        .otherwise(None)
        .alias("sales_change_rate"),
    )


def stock_alerts(con: duckdb.DuckDBPyConnection, as_of: date, soon: float, window_days: int = 28) -> pl.DataFrame:
    """Products with fewer than `soon` days of cover at the average daily units of the last `window_days` days.

    One row per such product, fewest days first. Columns: sku, name, category, on_hand, on_order, avg_daily_units,
    days_of_cover, lead_time_days.
    """
    cover = stock_cover(con, as_of, window_days)
    return (
        cover.filter(pl.col("days_of_cover").is_not_null() & (pl.col("days_of_cover") < soon))
        .rename({"daily_units": "avg_daily_units"})
        .select("sku", "name", "category", "on_hand", "on_order", "avg_daily_units", "days_of_cover", "lead_time_days")
        .sort("days_of_cover")
    )
