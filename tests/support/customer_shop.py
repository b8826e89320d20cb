"""A tiny shop for the customer figures (RFM, repeat interval, lifetime value), worked out by hand in
tests/metrics/test_customers.py. Store time zone UTC; the date the tests score it on is 2024-03-31.

    customer  valid orders (day: net sales)                                        on 2024-03-31
    a         01-10: 1 × 120 − 20 discount = 100; 03-01: 100; 03-30: 100          3 orders, 300, last 1 day ago
    b         02-20: subtotal 50 (no lines); 03-25: 50                              2 orders, 100, 6 days
    c         03-25: 2 × 200 = 400                                                  1 order, 400, 6 days
    d         01-05: 30 (and a cancelled order on 03-30, which does not count)      1 order, 30, 86 days
    e         2023-12-01: 30 − 10 refund = 20, and another of 20 the same day       2 orders, 40, 121 days
    guest     03-28: 500 (no customer id: never scored)
    f         04-02: 60 (after the date: not scored on 2024-03-31)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from warehouse import writing

D = datetime

ORDERS = [
    # order_id, customer_id, ordered_at, status, subtotal, discount, refund_amount
    ("a1", "a", D(2024, 1, 10, 9), "delivered", None, 20, 0),
    ("a2", "a", D(2024, 3, 1, 9), "delivered", None, 0, 0),
    ("a3", "a", D(2024, 3, 30, 22), "paid", None, 0, 0),
    ("b1", "b", D(2024, 2, 20, 9), "delivered", 50, 0, 0),
    ("b2", "b", D(2024, 3, 25, 9), "shipped", 50, 0, 0),
    ("c1", "c", D(2024, 3, 25, 12), "delivered", None, 0, 0),
    ("d1", "d", D(2024, 1, 5, 9), "delivered", None, 0, 0),
    ("d2", "d", D(2024, 3, 30, 9), "cancelled", None, 0, 0),
    ("e1", "e", D(2023, 12, 1, 9), "returned", None, 0, 10),
    ("e2", "e", D(2023, 12, 1, 18), "delivered", None, 0, 0),
    ("g1", None, D(2024, 3, 28, 9), "delivered", None, 0, 0),
    ("f1", "f", D(2024, 4, 2, 9), "delivered", None, 0, 0),
]

ITEMS = [
    # order_id, line_no, sku, quantity, unit_price
    ("a1", 1, "P1", 1, 120),
    ("a2", 1, "P1", 1, 100),
    ("a3", 1, "P2", 2, 50),
    ("c1", 1, "P1", 2, 200),
    ("d1", 1, "P2", 1, 30),
    ("d2", 1, "P2", 1, 999),
    ("e1", 1, "P2", 1, 30),
    ("e2", 1, "P2", 1, 20),
    ("g1", 1, "P1", 5, 100),
    ("f1", 1, "P2", 2, 30),
]


def customer_shop(path: Path) -> Path:
    """The shop above, written to a new warehouse at `path`."""
    with writing(path) as con:
        con.executemany(
            "insert into products (sku, name, category) values (?, ?, ?)",
            [("P1", "Runner", "shoes"), ("P2", "Tote", "bags")],
        )
        con.executemany(
            "insert into orders (order_id, customer_id, ordered_at, status, subtotal, discount, refund_amount, "
            "shipping_fee) values (?, ?, ?, ?, ?, ?, ?, 0)",
            ORDERS,
        )
        con.executemany(
            "insert into order_items (order_id, line_no, sku, quantity, unit_price) values (?, ?, ?, ?, ?)", ITEMS
        )
    return path
