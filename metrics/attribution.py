"""Whether a period's orders can be split by a session dimension at all (SPEC §4: an order takes its source, medium,
campaign, device and landing page from the session it names).

A shop whose traffic comes from a platform's report (the `traffic` table) and not from session logs has orders that
name no session: split by source, every order is in the group none, and each channel's 0 orders would be a false
statement (the channel may well have sold; the orders just do not say). Those figures are unknown per channel, with
the reason; the platform's own attribution is in reported_orders / reported_sales.
"""

from __future__ import annotations

import duckdb
import polars as pl

from metrics.facts import facts, parameters, query
from metrics.periods import Period
from metrics.registry import MEASURES, METRICS, SESSION_DIMENSIONS, measures_of
from metrics.segments import ALL, Segment

ORDER_SOURCES = frozenset({"orders", "items"})


def order_figures() -> list[str]:
    """The metrics computed from orders or their lines (orders, sales, AOV, ROAS …), in registry order."""
    return [name for name in METRICS if {MEASURES[m].source for m in measures_of(name)} & ORDER_SOURCES]


def unattributed_orders(
    con: duckdb.DuckDBPyConnection, period: Period, by: str | None, segment: Segment = ALL
) -> str | None:
    """Why the period's orders cannot be split by `by`: it is a session dimension and none of the segment's valid
    orders of the period names a session the warehouse has, though there are some; None when they can be (or
    there is nothing to split)."""
    if by not in SESSION_DIMENSIONS:
        return None
    sql = query(
        facts(segment),
        """
        select
            count(*) as orders,
            sum(case when s.session_id is not null then 1 else 0 end) as with_session
        from valid_orders o
        left join sessions s on s.store = o.store and s.session_id = o.session_id
        where o.ordered_at >= $start_ts and o.ordered_at < $end_ts""",
    )
    values = {"start_ts": period.start_ts, "end_ts": period.end_ts}
    orders, with_session = con.sql(sql, params=parameters(sql, values, segment)).fetchall()[0]
    if not orders or with_session:
        return None
    return (
        f"the orders name no session (the shop has no session logs), so they cannot be split by {by}: all "
        f"{orders:,} are in the group none; the platform's own attribution is reported_orders and reported_sales"
    )


def without_unattributed(frame: pl.DataFrame, reason: str | None) -> pl.DataFrame:
    """`frame` (one row per group) with the order figures of every group but none made null when `reason` says the
    orders cannot be split (none keeps them: every order is there)."""
    if reason is None:
        return frame
    names = [n for n in order_figures() if n in frame.columns]
    grouped = pl.col("group").is_not_null()
    return frame.with_columns(
        pl.when(grouped).then(pl.lit(None)).otherwise(pl.col(n)).cast(frame.schema[n]).alias(n) for n in names
    )
