"""The rollups: the registry's additive measures pre-aggregated per day × source × medium × campaign × device × store,
so that a period's KPIs sum a few thousand daily rows instead of scanning millions of sessions and events.

Grain: one row per day and combination of `ROLLUP_DIMENSIONS` (raw session values; events, orders and order lines take
their session's; the store is each row's own) in each of `ROLLUP_TABLES` (sessions by start day, events by their day,
valid orders and their lines by order day). Each row's measures are the registry's own aggregates over the same facts a
raw query reads (`metrics.compute.rollup_query`), so a sum of daily rows is the raw figure exactly (money is DECIMAL).
Distinct counts (buyers) and retention do not add up across days and are read from the raw tables. Visitors come from
each visitor's number (`visitor_numbers`) per session with its day and its dimensions' hash (`rollup_day_visitors`): a
bitmap of numbers per bucket and group, whose set bits are counted (or, beyond their memory budget, the numbers counted
distinct), for any split and filter the rollups carry; over one bucket, retention's visitors are found by number too. A
warehouse may keep instead (`shopkpi rollups --visitor-numbers off`) each visitor's first and last day
(`rollup_visitors`), which settles for most visitors whether they came in a period of the whole shop. Three more: each
session's events summed once (`rollup_session_events`, per session by its start day), which the sessions' rollup and the
funnel's read instead of the events, the funnel's steps per day and dimensions (`rollup_funnel`, metrics/funnel.py), and
each order with its session's dimensions, customer and net sales (`rollup_order_rows`, metrics/facts.py), which filtered
queries read instead of the sessions and the customer figures instead of the order lines. And, where the warehouse
chooses (`visitor_splits`, set by `shopkpi rollups --visitor-splits`; none by default), each visitor's first and last
day per value of a dimension (`rollup_visitor_sources` for the source), from which a split by it counts its visitors.

`build_rollups` makes them for a whole warehouse (`shopkpi upgrade`, the demo) and records their queries; from then
on every load reruns the queries for the days (the sessions, the visitors) it touched (warehouse/rollups.py).
`build_missing` builds them in a load's own writer, once the load has committed, where the warehouse has none (its
first load by `shopkpi ingest`, `shopkpi import` or the Data page) or another version's queries built them;
`ensure_rollups` does the same in a writer of its own (after a load that could not). A rollup whose recorded query
is not this code's is not read until it is rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

from metrics.compute import (
    DAY_VISITORS,
    DEFAULT_VISITOR_SPLITS,
    ROLLUP_TABLES,
    SESSION_EVENTS,
    SPLIT_SPANS,
    VISITOR_NUMBERS,
    VISITOR_SPANS,
    day_visitors_current,
    day_visitors_query,
    rollup_query,
    rollups_current,
    session_events_query,
    split_spans_current,
    split_spans_query,
    visitor_spans_query,
)
from metrics.facts import ORDER_ROWS, order_rows_current, order_rows_query, recorded_current
from metrics.funnel import FUNNEL_ROLLUP, funnel_rollup_current, funnel_rollup_query
from warehouse import note_unreplayable, open_read_only, writing
from warehouse import rollups as stored

# The warehouse's choice of the dimensions whose visitors' spans it keeps (SPLIT_SPANS), in shopkpi_meta: a comma-
# separated list, empty for none. Without it, DEFAULT_VISITOR_SPLITS. In the warehouse, not in a process's settings:
# every writer keeps the same spans, and none drops what another built.
VISITOR_SPLITS = "visitor_splits"


def visitor_splits(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The dimensions whose visitors' spans the warehouse keeps, in SPLIT_SPANS' order."""
    names = DEFAULT_VISITOR_SPLITS
    if con.sql("select count(*) from duckdb_tables() where table_name = 'shopkpi_meta'").fetchall()[0][0]:
        chosen = con.sql("select value from shopkpi_meta where key = ?", params=[VISITOR_SPLITS]).fetchall()
        names = chosen[0][0].split(",") if chosen else names
    return tuple(dimension for dimension in SPLIT_SPANS if dimension in names)


def choose_visitor_splits(con: duckdb.DuckDBPyConnection, dimensions: Iterable[str]) -> tuple[str, ...]:
    """Records which dimensions' visitors' spans the warehouse keeps from now on (build_rollups then builds and drops
    them); returns them in SPLIT_SPANS' order (checked_splits)."""
    ordered = checked_splits(dimensions)
    note_unreplayable(con)  # the A/B pair's journal replays tables' rows, not shopkpi_meta's
    con.execute("insert or replace into shopkpi_meta values (?, ?)", [VISITOR_SPLITS, ",".join(ordered)])
    return ordered


# Whether the warehouse keeps its visitors numbered and DAY_VISITORS ("on", the default; "off": the whole shop's
# visitors' spans instead, VISITOR_SPANS), in shopkpi_meta, as VISITOR_SPLITS.
KEEPS_VISITOR_NUMBERS = "visitor_numbers"


def keeps_visitor_numbers(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse keeps its visitors numbered and the rollup of visitors by number (DAY_VISITORS), from
    which the visitors of any split and filter the rollups carry and retention are counted; else the whole shop's
    visitors' spans (VISITOR_SPANS), from which the whole shop's are."""
    if not con.sql("select count(*) from duckdb_tables() where table_name = 'shopkpi_meta'").fetchall()[0][0]:
        return True
    chosen = con.sql("select value from shopkpi_meta where key = ?", params=[KEEPS_VISITOR_NUMBERS]).fetchall()
    return not chosen or chosen[0][0] != "off"


def choose_visitor_numbers(con: duckdb.DuckDBPyConnection, keep: bool) -> None:
    """Records whether the warehouse keeps its visitors numbered from now on (build_rollups then builds or drops
    DAY_VISITORS and the numbers)."""
    note_unreplayable(con)  # the A/B pair's journal replays tables' rows, not shopkpi_meta's
    con.execute("insert or replace into shopkpi_meta values (?, ?)", [KEEPS_VISITOR_NUMBERS, "on" if keep else "off"])


def checked_splits(dimensions: Iterable[str]) -> tuple[str, ...]:
    """`dimensions` (any case, blanks ignored) in SPLIT_SPANS' order; raises ValueError for one without spans."""
    chosen = {dimension.strip().lower() for dimension in dimensions if dimension.strip()}
    unknown = sorted(chosen - set(SPLIT_SPANS))
    if unknown:
        raise ValueError(f"no visitors' spans for {', '.join(unknown)}: choose among {', '.join(SPLIT_SPANS)}")
    return tuple(dimension for dimension in SPLIT_SPANS if dimension in chosen)


def _rollups(splits: Iterable[str], numbers: bool) -> dict[str, tuple[str, str]]:
    """Every rollup as {table: (query, keyed_by)}, in the order they are built: each session's events (the sessions'
    and the funnel's rollups read it), the registry's measures per source, the funnel's steps, each order's row, the
    visitors by number (with `numbers`) or else the whole shop's visitors' spans, and the visitors' spans per dimension
    of `splits`."""
    visitors = {DAY_VISITORS: (day_visitors_query(), "day")} if numbers else {}
    return {
        SESSION_EVENTS: (session_events_query(), "session_id"),
        **{table: (rollup_query(source), "day") for source, table in ROLLUP_TABLES.items()},
        FUNNEL_ROLLUP: (funnel_rollup_query(), "day"),
        ORDER_ROWS: (order_rows_query(), "day"),
        **(visitors or {VISITOR_SPANS: (visitor_spans_query(), "visitor_id")}),
        **{SPLIT_SPANS[dimension]: (split_spans_query(dimension), "visitor_id") for dimension in splits},
    }


def expected_queries(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The query this code builds each rollup the warehouse chooses to keep with, by table: a rollup whose recorded
    query differs (another version of shopkpi built it) is not read until a load or `shopkpi rollups` rebuilds it."""
    return {table: sql for table, (sql, _) in _rollups(visitor_splits(con), keeps_visitor_numbers(con)).items()}


def _all_current(con: duckdb.DuckDBPyConnection) -> bool:
    # Every rollup current, and no spans kept that the warehouse no longer chooses (the loads would keep them).
    splits, numbers = visitor_splits(con), keeps_visitor_numbers(con)
    dropped = [table for dimension, table in SPLIT_SPANS.items() if dimension not in splits]
    dropped += [VISITOR_SPANS] if numbers else [DAY_VISITORS]
    return (
        rollups_current(con)
        and funnel_rollup_current(con)
        and order_rows_current(con)
        and all(split_spans_current(con, dimension) for dimension in splits)
        and (day_visitors_current(con) if numbers else recorded_current(con, VISITOR_SPANS, visitor_spans_query()))
        and not _recorded(con, dropped)
    )


def _recorded(con: duckdb.DuckDBPyConnection, tables: list[str]) -> bool:
    # Whether the ledger (where there is one) records any of `tables`.
    if not tables or not stored.has_rollups(con):
        return False
    found = con.sql("select count(*) from rollup_queries where list_contains(?, table_name)", params=[tables])
    return found.fetchall()[0][0] > 0


def build_rollups(con: duckdb.DuckDBPyConnection, rebuild: bool = True) -> None:
    """(Re)builds every rollup table from the canonical tables and records the query of each (in the caller's
    transaction, if any), with the visitors' spans of the warehouse's visitor_splits, dropping the others, and the
    visitors by number where it keeps them (keeps_visitor_numbers), else dropping them. `rebuild=False` keeps the
    tables whose recorded query is already this code's (loads have kept them in step)."""
    note_unreplayable(con)  # tables rebuilt whole: the A/B pair's next writer copies the warehouse
    stored.upgrade_ledger(con)
    recorded = {} if rebuild else dict(con.sql("select table_name, query from rollup_queries").fetchall())
    splits, numbers = visitor_splits(con), keeps_visitor_numbers(con)
    for table, (sql, keyed_by) in _rollups(splits, numbers).items():
        if recorded.get(table) == sql:
            continue
        stored.rebuild(con, table, sql, keyed_by)
        con.execute("insert or replace into rollup_queries values (?, ?, ?)", [table, sql, keyed_by])
    for dimension, table in SPLIT_SPANS.items():  # the spans the warehouse no longer keeps
        if dimension not in splits:
            con.execute(f"drop table if exists {table}")
            con.execute("delete from rollup_queries where table_name = ?", [table])
    # The visitors of the kind the warehouse no longer keeps.
    for table in [VISITOR_SPANS] if numbers else [DAY_VISITORS, VISITOR_NUMBERS]:
        con.execute(f"drop table if exists {table}")
        con.execute("delete from rollup_queries where table_name = ?", [table])


def build_missing(con: duckdb.DuckDBPyConnection) -> float | None:
    """Builds the rollups a writer's warehouse lacks or holds from other queries than this code's (in the caller's
    transaction); returns the seconds it took, None when every rollup was current."""
    if _all_current(con):
        return None
    started = time.perf_counter()
    build_rollups(con, rebuild=False)
    return time.perf_counter() - started


def ensure_rollups(db_path: Path) -> float | None:
    """build_missing in a writer of its own, for the warehouse at `db_path`: returns the seconds it took, None when
    every rollup was current (or there is no warehouse). Called after loads; a load that built them itself
    (ingest_file's `then`) leaves nothing to do but this check."""
    db_path = Path(db_path)
    if not db_path.exists():
        return None
    with open_read_only(db_path, brief=True) as con:
        if _all_current(con):
            return None
    with writing(db_path) as con:
        return build_missing(con)


__all__ = [
    "build_missing",
    "build_rollups",
    "checked_splits",
    "choose_visitor_numbers",
    "choose_visitor_splits",
    "ensure_rollups",
    "expected_queries",
    "keeps_visitor_numbers",
    "visitor_splits",
]
