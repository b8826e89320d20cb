"""Issue 13 on the dashboard: a shop with orders and a platform's daily traffic report but no session logs. Every page
draws without failing, and the Traffic page's table shows each source's sessions and rates from the report."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

import pages
from shopkpi.settings import REPO_ROOT
from tests.support.app import no_failure, open_app
from warehouse import open_read_only

END = date(2024, 6, 30)
SOURCES = {"organic_search": 120, "paid_search": 80, "social": 40}  # sessions a day


@pytest.fixture(scope="module")
def traffic_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 days of orders (2 a day, no session ids) and a daily traffic report of three sources: each day 120 / 80 / 40
    sessions, a quarter of them one-page bounces, half of them engaged, 1 order per 40 sessions."""
    root = tmp_path_factory.mktemp("traffic-shop")
    days = [END - timedelta(days=k) for k in range(30)]
    orders = ["order_id,ordered_at,status,customer_id,subtotal"]
    traffic = ["date,end_date,source,sessions,bounced_sessions,engaged_sessions,orders,revenue"]
    for k, day in enumerate(days):
        orders += [f"T{k}-a,{day} 10:00,paid,c{k % 7},120", f"T{k}-b,{day} 15:00,delivered,,80"]
        for source, sessions in SOURCES.items():
            traffic.append(f"{day},{day},{source},{sessions},{sessions // 4},{sessions // 2},{sessions // 40},100")
    (root / "orders.csv").write_text("\n".join(orders) + "\n")
    (root / "traffic.csv").write_text("\n".join(traffic) + "\n")
    db = root / "w.duckdb"
    for table in ("orders", "traffic"):
        done = subprocess.run(
            [sys.executable, "-m", "shopkpi", "ingest", table, str(root / f"{table}.csv"), "--db", str(db)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        )
        assert done.returncode == 0, done.stderr
    return db


@pytest.mark.parametrize("page", [p.url_path for p in pages.PAGES])
def test_every_page_draws_a_shop_with_a_traffic_report_and_no_session_logs(traffic_db, monkeypatch, page) -> None:
    no_failure(open_app(traffic_db, monkeypatch, page))


def test_the_traffic_table_shows_the_reports_sessions_and_rates(traffic_db, monkeypatch) -> None:
    with open_read_only(traffic_db) as con:
        assert con.sql("select count(*) from sessions").fetchall() == [(0,)]
    at = open_app(traffic_db, monkeypatch, "traffic")
    no_failure(at)
    table = at.dataframe[0].value
    rows = {r["group"]: r for r in table.to_dict("records")} if "group" in table.columns else {}
    assert rows, table.columns
    # The last 30 days: 30 × 120 organic sessions, a quarter bounced, one order per 40 sessions.
    organic = rows["organic_search"]
    assert organic["sessions"] == 30 * 120
    assert organic["bounce_rate"] == pytest.approx(0.25)
    assert organic["conversion_rate"] == pytest.approx(1 / 40)
