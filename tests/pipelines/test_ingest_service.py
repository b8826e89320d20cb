"""Tickets and returns as canonical inputs (schema v2): their row accounting and rejects (a response before the
ticket opened, negative durations, unknown types, order ids matching no order), and the upgrade of a v1 warehouse."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import warehouse
from pipelines.ingest import ingest_file
from shopkpi.cli.main import app
from tests.support.warehouse_rows import query

ORDERS = """order_id,ordered_at,status
o1,2024-03-01 10:00:00,delivered
o2,2024-03-02 10:00:00,paid
"""

TICKETS = """ticket_id,channel,opened_at,first_response_at,resolved_at,type,order_id,reason,satisfaction_score
t1,Chat,2024-03-01 09:00:00,2024-03-01 09:10:00,2024-03-01 09:30:00,inquiry,o1,size,5
t2,chat,2024-03-01 09:00:00,2024-03-01 08:50:00,,complaint,o1,late,
t3,chat,2024-03-01 09:00:00,2024-03-01 09:05:00,2024-03-01 08:00:00,return,o1,,
t4,chat,2024-03-01 09:00:00,2024-03-01 09:30:00,2024-03-01 09:20:00,refund,o1,,
t5,chat,2024-03-01 09:00:00,,,question,o9,,
t6,chat,2024-03-01 09:00:00,,,praise,,,
t7,chat,2024-03-01 09:00:00,,,投诉,,,7
t8,Phone,2024-03-01 09:00:00,,,投诉,,,
t1,Chat,2024-03-01 09:00:00,2024-03-01 09:10:00,2024-03-01 09:30:00,inquiry,o1,size,5
"""

RETURNS = """order_id,sku,returned_quantity,refund_amount,reason,days_after_delivery
o1,P1,1,99.00,size,3
o1,P2,0,10.00,size,3
o2,P1,1,-5,quality,1
o3,P1,1,5.00,quality,1
o2,P2,1,5.00,quality,-2
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    (tmp_path / "orders.csv").write_text(ORDERS)
    path = tmp_path / "w.duckdb"
    ingest_file(path, "orders", tmp_path / "orders.csv")
    return path


def test_tickets_are_loaded_with_every_bad_row_rejected_with_its_line_and_reason(db, tmp_path):
    (tmp_path / "tickets.csv").write_text(TICKETS)
    result = ingest_file(db, "tickets", tmp_path / "tickets.csv")
    # 9 rows: t1 and t8 load ('投诉' is a complaint, channel lower-cased); line 10 repeats t1 exactly; 6 rejected.
    assert (result.rows_read, result.inserted, result.updated, result.duplicates, result.rejected) == (9, 2, 0, 1, 6)
    assert query(db, "select ticket_id, channel, type, order_id, satisfaction_score from tickets order by 1") == [
        ("t1", "chat", "inquiry", "o1", 5),
        ("t8", "phone", "complaint", None, None),
    ]
    assert query(db, "select line, column_name, reason from rejects order by line") == [
        (3, "first_response_at", "first response before the ticket opened: 2024-03-01 08:50:00"),
        (4, "resolved_at", "resolved before the ticket opened: 2024-03-01 08:00:00"),
        (5, "resolved_at", "resolved before the first response: 2024-03-01 09:20:00"),
        (6, "order_id", "order_id matches no loaded order: o9"),
        (7, "type", "'praise' is not one of inquiry, complaint, return, refund, other"),
        (8, "satisfaction_score", "satisfaction score not in 1–5: 7"),
    ]


def test_returns_are_loaded_with_every_bad_row_rejected(db, tmp_path):
    (tmp_path / "returns.csv").write_text(RETURNS)
    result = ingest_file(db, "returns", tmp_path / "returns.csv")
    assert (result.rows_read, result.inserted, result.rejected) == (5, 1, 4)
    assert query(db, "select order_id, sku, returned_quantity, refund_amount::double, reason from returns") == [
        ("o1", "P1", 1, 99.0, "size")
    ]
    assert query(db, "select line, column_name, reason from rejects order by line") == [
        (3, "returned_quantity", "must be > 0, got 0"),
        (4, "refund_amount", "must be ≥ 0, got -5"),
        (5, "order_id", "order_id matches no loaded order: o3"),
        (6, "days_after_delivery", "must be ≥ 0, got -2"),
    ]


def test_a_v1_warehouse_is_upgraded_by_shopkpi_upgrade(db, monkeypatch):
    # Make the file as v1 left it: only the tables of v1 (tickets and returns came with v2, later tables later),
    # schema_version 1.
    v1 = {"orders", "order_items", "sessions", "events", "ad_spend", "products", "inventory", "expenses"}
    with duckdb.connect(str(db)) as con:
        for table in set(warehouse.TABLES) - v1:
            con.execute(f"drop table {table}")
        con.execute("update shopkpi_meta set value = '1' where key = 'schema_version'")
    with pytest.raises(warehouse.WarehouseError, match="run `shopkpi upgrade"):
        warehouse.open_read_only(db)
    monkeypatch.delenv("SHOPKPI_DB", raising=False)
    result = CliRunner().invoke(app, ["upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with warehouse.open_read_only(db) as con:
        assert warehouse.schema_version(con) == warehouse.SCHEMA_VERSION >= 2
        assert con.sql("select count(*) from tickets").fetchall() == [(0,)]
        assert con.sql("select count(*) from orders").fetchall() == [(2,)]  # the data is kept
        columns = [
            c for (c,) in con.sql("select column_name from duckdb_columns() where table_name = 'returns'").fetchall()
        ]
        assert columns == [c.name for c in warehouse.TABLES["returns"].columns]


def test_the_readme_mapping_file_loads_a_help_desk_export(db, tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    mapping = re.search(r'```toml\n(table = "tickets"\n.*?)```', readme, re.DOTALL)
    assert mapping, "README.md has no tickets mapping example"
    (tmp_path / "tickets.toml").write_text(mapping.group(1), encoding="utf-8")
    (tmp_path / "export.csv").write_text(
        "工单编号,接待渠道,创建时间,首次响应时间,完结时间,工单类型,订单编号,问题分类,满意度\n"
        "K1,旺旺,2024/03/01 09:00,2024/03/01 09:04,2024/03/01 09:20,售前咨询,o1,尺码,5\n"
        "K2,电话,2024/03/02 10:00,2024/03/02 10:01,,物流投诉,o2,延迟,\n"
        "K3,旺旺,2024/03/02 11:00,,,催单,o2,,\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("SHOPKPI_DB", raising=False)
    args = ["ingest", "tickets", str(tmp_path / "export.csv"), "--mapping", str(tmp_path / "tickets.toml")]
    result = CliRunner().invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "3 rows read = 2 inserted + 0 updated + 0 unchanged duplicates + 1 rejected" in result.output
    assert query(db, "select ticket_id, type, first_response_at from tickets order by 1") == [
        ("K1", "inquiry", datetime(2024, 3, 1, 9, 4)),
        ("K2", "complaint", datetime(2024, 3, 2, 10, 1)),
    ]
    assert query(db, "select line, column_name from rejects") == [(4, "type")]  # '催单' is not in [values.type]
