"""Several stores in one warehouse (issue 13): keys are unique per store, so the same order, session, line or return
ids in two stores stay two rows, and a re-load of one store's file updates that store only; the stores table; the
upgrade of a one-store (v3) warehouse keeps every row and every figure."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import warehouse
from metrics.compute import compute_kpis
from pipelines.ingest import ingest_file
from shopkpi.cli.main import app
from warehouse import TABLES, open_read_only, table_ddl

ORDERS = (
    "order_id,ordered_at,status,session_id,customer_id\n"
    "1001,2024-03-01 10:00,paid,s1,c1\n"
    "1002,2024-03-02 11:00,paid,,c2\n"
)
ITEMS = "order_id,line_no,sku,quantity,unit_price\n1001,1,P1,1,100\n1002,1,P1,2,50\n"
SESSIONS = "session_id,visitor_id,started_at,source\ns1,v1,2024-03-01 09:55,direct\n"
RETURNS = "order_id,sku,returned_quantity,refund_amount\n1001,P1,1,100\n"


def query(db: Path, sql: str) -> list[tuple]:
    with open_read_only(db) as con:
        return con.sql(sql).fetchall()


@pytest.fixture
def two_stores(tmp_path: Path) -> Path:
    """The same four files loaded for store tmall and for store jd."""
    db = tmp_path / "w.duckdb"
    for table, text in (("orders", ORDERS), ("order_items", ITEMS), ("sessions", SESSIONS), ("returns", RETURNS)):
        (tmp_path / f"{table}.csv").write_text(text)
        for store, platform in (("tmall", "tmall"), ("jd", "jd")):
            result = ingest_file(db, table, tmp_path / f"{table}.csv", store=store, platform=platform)
            # The same bytes for another store are another load, not "already loaded".
            assert result.status == "loaded" and result.inserted == result.rows_read, (table, store)
    return db


def test_the_same_ids_in_two_stores_are_two_rows_each(two_stores):
    assert query(two_stores, "select store, order_id from orders order by 1, 2") == [
        ("jd", "1001"), ("jd", "1002"), ("tmall", "1001"), ("tmall", "1002")
    ]  # fmt: skip
    for table in ("order_items", "sessions", "returns"):
        counts = dict(query(two_stores, f"select store, count(*) from {table} group by store"))
        expected = {"order_items": 2, "sessions": 1, "returns": 1}[table]
        assert counts == {"jd": expected, "tmall": expected}, table
    assert query(two_stores, "select * from stores order by store") == [("jd", "jd", "CNY"), ("tmall", "tmall", "CNY")]


def test_a_reload_of_one_store_updates_that_store_only(two_stores, tmp_path):
    (tmp_path / "later.csv").write_text(ORDERS.replace("1001,2024-03-01 10:00,paid", "1001,2024-03-01 10:00,returned"))
    result = ingest_file(two_stores, "orders", tmp_path / "later.csv", store="jd")
    assert (result.inserted, result.updated, result.duplicates) == (0, 1, 1)
    assert query(two_stores, "select store, status from orders where order_id = '1001' order by store") == [
        ("jd", "returned"),
        ("tmall", "paid"),
    ]
    # The platform recorded when the store was made stays when a load does not name one.
    assert query(two_stores, "select platform from stores where store = 'jd'") == [("jd",)]


def test_a_return_must_name_an_order_of_its_own_store(tmp_path):
    db = tmp_path / "w.duckdb"
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "returns.csv").write_text(RETURNS)
    ingest_file(db, "orders", tmp_path / "orders.csv", store="tmall")
    result = ingest_file(db, "returns", tmp_path / "returns.csv", store="jd")  # order 1001 is tmall's, not jd's
    assert (result.inserted, result.rejected) == (0, 1)
    assert query(db, "select reason from rejects") == [("order_id matches no loaded order: 1001",)]


def test_without_store_the_rows_are_the_default_stores_and_expenses_are_shared(tmp_path):
    db = tmp_path / "w.duckdb"
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "expenses.csv").write_text("month,category,amount\n2024-03,rent,3100\n")
    ingest_file(db, "orders", tmp_path / "orders.csv")
    ingest_file(db, "expenses", tmp_path / "expenses.csv")
    ingest_file(db, "expenses", tmp_path / "expenses.csv", store="tmall")
    assert query(db, "select distinct store from orders") == [("main",)]
    assert query(db, "select store, amount::int from expenses order by store") == [("", 3100), ("tmall", 3100)]
    # Naming a store records it (a store named after a platform is on it); shared expenses name none.
    assert query(db, "select store, platform from stores order by 1") == [("main", "other"), ("tmall", "tmall")]


def test_a_file_without_a_store_column_gives_each_row_the_named_store_as_written(tmp_path):
    """The columns a file lacks are one value on every row, which the staging writes as SQL literals: a store name
    with quotes, a backslash and SQL in it is still only a name."""
    db = tmp_path / "w.duckdb"
    name = "O'Brien's \\ shop'; drop table sessions; --"
    (tmp_path / "sessions.csv").write_text(SESSIONS)
    result = ingest_file(db, "sessions", tmp_path / "sessions.csv", store=name)
    assert (result.inserted, result.rejected) == (1, 0)
    # device takes its default, medium (no default) stays unknown
    assert query(db, "select store, device, medium from sessions") == [(name, "unknown", None)]
    assert query(db, "select store from stores") == [(name,)]


def test_the_cli_takes_store_and_platform(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPKPI_DB", raising=False)
    (tmp_path / "orders.csv").write_text(ORDERS)
    db = str(tmp_path / "w.duckdb")
    result = CliRunner().invoke(app, ["ingest", "orders", str(tmp_path / "orders.csv"), "--store", "jd", "--db", db])
    assert result.exit_code == 0, result.output
    args = ["ingest", "orders", str(tmp_path / "orders.csv"), "--store", "x", "--platform", "ebay", "--db", db]
    assert CliRunner().invoke(app, args).exit_code == 2  # not a platform
    assert query(Path(db), "select store, count(*) from orders group by store") == [("jd", 2)]


# --- the upgrade of a one-store warehouse -------------------------------------------------------------------------

STORE_TABLES = ("orders", "order_items", "sessions", "events", "ad_spend", "tickets", "returns", "traffic", "expenses")


def _as_v3(db: Path) -> None:
    """Turns a v4 warehouse of one store into the v3 file it would have been: no store column (tickets: free text,
    traffic: '' without --store), keys without the store, no stores table, schema_version 3."""
    with duckdb.connect(str(db)) as con:
        for name in STORE_TABLES:
            table = TABLES[name]
            keep = name in ("tickets", "traffic")
            v3 = replace(
                table,
                columns=tuple(c for c in table.columns if keep or c.name != "store"),
                key=tuple(k for k in table.key if k != "store" or name == "traffic"),
            )
            store = "'' as store" if keep else ""
            con.execute(f"create table _old as select * exclude (store){', ' if store else ''}{store} from {name}")
            con.execute(f"drop table {name}")
            ddl = table_ddl(v3).replace(" default 'main'", "").replace(" default ''", "")
            con.execute(ddl)
            con.execute(f"insert into {name} by name select * from _old")
            con.execute("drop table _old")
        con.execute("drop table stores")
        con.execute("alter table ingest_log drop column store")
        con.execute("delete from shopkpi_meta where key = 'default_store'")
        con.execute("update shopkpi_meta set value = '3' where key = 'schema_version'")


def test_an_upgrade_from_v3_keeps_every_row_and_every_figure(hand_made_db, tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    shutil.copyfile(hand_made_db, db)
    with open_read_only(db) as con:
        before = compute_kpis(con, date(2024, 3, 1), date(2024, 3, 31))
        counts = {name: con.sql(f"select count(*) from {name}").fetchall()[0][0] for name in STORE_TABLES}
    _as_v3(db)
    with duckdb.connect(str(db)) as con:  # it really is the v3 shape: no store on orders
        columns = con.sql("select column_name from duckdb_columns() where table_name = 'orders'").fetchall()
        assert ("store",) not in columns
    monkeypatch.delenv("SHOPKPI_DB", raising=False)
    result = CliRunner().invoke(app, ["upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with open_read_only(db) as con:
        assert warehouse.schema_version(con) == warehouse.SCHEMA_VERSION
        assert {name: con.sql(f"select count(*) from {name}").fetchall()[0][0] for name in STORE_TABLES} == counts
        assert con.sql("select distinct store from orders union select distinct store from sessions").fetchall() == [
            ("main",)
        ]
        assert con.sql("select distinct store from expenses").fetchall() == [("",)]
        assert con.sql("select * from stores").fetchall() == [("main", "other", "CNY")]
        assert compute_kpis(con, date(2024, 3, 1), date(2024, 3, 31)).equals(before)
        keys = dict(
            con.sql(
                "select table_name, constraint_column_names from duckdb_constraints() "
                "where constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        )
        assert keys["orders"] == ["store", "order_id"] and keys["returns"] == ["store", "order_id", "sku"]
