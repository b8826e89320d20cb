"""Cohort retention (SPEC §4): customers by the month of their first valid order, and who ordered again when."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import duckdb
import polars as pl

from metrics import dialect
from metrics.facts import facts, order_rows_current, parameters, query
from metrics.periods import add_months, latest_date, month_end
from metrics.segments import ALL, Segment


@lru_cache(maxsize=128)  # the page asks the same few segments again; building one takes milliseconds
def cohort_sql(segment: Segment = ALL, rolled: bool = False) -> str:
    """The cohort query on a segment: one row per cohort and month offset with an active customer; with `rolled`, a
    filter finds the segment's orders in the orders' rollup (facts.ORDER_ROWS)."""
    ctes = facts(segment, order_rows=rolled)
    ctes["customer_months"] = f"""
        -- one row per known customer (a store's: ids are per store) and month in which they placed a valid order
        select distinct store, customer_id, {dialect.truncate("month", "ordered_at")} as month
        from valid_orders
        where customer_id is not null"""
    ctes["cohorts"] = """
        -- one row per customer: the month of their first valid order
        select store, customer_id, min(month) as cohort
        from customer_months
        group by store, customer_id"""
    ctes["activity"] = """
        -- one row per cohort and month offset: customers of the cohort with a valid order in that month
        select
            c.cohort,
            (year(m.month) - year(c.cohort)) * 12 + month(m.month) - month(c.cohort) as month_offset,
            count(*) as active_customers
        from customer_months m
        join cohorts c on c.store = m.store and c.customer_id = m.customer_id
        group by 1, 2"""
    ctes["sizes"] = """
        -- one row per cohort: its customers
        select cohort, count(*) as customers
        from cohorts
        group by cohort"""
    return query(
        ctes,
        """
        select a.cohort, s.customers, a.month_offset, a.active_customers
        from activity a
        join sizes s on s.cohort = a.cohort
        order by a.cohort, a.month_offset""",
    )


def cohort_activity(
    con: duckdb.DuckDBPyConnection, as_of: date | None = None, segment: Segment = ALL, rollups: bool = True
) -> pl.DataFrame:
    """One row per cohort and month offset k from 0 up to the month of `as_of` (default: the segment's latest data
    date), over the valid orders of a segment (default: the whole shop).

    Columns: cohort (first day of the month), customers (size of the cohort), month_offset (k), active_customers
    (customers of the cohort with a valid order in month cohort + k), retention (active / customers; null where
    month cohort + k is not yet complete on `as_of`, except k = 0, which is 1.0 by definition).
    """
    as_of = as_of or latest_date(con, segment)
    schema = {
        "cohort": pl.Date,
        "customers": pl.Int64,
        "month_offset": pl.Int64,
        "active_customers": pl.Int64,
        "retention": pl.Float64,
    }
    if as_of is None:
        return pl.DataFrame(schema=schema)
    sql = cohort_sql(segment, rolled=rollups and order_rows_current(con))
    found = con.sql(sql, params=parameters(sql, {}, segment)).pl()
    last_month = as_of.replace(day=1)
    rows = []
    for cohort, customers in found.select("cohort", "customers").unique().sort("cohort").iter_rows():
        if cohort > last_month:
            continue
        active = dict(found.filter(pl.col("cohort") == cohort).select("month_offset", "active_customers").iter_rows())
        k, month = 0, cohort
        while month <= last_month:
            complete = k == 0 or month_end(month) <= as_of
            count = active.get(k, 0)
            rows.append((cohort, customers, k, count, count / customers if complete else None))
            k, month = k + 1, add_months(month, 1)
    return pl.DataFrame(rows, schema=schema, orient="row")


def cohort_retention(con: duckdb.DuckDBPyConnection, as_of: date | None = None, segment: Segment = ALL) -> pl.DataFrame:
    """The cohort retention matrix of a segment (default: the whole shop). One row per cohort (month of customers'
    first valid order).

    Columns: cohort ('YYYY-MM'), customers, retention (list: [1.0, r1, r2, …], rk for k months later, null for
    months not yet complete on `as_of`, default the latest data date).
    """
    activity = cohort_activity(con, as_of, segment)
    return (
        activity.sort(["cohort", "month_offset"])
        .group_by("cohort", maintain_order=True)
        .agg(pl.col("customers").first(), pl.col("retention"))
        .select(pl.col("cohort").dt.strftime("%Y-%m"), "customers", "retention")
    )
