"""Keeping the rollups (pre-aggregated daily facts, built by metrics/rollups.py) in step with the canonical tables.

Each rollup table has one row per day and combination of dimensions (or per visitor, or per session); its rows for a
range of days (or for the visitors or sessions named in a temporary table) come from a query that the metrics layer
wrote into `rollup_queries` when it built the rollups. A load finds, for each rollup, the days its rows touch, and
the visitors and sessions whose rows it changes (`touched_days`, before it writes), and reruns the stored queries
for those (`refresh_rollups`, after it writes, in the same transaction), so the warehouse never holds rollups that
disagree with its tables. Where a load changes few of the sessions of its days, the rollups whose rows sum what each
session adds (PER_SESSION) take out those sessions' old contributions and add their new ones instead. The refresh
journals the rows it removed and wrote like any other change (warehouse/store.py), so the A/B pair's replay copies
them instead of rerunning the queries. A warehouse without rollups is left as it is: the metrics read its raw tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb

from warehouse import store
from warehouse.schema import (
    DAY_VISITORS,
    KEY_FILTERS,
    ROLLUP_KEYS,
    ROLLUP_LEDGER_DDL,
    SESSION_KEYS,
    TABLES,
    VISITOR_KEYS,
    VISITOR_NUMBERS,
)
from warehouse.store import note_change, note_unreplayable

# Every day a warehouse could hold: refreshed as one range, a rollup's rows are all recomputed (a build).
ALL_DAYS = (date(1900, 1, 1), date(2999, 12, 31))
# touched_days's answer for a rollup whose rows a load recomputes whole, without finding which days it touched.
WHOLE: frozenset[date] = frozenset(ALL_DAYS)

# The days whose rows in each rollup a load of a table changes, as SQL over `changed` (the changed rows: new and
# replaced) whose columns are the table's. A session counts on its own day (sessions, visitor spans) and lends its
# dimensions to its events and orders (on their days); an event counts on its own day (clicks, impressions) and in its
# session's (page views, add-to-carts); an order on its own day and in its session's (conversion); an order's lines
# and a product's cost on the day of the orders they belong to. So an order without a session leaves the sessions'
# rollups (their measures and funnel steps) as they are. A rollup that reads the table but is not listed refreshes
# every day listed for the table.
_OF_SESSIONS = "select cast(started_at as date) as day from changed"
# The sessions of the changed rows; touched_days reads them once each from _TOUCHED_SESSIONS where it made it.
_CHANGED_SESSIONS = "(select store, session_id from changed)"
_SESSIONS_OF_CHANGED = f"""
    select cast(started_at as date) as day from sessions
    where (store, session_id) in {_CHANGED_SESSIONS}"""
_ORDERS_OF_CHANGED_SESSIONS = f"""
    select cast(ordered_at as date) as day from orders
    where (store, session_id) in {_CHANGED_SESSIONS}"""
_TOUCHED = {
    "sessions": {
        "rollup_session_events": _OF_SESSIONS,
        "rollup_sessions": _OF_SESSIONS,
        "rollup_funnel": _OF_SESSIONS,
        "rollup_visitors": _OF_SESSIONS,
        "rollup_visitor_sources": _OF_SESSIONS,
        "rollup_visitor_mediums": _OF_SESSIONS,
        "rollup_visitor_campaigns": _OF_SESSIONS,
        "rollup_visitor_devices": _OF_SESSIONS,
        "rollup_day_visitors": _OF_SESSIONS,
        "rollup_events": f"""
            select cast(occurred_at as date) as day from events
            where (store, session_id) in {_CHANGED_SESSIONS}""",
        "rollup_orders": _ORDERS_OF_CHANGED_SESSIONS,
        "rollup_items": _ORDERS_OF_CHANGED_SESSIONS,
        "rollup_order_rows": _ORDERS_OF_CHANGED_SESSIONS,
    },
    "events": {
        "rollup_events": "select cast(occurred_at as date) as day from changed",
        "rollup_session_events": _SESSIONS_OF_CHANGED,
        "rollup_sessions": _SESSIONS_OF_CHANGED,
        "rollup_funnel": _SESSIONS_OF_CHANGED,
    },
    "orders": {
        "rollup_orders": "select cast(ordered_at as date) as day from changed",
        "rollup_items": "select cast(ordered_at as date) as day from changed",
        "rollup_order_rows": "select cast(ordered_at as date) as day from changed",
        "rollup_sessions": _SESSIONS_OF_CHANGED,
        "rollup_funnel": _SESSIONS_OF_CHANGED,
    },
    "order_items": {
        "rollup_items": """
            select cast(ordered_at as date) as day from orders
            where (store, order_id) in (select store, order_id from changed)""",
    },
    "products": {
        "rollup_items": """
            select distinct cast(o.ordered_at as date) as day
            from orders o
            join order_items i on i.store = o.store and i.order_id = o.order_id
            where i.sku in (select sku from changed)""",
    },
}
# Never null, the same for two events of the same key and seldom for others: an event's id, or where its export gave
# none (it is keyed by its values, session included), its session. Found among the stored events by a hash join, where
# the text of their keys would be built for each of them.
EVENT_NARROWING = "coalesce({prefix}event_id, {prefix}session_id)"
# The key column that finds the stored rows a loaded row replaces (a superset for order_items: the whole order; for
# events without an id, the other events of their sessions).
_KEY = {
    "sessions": "session_id",
    "events": EVENT_NARROWING.format(prefix=""),
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
_CHANGED_VISITORS = f"""
    create or replace temp table {VISITOR_KEYS} as
    select store, visitor_id
    from sessions
    where started_at >= $start_ts and started_at < $end_ts
    union
    select split_part(visitor_id, chr(31), 1), substr(visitor_id, strpos(visitor_id, chr(31)) + 1)
    from {{table}}
    where first_day between $first_day and $last_day or last_day between $first_day and $last_day"""
# The visitors (store, visitor_id) of the sessions a load changes, new and replaced: exactly those whose span (first
# and last day of their sessions) can change. touched_days makes it for a load of sessions; the refresh reads it.
_TOUCHED_VISITORS = "_touched_visitors"
# The sessions a load of sessions adds, where it adds some and changes none (no stored session shares a key with the
# file's, no key repeats in it; touched_days makes it, with the columns the spans' queries read): the spans of their
# visitors are then widened by them (_merge_spans) rather than recomputed from every session of those visitors.
_ADDED_SESSIONS = "_added_sessions"
# Loads touching more visitors than this recompute their spans: the merge holds the old spans in memory.
MERGE_MAX_VISITORS = 1_000_000
# The sessions (store, session_id) whose row in a session-keyed rollup a load changes: the loaded and replaced
# sessions, or the sessions of the loaded and replaced events. touched_days makes it; the refresh reads it.
_TOUCHED_SESSIONS = "_touched_sessions"
_TOUCHED_KEYS = {"visitor_id": _TOUCHED_VISITORS, "session_id": _TOUCHED_SESSIONS}
# The sessions whose rows in a session-keyed rollup the days $first_day to $last_day hold or may come to hold, when no
# load said which changed: those started on these days and those whose row lies on one of them.
_SESSIONS_OF_DAYS = f"""
    create or replace temp table {SESSION_KEYS} as
    select store, session_id
    from sessions
    where started_at >= $start_ts and started_at < $end_ts
    union
    select store, session_id
    from {{table}}
    where day >= $first_day and day <= $last_day"""
# The stored rows a load's valid staged rows may replace, with all their columns: those of the stores and _KEY values
# the load names (a superset for order_items: the whole order). touched_days finds them before the load writes; the
# load's comparison with the stored rows reads them rather than the table (a second scan of 44 M event ids: 3.4 s
# for a month of events).
REPLACED = "_replaced"
# More separate runs of days than this are refreshed as one range from the first to the last.
MAX_RUNS = 16
# Every visitor numbered, when DAY_VISITORS is made whole: into a temporary table first, then copied (at 10 M
# sessions 0.8–0.9 + 0.5 s, where writing the numbers straight into the table took 1.9–2.1 s). A load numbers the
# visitors of its sessions that have none (_NEW_VISITORS) before the rollup's rows of their days are recomputed.
_EVERY_VISITOR_NUMBERED = """
    create or replace temp table _new_numbers as
    select store, visitor_id, cast(row_number() over () as integer) as visitor_no
    from (select distinct store, visitor_id from sessions)"""
# The visitors `seen` (a query of (store, visitor_id) rows) without a number, numbered after the highest in the order
# of their store and id: the numbered ones are found among those seen (a hash of a day's few thousand, not of every
# number).
_NEW_VISITORS = f"""
    create or replace temp table _new_numbers as
    with seen as (select distinct store, visitor_id from ({{seen}})),
    unnumbered as (
        select store, visitor_id from seen
        except
        select store, visitor_id from {VISITOR_NUMBERS}
        where (store, visitor_id) in (select store, visitor_id from seen)
    ),
    highest as (select coalesce(max(visitor_no), 0) as visitor_no from {VISITOR_NUMBERS})
    select
        u.store, u.visitor_id,
        cast(h.visitor_no + row_number() over (order by u.store, u.visitor_id) as integer) as visitor_no
    from unnumbered u, highest h"""
# The column a rollup's rows are ordered by when it is computed whole, per what it is keyed by: a period's read then
# skips the other days' row groups. Not DAY_VISITORS': its 10 M rows of a year took 1.2 s to sort, and its reads took
# as long either way (its rows come out of the sessions' join roughly in their order).
_ORDER = {"day": "day", "session_id": "day", "visitor_id": "last_day"}
# Day-keyed rollups whose rows count each session once, on the day it started, by these columns: every other column a
# sum of what each session adds (the sessions' measures, the funnel's steps), `sessions` their count. A load that
# changes what few of the sessions of its days add (a year's orders name 3 % of the sessions of every day; their
# conversion changes) takes those sessions' old contributions out of the rows and puts their new ones in
# (_prepare_deltas before it writes, _apply_delta after), rather than recompute every session of those days. A row
# whose sessions all leave it (`sessions` sums to 0: a funnel's pair of steps no session reaches any more) goes.
PER_SESSION = {
    "rollup_sessions": ("day", "source", "medium", "campaign", "device", "store"),
    "rollup_funnel": ("day", "source", "medium", "campaign", "device", "store", "event_step", "order_step"),
}
# A load takes the difference where the days it touches hold at least DELTA_FROM sessions and the sessions it changes
# are at most DELTA_SHARE of them: below, recomputing the days costs about as much.
DELTA_FROM = 250_000
DELTA_SHARE = 0.25
# The sessions (store, session_id) whose contributions a load changes, their rows of the sessions table (which a load
# of another table leaves as they are) and, per rollup, their contributions before the load wrote.
_DELTA_SESSIONS = "_delta_sessions"
_DELTA_SESSION_ROWS = "_delta_session_rows"
_OLD_CONTRIBUTIONS = "_old_{table}"
_NEW_CONTRIBUTIONS = "_new_{table}"


def has_rollups(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds rollups (their ledger)."""
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'rollup_queries'").fetchall()[0][0]
    return found > 0


def upgrade_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Makes the rollups' ledger, or rebuilds one made before a kind of key was added (its check refuses the new
    key; DuckDB cannot change a check in place), keeping its rows. For a writer about to rebuild the rollups."""
    con.execute(ROLLUP_LEDGER_DDL)
    check = con.sql(
        "select expression from duckdb_constraints() where table_name = 'rollup_queries' and constraint_type = 'CHECK'"
    ).fetchall()
    if all(f"'{key}'" in (check[0][0] if check else "") for key in ROLLUP_KEYS):
        return
    con.execute("create or replace temp table _old_ledger as select * from rollup_queries")
    con.execute("drop table rollup_queries")
    con.execute(ROLLUP_LEDGER_DDL)
    con.execute("insert into rollup_queries by name select * from _old_ledger")
    con.execute("drop table _old_ledger")


def _ledger(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, set[str]]]:
    """The rollups as (table, query, keyed_by, the canonical tables it reads, also through the rollups it reads), each
    table checked to be a rollup's name; a rollup that another reads comes before it (a refresh recomputes it first)."""
    rows = con.sql("select table_name, query, keyed_by from rollup_queries order by table_name").fetchall()
    queries = {table: sql for table, sql, _ in rows}
    for table in queries:
        if not re.fullmatch(r"rollup_[a-z_]+", table):
            raise ValueError(f"not a rollup table: {table!r}")
    uses = {
        table: set(re.findall(r"\brollup_[a-z_]+\b", sql)) & set(queries) - {table} for table, sql in queries.items()
    }

    def level(table: str, seen: frozenset[str] = frozenset()) -> int:
        if table in seen:
            raise ValueError(f"rollups that read each other: {', '.join(sorted(seen))}")
        return 1 + max((level(used, seen | {table}) for used in uses[table]), default=-1)

    def tables(table: str) -> set[str]:
        return reads(queries[table]).union(*(tables(used) for used in uses[table]))

    ordered = sorted(rows, key=lambda row: (level(row[0]), row[0]))
    return [(table, sql, keyed_by, tables(table)) for table, sql, keyed_by in ordered]


def reading(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The rollups that read `table` (also through the rollups they read), in the order a refresh recomputes them;
    none in a warehouse without rollups."""
    if not has_rollups(con):
        return []
    return [name for name, _, _, read in _ledger(con) if table in read]


def touched_days(
    con: duckdb.DuckDBPyConnection,
    table: str,
    staged: str = "_checked",
    within: str = "true",
    identity: tuple[str, str] | None = None,
) -> dict[str, set[date]]:
    """The days whose rows a load of `table` changes, per rollup table that reads it: those of its valid staged rows
    (`staged`, rows with `_error` null) and of the stored rows they replace, found before the load writes (among the
    stored rows that meet `within`, an SQL condition the loader knows every such row meets). Empty for a table no
    rollup reads, or a warehouse without rollups; WHOLE for each rollup when the load fills an empty table with more
    rows than a journal keeps (_fills_empty), but for those that count its rows through their sessions where none of
    them names a session.

    `identity`: SQL of a hash of a row's key and of a hash of the row (over the table's columns), as the load
    compares rows. With it, a staged row the same as the stored row of its key (an unchanged duplicate, which the load
    leaves as it is) changes no day, nor does a stored row whose staged rows are all the same as it: a re-export of
    rows already loaded refreshes only the days of those that differ. (A changed row would be missed only if another
    stored row had both the same key hash and the same row hash; a collision of the key's hash alone refreshes
    more, not less.)"""
    if table not in _TOUCHED or not has_rollups(con):
        return {}
    listed = _TOUCHED[table]
    every_day = " union ".join(f"({sql})" for sql in listed.values())
    ledger = [(name, sql, keyed_by) for name, sql, keyed_by, read in _ledger(con) if table in read]
    rollups = {name: listed.get(name, every_day) for name, _, _ in ledger}
    queries = {name: sql for name, sql, _ in ledger}
    if not rollups:
        return {}
    names = [c.name for c in TABLES[table].columns]
    if _fills_empty(con, table, staged):
        # Those that count the rows through their sessions (an order's conversion) have nothing to recompute where no
        # row names a session, as in a platform's order export.
        unnamed = "session_id" in names and not _names_sessions(con, staged)
        whole = {name: WHOLE for name, sql in rollups.items() if not (unnamed and sql == _SESSIONS_OF_CHANGED)}
        if not unnamed:  # a year's orders into an empty table name a few sessions of every day
            sessions = f"select store, session_id from {staged} where _error is null and session_id is not null"
            whole |= _prepare_deltas(con, table, rollups, queries, sessions, ALL_DAYS, staged)
        return whole
    by_session = any(keyed_by == "session_id" for _, _, keyed_by in ledger)
    spans = [sql for _, sql, keyed_by in ledger if keyed_by == "visitor_id"]
    key = f"store, {_KEY[table]}" if "store" in names else _KEY[table]  # keys are per store (products are shared)
    # Only the columns the day queries read (and a session's visitor, below): a month of events is millions of rows,
    # kept until the queries ran.
    needed = {n for n in names if any(re.search(rf"\b{n}\b", sql) for sql in rollups.values())}
    if table == "sessions":  # a session's visitor, and what the spans read (_ADDED_SESSIONS)
        needed |= {"visitor_id"} | {n for n in names if any(re.search(rf"\b{n}\b", sql) for sql in spans)}
    if by_session:
        needed |= {"store", "session_id"}
    columns = ", ".join(n for n in names if n in needed)
    con.execute(
        f"""
        create or replace temp table {REPLACED} as
        select * from {table} where ({within}) and ({key}) in (select {key} from {staged} where _error is null)"""
    )
    staged_rows, replaced_rows = f"{staged} where _error is null", REPLACED
    replaces = con.sql(f"select count(*) from (select 1 from {REPLACED} limit 1)").fetchall()[0][0] > 0
    if identity is not None and replaces:
        key, row = identity
        con.execute(
            f"""
            create or replace temp table _differing as
            select {key} as _key, {row} as _hash from {staged} where _error is null
            except
            select {key}, {row} from {REPLACED}"""
        )
        staged_rows = f"{staged} where _error is null and ({key}, {row}) in (from _differing)"
        replaced_rows = f"{REPLACED} where {key} in (select _key from _differing)"
    con.execute(
        f"""
        create or replace temp table changed as
        select {columns} from {staged_rows}
        union all
        select {columns} from {replaced_rows}"""
    )
    con.execute("drop table if exists _differing")
    if table == "sessions":  # the visitors whose span can change: those that gain, lose or move a session
        con.execute(
            f"create or replace temp table {_TOUCHED_VISITORS} as select distinct store, visitor_id from changed"
        )
        if spans and not replaces and _adds_only(con, staged, identity[0] if identity else key):
            con.execute(f"create or replace temp table {_ADDED_SESSIONS} as select * from changed")
    if by_session:  # the sessions whose events' sums can change: those that are new, replaced or gain or lose events
        con.execute(
            f"""
            create or replace temp table {_TOUCHED_SESSIONS} as
            select distinct store, session_id from changed where session_id is not null"""
        )
    touched: dict[str, set[date]] = {name: set() for name in rollups}
    for sql in set(rollups.values()):  # each query once (several rollups count on the same days)
        query = sql
        if by_session:  # the changed rows' sessions, each once (49 M events are rows of 10 M sessions)
            query = sql.replace(_CHANGED_SESSIONS, f"(select store, session_id from {_TOUCHED_SESSIONS})")
        found = {row[0] for row in con.sql(f"select distinct day from ({query}) where day is not null").fetchall()}
        for name in rollups:
            if rollups[name] == sql:
                touched[name] |= found
    days = set().union(*(touched[name] for name in rollups if rollups[name] == _SESSIONS_OF_CHANGED))
    if days:
        changed_sessions = f"select store, session_id from {_TOUCHED_SESSIONS if by_session else 'changed'}"
        runs = day_runs(days)
        touched |= _prepare_deltas(con, table, rollups, queries, changed_sessions, (runs[0][0], runs[-1][1]))
    con.execute("drop table changed")
    return {name: found for name, found in touched.items() if found}


def _adds_only(con: duckdb.DuckDBPyConnection, staged: str, key: str) -> bool:
    """Whether the valid staged sessions, none of them stored, are all written as they are (no `key`, SQL over the
    table's columns, repeats among them: a repeated key keeps only its last row) and touch at most MERGE_MAX_VISITORS
    visitors: their visitors' spans can be widened by them (_merge_spans)."""
    visitors = con.sql(f"select count(*) from {_TOUCHED_VISITORS}").fetchall()[0][0]
    if visitors > MERGE_MAX_VISITORS:
        return False
    repeated = f"select 1 from {staged} where _error is null group by {key} having count(*) > 1 limit 1"
    return con.sql(f"select count(*) from ({repeated})").fetchall()[0][0] == 0


def _names_sessions(con: duckdb.DuckDBPyConnection, staged: str) -> bool:
    """Whether a valid staged row names a session."""
    named = f"select 1 from {staged} where _error is null and nullif(session_id, '') is not null limit 1"
    return con.sql(f"select count(*) from ({named})").fetchall()[0][0] > 0


def _fills_empty(con: duckdb.DuckDBPyConnection, table: str, staged: str) -> bool:
    """Whether the load fills an empty table with more rows than a journal keeps (a shop's first year of events): its
    rollups are then recomputed whole (WHOLE), as a build would. Finding the days and sessions such a load touches
    (all of them) took 10–15 s of a 49 M-event load; and the rows a refresh writes could not be journaled anyway."""
    if con.sql(f"select count(*) from (select 1 from {table} limit 1)").fetchall()[0][0]:
        return False
    return con.sql(f"select count(*) from {staged}").fetchall()[0][0] > store.JOURNAL_MAX_ROWS


def _prepare_deltas(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rollups: Mapping[str, str],
    queries: Mapping[str, str],
    sessions: str,
    span: tuple[date, date],
    staged: str | None = None,
) -> dict[str, set[date]]:
    """Before a load of `table` (not of sessions) writes: for each PER_SESSION rollup that counts the table's rows
    through their sessions, where the difference is worth taking (DELTA_FROM, DELTA_SHARE), the contributions of the
    sessions the load changes as they are now (`sessions`, a query of (store, session_id) rows; they started on the
    days first to last of `span`), which _apply_delta takes out after the write. `rollups`: the touched_days SQL of
    each rollup that reads the table, `queries` its recorded query. Returns those rollups with the days
    of those sessions. `staged`: the load's staged rows where `sessions` reads them, each row naming one session at
    most (a file of far more rows than sessions is not looked at)."""
    names = [
        name
        for name, sql in rollups.items()
        if name in PER_SESSION and sql == _SESSIONS_OF_CHANGED and _only_numbers_beside_groups(con, name)
    ]
    if table == "sessions" or not names:
        return {}
    start, end = (datetime.combine(day, time()) for day in (span[0], span[1] + timedelta(days=1)))
    in_span = "started_at >= $start and started_at < $end"
    on_days = con.sql(f"select count(*) from sessions where {in_span}", params={"start": start, "end": end})
    day_sessions = on_days.fetchall()[0][0]
    if day_sessions < DELTA_FROM:
        return {}
    if staged is not None:
        rows = con.sql(f"select count(*) from {staged} where _error is null").fetchall()[0][0]
        if rows > DELTA_SHARE * day_sessions:
            return {}
    con.execute(f"create or replace temp table {_DELTA_SESSIONS} as select distinct * from ({sessions})")
    if con.sql(f"select count(*) from {_DELTA_SESSIONS}").fetchall()[0][0] > DELTA_SHARE * day_sessions:
        con.execute(f"drop table {_DELTA_SESSIONS}")
        return {}
    # Only the columns the rollups' queries name, of the sessions that started on those days.
    listed = [c.name for c in TABLES["sessions"].columns]
    columns = ", ".join(n for n in listed if any(re.search(rf"\b{n}\b", queries[name]) for name in names))
    con.execute(
        f"""
        create or replace temp table {_DELTA_SESSION_ROWS} as
        select {columns} from sessions
        where {in_span} and (store, session_id) in (select store, session_id from {_DELTA_SESSIONS})""",
        {"start": start, "end": end},
    )
    _contributions(con, {name: queries[name] for name in names}, _OLD_CONTRIBUTIONS)
    prepared: dict[str, set[date]] = {}
    for name in names:
        old = f"select distinct day from {_OLD_CONTRIBUTIONS.format(table=name)}"
        prepared[name] = {row[0] for row in con.sql(old).fetchall()}
    return prepared


def _only_numbers_beside_groups(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether every column of a PER_SESSION rollup but those it groups by is a number (a sum): a rollup that gained
    another dimension than PER_SESSION lists is recomputed by days rather than have its text summed."""
    numeric = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
    return all(name in PER_SESSION[table] or kind.startswith(numeric) for name, kind in _described(con, table))


def _described(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """A table's columns and their types (as DuckDB names them), in order: of an empty relation over it, which finds
    the table as its queries do."""
    empty = con.sql(f"select * from {table} limit 0")
    return [(name, str(kind)) for name, kind in zip(empty.columns, empty.types, strict=True)]


def _contributions(
    con: duckdb.DuckDBPyConnection, queries: Mapping[str, str], target: str, kept: Iterable[str] = ()
) -> None:
    """PER_SESSION rollups' queries (by table) run for the sessions of _DELTA_SESSIONS alone, each into the temporary
    table `target` names for it: each table they read that holds sessions' rows is shadowed, for these queries only,
    by a temporary view of those sessions' rows (an unqualified name finds the temporary one first): the sessions by
    their rows taken before the load wrote, the others by the warehouse's rows of those sessions as they are now
    (_delta_rows_TABLE), taken once for all the queries, but for those `kept` (unchanged since they were taken)."""
    catalog = con.sql("select current_database()").fetchall()[0][0]
    tables = set().union(*(reads(sql) | set(re.findall(r"\brollup_[a-z_]+\b", sql)) for sql in queries.values()))
    keyed = con.sql(
        """
        select table_name from duckdb_columns()
        where database_name = ? and schema_name = 'main' and list_contains(?, table_name)
            and column_name in ('store', 'session_id')
        group by table_name having count(*) = 2""",
        params=[catalog, sorted(tables)],
    )
    shadowed = [row[0] for row in keyed.fetchall()]
    sessions = f"(store, session_id) in (select store, session_id from {_DELTA_SESSIONS})"
    for name in set(shadowed) - {"sessions", *kept}:
        con.execute(
            f'create or replace temp table _delta_rows_{name} as select * from "{catalog}".main.{name} where {sessions}'
        )
    try:
        for name in shadowed:
            rows = _DELTA_SESSION_ROWS if name == "sessions" else f"_delta_rows_{name}"
            con.execute(f"create or replace temp view {name} as select * from {rows}")
        for table, sql in queries.items():
            rows = f"create or replace temp table {target.format(table=table)} as select * from ({sql})"
            con.execute(rows, range_parameters(sql, *ALL_DAYS))
    finally:
        for name in shadowed:
            con.execute(f"drop view if exists temp.main.{name}")


def _apply_delta(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Takes the old contributions _prepare_deltas kept out of a PER_SESSION rollup's rows of their days and puts the
    new ones in, in _rollup_rows: the rows of those days, summed again, without those whose sessions all left. Deletes
    the table's rows of those days (noted for the A/B pair); the caller inserts _rollup_rows."""
    old, new = _OLD_CONTRIBUTIONS.format(table=table), _NEW_CONTRIBUTIONS.format(table=table)
    groups = PER_SESSION[table]
    measures = [name for name, _ in _described(con, table) if name not in groups]
    con.execute(
        f"""
        create or replace temp table _delta_days as
        select day from {old} union select day from {new}"""
    )
    listed = ", ".join(groups)
    con.execute(
        f"""
        create or replace temp table _rollup_rows as
        select {listed}, {", ".join(f"sum({m}) as {m}" for m in measures)}
        from (
            select {listed}, {", ".join(measures)} from {table} where day in (select day from _delta_days)
            union all
            select {listed}, {", ".join(measures)} from {new}
            union all
            select {listed}, {", ".join(f"-{m}" for m in measures)} from {old}
        )
        group by {listed}
        having sum(sessions) <> 0"""
    )
    con.execute(f"delete from {table} where day in (select day from _delta_days)")
    note_change(con, table, "select day from _delta_days", key="day", insert=False)
    for temporary in (old, new, "_delta_days"):
        con.execute(f"drop table {temporary}")


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


def refresh_rollups(con: duckdb.DuckDBPyConnection, days: Mapping[str, Iterable[date]]) -> None:
    """Recomputes the rows of each rollup table in `days` (its name: the days of its rows a load changed, or WHOLE:
    all its rows, remade by `rebuild`) with its stored query (a rollup keyed by visitor or session: the rows of those
    touched_days found, else those of the days; the spans of visitors a load only added sessions of are widened by
    them instead, _merge_spans), and notes the removed keys and the new rows for the A/B pair: its replay copies them
    rather than rerunning the queries on the idle copy. Nothing without rollups."""
    if not any(days.values()) or not has_rollups(con):
        _drop_temporaries(con)
        return
    ledger = _ledger(con)
    for table, sql, keyed_by, _ in ledger:
        touched = days.get(table, ())
        if touched and _exists(con, _OLD_CONTRIBUTIONS.format(table=table)):
            if not _exists(con, _NEW_CONTRIBUTIONS.format(table=table)):
                # Every such rollup's at once, at the first one's turn: they read no rollup refreshed after it.
                prepared = {
                    name: query for name, query, _, _ in ledger if _exists(con, _OLD_CONTRIBUTIONS.format(table=name))
                }
                # The rows taken before the write of a rollup this load leaves as it is are still those it holds.
                kept = [name for name, _, _, _ in ledger if not days.get(name)]
                _contributions(con, prepared, _NEW_CONTRIBUTIONS, kept)
            _apply_delta(con, table)
            con.execute(f"insert into {table} by name select * from _rollup_rows")
            note_change(con, table, "select * from _rollup_rows")
            continue
        if touched is WHOLE:
            rebuild(con, table, sql, keyed_by)
            continue
        runs = day_runs(touched)
        if keyed_by != "day" and runs and _exists(con, _TOUCHED_KEYS.get(keyed_by, _TOUCHED_VISITORS)):
            runs = runs[:1]  # the visitors or sessions the load changed, whatever their days: once
        if table == DAY_VISITORS:
            _number_visitors(con, runs)
        for first, last in runs:
            if keyed_by == "visitor_id" and _exists(con, _ADDED_SESSIONS):
                _merge_spans(con, table, sql)
            else:
                if keyed_by == "day":
                    _remove_days(con, table, first, last)
                elif keyed_by == "session_id":
                    _remove_sessions(con, table, first, last)
                else:
                    _remove_visitors(con, table, first, last)
                con.execute(
                    f"create or replace temp table _rollup_rows as select * from ({sql})",
                    range_parameters(sql, first, last),
                )
            con.execute(f"insert into {table} by name select * from _rollup_rows")
            note_change(con, table, "select * from _rollup_rows")
    _drop_temporaries(con)


def _drop_temporaries(con: duckdb.DuckDBPyConnection) -> None:
    """Drops what touched_days and a refresh kept between them (contributions of sessions none of which is stored
    included: nothing to refresh)."""
    contributions = [
        name.format(table=table) for table in PER_SESSION for name in (_OLD_CONTRIBUTIONS, _NEW_CONTRIBUTIONS)
    ]
    shadows = "select table_name from duckdb_tables() where temporary and starts_with(table_name, '_delta_rows_')"
    temporaries = ["_rollup_rows", _TOUCHED_VISITORS, _TOUCHED_SESSIONS, _ADDED_SESSIONS, SESSION_KEYS]
    temporaries += [
        _DELTA_SESSIONS,
        _DELTA_SESSION_ROWS,
        *contributions,
        *(row[0] for row in con.sql(shadows).fetchall()),
    ]
    for temporary in temporaries:
        con.execute(f"drop table if exists {temporary}")


def rebuild(con: duckdb.DuckDBPyConnection, table: str, sql: str, keyed_by: str) -> None:
    """(Re)makes a rollup table with all the rows its query computes (every day, every key), ordered as _ORDER says.
    The next writer copies the warehouse rather than replay the journal (a table made whole is not journaled)."""
    note_unreplayable(con)
    if table == DAY_VISITORS:
        con.execute(_EVERY_VISITOR_NUMBERED)
        con.execute(f"create or replace table {VISITOR_NUMBERS} as select * from _new_numbers")
        con.execute("drop table _new_numbers")
    whole = every_key(sql, keyed_by)
    order = "" if table == DAY_VISITORS else f" order by {_ORDER[keyed_by]}"
    params = range_parameters(whole, *ALL_DAYS)
    con.execute(f"create or replace table {table} as select * from ({whole}){order}", params)


def _number_visitors(con: duckdb.DuckDBPyConnection, runs: list[tuple[date, date]]) -> None:
    """Numbers the visitors that have no number yet (VISITOR_NUMBERS) among those of the sessions a load changed
    (touched_days found them: only a loaded session brings a new visitor), else among those of the sessions of the
    runs of days (first, last), noting the new numbers for the A/B pair."""

    def number(seen: str, params: dict[str, object]) -> None:
        con.execute(_NEW_VISITORS.format(seen=seen), params)
        con.execute(f"insert into {VISITOR_NUMBERS} select * from _new_numbers")
        note_change(con, VISITOR_NUMBERS, "select * from _new_numbers")
        con.execute("drop table _new_numbers")

    if _exists(con, _TOUCHED_VISITORS):  # once, whatever the days
        number(f"select store, visitor_id from {_TOUCHED_VISITORS}", {})
        return
    days = "select store, visitor_id from sessions where started_at >= $start_ts and started_at < $end_ts"
    for first, last in runs:
        number(days, range_parameters(days, first, last))


def every_key(sql: str, keyed_by: str) -> str:
    """A rollup's query for every key: a keyed query with its KEY_FILTERS condition replaced by `true`."""
    if keyed_by == "day":
        return sql
    if sql.count(KEY_FILTERS[keyed_by]) != 1:
        raise ValueError(f"a rollup keyed by {keyed_by} names its keys once: {KEY_FILTERS[keyed_by]}")
    return sql.replace(KEY_FILTERS[keyed_by], "true")


@dataclass(frozen=True)
class RollupCheck:
    """One rollup's stored rows against its recorded query computed whole (check_rollups)."""

    table: str
    rows: int
    stored_only: int  # stored rows the query does not give (counted with their repeats)
    computed_only: int  # rows the query gives that are not stored

    @property
    def same(self) -> bool:
        return self.stored_only == self.computed_only == 0


def check_rollups(con: duckdb.DuckDBPyConnection) -> list[RollupCheck]:
    """Every rollup recorded in the ledger against its query computed whole, as a rebuild would make it: the rows
    each has that the other has not, counted with their repeats (EXCEPT ALL both ways). Floating-point columns are
    compared rounded to 6 decimals (a sum's last bits depend on the order it adds in). Then VISITOR_NUMBERS, where
    the warehouse keeps it, whose numbers are whatever the loads gave: each stored visitor is to have exactly one,
    no number two visitors (stored_only: numbers given twice, visitors numbered twice and numbers of no stored
    visitor; computed_only: visitors without one). Read-only apart from one temporary table."""
    checks = []
    ledger = "select table_name, query, keyed_by from rollup_queries order by table_name"
    for table, sql, keyed_by in con.sql(ledger).fetchall():
        whole = every_key(sql, keyed_by)
        con.execute(f"create or replace temp table _rollup_check as {whole}", range_parameters(whole, *ALL_DAYS))
        columns = ", ".join(
            f"round({name}, 6)" if kind in ("DOUBLE", "FLOAT") else name for name, kind in _described(con, table)
        )
        stored, computed = f"select {columns} from {table}", f"select {columns} from temp._rollup_check"
        counted = con.sql(
            f"""
            select
                (select count(*) from {table}),
                (select count(*) from ({stored} except all {computed})),
                (select count(*) from ({computed} except all {stored}))
            """
        ).fetchall()[0]
        checks.append(RollupCheck(table, *counted))
        con.execute("drop table temp._rollup_check")
    if _exists(con, VISITOR_NUMBERS):
        counted = con.sql(
            f"""
            with visitors as (select distinct store, visitor_id from sessions),
            twice as (
                select 2 * count(*) - count(distinct visitor_no) - count(distinct (store, visitor_id)) as rows
                from {VISITOR_NUMBERS}
            )
            select
                (select count(*) from {VISITOR_NUMBERS}),
                (select rows from twice)
                    + (select count(*) from {VISITOR_NUMBERS} n anti join visitors v using (store, visitor_id)),
                (select count(*) from visitors v anti join {VISITOR_NUMBERS} n using (store, visitor_id))
            """
        ).fetchall()[0]
        checks.append(RollupCheck(VISITOR_NUMBERS, *counted))
    return checks


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.sql("select count(*) from duckdb_tables() where table_name = ?", params=[table]).fetchall()[0][0] > 0


def _remove_days(con: duckdb.DuckDBPyConnection, table: str, first: date, last: date) -> None:
    """Deletes a day-keyed rollup's rows of the days first to last (a day may have none after the refresh)."""
    con.execute(f"delete from {table} where day >= ? and day <= ?", [first, last])
    days = "select unnest(generate_series(?::date, ?::date, interval 1 day))::date as day"
    note_change(con, table, days, key="day", params=[first, last], insert=False)


def _remove_visitors(con: duckdb.DuckDBPyConnection, table: str, first: date, last: date) -> None:
    """Deletes the spans of the visitors whose span may change (a visitor may have none after the refresh): those a
    load of sessions changed (touched_days found them), else those the sessions of the days first to last may
    change."""
    if _exists(con, _TOUCHED_VISITORS):
        con.execute(f"create or replace temp table {VISITOR_KEYS} as select * from {_TOUCHED_VISITORS}")
    else:
        con.execute(_CHANGED_VISITORS.format(table=table), range_parameters(_CHANGED_VISITORS, first, last))
    visitors = f"select store || chr(31) || visitor_id as visitor_id from {VISITOR_KEYS}"
    con.execute(f"delete from {table} where visitor_id in (select visitor_id from ({visitors}))")
    note_change(con, table, visitors, key="visitor_id", insert=False)


def _merge_spans(con: duckdb.DuckDBPyConnection, table: str, sql: str) -> None:
    """Deletes the spans of the visitors of the sessions a load added (_ADDED_SESSIONS) and makes their rows anew in
    _rollup_rows: each old span (first and last day, per visitor and whatever else the rollup groups by) widened by
    the spans its query gives for the added sessions alone. The load changed no stored session, so a visitor's first
    and last day are those of its old sessions and its new ones. The deletion returns the old spans: one scan of the
    spans, where a recompute scans the sessions for those visitors, then the spans. A day of 30 k sessions into 11
    months of 9 M: 0.25 + 0.21 s → 0.24 s for the spans by source, 0.22 + 0.10 → 0.11 s for the visitors' (a month of
    960 k sessions: about the same either way)."""
    con.execute(f"create or replace temp table {VISITOR_KEYS} as select * from {_TOUCHED_VISITORS}")
    visitors = f"select store || chr(31) || visitor_id as visitor_id from {VISITOR_KEYS}"
    # The deleted rows, held by DuckDB (a relation over the statement's result, read without running it again).
    old = con.sql(f"delete from {table} where visitor_id in ({visitors}) returning *")
    note_change(con, table, visitors, key="visitor_id", insert=False)
    added, found = re.subn(r"\bfrom\s+sessions\b", f"from {_ADDED_SESSIONS}", sql)
    if found != 1:
        raise ValueError(f"{table}'s query reads the sessions once (from sessions), not {found} times")
    groups = ", ".join(name for name in old.columns if name not in ("first_day", "last_day"))
    con.register("_old_spans", old)
    try:
        con.execute(
            f"""
            create or replace temp table _rollup_rows as
            select {groups}, min(first_day) as first_day, max(last_day) as last_day
            from (select * from _old_spans union all by name select * from ({added}))
            group by {groups}"""
        )
    finally:
        con.unregister("_old_spans")


def _remove_sessions(con: duckdb.DuckDBPyConnection, table: str, first: date, last: date) -> None:
    """Deletes a session-keyed rollup's rows of the sessions its query is about to recompute (SESSION_KEYS; a session
    may have none after the refresh): those a load changed (touched_days found them), else those of the days first to
    last."""
    if _exists(con, _TOUCHED_SESSIONS):
        con.execute(f"create or replace temp table {SESSION_KEYS} as select * from {_TOUCHED_SESSIONS}")
    else:
        sql = _SESSIONS_OF_DAYS.format(table=table)
        con.execute(sql, range_parameters(sql, first, last))
    sessions = f"select store, session_id from {SESSION_KEYS}"
    con.execute(f"delete from {table} where (store, session_id) in ({sessions})")
    note_change(con, table, sessions, key="store, session_id", insert=False)


def range_parameters(sql: str, first: date, last: date) -> dict[str, object]:
    """The values of a rollup query's parameters for the days first to last: those it names."""
    values = {
        "first_day": first,
        "last_day": last,
        "start_ts": datetime.combine(first, time()),
        "end_ts": datetime.combine(last + timedelta(days=1), time()),
    }
    return {name: value for name, value in values.items() if re.search(rf"\${name}\b", sql)}


__all__ = [
    "ALL_DAYS",
    "EVENT_NARROWING",
    "REPLACED",
    "RollupCheck",
    "check_rollups",
    "day_runs",
    "every_key",
    "has_rollups",
    "range_parameters",
    "reading",
    "reads",
    "rebuild",
    "refresh_rollups",
    "touched_days",
    "upgrade_ledger",
    "WHOLE",
]
