"""A hand-made shop of two stores whose data end a day apart, store b with a spike of sessions on its last day:
for the store option of the commands and pages that pick a day themselves (alerts, report, default periods)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from warehouse import writing

LAST = date(2024, 6, 30)  # store b's last day; store a's is the day before
DAYS = 56


def spiky_shop(db: Path) -> Path:
    """Writes at `db` two stores with 10 + (day number mod 3) sessions and as many paid orders a day, at noon, for
    56 days: store a up to the day before LAST, store b up to LAST, when b has 40 sessions (four times its usual
    10–12); returns `db`."""
    sessions, orders = [], []
    for store, last in (("a", LAST - timedelta(days=1)), ("b", LAST)):
        for back in range(DAYS):
            day = last - timedelta(days=back)
            usual = 10 + day.toordinal() % 3
            at = datetime(day.year, day.month, day.day, 12)
            count = 40 if (store, day) == ("b", LAST) else usual
            sessions += [(store, f"{day}-{n}", f"v{day}-{n}", at) for n in range(count)]
            orders += [(store, f"{day}-{n}", at) for n in range(usual)]
    with writing(db, store_timezone="UTC") as con:
        con.executemany("insert into stores values (?, 'other', 'CNY')", [("a",), ("b",)])
        con.executemany(
            "insert into sessions (store, session_id, visitor_id, started_at, source, device)"
            " values (?, ?, ?, ?, 'direct', 'mobile')",
            sessions,
        )
        con.executemany(
            "insert into orders (store, order_id, ordered_at, status, subtotal, discount, shipping_fee, refund_amount)"
            " values (?, ?, ?, 'paid', 100, 0, 0, 0)",
            orders,
        )
    return db
