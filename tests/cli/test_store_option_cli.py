"""`--store` on the commands that pick a day or period themselves: `alerts` and `report` take it (the store's
anomalies and report), and under `--store` every default period ends on the store's latest date, not the
warehouse's (a store whose data ends earlier would otherwise get an empty window)."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from shopkpi.cli.main import app
from tests.support.spiky import spiky_shop
from tests.support.warehouse_rows import query
from warehouse import VALID_STATUSES

pytestmark = pytest.mark.usefixtures("no_config")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def run_json(db: Path, *args: str) -> dict:
    result = invoke(*args, "--format", "json", "--db", str(db))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def spiky_db(tmp_path_factory) -> Path:
    return spiky_shop(tmp_path_factory.mktemp("spiky") / "w.duckdb")


def sessions_alert(document: dict) -> list[dict]:
    return [row for row in document["rows"] if row["metric"] == "sessions" and row["group"] is None]


def test_alerts_take_the_store_and_default_to_its_latest_day(spiky_db):
    # b's last day: 40 sessions against its usual 10–12.
    b = run_json(spiky_db, "alerts", "--store", "b")
    assert b["date"] == "2024-06-30"
    [spike] = sessions_alert(b)
    assert spike["value"] == 40 and spike["direction"] == "up" and 10 <= spike["expected"] <= 12
    # The whole shop on 30 June: the same 40 sessions (a has none that day) against both stores' usual 20–24.
    [whole] = sessions_alert(run_json(spiky_db, "alerts"))
    assert whole["value"] == 40 and 20 <= whole["expected"] <= 24
    # a's latest day is 29 June (its data ends there): checked on that day, where nothing moved.
    a = run_json(spiky_db, "alerts", "--store", "a")
    assert a["date"] == "2024-06-29" and sessions_alert(a) == []
    result = invoke("alerts", "--store", "c", "--db", str(spiky_db))
    assert result.exit_code == 1 and "no store 'c'" in result.output


def test_kpis_pnl_and_segments_default_to_the_stores_latest_date(spiky_db):
    a = run_json(spiky_db, "kpis", "--store", "a")
    # 30 days ending 29 June: 2024-05-31 … 2024-06-29, each with 10 + ordinal mod 3 orders.
    first = date(2024, 5, 31)
    expected = sum(10 + (first + timedelta(days=k)).toordinal() % 3 for k in range(30))
    assert (a["from"], a["to"], a["rows"][0]["orders"]) == ("2024-05-31", "2024-06-29", expected)
    b = run_json(spiky_db, "kpis", "--store", "b")
    assert (b["from"], b["to"]) == ("2024-06-01", "2024-06-30")
    assert run_json(spiky_db, "pnl", "--store", "a")["to"] == "2024-06"
    assert run_json(spiky_db, "segments", "--store", "a")["date"] == "2024-06-29"


def test_kpis_of_a_store_whose_data_ends_years_earlier_cover_its_own_last_30_days(stores_db):
    # explorer's last order is 2022-04-06 21:52:39 -0400 = 2022-04-07 09:52 in the warehouse's Asia/Shanghai (set by
    # the Tmall report loaded first); its previous one, 2022-02-14, is outside 2022-03-09 … 2022-04-07: 1 order.
    # The warehouse's latest date is maison-maria's December 2025, whose last 30 days explorer has no order in.
    explorer = run_json(stores_db, "kpis", "--store", "explorer")
    assert (explorer["from"], explorer["to"], explorer["rows"][0]["orders"]) == ("2022-03-09", "2022-04-07", 1)
    assert run_json(stores_db, "segments", "--store", "explorer")["date"] == "2022-04-07"
    # A period running past the store's last day is partial for the store: 1 March – 7 April 2022 (31 + 7 = 38 days)
    # of 1 March – 30 May (91), though the warehouse has data until December 2025.
    later = run_json(stores_db, "kpis", "--store", "explorer", "--from", "2022-03-01", "--to", "2022-05-30")
    assert (later["partial"], later["days_with_data"], later["days"]) == (True, 38, 91)


def test_the_report_of_one_store_is_that_stores(demo_db, tmp_path):
    out = tmp_path / "tmall.xlsx"
    result = invoke("report", "--period", "monthly", "--store", "tmall", "--out", str(out), "--db", str(demo_db))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    kpis = {row[0]: row for row in book["KPIs vs targets"].iter_rows(values_only=True)}
    header = kpis["Metric key"]
    value = {key: dict(zip(header, row, strict=True))["Value"] for key, row in kpis.items()}
    # The demo ends 30 June 2024: the monthly report is June's. Tmall's valid orders of June, counted here directly.
    june = "ordered_at >= '2024-06-01' and ordered_at < '2024-07-01'"
    statuses = ", ".join(f"'{s}'" for s in VALID_STATUSES)
    [(tmall,)] = query(
        demo_db, f"select count(*) from orders where store = 'tmall' and {june} and status in ({statuses})"
    )
    [(whole,)] = query(demo_db, f"select count(*) from orders where {june} and status in ({statuses})")
    assert 0 < tmall < whole
    assert value["orders"] == tmall
    # The traffic by source adds up to tmall's sessions of June, not the shop's.
    [(sessions,)] = query(
        demo_db, f"select count(*) from sessions where store = 'tmall' and {june.replace('ordered', 'started')}"
    )
    rows = list(book["Traffic by source"].iter_rows(values_only=True))
    column = rows[0].index("Sessions")
    assert sum(row[column] or 0 for row in rows[1:]) == sessions == value["sessions"]
