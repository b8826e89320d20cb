"""The warehouse of SPEC §3: canonical tables with their types and keys, the ledger tables, schema versions."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import warehouse
from warehouse import TABLES, Reader, WarehouseError, open_read_only, writing

# SPEC §2, written out again by hand so that a change to warehouse.TABLES that breaks the contract fails here. Schema
# v4 (issue 13) adds the store each row belongs to, last, and makes every key per store; products and inventory are
# shared by the stores (one catalog, one warehouse); an expense's store is '' when every store shares it.
SPEC_COLUMNS = {
    "orders": "order_id ordered_at status customer_id session_id subtotal discount shipping_fee shipping_cost "
    "payment_fee refund_amount currency region payment_method coupon_code store",
    "order_items": "order_id line_no sku quantity unit_price unit_cost store",
    "sessions": "session_id visitor_id started_at source medium campaign device landing_page region customer_id "
    "pageviews duration_s store",
    "events": "event_id session_id occurred_at event_type sku page position store",
    "ad_spend": "date source medium campaign cost impressions clicks store",
    "products": "sku name category brand unit_cost list_price supplier lead_time_days",
    "inventory": "date sku on_hand on_order",
    "expenses": "month category amount note store",
    "stores": "store platform currency",
}
SPEC_KEYS = {
    "orders": ["store", "order_id"],
    "ad_spend": ["store", "date", "source", "campaign"],
    "products": ["sku"],
    "inventory": ["date", "sku"],
    "expenses": ["month", "category", "store"],
    "stores": ["store"],
}
MONEY = {"subtotal", "discount", "shipping_fee", "shipping_cost", "payment_fee", "refund_amount", "unit_price",
         "unit_cost", "cost", "list_price", "amount"}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with writing(path, store_timezone="Asia/Shanghai", currency="CNY"):
        pass
    return path


def test_every_canonical_table_has_the_spec_columns_types_and_key(db):
    with open_read_only(db) as con:
        for table, names in SPEC_COLUMNS.items():
            columns = con.sql(
                "select column_name, data_type from duckdb_columns() where table_name = ? order by column_index",
                params=[table],
            ).fetchall()
            assert [name for name, _ in columns] == names.split(), table
            for name, data_type in columns:
                if name in MONEY:
                    assert data_type == "DECIMAL(18,2)", (table, name)
                if name in ("ordered_at", "started_at", "occurred_at"):
                    assert data_type == "TIMESTAMP", (table, name)
        keys = dict(
            con.sql(
                "select table_name, constraint_column_names from duckdb_constraints() "
                "where constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        )
        for table, key in SPEC_KEYS.items():
            assert keys[table] == key, table
        # order_items ((order_id, line_no) or (order_id, sku)), sessions and events are kept unique by ingestion.
        assert "order_items" not in keys and "sessions" not in keys and "events" not in keys
        ledger = {t for (t,) in con.sql("select table_name from duckdb_tables()").fetchall()}
        assert {"rejects", "ingest_log", "shopkpi_meta"} <= ledger


def test_the_store_settings_are_recorded_when_the_warehouse_is_made(db):
    with open_read_only(db) as con:
        settings = warehouse.store_settings(con)
        assert settings["timezone"] == "Asia/Shanghai" and settings["currency"] == "CNY"
        assert settings["schema_version"] == str(warehouse.SCHEMA_VERSION)
        assert con.sql("select current_setting('TimeZone')").fetchall() == [("Asia/Shanghai",)]


def test_an_older_schema_is_upgraded_by_a_writer_and_refused_by_a_reader(db, monkeypatch):
    # Pretend this release is one version newer, with one migration step from the current one.
    current = warehouse.SCHEMA_VERSION
    monkeypatch.setattr(warehouse.store, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(warehouse.store, "MIGRATIONS", {current: ["alter table products add column season varchar"]})
    with pytest.raises(WarehouseError, match="run `shopkpi upgrade"):
        open_read_only(db)
    with writing(db):
        pass
    with open_read_only(db) as con:
        assert warehouse.schema_version(con) == current + 1
        assert "season" in [
            c for (c,) in con.sql("select column_name from duckdb_columns() where table_name = 'products'").fetchall()
        ]


def test_a_newer_schema_and_a_foreign_file_are_refused(tmp_path, db):
    with writing(db) as con:
        con.execute("update shopkpi_meta set value = '99' where key = 'schema_version'")
    with pytest.raises(WarehouseError, match="newer shopkpi"):
        open_read_only(db)
    foreign = tmp_path / "other.duckdb"
    with duckdb.connect(str(foreign)) as con:
        con.execute("create table t (a int)")
    with pytest.raises(WarehouseError, match="not a shopkpi warehouse"):
        open_read_only(foreign)


def test_a_failed_write_publishes_nothing(db):
    before = db.read_bytes()
    with pytest.raises(RuntimeError), writing(db) as con:
        con.execute("insert into products (sku, name, category) values ('A', 'a', 'c')")
        raise RuntimeError("crash mid-file")
    assert db.read_bytes() == before
    assert not list(db.parent.glob(".w.duckdb.*.tmp"))


def test_a_reader_keeps_its_snapshot_and_sees_the_new_file_on_its_next_cursor(db):
    reader = Reader(db)
    old = reader.cursor()
    with writing(db) as con:
        con.execute("insert into products (sku, name, category) values ('A', 'a', 'c')")
    assert old.sql("select count(*) from products").fetchall() == [(0,)]
    assert reader.cursor().sql("select count(*) from products").fetchall() == [(1,)]


def test_tables_declare_their_grain():
    assert all(table.grain.startswith("one row per") for table in TABLES.values())
