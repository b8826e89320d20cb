"""A tiny shop for the service and after-sales figures (metrics/service.py), worked out by hand in
tests/metrics/test_service.py. Store time zone UTC; the period the tests read is March 2024.

    order  placed       status     lines                               returns
    o1     03-01        delivered  P1 (shoes) 2 × 100, P2 (bags) 1 × 50  P1 1 unit, 100 refunded, size_fit, 3 days
    o2     03-05        returned   P1 1 × 100                          P1 1 unit, 100, quality, 10 days
    o3     03-10        paid       P2 4 × 25
    o4     03-12        cancelled  P1 1 × 100                          (not a valid order)
    o5     02-20        delivered  P1 1 × 100                          P1 1 unit, 100, quality, 2 days (February)

    ticket type       opened       first response   resolved         order  score
    t1     inquiry    03-01 09:00  09:10 (10 min)   09:30 (0.5 h)    o1     5
    t2     inquiry    03-02 10:00  10:45 (45 min)   11:00 (1 h)             3
    t3     inquiry    03-04 10:00  10:20 (20 min)   —                o4
    t4     complaint  03-06 12:00  12:30 (30 min)   03-07 12:00 (24 h) o2   2
    t5     return     03-08 08:00  —                —                o1
    t6     complaint  02-28 10:00  10:05 (5 min)    10:35            o5     4
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from warehouse import writing

D = datetime

ORDERS = [
    ("o1", "c1", D(2024, 3, 1, 8), "delivered"),
    ("o2", "c2", D(2024, 3, 5, 8), "returned"),
    ("o3", "c3", D(2024, 3, 10, 8), "paid"),
    ("o4", "c1", D(2024, 3, 12, 8), "cancelled"),
    ("o5", "c2", D(2024, 2, 20, 8), "delivered"),
]
ITEMS = [
    ("o1", 1, "P1", 2, 100),
    ("o1", 2, "P2", 1, 50),
    ("o2", 1, "P1", 1, 100),
    ("o3", 1, "P2", 4, 25),
    ("o4", 1, "P1", 1, 100),
    ("o5", 1, "P1", 1, 100),
]
RETURNS = [
    # order_id, sku, returned_quantity, refund_amount, reason, days_after_delivery
    ("o1", "P1", 1, 100, "size_fit", 3),
    ("o2", "P1", 1, 100, "quality", 10),
    ("o5", "P1", 1, 100, "quality", 2),
]
TICKETS = [
    # ticket_id, opened_at, first_response_at, resolved_at, type, order_id, satisfaction_score
    ("t1", D(2024, 3, 1, 9), D(2024, 3, 1, 9, 10), D(2024, 3, 1, 9, 30), "inquiry", "o1", 5),
    ("t2", D(2024, 3, 2, 10), D(2024, 3, 2, 10, 45), D(2024, 3, 2, 11), "inquiry", None, 3),
    ("t3", D(2024, 3, 4, 10), D(2024, 3, 4, 10, 20), None, "inquiry", "o4", None),
    ("t4", D(2024, 3, 6, 12), D(2024, 3, 6, 12, 30), D(2024, 3, 7, 12), "complaint", "o2", 2),
    ("t5", D(2024, 3, 8, 8), None, None, "return", "o1", None),
    ("t6", D(2024, 2, 28, 10), D(2024, 2, 28, 10, 5), D(2024, 2, 28, 10, 35), "complaint", "o5", 4),
]


def service_shop(path: Path, tickets: bool = True, returns: bool = True) -> Path:
    """The shop above at `path`; without `tickets` or `returns`, as a shop that never loaded them."""
    with writing(path) as con:
        con.executemany(
            "insert into products (sku, name, category) values (?, ?, ?)",
            [("P1", "Runner", "shoes"), ("P2", "Tote", "bags")],
        )
        con.executemany(
            "insert into orders (order_id, customer_id, ordered_at, status, discount, shipping_fee, refund_amount) "
            "values (?, ?, ?, ?, 0, 0, 0)",
            ORDERS,
        )
        con.executemany(
            "insert into order_items (order_id, line_no, sku, quantity, unit_price) values (?, ?, ?, ?, ?)", ITEMS
        )
        if returns:
            con.executemany(
                "insert into returns (order_id, sku, returned_quantity, refund_amount, reason, days_after_delivery) "
                "values (?, ?, ?, ?, ?, ?)",
                RETURNS,
            )
        if tickets:
            con.executemany(
                "insert into tickets (ticket_id, opened_at, first_response_at, resolved_at, type, order_id, "
                "satisfaction_score) values (?, ?, ?, ?, ?, ?, ?)",
                TICKETS,
            )
    return path
