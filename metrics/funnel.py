"""The session funnel (SPEC §4): per session the furthest step reached, counted per step."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

import duckdb

from metrics import dialect
from metrics.compute import (
    DIMENSION_SQL,
    FUNNEL_STEPS,
    NO_GROUP,
    ROLLUP_DIMENSIONS,
    SESSION_EVENTS,
    funnel_step,
    session_events_current,
)
from metrics.facts import facts, parameters, query, recorded_current
from metrics.periods import Period
from metrics.registry import DIMENSIONS, SOURCE_DIMENSIONS
from metrics.segments import ALL, Segment

# polars is imported where a frame is made: a load (`shopkpi ingest`) imports this module for the rollups' SQL
# and needs no frame (tests/cli/test_lazy_imports.py).
if TYPE_CHECKING:
    import polars as pl

STEPS = FUNNEL_STEPS
STEP_LABELS = {
    "page_view": ("Viewed a page", "浏览"),
    "click": ("Clicked", "点击"),
    "add_to_cart": ("Added to cart", "加购"),
    "begin_checkout": ("Began checkout", "下单"),
    "purchase": ("Purchased", "支付"),
}
FUNNEL_DIMENSIONS = tuple(d for d in DIMENSIONS if d in SOURCE_DIMENSIONS["sessions"])


# The funnel's rollup: per day (of the session's start), combination of ROLLUP_DIMENSIONS, furthest event step (0–5)
# and order step (0, 4 or 5), the number of sessions. A period's funnel sums its days' rows, split and filtered by
# those dimensions, and takes each session's furthest step from the two steps as the raw funnel does (whether the shop
# has loaded orders at all is read when asked). metrics/rollups.py builds it, loads refresh it (warehouse/rollups.py).
FUNNEL_ROLLUP = "rollup_funnel"


_ORDER_DATA = """
    -- one row: whether the shop has loaded orders at all
    select count(*) > 0 as loaded from (select 1 from orders limit 1)"""


def _session_steps(ctes: dict[str, str]) -> None:
    """Adds the CTEs of each period session's furthest event step and order step (`period_sessions`: its sessions),
    and whether the shop has loaded orders at all."""
    ctes["event_steps"] = f"""
        -- one row per such session with funnel events: the furthest step its events reach
        select store, session_id, max({funnel_step("event_type")}) as step
        from segment_events
        where (store, session_id) in (select store, session_id from period_sessions)
        group by store, session_id"""
    # Every session an order names, not only the period's: the left join that reads them keeps the period's and
    # hashes these few hundred thousand, where narrowing them first hashed every session of the period (the funnel
    # rollup's build at 10 M sessions 1.90 s instead of 1.08 s; the raw funnel of a year 4.8–5.6 s instead of 4.5–4.7 s;
    # a day's refresh or funnel the same).
    ctes["order_steps"] = """
        -- one row per session an order names: a valid order is a purchase, a placed or cancelled one a checkout
        select store, session_id, case when purchased then 5 else 4 end as step
        from session_orders"""
    ctes["order_data"] = _ORDER_DATA


# A session's furthest step (a session has at least one page view). Once the shop has orders, a purchase is what
# conversion_rate counts, a valid order naming the session: a purchase event alone (its order cancelled, or never
# exported) is a begun checkout. Without orders, events are all there is.
_FURTHEST = "greatest(1, case when od.loaded then least({events}, 4) else {events} end, {orders})"


@lru_cache(maxsize=128)
def funnel_sql(by: str | None, segment: Segment = ALL, rollup: bool = False, rolled_steps: bool = False) -> str:
    """The funnel query on a segment: one row per group and step; from the funnel's rollup with `rollup` (which
    carries the ROLLUP_DIMENSIONS only), else from the sessions, with each session's furthest event step read from
    SESSION_EVENTS where `rolled_steps` (a year's 49 M events are 10 M sessions' rows there)."""
    if by is not None and by not in FUNNEL_DIMENSIONS:
        raise ValueError(f"the funnel splits by a session dimension ({', '.join(FUNNEL_DIMENSIONS)}), not {by!r}")
    steps = ", ".join(f"({number}, '{step}')" for number, step in enumerate(STEPS, start=1))
    # Without a split there is always the one group, so an empty period still shows the five steps with zeros.
    groups = "select distinct grp from furthest" if by else f"select {NO_GROUP} as grp"
    groups_note = "" if by else " (the one group of all sessions)"
    ctes = facts(segment)
    if rollup:
        group = f"nullif(r.{by}, '')" if by else NO_GROUP
        filters = "".join(f" and r.{d} = {dialect.param(d)}" for d in segment.dimensions)
        ctes["order_data"] = _ORDER_DATA
        ctes["furthest"] = f"""
            -- one row per day, group and pair of steps of the funnel's rollup: the furthest step, and how many sessions
            select {group} as grp, {_FURTHEST.format(events="r.event_step", orders="r.order_step")} as step,
                r.sessions
            from {FUNNEL_ROLLUP} r
            cross join order_data od
            where r.day >= $first_day and r.day <= $last_day{filters}"""
    else:
        group = f"nullif({DIMENSION_SQL[by].session}, '')" if by else NO_GROUP
        ctes["period_sessions"] = f"""
            -- one row per session started in the period
            select s.store, s.session_id, {group} as grp
            from segment_sessions s
            where s.started_at >= $start_ts and s.started_at < $end_ts"""
        _session_steps(ctes)
        if rolled_steps:
            ctes["event_steps"] = _ROLLED_STEPS
        furthest = _FURTHEST.format(events="coalesce(es.step, 0)", orders="coalesce(os.step, 0)")
        ctes["furthest"] = f"""
            -- one row per session of the period: its furthest step
            select ps.grp, {furthest} as step, 1 as sessions
            from period_sessions ps
            cross join order_data od
            left join event_steps es on es.store = ps.store and es.session_id = ps.session_id
            left join order_steps os on os.store = ps.store and os.session_id = ps.session_id"""
    ctes["steps"] = f"""
        -- one row per step of the funnel
        select * from (values {steps}) as v (step_number, step)"""
    ctes["groups"] = f"""
        -- one row per group{groups_note}
        {groups}"""
    ctes["counts"] = """
        -- one row per group and step: sessions whose furthest step is at or beyond it, and exactly it
        select
            g.grp,
            st.step_number,
            st.step,
            sum(case when f.step >= st.step_number then f.sessions else 0 end) as sessions,
            sum(case when f.step = st.step_number then f.sessions else 0 end) as ended_here
        from groups g
        cross join steps st
        left join furthest f on f.grp is not distinct from g.grp
        group by g.grp, st.step_number, st.step"""
    return query(ctes, "select * from counts\norder by grp nulls last, step_number")


# Each session's furthest event step from SESSION_EVENTS (the same steps the raw CTE gives the sessions it joins).
_ROLLED_STEPS = f"""
        -- one row per such session with events: the furthest step they reach (from their rollup)
        select store, session_id, event_step as step
        from {SESSION_EVENTS}
        where day >= $first_day and day <= $last_day"""


def funnel_rollup_query() -> str:
    """The rows of the funnel's rollup for the days $start_ts to $end_ts (columns day, the ROLLUP_DIMENSIONS'
    raw values, event_step, order_step, sessions)."""
    ctes = facts(ALL)
    dimensions = ", ".join(f"s.{d}" for d in ROLLUP_DIMENSIONS)
    ctes["period_sessions"] = f"""
        -- one row per session started in the period
        select s.store, s.session_id, cast(date_trunc('day', s.started_at) as date) as day, {dimensions}
        from segment_sessions s
        where s.started_at >= $start_ts and s.started_at < $end_ts"""
    _session_steps(ctes)
    ctes["event_steps"] = _ROLLED_STEPS
    ctes["rollup"] = f"""
        -- one row per day, combination of the rollup's dimensions and pair of steps: how many sessions
        select
            ps.day, {", ".join(f"ps.{d}" for d in ROLLUP_DIMENSIONS)},
            coalesce(es.step, 0) as event_step, coalesce(os.step, 0) as order_step, count(*) as sessions
        from period_sessions ps
        left join event_steps es on es.store = ps.store and es.session_id = ps.session_id
        left join order_steps os on os.store = ps.store and os.session_id = ps.session_id
        group by ps.day, {", ".join(f"ps.{d}" for d in ROLLUP_DIMENSIONS)}, event_step, order_step"""
    return query(ctes, "select * from rollup")


def funnel_rollup_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds the funnel's rollup, built by this code's query (never on a Spark lake)."""
    return recorded_current(con, FUNNEL_ROLLUP, funnel_rollup_query())


def funnel(
    con: duckdb.DuckDBPyConnection,
    start: date | Period,
    end: date | None = None,
    by: str | None = None,
    segment: Segment = ALL,
    rollups: bool = True,
) -> pl.DataFrame:
    """The funnel of the period's sessions of a segment (default: the whole shop). One row per group (one, null,
    without `by`) and step. Read from the funnel's rollup where it carries the split and the filters (`rollups=False`:
    always from the raw tables).

    Columns: group, step_number (1–5), step (page_view, click, add_to_cart, begin_checkout, purchase), sessions
    (whose furthest step is this one or later), ended_here (whose furthest step is this one), rate_from_previous
    (sessions / sessions of the step before; null for the first step or a zero denominator), rate_from_start.
    A purchase is a valid order naming the session, as conversion_rate counts it (so the last step's sessions are
    conversion_rate's numerator); a purchase event without one, or a placed or cancelled order, counts as a begun
    checkout. A shop that has loaded no orders at all has only its events: there a purchase event is a purchase.
    """
    import polars as pl

    period = start if isinstance(start, Period) else Period(start, end)
    carried = set(ROLLUP_DIMENSIONS)
    rollup = rollups and (by is None or by in carried) and set(segment.dimensions) <= carried
    rollup = rollup and funnel_rollup_current(con)
    sql = funnel_sql(by, segment, rollup=rollup, rolled_steps=rollups and not rollup and session_events_current(con))
    values = {"start_ts": period.start_ts, "end_ts": period.end_ts, "first_day": period.start, "last_day": period.end}
    frame = con.sql(sql, params=parameters(sql, values, segment)).pl()
    frame = frame.rename({"grp": "group"}).with_columns(pl.col("sessions", "ended_here").cast(pl.Int64))
    first = pl.col("sessions").first().over("group")
    previous = pl.col("sessions").shift(1).over("group")
    return frame.with_columns(
        pl.when(previous > 0).then(pl.col("sessions") / previous).otherwise(None).alias("rate_from_previous"),
        pl.when(first > 0).then(pl.col("sessions") / first).otherwise(None).alias("rate_from_start"),
    )
