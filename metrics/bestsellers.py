"""Best sellers: the products with the highest gross sales in a period (categories: `compute_kpis(by="category")`)."""

from __future__ import annotations

import duckdb
import polars as pl

from metrics.periods import Period
from warehouse import VALID_STATUSES

TOP_PRODUCTS_SQL = f"""
with
period_orders as (
    -- one row per valid order of the period
    select order_id
    from orders
    where status in ({", ".join(f"'{s}'" for s in VALID_STATUSES)})
        and ordered_at >= $start_ts and ordered_at < $end_ts
),
lines as (
    -- one row per line of those orders
    select i.sku, i.quantity, i.quantity * i.unit_price as line_sales
    from order_items i
    join period_orders o on o.order_id = i.order_id
),
by_product as (
    -- one row per product sold in the period
    select l.sku, any_value(p.name) as name, any_value(p.category) as category,
        sum(l.quantity) as units, sum(l.line_sales) as gross_sales
    from lines l
    left join products p on p.sku = l.sku
    group by l.sku
)
select * from by_product
order by gross_sales desc, sku
limit $limit
"""


def top_products(con: duckdb.DuckDBPyConnection, period: Period, limit: int = 20) -> pl.DataFrame:
    """The `limit` products with the highest gross sales in the period. One row per product (sku).

    Columns: sku, name, category, units, gross_sales (Σ quantity × unit_price over lines of valid orders).
    """
    params = {"start_ts": period.start_ts, "end_ts": period.end_ts, "limit": limit}
    frame = con.sql(TOP_PRODUCTS_SQL, params=params).pl()
    return frame.with_columns(pl.col("units").cast(pl.Int64), pl.col("gross_sales").cast(pl.Float64))
