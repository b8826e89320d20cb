"""Shops for the metrics tests: a hand-made one whose KPIs are worked out by hand, and random ones for properties.

The hand-made shop (store time zone UTC) is described row by row below; tests/metrics/test_metrics.py works out each KPI
from these rows in comments. The random shop has the awkward cases of real exports (guests, orders without a
session or without lines, sessions an order names but that are missing, null costs, empty campaign strings).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from warehouse import TABLES, table_ddl, writing

D = datetime

PRODUCTS = [
    # sku, name, category, unit_cost
    ("P1", "Runner", "shoes", 40),
    ("P2", "Tote", "bags", 30),
    ("P3", "Clutch", "bags", None),  # cost unknown
]

SESSIONS = [
    # session_id, visitor_id, started_at, source, medium, campaign, device, region, pageviews
    ("s1", "v1", D(2024, 3, 2, 10, 0), "paid_search", "cpc", "spring", "mobile", "north", 3),
    ("s2", "v2", D(2024, 3, 5, 9, 0), "organic_search", None, None, "desktop", "south", 1),
    ("s3", "v3", D(2024, 3, 10, 10, 0), "paid_search", "cpc", "spring", "mobile", "east", None),
    ("s4", "v1", D(2024, 3, 20, 18, 0), "email", "newsletter", None, "app", "north", None),
    ("s5", "v4", D(2024, 2, 25, 12, 0), "paid_search", "cpc", "spring", "mobile", "west", 2),  # previous period
    ("s6", "v2", D(2024, 2, 10, 8, 0), "email", "newsletter", None, "desktop", "south", 4),  # previous period
    ("s7", "v5", D(2024, 3, 31, 23, 30), "social", "cpm", "launch", "mobile", None, None),  # last half hour
    ("s8", "v6", D(2024, 4, 1, 0, 10), "social", "cpm", "launch", "mobile", None, None),  # after March
]

EVENTS = [
    # event_id, session_id, occurred_at, event_type
    ("e1", "s3", D(2024, 3, 10, 10, 0), "page_view"),
    ("e2", "s3", D(2024, 3, 10, 10, 5), "add_to_cart"),
    ("e3", "s3", D(2024, 3, 10, 10, 1), "impression"),
    ("e4", "s3", D(2024, 3, 10, 10, 2), "click"),
    ("e5", "s4", D(2024, 3, 20, 18, 0), "page_view"),
    ("e6", "s4", D(2024, 3, 20, 18, 1), "page_view"),
    ("e7", "s4", D(2024, 3, 20, 18, 2), "add_to_cart"),
    ("e8", "s4", D(2024, 3, 20, 18, 3), "begin_checkout"),
    ("e9", "s4", D(2024, 3, 20, 18, 4), "purchase"),
    ("e10", "s4", D(2024, 3, 20, 18, 0), "impression"),
    ("e11", "s4", D(2024, 3, 20, 18, 0), "impression"),
    ("e12", "s4", D(2024, 3, 20, 18, 1), "click"),
    ("e13", "s1", D(2024, 3, 2, 10, 1), "impression"),
    ("e14", "s1", D(2024, 3, 2, 10, 2), "click"),
    ("e15", "s8", D(2024, 4, 1, 0, 11), "impression"),  # after March
    ("e16", "s2", D(2024, 3, 5, 9, 1), "add_to_cart"),
]

ORDERS = [
    # order_id, customer_id, session_id, ordered_at, status, subtotal, discount, shipping_fee, shipping_cost,
    # payment_fee, refund_amount, region, payment_method, coupon_code
    ("o1", "c1", "s1", D(2024, 3, 2, 10, 30), "delivered", None, 20, 10, 8, 3, 0, None, "alipay", "SPRING"),
    ("o2", "c2", None, D(2024, 3, 8, 12, 0), "paid", 120, 0, 0, 5, 1, 0, "west", "wechat_pay", None),
    ("o3", None, "s3", D(2024, 3, 10, 10, 20), "returned", None, 0, 5, 6, 2, 140, "east", "card", None),
    ("o4", "c1", "s4", D(2024, 3, 20, 18, 5), "shipped", None, 10, 0, 7, 2, 0, "north", "alipay", None),
    ("o5", "c3", "s2", D(2024, 3, 6, 9, 0), "cancelled", None, 0, 0, None, None, 0, "south", "card", None),
    ("o6", "c2", "s5", D(2024, 2, 25, 12, 30), "delivered", None, 0, 0, None, None, 0, "west", "alipay", None),
    ("o9", "c1", None, D(2023, 3, 15, 15, 0), "delivered", 200, 0, 0, None, None, 0, "north", "alipay", None),
    ("o10", "c4", "s7", D(2024, 4, 2, 9, 0), "paid", None, 0, 0, None, None, 0, None, "alipay", None),
    ("o11", "c5", None, D(2024, 3, 25, 20, 0), "delivered", None, 0, 0, None, None, 0, "south", "wechat_pay", None),
]

ORDER_ITEMS = [
    # order_id, line_no, sku, quantity, unit_price, unit_cost
    ("o1", 1, "P1", 2, 100, None),  # cost from products: 40
    ("o1", 2, "P2", 1, 50, 25),
    ("o3", 1, "P3", 1, 80, None),
    ("o3", 2, "P1", 1, 60, 35),
    ("o4", 1, "P2", 3, 40, None),  # cost from products: 30
    ("o5", 1, "P1", 1, 100, None),
    ("o6", 1, "P1", 1, 90, None),
    ("o10", 1, "P2", 1, 50, None),
    ("o11", 1, "P1", 1, 70, None),
]

AD_SPEND = [
    # date, source, medium, campaign, cost, impressions, clicks
    (date(2024, 3, 1), "paid_search", "cpc", "spring", 100, 1000, 50),
    (date(2024, 3, 15), "paid_search", "cpc", "", 50, 500, 10),
    (date(2024, 3, 31), "social", "cpm", "launch", 30, None, None),
    (date(2024, 2, 29), "paid_search", "cpc", "spring", 999, 9000, 90),  # previous period
    (date(2024, 4, 1), "social", "cpm", "launch", 77, 700, 7),  # after March
]

EXPENSES = [
    # month, category, amount
    ("2024-02", "rent", 2900),  # 29 days: 100 a day
    ("2024-03", "rent", 3100),  # 31 days: 100 a day
    ("2024-03", "staff", 1550),  # 50 a day
    ("2024-04", "rent", 3000),
]


def hand_made_shop(path: Path) -> Path:
    """Writes the hand-made shop above into a new warehouse at `path` (store time zone UTC)."""
    with writing(path, store_timezone="UTC") as con:
        con.executemany("insert into products (sku, name, category, unit_cost) values (?, ?, ?, ?)", PRODUCTS)
        con.executemany(
            "insert into sessions (session_id, visitor_id, started_at, source, medium, campaign, device, region, "
            "pageviews) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            SESSIONS,
        )
        con.executemany(
            "insert into events (event_id, session_id, occurred_at, event_type) values (?, ?, ?, ?)", EVENTS
        )
        con.executemany(
            "insert into orders (order_id, customer_id, session_id, ordered_at, status, subtotal, discount, "
            "shipping_fee, shipping_cost, payment_fee, refund_amount, region, payment_method, coupon_code) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ORDERS,
        )
        con.executemany(
            "insert into order_items (order_id, line_no, sku, quantity, unit_price, unit_cost) "
            "values (?, ?, ?, ?, ?, ?)",
            ORDER_ITEMS,
        )
        con.executemany(
            "insert into ad_spend (date, source, medium, campaign, cost, impressions, clicks) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            AD_SPEND,
        )
        con.executemany("insert into expenses (month, category, amount) values (?, ?, ?)", EXPENSES)
    return path


# --- random shops ----------------------------------------------------------------------------------------------

SOURCES = ["organic_search", "paid_search", "social", "kol", "email", "direct", "referral"]
MEDIUMS = {"organic_search": "organic", "paid_search": "cpc", "social": "cpm", "kol": "cpm", "email": "newsletter"}
CAMPAIGNS = ["spring", "summer", "launch", "", None]
DEVICES = ["desktop", "mobile", "tablet", "app", "unknown"]
REGIONS = ["north", "south", "east", "west", None]
STATUSES = ["placed", "paid", "shipped", "delivered", "cancelled", "returned"]
CATEGORIES = ["shoes", "bags", "hats"]


def empty_shop() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the canonical tables and nothing in them."""
    con = duckdb.connect()
    for table in TABLES.values():
        con.execute(table_ddl(table))
    return con


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("incoming", frame.to_arrow())
    con.execute(f"insert into {table} by name select * from incoming")
    con.unregister("incoming")


def random_shop(seed: int, sessions: int = 600, days: int = 120, end: date = date(2024, 6, 30)):
    """An in-memory warehouse of a random shop over `days` days ending on `end`.

    Every session's clicks are at most its impressions, on its own day, and every ad row's clicks at most its
    impressions, as in real data, so that click-through rates are shares.
    """
    rng = np.random.default_rng(seed)
    con = empty_shop()
    first = datetime.combine(end - timedelta(days=days - 1), datetime.min.time())
    # Products: one sku is sold but missing from products; some costs unknown.
    skus = [f"K{i}" for i in range(10)]
    products = pl.DataFrame(
        {
            "sku": skus,
            "name": [f"item {i}" for i in range(10)],
            "category": [CATEGORIES[i % 3] for i in range(10)],
            "unit_cost": [None if i % 4 == 3 else float(10 + 5 * i) for i in range(10)],
        },
        schema_overrides={"unit_cost": pl.Float64},
    )
    _insert(con, "products", products)
    # Sessions, some visitors coming back; a visitor that buys is always the same customer.
    n = sessions
    visitors = rng.integers(0, max(2, n // 2), n)
    started = [first + timedelta(seconds=int(x)) for x in rng.integers(0, days * 86400, n)]
    sources = rng.choice(SOURCES, n)
    frame = pl.DataFrame(
        {
            "session_id": [f"S{i}" for i in range(n)],
            "visitor_id": [f"V{v}" for v in visitors],
            "started_at": started,
            "source": sources.tolist(),
            "medium": [MEDIUMS.get(s) for s in sources],
            "campaign": [CAMPAIGNS[i] for i in rng.integers(0, len(CAMPAIGNS), n)],
            "device": rng.choice(DEVICES, n).tolist(),
            "landing_page": rng.choice(["/", "/sale", "/p/1", "/p/2"], n).tolist(),
            "region": [REGIONS[i] for i in rng.integers(0, len(REGIONS), n)],
            "pageviews": [
                None if r < 0.4 else int(k) for r, k in zip(rng.random(n), rng.integers(1, 6, n), strict=True)
            ],
        }
    )
    # Durations from a generator of their own (the draws above stay as they were): none at all in every third shop,
    # so that both "not given" (engaged bounce is null) and "given" are exercised; else some missing, some 10 s exactly.
    durations = np.random.default_rng(seed + 1_000_003)
    frame = frame.with_columns(
        duration_s=pl.Series(
            [
                None if seed % 3 == 0 or r < 0.2 else float(d)
                for r, d in zip(durations.random(n), durations.integers(0, 40, n), strict=True)
            ],
            dtype=pl.Float64,
        )
    )
    _insert(con, "sessions", frame)
    # Events: page views, impressions then at most as many clicks, sometimes add to cart, checkout, purchase.
    rows = []
    for i in range(n):
        at = started[i]
        # A session's events stay on its day (the last ones at its last second), so that a period's clicks are at
        # most its impressions whichever days it cuts.
        last_moment = datetime.combine(at.date(), time(23, 59, 59))
        impressions = int(rng.integers(0, 4))
        counts = {
            "page_view": int(rng.integers(0, 4)),
            "impression": impressions,
            "click": int(rng.integers(0, impressions + 1)),
            "add_to_cart": int(rng.random() < 0.3),
            "begin_checkout": int(rng.random() < 0.15),
            "purchase": int(rng.random() < 0.05),
        }
        for kind, count in counts.items():
            for _ in range(count):
                at = min(at + timedelta(seconds=int(rng.integers(1, 900))), last_moment)
                rows.append((f"E{len(rows)}", f"S{i}", at, kind))
    # Orphan events whose session is not in the warehouse (they fall in group null when split).
    rows += [(f"E{len(rows) + k}", "S-missing", first + timedelta(days=k), "impression") for k in range(3)]
    events = pl.DataFrame(rows, schema=["event_id", "session_id", "occurred_at", "event_type"], orient="row")
    _insert(con, "events", events)
    # Orders: most from a session (its visitor's customer, at its time), some without one, a few naming a session
    # that is not in the warehouse; some guests; every status.
    m = max(5, n // 4)
    orders, items = [], []
    for j in range(m):
        kind = rng.random()
        if kind < 0.65:
            i = int(rng.integers(0, n))
            session, at = f"S{i}", started[i] + timedelta(seconds=int(rng.integers(30, 3600)))
            customer = f"C{visitors[i]}"
        else:
            session = "S-missing" if kind > 0.95 else (None if kind > 0.8 else "")
            at = first + timedelta(seconds=int(rng.integers(0, days * 86400)))
            customer = f"C{int(rng.integers(0, n // 2))}"
        if rng.random() < 0.15:
            customer = None if rng.random() < 0.8 else ""
        status = STATUSES[int(rng.choice(6, p=[0.05, 0.2, 0.2, 0.4, 0.05, 0.1]))]
        lines = int(rng.integers(0, 4)) if rng.random() < 0.9 else 0
        gross = 0.0
        for line in range(lines):
            quantity, price = int(rng.integers(1, 4)), round(float(rng.uniform(5, 200)), 2)
            cost = None if rng.random() < 0.5 else round(price * 0.4, 2)
            sku = "K-missing" if rng.random() < 0.03 else skus[int(rng.integers(0, 10))]
            items.append((f"O{j}", line + 1, sku, quantity, price, cost))
            gross += quantity * price
        subtotal = round(float(rng.uniform(20, 300)), 2) if lines == 0 and rng.random() < 0.9 else None
        discount = round(float(rng.uniform(0, 20)), 2) if rng.random() < 0.3 else 0.0
        refund = round(gross * 0.5, 2) if status == "returned" else 0.0
        orders.append(
            (
                f"O{j}",
                at,
                status,
                customer,
                session,
                subtotal,
                discount,
                float(rng.choice([0.0, 8.0, 12.0])),
                None if rng.random() < 0.2 else round(float(rng.uniform(3, 15)), 2),
                None if rng.random() < 0.2 else round(float(rng.uniform(0.5, 5)), 2),
                refund,
                REGIONS[int(rng.integers(0, len(REGIONS)))],
                str(rng.choice(["alipay", "wechat_pay", "card", "installments"])),
                None if rng.random() < 0.8 else str(rng.choice(["SPRING", "VIP"])),
            )
        )
    order_columns = [
        "order_id", "ordered_at", "status", "customer_id", "session_id", "subtotal", "discount", "shipping_fee",
        "shipping_cost", "payment_fee", "refund_amount", "region", "payment_method", "coupon_code",
    ]  # fmt: skip
    _insert(con, "orders", pl.DataFrame(orders, schema=order_columns, orient="row"))
    item_columns = ["order_id", "line_no", "sku", "quantity", "unit_price", "unit_cost"]
    if items:
        _insert(con, "order_items", pl.DataFrame(items, schema=item_columns, orient="row"))
    # Ad spend per day for the paid sources; clicks at most impressions, both missing together sometimes.
    ads = []
    for day in range(days):
        for source, campaign in (("paid_search", "spring"), ("paid_search", ""), ("social", "launch"), ("kol", "")):
            if rng.random() < 0.7:
                impressions = None if rng.random() < 0.1 else int(rng.integers(0, 5000))
                clicks = None if impressions is None else int(rng.integers(0, impressions + 1))
                ads.append(
                    (
                        (first + timedelta(days=day)).date(),
                        source,
                        MEDIUMS[source],
                        campaign,
                        round(float(rng.uniform(0, 300)), 2),
                        impressions,
                        clicks,
                    )
                )
    ad_columns = ["date", "source", "medium", "campaign", "cost", "impressions", "clicks"]
    _insert(con, "ad_spend", pl.DataFrame(ads, schema=ad_columns, orient="row"))
    # Expenses for every month touched, in two categories.
    months = sorted({(first + timedelta(days=d)).strftime("%Y-%m") for d in range(days)})
    expenses = [
        (month, category, round(float(rng.uniform(1000, 5000)), 2))
        for month in months
        for category in ("rent", "staff")
    ]
    _insert(con, "expenses", pl.DataFrame(expenses, schema=["month", "category", "amount"], orient="row"))
    return con


def move_to_second_store(con: duckdb.DuckDBPyConnection, store: str = "b") -> duckdb.DuckDBPyConnection:
    """Moves about half of a random shop's sessions to a second store of the same currency (kept ids: ids are a
    store's own), with the events and orders that name them, and about half of the events and orders that name no
    stored session (each row has its own store); order lines follow their orders. Ad spend and expenses stay."""
    con.execute("update sessions set store = $store where hash(session_id) % 2 = 1", {"store": store})
    for table, key in (("events", "event_id"), ("orders", "order_id")):
        con.execute(
            f"""
            update {table} set store = $store
            where session_id in (select session_id from sessions where store = $store)
                or (session_id is null or session_id not in (select session_id from sessions)) and hash({key}) % 2 = 1
            """,
            {"store": store},
        )
    con.execute(
        "update order_items set store = $store where order_id in (select order_id from orders where store = $store)",
        {"store": store},
    )
    return con


def add_report_store(con: duckdb.DuckDBPyConnection, seed: int, store: str = "r") -> duckdb.DuckDBPyConnection:
    """Adds to a random shop a store with only a platform's traffic report (no session logs) and orders of its own,
    issue 13's kind: per day and source a row of counts the platform may leave out (null), some rows of a week (which
    a bucket may cut) and a row for a store with logs (its logs win: never counted). The shop's days are those of its
    sessions."""
    rng = np.random.default_rng(seed + 7)
    first, last = con.sql("select min(started_at)::date, max(started_at)::date from sessions").fetchall()[0]
    rows = []
    day = first
    while day <= last:
        for source in ("organic_search", "paid_search", "social"):
            if rng.random() < 0.2:
                continue
            sessions = int(rng.integers(0, 40))
            counts = [None if rng.random() < 0.1 else int(rng.integers(0, sessions + 1)) for _ in range(5)]
            week = source == "social" and rng.random() < 0.3
            end = day + timedelta(days=6 if week else 0)
            campaign, device = "spring" if rng.random() < 0.5 else "", str(rng.choice(DEVICES))
            revenue = round(float(rng.uniform(0, 900)), 2)
            rows.append((store, day, end, source, MEDIUMS[source], campaign, device, sessions, *counts, revenue))
        day += timedelta(days=1)
    rows.append(("main", first, first, "organic_search", "organic", "", "mobile", 999, 1, 2, 3, 4, 5, 6.0))
    columns = "store, date, end_date, source, medium, campaign, device, sessions, visitors, bounced_sessions, "
    columns += "engaged_sessions, cart_sessions, orders, revenue"
    con.executemany(f"insert into traffic ({columns}) values ({', '.join('?' * 14)})", rows)
    orders = [
        (store, f"R{k}", datetime.combine(first + timedelta(days=int(rng.integers(0, (last - first).days + 1))),
         datetime.min.time()) + timedelta(hours=12), str(rng.choice(["paid", "delivered", "cancelled"])),
         round(float(rng.uniform(20, 300)), 2))
        for k in range(30)
    ]  # fmt: skip
    con.executemany(
        "insert into orders (store, order_id, ordered_at, status, subtotal, discount, shipping_fee, refund_amount) "
        "values (?, ?, ?, ?, ?, 0, 0, 0)",
        orders,
    )
    return con
