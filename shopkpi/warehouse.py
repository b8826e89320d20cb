"""The DuckDB warehouse: canonical tables of SPEC §2, its schema version, and safe reading beside writing.

DuckDB lets one process write a file or many processes read it, never both. So no process ever opens the live
file for writing: a writer copies it, changes the copy in one transaction, checkpoints, and atomically renames the
copy over the live file (`os.replace`). Readers hold read-only connections; they keep a consistent snapshot of
the file they opened, and reopen when the live file's inode changes. A writer killed at any point leaves only a
stray temporary file, never a half-written warehouse. Writers queue on an advisory lock file.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

SCHEMA_VERSION = 1

STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
VALID_STATUSES = ("paid", "shipped", "delivered", "returned")
EVENT_TYPES = ("page_view", "impression", "click", "add_to_cart", "begin_checkout", "purchase")
DEVICES = ("desktop", "mobile", "tablet", "app", "unknown")

MONEY = "DECIMAL(18,2)"


class WarehouseError(Exception):
    """A problem with the warehouse file itself, explained in one line for the user."""


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

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


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
            ),
            key=("order_id",),
        ),
        Table(
            "order_items",
            "one row per order line (order_id, line_no), or (order_id, sku) where the export has no line numbers",
            (
                Column("order_id", "VARCHAR", required=True),
                Column("line_no", "INTEGER", rule="nonneg"),
                Column("sku", "VARCHAR", required=True),
                Column("quantity", "INTEGER", required=True, rule="positive"),
                _money("unit_price", required=True),
                _money("unit_cost"),
            ),
            key=("order_id", "line_no", "sku"),
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
            ),
            key=("session_id",),
        ),
        Table(
            "events",
            "one row per event (event_id; where the export has none, a hash of the row's values)",
            (
                Column("event_id", "VARCHAR"),
                Column("session_id", "VARCHAR", required=True),
                Column("occurred_at", "TIMESTAMP", required=True),
                Column("event_type", "VARCHAR", required=True, enum=EVENT_TYPES, synonyms=EVENT_SYNONYMS, lower=True),
                Column("sku", "VARCHAR"),
                Column("page", "VARCHAR"),
                Column("position", "INTEGER", rule="nonneg"),
            ),
            key=("event_id",),
            # Unique by ingestion, without an index: on millions of event ids an index quadruples the file
            # (which every load copies) and doubles the load time, and no query looks events up by id.
            primary_key=False,
        ),
        Table(
            "ad_spend",
            "one row per day, source and campaign",
            (
                Column("date", "DATE", required=True),
                Column("source", "VARCHAR", required=True, lower=True),
                Column("medium", "VARCHAR", lower=True),
                Column("campaign", "VARCHAR", default="''"),
                _money("cost", required=True),
                Column("impressions", "BIGINT", rule="nonneg"),
                Column("clicks", "BIGINT", rule="nonneg"),
            ),
            key=("date", "source", "campaign"),
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
            "expenses",
            "one row per month and expense category",
            (
                Column("month", "VARCHAR", required=True, rule="month"),
                Column("category", "VARCHAR", required=True),
                _money("amount", required=True, rule=None),
                Column("note", "VARCHAR"),
            ),
            key=("month", "category"),
        ),
    )
}

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
    ignored_columns varchar
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


def table_ddl(table: Table) -> str:
    """`create table` for one canonical table, with its types, required columns and key."""
    columns = []
    for col in table.columns:
        not_null = col.required or col.default is not None or (table.name == "events" and col.name == "event_id")
        columns.append(f"{col.name} {col.type}{' not null' if not_null else ''}")
    if table.primary_key:
        columns.append(f"primary key ({', '.join(table.key)})")
    return f"create table if not exists {table.name} ({', '.join(columns)})"


# Each step upgrades a warehouse from version N to N + 1; append here when the schema changes.
MIGRATIONS: dict[int, list[str]] = {}


def _create_schema(con: duckdb.DuckDBPyConnection, store_timezone: str, currency: str) -> None:
    con.execute(LEDGER_DDL)
    for table in TABLES.values():
        con.execute(table_ddl(table))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {"schema_version": str(SCHEMA_VERSION), "timezone": store_timezone, "currency": currency, "created_at": now}
    con.executemany("insert or ignore into shopkpi_meta values (?, ?)", list(meta.items()))


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version recorded in the warehouse, or None for a file that is not a shopkpi warehouse."""
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'shopkpi_meta'").fetchall()[0][0]
    if not found:
        return None
    rows = con.sql("select value from shopkpi_meta where key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else None


def _check_version(con: duckdb.DuckDBPyConnection, path: Path, *, can_upgrade: bool) -> None:
    version = schema_version(con)
    if version is None:
        raise WarehouseError(f"{path} is a DuckDB file but not a shopkpi warehouse: point --db at another path")
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"{path} was made by a newer shopkpi (schema v{version}, this one knows v{SCHEMA_VERSION}): upgrade shopkpi"
        )
    if version < SCHEMA_VERSION and not can_upgrade:
        raise WarehouseError(
            f"{path} has schema v{version}, this shopkpi needs v{SCHEMA_VERSION}: run `shopkpi upgrade --db {path}`"
        )
    for step in range(version, SCHEMA_VERSION):
        if step not in MIGRATIONS:
            raise WarehouseError(f"{path} has schema v{version}, which this shopkpi cannot upgrade: reload the data")
        for statement in MIGRATIONS[step]:
            con.execute(statement)
        con.execute("update shopkpi_meta set value = ? where key = 'schema_version'", [str(step + 1)])


def store_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The warehouse's recorded facts: schema_version, timezone, currency, created_at."""
    return dict(con.sql("select key, value from shopkpi_meta").fetchall())


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_copies(path: Path) -> None:
    # Only called under the writer lock, so every temporary copy left is from a writer that died.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
        Path(str(stale) + ".wal").unlink(missing_ok=True)


@contextmanager
def writing(path: Path, *, store_timezone: str = "UTC", currency: str = "CNY") -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a private copy of the warehouse, published atomically if the block succeeds.

    A new warehouse is created with the given store time zone and currency; an older schema is upgraded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(path):
        _remove_stale_copies(path)
        temp = _temp_path(path)
        if path.exists():
            shutil.copyfile(path, temp)
        con = duckdb.connect(str(temp))
        try:
            if path.exists():
                _check_version(con, path, can_upgrade=True)
            else:
                _create_schema(con, store_timezone, currency)
            con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
            yield con
            con.execute("checkpoint")
            con.close()
            os.replace(temp, path)
            _fsync_dir(path.parent)
        except BaseException:
            con.close()
            temp.unlink(missing_ok=True)
            Path(str(temp) + ".wal").unlink(missing_ok=True)
            raise


def replace_with(path: Path, new_file: Path) -> None:
    """Publishes a complete warehouse built elsewhere (e.g. the demo) as the live file, in one atomic step."""
    path = Path(path)
    with _writer_lock(path):
        con = duckdb.connect(str(new_file), read_only=True)
        try:
            _check_version(con, Path(new_file), can_upgrade=False)
        finally:
            con.close()
        os.replace(new_file, path)
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live warehouse, in the store's time zone."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `shopkpi demo` or `shopkpi ingest` first")
    # A fresh in-memory instance that attaches the file: `duckdb.connect(path)` would hand back DuckDB's cached
    # instance for that path (the replaced file) as long as any connection to it is still open.
    con = duckdb.connect()
    try:
        con.execute(f"attach '{_sql_string(path)}' as warehouse (read_only)")
        con.execute("use warehouse")
        _check_version(con, path, can_upgrade=False)
        con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
    except BaseException:
        con.close()
        raise
    return con


class Reader:
    """Hands out cursors on the live warehouse, reopening it after a writer has published a new file.

    Thread-safe: each caller gets its own cursor (DuckDB 2.0 refuses two threads on one connection). Cursors
    already handed out keep reading the snapshot they started on.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._inode: tuple[int, int, int] | None = None
        self._timezone = "UTC"

    def _live_inode(self) -> tuple[int, int, int] | None:
        # mtime as well as the inode: a freed inode number can come back for a later copy.
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (stat.st_dev, stat.st_ino, stat.st_mtime_ns)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the newest published warehouse; raises WarehouseError if there is none."""
        with self._lock:
            inode = self._live_inode()
            if self._con is None or inode != self._inode:
                # The old connection is not closed here: cursors other threads hold keep it alive until they finish.
                self._con = open_read_only(self.path)
                self._inode = inode
                self._timezone = store_settings(self._con)["timezone"]
            # A cursor is a new session: it starts on the in-memory catalog and in UTC.
            cursor = self._con.cursor()
            cursor.execute("use warehouse")
            cursor.execute("set TimeZone = ?", [self._timezone])
            return cursor

    @property
    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever a writer publishes; use it as a cache key for query results."""
        return self._live_inode()
