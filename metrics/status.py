"""What is in the warehouse and how it got there: table sizes and date ranges, the load ledger, rejected rows.

Plain queries on a DuckDB connection returning polars frames; the Data page and the CLI both read them.
"""

from __future__ import annotations

import re

import duckdb
import polars as pl

from metrics.rollups import expected_queries
from warehouse import TABLES

# The column each table's date range is measured on, and how it is read: a timestamp is cut to its local date,
# a `YYYY-MM` month spans from its first to its last day. Tables without one (products, order_items) get nulls.
DATE_COLUMNS: dict[str, tuple[str, str]] = {
    "orders": ("ordered_at", "timestamp"),
    "sessions": ("started_at", "timestamp"),
    "events": ("occurred_at", "timestamp"),
    "ad_spend": ("date", "date"),
    "inventory": ("date", "date"),
    "expenses": ("month", "month"),
    "tickets": ("opened_at", "timestamp"),
    "returns": ("returned_at", "timestamp"),
}

_SPAN_SQL = {
    "timestamp": "min({col})::date as first_date, max({col})::date as last_date",
    "date": "min({col}) as first_date, max({col}) as last_date",
    "month": (
        "min(strptime({col}, '%Y-%m'))::date as first_date, last_day(max(strptime({col}, '%Y-%m'))) as last_date"
    ),
    "none": "null::date as first_date, null::date as last_date",
}


def _table_span_cte(position: int, table: str) -> str:
    # Identifiers cannot be bound as parameters: `table` and its column come only from the TABLES allow-list.
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    column, kind = DATE_COLUMNS.get(table, (None, "none"))
    span = _SPAN_SQL[kind].format(col=column)
    date_column = f"'{column}'" if column else "null::varchar"
    return f"""{table}_span as (
    select
        {position} as position,
        '{table}' as "table",
        count(*) as "rows",
        {date_column} as date_column,
        {span}
    from {table}
)"""


def table_overview(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per canonical table (in SPEC order): its row count and the first and last date of its data."""
    names = list(TABLES)
    ctes = ",\n".join(_table_span_cte(position, name) for position, name in enumerate(names))
    unioned = "\n    union all\n    ".join(f"select * from {name}_span" for name in names)
    query = f"""
with
{ctes},

all_tables as (
    {unioned}
),

final as (
    select "table", "rows", date_column, first_date, last_date
    from all_tables
    order by position
)

select * from final
"""
    return con.sql(query).pl()


def recent_loads(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pl.DataFrame:
    """One row per loaded file from the ingest ledger, newest first, at most `limit` rows."""
    query = """
with

loads as (
    select * from ingest_log
),

final as (
    select
        load_id,
        path,
        table_name as "table",
        started_at,
        finished_at,
        rows_read,
        inserted,
        updated,
        duplicates,
        rejected,
        ignored_columns
    from loads
    order by finished_at desc, load_id desc
    limit $limit
)

select * from final
"""
    return con.sql(query, params={"limit": limit}).pl()


def recent_rejects(con: duckdb.DuckDBPyConnection, limit: int | None = 500) -> pl.DataFrame:
    """One row per rejected input row, newest load first then by line; at most `limit` rows (None: all)."""
    query = """
with

rejected as (
    select * from rejects
),

loads as (
    select load_id, finished_at from ingest_log
),

joined as (
    select
        loads.finished_at as loaded_at,
        rejected.file,
        rejected.line,
        rejected.table_name as "table",
        rejected.column_name as "column",
        rejected.reason,
        rejected.raw_row,
        rejected.load_id
    from rejected
    left join loads on loads.load_id = rejected.load_id
),

final as (
    select * exclude (load_id)
    from joined
    order by loaded_at desc nulls last, load_id desc, file, line
    limit $limit
)

select * from final
"""
    # `limit null` means no limit in DuckDB.
    return con.sql(query, params={"limit": limit}).pl()


def reject_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per (table, column, reason) with the number of rejected rows and files, most frequent first."""
    query = """
with

rejected as (
    select * from rejects
),

counted as (
    select
        table_name as "table",
        column_name as "column",
        reason,
        count(*) as rejected_rows,
        count(distinct file) as files
    from rejected
    group by all
),

final as (
    select * from counted
    order by rejected_rows desc, "table", "column" nulls first, reason
)

select * from final
"""
    return con.sql(query).pl()


def rollup_overview(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per rollup the warehouse keeps (the ledger of metrics/rollups.py), by name: what one of its rows is per
    (`keyed_by`: day, session_id or visitor_id), its row count and whether it is `current` (built by this code's
    query: read; else not read until a load or `shopkpi rollups` rebuilds it). No rows where the warehouse has no
    rollups."""
    ledger = con.sql("select count(*) from duckdb_tables() where table_name = 'rollup_queries'").fetchall()[0][0]
    rows = con.sql("select table_name, keyed_by, query from rollup_queries order by 1").fetchall() if ledger else []
    if not rows:
        return pl.DataFrame(schema={"table": pl.String, "keyed_by": pl.String, "rows": pl.Int64, "current": pl.Boolean})
    for table, _, _ in rows:  # identifiers cannot be parameters: only a rollup's name is read
        if not re.fullmatch(r"rollup_[a-z_]+", table):
            raise ValueError(f"not a rollup table: {table!r}")
    expected = expected_queries(con)
    counts = "\nunion all\n".join(
        f"select '{table}' as \"table\", '{keyed_by}' as keyed_by, count(*) as \"rows\", "
        f"{str(expected.get(table) == query).lower()} as current from {table}"
        for table, keyed_by, query in rows
    )
    return con.sql(f"select * from ({counts}) order by 1").pl()


def reject_count(con: duckdb.DuckDBPyConnection) -> int:
    """The number of rejected rows recorded in the warehouse, over all loads."""
    return con.sql("select count(*) from rejects").fetchall()[0][0]
