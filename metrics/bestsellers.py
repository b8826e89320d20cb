"""Best sellers: the products with the highest gross sales in a period (categories: `compute_kpis(by="category")`)."""

from __future__ import annotations

import duckdb
import polars as pl

from metrics.facts import facts, parameters, query
from metrics.periods import Period
from metrics.segments import ALL, Segment


def top_products_sql(segment: Segment = ALL) -> str:
    """The best-sellers query on a segment: one row per product sold in the period, best first, `$limit` rows."""
    ctes = facts(segment)
    ctes["by_product"] = """
        -- one row per product sold in the period: units and gross sales over the lines of valid orders
        select l.sku, any_value(p.name) as name, any_value(p.category) as category,
            sum(l.quantity) as units, sum(l.line_sales) as gross_sales
        from order_lines l
        left join products p on p.sku = l.sku
        where l.ordered_at >= $start_ts and l.ordered_at < $end_ts
        group by l.sku"""
    return query(ctes, "select * from by_product\norder by gross_sales desc, sku\nlimit $limit")


def top_products(
    con: duckdb.DuckDBPyConnection, period: Period, limit: int = 20, segment: Segment = ALL
) -> pl.DataFrame:
    """The `limit` products with the highest gross sales in the period, on a segment (default: the whole shop). One
    row per product (sku).

    Columns: sku, name, category, units, gross_sales (the line sales of `metrics.facts` over lines of valid orders).
    """
    sql = top_products_sql(segment)
    values = {"start_ts": period.start_ts, "end_ts": period.end_ts, "limit": limit}
    frame = con.sql(sql, params=parameters(sql, values, segment)).pl()
    return frame.with_columns(pl.col("units").cast(pl.Int64), pl.col("gross_sales").cast(pl.Float64))
