"""Products whose sales moved: gross sales per product in a period against another (for the reports' movers).

Same definitions as the KPIs (SPEC §4): units and gross sales (quantity × unit_price) over the lines of valid orders
placed in the period; orders without lines have no product and are not in these rows.
"""

from __future__ import annotations

import duckdb
import polars as pl

from metrics.periods import Period
from warehouse import VALID_STATUSES

PRODUCT_SALES_SQL = f"""
with
valid_orders as (
    -- one row per valid order placed in either period; `current_period` says which
    select order_id, ordered_at >= $start_ts and ordered_at < $end_ts as current_period
    from orders
    where status in ({", ".join(f"'{s}'" for s in VALID_STATUSES)})
        and (
            (ordered_at >= $start_ts and ordered_at < $end_ts)
            or (ordered_at >= $compared_start_ts and ordered_at < $compared_end_ts)
        )
),
lines as (
    -- one row per line of those orders
    select i.sku, o.current_period, i.quantity, i.quantity * i.unit_price as gross_sales
    from order_items i
    join valid_orders o on o.order_id = i.order_id
),
per_product as (
    -- one row per sku sold in either period
    select
        sku,
        sum(case when current_period then quantity else 0 end) as units,
        sum(case when current_period then gross_sales else 0 end) as gross_sales,
        sum(case when current_period then 0 else quantity end) as compared_units,
        sum(case when current_period then 0 else gross_sales end) as compared_gross_sales
    from lines
    group by sku
),
named as (
    -- one row per sku sold in either period, with its name and category (null for a sku missing from products)
    select pp.sku, p.name, p.category, pp.units, pp.gross_sales, pp.compared_units, pp.compared_gross_sales
    from per_product pp
    left join products p on p.sku = pp.sku
)
select * from named
"""


def product_sales_change(con: duckdb.DuckDBPyConnection, period: Period, compared: Period) -> pl.DataFrame:
    """One row per product sold in `period` or `compared`, largest absolute change in gross sales first.

    Columns: sku, name, category, units, gross_sales, compared_units, compared_gross_sales, sales_change (gross sales
    − compared gross sales), sales_change_rate (relative; null where the compared period sold nothing).
    """
    params = {
        "start_ts": period.start_ts,
        "end_ts": period.end_ts,
        "compared_start_ts": compared.start_ts,
        "compared_end_ts": compared.end_ts,
    }
    frame = con.sql(PRODUCT_SALES_SQL, params=params).pl()
    change = pl.col("gross_sales") - pl.col("compared_gross_sales")
    return (
        frame.with_columns(
            pl.col("units", "compared_units").cast(pl.Int64),
            pl.col("gross_sales", "compared_gross_sales").cast(pl.Float64),
        )
        .with_columns(
            change.alias("sales_change"),
            pl.when(pl.col("compared_gross_sales") != 0)
            .then(change / pl.col("compared_gross_sales"))
            .otherwise(None)
            .alias("sales_change_rate"),
        )
        .sort([change.abs(), "sku"], descending=[True, False])
    )


def risers_and_fallers(changes: pl.DataFrame, count: int) -> pl.DataFrame:
    """The `count` products whose sales rose most and the `count` that fell most, from `product_sales_change`.

    Adds a column direction ('up' or 'down'); risers first (largest rise first), then fallers (largest fall first).
    """
    up = changes.filter(pl.col("sales_change") > 0).sort("sales_change", descending=True).head(count)
    down = changes.filter(pl.col("sales_change") < 0).sort("sales_change").head(count)
    return pl.concat(
        [up.with_columns(pl.lit("up").alias("direction")), down.with_columns(pl.lit("down").alias("direction"))]
    ).select("direction", *changes.columns)
