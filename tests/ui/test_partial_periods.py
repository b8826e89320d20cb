"""Issue 18 on the dashboard: a month that is not over says so and is compared with the same days, the P&L opens on
the last complete month, and cost figures say how much of the cost is known."""

from __future__ import annotations

import warehouse
from tests.support.app import no_failure, open_app, shown_text


def test_this_month_is_partial_and_compared_with_the_same_days(demo_db, monkeypatch) -> None:
    # The small demo's data runs from 2 May to 30 June 2024 (60 days). "This year" is all of 2024: 60 of its 366 days
    # have data.
    at = open_app(demo_db, monkeypatch, period="year_to_date")
    no_failure(at)
    text = shown_text(at)
    assert "2024-01-01 – 2024-12-31" in text
    assert "partial**: 60 of 366 days have data" in text
    # Compared with the same days a calendar year earlier: 2 May – 30 June 2023.
    assert "compared with the same days 2023-05-02 – 2023-06-30" in text


def test_a_whole_month_is_not_called_partial(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, period="last_month")  # May 2024: data from 2 May, so May is partial too
    no_failure(at)
    assert "partial**: 30 of 31 days have data" in shown_text(at)
    at = open_app(demo_db, monkeypatch, period="this_month")  # June 2024: every day has data
    no_failure(at)
    text = shown_text(at)
    assert "partial" not in text and "compared with 2024-05-01 – 2024-05-31" in text


def test_the_pnl_opens_on_the_last_complete_month_and_names_the_partial_one(demo_copy, monkeypatch) -> None:
    # Add one order on 1 July 2024: July becomes a month to date with 1 of its 31 days.
    with warehouse.writing(demo_copy) as con:
        con.execute(
            "insert into orders (order_id, ordered_at, status, discount, shipping_fee, refund_amount) "
            "values ('JULY-1', '2024-07-01 10:00', 'paid', 0, 0, 0)"
        )
    at = open_app(demo_copy, monkeypatch, page="pnl", period="this_month")
    no_failure(at)
    assert "2024-07: 1 of 31 days" in shown_text(at)
    month = at.selectbox(key="pnl_month")
    assert month.value == "2024-06"  # the last complete month, not July's single day
    assert "2024-07" in month.options[0]


def test_cost_figures_say_how_much_of_the_cost_is_known(demo_copy, monkeypatch) -> None:
    # Forget the unit cost of every product of one category: part of the sales has no known cost any more.
    with warehouse.writing(demo_copy) as con:
        category = con.sql("select category from products order by category limit 1").fetchall()[0][0]
        con.execute("update products set unit_cost = null where category = ?", [category])
        con.execute("update order_items set unit_cost = null")
    at = open_app(demo_copy, monkeypatch)
    no_failure(at)
    captions = " ".join(c.value for c in at.caption)
    assert "cost known for" in captions and "of sales" in captions


def test_sales_figures_say_how_much_of_the_orders_value_is_known(demo_copy, monkeypatch) -> None:
    # Take out the lines and the subtotal of every tenth order: their sales are not known any more (SPEC §4).
    with warehouse.writing(demo_copy) as con:
        unvalued = "select order_id from orders where hash(order_id) % 10 = 0"
        con.execute(f"delete from order_items where order_id in ({unvalued})")
        con.execute(f"update orders set subtotal = null where order_id in ({unvalued})")
    at = open_app(demo_copy, monkeypatch)
    no_failure(at)
    captions = " ".join(c.value for c in at.caption)
    assert "value known for 9" in captions and "% of orders" in captions  # about 90 %
    helps = " ".join(m.help or "" for m in at.metric)
    assert "their sales are left out, so this figure reads low" in helps
