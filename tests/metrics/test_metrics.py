"""Each KPI of SPEC §4 on the hand-made shop of tests/support/shops.py, with the expected values worked out by hand.

March 2024 is the period unless a test says otherwise. What happens in March, from the fixture's rows:
- sessions started in March: s1, s2, s3, s4, s7 (s7 at 23:30 on the 31st; s8 at 00:10 on 1 April is out).
- valid orders placed in March: o1 (delivered, s1, c1), o2 (paid, no session, c2, no lines: subtotal 120),
  o3 (returned, s3, guest), o4 (shipped, s4, c1), o11 (delivered, no session, c5). o5 is cancelled: not valid.
- order lines: o1 = 2 × P1 @ 100 + 1 × P2 @ 50 = 250; o3 = 1 × P3 @ 80 + 1 × P1 @ 60 = 140; o4 = 3 × P2 @ 40 = 120;
  o11 = 1 × P1 @ 70 = 70.
"""

from __future__ import annotations

from datetime import date

import pytest

from metrics.compute import compare_periods, compute_kpis, kpi_series
from metrics.periods import Period
from metrics.registry import METRICS
from warehouse import open_read_only

MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))


@pytest.fixture(scope="module")
def con(hand_made_db):
    connection = open_read_only(hand_made_db)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def march(con) -> dict:
    frame = compute_kpis(con, MARCH.start, MARCH.end)
    assert frame.height == 1 and frame["group"][0] is None
    return frame.row(0, named=True)


def by(con, dimension: str, period: Period = MARCH) -> dict:
    """The grouped KPIs as {group: row}."""
    frame = compute_kpis(con, period, by=dimension)
    groups = frame["group"].to_list()
    assert len(groups) == len(set(groups)), "one row per group"
    return {row["group"]: row for row in frame.iter_rows(named=True)}


def test_every_metric_is_a_column_in_registry_order(march):
    assert list(march) == ["group", *METRICS]


# --- sessions and visitors -----------------------------------------------------------------------------------


def test_sessions_and_visitors(march):
    # s1, s2, s3, s4, s7 started in March (s7 at 23:30 on the 31st counts, s8 at 00:10 on 1 April does not).
    assert march["sessions"] == 5
    # Their visitors: v1 (s1 and s4), v2, v3, v5.
    assert march["visitors"] == 4


def test_bounce_rate_uses_pageviews_else_page_view_events(march):
    # s1 pageviews 3; s2 pageviews 1 (bounce); s3 no pageviews, one page_view event (bounce);
    # s4 no pageviews, two page_view events; s7 no pageviews and no events (0 page views: not a bounce). 2 / 5.
    assert march["bounce_rate"] == pytest.approx(0.4)


def test_conversion_rate_counts_sessions_named_by_any_valid_order(march):
    # s1 (o1), s3 (o3, returned is valid), s4 (o4), s7 (o10: paid on 2 April, but it names a March session);
    # s2 is named only by o5, which is cancelled. 4 / 5.
    assert march["conversion_rate"] == pytest.approx(0.8)


def test_cart_conversion_rate(march):
    # Sessions with add_to_cart: s2 (e16), s3 (e2), s4 (e7); of those s3 and s4 are named by a valid order. 2 / 3.
    assert march["cart_conversion_rate"] == pytest.approx(2 / 3)


def test_ctr_counts_events_in_the_period(march):
    # Impressions in March: e3, e10, e11, e13 (e15 is on 1 April); clicks: e4, e12, e14. 3 / 4.
    assert march["ctr"] == pytest.approx(0.75)


def test_retention_rate_over_the_previous_period(march):
    # Previous period: 30 January – 29 February. Its visitors: v4 (s5), v2 (s6). v2 visits again in March (s2),
    # v4 does not. 1 / 2.
    assert march["retention_rate"] == pytest.approx(0.5)


# --- orders and money ----------------------------------------------------------------------------------------


def test_orders_count_valid_orders_only(march):
    # o1, o2, o3, o4, o11 (o5 cancelled, o6 in February, o9 in 2023, o10 in April).
    assert march["orders"] == 5


def test_buyers_do_not_count_guests(march):
    # Customers of those orders: c1 (o1, o4), c2 (o2), c5 (o11); o3 is a guest checkout.
    assert march["buyers"] == 3


def test_units_and_gross_sales_use_lines_else_subtotal(march):
    # Units: o1 3 + o2 0 (no lines) + o3 2 + o4 3 + o11 1 = 9.
    assert march["units"] == 9
    # Gross sales: o1 250 + o2 120 (its subtotal, having no lines) + o3 140 + o4 120 + o11 70 = 700.
    assert march["gross_sales"] == pytest.approx(700)


def test_discounts_refunds_net_sales_shipping_total_revenue(march):
    assert march["discounts"] == pytest.approx(30)  # o1 20 + o4 10
    assert march["refunds"] == pytest.approx(140)  # o3
    assert march["net_sales"] == pytest.approx(530)  # 700 - 30 - 140
    assert march["shipping_income"] == pytest.approx(15)  # o1 10 + o3 5
    assert march["total_revenue"] == pytest.approx(545)  # 530 + 15


def test_aov_and_revenue_per_buyer(march):
    assert march["aov"] == pytest.approx(134)  # (700 - 30) / 5 orders
    assert march["revenue_per_buyer"] == pytest.approx(670 / 3)  # (700 - 30) / 3 buyers


def test_buyer_conversion_rate(march):
    assert march["buyer_conversion_rate"] == pytest.approx(0.75)  # 3 buyers / 4 visitors


def test_returning_customer_rate_counts_orders_before_the_period(march):
    # c1: o9 (2023), o1, o4 -> 3 valid orders by 31 March; c2: o6 (February), o2 -> 2; c5: o11 only -> 1. 2 / 3.
    assert march["returning_customer_rate"] == pytest.approx(2 / 3)


def test_cogs_excludes_returned_orders_and_falls_back_to_product_cost(march):
    # o1: 2 × 40 (P1's product cost, the line has none) + 1 × 25 (the line's own) = 105; o2: no lines = 0;
    # o3: returned = 0; o4: 3 × 30 (P2's product cost) = 90; o11: 1 × 40 = 40. Total 235.
    assert march["cogs"] == pytest.approx(235)
    assert march["gross_profit"] == pytest.approx(295)  # 530 - 235
    assert march["gross_margin"] == pytest.approx(295 / 530)


def test_fulfilment_cost(march):
    # shipping_cost + payment_fee: o1 8 + 3, o2 5 + 1, o3 6 + 2, o4 7 + 2, o11 none = 34.
    assert march["fulfilment_cost"] == pytest.approx(34)


def test_ad_spend_ad_ctr_roas_cost_per_order(march):
    # Ad rows dated in March: paid_search 100 (1000 impressions, 50 clicks), paid_search 50 (500, 10),
    # social 30 (no impressions or clicks). 29 February and 1 April are out.
    assert march["ad_spend"] == pytest.approx(180)
    assert march["ad_ctr"] == pytest.approx(60 / 1500)
    assert march["roas"] == pytest.approx(670 / 180)  # (gross_sales - discounts) / ad_spend
    assert march["cost_per_order"] == pytest.approx(36)  # 180 / 5


def test_contribution_operating_expenses_net_profit(march):
    assert march["contribution"] == pytest.approx(96)  # 545 - 235 - 34 - 180
    assert march["operating_expenses"] == pytest.approx(4650)  # the whole of March: rent 3100 + staff 1550
    assert march["net_profit"] == pytest.approx(-4554)  # 96 - 4650
    assert march["net_margin"] == pytest.approx(-4554 / 545)


def test_operating_expenses_pro_rata_for_partial_months(con):
    # 20 February – 10 March: 10 of February's 29 days (2900 / 29 = 100 a day) and 10 of March's 31 days
    # (4650 / 31 = 150 a day): 1000 + 1500.
    row = compute_kpis(con, date(2024, 2, 20), date(2024, 3, 10), metrics=["operating_expenses"]).row(0, named=True)
    assert row["operating_expenses"] == pytest.approx(2500)


def test_zero_denominators_are_null_and_empty_sums_zero(con):
    # March 2023: o9 only (subtotal 200, no session), no sessions, no events, no ads, no expenses.
    row = compute_kpis(con, date(2023, 3, 1), date(2023, 3, 31)).row(0, named=True)
    assert row["sessions"] == 0 and row["orders"] == 1 and row["gross_sales"] == pytest.approx(200)
    assert row["ad_spend"] == 0 and row["operating_expenses"] == 0
    for name in ("conversion_rate", "bounce_rate", "cart_conversion_rate", "ctr", "ad_ctr", "buyer_conversion_rate"):
        assert row[name] is None, name
    assert row["roas"] is None  # no ad spend
    assert row["retention_rate"] is None  # nobody visited in the previous period
    assert row["aov"] == pytest.approx(200)


def test_empty_period_has_one_row_of_zeros_and_nulls(con):
    row = compute_kpis(con, date(2020, 1, 1), date(2020, 1, 7)).row(0, named=True)
    assert row["orders"] == 0 and row["gross_sales"] == 0 and row["net_profit"] == 0
    assert row["aov"] is None and row["gross_margin"] is None and row["net_margin"] is None


# --- splits --------------------------------------------------------------------------------------------------


def test_by_source_with_orders_without_session_in_group_null(con):
    rows = by(con, "source")
    # Groups: the sessions' sources, plus null for o2 and o11 (no session); social has ad spend and s7.
    assert set(rows) == {"paid_search", "organic_search", "email", "social", None}
    paid = rows["paid_search"]
    # s1 and s3; orders o1 (250, discount 20) and o3 (140, refund 140); ad spend 100 + 50.
    assert (paid["sessions"], paid["orders"], paid["gross_sales"], paid["ad_spend"]) == (2, 2, 390, 150)
    assert paid["buyers"] == 1  # c1; o3 is a guest
    assert paid["roas"] == pytest.approx((390 - 20) / 150)
    assert paid["cost_per_order"] == pytest.approx(75)
    assert paid["cogs"] == pytest.approx(105)  # o1 only: o3 is returned
    assert paid["retention_rate"] == pytest.approx(0.0)  # v4 came by paid_search in February and not again
    none = rows[None]
    # o2 (120) and o11 (70), no sessions: session metrics 0, their rates null; no ad spend.
    assert (none["orders"], none["gross_sales"], none["sessions"], none["buyers"]) == (2, 190, 0, 2)
    assert none["conversion_rate"] is None and none["roas"] is None and none["ad_spend"] == 0
    social = rows["social"]
    # s7 is converted by an April order; no March orders; 30 of ad spend: roas 0, cost per order undefined.
    assert (social["sessions"], social["orders"], social["conversion_rate"]) == (1, 0, 1.0)
    assert social["roas"] == pytest.approx(0.0) and social["cost_per_order"] is None
    assert rows["email"]["retention_rate"] == pytest.approx(1.0)  # v2: email in February, back in March
    # Operating expenses split by no dimension; neither does what is computed from them.
    for row in rows.values():
        assert row["operating_expenses"] is None and row["net_profit"] is None and row["net_margin"] is None


def test_by_campaign_puts_empty_ad_campaign_with_sessions_without_one(con):
    rows = by(con, "campaign")
    # Ad spend: spring 100, '' (no campaign) 50, launch 30.
    assert rows["spring"]["ad_spend"] == 100 and rows[None]["ad_spend"] == 50 and rows["launch"]["ad_spend"] == 30


def test_by_region_uses_the_order_region_else_the_session_region(con):
    rows = by(con, "region")
    # o1 has no region: its session s1's (north); o4 north; o2 west; o3 east; o11 south.
    assert rows["north"]["orders"] == 2 and rows["west"]["orders"] == 1 and rows["south"]["orders"] == 1
    # Sessions by the session's region: s1, s4 north; s2 south; s3 east; s7 none.
    assert rows["north"]["sessions"] == 2 and rows[None]["sessions"] == 1 and rows["west"]["sessions"] == 0
    # Ad spend carries no region.
    assert rows["north"]["ad_spend"] is None and rows["north"]["contribution"] is None


def test_by_order_dimension_leaves_session_metrics_null(con):
    rows = by(con, "payment_method")
    assert rows["alipay"]["orders"] == 2 and rows["wechat_pay"]["orders"] == 2 and rows["card"]["orders"] == 1
    for row in rows.values():
        assert row["sessions"] is None and row["conversion_rate"] is None and row["ad_spend"] is None


def test_by_customer_type(con):
    rows = by(con, "customer_type")
    # o1 is c1's 2nd valid order and o4 the 3rd, o2 is c2's 2nd: returning. o11 is c5's 1st: new. o3: guest.
    assert rows["returning"]["orders"] == 3 and rows["new"]["orders"] == 1 and rows[None]["orders"] == 1
    assert rows["returning"]["buyers"] == 2 and rows[None]["buyers"] == 0


def test_by_category_splits_line_metrics_only(con):
    rows = by(con, "category")
    # shoes (P1): o1 2 × 100, o3 1 × 60, o11 1 × 70 = 330, 4 units; cogs 80 + 0 (o3 returned) + 40 = 120.
    assert (rows["shoes"]["gross_sales"], rows["shoes"]["units"], rows["shoes"]["cogs"]) == (330, 4, 120)
    # bags (P2, P3): o1 50, o3 80, o4 120 = 250, 5 units; cogs 25 + 0 + 90 = 115.
    assert (rows["bags"]["gross_sales"], rows["bags"]["units"], rows["bags"]["cogs"]) == (250, 5, 115)
    # o2 has no lines: its subtotal falls in category null.
    assert rows[None]["gross_sales"] == 120
    # Order-level metrics cannot be split by category.
    assert rows["shoes"]["orders"] is None and rows["shoes"]["net_sales"] is None and rows["shoes"]["aov"] is None


# --- series and comparisons ----------------------------------------------------------------------------------


def test_daily_series_has_every_day_and_adds_up(con, march):
    series = kpi_series(con, MARCH, grain="day", metrics=["orders", "gross_sales", "operating_expenses"])
    assert series.height == 31
    assert series["orders"].sum() == march["orders"]
    assert series["gross_sales"].sum() == pytest.approx(march["gross_sales"])
    assert series["operating_expenses"].to_list() == pytest.approx([150.0] * 31)  # 4650 / 31 a day


def test_monthly_series_retention_is_over_the_month_before(con):
    series = kpi_series(con, date(2024, 2, 1), date(2024, 3, 31), grain="month", metrics=["retention_rate"])
    # March's previous month is February (v4, v2; v2 back in March): 1 / 2. February's is January: nobody.
    assert series["retention_rate"].to_list() == [None, pytest.approx(0.5)]


def test_compare_periods_previous_and_last_year(con):
    frame = compare_periods(con, MARCH, metrics=["orders", "gross_sales", "conversion_rate"])
    rows = {row["metric"]: row for row in frame.iter_rows(named=True)}
    # March is a calendar month: the previous period is February (1–29): o6 (90). Last year: March 2023: o9 (200).
    orders = rows["orders"]
    assert (orders["value"], orders["previous"], orders["last_year"]) == (5, 1, 1)
    assert orders["previous_delta"] == 4 and orders["previous_change"] == pytest.approx(4.0)
    sales = rows["gross_sales"]
    assert sales["previous"] == pytest.approx(90) and sales["last_year_change"] == pytest.approx((700 - 200) / 200)
    # No sessions in March 2023: the rate is undefined, and so is its change.
    assert rows["conversion_rate"]["last_year"] is None and rows["conversion_rate"]["last_year_change"] is None


def test_comparison_periods_follow_the_calendar_and_the_weekdays():
    # SPEC §4, with the cases of issue 18. A calendar month: the previous month, and the same month a year earlier
    # with February whole (2024 is a leap year, so 1–29 February 2024 is last year's February of 2025).
    assert Period(date(2025, 2, 1), date(2025, 2, 28)).last_year() == Period(date(2024, 2, 1), date(2024, 2, 29))
    assert Period(date(2024, 2, 1), date(2024, 2, 29)).last_year() == Period(date(2023, 2, 1), date(2023, 2, 28))
    assert Period(date(2024, 3, 1), date(2024, 3, 31)).previous() == Period(date(2024, 2, 1), date(2024, 2, 29))
    # A quarter and a year: the previous quarter / year.
    assert Period(date(2026, 1, 1), date(2026, 3, 31)).previous() == Period(date(2025, 10, 1), date(2025, 12, 31))
    assert Period(date(2026, 1, 1), date(2026, 12, 31)).previous() == Period(date(2025, 1, 1), date(2025, 12, 31))
    # ISO week 48 of 2026 (Monday 23 – Sunday 29 November): last year is ISO week 48 of 2025 (24–30 November, 364 days
    # back, Monday to Sunday again), the previous period ISO week 47.
    week = Period(date(2026, 11, 23), date(2026, 11, 29))
    assert week.last_year() == Period(date(2025, 11, 24), date(2025, 11, 30))
    assert week.last_year().start.isocalendar()[:2] == (2025, 48) and week.last_year().start.weekday() == 0
    assert week.previous() == Period(date(2026, 11, 16), date(2026, 11, 22))
    # A day: the same weekday 52 weeks earlier (Wednesday 2 December 2026 → Wednesday 3 December 2025).
    day = Period(date(2026, 12, 2), date(2026, 12, 2))
    assert day.last_year() == Period(date(2025, 12, 3), date(2025, 12, 3)) and date(2025, 12, 3).weekday() == 2
    # Any other range: the same length just before it.
    assert Period(date(2026, 11, 3), date(2026, 12, 2)).previous() == Period(date(2026, 10, 4), date(2026, 11, 2))


def test_a_partial_period_is_compared_with_the_same_covered_days():
    # Data from 3 December 2024 to 2 December 2026; December 2026 has 2 of its 31 days.
    span = Period(date(2024, 12, 3), date(2026, 12, 2))
    december = Period(date(2026, 12, 1), date(2026, 12, 31))
    covered = december.covered(span)
    assert covered == Period(date(2026, 12, 1), date(2026, 12, 2))
    assert december.compared("previous", covered) == Period(date(2026, 11, 1), date(2026, 11, 2))
    assert december.compared("last_year", covered) == Period(date(2025, 12, 1), date(2025, 12, 2))
    # A month the data starts in the middle of: the last two days of March against the last day of February (29
    # and 30 March have no counterpart in a 28-day February, 31 March maps to 28 February... clamped to its end).
    march = Period(date(2025, 3, 1), date(2025, 3, 31))
    late = march.covered(Period(date(2025, 3, 30), date(2026, 1, 1)))
    assert march.compared("previous", late) == Period(date(2025, 2, 28), date(2025, 2, 28))
    assert march.compared("last_year", late) == Period(date(2024, 3, 30), date(2024, 3, 31))
    # No covered day: nothing to compare with.
    assert march.compared("previous", march.covered(Period(date(2026, 1, 1), date(2026, 2, 1)))) is None


def test_unknown_names_are_refused(con):
    with pytest.raises(ValueError, match="unknown dimension"):
        compute_kpis(con, MARCH, by="sources; drop table orders")
    with pytest.raises(ValueError, match="unknown metric"):
        compute_kpis(con, MARCH, metrics=["revenue"])
