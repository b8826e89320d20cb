"""A shop with orders and a platform's daily traffic report but no session logs (issue 13), built through the real
`shopkpi ingest` command: shared by the page tests (AppTest) and the browser test."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from shopkpi.settings import REPO_ROOT

END = date(2024, 6, 30)
SOURCES = {"organic_search": 120, "paid_search": 80, "social": 40}  # sessions a day


def build_traffic_shop(root: Path) -> Path:
    """30 days of orders (2 a day, no session ids) and a daily traffic report of three sources: each day 120 / 80 / 40
    sessions, a quarter of them one-page bounces, half of them engaged, 1 order per 40 sessions, sales 100 a source.
    Returns the warehouse's path."""
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
