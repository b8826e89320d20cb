"""Benchmark: the full KPI set of a 30-day window, cold and warm, against one hand-written DuckDB query.

    python -m bench.kpis --db data/shopkpi.duckdb [--from D --to D] [--repeat 5]
    python -m bench.kpis --db /tmp/big.duckdb --synthetic 1500000   # first build a synthetic shop there
    python -m bench.kpis --db /tmp/big.duckdb --rollups   # raw vs rollups vs hand-written, 30 days and a year

The hand-written query below computes the same 32 numbers without the registry, grouping or series machinery; the
benchmark checks that both give the same numbers, then prints both timings and their ratio. It doubles as an
independent implementation of SPEC §4 for the tests. With --rollups it builds the warehouse's rollups if they are not
current (metrics/rollups.py, timed) and prints the KPI set of the last 30 days and the last 365 days, warm, from the
raw tables, from the rollups and by the hand-written query, checking that all three agree.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from metrics.compute import compute_kpis, rollups_current
from metrics.periods import Period, default_period, parse_date
from metrics.registry import METRICS
from metrics.rollups import build_rollups
from warehouse import writing

REFERENCE_SQL = """
with
valid_orders as (
    select * from orders where status in ('paid', 'shipped', 'delivered', 'returned')
),
period_orders as (
    select * from valid_orders where ordered_at >= $start_ts and ordered_at < $end_ts
),
order_lines as (
    select
        i.order_id,
        sum(i.quantity) as units,
        sum(i.quantity * i.unit_price) as sales,
        sum(case when o.status <> 'returned' then i.quantity * coalesce(i.unit_cost, p.unit_cost) end) as cost,
        sum(case when o.status <> 'returned' then i.quantity * i.unit_price end) as costable,
        sum(
            case when o.status <> 'returned' and coalesce(i.unit_cost, p.unit_cost) is not null
            then i.quantity * i.unit_price end
        ) as costed
    from period_orders o
    join order_items i on i.order_id = o.order_id
    left join products p on p.sku = i.sku
    group by i.order_id
),
order_totals as (
    select
        count(*) as orders,
        count(distinct nullif(o.customer_id, '')) as buyers,
        coalesce(sum(l.units), 0) as units,
        coalesce(sum(case when l.order_id is null then coalesce(o.subtotal, 0) else l.sales end), 0) as gross_sales,
        coalesce(sum(o.discount), 0) as discounts,
        coalesce(sum(o.refund_amount), 0) as refunds,
        coalesce(sum(o.shipping_fee), 0) as shipping_income,
        coalesce(sum(l.cost), 0) as cogs,
        coalesce(sum(case when l.order_id is null and o.status <> 'returned' then coalesce(o.subtotal, 0)
            else l.costable end), 0) as costable,
        coalesce(sum(l.costed), 0) as costed,
        count(*) filter (where l.order_id is null and o.subtotal is null) as unvalued,
        count(*) filter (where l.order_id is null) as unlined,
        coalesce(sum(coalesce(o.shipping_cost, 0) + coalesce(o.payment_fee, 0)), 0) as fulfilment_cost
    from period_orders o
    left join order_lines l on l.order_id = o.order_id
),
returning_buyers as (
    select count(*) as returning_buyers
    from (
        select customer_id
        from valid_orders
        where ordered_at < $end_ts
            and customer_id in (select nullif(customer_id, '') from period_orders)
        group by customer_id
        having count(*) >= 2
    )
),
period_sessions as (
    select * from sessions where started_at >= $start_ts and started_at < $end_ts
),
session_event_counts as (
    select
        session_id,
        count(*) filter (where event_type = 'page_view') as page_view_events,
        count(*) filter (where event_type = 'add_to_cart') as cart_events
    from events
    where session_id in (select session_id from period_sessions)
    group by session_id
),
session_flags as (
    select
        s.visitor_id,
        coalesce(s.pageviews, c.page_view_events, 0) = 1 as bounced,
        coalesce(c.cart_events, 0) > 0 as carted,
        s.session_id in (select session_id from valid_orders where session_id is not null) as converted,
        coalesce(s.duration_s, 0) > 10 or coalesce(s.pageviews, c.page_view_events, 0) >= 2
            or s.session_id in (select session_id from valid_orders where session_id is not null) as engaged
    from period_sessions s
    left join session_event_counts c on c.session_id = s.session_id
),
session_totals as (
    select
        count(*) as sessions,
        count(distinct visitor_id) as visitors,
        count(*) filter (where bounced) as bounced,
        count(*) filter (where engaged) as engaged,
        count(*) filter (where converted) as converted,
        count(*) filter (where carted) as carted,
        count(*) filter (where carted and converted) as carted_converted
    from session_flags
),
event_totals as (
    select
        count(*) filter (where event_type = 'click') as clicks,
        count(*) filter (where event_type = 'impression') as impressions
    from events
    where occurred_at >= $start_ts and occurred_at < $end_ts
),
retention as (
    select
        count(*) as previous_visitors,
        count(*) filter (where visitor_id in (select visitor_id from period_sessions)) as retained
    from (
        select distinct visitor_id
        from sessions
        where started_at >= $previous_start_ts and started_at < $start_ts
    )
),
window_retention as (
    select
        count(*) as window_visitors,
        count(*) filter (
            where visitor_id in (
                select visitor_id from sessions where started_at >= $window_middle_ts and started_at < $window_end_ts
            )
        ) as window_returners
    from (
        select distinct visitor_id
        from sessions
        where started_at >= $window_start_ts and started_at < $window_middle_ts
    )
),
ads as (
    select coalesce(sum(cost), 0) as ad_spend, sum(clicks) as ad_clicks, sum(impressions) as ad_impressions
    from ad_spend
    where date between $first_day and $last_day
),
reported as (
    -- the platform's own attribution, from its traffic report: only whole reports inside the period, else unknown
    select
        case when bool_or(date < $first_day or end_date > $last_day) then null else coalesce(sum(revenue), 0) end
            as reported_sales,
        case when bool_or(date < $first_day or end_date > $last_day) then null else sum(orders) end
            as reported_orders
    from traffic
    where date <= $last_day and end_date >= $first_day
),
opex as (
    select coalesce(sum(e.amount * d.days / d.month_days), 0) as operating_expenses
    from (
        select strftime(day, '%Y-%m') as month, dayofmonth(last_day(day)) as month_days, count(*) as days
        from (select unnest(generate_series($first_day, $last_day, interval 1 day))::date as day)
        where day between $data_first and $data_last
        group by all
    ) d
    join (select month, sum(amount) as amount from expenses group by month) e using (month)
),
totals as (
    select
        *,
        gross_sales - discounts - refunds as net_sales,
        gross_sales - discounts - refunds + shipping_income as total_revenue,
        gross_sales - discounts - refunds - cogs as gross_profit,
        gross_sales - discounts - refunds + shipping_income - cogs - fulfilment_cost - ad_spend as contribution
    from order_totals, returning_buyers, session_totals, event_totals, retention, window_retention, ads, reported,
        opex
)
select
    sessions, visitors, orders, buyers, units, gross_sales, discounts, refunds, net_sales, shipping_income,
    total_revenue,
    (gross_sales - discounts) / nullif(orders, 0) as aov,
    (gross_sales - discounts) / nullif(buyers, 0) as revenue_per_buyer,
    converted / nullif(sessions, 0) as conversion_rate,
    buyers / nullif(visitors, 0) as buyer_conversion_rate,
    carted_converted / nullif(carted, 0) as cart_conversion_rate,
    clicks / nullif(impressions, 0) as ctr,
    ad_clicks / nullif(ad_impressions, 0) as ad_ctr,
    bounced / nullif(sessions, 0) as bounce_rate,
    (sessions - engaged) / nullif(sessions, 0) as engaged_bounce_rate,
    reported_sales,
    reported_sales / nullif(reported_orders, 0) as reported_aov,
    retained / nullif(previous_visitors, 0) as retention_rate,
    window_returners / nullif(window_visitors, 0) as retention_30d,
    returning_buyers / nullif(buyers, 0) as returning_customer_rate,
    cogs,
    costed / nullif(costable, 0) as cost_coverage,
    (orders - unvalued) / nullif(orders, 0) as order_value_coverage,
    (orders - unlined) / nullif(orders, 0) as order_line_coverage,
    gross_profit,
    gross_profit / nullif(gross_sales - discounts - refunds, 0) as gross_margin,
    fulfilment_cost,
    ad_spend,
    (gross_sales - discounts) / nullif(ad_spend, 0) as roas,
    ad_spend / nullif(orders, 0) as cost_per_order,
    contribution,
    operating_expenses,
    contribution - operating_expenses as net_profit,
    (contribution - operating_expenses) / nullif(total_revenue, 0) as net_margin
from totals
"""


# What each figure needs the shop to have given at all (SPEC §4: null otherwise), written out by hand.
NEEDS = {
    "sessions": {"sessions"},
    "visitors": {"sessions", "visitor_ids"},
    "orders": {"orders"},
    "buyers": {"orders", "customer_ids"},
    "units": {"orders"},
    "gross_sales": {"orders"},
    "discounts": {"orders"},
    "refunds": {"orders"},
    "net_sales": {"orders"},
    "shipping_income": {"orders"},
    "total_revenue": {"orders"},
    "aov": {"orders"},
    "revenue_per_buyer": {"orders", "customer_ids"},
    "conversion_rate": {"sessions", "orders"},
    "buyer_conversion_rate": {"orders", "customer_ids", "sessions", "visitor_ids"},
    "cart_conversion_rate": {"sessions", "events", "orders"},
    "ctr": {"events"},
    "ad_ctr": {"ad_spend"},
    "bounce_rate": {"sessions", "page_views"},
    "engaged_bounce_rate": {"sessions", "durations"},
    "reported_sales": {"sessions_from_report"},
    "reported_aov": {"sessions_from_report"},
    "retention_rate": {"sessions", "visitor_ids"},
    "retention_30d": {"sessions", "visitor_ids"},
    "returning_customer_rate": {"orders", "customer_ids"},
    "cogs": {"orders", "unit_costs"},
    "cost_coverage": {"orders"},
    "order_value_coverage": {"orders"},
    "order_line_coverage": {"orders"},
    "gross_profit": {"orders", "unit_costs"},
    "gross_margin": {"orders", "unit_costs"},
    "fulfilment_cost": {"orders"},
    "ad_spend": {"ad_spend"},
    "roas": {"orders", "ad_spend"},
    "cost_per_order": {"orders", "ad_spend"},
    "contribution": {"orders", "unit_costs", "ad_spend"},
    "operating_expenses": {"expenses"},
    "net_profit": {"orders", "unit_costs", "ad_spend", "expenses"},
    "net_margin": {"orders", "unit_costs", "ad_spend", "expenses"},
}

GIVEN_SQL = """
select
    (select count(*) from sessions) > 0 as sessions,
    (select count(*) from sessions) = 0 and (select count(*) from traffic) > 0 as sessions_from_report,
    (select count(*) from sessions where visitor_id <> session_id) > 0 as visitor_ids,
    (select count(*) from orders) > 0 as orders,
    (select count(*) from orders where trim(coalesce(customer_id, '')) <> '') > 0 as customer_ids,
    (select count(*) from order_items where unit_cost is not null)
        + (select count(*) from products where unit_cost is not null) > 0 as unit_costs,
    (select count(*) from sessions where pageviews is not null)
        + (select count(*) from events where event_type = 'page_view') > 0 as page_views,
    (select count(*) from sessions where duration_s is not null) > 0 as durations,
    (select count(*) from events) > 0 as events,
    (select count(*) from ad_spend) > 0 as ad_spend,
    (select count(*) from expenses) > 0 as expenses
"""

SPAN_SQL = """
select min(d), max(d) from (
    select ordered_at::date as d from orders
    union all select started_at::date from sessions
    union all select date from ad_spend
    union all select date from traffic
    union all select end_date from traffic
)
"""


def reference_kpis(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, float | int | None]:
    """The KPIs of one period by the hand-written query: one value per metric of SPEC §4."""
    first, last = con.sql(SPAN_SQL).fetchall()[0]
    anchor = min(period.end, last) if last else period.end
    params = {
        "start_ts": period.start_ts,
        "end_ts": period.end_ts,
        "previous_start_ts": period.previous().start_ts,
        "first_day": period.start,
        "last_day": period.end,
        "data_first": first or date.max,
        "data_last": last or date.min,
        "window_start_ts": Period(anchor - timedelta(days=59), anchor).start_ts,
        "window_middle_ts": Period(anchor - timedelta(days=29), anchor).start_ts,
        "window_end_ts": Period(anchor, anchor).end_ts,
    }
    row = con.sql(REFERENCE_SQL, params=params).fetchall()[0]
    given_row = con.sql(GIVEN_SQL)
    given = {name for name, ok in zip(given_row.columns, given_row.fetchall()[0], strict=True) if ok}
    columns = list(METRICS)
    return {
        name: (None if value is None or not NEEDS[name] <= given else float(value))
        for name, value in zip(columns, row, strict=True)
    }


def same_numbers(ours: dict, reference: dict) -> list[str]:
    """The metrics on which the two results differ (beyond floating-point noise)."""
    differ = []
    for name in METRICS:
        a, b = ours[name], reference[name]
        if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)):
            differ.append(f"{name}: {a} vs {b}")
    return differ


def _timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _warm_up_python() -> None:
    # Both computations once on an empty in-memory warehouse, so that "cold" times DuckDB's cold start on the file,
    # not Python's first imports and polars' first conversion.
    from warehouse import TABLES, table_ddl

    con = duckdb.connect()
    for table in TABLES.values():
        con.execute(table_ddl(table))
    period = Period(date(2024, 1, 1), date(2024, 1, 30))
    compute_kpis(con, period)
    reference_kpis(con, period)
    con.close()


def run(db: Path, period: Period | None, repeat: int) -> int:
    _warm_up_python()
    # Cold: a fresh connection (empty DuckDB buffer cache) and the first run of each query on it.
    con = duckdb.connect(str(db), read_only=True)
    period = period or default_period(con)
    if period is None:
        print(f"{db} has no data", file=sys.stderr)
        return 1
    cold_ours, ours = _timed(lambda: compute_kpis(con, period).row(0, named=True))
    con.close()
    con = duckdb.connect(str(db), read_only=True)
    cold_reference, reference = _timed(lambda: reference_kpis(con, period))
    warm_ours = [_timed(lambda: compute_kpis(con, period))[0] for _ in range(repeat)]
    warm_reference = [_timed(lambda: reference_kpis(con, period))[0] for _ in range(repeat)]
    sizes = {
        table: con.sql(f"select count(*) from {table}").fetchall()[0][0]
        for table in ("sessions", "events", "orders", "order_items")
    }
    con.close()

    differ = same_numbers({k: (None if v is None else float(v)) for k, v in ours.items()}, reference)
    print(f"warehouse {db}: " + ", ".join(f"{n:,} {t}" for t, n in sizes.items()))
    print(f"period {period} ({period.days} days), {len(METRICS)} metrics, warm = median of {repeat}")
    print(f"{'':<28}{'cold':>10}{'warm':>10}")
    print(f"{'metrics.compute_kpis':<28}{cold_ours:>9.3f}s{statistics.median(warm_ours):>9.3f}s")
    print(f"{'hand-written single query':<28}{cold_reference:>9.3f}s{statistics.median(warm_reference):>9.3f}s")
    ratio_cold = cold_ours / cold_reference
    ratio_warm = statistics.median(warm_ours) / statistics.median(warm_reference)
    print(f"{'ratio (ours / hand-written)':<28}{ratio_cold:>9.2f}×{ratio_warm:>9.2f}×")
    if differ:
        print("numbers differ: " + "; ".join(differ), file=sys.stderr)
        return 1
    print("same numbers: yes")
    return 0


def _row(frame) -> dict:
    return {k: (None if v is None else float(v)) for k, v in frame.row(0, named=True).items() if k != "group"}


def run_rollups(db: Path, repeat: int) -> int:
    """The KPI set of the last 30 days and the last 365 days (to the data's latest date), warm (best of `repeat`):
    from the raw tables, from the rollups, and by the hand-written query. Builds the rollups first if needed."""
    _warm_up_python()
    with duckdb.connect(str(db), read_only=True) as con:
        current = rollups_current(con)
    if not current:
        started = time.perf_counter()
        with writing(db) as con:
            build_rollups(con, rebuild=False)
        print(f"built the rollups in {time.perf_counter() - started:.1f} s")
    con = duckdb.connect(str(db), read_only=True)
    last = default_period(con)
    if last is None:
        print(f"{db} has no data", file=sys.stderr)
        return 1
    periods = {"30 days": last, "365 days": Period(last.end - timedelta(days=364), last.end)}
    sizes = ", ".join(
        f"{con.sql(f'select count(*) from {t}').fetchall()[0][0]:,} {t}" for t in ("sessions", "events", "orders")
    )
    print(f"warehouse {db}: {sizes}; {len(METRICS)} metrics, warm = best of {repeat}")
    print(f"{'':<30}" + "".join(f"{name:>12}" for name in periods))
    ways = {
        "compute_kpis, raw tables": lambda p: _row(compute_kpis(con, p, rollups=False)),
        "compute_kpis, rollups": lambda p: _row(compute_kpis(con, p)),
        "hand-written single query": lambda p: reference_kpis(con, p),
    }
    results: dict[str, dict[str, float]] = {}
    numbers: dict[str, dict[str, dict]] = {}
    for way, action in ways.items():
        for name, period in periods.items():
            action(period)  # warm: the file's blocks in DuckDB's cache
            timings = []
            for _ in range(repeat):
                elapsed, numbers.setdefault(name, {})[way] = _timed(lambda: action(period))  # noqa: B023
                timings.append(elapsed)
            results.setdefault(way, {})[name] = min(timings)
        print(f"{way:<30}" + "".join(f"{results[way][name]:>11.3f}s" for name in periods))
    for base in ("compute_kpis, raw tables", "hand-written single query"):
        label = f"ratio rollups / {'raw' if 'raw' in base else 'hand-written'}"
        ratios = [results["compute_kpis, rollups"][name] / results[base][name] for name in periods]
        print(f"{label:<30}" + "".join(f"{r:>11.2f}×" for r in ratios))
    con.close()
    differ = [
        f"{name}, {way}: {difference}"
        for name, found in numbers.items()
        for way in ("compute_kpis, raw tables", "compute_kpis, rollups")
        for difference in same_numbers(found[way], found["hand-written single query"])
    ]
    if differ:
        print("numbers differ: " + "; ".join(differ), file=sys.stderr)
        return 1
    print("same numbers: yes")
    return 0


# --- a synthetic shop of any size, for when the demo generator is not at hand ----------------------------------

SYNTHETIC_SQL = [
    """
    insert into products
    select 'K' || i, 'item ' || i, ['shoes', 'bags', 'hats', 'tops'][1 + i % 4], null,
        case when i % 7 = 0 then null else 5 + i % 50 end, 20 + i % 120, null, null
    from range(200) t(i)
    """,
    """
    insert into sessions
    select
        'S' || i,
        'V' || (hash(i, $seed, 'v') % ($n // 3)),
        $first + to_seconds((hash(i, $seed, 't') % ($days * 86400))::bigint),
        ['organic_search', 'paid_search', 'social', 'kol', 'email', 'direct', 'referral']
            [1 + (hash(i, $seed, 's') % 7)::bigint],
        null,
        case when hash(i, $seed, 'c') % 3 = 0 then 'spring' end,
        ['desktop', 'mobile', 'tablet', 'app', 'unknown'][1 + (hash(i, $seed, 'd') % 5)::bigint],
        ['/', '/sale', '/p/1', '/p/2'][1 + (hash(i, $seed, 'l') % 4)::bigint],
        ['north', 'south', 'east', 'west'][1 + (hash(i, $seed, 'r') % 4)::bigint],
        null,
        case when hash(i, $seed, 'p') % 3 = 0 then null else 1 + hash(i, $seed, 'p') % 6 end,
        null,
        'main'
    from range($n) t(i)
    order by 3
    """,
    """
    insert into events
    select
        s.session_id || '-' || k,
        s.session_id,
        s.started_at + to_seconds(k * 30),
        ['page_view', 'impression', 'click', 'page_view', 'add_to_cart', 'begin_checkout', 'purchase'][1 + k],
        null, null, null, 'main'
    from sessions s, range(0, (hash(s.session_id, $seed) % 8)::bigint) r(k)
    where k < 7
    order by 3
    """,
    """
    insert into orders
    select
        'O' || s.session_id,
        s.started_at + to_seconds(600),
        ['paid', 'shipped', 'delivered', 'delivered', 'returned', 'cancelled', 'placed']
            [1 + (hash(s.session_id, 'st') % 7)::bigint],
        case when hash(s.session_id, 'g') % 10 = 0 then null else 'C' || s.visitor_id end,
        s.session_id,
        null, (hash(s.session_id, 'dc') % 20)::decimal(18, 2), 8, 6, 1.5, 0, null, null,
        ['alipay', 'wechat_pay', 'card'][1 + (hash(s.session_id, 'pm') % 3)::bigint], null, 'main'
    from sessions s
    where hash(s.session_id, $seed, 'o') % 100 < 3
    order by 2
    """,
    """
    insert into order_items
    select o.order_id, k, 'K' || (hash(o.order_id, k) % 200), 1 + hash(o.order_id, k, 'q') % 3,
        (20 + hash(o.order_id, k, 'p') % 200)::decimal(18, 2), null, 'main'
    from orders o, range(1, 1 + (hash(o.order_id) % 3)::bigint) r(k)
    """,
    """
    insert into ad_spend
    select ($first + to_days(d::int))::date, src, null, '', (100 + hash(d, src) % 900)::decimal(18, 2),
        10000 + hash(d, src, 'i') % 5000, 100 + hash(d, src, 'c') % 400, 'main'
    from range($days) t(d), (values ('paid_search'), ('social'), ('kol')) v(src)
    """,
    """
    insert into expenses
    select distinct strftime($first + to_days(d::int), '%Y-%m'), c, 30000, null, ''
    from range($days) t(d), (values ('rent'), ('staff')) v(c)
    """,
]


def make_synthetic_warehouse(path: Path, sessions: int, days: int = 730, seed: int = 1) -> None:
    """Writes a synthetic shop of `sessions` sessions over `days` days ending yesterday into a new warehouse.

    Rows are in time order, as exports are; a table in random order is slower to filter by date for any query.
    """
    from warehouse import writing

    first = date.today() - timedelta(days=days)
    with writing(path, store_timezone="UTC") as con:
        for statement in SYNTHETIC_SQL:
            values = {"n": sessions, "days": days, "seed": seed, "first": first}
            con.execute(statement, {k: v for k, v in values.items() if f"${k}" in statement})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kpis", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="warehouse file")
    parser.add_argument("--from", dest="start", help="first date (default: 30 days to the latest date)")
    parser.add_argument("--to", dest="end", help="last date")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs of each (default 5)")
    parser.add_argument("--synthetic", type=int, metavar="SESSIONS", help="first build a synthetic shop at --db")
    parser.add_argument("--rollups", action="store_true", help="raw vs rollups vs hand-written, 30 and 365 days")
    args = parser.parse_args(argv)
    if args.synthetic:
        if args.db.exists():
            parser.error(f"{args.db} exists: --synthetic builds a new warehouse")
        started = time.perf_counter()
        make_synthetic_warehouse(args.db, args.synthetic)
        print(f"built a synthetic shop of {args.synthetic:,} sessions in {time.perf_counter() - started:.1f} s")
    if not args.db.exists():
        parser.error(f"no warehouse at {args.db}")
    period = None
    if args.start or args.end:
        if not (args.start and args.end):
            parser.error("give both --from and --to, or neither")
        period = Period(parse_date(args.start), parse_date(args.end))
    if args.rollups:
        return run_rollups(args.db, args.repeat)
    return run(args.db, period, args.repeat)


if __name__ == "__main__":
    raise SystemExit(main())
