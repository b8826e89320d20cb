"""A hand-made warehouse of two stores, tmall and jd, whose order, session and customer ids collide on purpose
(issue 13): each id means something else in each store. tests/metrics/test_stores.py works the figures out by hand.

March 2024 (store time zone UTC):
- tmall: sessions s1 (v1, paid_search) and s2 (v2, paid_search); orders 1001 (c1, session s1, paid, 1 × P1 @ 100),
  1002 (c2, no session, delivered, 2 × P1 @ 50, discount 10), 1003 (c1, session s2, cancelled, 1 × P1 @ 100);
  ad spend 30 on paid_search.
- jd: session s2 (v1, social); orders 1001 (c1, session s2, paid, 1 × P1 @ 200), 1002 (c1, no session, paid, no
  lines, subtotal 80); ad spend 20 on social; expenses: staff 31 in March.
- shared expenses (store ''): rent 310 in March.
- tickets T1 in both stores: tmall's an inquiry about its order 1001, jd's a complaint about its 1001; tmall's 1001
  came back (1 unit of P1).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from warehouse import writing

D = datetime


def two_store_shop(path: Path, jd_currency: str = "CNY") -> Path:
    """Writes the shop above at `path`; `jd_currency` is the jd store's currency (tmall's is CNY)."""
    with writing(path, store_timezone="UTC") as con:
        con.execute("insert into products (sku, name, category, unit_cost) values ('P1', 'Runner', 'shoes', 40)")
        con.executemany("insert into stores values (?, ?, ?)", [("tmall", "tmall", "CNY"), ("jd", "jd", jd_currency)])
        con.executemany(
            "insert into sessions (store, session_id, visitor_id, started_at, source, device) "
            "values (?, ?, ?, ?, ?, ?)",
            [
                ("tmall", "s1", "v1", D(2024, 3, 2, 10), "paid_search", "mobile"),
                ("tmall", "s2", "v2", D(2024, 3, 3, 10), "paid_search", "mobile"),
                ("jd", "s2", "v1", D(2024, 3, 4, 10), "social", "desktop"),
            ],
        )
        con.executemany(
            "insert into orders (store, order_id, customer_id, session_id, ordered_at, status, subtotal, discount, "
            "shipping_fee, refund_amount) values (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
            [
                ("tmall", "1001", "c1", "s1", D(2024, 3, 2, 10, 30), "paid", None, 0),
                ("tmall", "1002", "c2", None, D(2024, 3, 5, 12), "delivered", None, 10),
                ("tmall", "1003", "c1", "s2", D(2024, 3, 3, 10, 30), "cancelled", None, 0),
                ("jd", "1001", "c1", "s2", D(2024, 3, 4, 10, 30), "paid", None, 0),
                ("jd", "1002", "c1", None, D(2024, 3, 6, 9), "paid", 80, 0),
            ],
        )
        con.executemany(
            "insert into order_items (store, order_id, line_no, sku, quantity, unit_price) values (?, ?, ?, ?, ?, ?)",
            [
                ("tmall", "1001", 1, "P1", 1, 100),
                ("tmall", "1002", 1, "P1", 2, 50),
                ("tmall", "1003", 1, "P1", 1, 100),
                ("jd", "1001", 1, "P1", 1, 200),
            ],
        )
        con.executemany(
            "insert into ad_spend (store, date, source, campaign, cost) values (?, ?, ?, '', ?)",
            [("tmall", date(2024, 3, 5), "paid_search", 30), ("jd", date(2024, 3, 5), "social", 20)],
        )
        con.executemany(
            "insert into tickets (store, ticket_id, opened_at, type, order_id) values (?, ?, ?, ?, ?)",
            [
                ("tmall", "T1", D(2024, 3, 2, 11), "inquiry", "1001"),
                ("jd", "T1", D(2024, 3, 4, 12), "complaint", "1001"),
            ],
        )
        con.execute(
            "insert into returns (store, order_id, sku, returned_quantity, refund_amount) "
            "values ('tmall', '1001', 'P1', 1, 0)"
        )
        con.executemany(
            "insert into expenses (store, month, category, amount) values (?, ?, ?, ?)",
            [("", "2024-03", "rent", 310), ("jd", "2024-03", "staff", 31)],
        )
    return path


def logged_and_report_shop(path: Path) -> Path:
    """Writes a warehouse of two stores, one with session logs and one with only a platform's daily traffic report
    (issue 13: the session figures are decided per store), 1–2 June 2024 (UTC), both in CNY. tests/metrics/
    test_stores.py works the figures out by hand.

    - site (session logs): s1 (v1, organic_search, 1 page, 5 s), s2 (v1, organic_search, 3 pages, 60 s, an
      add_to_cart and an impression, named by paid order o1: 1 × P1 @ 100) on 1 and 2 June; s3 (v2, paid_search,
      1 page, 20 s, a click) on 2 June. It also has a traffic report row (1 June, organic_search, 999 sessions) that
      its logs win over: it must never be counted.
    - shopify (traffic report only, no cart column): 1 June organic_search 10 sessions (4 bounced, 5 engaged, 1 order,
      sales 50, 9 visitors); 2 June organic_search 20 (6, 12, 2 orders, 120, 18 visitors) and paid_search 10 (5, 4,
      1 order, 80, 10 visitors); its order S1 (paid, no session, subtotal 50, no lines) on 1 June.
    """
    with writing(path, store_timezone="UTC") as con:
        con.execute("insert into products (sku, name, category, unit_cost) values ('P1', 'Runner', 'shoes', 40)")
        con.executemany(
            "insert into stores values (?, ?, ?)", [("site", "own site", "CNY"), ("shopify", "shopify", "CNY")]
        )
        con.executemany(
            "insert into sessions (store, session_id, visitor_id, started_at, source, device, pageviews, duration_s) "
            "values ('site', ?, ?, ?, ?, ?, ?, ?)",
            [
                ("s1", "v1", D(2024, 6, 1, 10), "organic_search", "mobile", 1, 5),
                ("s2", "v1", D(2024, 6, 2, 10), "organic_search", "mobile", 3, 60),
                ("s3", "v2", D(2024, 6, 2, 11), "paid_search", "desktop", 1, 20),
            ],
        )
        con.executemany(
            "insert into events (store, event_id, session_id, occurred_at, event_type) values ('site', ?, ?, ?, ?)",
            [
                ("e1", "s2", D(2024, 6, 2, 10, 5), "add_to_cart"),
                ("e2", "s2", D(2024, 6, 2, 10, 1), "impression"),
                ("e3", "s3", D(2024, 6, 2, 11, 1), "click"),
            ],
        )
        con.executemany(
            "insert into orders (store, order_id, customer_id, session_id, ordered_at, status, subtotal, discount, "
            "shipping_fee, refund_amount) values (?, ?, ?, ?, ?, 'paid', ?, 0, 0, 0)",
            [
                ("site", "o1", "c1", "s2", D(2024, 6, 2, 10, 10), None),
                ("shopify", "S1", "c9", None, D(2024, 6, 1, 12), 50),
            ],
        )
        con.execute(
            "insert into order_items (store, order_id, line_no, sku, quantity, unit_price) "
            "values ('site', 'o1', 1, 'P1', 1, 100)"
        )
        con.executemany(
            "insert into traffic (store, date, end_date, source, medium, campaign, device, sessions, bounced_sessions,"
            " engaged_sessions, orders, revenue, visitors) values (?, ?, ?, ?, '', '', 'unknown', ?, ?, ?, ?, ?, ?)",
            [
                ("site", date(2024, 6, 1), date(2024, 6, 1), "organic_search", 999, 0, 0, 0, 0, 999),
                ("shopify", date(2024, 6, 1), date(2024, 6, 1), "organic_search", 10, 4, 5, 1, 50, 9),
                ("shopify", date(2024, 6, 2), date(2024, 6, 2), "organic_search", 20, 6, 12, 2, 120, 18),
                ("shopify", date(2024, 6, 2), date(2024, 6, 2), "paid_search", 10, 5, 4, 1, 80, 10),
            ],
        )
    return path


def real_two_store_warehouse(root: Path) -> Path:
    """The issue's two-store warehouse from the real exports, loaded as a user would: the Tmall order report with
    `--store tmall` (CNY, February 2020) and a Shopify orders export with `--store shopify` (GBP, 2025), plus the
    other Shopify shop's export as store `explorer` (USD, 2022), whose order numbers (#1001…) are the same as the
    first Shopify shop's."""
    from typer.testing import CliRunner

    from shopkpi.cli.main import app
    from tests.support.warehouse_rows import REAL_DATA

    exports = REAL_DATA / "exports"
    db = root / "stores.duckdb"
    loads = [
        ("taobao", exports / "tmall-order-report/tmall_order_report.csv", "tmall"),
        ("shopify", exports / "shopify-orders/maison-maria-2025/orders_export_1.csv", "shopify"),
        ("shopify", exports / "shopify-orders/explorer-clothing-2022/orders_export_1.csv", "explorer"),
    ]
    for adapter, path, store in loads:
        result = CliRunner().invoke(app, ["import", adapter, str(path), "--store", store, "--db", str(db)])
        assert result.exit_code == 0, result.output
    return db
