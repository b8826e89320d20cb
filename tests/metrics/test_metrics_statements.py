"""The P&L statement, cohort retention and the funnel on the hand-made shop (see tests/support/shops.py)."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.cohorts import cohort_activity, cohort_retention
from metrics.compute import compute_kpis
from metrics.funnel import STEPS, funnel
from metrics.pnl import pnl_lines, pnl_statement
from metrics.registry import PNL_COLUMNS
from warehouse import open_read_only


@pytest.fixture(scope="module")
def con(hand_made_db):
    connection = open_read_only(hand_made_db)
    yield connection
    connection.close()


def test_pnl_has_the_spec_columns_one_row_per_month(con):
    statement = pnl_statement(con, "2024-02", "2024-04")
    assert statement.columns == ["month", *PNL_COLUMNS, "days", "days_with_data", "partial"]
    assert statement["month"].to_list() == ["2024-02", "2024-03", "2024-04"]


def test_pnl_february_by_hand(con):
    february = pnl_statement(con, "2024-02", "2024-02").row(0, named=True)
    # o6 (delivered): 1 × P1 @ 90, cost 40 from products. Ad spend on 29 February: 999. Rent 2900.
    assert february["gross_sales"] == pytest.approx(90)
    assert february["cogs"] == pytest.approx(40)
    assert february["gross_profit"] == pytest.approx(50)
    assert february["contribution"] == pytest.approx(90 - 40 - 999)
    assert february["net_profit"] == pytest.approx(90 - 40 - 999 - 2900)


def test_pnl_lines_add_up(con):
    for row in pnl_statement(con, "2024-02", "2024-04").iter_rows(named=True):
        assert row["net_sales"] == pytest.approx(row["gross_sales"] - row["discounts"] - row["refunds"])
        assert row["total_revenue"] == pytest.approx(row["net_sales"] + row["shipping_income"])
        assert row["gross_profit"] == pytest.approx(row["total_revenue"] - row["shipping_income"] - row["cogs"])
        assert row["contribution"] == pytest.approx(
            row["total_revenue"] - row["cogs"] - row["fulfilment_cost"] - row["ad_spend"]
        )
        assert row["net_profit"] == pytest.approx(row["contribution"] - row["operating_expenses"])
        assert row["net_margin"] == pytest.approx(row["net_profit"] / row["total_revenue"])


def test_pnl_agrees_with_kpis_on_the_same_month(con):
    march = pnl_statement(con, date(2024, 3, 1), date(2024, 3, 1)).row(0, named=True)
    kpis = compute_kpis(con, date(2024, 3, 1), date(2024, 3, 31)).row(0, named=True)
    for name in PNL_COLUMNS:
        assert march[name] == pytest.approx(kpis[name]), name


def test_pnl_lines_long_form_signs(con):
    lines = pnl_lines(pnl_statement(con, "2024-03", "2024-03"))
    signs = dict(zip(lines["line"], lines["sign"], strict=True))
    assert signs["discounts"] == -1 and signs["net_sales"] == 1 and signs["gross_margin"] == 0
    assert lines["line"].to_list() == list(PNL_COLUMNS)


def test_pnl_refuses_a_reversed_range(con):
    with pytest.raises(ValueError, match="before it starts"):
        pnl_statement(con, "2024-03", "2024-02")


def test_cohorts_by_hand(con):
    rows = {row["cohort"]: row for row in cohort_retention(con).iter_rows(named=True)}
    # First valid orders: c1 March 2023 (o9), c2 February 2024 (o6), c5 March 2024 (o11), c4 April 2024 (o10).
    # c3 has only a cancelled order; o3 is a guest's. The data ends on 2 April 2024: April is not complete.
    assert list(rows) == ["2023-03", "2024-02", "2024-03", "2024-04"]
    assert all(row["customers"] == 1 for row in rows.values())
    # c1 ordered again in March 2024, 12 months later; months 1–11 without an order are 0, April (13) unknown.
    assert rows["2023-03"]["retention"] == [1.0] + [0.0] * 11 + [1.0, None]
    assert rows["2024-02"]["retention"] == [1.0, 1.0, None]  # c2 ordered in March (o2)
    assert rows["2024-03"]["retention"] == [1.0, None]
    assert rows["2024-04"]["retention"] == [1.0]


def test_cohorts_agree_with_kpis_buyers(con):
    # Every buyer of a month belongs to exactly one cohort up to that month and is active in it.
    activity = cohort_activity(con)
    for month_start, month_end in ((date(2024, 2, 1), date(2024, 2, 29)), (date(2024, 3, 1), date(2024, 3, 31))):
        active = sum(
            row["active_customers"]
            for row in activity.iter_rows(named=True)
            if _add_months(row["cohort"], row["month_offset"]) == month_start
        )
        buyers = compute_kpis(con, month_start, month_end, metrics=["buyers"])["buyers"][0]
        assert active == buyers


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def test_funnel_by_hand(con):
    # 1 March – 30 April: sessions s1, s2, s3, s4, s7, s8. Furthest steps:
    # s1 click event, and o1 (valid) names it -> purchase; s2 add_to_cart, o5 (cancelled) -> begin_checkout;
    # s3 add_to_cart, o3 (returned, valid) -> purchase; s4 purchase event; s7 no events, o10 -> purchase;
    # s8 an impression only (not a step) -> page_view (every session views a page).
    frame = funnel(con, date(2024, 3, 1), date(2024, 4, 30))
    assert frame["step"].to_list() == list(STEPS)
    assert frame["sessions"].to_list() == [6, 5, 5, 5, 4]
    assert frame["ended_here"].to_list() == [1, 0, 0, 1, 4]
    assert frame["rate_from_previous"].to_list()[0] is None
    assert frame["rate_from_start"].to_list()[-1] == pytest.approx(4 / 6)


def test_funnel_by_source_and_empty_period(con):
    frame = funnel(con, date(2024, 3, 1), date(2024, 3, 31), by="source")
    email = frame.filter(frame["group"] == "email")
    assert email["sessions"].to_list() == [1, 1, 1, 1, 1]  # s4 reached purchase
    empty = funnel(con, date(2020, 1, 1), date(2020, 1, 31))
    assert empty["sessions"].to_list() == [0] * 5 and empty["rate_from_start"].to_list() == [None] * 5
    with pytest.raises(ValueError, match="session dimension"):
        funnel(con, date(2024, 3, 1), date(2024, 3, 31), by="payment_method")
