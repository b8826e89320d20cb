"""Keeping the rollups (pre-aggregated daily facts, built by metrics/rollups.py) in step with the canonical tables.

Each rollup table has one row per day (or per visitor) and combination of dimensions; its rows for a range of days
come from a query that the metrics layer wrote into `rollup_queries` when it built the rollups. A load finds the days
its rows touch (`touched_days`, before it writes) and reruns the stored queries for those days (`refresh_rollups`,
after it writes, in the same transaction), so the warehouse never holds rollups that disagree with its tables. A
warehouse without rollups is left as it is: the metrics read its raw tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import duckdb

from warehouse.schema import TABLES

# The days each table's rows count on in some rollup, as SQL over `changed` (the changed rows: new and replaced) whose
# columns are the table's: a session counts on its own day and lends its dimensions to its events and orders; an event
# counts on its own day and in its session's (page views, add-to-carts); an order on its own day and in its
# session's (conversion); an order's lines and a product's cost on the day of the orders they belong to.
_TOUCHED = {
    "sessions": """
        select cast(started_at as date) as day from changed
        union select cast(occurred_at as date) from events where session_id in (select session_id from changed)
        union select cast(ordered_at as date) from orders where session_id in (select session_id from changed)""",
    "events": """
        select cast(occurred_at as date) as day from changed
        union select cast(started_at as date) from sessions where session_id in (select session_id from changed)""",
    "orders": """
        select cast(ordered_at as date) as day from changed
        union select cast(started_at as date) from sessions where session_id in (select session_id from changed)""",
    "order_items": """
        select cast(ordered_at as date) as day from orders where order_id in (select order_id from changed)""",
    "products": """
        select distinct cast(o.ordered_at as date) as day
        from orders o
        join order_items i on i.order_id = o.order_id
        where i.sku in (select sku from changed)""",
}
# The key column that finds the stored rows a loaded row replaces (a superset for order_items: the whole order).
_KEY = {
    "sessions": "session_id",
    "events": "event_id",
    "orders": "order_id",
    "order_items": "order_id",
    "products": "sku",
}
# The visitors whose span may change with the sessions of the days $first_day to $last_day, as (store, visitor_id):
# those with a session on these days now, and those whose stored span begins or ends on one of them. A load changes
# sessions of the touched days only (its rows' days and those of the rows they replace), so a visitor that lost a
# session there and has none there now kept its span unless the session was its first or last day's; a visitor whose
# span straddles the days keeps it (its first and last day's sessions are elsewhere). A span's id is
# `store || chr(31) || visitor_id`: the store is what precedes the first chr(31).
_CHANGED_VISITORS = """
    create or replace temp table _rollup_visitors as
    select store, visitor_id
    from sessions
    where started_at >= $start_ts and started_at < $end_ts
    union
    select split_part(visitor_id, chr(31), 1), substr(visitor_id, strpos(visitor_id, chr(31)) + 1)
    from {table}
    where first_day between $first_day and $last_day or last_day between $first_day and $last_day"""
# More separate runs of days than this are refreshed as one range from the first to the last.
MAX_RUNS = 16


def has_rollups(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds rollups (their ledger)."""
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'rollup_queries'").fetchall()[0][0]
    return found > 0


def touched_days(con: duckdb.DuckDBPyConnection, table: str, staged: str = "_checked") -> set[date]:
    """The days whose rollup rows a load of `table` changes: those of its valid staged rows (`staged`, rows with
    `_error` null) and of the stored rows they replace, found before the load writes. Empty for a table no rollup
    reads, or a warehouse without rollups."""
    if table not in _TOUCHED or not has_rollups(con):
        return set()
    columns = ", ".join(c.name for c in TABLES[table].columns)
    key = _KEY[table]
    sql = f"""
        with
        changed as (
            select {columns} from {staged} where _error is null
            union all
            select {columns} from {table} where {key} in (select {key} from {staged} where _error is null)
        ),
        days as ({_TOUCHED[table]})
        select distinct day from days where day is not null"""
    return {row[0] for row in con.sql(sql).fetchall()}


def day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """The days as runs of consecutive days (first, last); more than MAX_RUNS become one run."""
    ordered = sorted(set(days))
    runs: list[tuple[date, date]] = []
    for day in ordered:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    if len(runs) > MAX_RUNS:
        return [(ordered[0], ordered[-1])]
    return runs


def reads(sql: str) -> set[str]:
    """The canonical tables a rollup's query reads (those named after a FROM or JOIN; its CTEs are not tables)."""
    return set(re.findall(r"\b(?:from|join)\s+([a-z_]+)", sql)) & set(TABLES)


def refresh_rollups(con: duckdb.DuckDBPyConnection, days: Iterable[date], changed: Iterable[str] | None = None) -> None:
    """Recomputes the rollups' rows of `days` with their stored queries (nothing without rollups): every rollup, or
    with `changed` (the tables a load wrote) only those that read one of them (a load of orders leaves the events'
    rollup as it is)."""
    runs = day_runs(days)
    if not runs or not has_rollups(con):
        return
    ledger = con.sql("select table_name, query, keyed_by from rollup_queries order by table_name").fetchall()
    for table, sql, keyed_by in ledger:
        if not re.fullmatch(r"rollup_[a-z_]+", table):
            raise ValueError(f"not a rollup table: {table!r}")
        if changed is not None and not reads(sql) & set(changed):
            continue
        for first, last in runs:
            if keyed_by == "day":
                con.execute(f"delete from {table} where day >= ? and day <= ?", [first, last])
            else:
                con.execute(_CHANGED_VISITORS.format(table=table), range_parameters(_CHANGED_VISITORS, first, last))
                visitors = "select store || chr(31) || visitor_id from _rollup_visitors"
                con.execute(f"delete from {table} where visitor_id in ({visitors})")
            con.execute(f"insert into {table} by name select * from ({sql})", range_parameters(sql, first, last))


def range_parameters(sql: str, first: date, last: date) -> dict[str, object]:
    """The values of a rollup query's parameters for the days first to last: those it names."""
    values = {
        "first_day": first,
        "last_day": last,
        "start_ts": datetime.combine(first, time()),
        "end_ts": datetime.combine(last + timedelta(days=1), time()),
    }
    return {name: value for name, value in values.items() if re.search(rf"\${name}\b", sql)}


__all__ = ["day_runs", "has_rollups", "range_parameters", "reads", "refresh_rollups", "touched_days"]
