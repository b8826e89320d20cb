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
