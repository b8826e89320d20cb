"""Small hand-made inputs shared by several test modules: a 3-order warehouse with one load and one reject, a stock
table whose reorder plan is worked out by hand, and an ingest-like writer run in another process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

import warehouse
from shopkpi.settings import REPO_ROOT

REASON = "status 'lost' is not one of placed, paid, shipped, delivered, cancelled, returned"


def build_small_warehouse(db: Path) -> None:
    """3 orders (2024-01-05 … 2024-02-10), one load of orders.csv with 5 rows read: 3 inserted + 1 duplicate + 1
    rejected (line 4, status 'lost' is not a known status)."""
    with warehouse.writing(db) as con:
        con.execute(
            "insert into orders (order_id, ordered_at, status, discount, shipping_fee, refund_amount) values "
            "('A1', '2024-01-05 09:00', 'paid', 0, 0, 0), "
            "('A2', '2024-01-20 12:30', 'delivered', 0, 0, 0), "
            "('A3', '2024-02-10 23:59', 'cancelled', 0, 0, 0)"
        )
        con.execute(
            "insert into ingest_log (load_id, path, content_hash, table_name, started_at, finished_at, rows_read, "
            "inserted, updated, duplicates, rejected, ignored_columns) values (1, 'exports/orders.csv', 'abc123', "
            "'orders', "
            "timestamp '2024-02-11 08:00:00', timestamp '2024-02-11 08:00:02', 5, 3, 0, 1, 1, 'utm_source')"
        )
        con.execute(
            "insert into rejects values (1, 'exports/orders.csv', 4, 'orders', 'status', ?, 'A4,2024-01-07,lost')",
            [REASON],
        )


def stock_rows() -> pl.DataFrame:
    # units_sold over the 28-day window, so daily units = units_sold / 28.
    return pl.DataFrame(
        {
            "sku": ["A", "B", "C", "D"],
            "name": ["Alpha", "Beta", "Gamma", "Delta"],
            "category": ["x", "x", "y", "y"],
            "supplier": ["s", "s", "s", "s"],
            "lead_time_days": [10, 5, 3, None],
            "on_hand": [20, 100, 5, 12],
            "on_order": [0, 0, 0, 20],
            "units_sold": [56, 28, 0, 28],
        },
        schema_overrides={"lead_time_days": pl.Int64},
    )


# An ingest-like writer, run as its own process: DuckDB's locks are per process, so a thread would prove nothing.
WRITER = """
import sys
from pathlib import Path
import warehouse

path, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with warehouse.writing(path) as con:
    con.execute(
        "insert into orders (order_id, ordered_at, status, discount, shipping_fee, refund_amount) "
        "select 'o' || i, timestamp '2024-01-01 10:00' + to_days(i::integer), 'paid', 0, 0, 0 from range(?, ?) t(i)",
        [first, first + count],
    )
print("committed", count)
"""


def write_orders_in_another_process(path: Path, first: int, count: int) -> subprocess.CompletedProcess[str]:
    """Insert orders o<first> … o<first+count-1> (one a day from 2024-01-01) from a separate Python process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(first), str(count)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
