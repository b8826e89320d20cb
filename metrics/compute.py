"""KPIs of the registry computed in one SQL query: for a period, by a dimension, as a series, against other periods.

The query is generated from the registry. Each *source* of rows has one facts CTE whose grain is stated where it is
built (one row per session of the period, per valid order, per order line, …) and one aggregate CTE that computes
that source's measures per bucket and group. The sources' results are stacked and summed per (bucket, group), then
ratios and derived metrics are computed from them level by level, each from parts already computed.

Attribution follows SPEC §4: an order takes the dimensions of the session its session_id names (none: group null);
`region` is the order's own region, else its session's; order dimensions split order metrics only; ad spend splits by
source, medium and campaign; operating expenses by none. A metric that cannot be split by the chosen dimension is
null in grouped rows. `category` splits the order-line metrics (units, gross_sales, cogs) by product category; the
order-level metrics (orders, discounts, refunds, …) and everything computed from them are null there, because an
order with lines in two categories cannot be split without an allocation rule SPEC §4 does not give. An order
without lines (counted by its subtotal) falls in category null. `customer_type` is per order: 'new' for a customer's
first valid order ever, 'returning' for a later one, null for a guest checkout.

The facts (the segment's sessions, events, orders and ad spend; valid orders; order lines with their sales and cost)
come from metrics/facts.py, which writes each rule once; a segment (source / device filter) is a bound parameter of
those facts. Which CTEs a query needs is read from the SQL itself (`facts.query`). Only identifiers from the
allow-lists below and the registry reach the SQL text; values are bound parameters. Calendar functions that are
DuckDB's own live in metrics/dialect.py.

Session measures come from each store's session logs where it has any, else from its platform's traffic report
(`traffic_facts`), decided per store (metrics/inputs.py `SessionStores`). Over stores of both kinds the two are stacked
and added per bucket and group; a measure one kind cannot give (a report's visitors over several rows, the logs'
reported sales) is null for them together, never the other kind's stores' figure alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import duckdb

from metrics import dialect
from metrics.currency import Rates, is_money_figure, missing_rates, mixed_currencies, rate_rows
from metrics.facts import (
    facts,
    order_lines,
    order_rows_current,
    parameters,
    query,
    recorded_current,
    sessions_named_by,
)
from metrics.inputs import blank_unknown, missing_inputs, session_stores, store_list
from metrics.periods import Period, add_months, data_span
from metrics.registry import (
    DIMENSIONS,
    MEASURES,
    METRICS,
    Metric,
    dimensions_of,
    measures_of,
    names_in,
)
from metrics.segments import ALL, Segment
from warehouse.schema import DAY_VISITORS, KEY_FILTERS, VISITOR_NUMBERS

# polars is imported where a frame is made: a load (`shopkpi ingest`) imports this module for the rollups' SQL
# and needs no frame (tests/cli/test_lazy_imports.py).
if TYPE_CHECKING:
    import polars as pl

# --- where each dimension comes from, per source of rows --------------------------------------------------------


@dataclass(frozen=True)
class DimensionSql:
    """The SQL expression of a dimension over each source's aliases (s = session, o = order, l = order line, a = ad)."""

    session: str | None = None  # over segment_sessions s
    event: str | None = None  # over an event's counts e and its session s; None: the session's expression
    traffic: str | None = None  # over segment_traffic t (the platform's aggregates, where there are no session logs)
    order: str | None = None  # over valid_orders o, its session s and customer_orders c
    line: str | None = None  # over period_lines l (an order's line, with the order's bucket and grp)
    ad: str | None = None  # over segment_ad_spend a
    keep_empty: bool = False  # group by the expression as it is (a rollup's struct of raw columns), not nullif(…, '')
    opex: str | None = None  # over expenses e


def _session_dimension(column: str, ad: str | None = None, traffic: bool = True) -> DimensionSql:
    return DimensionSql(
        session=f"s.{column}", traffic=f"t.{column}" if traffic else None, order=f"s.{column}", line="l.grp", ad=ad
    )


DIMENSION_SQL: dict[str, DimensionSql] = {
    "source": _session_dimension("source", ad="a.source"),
    "medium": _session_dimension("medium", ad="a.medium"),
    "campaign": _session_dimension("campaign", ad="a.campaign"),
    "device": _session_dimension("device"),
    "landing_page": _session_dimension("landing_page", traffic=False),
    "region": DimensionSql(session="s.region", order="coalesce(nullif(o.region, ''), s.region)", line="l.grp"),
    "category": DimensionSql(line="l.category"),
    "payment_method": DimensionSql(order="o.payment_method", line="l.grp"),
    "coupon_code": DimensionSql(order="o.coupon_code", line="l.grp"),
    "customer_type": DimensionSql(
        order="case when c.orders_so_far = 1 then 'new' when c.orders_so_far > 1 then 'returning' end",
        line="l.grp",
    ),
    # Each row's own store (an event or order whose session is not stored has one too); shared expenses ('') fall in
    # the group none.
    "store": DimensionSql(
        session="s.store",
        event="e.store",
        traffic="t.store",
        order="o.store",
        line="l.grp",
        ad="a.store",
        opex="e.store",
    ),
}
assert set(DIMENSION_SQL) == set(DIMENSIONS)

NO_GROUP = f"cast(null as {dialect.TEXT})"

# The facts CTE each source's measures are aggregated from.
SOURCE_FACTS = {
    "sessions": "session_facts",
    "events": "event_facts",
    "retention": "retention_facts",
    "orders": "order_facts",
    "items": "line_facts",
    "ads": "ad_facts",
    "opex": "opex_facts",
    "retention_window": "window_facts",
}

# The fixed retention window (SPEC §4's retention KPI): visitors of the 30 days ending RETENTION_WINDOW days before the
# period's last day with data, and whether they visit again in the RETENTION_WINDOW days up to it.
RETENTION_WINDOW = 30


def _group(expression: str | None, keep_empty: bool = False) -> str:
    # An empty string means "none" as much as null does (e.g. ad_spend.campaign defaults to '').
    if expression is None:
        return NO_GROUP
    return expression if keep_empty else f"nullif({expression}, '')"


# --- query generation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What one query computes: which metrics, split by which dimension, in which buckets."""

    metrics: tuple[str, ...]
    by: str | None = None
    grain: str | None = None  # None: the whole period is one bucket
    traffic: bool = False  # session measures from the platform's traffic aggregates (stores without session logs)
    # With `traffic`: other stores have session logs, whose session measures are stacked with the report stores'
    # (metrics/inputs.py SessionStores: logs or report is decided per store).
    mixed: bool = False
    rollups: bool = False  # additive measures summed from the rollups (metrics/rollups.py) instead of raw facts
    converted: bool = False  # money of stores in several currencies, converted with a rate table (metrics/currency.py)
    # The period is the fixed retention window's later 30 days (the usual "last 30 days" of the data): the window's
    # earlier 30 days are then the previous period, whose visitors are counted once for both retention figures.
    window_is_period: bool = False
    # Under a source or device filter the segment's orders are found in the orders' rollup (facts.ORDER_ROWS) instead
    # of by reading the sessions.
    order_rows: bool = False
    # Split by a dimension of SPLIT_SPANS (one bucket, no filter but on that dimension): the visitors of each group
    # come from the spans of each visitor's sessions of that group (the caller checked the rollup is current).
    split_spans: bool = False
    # The visitors read by number from DAY_VISITORS (visitor_numbers_answer), and over one bucket retention's visitors
    # found by number too (the warehouse keeps them, and no split's spans answer).
    visitor_numbers: bool = False
    # With visitor_numbers, the highest visitor number (VISITOR_NUMBERS) where each bucket's and group's visitors are a
    # bitmap of their numbers (within MAX_VISITOR_BITMAPS_BYTES); 0: a distinct count of their numbers.
    visitor_bits: int = 0
    # The warehouse keeps the whole shop's visitors' spans (VISITOR_SPANS; where it does not keep them numbered).
    whole_spans: bool = False
    # Each session's page views and add-to-cart from SESSION_EVENTS instead of the events, where the rollups do not
    # carry the split or the filter (e.g. by landing page) but the warehouse keeps them.
    session_events_rolled: bool = False

    def computable(self, name: str) -> bool:
        if self.grain is not None and any(MEASURES[m].source == "retention_window" for m in measures_of(name)):
            return False  # one fixed window per period, not per bucket
        return self.by is None or self.by in dimensions_of(name)

    @property
    def measures(self) -> tuple[str, ...]:
        needed: set[str] = set()
        for name in self.metrics:
            if self.computable(name):
                needed |= measures_of(name)
        return tuple(m for m in MEASURES if m in needed)

    @property
    def sources(self) -> tuple[str, ...]:
        found = {MEASURES[m].source for m in self.measures}
        return tuple(s for s in SOURCE_FACTS if s in found)

    def bucket(self, expression: str) -> str:
        return "$first_day" if self.grain is None else dialect.truncate(self.grain, expression)


def _ctes(plan: Plan, segment: Segment, group: DimensionSql | None = None) -> dict[str, str]:
    """Every CTE the plan could need, by name, in dependency order (later ones only read earlier ones). `group`
    replaces the dimension's SQL (the rollups group by several columns at once)."""
    dim = group or (DIMENSION_SQL[plan.by] if plan.by else DimensionSql())
    session_grp = _group(dim.session, dim.keep_empty)
    event_grp = _group(dim.event, dim.keep_empty) if dim.event else session_grp
    sessions_joined = dim.session is not None
    customer_type = plan.by == "customer_type"
    order_grp = _group(dim.order, dim.keep_empty)
    line_grp = _group(dim.line, dim.keep_empty)
    previous_bucket = (
        "$first_day"
        if plan.grain is None
        else dialect.add_grains(plan.grain, dialect.truncate(plan.grain, "s.started_at"), 1)
    )
    returning = "returning_buyers" in plan.measures
    session_join = "left join segment_sessions s on s.store = {alias}.store and s.session_id = {alias}.session_id"
    # An order's session, among those the period's orders name (none read where none is named).
    period_valid_orders = "(select * from valid_orders where ordered_at >= $start_ts and ordered_at < $end_ts)"
    order_session_join = (
        f"left join {sessions_named_by(period_valid_orders, 'segment_sessions')} s "
        "on s.store = o.store and s.session_id = o.session_id"
    )

    ctes = facts(segment, plan.converted, plan.order_rows)
    rate = " * r.rate" if plan.converted else ""
    ctes["customer_orders"] = """
        -- one row per valid order of a known customer: its rank among the customer's valid orders (1 = first); a
        -- customer is a store's (the same id in two stores is two people)
        select
            store, order_id,
            count(*) over (
                partition by store, customer_id order by ordered_at, order_id
                rows between unbounded preceding and current row
            ) as orders_so_far
        from valid_orders
        where customer_id is not null"""
    ctes["period_orders"] = f"""
        -- one row per valid order placed in the period
        select
            o.store, o.order_id, o.status, o.customer_id, o.subtotal, o.discount, o.refund_amount, o.shipping_fee,
            o.fulfilment_cost,
            {plan.bucket("o.ordered_at")} as bucket,
            {order_grp} as grp
        from valid_orders o
        {order_session_join if dim.order and "s." in dim.order else ""}
        {"left join customer_orders c on c.store = o.store and c.order_id = o.order_id" if customer_type else ""}
        where o.ordered_at >= $start_ts and o.ordered_at < $end_ts"""
    bucket_end = (
        "$end_ts"
        if plan.grain is None
        else f"least(cast({dialect.add_grains(plan.grain, 'b.bucket', 1)} as timestamp), $end_ts)"
    )
    ctes["period_buyers"] = """
        -- one row per bucket and customer (of a store) with a valid order in it
        select distinct bucket, store, customer_id
        from period_orders
        where customer_id is not null"""
    ctes["buyer_history"] = f"""
        -- one row per bucket and buyer: the buyer's valid orders up to the bucket's end (the period's, clipped)
        select b.bucket, b.store, b.customer_id, count(*) as customer_orders_to_date
        from period_buyers b
        join valid_orders o on o.store = b.store and o.customer_id = b.customer_id and o.ordered_at < {bucket_end}
        group by b.bucket, b.store, b.customer_id"""
    if returning:
        ctes["order_facts"] = """
        -- one row per valid order placed in the period, with its customer's valid orders up to the bucket's end
        -- (its customer named with the store: a customer id is a store's own)
        select
            po.store, po.order_id, po.status, po.store || chr(31) || po.customer_id as customer_id, po.subtotal,
            po.discount, po.refund_amount, po.shipping_fee, po.fulfilment_cost, po.bucket, po.grp,
            bh.customer_orders_to_date
        from period_orders po
        left join buyer_history bh
            on bh.bucket = po.bucket and bh.store = po.store and bh.customer_id = po.customer_id"""
    else:
        ctes["order_facts"] = """
        -- one row per valid order placed in the period; its customer named with the store (ids are a store's own)
        select
            po.store, po.order_id, po.status, po.store || chr(31) || po.customer_id as customer_id, po.subtotal,
            po.discount, po.refund_amount, po.shipping_fee, po.fulfilment_cost, po.bucket, po.grp
        from period_orders po"""
    ctes["period_lines"] = order_lines("order_facts", ("bucket", "grp"), plan.converted)
    ctes["line_facts"] = f"""
        -- one row per line of a valid order placed in the period, plus one per such order without lines (`unlined`:
        -- its units are not known; `unvalued` where it has no subtotal either: nor are its sales)
        select
            l.bucket, {line_grp} as grp, l.quantity, l.line_sales, l.line_cost, l.costable_sales, l.costed_sales,
            0 as unvalued, 0 as unlined
        from period_lines l
        union all
        select
            f.bucket,
            {"f.grp" if dim.line == "l.grp" else NO_GROUP} as grp,
            0 as quantity,
            coalesce(f.subtotal, 0) as line_sales,
            null as line_cost,
            case when f.status <> 'returned' then coalesce(f.subtotal, 0) end as costable_sales,
            null as costed_sales,
            case when f.subtotal is null then 1 else 0 end as unvalued,
            1 as unlined
        from order_facts f
        where not exists (select 1 from order_items i where i.store = f.store and i.order_id = f.order_id)"""
    ctes["period_sessions"] = f"""
        -- one row per session started in the period
        select
            s.store, s.session_id, s.store || chr(31) || s.visitor_id as visitor_id, s.pageviews, s.duration_s,
            {plan.bucket("s.started_at")} as bucket,
            {session_grp} as grp
        from segment_sessions s
        where s.started_at >= $start_ts and s.started_at < $end_ts"""
    ctes["session_events"] = """
        -- one row per session of the period with page views or add-to-carts: how many of each
        select
            store, session_id,
            sum(case when event_type = 'page_view' then 1 else 0 end) as page_view_events,
            max(case when event_type = 'add_to_cart' then 1 else 0 end) as added_to_cart
        from segment_events
        where event_type in ('page_view', 'add_to_cart')
            and (store, session_id) in (select store, session_id from period_sessions)
        group by store, session_id"""
    ctes["session_facts"] = """
        -- one row per session started in the period
        select
            ps.bucket, ps.grp, ps.visitor_id, ps.duration_s,
            coalesce(ps.pageviews, se.page_view_events, 0) as page_views,
            coalesce(se.added_to_cart, 0) as added_to_cart,
            case when so.purchased then 1 else 0 end as converted
        from period_sessions ps
        left join session_events se on se.store = ps.store and se.session_id = ps.session_id
        left join session_orders so on so.store = ps.store and so.session_id = ps.session_id"""
    if sessions_joined:
        # Counted per session before the join: a year of a busy shop's 20.7 M impressions and clicks are 8.4 M
        # session-days, and the daily rollup of a year took 3.05 s instead of 6.0–7.5 s joining each event.
        ctes["event_facts"] = f"""
        -- one row per session, bucket and kind (impression or click) of the period's events: how many
        select e.bucket, {event_grp} as grp, e.event_type, e.events
        from (
            select store, session_id, {plan.bucket("occurred_at")} as bucket, event_type, count(*) as events
            from segment_events
            where occurred_at >= $start_ts and occurred_at < $end_ts and event_type in ('impression', 'click')
            group by store, session_id, bucket, event_type
        ) e
        {session_join.format(alias="e")}"""
    else:
        ctes["event_facts"] = f"""
        -- one row per impression or click event in the period
        select {plan.bucket("e.occurred_at")} as bucket, {event_grp} as grp, e.event_type, 1 as events
        from segment_events e
        where e.occurred_at >= $start_ts and e.occurred_at < $end_ts
            and e.event_type in ('impression', 'click')"""
    ctes["previous_visitors"] = f"""
        -- one row per visitor of the previous period (of each bucket, the bucket before) and group
        select distinct
            {previous_bucket} as bucket,
            {session_grp} as grp,
            s.store || chr(31) || s.visitor_id as visitor_id
        from segment_sessions s
        where s.started_at >= $previous_start_ts and s.started_at < $previous_end_ts"""
    ctes["current_visitors"] = """
        -- one row per visitor of the period (of each bucket) who was a visitor of the previous period: the only ones
        -- retention looks up (none when the previous period has no visitors, and then no scan of the period)
        select distinct bucket, visitor_id
        from period_sessions
        where visitor_id in (select visitor_id from previous_visitors)"""
    ctes["retention_facts"] = """
        -- one row per visitor of the previous period and group: did they visit again in this period?
        select
            pv.bucket, pv.grp,
            case when cv.visitor_id is null then 0 else 1 end as retained
        from previous_visitors pv
        left join current_visitors cv on cv.bucket = pv.bucket and cv.visitor_id = pv.visitor_id"""
    ctes["window_visitors"] = f"""
        -- one row per visitor and group of the earlier 30 days of the fixed retention window
        select distinct {session_grp} as grp, s.store || chr(31) || s.visitor_id as visitor_id
        from segment_sessions s
        where s.started_at >= $window_start_ts and s.started_at < $window_middle_ts"""
    ctes["window_returners"] = """
        -- one row per visitor of the later 30 days of the fixed retention window who visited in the earlier 30
        select distinct s.store || chr(31) || s.visitor_id as visitor_id
        from segment_sessions s
        where s.started_at >= $window_middle_ts and s.started_at < $window_end_ts
            and s.store || chr(31) || s.visitor_id in (select visitor_id from window_visitors)"""
    ctes["window_facts"] = """
        -- one row per visitor and group of the earlier 30 days: did they visit again in the later 30?
        select
            $first_day as bucket, wv.grp,
            case when wr.visitor_id is null then 0 else 1 end as returned
        from window_visitors wv
        left join window_returners wr on wr.visitor_id = wv.visitor_id"""
    ctes["ad_facts"] = f"""
        -- one row per day, source and campaign of ad spend in the period
        select
            {plan.bucket("a.date")} as bucket,
            {_group(dim.ad)} as grp,
            a.cost{rate} as cost, a.clicks, a.impressions
        from segment_ad_spend a
        {"join store_rates r on r.store = a.store" if rate else ""}
        where a.date >= $first_day and a.date <= $last_day"""
    ctes["period_days"] = f"""
        -- one row per date of the period
        {dialect.day_spine("$first_day", "$last_day")}"""
    # Stores of both kinds (Plan.mixed): only the aggregates of stores without session logs; a store with logs is
    # counted from them, whatever report it has too.
    logless_note = (
        "\n        -- (of the stores without session logs: the others are read from them)" if plan.mixed else ""
    )
    logless = "where not exists (select 1 from sessions l where l.store = t.store)" if plan.mixed else ""
    ctes["traffic_facts"] = f"""
        -- one row per traffic aggregate (counted by the platform) and bucket it overlaps; `cut` when its date range
        -- runs past the bucket's days in the period: its counts cannot be split by day, so that bucket and group have
        -- no session figures (never a pro-rata){logless_note}{" (sales: reporting currency)" if rate else ""}
        select
            b.bucket,
            {_group(dim.traffic)} as grp,
            t.sessions, t.visitors, t.engaged_sessions, t.bounced_sessions, t.cart_sessions, t.orders,
            t.revenue{rate} as revenue,
            case when t.date < b.first_day or t.end_date > b.last_day then 1 else 0 end as cut
        from segment_traffic t
        {"join store_rates r on r.store = t.store" if rate else ""}
        join (
            select {plan.bucket("day")} as bucket, min(day) as first_day, max(day) as last_day
            from period_days
            group by 1
        ) b on t.date <= b.last_day and t.end_date >= b.first_day
        {logless}"""
    ctes["month_days"] = f"""
        -- one row per bucket and calendar month: how many of the month's days fall in the bucket and have data (the
        -- data's first to latest date: a period running past the data counts its covered days only, SPEC §4)
        select
            {plan.bucket("day")} as bucket,
            {dialect.month_label("day")} as month,
            {dialect.days_in_month("day")} as days_in_month,
            sum(case when day >= $data_first and day <= $data_last then 1 else 0 end) as days
        from period_days
        group by 1, 2, 3"""
    ctes["opex_facts"] = f"""
        -- one row per bucket and month with expenses: the month's expenses pro rata by covered days
        select
            md.bucket,
            {_group(dim.opex)} as grp,
            e.amount{rate} * md.days / md.days_in_month as prorated_amount
        from month_days md
        join (
            select month, store, sum(amount) as amount
            from expenses
            {"where store = $store" if segment.store is not None else ""}
            group by month, store
        ) e on e.month = md.month
        {"join store_rates r on r.store = e.store" if rate else ""}"""
    ctes["buckets"] = f"""
        -- one row per bucket of the period, so that a bucket without any data still has a row of zeros
        select distinct {plan.bucket("day")} as bucket, {NO_GROUP} as grp
        from period_days"""
    return ctes


def _levels(plan: Plan) -> list[list[str]]:
    """The computable ratio and derived metrics of the plan, by level: each level reads only earlier ones."""
    level_of: dict[str, int] = {m: 0 for m in plan.measures}

    def level(name: str) -> int:
        if name not in level_of:
            level_of[name] = 1 + max(level(part) for part in METRICS[name].parts)
        return level_of[name]

    wanted: set[str] = set()
    for name in plan.metrics:
        if plan.computable(name):
            wanted |= _composites(name)
    levels: dict[int, list[str]] = {}
    for name in METRICS:
        if name in wanted:
            levels.setdefault(level(name), []).append(name)
    return [levels[k] for k in sorted(levels)]


def _composites(name: str) -> set[str]:
    entry = METRICS.get(name)
    if entry is None or entry.kind == "base":
        return set()
    found = {name}
    for part in entry.parts:
        found |= _composites(part)
    return found


def _sql_of(text: str) -> str:
    # Names were checked against the registry by names_in; the expression is only names, + - * / and parentheses.
    names_in(text)
    return text


def _composite_sql(entry: Metric) -> str:
    if entry.kind == "derived":
        return _sql_of(entry.expression)
    return (
        f"case when {_sql_of(entry.denominator)} = 0 then null "
        f"else cast({_sql_of(entry.numerator)} as double) / ({entry.denominator}) end"
    )


@lru_cache(maxsize=512)  # the dashboard asks the same few plans again and again; building one takes milliseconds
def kpi_sql(plan: Plan, segment: Segment = ALL) -> str:
    """The query computing a plan on a segment: one row per bucket and group, columns bucket, grp and the plan's
    metrics."""
    measures, sources = plan.measures, plan.sources
    ctes = _ctes(plan, segment)
    if plan.session_events_rolled:
        ctes["session_events"] = _ROLLED_SESSION_EVENTS  # the same rows, from each session's events summed once
    if plan.visitor_numbers:
        # The same names, answered from the visitors by number (whose dimensions come first, where read).
        ctes = _combinations_cte(plan, segment) | ctes | _number_ctes(plan, segment)
    elif _whole_shop(plan, segment):
        ctes.update(_span_ctes())  # the same names, answered from the visitors' spans
    elif plan.split_spans and plan.by is not None:
        ctes["period_visitors"] = _split_visitors(plan.by, segment)
    if plan.window_is_period:
        # The window's earlier 30 days are the previous period and its later 30 days the period: the same visitors,
        # and its returners are the period's retained visitors.
        ctes["window_visitors"] = """
        -- one row per visitor and group of the earlier 30 days of the fixed retention window (the previous period)
        select grp, visitor_id from previous_visitors"""
        ctes["window_returners"] = """
        -- one row per visitor of the later 30 days of the window (the period) who visited in the earlier 30
        select visitor_id from current_visitors"""

    # One aggregate CTE per source, stacked with nulls for the other sources' measures. For the stores without session
    # logs, the session measures come from the platform's traffic aggregates; with stores of both kinds (Plan.mixed)
    # the logged stores' session measures are stacked with them. `cut_traffic` marks the session rows (0; null on the
    # other sources' rows) and flags aggregates the buckets cut (1).
    traffic = plan.traffic and "sessions" in sources
    cut = ", cut_traffic" if traffic else ""
    stacked = []
    for source in sources:
        own = [m for m in measures if MEASURES[m].source == source]
        reported = traffic and source == "sessions"  # some stores' session measures come from their traffic report
        # The rollups hold the logged stores' sessions only: where every store in view has a report instead, none.
        rolls = plan.rollups and not (reported and not plan.mixed)
        rolled = [m for m in own if m in rollup_measures(source) and not (plan.converted and m in UNCONVERTIBLE)]
        rolled = rolled if rolls else []
        logged = []  # the source's measures from its rows (not from a report): (columns, CTE) of each
        if rolled:
            ctes[f"{source}_rollup_measures"] = _rollup_measures(plan, segment, source, rolled)
            logged.append(
                (", ".join(m if m in rolled else f"null as {m}" for m in measures), f"{source}_rollup_measures")
            )
        rest = [m for m in own if m not in rolled]
        facts_name = _facts_of(plan, segment, source)
        for from_traffic in [False] if not reported else ([False, True] if plan.mixed else [True]):
            asked = own if from_traffic else rest  # a report gives every session measure it can
            if not asked:
                continue
            expressions = [
                f"{MEASURES[m].traffic or 'null'} as {m}"
                if from_traffic
                else f"{_aggregate(m, facts_name, plan)} as {m}"
                for m in asked
            ]
            if from_traffic:
                expressions.append("max(cut) as cut_traffic")
            aggregates = ",\n            ".join(expressions)
            note = " (from the platform's traffic)" if from_traffic else ""
            name = "traffic_measures" if from_traffic and plan.mixed else f"{source}_measures"
            ctes[name] = f"""
        -- one row per bucket and group: the measures of {source}{note}
        select
            bucket, grp,
            {aggregates}
        from {"traffic_facts" if from_traffic else facts_name}
        group by bucket, grp"""
            columns = ", ".join(m if m in asked else f"null as {m}" for m in measures)
            if from_traffic:
                stacked.append(f"select bucket, grp, {columns}, cut_traffic from {name}")
            else:
                logged.append((columns, name))
        if reported and len(logged) > 1:
            # One row per bucket and group of the logged stores' session measures, whether summed from the rollup or
            # counted: a session row missing a measure is a store that does not give it (total below).
            union = "\n            union all\n            ".join(f"select bucket, grp, {c} from {n}" for c, n in logged)
            sums = ",\n            ".join(f"sum({m}) as {m}" for m in own)
            ctes["logged_session_measures"] = f"""
        -- one row per bucket and group: the measures of the logged stores' sessions, from the rollup and the rows
        select
            bucket, grp,
            {sums}
        from (
            {union}
        )
        group by bucket, grp"""
            logged = [(", ".join(m if m in own else f"null as {m}" for m in measures), "logged_session_measures")]
        flag = ""  # which stacked rows are session rows (0), where some are a report's (cut or not)
        if traffic:
            flag = ", 0 as cut_traffic" if source == "sessions" else ", null as cut_traffic"
        stacked.extend(f"select bucket, grp, {columns}{flag} from {name}" for columns, name in logged)
    if plan.by is None:
        stacked.append(
            "select bucket, grp"
            + "".join(f", null as {m}" for m in measures)
            + cut.replace(", ", ", null as ")
            + " from buckets"
        )
    if not stacked:
        # Nothing asked for can be split by this dimension: no groups, hence no rows.
        stacked.append(f"select cast(null as date) as bucket, {NO_GROUP} as grp where 1 = 0")
    union = "\n        union all\n        ".join(stacked)
    ctes["stacked_measures"] = f"""
        -- the sources' measures, one after the other
        {union}"""

    def total(m: str) -> str:
        # A count or sum over no rows is 0 (SPEC §4); a measure only used inside ratios may stay null. From traffic
        # aggregates, a count the platform did not give stays null, and a group without aggregates has 0. Over stores
        # of both kinds, a measure one kind cannot give (a report's visitors over several rows, the logs' reported
        # sales) is null for the stores together, never the other kind's stores' figure alone.
        if traffic and MEASURES[m].source == "sessions":
            return (
                f"case when count(cut_traffic) = 0 then 0 when count({m}) < count(cut_traffic) then null"
                f" else sum({m}) end as {m}"
            )
        return f"coalesce(sum({m}), 0) as {m}" if m in METRICS else f"sum({m}) as {m}"

    sums = [total(m) for m in measures] + (["max(cut_traffic) as cut_traffic"] if traffic else [])
    totals = ",\n            ".join(sums)
    ctes["group_measures"] = f"""
        -- one row per bucket and group: every measure
        select
            bucket, grp{"," if measures else ""}
            {totals}
        from stacked_measures
        group by bucket, grp"""
    previous = "group_measures"
    for index, level in enumerate(_levels(plan), start=1):
        columns = ",\n            ".join(f"{_composite_sql(METRICS[m])} as {m}" for m in level)
        ctes[f"metrics_{index}"] = f"""
        -- ratios and derived metrics whose parts are all computed above
        select
            *,
            {columns}
        from {previous}"""
        previous = f"metrics_{index}"

    def output(name: str) -> str:
        sql_type = "bigint" if name in METRICS and METRICS[name].unit == "count" else "double"
        value = name if plan.computable(name) else "null"
        if traffic and any(MEASURES[m].source == "sessions" for m in measures_of(name)):
            value = f"case when cut_traffic = 1 then null else {value} end"  # an aggregate the window cuts
        return f"cast({value} as {sql_type}) as {name}"

    outputs = ",\n            ".join(output(m) for m in plan.metrics)
    ctes["kpis"] = f"""
        -- one row per bucket and group: the requested metrics, null where they cannot be split by the group
        select
            bucket, grp,
            {outputs}
        from {previous}"""
    return query(ctes, "select * from kpis\norder by bucket, grp nulls last")


# --- rollups: the additive measures pre-aggregated per day (metrics/rollups.py builds and refreshes them) ---------

# The dimensions the rollups keep: one row per day and combination of these session columns (events, orders and order
# lines take their session's; none: null) and the row's own store (an event or order without a stored session has one
# too). A plan split or filtered by another dimension reads the raw facts. With the store, a store filter or split is
# summed too (10 M sessions, a year: the KPI set under a store filter 2.88 → 0.29 s, split by store 5.20 → 0.31 s).
ROLLUP_DIMENSIONS = ("source", "medium", "campaign", "device", "store")
# The rolled-up measures whose daily sums one rate cannot convert: a line's cost is the line's own (its store's
# currency) or else the catalog's (the warehouse's), so a store's cogs mixes the two: converted, they are counted from
# the lines.
UNCONVERTIBLE = frozenset({"cogs"})
# The table holding each rolled-up source's rows.
ROLLUP_TABLES = {
    "sessions": "rollup_sessions",
    "events": "rollup_events",
    "orders": "rollup_orders",
    "items": "rollup_items",
}
# The funnel's steps, in order (metrics/funnel.py), as the events that reach them.
FUNNEL_STEPS = ("page_view", "click", "add_to_cart", "begin_checkout", "purchase")
# One row per session (by its start day) with events: what its events add up to, for the sessions' and the funnel's
# rollups, which read it instead of the events: a load's events are aggregated once for both, a load of orders reads
# no events, and one of sessions reads its own sessions' events only (the rollup is keyed by session). Refreshed before
# the rollups that read it (warehouse/rollups.py).
SESSION_EVENTS = "rollup_session_events"
# DAY_VISITORS (by default): one row per session with its day, the hash of its ROLLUP_DIMENSIONS (raw values,
# dimensions_hash) and its visitor's number (VISITOR_NUMBERS): the visitors of the whole shop or any split by those
# dimensions and filter on them, per bucket, are a bitmap of numbers per bucket and group, whose set bits are counted
# (a year of 10 M sessions by campaign: 0.1-0.2 s, where a distinct count of the sessions' visitor ids takes about a
# second), or where the bitmaps would not fit MAX_VISITOR_BITMAPS_BYTES the numbers counted distinct (a daily series
# of a year by source 0.69 s instead of 1.16 s); over one bucket, retention's visitors are found by number. A warehouse
# keeps it unless it chooses not to (metrics.rollups.keeps_visitor_numbers, `shopkpi rollups --visitor-numbers off`);
# it then keeps VISITOR_SPANS instead. The dimensions are a hash rather than their texts: the rows of a first
# load of 10 M sessions took 2.0–2.2 s with the texts, 1.1–1.2 s with the hash. A hash is read back as its dimensions
# from the sessions' rollup, which holds every combination of every day (_combinations_cte): a year by medium 0.06 →
# 0.10 s, by campaign 0.13 → 0.17 s.


def dimensions_hash(alias: str = "") -> str:
    """SQL: the hash of a row's ROLLUP_DIMENSIONS, as DAY_VISITORS keeps them (columns of `alias`, if given)."""
    prefix = f"{alias}." if alias else ""
    return f"hash({', '.join(prefix + d for d in ROLLUP_DIMENSIONS)})"


# The most memory the bitmaps of one query may take (a group's bitmap has a bit per visitor number): beyond it, the
# period's sessions are counted.
MAX_VISITOR_BITMAPS_BYTES = 256 * 2**20
# Each visitor's first and last day with a session: for a period that the span does not straddle, whether the visitor
# has a session in it, without reading the sessions (the whole shop's visitors, where the warehouse keeps no numbers).
VISITOR_SPANS = "rollup_visitors"
# Each visitor's first and last day with a session of each value of a dimension (none: null, as a split groups it),
# per dimension: for a split by it over one bucket, whether a visitor came from a group in the period, without a hash
# table of every visitor and group of the period's sessions (8.6 M pairs for a year of 10 M sessions by source).
# Each costs its build and its upkeep (at 10 M sessions 7–8.6 M rows, about 3 s of a first load and 0.6 s of a
# day's), so a warehouse keeps those of its choice (metrics.rollups.visitor_splits): none by default, as the visitor
# numbers answer every split.
SPLIT_SPANS = {
    "source": "rollup_visitor_sources",
    "medium": "rollup_visitor_mediums",
    "campaign": "rollup_visitor_campaigns",
    "device": "rollup_visitor_devices",
}
DEFAULT_VISITOR_SPLITS: tuple[str, ...] = ()
# Where a source's other (non-additive) measures are read from when its additive ones come from a rollup: the
# visitors of the period's sessions need no events or orders (and come from the visitor numbers, or over one bucket
# the spans).
NARROW_FACTS = {"sessions": "period_sessions"}


def _rollup_struct(store: str) -> str:
    # A rollup row's group: the session's dimensions and the row's own store (`store`: its column).
    return "struct_pack(" + ", ".join(f"{d} := {store if d == 'store' else f's.{d}'}" for d in ROLLUP_DIMENSIONS) + ")"


_ROLLUP_GROUP = DimensionSql(
    session=_rollup_struct("s.store"),
    event=_rollup_struct("e.store"),
    order=_rollup_struct("o.store"),
    line="l.grp",
    keep_empty=True,
)


def _facts_of(plan: Plan, segment: Segment, source: str) -> str:
    # The facts a source's measures are read from: narrower when its additive ones come from a rollup.
    if not plan.rollups:
        return SOURCE_FACTS[source]
    if source == "sessions" and (_whole_shop(plan, segment) or plan.split_spans or plan.visitor_numbers):
        return "period_visitors"
    return NARROW_FACTS.get(source, SOURCE_FACTS[source])


def _whole_shop(plan: Plan, segment: Segment) -> bool:
    # A plan whose visitors come from the whole shop's spans: one bucket, no group, no filter, and no visitor numbers.
    return (
        plan.rollups
        and plan.whole_spans
        and not plan.visitor_numbers
        and plan.grain is None
        and plan.by is None
        and not segment.dimensions
    )


def _aggregate(measure: str, facts_name: str, plan: Plan) -> str:
    # period_visitors holds each visitor once, so a distinct count of its ids is a count: the same number without
    # a hash table of millions of ids. From DAY_VISITORS (Plan.visitor_numbers) it holds a visitor's number per
    # session: each group's numbers set bits of one bitmap, whose set bits are counted (Plan.visitor_bits, the highest
    # number), or they are counted distinct (integers, where the raw facts hash text ids).
    aggregate = MEASURES[measure].aggregate
    if facts_name == "period_visitors" and plan.visitor_numbers:
        bits = f"bit_count(bitstring_agg(visitor_no, 1, {int(plan.visitor_bits)}))"
        counted = bits if plan.visitor_bits else "count(distinct visitor_no)"
        return re.sub(r"^count\(distinct (\w+)\)$", counted, aggregate)
    if facts_name == "period_visitors":
        return re.sub(r"^count\(distinct (\w+)\)$", r"count(\1)", aggregate)
    return aggregate


def _visitors_between(start: str, end: str) -> str:
    """The query of the shop's visitors with a session from timestamp `start` to `end` (excluded; parameters), one
    row each: from the spans where a span settles it (it ends or starts in the range), else from the range's sessions
    (a span that straddles the range does not say whether a session falls inside it)."""
    # The sessions are read from the table, not from period_sessions: with no straddling span the semi-join's empty
    # side skips the scan, which a materialised CTE would not.
    return f"""
        select v.visitor_id
        from {VISITOR_SPANS} v
        where v.first_day < {end} and v.last_day >= {start}
            and (v.last_day < {end} or v.first_day >= {start})
        union all
        select distinct s.store || chr(31) || s.visitor_id
        from sessions s
        where s.started_at >= {start} and s.started_at < {end}
            and s.store || chr(31) || s.visitor_id in (
                select v.visitor_id from {VISITOR_SPANS} v where v.first_day < {start} and v.last_day >= {end}
            )"""


def _span_ctes() -> dict[str, str]:
    """The visitor CTEs answered from the spans, for a plan of the whole shop without buckets or groups: the period's
    visitors, and those of the period and of the retention window's later 30 days that retention looks up."""
    period = _visitors_between("$start_ts", "$end_ts")
    window = _visitors_between("$window_middle_ts", "$window_end_ts")
    return {
        "period_visitors": f"""
        -- one row per visitor with a session in the period
        select $first_day as bucket, {NO_GROUP} as grp, p.visitor_id
        from ({period}) p""",
        "current_visitors": f"""
        -- one row per visitor of the period who was a visitor of the previous period
        select $first_day as bucket, p.visitor_id
        from ({period}) p
        where p.visitor_id in (select visitor_id from previous_visitors)""",
        "window_returners": f"""
        -- one row per visitor of the later 30 days of the fixed retention window who visited in the earlier 30
        select w.visitor_id
        from ({window}) w
        where w.visitor_id in (select visitor_id from window_visitors)""",
    }


def visitor_spans_query() -> str:
    """The rows of the visitors' spans for the visitors (store, visitor_id) in the temporary table VISITOR_KEYS:
    one row per visitor of a store (its id is `store || chr(31) || visitor_id`, as the raw facts count visitors),
    with the first and last day of its sessions."""
    # Matched on the two columns: the id's text is built for the matched sessions only, not for every session.
    day = dialect.truncate("day", "started_at")
    return f"""
        -- one row per visitor of a store: the first and last day of its sessions
        select store || chr(31) || visitor_id as visitor_id, min({day}) as first_day, max({day}) as last_day
        from sessions
        where {KEY_FILTERS["visitor_id"]}
        group by store, visitor_id"""


def split_visitors_from_spans(by: str | None, segment: Segment) -> bool:
    """Whether the visitors of a split by `by` over one bucket come from its spans (where the warehouse keeps them)
    rather than from a distinct count over the period's sessions: a dimension of SPLIT_SPANS, and no filter but one
    on that dimension (a value, not the empty string, which its spans hold as none)."""
    return by in SPLIT_SPANS and set(segment.dimensions) <= {by} and getattr(segment, by, None) != ""


def _split_visitors(dimension: str, segment: Segment) -> str:
    """The period_visitors CTE of a split by `dimension` read from its spans (SPLIT_SPANS): each visitor and group
    once, the spans that end or start in the period counted as they are, those that straddle it checked against the
    period's sessions (as _visitors_between does for the whole shop)."""
    table = SPLIT_SPANS[dimension]
    value = f" and {{alias}}.{dimension} = {dialect.param(dimension)}" if dimension in segment.dimensions else ""
    # A straddling span counts when a session of the period has its visitor and group (null, the group none, matches
    # null): a join, whose side without rows (no span straddles a period that runs to the data's last day or from its
    # first) skips the scan of the other; the period's sessions or the straddling spans, whichever is smaller, are
    # hashed (twice as fast for a month or a day inside a year of 10 M sessions as a semi-join on all straddlers).
    return f"""
        -- one row per visitor and {dimension} with a session of it in the period
        select $first_day as bucket, p.grp, p.visitor_id
        from (
            select v.{dimension} as grp, v.visitor_id
            from {table} v
            where v.first_day < $end_ts and v.last_day >= $start_ts
                and (v.last_day < $end_ts or v.first_day >= $start_ts){value.format(alias="v")}
            union all
            select distinct v.{dimension} as grp, v.visitor_id
            from {table} v
            join sessions s
                on s.store || chr(31) || s.visitor_id = v.visitor_id
                and nullif(s.{dimension}, '') is not distinct from v.{dimension}
            where v.first_day < $start_ts and v.last_day >= $end_ts{value.format(alias="v")}
                and s.started_at >= $start_ts and s.started_at < $end_ts{value.format(alias="s")}
        ) p"""


def split_spans_query(dimension: str) -> str:
    """The rows of SPLIT_SPANS[dimension] for the visitors (store, visitor_id) in the temporary table
    VISITOR_KEYS: one row per visitor of a store (`store || chr(31) || visitor_id`) and value of `dimension` of
    its sessions (null for none: null or empty, as a split groups it), with the first and last day of those sessions."""
    day = dialect.truncate("day", "started_at")
    return f"""
        -- one row per visitor of a store and {dimension} of its sessions: the first and last day of those sessions
        select
            store || chr(31) || visitor_id as visitor_id, nullif({dimension}, '') as {dimension},
            min({day}) as first_day, max({day}) as last_day
        from sessions
        where {KEY_FILTERS["visitor_id"]}
        group by store, visitor_id, nullif({dimension}, '')"""


def split_spans_current(con: duckdb.DuckDBPyConnection, dimension: str) -> bool:
    """Whether the warehouse holds the spans of `dimension`, built by this code's query (never on a Spark lake)."""
    return dimension in SPLIT_SPANS and recorded_current(con, SPLIT_SPANS[dimension], split_spans_query(dimension))


def day_visitors_query() -> str:
    """The rows of DAY_VISITORS for the days $start_ts to $end_ts: one per session, with its day, the hash of its
    ROLLUP_DIMENSIONS (dimensions_hash) and its visitor's number (VISITOR_NUMBERS: its store and id). Not made
    distinct: a visitor's bit is set once however many rows set it, and the distinct rows of 10 M sessions are 99.9 %
    of them (their hash table took 1.5 s of a build of 3.7 s).

    The query names the DuckDB that hashes: a stored hash is read back as its dimensions by hashing them again, so
    under another DuckDB, whose hash may differ, the rollup is not current (day_visitors_current) until it is rebuilt
    (the next load's ensure_rollups)."""
    day = dialect.truncate("day", "s.started_at")
    return f"""
        -- one row per session: its day, its session dimensions' hash (DuckDB {duckdb.__version__}) and its visitor's
        -- number
        select {day} as day, {dimensions_hash("s")} as dimensions, n.visitor_no
        from sessions s
        join {VISITOR_NUMBERS} n on n.store = s.store and n.visitor_id = s.visitor_id
        where s.started_at >= $start_ts and s.started_at < $end_ts"""


def day_visitors_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds DAY_VISITORS, built by this code's query (never on a Spark lake)."""
    return recorded_current(con, DAY_VISITORS, day_visitors_query())


def _reads_dimensions(plan: Plan, segment: Segment) -> bool:
    """Whether the visitors by number are split or filtered by their dimensions, which are then looked up."""
    return plan.by is not None or bool(segment.dimensions)


def _combinations_cte(plan: Plan, segment: Segment) -> dict[str, str]:
    """The CTE of every combination of the dimensions the sessions have on any day, with its hash, as DAY_VISITORS
    keeps it: from the sessions' rollup (tens of thousands of rows for a year), where _number_ctes reads them."""
    if not _reads_dimensions(plan, segment):
        return {}
    return {
        "dimension_combinations": f"""
        -- one row per combination of the sessions' dimensions on any day: their values and their hash
        select distinct {", ".join(ROLLUP_DIMENSIONS)}, {dimensions_hash()} as dimensions
        from {ROLLUP_TABLES["sessions"]}"""
    }


def _number_ctes(plan: Plan, segment: Segment) -> dict[str, str]:
    """The visitor CTEs read from DAY_VISITORS: the period's visitors, a visitor's number per session and bucket (the
    aggregate sets its bit in its group's bitmap or counts the numbers distinct, _aggregate), and for a plan of one
    bucket the visitors retention looks up, by number (integers where the raw CTEs hash millions of ids), in the same
    columns as the raw CTEs (a series' retention, over the bucket before each, reads the sessions). A split or a filter
    reads the rows' dimensions from dimension_combinations (_combinations_cte)."""
    group = NO_GROUP if plan.by is None else f"nullif(c.{plan.by}, '')"
    filters = "".join(f" and c.{d} = {dialect.param(d)}" for d in segment.dimensions)
    grouped = filtered = f"{DAY_VISITORS} d"
    if _reads_dimensions(plan, segment):
        grouped = f"{DAY_VISITORS} d join dimension_combinations c on c.dimensions = d.dimensions"
    if segment.dimensions:
        filtered = grouped

    def days(start: str, end: str) -> str:  # the sessions of timestamps `start` to `end` (midnights; excluded)
        return f"d.day >= cast({start} as date) and d.day < cast({end} as date){filters}"

    period_visitors = f"""
        -- one row per session of the period: its bucket, its group and its visitor's number
        select {plan.bucket("d.day")} as bucket, {group} as grp, d.visitor_no
        from {grouped}
        where d.day >= $first_day and d.day <= $last_day{filters}"""
    if plan.grain is not None:
        return {"period_visitors": period_visitors}
    return {
        "period_visitors": period_visitors,
        "previous_visitors": f"""
        -- one row per visitor (its number) of the previous period and group
        select distinct $first_day as bucket, {group} as grp, d.visitor_no as visitor_id
        from {grouped}
        where {days("$previous_start_ts", "$previous_end_ts")}""",
        "current_visitors": f"""
        -- one row per visitor (its number) of the period who was a visitor of the previous period
        select distinct $first_day as bucket, d.visitor_no as visitor_id
        from {filtered}
        where {days("$start_ts", "$end_ts")} and d.visitor_no in (select visitor_id from previous_visitors)""",
        "window_visitors": f"""
        -- one row per visitor (its number) and group of the earlier 30 days of the fixed retention window
        select distinct {group} as grp, d.visitor_no as visitor_id
        from {grouped}
        where {days("$window_start_ts", "$window_middle_ts")}""",
        "window_returners": f"""
        -- one row per visitor (its number) of the later 30 days of the retention window who visited in the earlier 30
        select distinct d.visitor_no as visitor_id
        from {filtered}
        where {days("$window_middle_ts", "$window_end_ts")}
            and d.visitor_no in (select visitor_id from window_visitors)""",
    }


def visitor_numbers_answer(con: duckdb.DuckDBPyConnection, by: str | None, segment: Segment = ALL) -> bool:
    """Whether compute_kpis reads the visitors of a split by `by` (None: the whole shop) on `segment` by number from
    DAY_VISITORS: the warehouse keeps it, the rollups carry the split and the filter, and no two combinations of the
    dimensions share a hash where the split or the filter reads them (their rows could not be told apart)."""
    if not rollups_carry(by, segment) or not day_visitors_current(con):
        return False
    if by is None and not segment.dimensions:
        return True
    clash = con.sql(
        f"""
        select count(distinct ({", ".join(ROLLUP_DIMENSIONS)})) <> count(distinct {dimensions_hash()})
        from {ROLLUP_TABLES["sessions"]}"""
    )
    return not clash.fetchall()[0][0]


def visitor_bits(con: duckdb.DuckDBPyConnection, by: str | None, segment: Segment = ALL, buckets: int = 1) -> int:
    """The highest visitor number where compute_kpis counts the visitors of `buckets` buckets split by `by` (None:
    the whole shop) on `segment` as bitmaps from DAY_VISITORS: the numbers answer (visitor_numbers_answer) and the
    bitmaps of every bucket and group the split can have fit MAX_VISITOR_BITMAPS_BYTES; else 0."""
    return _fitting_bits(con, by, buckets) if visitor_numbers_answer(con, by, segment) else 0


def _fitting_bits(con: duckdb.DuckDBPyConnection, by: str | None, buckets: int) -> int:
    """The highest visitor number where the bitmaps of `buckets` buckets of every group of a split by `by` fit
    MAX_VISITOR_BITMAPS_BYTES; else 0 (the caller has checked that the numbers answer)."""
    highest = con.sql(f"select coalesce(max(visitor_no), 0) from {VISITOR_NUMBERS}").fetchall()[0][0]
    # Every value the split has on any day (and none), from the sessions' small rollup.
    groups = con.sql(f"select count(distinct nullif({by or 'null'}, '')) + 1 from {ROLLUP_TABLES['sessions']}")
    bitmaps = buckets * groups.fetchall()[0][0]
    return int(highest) if highest and bitmaps * (highest // 8 + 1) <= MAX_VISITOR_BITMAPS_BYTES else 0


def visitors_without_scan(con: duckdb.DuckDBPyConnection, by: str | None, segment: Segment = ALL) -> bool:
    """Whether compute_kpis counts the visitors of a split by `by` over one bucket without a distinct count over
    the period's sessions (seconds for a year of a large shop): from the split's spans (visitors_from_spans) or the
    visitors' bitmaps (visitor_bits)."""
    return visitors_from_spans(con, by, segment) or bool(visitor_bits(con, by, segment))


def visitors_from_spans(con: duckdb.DuckDBPyConnection, by: str | None, segment: Segment = ALL) -> bool:
    """Whether compute_kpis counts the visitors of a split by `by` over one bucket from the split's spans: the
    warehouse keeps them (split_spans_current) and split_visitors_from_spans; else from the period's sessions, which
    take seconds for a year of a large shop."""
    return split_visitors_from_spans(by, segment) and by is not None and split_spans_current(con, by)


def rollup_measures(source: str) -> tuple[str, ...]:
    """The measures of `source` its rollup holds: the additive ones, whose daily sums add up to any period's."""
    if source not in ROLLUP_TABLES:
        return ()
    return tuple(m for m, entry in MEASURES.items() if entry.source == source and entry.additive)


@cache
def funnel_step(event_type: str) -> str:
    """SQL: the funnel step (1–5, FUNNEL_STEPS' order) an event of that type reaches, 0 for any other event."""
    steps = " ".join(f"when '{step}' then {number}" for number, step in enumerate(FUNNEL_STEPS, start=1))
    return f"case {event_type} {steps} else 0 end"


def session_events_query() -> str:
    """The rows of SESSION_EVENTS for the sessions (store, session_id) in the temporary table SESSION_KEYS: day (of
    its start), store, session_id, its page view events, whether it added to cart (1/0) and the furthest funnel step
    its events reach (1–5, 0: none). Keyed by session, not by day, so that a load of one session (or of one session's
    events) recomputes that session's row, not its whole day's (issue 14)."""
    # The events summed per session before they meet their sessions: a year's 49 M events join as 10 M sums (3.7 s
    # instead of 6.5 s for all of them).
    ctes = {
        "event_sums": f"""
            -- one row per session to recompute that has events: what they add up to
            select
                store, session_id,
                sum(case when event_type = 'page_view' then 1 else 0 end) as page_view_events,
                max(case when event_type = 'add_to_cart' then 1 else 0 end) as added_to_cart,
                max({funnel_step("event_type")}) as event_step
            from events
            where {KEY_FILTERS["session_id"]}
            group by store, session_id""",
        "session_events": """
            -- one row per such session that is stored: the day it started and its events' sums
            select
                cast(date_trunc('day', s.started_at) as date) as day, es.store, es.session_id,
                es.page_view_events, es.added_to_cart, es.event_step
            from event_sums es
            join sessions s on s.store = es.store and s.session_id = es.session_id""",
    }
    return query(ctes, "select * from session_events")


def _reads_session_events(plan: Plan) -> bool:
    """Whether a measure of the plan reads what a session's events add up to (session_facts' page_views and
    added_to_cart). Where none does, DuckDB drops the raw CTE's join, whose rows are unique by session (a year's
    sessions by landing page: 0.28 s, against 1.0 s joining SESSION_EVENTS)."""
    return any(re.search(r"\b(page_views|added_to_cart)\b", MEASURES[m].aggregate) for m in plan.measures)


def session_events_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds SESSION_EVENTS built by this code's query (never on a Spark lake)."""
    return recorded_current(con, SESSION_EVENTS, session_events_query())


# The sessions' rollup reads its sessions' events from SESSION_EVENTS (the same numbers the raw CTE gives: a session
# without page views or add-to-carts counts 0 either way).
_ROLLED_SESSION_EVENTS = f"""
    -- one row per session of the period with events: its page views and whether it added to cart
    select store, session_id, page_view_events, added_to_cart
    from {SESSION_EVENTS}
    where day >= $first_day and day <= $last_day"""


def rollup_query(source: str) -> str:
    """The rows of the rollup of `source` for the days $start_ts to $end_ts: one row per day and combination of
    ROLLUP_DIMENSIONS (their raw values), columns day, the dimensions, then the source's additive measures, each the
    registry's own aggregate over the same facts a raw query reads."""
    measures = rollup_measures(source)
    ctes = _ctes(Plan(measures, grain="day"), ALL, _ROLLUP_GROUP)
    ctes["session_events"] = _ROLLED_SESSION_EVENTS
    dimensions = ", ".join(f"grp.{d} as {d}" for d in ROLLUP_DIMENSIONS)
    aggregates = ",\n            ".join(f"{MEASURES[m].aggregate} as {m}" for m in measures)
    ctes["rollup"] = f"""
        -- one row per day and combination of the rollup's dimensions: the additive measures of {source}
        select
            bucket as day, {dimensions},
            {aggregates}
        from {SOURCE_FACTS[source]}
        group by bucket, grp"""
    return query(ctes, "select * from rollup")


def _rollup_measures(plan: Plan, segment: Segment, source: str, measures: Sequence[str]) -> str:
    """The CTE summing `measures` of `source` per bucket and group from its rollup: a sum of daily sums, the same
    number as the raw facts' aggregate over the period."""
    group = NO_GROUP if plan.by is None else f"nullif(r.{plan.by}, '')"
    filters = "".join(f" and r.{d} = {dialect.param(d)}" for d in segment.dimensions)
    # Money of stores in several currencies: each store's daily sums (in its currency) times its rate, the orders of a
    # store without one left out, as the raw facts convert and leave out each order.
    converted = plan.converted and source in ("orders", "items")
    sums = ",\n            ".join(
        f"sum(r.{m} * sr.rate) as {m}" if converted and is_money_figure(m) else f"sum(r.{m}) as {m}" for m in measures
    )
    note = " (money: reporting currency)" if converted else ""
    rates = "join store_rates sr on sr.store = r.store" if converted else ""
    return f"""
        -- one row per bucket and group: the measures of {source}, summed from its daily rollup{note}
        select
            {plan.bucket("r.day")} as bucket, {group} as grp,
            {sums}
        from {ROLLUP_TABLES[source]} r
        {rates}
        where r.day >= $first_day and r.day <= $last_day{filters}
        group by bucket, grp"""


def rollups_carry(by: str | None, segment: Segment) -> bool:
    """Whether the rollups carry a split by `by` (None: no split) and the segment's filters: ROLLUP_DIMENSIONS."""
    carried = set(ROLLUP_DIMENSIONS)
    return (by is None or by in carried) and set(segment.dimensions) <= carried


def rollups_answer(plan: Plan, segment: Segment) -> bool:
    """Whether the rollups carry what the plan splits and filters by (else it reads the raw facts only). Stores
    with only a traffic report have their session measures from it (the rollups hold the logged stores' sessions)."""
    return rollups_carry(plan.by, segment)


def rollups_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds every rollup, built by the queries this code would build it with (a rollup built
    by another version of the registry is not read)."""
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'rollup_queries'").fetchall()[0][0]
    if not found:
        return False
    stored = dict(con.sql("select table_name, query from rollup_queries").fetchall())
    current = all(stored.get(table) == rollup_query(source) for source, table in ROLLUP_TABLES.items())
    # The visitors of one kind or the other: numbered (the default) or their spans.
    visitors = stored.get(DAY_VISITORS) == day_visitors_query() or stored.get(VISITOR_SPANS) == visitor_spans_query()
    return current and stored.get(SESSION_EVENTS) == session_events_query() and visitors


# --- running it ------------------------------------------------------------------------------------------------


def _check_metrics(metrics: Sequence[str] | None) -> tuple[str, ...]:
    """The names asked for: metrics of the registry, or measures (building blocks, e.g. for checking sums)."""
    if metrics is None:
        return tuple(METRICS)
    unknown = [m for m in metrics if m not in METRICS and m not in MEASURES]
    if unknown:
        raise ValueError(f"unknown metric(s): {', '.join(unknown)}; known: {', '.join(METRICS)}")
    return tuple(metrics)


def _check_by(by: str | None) -> str | None:
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; known: {', '.join(DIMENSIONS)}")
    return by


def _parameters(period: Period, grain: str | None, span: Period | None) -> dict:
    """The values the plan's SQL may name: the period, its previous period (retention), the data's span (expenses are
    counted for covered days only) and the fixed retention window (anchored on the period's last day with data)."""
    if grain is None:
        previous_start, previous_end = period.previous().start, period.start
    else:
        # Each bucket's previous visitors are those of the bucket before it, the first bucket's included.
        previous_start = _shift(grain, _bucket_start(grain, period.start), -1)
        previous_end = _bucket_start(grain, period.end)
    anchor = min(period.end, span.end) if span else period.end
    window_end = datetime.combine(anchor + timedelta(days=1), time())
    return {
        "start_ts": period.start_ts,
        "end_ts": period.end_ts,
        "first_day": period.start,
        "last_day": period.end,
        "previous_start_ts": datetime.combine(previous_start, time()),
        "previous_end_ts": datetime.combine(previous_end, time()),
        # No data at all: an empty span (no day is covered).
        "data_first": span.start if span else period.end + timedelta(days=1),
        "data_last": span.end if span else period.start - timedelta(days=1),
        "window_start_ts": window_end - timedelta(days=2 * RETENTION_WINDOW),
        "window_middle_ts": window_end - timedelta(days=RETENTION_WINDOW),
        "window_end_ts": window_end,
    }


def _window_is_period(values: dict) -> bool:
    """Whether the previous period is the retention window's earlier 30 days (then the period is its later 30)."""
    return (values["previous_start_ts"], values["previous_end_ts"]) == (
        values["window_start_ts"],
        values["window_middle_ts"],
    )


def _bucket_start(grain: str, day: date) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _buckets(period: Period, grain: str | None) -> int:
    """How many buckets of `grain` (None: the whole period) the period has."""
    if grain is None:
        return 1
    count, start = 0, _bucket_start(grain, period.start)
    while start <= period.end:
        count, start = count + 1, _shift(grain, start, 1)
    return count


def _shift(grain: str, day: date, count: int) -> date:
    if grain == "day":
        return day + timedelta(days=count)
    if grain == "week":
        return day + timedelta(weeks=count)
    return add_months(day, count)


def _run(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    period: Period,
    segment: Segment,
    rates: Rates | None = None,
    use_rollups: bool = True,
) -> pl.DataFrame:
    import polars as pl

    missing = missing_inputs(con)
    # Each store's session figures come from its logs where it has any, else from its traffic report (issue 13).
    stores = session_stores(con, segment)
    # Stores in different currencies: money converted with the user's rate table, else null (metrics/currency.py).
    # A split by store keeps each store's own currency.
    currencies = mixed_currencies(con, segment) if plan.by != "store" else []
    convert = bool(currencies) and not missing_rates(currencies, rates)
    plan = replace(plan, traffic=stores.kind != "logs", mixed=stores.kind == "mixed", converted=convert)
    # The rollups live in the embedded warehouse only: a lake on Spark is read raw.
    embedded = isinstance(con, duckdb.DuckDBPyConnection)
    if use_rollups and embedded and rollups_answer(plan, segment) and rollups_current(con):
        plan = replace(plan, rollups=True)
    elif use_rollups and _reads_session_events(plan) and session_events_current(con):
        # A split or filter the rollups do not carry: the sessions' events summed serve any.
        plan = replace(plan, session_events_rolled=True)
    if plan.rollups:  # the visitors (over one bucket as the Traffic page asks: visitors_without_scan)
        if plan.grain is None and visitors_from_spans(con, plan.by, segment):
            plan = replace(plan, split_spans=True)
        elif visitor_numbers_answer(con, plan.by, segment):
            bits = _fitting_bits(con, plan.by, _buckets(period, plan.grain))
            plan = replace(plan, visitor_numbers=True, visitor_bits=bits)
        elif plan.grain is None:
            plan = replace(plan, whole_spans=recorded_current(con, VISITOR_SPANS, visitor_spans_query()))
    if use_rollups and (segment.source is not None or segment.device is not None) and order_rows_current(con):
        plan = replace(plan, order_rows=True)
    sql = kpi_sql(plan, segment)
    span = data_span(con) if re.search(r"\$(data|window)_", sql) else None
    values = _parameters(period, plan.grain, span)
    if plan.grain is None and "window_visitors" in sql and _window_is_period(values):
        plan = replace(plan, window_is_period=True)
        sql = kpi_sql(plan, segment)
    if convert and rates is not None:
        values["rates"] = rate_rows(con, rates)
    frame = con.sql(sql, params=parameters(sql, values, segment)).pl()
    # A figure needing an input the shop has not given at all is null (SPEC §4; metrics/inputs.py says why).
    frame = blank_unknown(frame.rename({"grp": "group"}), missing, stores, by_store=plan.by == "store")
    if currencies and not convert:
        blank = [c for c in frame.columns if c in METRICS or c in MEASURES if is_money_figure(c)]
        frame = frame.with_columns(pl.lit(None, dtype=frame.schema[c]).alias(c) for c in blank)
    return frame


def _period(start: date | Period, end: date | None) -> Period:
    if isinstance(start, Period):
        return start
    if end is None:
        raise TypeError("give an end date or a Period")
    return Period(start, end)


def compute_kpis(
    con: duckdb.DuckDBPyConnection,
    start: date | Period,
    end: date | None = None,
    by: str | None = None,
    metrics: Sequence[str] | None = None,
    segment: Segment = ALL,
    rollups: bool = True,
    rates: Rates | None = None,
) -> pl.DataFrame:
    """KPIs for the period [start, end] (local dates, inclusive) on a segment (default: the whole shop). One row per
    group (one row, group null, if no `by`). With `rollups` (the default) the additive measures are summed from the
    warehouse's daily rollups where they are current and carry `by` and the segment; the numbers are the same as the
    raw facts' (`rollups=False`).

    Columns: `group`, then each metric in registry order (or the order asked); counts are Int64, the rest Float64;
    null where a metric is undefined (zero denominator) or cannot be split by `by`. A metric the segment cannot split
    (e.g. operating expenses) is the whole shop's: `metrics.segments.blank_unsplittable` blanks it for display.
    Over stores in different currencies money figures are null unless `rates` converts them (metrics/currency.py).
    Each store's session figures come from its own session logs, else its platform's traffic report; over stores of
    both kinds a figure only one kind gives is null (`traffic_gaps` and metrics/inputs.py `unknown` say why).
    """
    plan = Plan(_check_metrics(metrics), _check_by(by))
    return _run(con, plan, _period(start, end), segment, rates, rollups).drop("bucket")


def kpi_series(
    con: duckdb.DuckDBPyConnection,
    start: date | Period,
    end: date | None = None,
    grain: str = "day",
    metrics: Sequence[str] | None = None,
    by: str | None = None,
    segment: Segment = ALL,
    rollups: bool = True,
    rates: Rates | None = None,
) -> pl.DataFrame:
    """KPIs per day, ISO week or month of the period, on a segment (default: the whole shop). One row per bucket
    (and group if `by`).

    `period` is the bucket's first date (Monday for weeks); the first and last bucket are clipped to the period.
    Each bucket's retention_rate is over the visitors of the bucket before it; returning_customer_rate counts orders
    up to the bucket's end. Without `by` every bucket has a row, with zeros where nothing happened.
    """
    if grain not in dialect.GRAINS:
        raise ValueError(f"unknown grain {grain!r}; use one of {', '.join(dialect.GRAINS)}")
    plan = Plan(_check_metrics(metrics), _check_by(by), grain)
    frame = _run(con, plan, _period(start, end), segment, rates, rollups).rename({"bucket": "period"})
    return frame if by else frame.drop("group")


def traffic_cut(con: duckdb.DuckDBPyConnection, period: Period, segment: Segment = ALL) -> str | None:
    """Why session figures are unknown for `period` where some store's sessions come from the platform's traffic
    reports: a report's date range that the period cuts (None when none is cut, or the stores in view read their
    session logs). Only the stores of the segment without session logs count (metrics/inputs.py SessionStores)."""
    stores = session_stores(con, segment)
    if not stores.reported:
        return None
    rows = con.sql(
        """
        select store, min(date), max(end_date), count(*)
        from traffic
        where date <= $last and end_date >= $first and (date < $first or end_date > $last)
        group by store
        order by store""",
        params={"first": period.start, "last": period.end},
    ).fetchall()
    cut = [row for row in rows if row[0] in stores.reported]
    if not cut:
        return None
    first, last = min(row[1] for row in cut), max(row[2] for row in cut)
    whose = "" if stores.one_shop else f" of {store_list(row[0] for row in cut)}"
    return (
        f"the platform's traffic report{whose} covers {first} – {last} as a whole and this period cuts it: its"
        " sessions cannot be split by day (choose a period that covers the report)"
    )


# What a platform's traffic report may leave out: the session measure, the traffic column its figure needs (None:
# no report gives it), and what it is called in a reason.
_REPORT_GIVES = {
    "visitors": ("visitors", "distinct visitors", "不重复访客数"),
    "bounced_sessions": ("bounced_sessions", "one-page (bounced) sessions", "跳失访问数"),
    "engaged_sessions": ("engaged_sessions", "engaged sessions", "有效互动访问数"),
    "converted_sessions": ("orders", "orders", "订单数"),
    "cart_sessions": ("cart_sessions", "add-to-cart sessions", "加购访问数"),
    "reported_sales": ("revenue", "sales", "销售额"),
    "reported_orders": ("orders", "orders", "订单数"),
    "converted_cart_sessions": (None, "which add-to-cart sessions ordered", "加购后下单的访问数"),
}


def traffic_gaps(
    con: duckdb.DuckDBPyConnection, period: Period, lang: str = "en", segment: Segment = ALL
) -> dict[str, str]:
    """The metrics that the platform's traffic reports of the period (of the segment's stores without session logs)
    cannot give, each with the reason: a count a report row of the period leaves empty, what no report gives, and
    distinct visitors, which only one report row's own count gives (counts of several days or channels do not add
    up). Empty where every store in view reads its session logs."""
    stores = session_stores(con, segment)
    if not stores.reported:
        return {}
    filters = "".join(f" and {d} = {dialect.param(d)}" for d in segment.dimensions)
    columns = sorted({column for column, _, _ in _REPORT_GIVES.values() if column})
    counts = ", ".join(f"count({c})" for c in columns)
    sql = f"""
        select store, count(*), {counts}
        from traffic
        where date <= $last and end_date >= $first{filters}
        group by store"""
    params = {"first": period.start, "last": period.end, **{d: getattr(segment, d) for d in segment.dimensions}}
    rows = [row for row in con.sql(sql, params=params).fetchall() if row[0] in stores.reported]
    if not rows:
        return {}
    given = {c: all(row[2 + k] == row[1] for row in rows) for k, c in enumerate(columns)}
    several = sum(row[1] for row in rows) > 1
    gaps = {}
    for measure, (column, what_en, what_zh) in _REPORT_GIVES.items():
        if column is None or not given[column] or (measure == "visitors" and several):
            if lang == "zh":
                gaps[measure] = f"平台流量报表未提供{what_zh}"
            else:
                gaps[measure] = f"the platform's traffic report does not give {what_en}"
    if "visitors" in gaps and several:
        gaps["visitors"] += (
            "（报表各行（每天或每个渠道）的访客数不能相加）"
            if lang == "zh"
            else " (its rows' visitor counts, one per day or channel, do not add up)"
        )
    found = {}
    for name in METRICS:
        reasons = [gaps[m] for m in _REPORT_GIVES if m in gaps and m in measures_of(name)]
        if reasons:
            found[name] = "; ".join(reasons)
    return found


def comparison_periods(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, Period | None]:
    """The periods `compare_periods` compares `period` with: 'previous' and 'last_year', each cut to the days of
    `period` that have data (None when none has)."""
    covered = period.covered(data_span(con))
    return {key: period.compared(key, covered) for key in ("previous", "last_year")}


def compare_periods(
    con: duckdb.DuckDBPyConnection,
    start: date | Period,
    end: date | None = None,
    by: str | None = None,
    metrics: Sequence[str] | None = None,
    segment: Segment = ALL,
    rates: Rates | None = None,
) -> pl.DataFrame:
    """The period's KPIs on a segment (default: the whole shop) against the previous period and the same period last
    year. One row per group and metric.

    The periods compared with follow SPEC §4 (`Period.previous`, `Period.last_year`); a partial period (running past
    the data's latest date or starting before its first) is compared with the same covered days of each, and where no
    day of it is covered the comparisons are null. `comparison_periods` says which periods these are.

    Columns: group, metric, value, previous, previous_delta (value − previous), previous_change (relative, null when
    the previous value is 0 or null), last_year, last_year_delta, last_year_change.
    """
    import polars as pl

    period = _period(start, end)
    names = _check_metrics(metrics)
    value = compute_kpis(con, period, by=by, metrics=names, segment=segment, rates=rates)
    frames = {"value": value}
    for key, other in comparison_periods(con, period).items():
        if other is None:
            frames[key] = value.with_columns(pl.lit(None, dtype=value.schema[name]).alias(name) for name in names)
        else:
            frames[key] = compute_kpis(con, other, by=by, metrics=names, segment=segment, rates=rates)
    long = {
        key: frame.with_columns(pl.col(list(names)).cast(pl.Float64)).unpivot(
            index="group", on=list(names), variable_name="metric", value_name=key
        )
        for key, frame in frames.items()
    }
    joined = long["value"].join(long["previous"], on=["group", "metric"], how="full", coalesce=True, nulls_equal=True)
    joined = joined.join(long["last_year"], on=["group", "metric"], how="full", coalesce=True, nulls_equal=True)
    order = {name: i for i, name in enumerate(names)}
    joined = joined.with_columns(pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_order")).sort(
        ["group", "_order"], nulls_last=True
    )
    for key in ("previous", "last_year"):
        joined = joined.with_columns(
            (pl.col("value") - pl.col(key)).alias(f"{key}_delta"),
            pl.when(pl.col(key) != 0)
            .then((pl.col("value") - pl.col(key)) / pl.col(key).abs())
            .otherwise(None)
            .alias(f"{key}_change"),
        )
    columns = ["group", "metric", "value"]
    columns += [f"{key}{suffix}" for key in ("previous", "last_year") for suffix in ("", "_delta", "_change")]
    return joined.select(columns)


__all__ = [
    "DIMENSION_SQL",
    "Plan",
    "compare_periods",
    "comparison_periods",
    "compute_kpis",
    "kpi_series",
    "kpi_sql",
    "traffic_cut",
    "traffic_gaps",
]
