"""Cohort retention (SPEC §4): customers by the month of their first valid order, and who ordered again when."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from metrics import dialect
from metrics.periods import add_months, latest_date, month_end
from warehouse import VALID_STATUSES

COHORT_SQL = f"""
with
valid_orders as (
    -- one row per valid order of a known customer
    select nullif(customer_id, '') as customer_id, ordered_at
    from orders
    where status in ({", ".join(f"'{s}'" for s in VALID_STATUSES)})
        and nullif(customer_id, '') is not null
),
customer_months as (
    -- one row per customer and month in which they placed a valid order
    select distinct customer_id, {dialect.truncate("month", "ordered_at")} as month
    from valid_orders
),
cohorts as (
    -- one row per customer: the month of their first valid order
    select customer_id, min(month) as cohort
    from customer_months
    group by customer_id
),
activity as (
    -- one row per cohort and month offset: customers of the cohort with a valid order in that month
    select
        c.cohort,
        (year(m.month) - year(c.cohort)) * 12 + month(m.month) - month(c.cohort) as month_offset,
        count(*) as active_customers
    from customer_months m
    join cohorts c on c.customer_id = m.customer_id
    group by 1, 2
),
sizes as (
    -- one row per cohort: its customers
    select cohort, count(*) as customers
    from cohorts
    group by cohort
)
select a.cohort, s.customers, a.month_offset, a.active_customers
from activity a
join sizes s on s.cohort = a.cohort
order by a.cohort, a.month_offset
"""


def cohort_activity(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> pl.DataFrame:
    """One row per cohort and month offset k from 0 up to the month of `as_of` (default: the latest data date).

    Columns: cohort (first day of the month), customers (size of the cohort), month_offset (k), active_customers
    (customers of the cohort with a valid order in month cohort + k), retention (active / customers; null where
    month cohort + k is not yet complete on `as_of`, except k = 0, which is 1.0 by definition).
    """
    as_of = as_of or latest_date(con)
    schema = {
        "cohort": pl.Date,
        "customers": pl.Int64,
        "month_offset": pl.Int64,
        "active_customers": pl.Int64,
        "retention": pl.Float64,
    }
    if as_of is None:
        return pl.DataFrame(schema=schema)
    found = con.sql(COHORT_SQL).pl()
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


def cohort_retention(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> pl.DataFrame:
    """The cohort retention matrix. One row per cohort (month of customers' first valid order).

    Columns: cohort ('YYYY-MM'), customers, retention (list: [1.0, r1, r2, …], rk for k months later, null for
    months not yet complete on `as_of`, default the latest data date).
    """
    activity = cohort_activity(con, as_of)
    return (
        activity.sort(["cohort", "month_offset"])
        .group_by("cohort", maintain_order=True)
        .agg(pl.col("customers").first(), pl.col("retention"))
        .select(pl.col("cohort").dt.strftime("%Y-%m"), "customers", "retention")
    )
