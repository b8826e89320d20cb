"""Tests of the demo shop generator: deterministic, in the canonical columns, internally consistent, and realistic.

Most tests read one 60-day shop (2 October - 30 November 2024, so it holds 双11) generated once per module.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.demo import DEMO_TIMEZONE, write_demo_files
from warehouse import DEVICES, EVENT_TYPES, STATUSES, TABLES, table_ddl

END = date(2024, 11, 30)
DAYS = 60
VALID = "status in ('paid', 'shipped', 'delivered', 'returned')"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The files of a 60-day demo shop, and the progress reports made while writing them."""
    reports: list[tuple[str, float]] = []
    out = tmp_path_factory.mktemp("demo")
    files = write_demo_files(out, seed=7, days=DAYS, end=END, progress=lambda stage, f: reports.append((stage, f)))
    return {"dir": out, "files": files, "reports": reports}


@pytest.fixture(scope="module")
def db(shop: dict) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per canonical table over the demo files."""
    con = duckdb.connect()
    for table, paths in shop["files"].items():
        path = str(paths[0])
        reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
        con.execute(f"create view {table} as select * from {reader}('{path}')")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    return con.sql(sql).fetchall()[0]


def read(shop: dict, table: str) -> pl.DataFrame:
    path = shop["files"][table][0]
    return pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema=False)


def digests(files: dict[str, list[Path]]) -> dict[str, str]:
    return {table: hashlib.sha256(paths[0].read_bytes()).hexdigest() for table, paths in files.items()}


# --- determinism and shape -------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_another_seed_other_files(shop: dict, tmp_path: Path) -> None:
    again = write_demo_files(tmp_path / "again", seed=7, days=DAYS, end=END)
    other = write_demo_files(tmp_path / "other", seed=8, days=DAYS, end=END)
    assert digests(again) == digests(shop["files"])
    changed = {t for t, d in digests(other).items() if d != digests(shop["files"])[t]}
    # Everything drawn from the seed differs; only the fixed parts could stay the same.
    assert {"orders", "order_items", "sessions", "events", "inventory", "ad_spend"} <= changed


def test_one_file_per_canonical_table_with_exactly_its_columns(shop: dict) -> None:
    # Every table but traffic, a platform's report for shops without session logs: the demo has session logs.
    assert set(shop["files"]) == set(TABLES) - {"traffic"}
    for table, paths in shop["files"].items():
        assert len(paths) == 1 and paths[0].exists() and paths[0].parent == shop["dir"]
        columns = read(shop, table).columns
        canonical = [c.name for c in TABLES[table].columns]
        if table == "expenses":  # the demo's overheads are shared by its stores: no store column ('')
            canonical.remove("store")
        assert set(TABLES[table].required) <= set(columns), table
        assert sorted(columns) == sorted(canonical), table


def test_every_row_loads_into_the_warehouse_schema(shop: dict) -> None:
    # The warehouse DDL has the canonical types, NOT NULLs and primary keys: a bad value or a duplicate key fails.
    con = duckdb.connect()
    for table, paths in shop["files"].items():
        con.execute(table_ddl(TABLES[table]))
        path = str(paths[0])
        reader = f"read_parquet('{path}')" if path.endswith(".parquet") else f"read_csv('{path}', all_varchar = true)"
        con.execute(f"insert into {table} by name select * from {reader}")
        loaded = one(con, f"select count(*) from {table}")[0]
        assert loaded == read(shop, table).height > 0, table


def test_keys_are_unique_and_not_null(shop: dict) -> None:
    keys = {
        "orders": ["order_id"],
        "order_items": ["order_id", "line_no"],
        "sessions": ["session_id"],
        "events": ["event_id"],
        "ad_spend": ["date", "source", "campaign"],
        "products": ["sku"],
        "inventory": ["date", "sku"],
        "expenses": ["month", "category"],
    }
    for table, key in keys.items():
        frame = read(shop, table).select(key)
        assert frame.null_count().sum_horizontal().item() == 0, table
        assert frame.is_duplicated().sum() == 0, table


def test_values_follow_the_data_contract(shop: dict) -> None:
    orders, items = read(shop, "orders"), read(shop, "order_items")
    sessions, events = read(shop, "sessions"), read(shop, "events")
    assert set(orders["status"]) <= set(STATUSES)
    assert set(orders["status"]) >= {"delivered", "returned", "cancelled", "shipped", "paid"}
    assert set(events["event_type"]) == set(EVENT_TYPES)
    assert set(sessions["device"]) <= set(DEVICES)
    assert set(orders["payment_method"]) == {"alipay", "wechat_pay", "card", "installments"}
    assert set(orders["currency"]) == {"CNY"}
    assert items["quantity"].cast(pl.Int64).min() >= 1
    assert sessions["pageviews"].min() >= 1 and sessions["duration_s"].min() >= 0
    # Text formats as a shop exports them: local timestamps without offset, money with two decimals, YYYY-MM months.
    assert orders["ordered_at"].str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").all()
    money = ["subtotal", "discount", "shipping_fee", "shipping_cost", "payment_fee", "refund_amount"]
    for column in money:
        assert orders[column].str.contains(r"^\d+\.\d{2}$").all(), column
    for column in ("unit_price", "unit_cost"):
        assert items[column].str.contains(r"^\d+\.\d{2}$").all(), column
    assert read(shop, "ad_spend")["cost"].str.contains(r"^\d+\.\d{2}$").all()
    assert read(shop, "expenses")["month"].str.contains(r"^\d{4}-\d{2}$").all()
    assert read(shop, "inventory")["on_hand"].cast(pl.Int64).min() >= 0
    assert sessions.schema["started_at"] == pl.Datetime("ms")  # naive: store local time (DEMO_TIMEZONE)
    assert DEMO_TIMEZONE == "Asia/Shanghai"


def test_products_are_a_plausible_catalogue(shop: dict) -> None:
    products = read(shop, "products").with_columns(pl.col("unit_cost", "list_price").cast(pl.Float64))
    assert 150 <= products.height <= 250
    assert 8 <= products["category"].n_unique() <= 12
    assert (products["unit_cost"] < products["list_price"]).all()
    assert products["lead_time_days"].cast(pl.Int64).is_between(3, 30).all()
    margin = 1 - products["unit_cost"].sum() / products["list_price"].sum()
    assert 0.3 < margin < 0.8


# --- the window ------------------------------------------------------------------------------------------------------


def test_window_ends_on_end_and_spans_days(db: duckdb.DuckDBPyConnection) -> None:
    first = END - timedelta(days=DAYS - 1)
    assert one(db, "select min(started_at)::date, max(started_at)::date from sessions") == (first, END)
    assert one(db, "select min(occurred_at)::date, max(occurred_at)::date from events") == (first, END)
    assert one(db, "select count(distinct started_at::date) from sessions")[0] == DAYS
    assert one(db, "select min(ordered_at)::date, max(ordered_at)::date from orders") == (first, END)
    assert one(db, "select min(date), max(date), count(distinct date) from inventory") == (first, END, DAYS)
    assert one(db, "select count(*) from inventory")[0] == DAYS * one(db, "select count(*) from products")[0]
    assert one(db, "select min(date), max(date) from ad_spend") == (first, END)
    assert [m for (m,) in db.sql("select distinct month from expenses order by 1").fetchall()] == ["2024-10", "2024-11"]


def test_end_defaults_to_yesterday(tmp_path: Path) -> None:
    files = write_demo_files(tmp_path, days=3)
    dates = pl.read_parquet(files["sessions"][0])["started_at"].dt.date()
    yesterday = date.today() - timedelta(days=1)
    assert (dates.min(), dates.max()) == (yesterday - timedelta(days=2), yesterday)


def test_progress_is_reported_from_start_to_done(shop: dict) -> None:
    fractions = [f for _, f in shop["reports"]]
    assert len(fractions) >= 8
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(stage, str) and stage for stage, _ in shop["reports"])


# --- consistency between tables --------------------------------------------------------------------------------------


def test_foreign_keys_hold(db: duckdb.DuckDBPyConnection) -> None:
    orphans = {
        "items without order": "select count(*) from order_items where order_id not in (select order_id from orders)",
        "orders without items": "select count(*) from orders where order_id not in (select order_id from order_items)",
        "item sku unknown": "select count(*) from order_items where sku not in (select sku from products)",
        "event session unknown": "select count(*) from events "
        "where session_id not in (select session_id from sessions)",
        "event sku unknown": "select count(*) from events "
        "where sku is not null and sku not in (select sku from products)",
        "order session unknown": "select count(*) from orders where session_id is not null "
        "and session_id not in (select session_id from sessions)",
        "inventory sku unknown": "select count(*) from inventory where sku not in (select sku from products)",
        "session customer never ordered": "select count(*) from sessions where customer_id is not null "
        "and customer_id not in (select customer_id from orders where customer_id is not null)",
    }
    assert {name: one(db, sql)[0] for name, sql in orphans.items()} == dict.fromkeys(orphans, 0)
    assert one(db, "select count(distinct session_id) = count(session_id) from orders")[0]  # one order per session


def test_orders_add_up(db: duckdb.DuckDBPyConnection) -> None:
    wrong_subtotal = one(
        db,
        """
        with goods as (select order_id, sum(quantity * unit_price) as value from order_items group by all)
        select count(*) from orders join goods using (order_id) where abs(subtotal - value) > 0.005
        """,
    )[0]
    assert wrong_subtotal == 0
    # Each coupon's rule: 满X减Y needs X of goods and takes Y off; no coupon, no discount.
    rules = {
        "XINREN15": (99, 15),
        "MAN200JIAN20": (200, 20),
        "MAN300JIAN50": (300, 50),
        "618MAN199JIAN30": (199, 30),
        "D11MAN399JIAN60": (399, 60),
    }
    rows = db.sql("select coupon_code, subtotal, discount from orders").fetchall()
    for code, subtotal, discount in rows:
        if code is None:
            assert discount == 0
        else:
            minimum, value = rules[code]
            assert subtotal >= minimum and discount == value, (code, subtotal, discount)
    assert {code for code, _, _ in rows} >= {None, "XINREN15", "MAN200JIAN20", "MAN300JIAN50", "D11MAN399JIAN60"}
    bad_shipping = one(
        db,
        "select count(*) from orders where shipping_fee <> case when subtotal - discount >= 99 then 0 else 10 end",
    )[0]
    assert bad_shipping == 0
    fee_share = one(db, f"select sum(payment_fee) / sum(subtotal - discount + shipping_fee) from orders where {VALID}")
    assert fee_share[0] == pytest.approx(0.006, abs=0.0005)
    assert one(db, "select count(*) from orders where refund_amount > subtotal - discount + shipping_fee")[0] == 0
    assert one(db, "select count(*) from orders where status = 'returned' and refund_amount = 0")[0] == 0
    partial = "status = 'delivered' and refund_amount > 0"
    assert one(db, f"select count(*) from orders where {partial}")[0] > 0  # partial refunds exist too


def test_sessions_match_their_events(db: duckdb.DuckDBPyConnection) -> None:
    mismatched_pageviews = one(
        db,
        """
        with views as (select session_id, count(*) as n from events where event_type = 'page_view' group by all)
        select count(*) from sessions left join views using (session_id) where coalesce(n, 0) <> pageviews
        """,
    )[0]
    assert mismatched_pageviews == 0
    outside = one(
        db,
        """
        select count(*) from events join sessions using (session_id)
        where occurred_at < started_at or occurred_at > started_at + to_seconds(duration_s::bigint)
        """,
    )[0]
    assert outside == 0
    # A paid order from a session has its purchase event, at the moment the order was placed.
    missing_purchase = one(
        db,
        """
        select count(*) from orders o
        where session_id is not null and status <> 'placed' and payment_fee > 0 and not exists (
            select 1 from events e
            where e.session_id = o.session_id and e.event_type = 'purchase' and e.occurred_at = o.ordered_at)
        """,
    )[0]
    assert missing_purchase == 0
    stray_purchase = one(
        db,
        "select count(*) from events where event_type = 'purchase' "
        "and session_id not in (select session_id from orders where session_id is not null)",
    )[0]
    assert stray_purchase == 0
    # What a session bought was added to its cart.
    not_carted = one(
        db,
        f"""
        select count(*) from order_items i join orders o using (order_id)
        where o.session_id is not null and {VALID} and not exists (
            select 1 from events e where e.session_id = o.session_id and e.event_type = 'add_to_cart' and e.sku = i.sku)
        """,
    )[0]
    assert not_carted == 0


def test_inventory_moves_with_sales_and_deliveries(db: duckdb.DuckDBPyConnection) -> None:
    # received = on_hand today - on_hand yesterday + units sold today: never negative, and only when stock was on order.
    rows = db.sql(
        f"""
        with sold as (
            select ordered_at::date as date, sku, sum(quantity) as units
            from order_items join orders using (order_id) where {VALID} group by all
        ),
        moves as (
            select date, sku, on_hand, on_order,
                on_hand - lag(on_hand) over w + coalesce(units, 0) as received,
                lag(on_order) over w as was_on_order
            from inventory left join sold using (date, sku)
            window w as (partition by sku order by date)
        )
        select
            count(*) filter (where received < 0),
            count(*) filter (where received > 0 and was_on_order = 0),
            count(*) filter (where received > 0),
            count(*) filter (where on_hand = 0),
            count(*)
        from moves where was_on_order is not null
        """
    ).fetchall()[0]
    negative, from_nowhere, deliveries, empty, total = rows
    assert negative == 0 and from_nowhere == 0
    assert deliveries > 0
    assert 0 < empty < 0.1 * total  # occasional stock-outs


def test_ad_spend_follows_paid_traffic(db: duckdb.DuckDBPyConnection) -> None:
    # Each paid campaign day has at least as many ad clicks as sessions it brought, and a 1-3 % ad CTR overall.
    too_few_clicks = one(
        db,
        """
        with visits as (
            select started_at::date as date, source, campaign, count(*) as n from sessions group by all
        )
        select count(*) from visits join ad_spend using (date, source, campaign) where clicks < n
        """,
    )[0]
    assert too_few_clicks == 0
    ctr, sources = one(db, "select sum(clicks) / sum(impressions), list(distinct source order by source) from ad_spend")
    assert 0.01 <= ctr <= 0.03
    assert sources == ["kol", "paid_search", "social"]
    unpaid = one(
        db,
        "select count(*) from sessions s join ad_spend a on a.source = s.source and a.campaign = s.campaign "
        "where s.source in ('email', 'direct', 'organic_search')",
    )[0]
    assert unpaid == 0  # owned channels cost no ad money


# --- realism ---------------------------------------------------------------------------------------------------------


def test_double_11_has_far_more_sessions_than_an_ordinary_november_weekday(db: duckdb.DuckDBPyConnection) -> None:
    daily = dict(db.sql("select started_at::date, count(*) from sessions group by all").fetchall())
    ordinary = [n for d, n in daily.items() if d.month == 11 and d.day >= 15 and d.weekday() < 5]
    assert len(ordinary) >= 8
    assert daily[date(2024, 11, 11)] > 2 * max(ordinary)


def test_kpis_look_like_a_real_shop(db: duckdb.DuckDBPyConnection) -> None:
    sessions, per_day, bounce = one(
        db, "select count(*), count(*) / count(distinct started_at::date), avg((pageviews = 1)::int) from sessions"
    )
    orders, converted, aov = one(
        db,
        f"select count(*), count(distinct session_id), sum(subtotal - discount) / count(*) from orders where {VALID}",
    )
    assert 800 <= per_day <= 3000
    assert 0.02 <= converted / sessions <= 0.05
    assert 100 <= aov <= 300
    assert 0.35 <= bounce <= 0.55
    clicks, impressions, events = one(
        db,
        "select count(*) filter (where event_type = 'click'), count(*) filter (where event_type = 'impression'), "
        "count(*) from events",
    )
    assert 0.03 <= clicks / impressions <= 0.15
    assert 4 <= events / sessions <= 6
    cart_conversion = one(
        db,
        f"""
        with carts as (select distinct session_id from events where event_type = 'add_to_cart')
        select avg((session_id in (select session_id from orders where {VALID} and session_id is not null))::int)
        from carts
        """,
    )[0]
    assert 0.3 <= cart_conversion <= 0.5


def test_the_shop_makes_a_modest_profit(db: duckdb.DuckDBPyConnection) -> None:
    # SPEC §4 P&L over the window; expenses of the two months are pro rata by covered days (30 of 31 in October).
    net_margin = one(
        db,
        f"""
        with valid as (select * from orders where {VALID}),
        lines as (
            select order_id, sum(quantity * unit_price) as gross, sum(quantity * unit_cost) as cost
            from order_items group by all
        ),
        totals as (
            select
                sum(gross) - sum(discount) - sum(refund_amount) + sum(shipping_fee) as revenue,
                sum(cost) filter (where status <> 'returned') as cogs,
                sum(shipping_cost) + sum(payment_fee) as fulfilment
            from valid join lines using (order_id)
        ),
        opex as (select sum(amount * case month when '2024-10' then 30 / 31 else 1 end) as amount from expenses)
        select (revenue - cogs - fulfilment - (select sum(cost) from ad_spend) - (select amount from opex)) / revenue
        from totals
        """,
    )[0]
    assert 0 < net_margin < 0.15


def test_sources_and_devices_convert_differently(db: duckdb.DuckDBPyConnection) -> None:
    rates = dict(
        db.sql(
            f"""
            select s.source || '/' || s.device, avg((o.order_id is not null)::int)
            from sessions s left join (select * from orders where {VALID}) o using (session_id)
            group by all
            """
        ).fetchall()
    )
    by_source = dict(
        db.sql(
            f"""
            select source, avg((o.order_id is not null)::int)
            from sessions left join (select * from orders where {VALID}) o using (session_id) group by all
            """
        ).fetchall()
    )
    assert min(by_source["email"], by_source["direct"]) > max(by_source["social"], by_source["kol"])
    assert rates["direct/app"] > rates["direct/mobile"]
    by_device = dict(
        db.sql(
            f"""
            select device, avg((o.order_id is not null)::int)
            from sessions left join (select * from orders where {VALID}) o using (session_id) group by all
            """
        ).fetchall()
    )
    assert by_device["app"] > by_device["desktop"] > by_device["mobile"]
    assert 0.35 < one(db, "select avg((device = 'mobile')::int) from sessions")[0] < 0.75


def test_customers_come_back_and_some_check_out_as_guests(db: duckdb.DuckDBPyConnection) -> None:
    buyers, repeat = one(
        db,
        f"""
        select count(*), count(*) filter (where n >= 2)
        from (select customer_id, count(*) as n from orders where {VALID} and customer_id is not null group by all)
        """,
    )
    assert 0.03 < repeat / buyers < 0.5
    guests, phone, total = one(
        db,
        "select count(*) filter (where customer_id is null), count(*) filter (where session_id is null), count(*) "
        "from orders",
    )
    assert 0.02 < guests / total < 0.2
    assert 0 < phone / total < 0.05
    # A returning customer's later sessions are (mostly) signed in.
    signed_in = one(
        db,
        """
        with first_order as (select customer_id, min(ordered_at) as at from orders group by all)
        select count(*) from sessions s join first_order f using (customer_id) where s.started_at > f.at
        """,
    )[0]
    assert signed_in > 0


def test_regions_and_sources_look_chinese(db: duckdb.DuckDBPyConnection) -> None:
    regions = [r for (r,) in db.sql("select region from orders group by all order by count(*) desc").fetchall()]
    assert regions[0] == "广东" and len(regions) > 20
    assert all(re.fullmatch(r"[\u4e00-\u9fff]+", r) for r in regions)
    campaigns = {c for (c,) in db.sql("select distinct campaign from sessions where source = 'social'").fetchall()}
    assert any(c and c.startswith("douyin_") for c in campaigns) and any(
        c and c.startswith("wechat") for c in campaigns
    )
    sources = {s for (s,) in db.sql("select distinct source from sessions").fetchall()}
    assert sources == {"organic_search", "paid_search", "social", "kol", "email", "direct", "referral"}
