"""Stock cover and reorders (metrics/stock.py) on hand-made products whose numbers are worked out in comments."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from metrics.stock import plan_reorders, reorder_now, stock_cover
from tests.support.small import stock_rows
from warehouse import open_read_only, writing

AS_OF = date(2024, 6, 30)


def test_days_of_cover_and_reorder_dates_follow_lead_time_and_buffer() -> None:
    plan = plan_reorders(stock_rows(), AS_OF, window_days=28, buffer_days=(7, 15), order_cover_days=30)
    rows = {r["sku"]: r for r in plan.iter_rows(named=True)}

    # A: 56 / 28 = 2 a day; 20 on hand → 10 days of cover; nothing on order, so it runs out on 30 June + 10 =
    # 10 July. Goods (10 days lead time) should arrive 7–15 days before: order from 10 July − 25 = 15 June,
    # at the latest 10 July − 17 = 23 June. It is 30 June: reorder now, and late. Quantity: 2 × (10 + 15 + 30)
    # = 110 units of demand, less the 20 in stock = 90.
    a = rows["A"]
    assert (a["daily_units"], a["days_of_cover"]) == (2.0, 10.0)
    assert (a["stockout_date"], a["reorder_date"], a["order_by"]) == (
        date(2024, 7, 10),
        date(2024, 6, 15),
        date(2024, 6, 23),
    )
    assert (a["reorder_now"], a["late"], a["suggested_quantity"]) == (True, True, 90)

    # B: 1 a day, 100 on hand → runs out 100 days later, 8 October; reorder from 8 Oct − (5 + 15) = 18 September.
    b = rows["B"]
    assert (b["days_of_cover"], b["stockout_date"], b["reorder_date"]) == (100.0, date(2024, 10, 8), date(2024, 9, 18))
    assert (b["reorder_now"], b["late"], b["suggested_quantity"]) == (False, False, 0)

    # C sold nothing: it does not run out at this rate, so no cover and no reorder.
    c = rows["C"]
    assert (c["days_of_cover"], c["stockout_date"], c["reorder_now"]) == (None, None, False)

    # D: 1 a day, 12 on hand (12 days of cover) but 20 more on order: the position of 32 lasts to 1 August;
    # no lead time given (0), so reorder from 1 Aug − 15 = 17 July: not yet.
    d = rows["D"]
    assert (d["days_of_cover"], d["stockout_date"], d["reorder_date"], d["order_by"]) == (
        12.0,
        date(2024, 8, 1),
        date(2024, 7, 17),
        date(2024, 7, 25),
    )
    assert d["reorder_now"] is False

    assert plan["sku"].to_list() == ["A", "D", "B", "C"], "fewest days of cover first, no sales last"
    assert reorder_now(plan)["sku"].to_list() == ["A"]


def test_stock_cover_reads_the_latest_count_and_valid_sales_of_the_window(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with writing(db) as con:
        con.execute("insert into products (sku, name, category, lead_time_days) values ('P1', 'Mug', 'home', 3)")
        con.execute(
            "insert into inventory values ('2024-03-30', 'P1', 50, 0), ('2024-03-31', 'P1', 40, 5), "
            "('2024-04-02', 'P1', 999, 0)"  # after the as-of date: ignored
        )
        con.execute(
            "insert into orders (order_id, ordered_at, status, discount, shipping_fee, refund_amount) values "
            "('o1', '2024-03-10 09:00', 'paid', 0, 0, 0), "
            "('o2', '2024-03-12 09:00', 'cancelled', 0, 0, 0), "  # not a valid order
            "('o3', '2024-03-01 09:00', 'delivered', 0, 0, 0), "  # before the window (4–31 March)
            "('o4', '2024-03-31 23:00', 'shipped', 0, 0, 0)"
        )
        con.execute(
            "insert into order_items (order_id, sku, quantity, unit_price) values "
            "('o1', 'P1', 14, 10), ('o2', 'P1', 100, 10), ('o3', 'P1', 7, 10), ('o4', 'P1', 14, 10)"
        )
    with open_read_only(db) as con:
        cover = stock_cover(con, date(2024, 3, 31), window_days=28)
    row = cover.row(0, named=True)
    # Window 4–31 March: o1 + o4 = 28 units → 1 a day. The 31 March count: 40 on hand (40 days), 5 on order →
    # runs out 45 days after 31 March = 15 May; reorder from 15 May − (3 + 15) = 27 April.
    assert (row["on_hand"], row["on_order"], row["units_sold"]) == (40, 5, 28)
    assert (row["days_of_cover"], row["stockout_date"], row["reorder_date"]) == (
        40.0,
        date(2024, 5, 15),
        date(2024, 4, 27),
    )
    assert row["reorder_now"] is False


def test_no_inventory_is_an_empty_plan(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with writing(db):
        pass
    with open_read_only(db) as con:
        assert stock_cover(con, date(2024, 3, 31)).is_empty()
