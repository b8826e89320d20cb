"""Products whose sales moved: gross sales per product in a period against another (for the reports' movers).

Same definitions as the KPIs (SPEC §4), from the same facts (metrics/facts.py): units and gross sales over the lines
of valid orders placed in the period; orders without lines have no product and are not in these rows.
"""

from __future__ import annotations

import duckdb
import polars as pl

from metrics.facts import facts, parameters, query
from metrics.periods import Period
from metrics.segments import ALL, Segment


def product_sales_sql(segment: Segment = ALL) -> str:
    """The product sales query on a segment: one row per product sold in the period or the compared one."""
    ctes = facts(segment)
    ctes["lines"] = """
        -- one row per line of a valid order placed in either period; `current_period` says which
        select sku, quantity, line_sales, ordered_at >= $start_ts and ordered_at < $end_ts as current_period
        from order_lines
        where (ordered_at >= $start_ts and ordered_at < $end_ts)
            or (ordered_at >= $compared_start_ts and ordered_at < $compared_end_ts)"""
    ctes["per_product"] = """
        -- one row per sku sold in either period
        select
            sku,
            sum(case when current_period then quantity else 0 end) as units,
            sum(case when current_period then line_sales else 0 end) as gross_sales,
            sum(case when current_period then 0 else quantity end) as compared_units,
            sum(case when current_period then 0 else line_sales end) as compared_gross_sales
        from lines
        group by sku"""
    ctes["named"] = """
        -- one row per sku sold in either period, with its name and category (null for a sku missing from products)
        select pp.sku, p.name, p.category, pp.units, pp.gross_sales, pp.compared_units, pp.compared_gross_sales
        from per_product pp
        left join products p on p.sku = pp.sku"""
    return query(ctes, "select * from named")


def product_sales_change(
    con: duckdb.DuckDBPyConnection, period: Period, compared: Period, segment: Segment = ALL
) -> pl.DataFrame:
    """One row per product sold in `period` or `compared` on a segment (default: the whole shop), largest absolute
    change in gross sales first.

    Columns: sku, name, category, units, gross_sales, compared_units, compared_gross_sales, sales_change (gross sales
    − compared gross sales), sales_change_rate (relative; null where the compared period sold nothing).
    """
    values = {
        "start_ts": period.start_ts,
        "end_ts": period.end_ts,
        "compared_start_ts": compared.start_ts,
        "compared_end_ts": compared.end_ts,
    }
    sql = product_sales_sql(segment)
    frame = con.sql(sql, params=parameters(sql, values, segment)).pl()
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
