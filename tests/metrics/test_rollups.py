"""The rollups (metrics/rollups.py) give the raw tables' numbers: for every metric, the funnel, group and period, on
random shops and the demo, and after incremental loads that change old days (warehouse/rollups.py keeps them in
step)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from bench.kpis import reference_kpis, same_numbers
from metrics import compute
from metrics.cohorts import cohort_activity
from metrics.compute import (
    DEFAULT_VISITOR_SPLITS,
    ROLLUP_DIMENSIONS,
    ROLLUP_TABLES,
    SESSION_EVENTS,
    SPLIT_SPANS,
    VISITOR_SPANS,
    compute_kpis,
    kpi_series,
    rollups_current,
)
from metrics.currency import Rates
from metrics.customers import lifetime_value, repeat_interval, rfm_scores, segment_changes
from metrics.facts import ORDER_ROWS, order_rows_current
from metrics.funnel import FUNNEL_ROLLUP, funnel, funnel_rollup_current
from metrics.periods import Period, data_span
from metrics.rollups import (
    build_rollups,
    choose_visitor_numbers,
    choose_visitor_splits,
    ensure_rollups,
    keeps_visitor_numbers,
    visitor_splits,
)
from metrics.segments import ALL, Segment
from pipelines.ingest import ingest_file
from tests.support.shops import add_report_store, move_to_second_store, random_shop
from warehouse import rollups as rollups_module
from warehouse import store, writing
from warehouse.rollups import day_runs, every_key, refresh_rollups, touched_days
from warehouse.schema import DAY_VISITORS, KEY_FILTERS, LEDGER_DDL, STORES_DDL, VISITOR_NUMBERS

END = date(2024, 6, 30)
DAYS = 120
FIRST = END - timedelta(days=DAYS - 1)
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROLLUP_NAMES = [
    SESSION_EVENTS,
    *ROLLUP_TABLES.values(),
    FUNNEL_ROLLUP,
    ORDER_ROWS,
    DAY_VISITORS,
    *(SPLIT_SPANS[dimension] for dimension in DEFAULT_VISITOR_SPLITS),
]


@cache
def rolled_shop(seed: int) -> duckdb.DuckDBPyConnection:
    """A random shop with the default rollups (its visitors numbered)."""
    con = random_shop(seed, sessions=400, days=DAYS, end=END)
    build_rollups(con)
    assert rollups_current(con) and funnel_rollup_current(con) and order_rows_current(con)
    return con


@cache
def stores_shop(seed: int) -> duckdb.DuckDBPyConnection:
    """rolled_shop's shop with about half of it in a second store, b (move_to_second_store), and the default rollups."""
    con = move_to_second_store(random_shop(seed, sessions=400, days=DAYS, end=END))
    build_rollups(con)
    assert rollups_current(con) and funnel_rollup_current(con) and order_rows_current(con)
    return con


@cache
def report_shop(seed: int) -> duckdb.DuckDBPyConnection:
    """stores_shop's two stores with session logs and a third, r, with only a traffic report (add_report_store)."""
    con = add_report_store(move_to_second_store(random_shop(seed, sessions=400, days=DAYS, end=END)), seed)
    build_rollups(con)
    return con


@cache
def spans_shop(seed: int) -> duckdb.DuckDBPyConnection:
    """rolled_shop's shop keeping visitors' spans instead of visitor numbers: the whole shop's and the source's."""
    con = random_shop(seed, sessions=400, days=DAYS, end=END)
    con.execute(LEDGER_DDL)
    choose_visitor_numbers(con, False)
    choose_visitor_splits(con, ["source"])
    build_rollups(con)
    assert rollups_current(con) and not compute.day_visitors_current(con)
    return con


periods = st.builds(
    lambda offset, length: Period(FIRST + timedelta(days=offset), FIRST + timedelta(days=offset + length - 1)),
    st.integers(min_value=-10, max_value=DAYS - 1),
    st.integers(min_value=1, max_value=130),
)
# The store filters select stores_shop's second store, or its first (main, every other shop's only store) with a
# device.
segments = st.sampled_from(
    [ALL, Segment(source="paid_search"), Segment(device="mobile"), Segment(store="b"), Segment("direct", store="main")]
)


@SETTINGS
@given(
    seed=st.integers(min_value=1, max_value=3),
    period=periods,
    by=st.sampled_from([None, *ROLLUP_DIMENSIONS, "region", "landing_page"]),
    grain=st.sampled_from([None, "day", "week", "month"]),
    segment=segments,
    shop=st.sampled_from([rolled_shop, stores_shop, report_shop, spans_shop]),
)
def test_rollups_give_the_raw_numbers(seed, period, by, grain, segment, shop):
    # Periods cut weeks and months at both ends and run past the data; `region` is not in the rollups (raw answer).
    # With the visitors numbered (the default), in two stores, with a third store's traffic report, and with the
    # visitors' spans.
    con = shop(seed)
    if grain is None:
        ours = compute_kpis(con, period, by=by, segment=segment)
        raw = compute_kpis(con, period, by=by, segment=segment, rollups=False)
    else:
        ours = kpi_series(con, period, grain=grain, by=by, segment=segment)
        raw = kpi_series(con, period, grain=grain, by=by, segment=segment, rollups=False)
    assert ours.equals(raw), (ours, raw)


@SETTINGS
@given(
    seed=st.integers(min_value=1, max_value=3),
    period=periods,
    by=st.sampled_from([None, *ROLLUP_DIMENSIONS, "landing_page"]),
    segment=segments,
    shop=st.sampled_from([rolled_shop, stores_shop]),
)
def test_the_funnel_from_its_rollup_is_the_raw_funnel(seed, period, by, segment, shop):
    con = shop(seed)
    ours = funnel(con, period, by=by, segment=segment)
    assert ours.equals(funnel(con, period, by=by, segment=segment, rollups=False)), ours


def _with_plans(call):
    """call()'s result and the plans its queries were made for (a spy on kpi_sql)."""
    plans, real_sql = [], compute.kpi_sql

    def spy(plan, *rest):
        plans.append(plan)
        return real_sql(plan, *rest)

    compute.kpi_sql = spy
    try:
        return call(), plans
    finally:
        compute.kpi_sql = real_sql


def test_several_stores_are_split_and_filtered_from_the_rollups():
    # Each row counts in its own store, one whose session is not stored too (as the raw facts filter it): two of the
    # three impressions of the session that is not stored are store b's, 24 of the 37 orders without a stored session.
    # The rollups answer (a spy on the plans).
    con = stores_shop(1)
    period = Period(FIRST, END)
    orphans = con.sql("select store, count(*) from events where session_id = 'S-missing' group by 1 order by 1")
    assert orphans.fetchall() == [("b", 2), ("main", 1)]
    sessionless = "session_id is null or session_id not in (select session_id from sessions)"
    assert con.sql(f"select count(*) from orders where store = 'b' and ({sessionless})").fetchall() == [(24,)]
    (by_store, filtered, series), plans = _with_plans(
        lambda: (
            compute_kpis(con, period, by="store"),
            [compute_kpis(con, period, segment=Segment(store=name)) for name in ("b", "main")],
            kpi_series(con, period, grain="month", by="source", segment=Segment(store="b")),
        )
    )
    assert [plan.rollups for plan in plans] == [True] * 4
    assert by_store.equals(compute_kpis(con, period, by="store", rollups=False)), by_store
    for name, ours in zip(("b", "main"), filtered, strict=True):
        assert ours.equals(compute_kpis(con, period, segment=Segment(store=name), rollups=False)), name
        row = by_store.filter(pl.col("group") == name).drop("group")
        assert row.equals(ours.drop("group")), "the split's row is the filter's"
    assert series.equals(kpi_series(con, period, grain="month", by="source", segment=Segment(store="b"), rollups=False))
    for name in ("b", "main"):
        ours = funnel(con, period, by="device", segment=Segment(store=name))
        assert ours.equals(funnel(con, period, by="device", segment=Segment(store=name), rollups=False))


@pytest.mark.parametrize("grain", [None, "week"])
def test_a_store_with_only_a_traffic_report_is_added_to_the_logged_stores_rollups(grain):
    # Store r's session figures come from its report (every count it gives, null where a row leaves one out, a week's
    # row cut by a bucket), the logged stores' from the rollups: the same numbers as raw, and the rollups answer.
    con = report_shop(1)
    period = Period(FIRST + timedelta(days=3), END - timedelta(days=2))
    cases = [(by, ALL) for by in (None, "source", "device", "store")]
    cases += [(None, Segment(store="r")), ("source", Segment(store="main")), ("device", Segment(source="social"))]
    for by, segment in cases:

        def figures(rollups: bool = True, by=by, segment=segment):
            if grain:
                return kpi_series(con, period, grain=grain, by=by, segment=segment, rollups=rollups)
            return compute_kpis(con, period, by=by, segment=segment, rollups=rollups)

        ours, plans = _with_plans(figures)
        # Under store main's filter only its logs are in view (its report row is never counted).
        assert [(plan.rollups, plan.traffic) for plan in plans] == [(True, segment.store != "main")], (by, segment)
        raw = figures(rollups=False)
        assert ours.equals(raw), (by, segment, ours, raw)
    # The report's figures count: over a period no row runs past, store r's sessions are its report's (none left out)
    # and the shop's are those plus the logged stores' sessions.
    around = Period(FIRST - timedelta(days=10), END + timedelta(days=10))
    reported = con.sql("select sum(sessions) from traffic where store = 'r'").fetchall()[0][0]
    logged = con.sql("select count(*) from sessions").fetchall()[0][0]
    assert compute_kpis(con, around, segment=Segment(store="r"), metrics=["sessions"])["sessions"][0] == reported
    assert compute_kpis(con, around, metrics=["sessions"])["sessions"][0] == reported + logged


@pytest.mark.parametrize("grain", [None, "month"])
def test_money_of_stores_in_two_currencies_is_converted_from_the_rollups(grain):
    # Store b sells in USD at 7 CNY: each store's daily sums times its rate are the raw figures, which convert each
    # order and line (up to the rounding of the floating-point products: the same to 1e-9), and the rollups answer;
    # cogs, a line's own cost or else the catalog's (the warehouse's currency), is counted.
    con = move_to_second_store(random_shop(2, sessions=400, days=DAYS, end=END))
    con.execute(LEDGER_DDL)
    con.execute(STORES_DDL)
    con.execute("insert into stores values ('main', 'own site', 'CNY'), ('b', 'shopify', 'USD')")
    con.execute("insert into shopkpi_meta values ('currency', 'CNY')")
    build_rollups(con)
    rates = Rates("CNY", {"USD": Decimal(7)})
    period = Period(FIRST + timedelta(days=5), END)
    for by, segment in ((None, ALL), ("source", ALL), ("store", ALL), ("device", Segment(source="paid_search"))):

        def figures(rollups: bool = True, by=by, segment=segment):
            if grain:
                return kpi_series(con, period, grain=grain, by=by, segment=segment, rates=rates, rollups=rollups)
            return compute_kpis(con, period, by=by, segment=segment, rates=rates, rollups=rollups)

        ours, plans = _with_plans(figures)
        assert [(plan.rollups, plan.converted) for plan in plans] == [(True, by != "store")], (by, segment)
        assert_frame_equal(ours, figures(rollups=False), check_exact=False, rel_tol=1e-9)
        assert ours["gross_sales"].drop_nulls().len() > 0 and ours["cogs"].drop_nulls().len() > 0
    # The conversion is what is summed: b's sales in CNY are 7 times its own, main's its own.
    by_store = compute_kpis(con, period, by="store", metrics=["gross_sales"])
    together = compute_kpis(con, period, metrics=["gross_sales"], rates=rates)["gross_sales"][0]
    own = dict(by_store.iter_rows())
    assert together == pytest.approx(own["main"] + 7 * own["b"], rel=1e-12)


def test_a_split_the_rollups_do_not_carry_reads_each_sessions_events_summed():
    # Split by landing page or region (not in the rollups), the sessions' page views and add-to-carts (bounce rate,
    # cart sessions) and the funnel's event steps come from each session's events summed once (SESSION_EVENTS), the
    # same numbers as the events give; taking a session's add-to-cart out of that table changes them (it is read).
    con = rolled_shop(1)
    period = Period(FIRST, END)
    names = ["sessions", "bounce_rate", "cart_conversion_rate", "engaged_bounce_rate", "ctr"]
    plans, real_sql = [], compute.kpi_sql
    try:
        compute.kpi_sql = lambda plan, *rest: plans.append(plan) or real_sql(plan, *rest)
        for by in ("landing_page", "region"):
            ours = compute_kpis(con, period, by=by, metrics=names, segment=Segment(device="mobile"))
            assert ours.equals(
                compute_kpis(con, period, by=by, metrics=names, segment=Segment(device="mobile"), rollups=False)
            ), by
    finally:
        compute.kpi_sql = real_sql
    assert [plan.session_events_rolled for plan in plans] == [True, False] * 2, "ours from it, then the raw"
    steps = funnel(con, period, by="landing_page")
    assert steps.equals(funnel(con, period, by="landing_page", rollups=False))
    carted = con.sql(f"select count(*) from {SESSION_EVENTS} where added_to_cart = 1 and day >= ?", params=[FIRST])
    assert carted.fetchall()[0][0] > 0, "sessions that added to cart, to take out"
    con.execute(f"update {SESSION_EVENTS} set added_to_cart = 0, event_step = least(event_step, 2)")
    try:
        after = compute_kpis(con, period, by="landing_page", metrics=["cart_conversion_rate"])
        assert after["cart_conversion_rate"].null_count() == after.height, "no session added to cart: no rate"
        assert not funnel(con, period, by="landing_page").equals(steps)
    finally:
        rolled_shop.cache_clear()  # the shop is changed: later tests get it afresh


# The filters of the dashboard's sidebar and more: a source and a device together, a value no session has.
customer_segments = st.sampled_from(
    [ALL, Segment(source="paid_search"), Segment(device="mobile"), Segment("email", "desktop"), Segment("nowhere")]
)


@SETTINGS
@given(
    seed=st.integers(min_value=1, max_value=3),
    as_of=st.integers(min_value=-10, max_value=DAYS + 5).map(lambda n: FIRST + timedelta(days=n)),
    segment=customer_segments,
)
def test_the_customer_figures_from_the_orders_rollup_are_the_raw_figures(seed, as_of, segment):
    # RFM scores (and their segments and moves), repeat interval, lifetime value and cohorts read each order's net
    # sales and its session's dimensions from rollup_order_rows; the raw tables give the same numbers.
    con = rolled_shop(seed)
    since = as_of - timedelta(days=30)
    for figure in (rfm_scores, repeat_interval, lifetime_value, cohort_activity):
        ours = figure(con, as_of, segment=segment)
        assert ours.equals(figure(con, as_of, segment=segment, rollups=False)), (figure.__name__, ours)
    ours, raw = segment_changes(con, as_of, since, segment), segment_changes(con, as_of, since, segment, False)
    assert ours.summary.equals(raw.summary) and ours.movement.equals(raw.movement)


@SETTINGS
@given(
    seed=st.integers(min_value=1, max_value=3),
    period=periods,
    by=st.sampled_from([None, "customer_type", "source", "region"]),
    grain=st.sampled_from([None, "month"]),
    segment=customer_segments,
)
def test_filtered_order_figures_from_the_orders_rollup_are_the_raw_figures(seed, period, by, grain, segment):
    # Under a source or device filter the segment's orders are those rollup_order_rows gives the filter's values: the
    # Customers page's views (buyers, returning customers, revenue by customer type) as the raw tables give them.
    con = rolled_shop(seed)
    names = ["orders", "buyers", "returning_customer_rate", "revenue_per_buyer", "total_revenue", "aov"]
    if grain is None:
        ours = compute_kpis(con, period, metrics=names, by=by, segment=segment)
        raw = compute_kpis(con, period, metrics=names, by=by, segment=segment, rollups=False)
    else:
        ours = kpi_series(con, period, grain=grain, metrics=names, by=by, segment=segment)
        raw = kpi_series(con, period, grain=grain, metrics=names, by=by, segment=segment, rollups=False)
    assert ours.equals(raw), (ours, raw)


@SETTINGS
@given(seed=st.integers(min_value=1, max_value=3), period=periods)
def test_whole_shop_visitors_and_retention_from_the_spans(seed, period):
    # Without split, filter or buckets the visitors, the period's returners and the window's come from the visitors'
    # first and last days, with the sessions of visitors whose span straddles the period (random periods cut them).
    con = spans_shop(seed)
    names = ["visitors", "retention_rate", "retention_30d", "buyer_conversion_rate"]
    assert compute_kpis(con, period, metrics=names).equals(compute_kpis(con, period, metrics=names, rollups=False))


# A split by source under the sidebar's source filter (one the spans answer), a source no session has, and a device
# filter (which the spans cannot answer: the period's sessions are read).
source_segments = st.sampled_from(
    [ALL, Segment(source="paid_search"), Segment(source="nowhere"), Segment(device="mobile")]
)
SOURCE_SPANS = SPLIT_SPANS["source"]


@SETTINGS
@given(seed=st.integers(min_value=1, max_value=3), period=periods, segment=source_segments)
def test_visitors_by_source_from_the_source_spans(seed, period, segment):
    # The Traffic page's table: split by source over one bucket, each source's visitors come from each visitor's
    # first and last day of that source, with the sessions of those whose span straddles the period (random periods
    # cut them, run past the data or miss it).
    con = spans_shop(seed)
    names = ["visitors", "sessions", "buyer_conversion_rate", "retention_rate"]
    ours = compute_kpis(con, period, by="source", metrics=names, segment=segment)
    assert ours.equals(compute_kpis(con, period, by="source", metrics=names, segment=segment, rollups=False)), ours


@pytest.mark.parametrize("seed", [1, 3])  # shops where the cut period has both kinds of straddling span (below)
def test_visitors_by_source_for_the_whole_range_a_cut_period_a_day_and_no_day(seed):
    con = spans_shop(seed)
    # Grain: one row per visitor and source (none: null), its key unique and the visitor never null.
    rows, keys, visitors = con.sql(
        f"select count(*), count(distinct (visitor_id, source)), count(visitor_id) from {SOURCE_SPANS}"
    ).fetchall()[0]
    assert rows == keys == visitors > 0
    whole = Period(FIRST, END)
    cut = Period(FIRST + timedelta(days=40), FIRST + timedelta(days=70))
    day = Period(FIRST + timedelta(days=55), FIRST + timedelta(days=55))
    empty = Period(FIRST - timedelta(days=30), FIRST - timedelta(days=1))
    # The cut period's edges cut visitors' spans both ways: some straddle it with a session in it, some without.
    straddling = con.sql(
        f"""
        select count(*), count(*) filter (where exists (
            select 1 from sessions s
            where s.store || chr(31) || s.visitor_id = v.visitor_id and s.source = v.source
                and s.started_at >= ? and s.started_at < ?))
        from {SOURCE_SPANS} v
        where v.first_day < ? and v.last_day > ?""",
        params=[cut.start_ts, cut.end_ts, cut.start, cut.end],
    ).fetchall()[0]
    assert 0 < straddling[1] < straddling[0], straddling
    for period in (whole, cut, day, empty):
        for segment in (ALL, Segment(source="paid_search")):
            ours = compute_kpis(con, period, by="source", segment=segment)
            assert ours.equals(compute_kpis(con, period, by="source", segment=segment, rollups=False)), (period, ours)
    assert compute_kpis(con, empty, by="source", metrics=["visitors"]).is_empty()


def test_visitors_by_source_count_an_empty_source_as_none(tmp_path: Path):
    # A source is required, but a warehouse may hold an empty one (an older load, a hand edit): the split groups it
    # as none, and so do the spans. V1: none on 1 and 3 March, google on 2 March; V2: google on 1 and 5 March.
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,blank,mobile",
        "S2,V1,2024-03-03 10:00:00,blank,mobile",
        "S3,V1,2024-03-02 10:00:00,google,mobile",
        "S4,V2,2024-03-01 10:00:00,google,mobile",
        "S5,V2,2024-03-05 10:00:00,google,mobile",
    ))  # fmt: skip
    with writing(db) as con:
        con.execute("update sessions set source = '' where source = 'blank'")
        choose_visitor_splits(con, ["source"])
        build_rollups(con)
    con = duckdb.connect(str(db), read_only=True)
    spans = con.sql(f"select split_part(visitor_id, chr(31), 2), source, first_day, last_day from {SOURCE_SPANS}")
    march = {n: date(2024, 3, n) for n in range(1, 6)}
    assert sorted(spans.fetchall(), key=str) == sorted(
        [("V1", None, march[1], march[3]), ("V1", "google", march[2], march[2]), ("V2", "google", march[1], march[5])],
        key=str,
    )

    def visitors(first: int, last: int) -> dict[str | None, int]:
        period = Period(march[first], march[last])
        ours = compute_kpis(con, period, by="source", metrics=["visitors"])
        assert ours.equals(compute_kpis(con, period, by="source", metrics=["visitors"], rollups=False))
        return dict(ours.iter_rows())

    # 1–3 March: V1 in none (span 1–3) and google (2nd); V2 in google (its span starts on the 1st).
    assert visitors(1, 3) == {"google": 2, None: 1}
    # 2 March: V1's google session; V1's none span (1–3) and V2's (1–5) straddle the day without a session on it.
    assert visitors(2, 2) == {"google": 1}
    # 3–4 March: V1's session of no source; V2's span straddles the days, with no session on them.
    assert visitors(3, 4) == {None: 1}
    assert visitors(5, 5) == {"google": 1}


@cache
def every_split_shop(seed: int) -> duckdb.DuckDBPyConnection:
    """rolled_shop's shop, keeping the visitors' spans of every split that has them."""
    con = random_shop(seed, sessions=400, days=DAYS, end=END)
    con.execute(LEDGER_DDL)
    assert choose_visitor_splits(con, SPLIT_SPANS) == tuple(SPLIT_SPANS)
    build_rollups(con)
    return con


# Each split over the whole shop, and the device's under its own filter (one its spans answer).
kept_splits = st.sampled_from([(by, ALL) for by in SPLIT_SPANS] + [("device", Segment(device="mobile"))])


@SETTINGS
@given(seed=st.integers(min_value=1, max_value=3), period=periods, split=kept_splits)
def test_visitors_by_each_split_from_its_spans_where_the_warehouse_keeps_them(seed, period, split):
    # Medium and campaign hold nulls and empty strings in these shops, both counted as none by a split.
    by, segment = split
    con = every_split_shop(seed)
    assert compute.visitors_from_spans(con, by, segment), "the spans answer this split"
    names = ["visitors", "sessions", "buyer_conversion_rate", "retention_rate"]
    ours = compute_kpis(con, period, by=by, metrics=names, segment=segment)
    assert ours.equals(compute_kpis(con, period, by=by, metrics=names, segment=segment, rollups=False)), ours


@cache
def numbered_shop(seed: int) -> duckdb.DuckDBPyConnection:
    """stores_shop's shop (two stores), chosen to keep its visitors numbered (as by default)."""
    con = move_to_second_store(random_shop(seed, sessions=400, days=DAYS, end=END))
    con.execute(LEDGER_DDL)
    choose_visitor_numbers(con, True)
    build_rollups(con)
    return con


@SETTINGS
@given(
    seed=st.integers(min_value=1, max_value=3),
    period=periods,
    by=st.sampled_from([None, *ROLLUP_DIMENSIONS]),
    segment=segments,
)
def test_visitors_of_every_split_and_filter_from_the_visitor_numbers(seed, period, by, segment):
    con = numbered_shop(seed)
    assert compute.visitor_bits(con, by, segment) == con.sql(f"select count(*) from {VISITOR_NUMBERS}").fetchall()[0][0]
    assert compute.visitors_without_scan(con, by, segment)
    names = ["visitors", "sessions", "buyer_conversion_rate", "retention_rate"]
    plans, real_sql = [], compute.kpi_sql
    try:
        compute.kpi_sql = lambda plan, *rest: plans.append(plan) or real_sql(plan, *rest)
        ours = compute_kpis(con, period, by=by, metrics=names, segment=segment)
    finally:
        compute.kpi_sql = real_sql
    assert ours.equals(compute_kpis(con, period, by=by, metrics=names, segment=segment, rollups=False)), ours
    assert [bool(plan.visitor_bits) for plan in plans] == [True], "the numbers answered"


@SETTINGS
@given(
    seed=st.integers(min_value=1, max_value=3),
    period=periods,
    by=st.sampled_from([None, *ROLLUP_DIMENSIONS]),
    grain=st.sampled_from(["day", "week", "month"]),
    segment=segments,
    bitmaps=st.booleans(),
)
def test_visitor_series_of_every_split_and_filter_from_the_visitor_numbers(seed, period, by, grain, segment, bitmaps):
    # Each bucket's visitors by number: a bitmap per bucket and group where they fit the budget, else a distinct count
    # of the numbers (the budget made 0); retention, over each bucket before, from the sessions.
    con = numbered_shop(seed)
    names = ["visitors", "sessions", "retention_rate"]
    plans, real_sql, budget = [], compute.kpi_sql, compute.MAX_VISITOR_BITMAPS_BYTES
    try:
        compute.kpi_sql = lambda plan, *rest: plans.append(plan) or real_sql(plan, *rest)
        compute.MAX_VISITOR_BITMAPS_BYTES = budget if bitmaps else 0
        ours = kpi_series(con, period, grain=grain, by=by, metrics=names, segment=segment)
    finally:
        compute.kpi_sql, compute.MAX_VISITOR_BITMAPS_BYTES = real_sql, budget
    assert ours.equals(kpi_series(con, period, grain=grain, by=by, metrics=names, segment=segment, rollups=False))
    assert [(plan.visitor_numbers, bool(plan.visitor_bits)) for plan in plans] == [(True, bitmaps)], plans


def test_visitor_numbers_beyond_the_bitmaps_budget_count_the_sessions(monkeypatch):
    con = numbered_shop(1)
    period = Period(FIRST, END)
    numbers = con.sql(f"select count(*) from {VISITOR_NUMBERS}").fetchall()[0][0]
    campaigns = con.sql("select count(distinct nullif(campaign, '')) + 1 from rollup_sessions").fetchall()[0][0]
    monkeypatch.setattr(compute, "MAX_VISITOR_BITMAPS_BYTES", campaigns * (numbers // 8 + 1))
    assert compute.visitor_bits(con, "campaign", ALL) == numbers, "at the budget"
    monkeypatch.setattr(compute, "MAX_VISITOR_BITMAPS_BYTES", campaigns * (numbers // 8 + 1) - 1)
    assert compute.visitor_bits(con, "campaign", ALL) == 0 and compute.visitor_bits(con, None, Segment(device="mobile"))
    ours = compute_kpis(con, period, by="campaign", metrics=["visitors"])
    assert ours.equals(compute_kpis(con, period, by="campaign", metrics=["visitors"], rollups=False))


def test_a_warehouse_keeps_its_visitors_numbered_and_its_loads_number_new_ones(tmp_path):
    db = tmp_path / "w.duckdb"
    header = "session_id,visitor_id,started_at,source,campaign,device"
    ingest_file(db, "sessions", _csv(tmp_path / "s1.csv", header,
        "S1,V1,2024-03-01 10:00:00,google,spring,mobile",
        "S2,V2,2024-03-02 10:00:00,direct,,desktop",
        "S3,V1,2024-03-03 10:00:00,google,summer,mobile",
    ))  # fmt: skip
    assert ensure_rollups(db) is not None
    with duckdb.connect(str(db), read_only=True) as con:
        assert keeps_visitor_numbers(con), "by default"
    assert ensure_rollups(db) is None, "the numbers are all the warehouse needs"

    def numbers() -> dict[str, int]:
        with duckdb.connect(str(db), read_only=True) as con:
            return dict(con.sql(f"select visitor_id, visitor_no from {VISITOR_NUMBERS}").fetchall())

    def visitors(first: int, last: int, by: str = "campaign", segment: Segment = ALL) -> dict[str | None, int]:
        period = Period(date(2024, 3, first), date(2024, 3, last))
        with duckdb.connect(str(db), read_only=True) as con:
            assert compute.visitor_bits(con, by, segment) == max(numbers().values())
            ours = compute_kpis(con, period, by=by, metrics=["visitors"], segment=segment)
            assert ours.equals(compute_kpis(con, period, by=by, metrics=["visitors"], rollups=False, segment=segment))
        return dict(ours.iter_rows())

    before = numbers()
    assert sorted(before.values()) == [1, 2]
    assert visitors(1, 3) == {"spring": 1, "summer": 1, None: 1}
    assert visitors(1, 3, "device", Segment(source="google")) == {"mobile": 1}
    # V3 is new (number 3); S2 moves to V3 (V2 keeps its number, with no session left) and to 4 March.
    ingest_file(db, "sessions", _csv(tmp_path / "s2.csv", header,
        "S4,V3,2024-03-02 12:00:00,google,spring,desktop",
        "S2,V3,2024-03-04 10:00:00,direct,,desktop",
    ))  # fmt: skip
    assert numbers() == {**before, "V3": 3}
    assert visitors(1, 3) == {"spring": 2, "summer": 1}
    assert visitors(2, 4, "device") == {"desktop": 1, "mobile": 1}
    _assert_as_rebuilt(db)
    with writing(db) as con:
        choose_visitor_numbers(con, False)
        build_rollups(con, rebuild=False)
    with duckdb.connect(str(db), read_only=True) as con:
        left = {row[0] for row in con.sql("select table_name from duckdb_tables()").fetchall()}
        assert not {DAY_VISITORS, VISITOR_NUMBERS} & left and not compute.visitor_bits(con, "campaign")
        assert VISITOR_SPANS in left and rollups_current(con), "the whole shop's visitors' spans instead"
        ours = compute_kpis(con, Period(date(2024, 3, 2), date(2024, 3, 4)), by="device", metrics=["visitors"])
    assert dict(ours.iter_rows()) == {"desktop": 1, "mobile": 1}


def test_the_same_visitor_id_in_two_stores_is_two_numbered_visitors(tmp_path):
    # Ids are per store (SPEC): V1 of store a and V1 of store b are two visitors, numbered apart, as the raw count
    # (`store || chr(31) || visitor_id`) has them. 1 March: a/V1 google, b/V1 google, b/V2 direct.
    db = tmp_path / "w.duckdb"
    header = "session_id,visitor_id,started_at,source,device"
    ingest_file(db, "sessions", _csv(tmp_path / "a.csv", header, "S1,V1,2024-03-01 10:00:00,google,mobile"), store="a")
    ingest_file(db, "sessions", _csv(tmp_path / "b.csv", header,
        "S1,V1,2024-03-01 11:00:00,google,mobile",
        "S2,V2,2024-03-01 12:00:00,direct,app",
    ), store="b")  # fmt: skip
    assert ensure_rollups(db) is not None
    day = Period(date(2024, 3, 1), date(2024, 3, 1))
    with duckdb.connect(str(db), read_only=True) as con:
        numbers = con.sql(f"select store, visitor_id, visitor_no from {VISITOR_NUMBERS} order by 1, 2").fetchall()
        assert sorted(number for _, _, number in numbers) == [1, 2, 3]
        assert compute.visitor_bits(con, "source") == 3
        by_source = compute_kpis(con, day, by="source", metrics=["visitors"])
        whole = compute_kpis(con, day, metrics=["visitors"])
        assert by_source.equals(compute_kpis(con, day, by="source", metrics=["visitors"], rollups=False))
    assert [(store, visitor) for store, visitor, _ in numbers] == [("a", "V1"), ("b", "V1"), ("b", "V2")]
    assert dict(by_source.iter_rows()) == {"direct": 1, "google": 2} and whole["visitors"].to_list() == [3]


def test_a_warehouse_keeps_the_visitor_spans_it_chooses_and_its_loads_keep_them_in_step(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    header = "session_id,visitor_id,started_at,source,campaign"
    # V1: spring on 1 and 4 March; V2: no campaign on 2 March; V3: summer on 3 March.
    ingest_file(db, "sessions", _csv(tmp_path / "s1.csv", header,
        "S1,V1,2024-03-01 10:00:00,google,spring",
        "S2,V2,2024-03-02 10:00:00,direct,",
        "S3,V3,2024-03-03 10:00:00,google,summer",
        "S4,V1,2024-03-04 10:00:00,google,spring",
    ))  # fmt: skip
    with writing(db) as con:  # spans instead of visitor numbers: the source's, then the campaign's and device's
        choose_visitor_numbers(con, False)
        choose_visitor_splits(con, ["source"])
    assert ensure_rollups(db) is not None
    with duckdb.connect(str(db), read_only=True) as con:
        assert visitor_splits(con) == ("source",) and DEFAULT_VISITOR_SPLITS == ()
        assert not compute.visitors_from_spans(con, "campaign") and compute.visitors_from_spans(con, "source")
    with writing(db) as con:
        assert choose_visitor_splits(con, ["Campaign ", "device", ""]) == ("campaign", "device")
        build_rollups(con, rebuild=False)
    splits, real_sql = [], compute.kpi_sql  # whether each compute_kpis read a split's visitors from its spans

    def recording(plan, *rest):
        splits.append(plan.split_spans)
        return real_sql(plan, *rest)

    monkeypatch.setattr(compute, "kpi_sql", recording)

    def visitors(first: int, last: int) -> dict[str | None, int]:
        period = Period(date(2024, 3, first), date(2024, 3, last))
        with duckdb.connect(str(db), read_only=True) as con:
            ours = compute_kpis(con, period, by="campaign", metrics=["visitors"])
            assert ours.equals(compute_kpis(con, period, by="campaign", metrics=["visitors"], rollups=False))
        return dict(ours.iter_rows())

    with duckdb.connect(str(db), read_only=True) as con:
        ledger = {row[0] for row in con.sql("select table_name from rollup_queries").fetchall()}
        tables = {row[0] for row in con.sql("select table_name from duckdb_tables()").fetchall()}
        assert visitor_splits(con) == ("campaign", "device")
        assert compute.visitors_from_spans(con, "campaign") and not compute.visitors_from_spans(con, "source")
    kept, dropped = {SPLIT_SPANS["campaign"], SPLIT_SPANS["device"]}, SPLIT_SPANS["source"]
    assert kept <= ledger and kept <= tables and dropped not in ledger | tables
    assert ensure_rollups(db) is None, "the chosen spans are all the warehouse needs"
    assert visitors(1, 4) == {"spring": 1, None: 1, "summer": 1}
    # 2–3 March: V1's spring span (1–4) straddles the days, with no session on them.
    assert visitors(2, 3) == {None: 1, "summer": 1}
    # A load that adds a session widens its visitor's spans (V2 comes from spring on 3 March).
    ingest_file(db, "sessions", _csv(tmp_path / "s2.csv", header, "S5,V2,2024-03-03 10:00:00,google,spring"))
    assert visitors(2, 3) == {None: 1, "spring": 1, "summer": 1}
    assert splits == [True, False] * 3, "the spans answered, the raw tables checked them"
    _assert_as_rebuilt(db)
    with writing(db) as con:
        assert choose_visitor_splits(con, []) == ()
        build_rollups(con, rebuild=False)
    with duckdb.connect(str(db), read_only=True) as con:
        left = {row[0] for row in con.sql("select table_name from duckdb_tables()").fetchall()}
        assert not set(SPLIT_SPANS.values()) & left and not compute.visitors_from_spans(con, "campaign")
    assert visitors(2, 3) == {None: 1, "spring": 1, "summer": 1}
    assert splits[-2:] == [False, False]


@settings(SETTINGS, max_examples=8)
@given(seed=st.integers(min_value=1, max_value=3), period=periods)
def test_rollups_agree_with_the_hand_written_reference_query(seed, period):
    con = rolled_shop(seed)
    ours = {k: (None if v is None else float(v)) for k, v in compute_kpis(con, period).row(0, named=True).items()}
    assert same_numbers({k: v for k, v in ours.items() if k != "group"}, reference_kpis(con, period)) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_last_30_days_share_the_previous_periods_visitors_with_the_retention_window(seed, monkeypatch):
    # The last 30 days of the data are the retention window's later 30 days: its earlier 30 are the previous period,
    # counted once for both figures. The numbers are those of the hand-written query, and of the plan that counts
    # the window's visitors apart, for every split and filter.
    # Data to 20 June: its last 30 days are no calendar month (a month's previous period is the month before).
    end = date(2024, 6, 20)
    con = random_shop(seed, sessions=400, days=DAYS, end=end)
    build_rollups(con)
    last_30 = Period(end - timedelta(days=29), end)
    assert data_span(con).end == end
    assert compute._window_is_period(compute._parameters(last_30, None, data_span(con)))
    for rollups in (True, False):
        ours = compute_kpis(con, last_30, rollups=rollups).row(0, named=True)
        assert same_numbers({k: v for k, v in ours.items() if k != "group"}, reference_kpis(con, last_30)) == []

    def every_view() -> list[pl.DataFrame]:
        return [
            compute_kpis(con, last_30, by=by, segment=segment, rollups=rollups)
            for by in (None, "source")
            for segment in (ALL, Segment(device="mobile"))
            for rollups in (True, False)
        ]

    shared = every_view()
    monkeypatch.setattr(compute, "_window_is_period", lambda values: False)
    apart = every_view()
    for one, other in zip(shared, apart, strict=True):
        assert one.equals(other), (one, other)


def test_the_rollups_are_what_is_read():
    # Guards the tests above against comparing raw with raw: one more session in a rollup row shows in the total.
    con = random_shop(5, sessions=200, days=DAYS, end=END)
    build_rollups(con)
    period = Period(FIRST, END)
    before = compute_kpis(con, period, metrics=["sessions", "visitors", "orders", "gross_sales"]).row(0, named=True)
    con.execute(
        "update rollup_sessions set sessions = sessions + 1 where rowid = (select min(rowid) from rollup_sessions)"
    )
    con.execute(
        "update rollup_items set gross_sales = gross_sales + 2.5 where rowid = (select max(rowid) from rollup_items)"
    )
    after = compute_kpis(con, period, metrics=["sessions", "visitors", "orders", "gross_sales"]).row(0, named=True)
    assert after["sessions"] == before["sessions"] + 1
    steps = funnel(con, period)["sessions"].to_list()
    con.execute(f"update {FUNNEL_ROLLUP} set sessions = sessions + 1 where event_step = 3 and order_step = 0")
    changed = con.sql(f"select count(*) from {FUNNEL_ROLLUP} where event_step = 3 and order_step = 0").fetchall()[0][0]
    assert changed > 0
    # Each such row's sessions reached the third step (added to cart) and no further.
    assert funnel(con, period)["sessions"].to_list() == [n + (changed if i < 3 else 0) for i, n in enumerate(steps)]
    assert after["gross_sales"] == before["gross_sales"] + 2.5
    # The customer figures read each order's net sales and its session's dimensions from the orders' rollup.
    as_of = END
    monetary = rfm_scores(con, as_of)["monetary"].sum()
    con.execute(f"update {ORDER_ROWS} set net_sales = net_sales + 1.5 where rowid = (select min(rowid) from "
                f"{ORDER_ROWS} where valid and customer_id is not null and day <= ?)", [as_of])  # fmt: skip
    assert rfm_scores(con, as_of)["monetary"].sum() == pytest.approx(monetary + 1.5)
    # Buyers are counted from the segment's orders (not a rollup's sums): more orders of mobile sessions, more buyers.
    mobile = Segment(device="mobile")
    buyers = compute_kpis(con, period, metrics=["buyers"], segment=mobile)["buyers"][0]
    con.execute(
        f"update {ORDER_ROWS} set device = 'mobile' where valid and customer_id is not null and device <> 'mobile'"
    )
    assert compute_kpis(con, period, metrics=["buyers"], segment=mobile)["buyers"][0] > buyers
    # A rollup built by other queries (another version of the registry) is not read: the raw numbers again.
    con.execute("update rollup_queries set query = query || ' ' where table_name = 'rollup_items'")
    assert not rollups_current(con)
    assert (
        compute_kpis(con, period, metrics=["sessions", "gross_sales"]).row(0, named=True)["sessions"]
        == before["sessions"]
    )


def test_the_source_spans_are_what_is_read():
    # Guards the tests above: a span taken out of the source spans is one visitor fewer for its source; spans built
    # by another query are not read (the raw count again).
    con = random_shop(5, sessions=200, days=DAYS, end=END)
    con.execute(LEDGER_DDL)
    choose_visitor_numbers(con, False)
    choose_visitor_splits(con, ["source"])
    build_rollups(con)
    period = Period(FIRST, END)
    before = dict(compute_kpis(con, period, by="source", metrics=["visitors"]).iter_rows())
    con.execute(f"delete from {SOURCE_SPANS} where rowid = (select min(rowid) from {SOURCE_SPANS} where source = ?)",
                ["paid_search"])  # fmt: skip
    after = dict(compute_kpis(con, period, by="source", metrics=["visitors"]).iter_rows())
    assert after == {**before, "paid_search": before["paid_search"] - 1}
    con.execute("update rollup_queries set query = query || ' ' where table_name = ?", [SOURCE_SPANS])
    assert dict(compute_kpis(con, period, by="source", metrics=["visitors"]).iter_rows()) == before


def test_the_visitor_numbers_are_what_is_read():
    # Guards the tests above: a visitor's rows taken out of the visitors by number is one visitor fewer for its
    # source; rows built by another query are not read (the raw count again).
    con = random_shop(5, sessions=200, days=DAYS, end=END)
    build_rollups(con)
    period = Period(FIRST, END)
    before = dict(compute_kpis(con, period, by="source", metrics=["visitors"]).iter_rows())
    # The rows of paid search sessions, told by their dimensions' hash as the sessions give it.
    paid = f"dimensions in (select {compute.dimensions_hash()} from sessions where source = 'paid_search')"
    con.execute(
        f"""delete from {DAY_VISITORS} where {paid}
        and visitor_no = (select min(visitor_no) from {DAY_VISITORS} where {paid})"""
    )
    after = dict(compute_kpis(con, period, by="source", metrics=["visitors"]).iter_rows())
    assert after == {**before, "paid_search": before["paid_search"] - 1}
    con.execute("update rollup_queries set query = query || ' ' where table_name = ?", [DAY_VISITORS])
    assert dict(compute_kpis(con, period, by="source", metrics=["visitors"]).iter_rows()) == before


def test_dimensions_sharing_a_hash_are_counted_from_the_sessions(monkeypatch: pytest.MonkeyPatch):
    # The visitors by number keep a hash of each session's dimensions. Were two combinations to share one (here every
    # source and medium of a device, the hash made of the device alone), their rows could not be told apart: a split
    # or filter counts the period's sessions instead (the same numbers as raw), the whole shop still the numbers.
    monkeypatch.setattr(compute, "dimensions_hash", lambda alias="": f"hash({alias + '.' if alias else ''}device)")
    con = random_shop(5, sessions=200, days=DAYS, end=END)
    build_rollups(con)
    assert compute.day_visitors_current(con), "the rollup is built by the query of the hash above"
    period = Period(FIRST, END)
    mobile = Segment(device="mobile")
    assert not compute.visitor_bits(con, "source") and not compute.visitor_bits(con, None, mobile)
    assert compute.visitor_bits(con, None) and compute.visitor_bits(con, "device") == 0
    for by, segment in (("source", ALL), ("medium", mobile), (None, mobile), (None, ALL)):
        got = compute_kpis(con, period, by=by, segment=segment, metrics=["visitors"])
        raw = compute_kpis(con, period, by=by, segment=segment, metrics=["visitors"], rollups=False)
        assert got.sort("group").equals(raw.sort("group")), (by, segment)


def test_a_warehouse_an_older_shopkpi_gave_visitors_spans_is_read_and_numbers_its_visitors_after_a_load(
    tmp_path: Path,
):
    # Rollups built by an older shopkpi (the whole shop's and the source's visitors' spans, no visitor numbers and
    # no choice recorded): they are read as they are, and the next load's ensure_rollups numbers the visitors and
    # drops the spans, the other rollups kept.
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile",
        "S2,V1,2024-03-04 10:00:00,google,mobile",
        "S3,V2,2024-03-02 10:00:00,direct,desktop",
    ))  # fmt: skip
    with writing(db) as con:
        choose_visitor_numbers(con, False)
        choose_visitor_splits(con, ["source"])
        build_rollups(con)
        con.execute("delete from shopkpi_meta where key in ('visitor_numbers', 'visitor_splits')")
    march = Period(date(2024, 3, 2), date(2024, 3, 31))
    spans = [VISITOR_SPANS, SOURCE_SPANS]
    with duckdb.connect(str(db), read_only=True) as con:
        assert rollups_current(con) and compute.split_spans_current(con, "source")
        assert not compute.day_visitors_current(con) and keeps_visitor_numbers(con)
        # V1 (google, 4 March; retained from its google session of 1 March, the previous period) and V2 (direct,
        # 2 March; none of the direct's in the previous period: no retention).
        by_source = compute_kpis(con, march, by="source", metrics=["sessions", "visitors", "retention_rate"])
        assert by_source.rows() == [("direct", 1, 1, None), ("google", 1, 1, 1.0)]
        others = [name for name in ROLLUP_NAMES if name != DAY_VISITORS]
        kept = {name: con.sql(f"select * from {name} order by all").pl() for name in others}
    assert ensure_rollups(db) is not None
    with duckdb.connect(str(db), read_only=True) as con:
        assert compute.day_visitors_current(con) and not compute.split_spans_current(con, "source")
        assert not {row[0] for row in con.sql("select table_name from duckdb_tables()").fetchall()} & set(spans)
        ours = compute_kpis(con, march, by="source", metrics=["sessions", "visitors", "retention_rate"])
        assert ours.equals(by_source)
    rebuilt = _rollup_rows(db)
    assert all(rebuilt[name].equals(kept[name]) for name in others) and set(spans).isdisjoint(rebuilt)
    assert rebuilt[DAY_VISITORS].height == 3


def test_a_warehouse_without_the_source_spans_counts_from_the_sessions_until_a_load_builds_them(tmp_path: Path):
    # Rollups built by an older shopkpi (no source spans): the other rollups are still read, visitors by source come
    # from the sessions, and the next load's ensure_rollups builds the spans alone.
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile",
        "S2,V1,2024-03-04 10:00:00,google,mobile",
        "S3,V2,2024-03-02 10:00:00,direct,desktop",
    ))  # fmt: skip
    with writing(db) as con:  # spans instead of visitor numbers, the source's chosen
        choose_visitor_numbers(con, False)
        choose_visitor_splits(con, ["source"])
        build_rollups(con)
        con.execute(f"drop table {SOURCE_SPANS}")
        con.execute("delete from rollup_queries where table_name = ?", [SOURCE_SPANS])
    march = Period(date(2024, 3, 2), date(2024, 3, 31))
    with duckdb.connect(str(db), read_only=True) as con:
        assert rollups_current(con) and not compute.split_spans_current(con, "source")
        # V1 (google, 4 March) and V2 (direct, 2 March).
        by_source = compute_kpis(con, march, by="source", metrics=["sessions", "visitors"])
        assert by_source.rows() == [("direct", 1, 1), ("google", 1, 1)]
    with duckdb.connect(str(db), read_only=True) as con:
        others = [name for name in ROLLUP_NAMES if name not in (SOURCE_SPANS, DAY_VISITORS)] + [VISITOR_SPANS]
        kept = {name: con.sql(f"select * from {name} order by all").pl() for name in others}
    assert ensure_rollups(db) is not None
    with duckdb.connect(str(db), read_only=True) as con:
        assert compute.split_spans_current(con, "source")
        assert compute_kpis(con, march, by="source", metrics=["sessions", "visitors"]).equals(by_source)
    rebuilt = _rollup_rows(db)
    assert all(rebuilt[name].equals(kept[name]) for name in others)
    assert rebuilt[SOURCE_SPANS].height == 2


def test_rollups_on_the_demo(demo_copy: Path):
    with writing(demo_copy) as con:
        build_rollups(con)
    con = duckdb.connect(str(demo_copy), read_only=True)
    whole = Period(date(2024, 5, 1), date(2024, 6, 30))
    partial = Period(date(2024, 5, 15), date(2024, 6, 20))  # cuts a week and both months
    for by in (None, "source"):
        assert compute_kpis(con, whole, by=by).equals(compute_kpis(con, whole, by=by, rollups=False)), by
        assert funnel(con, partial, by=by).equals(funnel(con, partial, by=by, rollups=False)), by
    for grain in ("week", "month"):
        ours = kpi_series(con, partial, grain=grain)
        assert ours.equals(kpi_series(con, partial, grain=grain, rollups=False)), grain
    assert compute_kpis(con, partial, segment=Segment(source="paid_search")).equals(
        compute_kpis(con, partial, segment=Segment(source="paid_search"), rollups=False)
    )
    # A split by source (its visitors from the source spans) over a day and a period with no data too.
    day, empty = Period(date(2024, 6, 3), date(2024, 6, 3)), Period(date(2020, 1, 1), date(2020, 1, 31))
    for period in (whole, partial, day, empty):
        for segment in (ALL, Segment(source="paid_search")):
            ours = compute_kpis(con, period, by="source", segment=segment)
            assert ours.equals(compute_kpis(con, period, by="source", segment=segment, rollups=False)), period
    for segment in (ALL, Segment(source="paid_search"), Segment(device="mobile")):
        for figure in (rfm_scores, repeat_interval, lifetime_value, cohort_activity):
            ours = figure(con, whole.end, segment=segment)
            assert ours.equals(figure(con, whole.end, segment=segment, rollups=False)), (figure.__name__, segment)
        by_type = compute_kpis(con, whole, by="customer_type", segment=segment)
        assert by_type.equals(compute_kpis(con, whole, by="customer_type", segment=segment, rollups=False))


def _csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _rollup_rows(db: Path) -> dict[str, pl.DataFrame]:
    """The rows of each rollup the warehouse's ledger records; the visitors by number with each number's visitor
    (a rebuild numbers them anew), each visitor numbered once."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [row[0] for row in con.sql("select table_name from rollup_queries order by 1").fetchall()]
        rows = {name: con.sql(f"select * from {name} order by all").pl() for name in names}
        if DAY_VISITORS in rows:
            numbered = con.sql(f"select count(*), count(distinct visitor_no) from {VISITOR_NUMBERS}").fetchall()[0]
            assert numbered[0] == numbered[1], "a number per visitor"
            rows[DAY_VISITORS] = con.sql(
                f"""
                select d.* exclude (visitor_no), n.store, n.visitor_id
                from {DAY_VISITORS} d join {VISITOR_NUMBERS} n using (visitor_no)
                order by all"""
            ).pl()
        return rows


def _second_arguments(monkeypatch, owner: object, name: str) -> list:
    """The second argument (after the connection) of each call of `owner.name` from now on, the calls going through."""
    calls, real = [], getattr(owner, name)

    def recording(con, second, *rest):
        calls.append(second)
        return real(con, second, *rest)

    monkeypatch.setattr(owner, name, recording)
    return calls


def _assert_as_rebuilt(db: Path) -> None:
    """The warehouse's rollups are those a full rebuild of a copy makes."""
    copy = db.with_name("rebuilt.duckdb")
    shutil.copyfile(db, copy)
    with writing(copy) as con:
        build_rollups(con)
    incremental = _rollup_rows(db)
    for name, rebuilt in _rollup_rows(copy).items():
        assert incremental[name].equals(rebuilt), (name, incremental[name], rebuilt)


@pytest.mark.parametrize(
    "splits, numbers", [(DEFAULT_VISITOR_SPLITS, False), (tuple(SPLIT_SPANS), False), (DEFAULT_VISITOR_SPLITS, True)]
)
def test_incremental_loads_keep_the_rollups_equal_to_a_full_rebuild(
    tmp_path: Path, splits: tuple[str, ...], numbers: bool
):
    # With the visitors' spans of the default split and of every split, and with the visitors numbered: sessions change
    # device and source below.
    db = tmp_path / "w.duckdb"
    sessions = "session_id,visitor_id,started_at,source,device,pageviews,duration_s"
    orders = "order_id,ordered_at,status,customer_id,session_id,subtotal"
    events = "session_id,occurred_at,event_type"
    ingest_file(db, "sessions", _csv(tmp_path / "s1.csv", sessions,
        "S1,V1,2024-03-01 10:00:00,google,mobile,1,5",
        "S2,V2,2024-03-02 11:00:00,direct,desktop,3,40",
        "S3,V1,2024-03-09 09:00:00,google,desktop,1,3",
    ))  # fmt: skip
    ingest_file(db, "orders", _csv(tmp_path / "o1.csv", orders,
        "O1,2024-03-02 12:00:00,placed,C1,S2,100",
        "O2,2024-03-09 10:00:00,paid,C1,S3,50",
    ))  # fmt: skip
    with writing(db) as con:
        choose_visitor_splits(con, splits)
        choose_visitor_numbers(con, numbers)
        build_rollups(con)
    with duckdb.connect(str(db), read_only=True) as con:
        assert {row[0] for row in con.sql("select table_name from rollup_queries").fetchall()} >= {
            SPLIT_SPANS[dimension] for dimension in splits
        } | ({DAY_VISITORS} if numbers else set())
        march = compute_kpis(con, Period(date(2024, 3, 1), date(2024, 3, 31))).row(0, named=True)
    # Sessions S1–S3, visitors V1 and V2; only O2 is valid (O1 is placed), so S3 converts.
    assert (march["sessions"], march["visitors"], march["orders"], march["conversion_rate"]) == (3, 2, 1, 1 / 3)

    # Later loads that change old days: O1 is paid now (S2 of 2 March converts; its day's orders and sales change), a
    # new order of 10 March names S1 of 1 March, an add-to-cart and page views for S1, and S3 moves to a new visitor
    # on another day (V1's span shrinks to 1 March) and another source.
    ingest_file(db, "orders", _csv(tmp_path / "o2.csv", orders,
        "O1,2024-03-02 12:00:00,paid,C1,S2,100",
        "O3,2024-03-10 08:00:00,shipped,C2,S1,70",
    ))  # fmt: skip
    _assert_as_rebuilt(db)
    ingest_file(db, "events", _csv(tmp_path / "e1.csv", events,
        "S1,2024-03-01 10:01:00,add_to_cart",
        "S1,2024-03-01 10:02:00,click",
    ))  # fmt: skip
    _assert_as_rebuilt(db)
    ingest_file(db, "sessions", _csv(tmp_path / "s2.csv", sessions,
        "S3,V3,2024-03-12 09:00:00,baidu,desktop,1,3",
    ))  # fmt: skip
    _assert_as_rebuilt(db)
    with duckdb.connect(str(db), read_only=True) as con:
        march = compute_kpis(con, Period(date(2024, 3, 1), date(2024, 3, 31))).row(0, named=True)
        first_week = compute_kpis(con, Period(date(2024, 3, 1), date(2024, 3, 7))).row(0, named=True)
    # All three orders are valid and name S2, S3 and S1: every session converts; 3 orders; V1, V2, V3.
    assert (march["sessions"], march["visitors"], march["orders"], march["conversion_rate"]) == (3, 3, 3, 1.0)
    # 1–7 March: S1 (V1) and S2 (V2); O1 of 2 March; S3 has left for 12 March.
    assert (first_week["sessions"], first_week["visitors"], first_week["orders"]) == (2, 2, 1)

    # V2's only session (S2, 2 March) goes to V3, which also gets S4 on 5 March: V2's span goes, V3's starts on
    # 2 March. Then S4 goes to V1: V3 loses a session between its first and last day (its span stays 2–12 March).
    ingest_file(db, "sessions", _csv(tmp_path / "s3.csv", sessions,
        "S2,V3,2024-03-02 11:00:00,direct,desktop,3,40",
        "S4,V3,2024-03-05 09:00:00,google,mobile,1,3",
    ))  # fmt: skip
    _assert_as_rebuilt(db)
    ingest_file(db, "sessions", _csv(tmp_path / "s4.csv", sessions, "S4,V1,2024-03-05 09:00:00,google,mobile,1,3"))
    _assert_as_rebuilt(db)
    with duckdb.connect(str(db), read_only=True) as con:
        march = compute_kpis(con, Period(date(2024, 3, 1), date(2024, 3, 31))).row(0, named=True)
        if numbers:  # each visitor's days, by its number (V2 keeps its number with no session left)
            spans = con.sql(
                f"""select n.visitor_id, min(d.day), max(d.day)
                from {DAY_VISITORS} d join {VISITOR_NUMBERS} n using (visitor_no) group by all order by 1"""
            ).fetchall()
            spans = [(f"main{chr(31)}{visitor}", first, last) for visitor, first, last in spans]
        else:
            spans = con.sql(f"select visitor_id, first_day, last_day from {VISITOR_SPANS} order by 1").fetchall()
    assert spans == [
        (f"main{chr(31)}V1", date(2024, 3, 1), date(2024, 3, 5)),
        (f"main{chr(31)}V3", date(2024, 3, 2), date(2024, 3, 12)),
    ]
    assert (march["sessions"], march["visitors"]) == (4, 2)


SESSIONS = "session_id,visitor_id,started_at,source,device"
EVENTS = "event_id,session_id,occurred_at,event_type"
ORDERS = "order_id,ordered_at,status,session_id"


@pytest.mark.parametrize("table", ["events", "sessions"])
def test_a_file_too_large_to_journal_into_an_empty_table_rebuilds_its_rollups_whole(tmp_path: Path, monkeypatch, table):
    """A shop's first year of events (or sessions) fills an empty table: the rollups that read it are recomputed
    whole instead of on the days and sessions the load touched, and are what a full rebuild makes."""
    monkeypatch.setattr(store, "JOURNAL_MAX_ROWS", 2)  # the three rows below are a large file
    db = tmp_path / "w.duckdb"
    orders = "order_id,ordered_at,status,customer_id,session_id,subtotal"
    ingest_file(db, "orders", _csv(tmp_path / "o.csv", orders, "O1,2024-03-02 12:00:00,paid,C1,S2,100"))
    sessions = _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile",
        "S2,V2,2024-03-02 11:00:00,direct,desktop",
        "S3,V1,2024-03-09 09:00:00,google,desktop",
    )  # fmt: skip
    # Without ids (keyed by their values) and on three days, one of them a session's later day.
    events = _csv(tmp_path / "e.csv", "session_id,occurred_at,event_type",
        "S1,2024-03-01 10:01:00,page_view",
        "S2,2024-03-03 00:01:00,add_to_cart",
        "S3,2024-03-09 09:02:00,click",
    )  # fmt: skip
    if table == "events":
        ingest_file(db, "sessions", sessions)
    with writing(db) as con:
        build_rollups(con)
    whole, fills_empty = [], rollups_module._fills_empty
    monkeypatch.setattr(rollups_module, "_fills_empty", lambda *args: whole.append(fills_empty(*args)) or whole[-1])
    ingest_file(db, table, events if table == "events" else sessions)
    assert whole == [True]
    _assert_as_rebuilt(db)
    if table == "sessions":
        ingest_file(db, "events", events)  # the events table is empty too: its first large load is whole as well
        assert whole == [True, True]
        _assert_as_rebuilt(db)
    # More rows into the table that now holds some: refreshed on the days they touch.
    more = _csv(tmp_path / "more.csv", "session_id,occurred_at,event_type",
        "S1,2024-03-01 10:05:00,click", "S2,2024-03-02 11:05:00,purchase", "S3,2024-03-09 09:03:00,page_view"
    )  # fmt: skip
    ingest_file(db, "events", more)
    assert whole[-1] is False
    _assert_as_rebuilt(db)


@pytest.mark.parametrize("named, delta", [(True, False), (False, False), (True, True), (False, True)])
def test_a_large_first_load_of_orders_recomputes_the_sessions_rollups_only_if_its_orders_name_sessions(
    tmp_path: Path, monkeypatch, named, delta
):
    """Orders fill an empty table with more rows than a journal keeps: the orders' rollups are recomputed whole, and
    the sessions' and funnel rollups (conversion) too where an order names a session, or, where those sessions are
    few among the stored ones (`delta`), those sessions' contributions are replaced (_apply_delta); a platform's
    export, whose orders name none, leaves them as they are. Either way every rollup is what a full rebuild makes."""
    monkeypatch.setattr(store, "JOURNAL_MAX_ROWS", 2)  # the three orders below are a large file
    applied = _force_deltas(monkeypatch) if delta else []
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile",
        "S2,V2,2024-03-02 11:00:00,direct,desktop",
    ))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
    rebuilt = _second_arguments(monkeypatch, rollups_module, "rebuild")  # the tables rebuilt whole
    session = "S2" if named else ""
    ingest_file(db, "orders", _csv(tmp_path / "o.csv", "order_id,ordered_at,status,customer_id,session_id,subtotal",
        "O1,2024-03-01 12:00:00,paid,C1,,100",
        f"O2,2024-03-02 12:00:00,paid,C2,{session},50",
        "O3,2024-03-02 13:00:00,cancelled,C3,,70",
    ))  # fmt: skip
    orders_rollups = {ROLLUP_TABLES["orders"], ROLLUP_TABLES["items"], ORDER_ROWS}
    per_session = {ROLLUP_TABLES["sessions"], FUNNEL_ROLLUP} if named else set()
    assert set(rebuilt) == orders_rollups | (set() if delta else per_session)
    assert set(applied) == (per_session if delta else set())
    _assert_as_rebuilt(db)
    with duckdb.connect(str(db), read_only=True) as con:
        converted = con.sql(f"select sum(converted_sessions) from {ROLLUP_TABLES['sessions']}").fetchall()
    assert converted == [(1 if named else 0,)]


def _force_deltas(monkeypatch) -> list:
    """Makes every load replace the contributions of the sessions it changes in the PER_SESSION rollups wherever it
    may, however few sessions its days hold; returns the tables _apply_delta is called for from now on."""
    monkeypatch.setattr(rollups_module, "DELTA_FROM", 0)
    monkeypatch.setattr(rollups_module, "DELTA_SHARE", float("inf"))
    return _second_arguments(monkeypatch, rollups_module, "_apply_delta")


def test_orders_naming_sessions_of_several_days_replace_those_sessions_contributions(tmp_path: Path, monkeypatch):
    """A load of orders changes the conversion of the sessions they name: the sessions' and funnel rollups take out
    what those sessions added before the load and add what they add now, on their days only, counted by hand below;
    the other sessions of those days keep their share, a funnel row no session reaches any more goes, and an order
    naming no stored session changes nothing. Every rollup is what a full rebuild makes."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile",
        "S2,V2,2024-03-02 11:00:00,direct,desktop",
        "S3,V1,2024-03-09 09:00:00,google,desktop",
        "S4,V3,2024-03-09 10:00:00,google,desktop",
    ))  # fmt: skip
    ingest_file(db, "events", _csv(tmp_path / "e.csv", EVENTS,
        "e1,S1,2024-03-01 10:01:00,page_view", "e2,S3,2024-03-09 09:01:00,add_to_cart"
    ))  # fmt: skip
    orders = "order_id,ordered_at,status,customer_id,session_id,subtotal"
    ingest_file(db, "orders", _csv(tmp_path / "o1.csv", orders,
        "O1,2024-03-02 12:00:00,placed,C1,S2,100", "O2,2024-03-09 10:00:00,paid,C1,S3,50"
    ))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
    applied = _force_deltas(monkeypatch)
    recomputed = _second_arguments(monkeypatch, rollups_module, "_remove_days")
    # O1 is paid now, O3 (10 March) names S1 of 1 March, O4 a session no file gave.
    ingest_file(db, "orders", _csv(tmp_path / "o2.csv", orders,
        "O1,2024-03-02 12:00:00,paid,C1,S2,100",
        "O3,2024-03-10 08:00:00,shipped,C2,S1,70",
        "O4,2024-03-10 09:00:00,paid,C3,SX,20",
    ))  # fmt: skip
    assert sorted(applied) == sorted([ROLLUP_TABLES["sessions"], FUNNEL_ROLLUP])
    assert not {ROLLUP_TABLES["sessions"], FUNNEL_ROLLUP} & set(recomputed)
    _assert_as_rebuilt(db)
    with duckdb.connect(str(db), read_only=True) as con:
        converted = con.sql(
            f"select day, device, converted_sessions, sessions from {ROLLUP_TABLES['sessions']} order by all"
        ).fetchall()
        steps = con.sql(f"select day, event_step, order_step, sessions from {FUNNEL_ROLLUP} order by all").fetchall()
    # S1 (1 March) converts by O3, S2 by O1 now paid, S3 by O2 as before; S4 shares S3's row and does not convert.
    assert converted == [
        (date(2024, 3, 1), "mobile", 1, 1),
        (date(2024, 3, 2), "desktop", 1, 1),
        (date(2024, 3, 9), "desktop", 1, 2),
    ]
    # S2's pair of steps moved from (no event, checkout) to (no event, purchase): the first row is gone.
    assert steps == [
        (date(2024, 3, 1), 1, 5, 1),
        (date(2024, 3, 2), 0, 5, 1),
        (date(2024, 3, 9), 0, 0, 1),
        (date(2024, 3, 9), 3, 5, 1),
    ]


@pytest.mark.parametrize(
    "delta_from, named, expected",
    [(8, ["S1"], True), (8, ["S1", "S2"], True), (8, ["S1", "S2", "S3"], False), (9, ["S1"], False)],
)
def test_the_contributions_are_replaced_where_the_load_changes_few_of_its_days_sessions(
    tmp_path: Path, monkeypatch, delta_from, named, expected
):
    """With eight sessions on the day of the sessions an orders file names: the difference is taken where that day
    holds at least DELTA_FROM sessions and the file names at most DELTA_SHARE (a quarter) of them, else the day is
    recomputed; either way the rollups are a full rebuild's."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS, *(
        f"S{n},V{n},2024-03-01 1{n}:00:00,google,mobile" for n in range(1, 9)
    )))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
    monkeypatch.setattr(rollups_module, "DELTA_FROM", delta_from)
    applied = _second_arguments(monkeypatch, rollups_module, "_apply_delta")
    lines = [f"O{n},2024-03-03 12:00:00,paid,{session}" for n, session in enumerate(named)]
    ingest_file(db, "orders", _csv(tmp_path / "o.csv", ORDERS, *lines))
    assert bool(applied) is expected
    _assert_as_rebuilt(db)


def test_a_per_session_rollup_with_a_dimension_it_does_not_list_is_recomputed_by_days(tmp_path: Path, monkeypatch):
    """Were the sessions' rollup to group by a text column PER_SESSION does not list (here the device, left out of its
    list), its rows would not be summable: it is recomputed on its days, the funnel's contributions still replaced."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile", "S2,V2,2024-03-02 11:00:00,direct,desktop"
    ))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
    applied = _force_deltas(monkeypatch)
    groups = tuple(name for name in rollups_module.PER_SESSION["rollup_sessions"] if name != "device")
    monkeypatch.setitem(rollups_module.PER_SESSION, "rollup_sessions", groups)
    ingest_file(db, "orders", _csv(tmp_path / "o.csv", ORDERS, "O1,2024-03-02 12:00:00,paid,S2"))
    assert applied == [FUNNEL_ROLLUP]
    _assert_as_rebuilt(db)


def test_each_sessions_events_summed_whole_and_for_the_sessions_a_load_changes(tmp_path: Path):
    """The session events' rollup, counted by hand: a row per stored session with events, on the day it started
    (an event after midnight included), built whole (every_key's query) and refreshed for the sessions a load of
    events changes (the keyed query)."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS,
        "S1,V1,2024-03-01 23:50:00,google,mobile",
        "S2,V2,2024-03-02 11:00:00,direct,desktop",  # no events: no row
    ))  # fmt: skip
    ingest_file(db, "events", _csv(tmp_path / "e.csv", EVENTS,
        "E1,S1,2024-03-01 23:51:00,page_view",
        "E2,S1,2024-03-01 23:55:00,page_view",
        "E3,S1,2024-03-02 00:05:00,add_to_cart",
        "E4,S9,2024-03-02 10:00:00,purchase",  # a session that is not stored: no row
    ))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
    rows = f"select day, session_id, page_view_events, added_to_cart, event_step from {SESSION_EVENTS} order by all"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql(rows).fetchall() == [(date(2024, 3, 1), "S1", 2, 1, 3)]
    ingest_file(db, "events", _csv(tmp_path / "e2.csv", EVENTS,
        "E5,S2,2024-03-02 11:01:00,click",
        "E6,S2,2024-03-02 11:02:00,begin_checkout",
        "E2,S1,2024-03-01 23:55:00,click",  # was a page view
    ))  # fmt: skip
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql(rows).fetchall() == [(date(2024, 3, 1), "S1", 1, 1, 3), (date(2024, 3, 2), "S2", 0, 0, 4)]
    _assert_as_rebuilt(db)


def test_a_keyed_rollup_query_is_run_for_every_key_without_its_keys():
    """every_key drops the condition on the keys' table (a build and a whole refresh need no table of every key),
    and refuses a query that does not name it exactly once (it would read a table nobody filled, or only part of
    the keys)."""
    keyed = f"select store, session_id from sessions where {KEY_FILTERS['session_id']}"
    assert every_key(keyed, "session_id") == "select store, session_id from sessions where true"
    assert every_key(keyed, "day") == keyed
    with pytest.raises(ValueError, match="names its keys once"):
        every_key(keyed, "visitor_id")
    with pytest.raises(ValueError, match="names its keys once"):
        every_key(f"{keyed} and {KEY_FILTERS['session_id']}", "session_id")


def _loaded(tmp_path: Path, sessions: tuple[str, ...], events: tuple[str, ...]) -> Path:
    """A warehouse of these session and event rows (CSV lines of SESSIONS and EVENTS), each table one load."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS, *sessions))
    ingest_file(db, "events", _csv(tmp_path / "e.csv", EVENTS, *events))
    return db


def test_the_session_events_are_refreshed_per_session_a_load_changes(tmp_path: Path, monkeypatch):
    """The session events' rollup is keyed by session: a load of sessions or events recomputes the rows of the
    sessions it changes, and every rollup stays what a full rebuild makes, each load starting from the A/B pair's
    idle copy (its replay deletes the recomputed sessions' rows and inserts their new ones)."""
    monkeypatch.setattr(store, "PAIR_FROM_BYTES", 0)  # a small warehouse paired too: the loads replay journals
    db = _loaded(
        tmp_path,
        (
            "S1,V1,2024-03-01 10:00:00,google,mobile",
            "S2,V2,2024-03-01 11:00:00,direct,desktop",
            "S3,V1,2024-03-02 09:00:00,google,desktop",
        ),
        (
            "e1,S1,2024-03-01 10:01:00,page_view",
            "e2,S2,2024-03-01 11:01:00,page_view",
            "e3,S2,2024-03-01 11:02:00,add_to_cart",
            "e4,S9,2024-03-03 08:00:00,page_view",
        ),
    )
    with writing(db) as con:
        build_rollups(con)
        keyed = con.sql(f"select keyed_by from rollup_queries where table_name = '{SESSION_EVENTS}'").fetchall()
    assert keyed == [("session_id",)]
    steps = [
        # S1 replaced on its day (another source): its row is recomputed, S2's of the same day left as it was.
        ("sessions", SESSIONS, ["S1,V1,2024-03-01 10:00:00,baidu,mobile"]),
        # S2 moves to 4 March: its row moves with it; 1 March's funnel and sessions lose it, 4 March's gain it.
        ("sessions", SESSIONS, ["S2,V2,2024-03-04 11:00:00,direct,desktop"]),
        # Events for an existing session without any (S3), and e1 moved from S1 to S3: both sessions' rows change.
        ("events", EVENTS, ["e5,S3,2024-03-02 09:05:00,begin_checkout", "e1,S3,2024-03-02 09:01:00,page_view"]),
        # S9's event came first; now S9 itself: its row appears, on its own start day.
        ("sessions", SESSIONS, ["S9,V3,2024-03-01 07:00:00,google,mobile"]),
    ]
    replayed = _second_arguments(monkeypatch, store, "_replay")  # the journal folders replayed
    for n, (table, header, rows) in enumerate(steps):
        ingest_file(db, table, _csv(tmp_path / f"step{n}.csv", header, *rows))
        _assert_as_rebuilt(db)
    # The rebuild before the first step cannot be replayed: it copied what it published as the idle copy, with an
    # empty journal. Each step replayed the journal of the block before on the idle copy, the session events' removed
    # and recomputed rows included.
    assert replayed == [tmp_path / ".w.duckdb.journal"] * len(steps)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(f"select session_id, day, page_view_events, added_to_cart, event_step from {SESSION_EVENTS}")
        found = sorted(rows.fetchall())
    march = {n: date(2024, 3, n) for n in (1, 2, 4)}
    # S1 lost its only event (e1) to S3; S3: e1's page view and e5's checkout (step 4); S9 started on 1 March.
    assert found == [("S2", march[4], 1, 1, 3), ("S3", march[2], 1, 0, 4), ("S9", march[1], 1, 0, 1)]


def test_a_load_of_one_session_does_not_recompute_its_days_other_sessions(tmp_path: Path):
    """What makes a one-session load cheap in a large warehouse (issue 14): the other sessions of its day keep their
    rows. A marker on S2's row (a number no query gives) survives loads of S1 and of S1's events."""
    db = _loaded(
        tmp_path,
        (
            "S1,V1,2024-03-01 10:00:00,google,mobile",
            "S2,V2,2024-03-01 11:00:00,direct,desktop",
        ),
        (
            "e1,S1,2024-03-01 10:01:00,page_view",
            "e2,S2,2024-03-01 11:01:00,page_view",
        ),
    )
    with writing(db) as con:
        build_rollups(con)
        con.execute(f"update {SESSION_EVENTS} set page_view_events = 99 where session_id = 'S2'")
    ingest_file(db, "sessions", _csv(tmp_path / "s2.csv", SESSIONS, "S1,V1,2024-03-01 10:00:00,baidu,mobile"))
    ingest_file(db, "events", _csv(tmp_path / "e2.csv", EVENTS, "e3,S1,2024-03-01 10:02:00,add_to_cart"))
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(f"select session_id, page_view_events, added_to_cart from {SESSION_EVENTS} order by 1")
        assert rows.fetchall() == [("S1", 1, 1), ("S2", 99, 0)]


def test_a_refresh_told_only_days_recomputes_the_session_events_of_those_days(tmp_path: Path):
    """refresh_rollups without touched_days before it (no list of changed sessions) recomputes the session events of
    the sessions started on the days it is given and of the rows lying on them: S1 moved from 1 to 2 March leaves 1
    March's rows and joins 2 March's, and S2, deleted, leaves no row (it is no longer among the sessions of 1 March,
    only among the rows lying on it). S3 of a new visitor, V3, on 2 March: the visitors of the days are numbered."""
    db = _loaded(
        tmp_path,
        (
            "S1,V1,2024-03-01 10:00:00,google,mobile",
            "S2,V2,2024-03-01 11:00:00,direct,desktop",
        ),
        (
            "e1,S1,2024-03-01 10:01:00,page_view",
            "e2,S2,2024-03-01 11:01:00,add_to_cart",
        ),
    )
    with writing(db) as con:
        build_rollups(con)
        con.execute("update sessions set started_at = '2024-03-02 10:00:00' where session_id = 'S1'")
        con.execute("delete from sessions where session_id = 'S2'")
        con.execute("insert into events (event_id, session_id, occurred_at, event_type) values "
                    "('e3', 'S1', '2024-03-02 10:01:00', 'click')")  # fmt: skip
        con.execute("insert into sessions (session_id, visitor_id, started_at, source, device) values "
                    "('S3', 'V3', '2024-03-02 12:00:00', 'bing', 'app')")  # fmt: skip
        both = {date(2024, 3, 1), date(2024, 3, 2)}
        refresh_rollups(con, dict.fromkeys(ROLLUP_NAMES, both))
        numbers = con.sql(f"select visitor_id, visitor_no from {VISITOR_NUMBERS} order by 2").fetchall()
    assert numbers[-1] == ("V3", 3) and len(numbers) == 3
    _assert_as_rebuilt(db)


session_rows = st.lists(
    st.tuples(st.sampled_from(["S1", "S2", "S3", "S4"]), st.sampled_from(["V1", "V2"]), st.integers(1, 3)),
    min_size=1,
    max_size=3,
)
event_rows = st.lists(
    st.tuples(
        st.sampled_from(["e1", "e2", "e3", "e4", "e5"]),
        st.sampled_from(["S1", "S2", "S3", "S4", "S5"]),  # S5: a session never loaded
        st.integers(1, 3),
        st.sampled_from(["page_view", "click", "add_to_cart", "purchase"]),
    ),
    min_size=1,
    max_size=4,
)
order_rows = st.lists(
    st.tuples(
        st.sampled_from(["O1", "O2", "O3"]),
        st.sampled_from(["S1", "S2", "S5", ""]),  # S5: a session never loaded; "": none
        st.integers(1, 3),
        st.sampled_from(["paid", "placed"]),
    ),
    min_size=1,
    max_size=3,
)


@settings(SETTINGS, max_examples=8)
@given(
    loads=st.lists(
        st.one_of(
            st.tuples(st.just("sessions"), session_rows, st.sampled_from(["main", "b"])),
            st.tuples(st.just("events"), event_rows, st.sampled_from(["main", "b"])),
            st.tuples(st.just("orders"), order_rows, st.sampled_from(["main", "b"])),
        ),
        min_size=1,
        max_size=4,
    )
)
@pytest.mark.parametrize("delta", [False, True])
def test_random_loads_of_sessions_and_events_keep_the_rollups_equal_to_a_full_rebuild(loads, delta):
    """Sessions, events and orders of a few ids loaded in any order (events and orders before their sessions,
    sessions moved between days and visitors, events and orders moved between sessions, rows loaded again as they
    are), each file into one of two stores (the same ids in both are different rows; an event or order of store b may
    name a session only store main has), through the A/B pair, also with the contributions of the sessions each load
    of events or orders changes replaced wherever they may be (`delta`): the rollups are a full rebuild's."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "PAIR_FROM_BYTES", 0)
        if delta:
            _force_deltas(patch)
        db = Path(folder) / "w.duckdb"
        ingest_file(db, "sessions", _csv(Path(folder) / "s0.csv", SESSIONS, "S1,V1,2024-03-01 10:00:00,google,mobile"))
        ingest_file(db, "events", _csv(Path(folder) / "e0.csv", EVENTS, "e1,S1,2024-03-01 10:01:00,page_view"))
        with writing(db) as con:
            build_rollups(con)
        for n, (table, rows, shop) in enumerate(loads):
            if table == "sessions":
                lines = [f"{s},{v},2024-03-0{d} 10:00:00,src{d},mobile" for s, v, d in rows]
                ingest_file(db, table, _csv(Path(folder) / f"{n}.csv", SESSIONS, *lines), store=shop)
            elif table == "events":
                lines = [f"{e},{s},2024-03-0{d} 12:00:00,{kind}" for e, s, d, kind in rows]
                ingest_file(db, table, _csv(Path(folder) / f"{n}.csv", EVENTS, *lines), store=shop)
            else:
                lines = [f"{o},2024-03-0{d} 13:00:00,{status},{s}" for o, s, d, status in rows]
                ingest_file(db, table, _csv(Path(folder) / f"{n}.csv", ORDERS, *lines), store=shop)
        _assert_as_rebuilt(db)


# The session events' query and ledger as shopkpi wrote them before the rollup was keyed by session.
_DAY_KEYED_LEDGER = """
create table rollup_queries (
    table_name varchar primary key,
    query varchar not null,
    keyed_by varchar not null check (keyed_by in ('day', 'visitor_id'))
)"""
_DAY_KEYED_SESSION_EVENTS = """with
period_sessions as (
    select store, session_id, cast(date_trunc('day', started_at) as date) as day
    from sessions
    where started_at >= $start_ts and started_at < $end_ts
),
session_events as (
    select
        ps.day, e.store, e.session_id,
        sum(case when e.event_type = 'page_view' then 1 else 0 end) as page_view_events,
        max(case when e.event_type = 'add_to_cart' then 1 else 0 end) as added_to_cart,
        max(case e.event_type when 'page_view' then 1 when 'click' then 2 when 'add_to_cart' then 3
            when 'begin_checkout' then 4 when 'purchase' then 5 else 0 end) as event_step
    from events e
    join period_sessions ps on ps.store = e.store and ps.session_id = e.session_id
    group by ps.day, e.store, e.session_id
)
select * from session_events"""


def test_a_warehouse_whose_session_events_were_keyed_by_day_keeps_working_and_is_upgraded(tmp_path: Path):
    """An older shopkpi's ledger allowed 'day' and 'visitor_id' keys only and refreshed the session events by day:
    loads still keep that rollup in step with its recorded query, the KPIs are read raw until it is rebuilt, and the
    rebuild after a load (ensure_rollups, as `shopkpi ingest` does; `shopkpi upgrade` too) makes the ledger accept
    the session key and keys the session events by session."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", SESSIONS, "S1,V1,2024-03-01 10:00:00,google,mobile"))
    ingest_file(db, "events", _csv(tmp_path / "e.csv", EVENTS, "e1,S1,2024-03-01 10:01:00,page_view"))
    with writing(db) as con:
        build_rollups(con)
        con.execute("create temp table _ledger as select * from rollup_queries")
        con.execute("drop table rollup_queries")
        con.execute(_DAY_KEYED_LEDGER)
        con.execute(
            "insert into rollup_queries select table_name, case when table_name = ? then ? else query end, "
            "case when keyed_by = 'session_id' then 'day' else keyed_by end from _ledger",
            [SESSION_EVENTS, _DAY_KEYED_SESSION_EVENTS],
        )
    with duckdb.connect(str(db), read_only=True) as con:
        assert not rollups_current(con)
    ingest_file(db, "sessions", _csv(tmp_path / "s2.csv", SESSIONS, "S1,V1,2024-03-02 10:00:00,google,mobile"))
    ingest_file(db, "events", _csv(tmp_path / "e2.csv", EVENTS, "e2,S1,2024-03-02 10:01:00,add_to_cart"))
    with duckdb.connect(str(db), read_only=True) as con:
        # Refreshed by day with the recorded query: S1's row moved to 2 March and counts e2.
        rows = con.sql(f"select session_id, day, page_view_events, added_to_cart from {SESSION_EVENTS}").fetchall()
        assert rows == [("S1", date(2024, 3, 2), 1, 1)]
    assert ensure_rollups(db) is not None
    with duckdb.connect(str(db), read_only=True) as con:
        assert rollups_current(con)
        keyed = con.sql("select table_name, keyed_by from rollup_queries where keyed_by <> 'day'").fetchall()
        assert keyed == [(SESSION_EVENTS, "session_id")], "and no visitors' spans: the visitors are numbered"
    ingest_file(db, "sessions", _csv(tmp_path / "s3.csv", SESSIONS, "S2,V2,2024-03-02 11:00:00,direct,desktop"))
    _assert_as_rebuilt(db)


def test_a_load_refreshes_each_rollup_on_the_days_its_rows_count(tmp_path: Path):
    """An order counts on its own day in the orders' and items' rollups and on its session's day in the sessions'
    (conversion): an order without a session leaves the sessions' rollup alone, and a replaced order's old session
    day is refreshed too."""
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", "session_id,visitor_id,started_at,source",
        "S1,V1,2024-03-01 10:00:00,google",
        "S2,V2,2024-03-04 10:00:00,direct",
    ))  # fmt: skip
    ingest_file(db, "orders", _csv(tmp_path / "o.csv", "order_id,ordered_at,status,session_id",
        "O1,2024-03-05 12:00:00,paid,S2",
    ))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
        con.execute("create temp table _checked as select *, null::varchar as _error from orders limit 0")
        con.execute(
            "insert into _checked (store, order_id, ordered_at, status, session_id) values "
            "('main', 'O9', '2024-03-10 08:00:00', 'paid', null),"  # no session
            "('main', 'O1', '2024-03-06 12:00:00', 'paid', 'S1')"  # was on 5 March, of S2 (4 March)
        )
        touched = touched_days(con, "orders")
        con.execute("delete from _checked where order_id = 'O1'")
        without_session = touched_days(con, "orders")
    march = {n: date(2024, 3, n) for n in (1, 4, 5, 6, 10)}
    assert touched == {
        "rollup_orders": {march[5], march[6], march[10]},
        "rollup_items": {march[5], march[6], march[10]},
        "rollup_sessions": {march[1], march[4]},
        "rollup_funnel": {march[1], march[4]},
        "rollup_order_rows": {march[5], march[6], march[10]},
    }
    assert without_session == {
        "rollup_orders": {march[10]},
        "rollup_items": {march[10]},
        "rollup_order_rows": {march[10]},
    }


def test_a_re_export_refreshes_only_the_days_of_the_rows_that_differ(tmp_path: Path, monkeypatch):
    """A file of orders already loaded, one of them changed (O2 paid now): the load refreshes the days of O2 (its own
    day, its session's) and not those of O1, an unchanged duplicate; the same file again refreshes nothing. The
    rollups stay a full rebuild's."""
    import pipelines.ingest.load as load

    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s.csv", "session_id,visitor_id,started_at,source",
        "S1,V1,2024-03-01 10:00:00,google",
        "S2,V2,2024-03-04 10:00:00,direct",
    ))  # fmt: skip
    ingest_file(db, "orders", _csv(tmp_path / "o1.csv", ORDERS,
        "O1,2024-03-05 12:00:00,paid,S2",
        "O2,2024-03-06 12:00:00,placed,S1",
    ))  # fmt: skip
    with writing(db) as con:
        build_rollups(con)
    refreshed = []

    def recording(con, days):
        refreshed.append({table: set(found) for table, found in days.items()})
        return refresh_rollups(con, days)

    monkeypatch.setattr(load, "refresh_rollups", recording)
    again = ["O1,2024-03-05 12:00:00,paid,S2", "O2,2024-03-06 12:00:00,paid,S1"]
    assert ingest_file(db, "orders", _csv(tmp_path / "o2.csv", ORDERS, *again)).duplicates == 1
    march = {n: date(2024, 3, n) for n in (1, 6)}
    assert refreshed[-1] == {
        "rollup_orders": {march[6]},
        "rollup_items": {march[6]},
        "rollup_order_rows": {march[6]},
        "rollup_sessions": {march[1]},
        "rollup_funnel": {march[1]},
    }
    _assert_as_rebuilt(db)
    # The same rows with a blank line more: another file (the same one would be refused as already loaded).
    assert ingest_file(db, "orders", _csv(tmp_path / "o3.csv", ORDERS, *again, "")).duplicates == 2
    assert refreshed[-1] == {}, "a file of unchanged rows changes no day"
    _assert_as_rebuilt(db)


def test_a_load_of_new_sessions_widens_its_visitors_spans_and_a_changing_load_recomputes_them(
    tmp_path: Path, monkeypatch
):
    """New sessions (none stored, no id repeated) widen their visitors' spans from the stored spans without reading
    the other sessions; a load that moves a stored session, or repeats an id, recomputes them. Through the A/B pair
    (each load replays the one before); the spans are checked by hand and equal a full rebuild's."""
    monkeypatch.setattr(store, "PAIR_FROM_BYTES", 0)
    merged = _second_arguments(monkeypatch, rollups_module, "_merge_spans")  # the spans' tables widened
    db = tmp_path / "w.duckdb"
    ingest_file(db, "sessions", _csv(tmp_path / "s1.csv", SESSIONS,
        "S1,V1,2024-03-01 10:00:00,google,mobile",
        "S2,V2,2024-03-03 10:00:00,direct,mobile",
    ))  # fmt: skip
    with writing(db) as con:  # the spans instead of visitor numbers
        choose_visitor_numbers(con, False)
        choose_visitor_splits(con, ["source"])
        build_rollups(con)

    def spans() -> tuple[list, list]:
        """(visitor, first day, last day) and (visitor, source, first day, last day), days of the month."""
        with duckdb.connect(str(db), read_only=True) as con:
            whole = con.sql(f"select visitor_id, first_day, last_day from {VISITOR_SPANS} order by all").fetchall()
            sources = con.sql(
                f"select visitor_id, source, first_day, last_day from {SPLIT_SPANS['source']} order by all"
            )
            by_source = sources.fetchall()
        visitor = lambda span_id: span_id.split(chr(31))[1]  # noqa: E731
        return (
            [(visitor(v), first.day, last.day) for v, first, last in whole],
            [(visitor(v), source, first.day, last.day) for v, source, first, last in by_source],
        )

    # V1 comes back on 5 March (google) and came on 28 February (direct); V3 is new.
    ingest_file(db, "sessions", _csv(tmp_path / "s2.csv", SESSIONS,
        "S3,V1,2024-03-05 10:00:00,google,mobile",
        "S4,V1,2024-02-28 10:00:00,direct,mobile",
        "S5,V3,2024-03-04 10:00:00,direct,mobile",
    ))  # fmt: skip
    assert sorted(merged) == sorted([VISITOR_SPANS, SPLIT_SPANS["source"]])
    assert spans() == (
        [("V1", 28, 5), ("V2", 3, 3), ("V3", 4, 4)],
        [("V1", "direct", 28, 28), ("V1", "google", 1, 5), ("V2", "direct", 3, 3), ("V3", "direct", 4, 4)],
    )
    _assert_as_rebuilt(db)
    # S3 moves to V2 (a stored session changes): V1's google span shrinks back to 1 March; recomputed.
    merged.clear()
    ingest_file(db, "sessions", _csv(tmp_path / "s3.csv", SESSIONS, "S3,V2,2024-03-05 10:00:00,google,mobile"))
    assert merged == []
    assert spans()[1] == [
        ("V1", "direct", 28, 28), ("V1", "google", 1, 1), ("V2", "direct", 3, 3), ("V2", "google", 5, 5),
        ("V3", "direct", 4, 4),
    ]  # fmt: skip
    _assert_as_rebuilt(db)
    # A new id twice: its last row (V3) is what is stored, so only V3's span takes its day; recomputed.
    ingest_file(db, "sessions", _csv(tmp_path / "s4.csv", SESSIONS,
        "S6,V2,2024-03-09 10:00:00,direct,mobile",
        "S6,V3,2024-03-08 10:00:00,direct,mobile",
    ))  # fmt: skip
    assert merged == []
    assert spans()[0] == [("V1", 28, 1), ("V2", 3, 5), ("V3", 4, 8)]
    _assert_as_rebuilt(db)


def test_day_runs():
    d = date(2024, 3, 1)
    days = [d, d + timedelta(days=1), d + timedelta(days=5), d + timedelta(days=2)]
    assert day_runs(days) == [(d, d + timedelta(days=2)), (d + timedelta(days=5), d + timedelta(days=5))]
    # More than MAX_RUNS separate days: one run from the first to the last.
    scattered = [d + timedelta(days=2 * i) for i in range(20)]
    assert day_runs(scattered) == [(d, d + timedelta(days=38))]
