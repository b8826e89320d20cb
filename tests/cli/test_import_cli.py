"""`shopkpi import FORMAT PATH` end to end through typer, registered as shopkpi.cli registers it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from shopkpi.cli import imports as cli_import

REPORT = "订单编号,总金额,买家实际支付金额,收货地址 ,订单创建时间,订单付款时间 ,退款金额\n"


def app() -> typer.Typer:
    application = typer.Typer()
    application.command("import")(cli_import.import_)
    application.command("other")(lambda: None)  # with two commands, typer dispatches by name as shopkpi does
    return application


def run(*args: str):
    return CliRunner().invoke(app(), ["import", *args])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_a_folder_of_gbk_reports_imports_file_by_file_with_their_accounting(db, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "ExportOrderList-1.csv").write_bytes(
        (REPORT + "1,100.0,100.0,浙江省,2024-06-18 10:00:00,2024-06-18 10:01:00,0.0\n").encode("gbk")
    )
    (folder / "ExportOrderList-2.csv").write_bytes(
        (
            REPORT
            + "1,100.0,0.0,浙江省,2024-06-18 10:00:00,2024-06-18 10:01:00,100.0\n"
            + "2,50.0,0.0,上海,2024-06-19 10:00:00,,0.0\n"
        ).encode("gbk")
    )
    result = run("taobao", str(folder), "--db", str(db))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "orders: 1 orders read = 1 inserted + 0 updated + 0 unchanged duplicates + 0 rejected" in lines[1]
    # The second report refunds order 1 in full (now returned) and adds an unpaid order.
    assert any("orders: 2 orders read = 1 inserted + 1 updated" in line for line in lines)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("select order_id, status from orders order by 1").fetchall() == [
            ("1", "returned"),
            ("2", "placed"),
        ]
    again = run("taobao", str(folder), "--db", str(db))
    assert again.exit_code == 0 and again.stdout.count("already imported, nothing changed") == 2


def test_wrong_usage_exits_2_and_a_file_error_exits_1_with_one_line(db, tmp_path):
    assert run("woocommerce", "x.csv", "--db", str(db)).exit_code == 2
    other = tmp_path / "orders.csv"
    other.write_text("id,amount\n1,2\n")
    failed = run("shopify", str(other), "--db", str(db))
    assert failed.exit_code == 1
    assert len(failed.stderr.strip().splitlines()) == 1 and "not a Shopify orders export" in failed.stderr
    assert not db.exists()


def test_strict_session_gap_and_time_zone_options(db, tmp_path):
    log = tmp_path / "clicks.csv"
    log.write_text("visitor_id,timestamp,page\nv1,2024-06-18T02:00:00Z,/\nv1,2024-06-18T02:40:00Z,/p\nv2,bad time,/\n")
    strict = run("clickstream", str(log), "--strict", "--db", str(db))
    assert strict.exit_code == 1 and "line 4, column occurred_at" in strict.stderr and not db.exists()
    loaded = run("clickstream", str(log), "--session-gap", "60", "--timezone", "Asia/Shanghai", "--db", str(db))
    assert loaded.exit_code == 0, loaded.output
    assert "sessions end after 60 minutes without a hit" in loaded.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("select started_at::varchar, pageviews from sessions").fetchall() == [("2024-06-18 10:00:00", 2)]


def test_the_time_zone_read_from_the_offsets_is_printed_and_an_unknown_one_is_refused(db, tmp_path):
    export = tmp_path / "orders_export_1.csv"
    export.write_text(
        "Name,Created at,Lineitem quantity,Lineitem name,Lineitem price,Financial Status\n"
        "#1,2024-01-10 21:00:00 -0800,1,Cap,10.00,paid\n#2,2024-07-10 21:00:00 -0700,1,Cap,10.00,paid\n"
    )
    wrong = run("shopify", str(export), "--timezone", "Mars/Olympus", "--db", str(db))
    assert wrong.exit_code == 2 and "Mars/Olympus" in wrong.output and not db.exists()
    loaded = run("shopify", str(export), "--db", str(db))
    assert loaded.exit_code == 0, loaded.output
    # −08:00 in January and −07:00 in July: Pacific time; 21:00 local stays on its day (it is 05:00 UTC the next day).
    assert "time zone of the new warehouse: America/Los_Angeles" in loaded.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("select ordered_at::varchar from orders order by 1").fetchall() == [
            ("2024-01-10 21:00:00",),
            ("2024-07-10 21:00:00",),
        ]
