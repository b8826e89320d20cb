"""The canonical tables of SPEC §2 as data: columns, types, keys, enumerations (order statuses, event types,
devices) and their synonyms, and the DDL that creates them. The bottom of the stack: it imports nothing of shopkpi."""

from __future__ import annotations

from dataclasses import dataclass, field

# v2: tickets and returns (issue 16); v3: traffic counted by the platform; v4: stores (issue 13); v5: an event without
# an id in its export keeps event_id null instead of an MD5 of its values (issue 14)
SCHEMA_VERSION = 5

# The store a row belongs to when its file does not say (`--store` of the load, else the warehouse's default store,
# recorded in shopkpi_meta as default_store). ingest sets the variable for each load.
DEFAULT_STORE = "main"
STORE_OF_LOAD = "getvariable('shopkpi_store')"
# Expenses are shared by every store ('') unless the load names one.
EXPENSE_STORE_OF_LOAD = "coalesce(getvariable('shopkpi_expense_store'), '')"
PLATFORMS = ("own_site", "shopify", "tmall", "taobao", "jd", "pinduoduo", "other")

STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
VALID_STATUSES = ("paid", "shipped", "delivered", "returned")
EVENT_TYPES = ("page_view", "impression", "click", "add_to_cart", "begin_checkout", "purchase")
DEVICES = ("desktop", "mobile", "tablet", "app", "unknown")
TICKET_TYPES = ("inquiry", "complaint", "return", "refund", "other")

MONEY = "DECIMAL(18,2)"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table, with what ingestion checks and how it normalises the value."""

    name: str
    type: str
    required: bool = False
    default: str | None = None  # SQL literal stored when the value is missing
    rule: str | None = None  # 'nonneg', 'positive', 'month'
    enum: tuple[str, ...] | None = None
    synonyms: dict[str, str] = field(default_factory=dict)
    lower: bool = False  # free text normalised to lower case


@dataclass(frozen=True)
class Table:
    """A canonical table: its grain, columns and key (the columns that identify a row)."""

    name: str
    grain: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    primary_key: bool = True  # False: the key is kept unique by ingestion only (order_items, events)
    # Checks across columns or tables, after each value's own: (column reported, condition that rejects the row,
    # reason). The condition names the row's typed values as {column}; a check whose columns the file does not have
    # is skipped. Conditions are SQL over the warehouse, so a reference to another table reads what is loaded.
    checks: tuple[tuple[str, str, str], ...] = ()

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _store() -> Column:
    return Column("store", "VARCHAR", default=STORE_OF_LOAD)


def _money(name: str, required: bool = False, default: str | None = None, rule: str | None = "nonneg") -> Column:
    return Column(name, MONEY, required=required, default=default, rule=rule)


STATUS_SYNONYMS = {
    "canceled": "cancelled",
    "refunded": "returned",
    "pending": "placed",
    "unpaid": "placed",
    "awaiting_payment": "placed",
    "completed": "delivered",
    "complete": "delivered",
    "fulfilled": "shipped",
}
DEVICE_SYNONYMS = {"pc": "desktop", "computer": "desktop", "phone": "mobile", "smartphone": "mobile", "ipad": "tablet"}
TICKET_SYNONYMS = {
    "question": "inquiry",
    "enquiry": "inquiry",
    "pre-sale": "inquiry",
    "presale": "inquiry",
    "咨询": "inquiry",
    "售前咨询": "inquiry",
    "投诉": "complaint",
    "退货": "return",
    "退款": "refund",
    "refund_only": "refund",
    "其他": "other",
}
EVENT_SYNONYMS = {
    "pageview": "page_view",
    "page-view": "page_view",
    "view": "page_view",
    "add-to-cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "checkout": "begin_checkout",
    "begin-checkout": "begin_checkout",
}

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "orders",
            "one row per order",
            (
                Column("order_id", "VARCHAR", required=True),
                Column("ordered_at", "TIMESTAMP", required=True),
                Column("status", "VARCHAR", required=True, enum=STATUSES, synonyms=STATUS_SYNONYMS, lower=True),
                Column("customer_id", "VARCHAR"),
                Column("session_id", "VARCHAR"),
                _money("subtotal"),
                _money("discount", default="0"),
                _money("shipping_fee", default="0"),
                _money("shipping_cost"),
                _money("payment_fee"),
                _money("refund_amount", default="0"),
                Column("currency", "VARCHAR"),
                Column("region", "VARCHAR"),
                Column("payment_method", "VARCHAR", lower=True),
                Column("coupon_code", "VARCHAR"),
                _store(),
            ),
            key=("store", "order_id"),
        ),
        Table(
            "order_items",
            "one row per order line (store, order_id, line_no), or (store, order_id, sku) where the export has no line "
            "numbers",
            (
                Column("order_id", "VARCHAR", required=True),
                Column("line_no", "INTEGER", rule="nonneg"),
                Column("sku", "VARCHAR", required=True),
                Column("quantity", "INTEGER", required=True, rule="positive"),
                _money("unit_price", required=True),
                _money("unit_cost"),
                _store(),
            ),
            key=("store", "order_id", "line_no", "sku"),
            primary_key=False,
        ),
        Table(
            "sessions",
            "one row per session",
            (
                Column("session_id", "VARCHAR", required=True),
                Column("visitor_id", "VARCHAR", required=True),
                Column("started_at", "TIMESTAMP", required=True),
                Column("source", "VARCHAR", required=True, lower=True),
                Column("medium", "VARCHAR", lower=True),
                Column("campaign", "VARCHAR"),
                Column("device", "VARCHAR", default="'unknown'", enum=DEVICES, synonyms=DEVICE_SYNONYMS, lower=True),
                Column("landing_page", "VARCHAR"),
                Column("region", "VARCHAR"),
                Column("customer_id", "VARCHAR"),
                Column("pageviews", "INTEGER", rule="positive"),
                Column("duration_s", "DOUBLE", rule="nonneg"),
                _store(),
            ),
            key=("store", "session_id"),
            # Unique by ingestion, as events: with the index a load of 10 M sessions took 27 s instead of 10 s and
            # the file was four times larger (687 MB instead of 173 MB); the joins on session ids are hash joins,
            # which do not use it. A warehouse made before keeps its index (it changes nothing but the time).
            primary_key=False,
        ),
        Table(
            "events",
            "one row per event (store, event_id; where the export gives no event_id, it is null and the event is "
            "keyed by its values)",
            (
                Column("event_id", "VARCHAR"),
                Column("session_id", "VARCHAR", required=True),
                Column("occurred_at", "TIMESTAMP", required=True),
                Column("event_type", "VARCHAR", required=True, enum=EVENT_TYPES, synonyms=EVENT_SYNONYMS, lower=True),
                Column("sku", "VARCHAR"),
                Column("page", "VARCHAR"),
                Column("position", "INTEGER", rule="nonneg"),
                _store(),
            ),
            key=("store", "event_id"),
            # Unique by ingestion, without an index: on millions of event ids an index quadruples the file
            # (which every load copies) and doubles the load time, and no query looks events up by id.
            primary_key=False,
        ),
        Table(
            "ad_spend",
            "one row per store, day, source and campaign",
            (
                Column("date", "DATE", required=True),
                Column("source", "VARCHAR", required=True, lower=True),
                Column("medium", "VARCHAR", lower=True),
                Column("campaign", "VARCHAR", default="''"),
                _money("cost", required=True),
                Column("impressions", "BIGINT", rule="nonneg"),
                Column("clicks", "BIGINT", rule="nonneg"),
                _store(),
            ),
            key=("store", "date", "source", "campaign"),
        ),
        Table(
            "products",
            "one row per product (sku)",
            (
                Column("sku", "VARCHAR", required=True),
                Column("name", "VARCHAR", required=True),
                Column("category", "VARCHAR", required=True),
                Column("brand", "VARCHAR"),
                _money("unit_cost"),
                _money("list_price"),
                Column("supplier", "VARCHAR"),
                Column("lead_time_days", "INTEGER", rule="nonneg"),
            ),
            key=("sku",),
        ),
        Table(
            "inventory",
            "one row per day and product",
            (
                Column("date", "DATE", required=True),
                Column("sku", "VARCHAR", required=True),
                Column("on_hand", "INTEGER", required=True, rule="nonneg"),
                Column("on_order", "INTEGER", rule="nonneg"),
            ),
            key=("date", "sku"),
        ),
        Table(
            "tickets",
            "one row per customer-service ticket",
            (
                Column("ticket_id", "VARCHAR", required=True),
                _store(),
                Column("channel", "VARCHAR", lower=True),
                Column("opened_at", "TIMESTAMP", required=True),
                Column("first_response_at", "TIMESTAMP"),
                Column("resolved_at", "TIMESTAMP"),
                Column("type", "VARCHAR", required=True, enum=TICKET_TYPES, synonyms=TICKET_SYNONYMS, lower=True),
                Column("order_id", "VARCHAR"),
                Column("reason", "VARCHAR"),
                Column("satisfaction_score", "INTEGER"),
            ),
            key=("store", "ticket_id"),
            checks=(
                ("first_response_at", "{first_response_at} < {opened_at}", "first response before the ticket opened"),
                ("resolved_at", "{resolved_at} < {opened_at}", "resolved before the ticket opened"),
                ("resolved_at", "{resolved_at} < {first_response_at}", "resolved before the first response"),
                ("satisfaction_score", "{satisfaction_score} not between 1 and 5", "satisfaction score not in 1–5"),
                (
                    "order_id",
                    "{order_id} not in (select order_id from orders where store = {store})",
                    "order_id matches no loaded order",
                ),
            ),
        ),
        Table(
            "returns",
            "one row per returned order line (store, order_id, sku)",
            (
                Column("order_id", "VARCHAR", required=True),
                Column("sku", "VARCHAR", required=True),
                Column("returned_quantity", "INTEGER", required=True, rule="positive"),
                _money("refund_amount", default="0"),
                Column("reason", "VARCHAR"),
                Column("returned_at", "TIMESTAMP"),
                Column("days_after_delivery", "INTEGER", rule="nonneg"),
                _store(),
            ),
            key=("store", "order_id", "sku"),
            checks=(
                (
                    "order_id",
                    "{order_id} not in (select order_id from orders where store = {store})",
                    "order_id matches no loaded order",
                ),
            ),
        ),
        Table(
            "traffic",
            "one row per store, date range (a day, or the period of an export), source, medium, campaign and device",
            (
                Column("date", "DATE", required=True),
                Column("end_date", "DATE", required=True),
                _store(),
                Column("source", "VARCHAR", required=True, lower=True),
                Column("medium", "VARCHAR", default="''", lower=True),
                Column("campaign", "VARCHAR", default="''"),
                Column("device", "VARCHAR", default="'unknown'", enum=DEVICES, synonyms=DEVICE_SYNONYMS, lower=True),
                Column("sessions", "BIGINT", required=True, rule="nonneg"),
                Column("visitors", "BIGINT", rule="nonneg"),
                Column("pageviews", "BIGINT", rule="nonneg"),
                Column("engaged_sessions", "BIGINT", rule="nonneg"),
                Column("bounced_sessions", "BIGINT", rule="nonneg"),
                Column("cart_sessions", "BIGINT", rule="nonneg"),
                Column("orders", "BIGINT", rule="nonneg"),
                Column("buyers", "BIGINT", rule="nonneg"),
                _money("revenue"),
                _money("ad_cost"),
            ),
            key=("store", "date", "end_date", "source", "medium", "campaign", "device"),
            checks=(
                ("end_date", "{end_date} < {date}", "end_date is before date"),
                ("engaged_sessions", "{engaged_sessions} > {sessions}", "more engaged sessions than sessions"),
                ("bounced_sessions", "{bounced_sessions} > {sessions}", "more bounced sessions than sessions"),
            ),
        ),
        Table(
            "expenses",
            "one row per month, expense category and store ('': shared by every store)",
            (
                Column("month", "VARCHAR", required=True, rule="month"),
                Column("category", "VARCHAR", required=True),
                _money("amount", required=True, rule=None),
                Column("note", "VARCHAR"),
                Column("store", "VARCHAR", default=EXPENSE_STORE_OF_LOAD),
            ),
            key=("month", "category", "store"),
        ),
    )
}

STORES_DDL = """
create table if not exists stores (
    store varchar primary key,
    platform varchar not null,
    currency varchar not null
)"""

LEDGER_DDL = """
create table if not exists shopkpi_meta (key varchar primary key, value varchar not null);
create sequence if not exists load_id_seq;
create table if not exists ingest_log (
    load_id bigint primary key,
    path varchar not null,
    content_hash varchar not null,
    table_name varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null,
    rows_read bigint not null,
    inserted bigint not null,
    updated bigint not null,
    duplicates bigint not null,
    rejected bigint not null,
    ignored_columns varchar,
    store varchar
);
create table if not exists rejects (
    load_id bigint not null,
    file varchar not null,
    line bigint,
    table_name varchar not null,
    column_name varchar,
    reason varchar not null,
    raw_row varchar
);
"""


# What a rollup's rows can be keyed by: 'day' (the query computes its rows of a range of days), 'visitor_id' (the
# rows of the visitors in the temporary table VISITOR_KEYS) or 'session_id' (the rows of the sessions in
# SESSION_KEYS). A ledger made before a key was added is rebuilt by warehouse.rollups.upgrade_ledger.
ROLLUP_KEYS = ("day", "visitor_id", "session_id")
SESSION_KEYS = "_rollup_session_keys"
VISITOR_KEYS = "_rollup_visitors"
# The condition by which a keyed rollup's query keeps the sessions or visitors of its keys (each query names it once).
# Computing every row (a build, or a load that recomputes a rollup whole), the query runs with `true` in its place
# (warehouse.rollups.every_key), rather than matching every row against a table of every key.
KEY_FILTERS = {
    "session_id": f"(store, session_id) in (select store, session_id from {SESSION_KEYS})",
    "visitor_id": f"(store, visitor_id) in (select store, visitor_id from {VISITOR_KEYS})",
}
# A rollup of visitors by number (metrics.compute.day_visitors_query) and the numbers it reads: each visitor of a store
# (store, visitor_id) numbered once, from 1, never renumbered but when the rollup is made whole (warehouse/rollups.py
# keeps them). Where the warehouse chooses to keep them (metrics.rollups.keeps_visitor_numbers).
DAY_VISITORS = "rollup_day_visitors"
VISITOR_NUMBERS = "visitor_numbers"
# The rollups' ledger (warehouse/rollups.py): each rollup table's name, the query that computes its rows and what
# they are keyed by. metrics/ writes it when it builds the rollups; a load reruns the queries for the days (or the
# visitors, the sessions) it touched.
ROLLUP_LEDGER_DDL = f"""
create table if not exists rollup_queries (
    table_name varchar primary key,
    query varchar not null,
    keyed_by varchar not null check (keyed_by in ({", ".join(f"'{key}'" for key in ROLLUP_KEYS)}))
);
"""


def table_ddl(table: Table) -> str:
    """`create table` for one canonical table, with its types, required columns and key."""
    columns = []
    for col in table.columns:
        not_null = col.required or col.default is not None
        # Rows written by SQL rather than ingest (the demo, tests, an analyst) are the default store's, or shared.
        store = f" default '{'' if table.name == 'expenses' else DEFAULT_STORE}'" if col.name == "store" else ""
        columns.append(f"{col.name} {col.type}{' not null' if not_null else ''}{store}")
    if table.primary_key:
        columns.append(f"primary key ({', '.join(table.key)})")
    return f"create table if not exists {table.name} ({', '.join(columns)})"
