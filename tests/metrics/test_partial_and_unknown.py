"""Issue 18: a month that is not over, inputs a shop never gave, the fixed retention KPI, one purchase rule, GA4's
engaged bounce and target wording. Every expected value is worked out by hand in the comments, on shops small enough
to read."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.compute import compare_periods, comparison_periods, compute_kpis, kpi_series, traffic_cut
from metrics.funnel import funnel
from metrics.inputs import missing_inputs, unknown
from metrics.periods import Period, coverage
from metrics.pnl import pnl_last_year, pnl_statement
from metrics.targets import Target, verdict_text
from tests.support.shops import empty_shop

MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))
APRIL = Period(date(2024, 4, 1), date(2024, 4, 30))


def small_shop(costs: bool = True, ads: bool = False):
    """Orders o1 (10 March, c1, session s1: 2 × P1 at 50), o2 (31 March, guest, no session: 1 × P2 at 100), o3 (2 April,
    c2: 1 × P1 at 50), o4 (2 March, c3, session s3: cancelled). P1 costs 20 (when `costs`), P2 has no cost. Expenses:
    3,100 for March, 3,000 for April. The data ends on 2 April 2024."""
    con = empty_shop()
    con.execute(
        "insert into orders (order_id, ordered_at, status, customer_id, session_id, discount, shipping_fee, "
        "refund_amount) values ('o1', '2024-03-10 10:00', 'paid', 'c1', 's1', 0, 0, 0), "
        "('o2', '2024-03-31 18:00', 'delivered', null, null, 0, 0, 0), "
        "('o3', '2024-04-02 09:00', 'paid', 'c2', null, 0, 0, 0), "
        "('o4', '2024-03-02 12:00', 'cancelled', 'c3', 's3', 0, 0, 0)"
    )
    con.execute(
        "insert into order_items (order_id, line_no, sku, quantity, unit_price) values "
        "('o1', 1, 'P1', 2, 50), ('o2', 1, 'P2', 1, 100), ('o3', 1, 'P1', 1, 50), ('o4', 1, 'P1', 1, 50)"
    )
    con.execute(
        "insert into products (sku, name, category, unit_cost) values (?, 'one', 'a', ?), ('P2', 'two', 'a', null)",
        ["P1", 20 if costs else None],
    )
    con.execute(
        "insert into expenses (month, category, amount) values ('2024-03', 'rent', 3100), ('2024-04', 'rent', 3000)"
    )
    # Visitors: v1 on 15 February and again on 10 March (s1); v2 on 20 February only; s3 (v3) on 2 March, whose order
    # was cancelled but which has a purchase event; s4 (v4) on 5 March, 40 s long.
    con.execute(
        "insert into sessions (session_id, visitor_id, started_at, source, device, pageviews, duration_s) values "
        "('s0', 'v1', '2024-02-15 10:00', 'direct', 'mobile', 1, 5), "
        "('s1', 'v1', '2024-03-10 09:50', 'direct', 'mobile', 1, 4), "
        "('s2', 'v2', '2024-02-20 10:00', 'social', 'mobile', 3, 2), "
        "('s3', 'v3', '2024-03-02 11:50', 'social', 'mobile', 1, null), "
        "('s4', 'v4', '2024-03-05 08:00', 'social', 'mobile', 1, 40)"
    )
    con.execute(
        "insert into events (event_id, session_id, occurred_at, event_type) values "
        "('e1', 's3', '2024-03-02 11:55', 'add_to_cart'), ('e2', 's3', '2024-03-02 11:58', 'purchase')"
    )
    if ads:
        con.execute("insert into ad_spend (date, source, campaign, cost) values ('2024-03-10', 'social', '', 30)")
    return con


def row(con, period: Period, metrics=None) -> dict:
    return compute_kpis(con, period, metrics=metrics).row(0, named=True)


def test_a_month_that_is_not_over_is_partial_and_its_expenses_cover_its_days_with_data():
    con = small_shop()
    # The data runs from 15 February to 2 April: April has 2 of its 30 days.
    april = coverage(con, APRIL)
    assert april.as_json() == {"partial": True, "days_with_data": 2, "days": 30}
    assert coverage(con, MARCH).as_json() == {"partial": False, "days_with_data": 31, "days": 31}
    # April's expenses: 3,000 × 2 / 30 = 200, the same from the KPIs of all of April, of 1–2 April and from the P&L.
    assert row(con, APRIL)["operating_expenses"] == pytest.approx(200)
    assert row(con, Period(date(2024, 4, 1), date(2024, 4, 2)))["operating_expenses"] == pytest.approx(200)
    statement = {r["month"]: r for r in pnl_statement(con, "2024-03", "2024-04").iter_rows(named=True)}
    assert statement["2024-04"]["operating_expenses"] == pytest.approx(200)
    assert (statement["2024-04"]["partial"], statement["2024-04"]["days_with_data"], statement["2024-04"]["days"]) == (
        True, 2, 30,
    )  # fmt: skip
    assert statement["2024-03"]["operating_expenses"] == pytest.approx(3100) and not statement["2024-03"]["partial"]


def test_a_partial_month_is_compared_with_the_same_days():
    con = small_shop()
    # April 1–2 against March 1–2 (o4 was cancelled: no valid order) and against 1–2 April 2023 (nothing).
    assert comparison_periods(con, APRIL) == {
        "previous": Period(date(2024, 3, 1), date(2024, 3, 2)),
        "last_year": Period(date(2023, 4, 1), date(2023, 4, 2)),
    }
    orders = compare_periods(con, APRIL, metrics=["orders"]).row(0, named=True)
    assert (orders["value"], orders["previous"], orders["last_year"]) == (1, 0, 0)
    # The P&L compares April's 2 days with last year's 1–2 April, and flags them.
    before = pnl_last_year(con, "2024-04", "2024-04").row(0, named=True)
    assert (before["month"], before["days_with_data"], before["gross_sales"]) == ("2023-04", 2, 0)


def test_unknown_cost_is_not_zero_cost_and_partly_known_cost_says_its_coverage():
    # March with P1's cost known: o1's 2 × P1 cost 40; o2's P2 has none. Gross sales 100 + 100 = 200, half of it costed.
    march = row(small_shop(), MARCH)
    assert march["cogs"] == pytest.approx(40) and march["cost_coverage"] == pytest.approx(0.5)
    assert march["gross_profit"] == pytest.approx(200 - 40)
    # No unit cost anywhere: COGS, the profits below it and the margins are unknown, with the reason; not 100 %.
    con = small_shop(costs=False)
    march = row(con, MARCH)
    for name in ("cogs", "gross_profit", "gross_margin", "contribution", "net_profit", "net_margin"):
        assert march[name] is None, name
    assert march["cost_coverage"] == 0 and march["net_sales"] == pytest.approx(200)
    assert unknown(["gross_margin"], missing_inputs(con)) == {
        "gross_margin": "no unit cost loaded (products.unit_cost or order_items.unit_cost)"
    }


def test_orders_without_lines_or_subtotals_have_unknown_sales_not_negative_ones():
    # small_shop's orders before their lines are loaded: their values are unknown, so are the sales and every figure
    # built on them (the discounts and refunds alone would make revenue negative); the count of orders is known.
    con = small_shop()
    con.execute("delete from order_items")
    con.execute("update orders set discount = 5, refund_amount = 10 where order_id = 'o1'")
    march = row(con, MARCH)
    assert march["orders"] == 2 and march["discounts"] == pytest.approx(5)
    for name in ("gross_sales", "net_sales", "total_revenue", "aov", "units", "cost_coverage"):
        assert march[name] is None, name
    reasons = unknown(["total_revenue", "units"], missing_inputs(con))
    assert reasons == {
        "total_revenue": "no order values loaded (order_items, or orders.subtotal for exports without line items)",
        "units": "no order lines loaded (order_items)",
    }
    # An export without line items that gives each order's subtotal (o1 120, o2 80): the sales are its subtotals; the
    # units are still unknown (no lines anywhere).
    con.execute("update orders set subtotal = case order_id when 'o1' then 120 when 'o2' then 80 else 50 end")
    march = row(con, MARCH)
    assert march["gross_sales"] == pytest.approx(200) and march["net_sales"] == pytest.approx(200 - 5 - 10)
    assert march["units"] is None and unknown(["units"], missing_inputs(con))
    assert march["order_value_coverage"] == 1


def test_orders_whose_value_is_partly_known_say_how_much_of_the_sales_is_covered():
    # SPEC §4: an input partly known says how much of it is covered. small_shop's March: o1 with its line (2 × 50),
    # o2 (1 × 100) with its line taken out and no subtotal: its sales are not known. Gross sales are o1's 100, and the
    # coverage 1 of the 2 valid orders; with o2's subtotal 80 given, 180 and all of them. Its units stay unknown: the
    # units are o1's 2, their line coverage 1 of 2.
    con = small_shop()
    con.execute("delete from order_items where order_id = 'o2'")
    march = row(con, MARCH)
    assert march["orders"] == 2 and march["gross_sales"] == pytest.approx(100)
    assert march["order_value_coverage"] == pytest.approx(1 / 2)
    assert march["units"] == 2 and march["order_line_coverage"] == pytest.approx(1 / 2)
    con.execute("update orders set subtotal = 80 where order_id = 'o2'")
    march = row(con, MARCH)
    assert march["gross_sales"] == pytest.approx(180) and march["order_value_coverage"] == 1
    assert march["units"] == 2 and march["order_line_coverage"] == pytest.approx(1 / 2)


def test_no_ad_spend_loaded_is_unknown_and_a_day_without_ads_once_loaded_is_zero():
    con = small_shop()
    march = row(con, MARCH)
    assert march["ad_spend"] is None and march["roas"] is None and march["net_profit"] is None
    assert "ad_spend" in missing_inputs(con)
    con = small_shop(ads=True)
    assert row(con, MARCH)["ad_spend"] == pytest.approx(30)
    # 2 April has no ad spend row, but the shop gives ad spend: a true 0. Contribution of 1–2 April: o3's 50 − its
    # cost 20 (no fulfilment, no ads) = 30.
    april = row(con, Period(date(2024, 4, 1), date(2024, 4, 2)))
    assert april["ad_spend"] == 0 and april["contribution"] == pytest.approx(30)


def test_the_fixed_retention_kpi_does_not_depend_on_the_period_length():
    con = small_shop()
    # Anchored on the period's last day with data, 2 April: visitors of 3 February – 3 March (v1, v2, v3) and who of
    # them came back from 4 March to 2 April: v1 (10 March). 1 / 3, for April (partial) and for 2 April alone.
    assert row(con, APRIL)["retention_30d"] == pytest.approx(1 / 3)
    assert row(con, Period(date(2024, 4, 2), date(2024, 4, 2)))["retention_30d"] == pytest.approx(1 / 3)
    # The period-over-period retention does change with the period: 1–2 April has no visitor at all.
    assert row(con, Period(date(2024, 4, 2), date(2024, 4, 2)))["retention_rate"] is None


def test_a_click_log_without_visitor_ids_or_orders_shows_unknown_not_zero():
    # The UCI e-shop layout: each session is its own visitor, and there are no orders.
    con = empty_shop()
    con.execute(
        "insert into sessions (session_id, visitor_id, started_at, source, device, pageviews) values "
        "('a', 'a', '2024-03-01 10:00', 'direct', 'app', 2), ('b', 'b', '2024-03-02 10:00', 'direct', 'app', 1)"
    )
    march = row(con, MARCH)
    assert march["sessions"] == 2 and march["bounce_rate"] == pytest.approx(0.5)
    for name in ("visitors", "retention_rate", "retention_30d", "conversion_rate", "orders", "buyer_conversion_rate"):
        assert march[name] is None, name
    reasons = unknown(["retention_rate", "conversion_rate"], missing_inputs(con))
    assert reasons == {
        "retention_rate": "the sessions carry no visitor ids (each session is its own visitor)",
        "conversion_rate": "no orders loaded",
    }


def test_the_funnel_purchase_step_is_what_conversion_counts():
    con = small_shop()
    # March's sessions: s1 (named by o1, valid: purchased), s3 (purchase event, but o4 was cancelled: a begun checkout),
    # s4 (one page). The funnel's last step is 1 session, the converted sessions of conversion_rate.
    steps = {r["step"]: r["sessions"] for r in funnel(con, MARCH).iter_rows(named=True)}
    assert steps["purchase"] == 1 and steps["begin_checkout"] == 2
    assert row(con, MARCH, metrics=["converted_sessions"])["converted_sessions"] == 1
    # Without any order in the shop, a purchase event is all there is, and it counts.
    con.execute("delete from order_items")
    con.execute("delete from orders")
    assert {r["step"]: r["sessions"] for r in funnel(con, MARCH).iter_rows(named=True)}["purchase"] == 1


def test_engaged_bounce_is_ga4s_not_engaged_share():
    con = small_shop()
    # March's sessions: s1 (4 s, 1 page, but o1 names it: engaged), s3 (no duration, 1 page, order cancelled: not
    # engaged), s4 (40 s: engaged). Not engaged: 1 of 3. One-page bounce: all 3 had one page.
    march = row(con, MARCH)
    assert march["engaged_bounce_rate"] == pytest.approx(1 / 3)
    assert march["bounce_rate"] == pytest.approx(1.0)


def test_a_value_past_the_good_end_of_a_range_reads_as_such():
    aov = Target("aov", min=100, max=300, direction="higher")
    assert aov.status(350) == "on" and aov.verdict(350) == "above"
    assert verdict_text(aov.verdict(350)) == "above range — good"
    assert verdict_text(aov.verdict(200)) == "on target" and aov.verdict(95) == "near" and aov.verdict(50) == "off"
    bounce = Target("bounce_rate", min=0.2, max=0.4, direction="lower")
    assert bounce.verdict(0.1) == "below" and verdict_text("below", "zh") == "低于区间（良好）"


def traffic_shop():
    """No session logs; two GA4-style aggregates for 1 January – 30 October 2025 (Paid Search 4,395 sessions of which
    1,544 engaged, Direct 1,679 / 533), and a daily Sycm-style pair for 1 and 2 November: social 100 sessions with 40
    one-page bounces and 5 orders each day."""
    con = empty_shop()
    con.execute(
        "insert into traffic (store, medium, campaign, device, date, end_date, source, sessions, engaged_sessions) "
        "values ('main', '', '', 'unknown', '2025-01-01', '2025-10-30', 'paid_search', 4395, 1544), "
        "('main', '', '', 'unknown', '2025-01-01', '2025-10-30', 'direct', 1679, 533)"
    )
    con.execute(
        "insert into traffic (store, medium, campaign, device, date, end_date, source, sessions, bounced_sessions, "
        "orders, visitors) values ('main', '', '', 'unknown', '2025-11-01', '2025-11-01', 'social', 100, 40, 5, 90), "
        "('main', '', '', 'unknown', '2025-11-02', '2025-11-02', 'social', 100, 40, 5, 80)"
    )
    return con


def test_platform_traffic_answers_the_session_figures_where_there_are_no_session_logs():
    con = traffic_shop()
    ga4 = Period(date(2025, 1, 1), date(2025, 10, 30))
    rows = {r["group"]: r for r in compute_kpis(con, ga4, by="source").iter_rows(named=True)}
    # Each channel's sessions as in the file; GA4's engagement gives the not-engaged bounce: 1 − 1544 / 4395.
    assert (rows["paid_search"]["sessions"], rows["direct"]["sessions"]) == (4395, 1679)
    assert rows["paid_search"]["engaged_bounce_rate"] == pytest.approx(1 - 1544 / 4395)
    # GA4 gives no one-page bounce, no orders and no visitors here: unknown, not 0.
    assert rows["paid_search"]["bounce_rate"] is None and rows["paid_search"]["conversion_rate"] is None
    assert rows["paid_search"]["visitors"] is None
    # The daily pair: 2 days of 100 sessions, 80 bounces, 10 orders → bounce 40 %, conversion 5 %; daily visitor
    # counts do not add up to distinct visitors (null), one day's do (90).
    november = row(con, Period(date(2025, 11, 1), date(2025, 11, 2)))
    assert november["sessions"] == 200 and november["bounce_rate"] == pytest.approx(0.4)
    assert november["conversion_rate"] == pytest.approx(0.05) and november["visitors"] is None
    assert row(con, Period(date(2025, 11, 1), date(2025, 11, 1)))["visitors"] == 90


def test_a_window_that_cuts_a_range_aggregate_has_no_session_figures_never_a_pro_rata():
    con = traffic_shop()
    # 1 January – 29 October cuts the 1 January – 30 October report: unknown, with the reason.
    cut = Period(date(2025, 1, 1), date(2025, 10, 29))
    assert row(con, cut)["sessions"] is None
    assert traffic_cut(con, cut).startswith(
        "the platform's traffic report covers 2025-01-01 – 2025-10-30 as a whole and this period cuts it"
    )  # a shop of one store: the store is not named
    # A window covering it whole counts it whole (6,074), and a month of it in a monthly series is unknown too.
    assert row(con, Period(date(2024, 12, 1), date(2025, 10, 31)))["sessions"] == 4395 + 1679
    series = kpi_series(con, Period(date(2025, 9, 1), date(2025, 11, 30)), grain="month", metrics=["sessions"])
    assert series["sessions"].to_list() == [None, None, 200]
    assert traffic_cut(con, Period(date(2025, 11, 1), date(2025, 11, 30))) is None
