"""SPEC §3's concurrency contract: an ingest in another process succeeds while the dashboard holds the warehouse open,
and the dashboard's next query sees what it committed (without a restart)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import warehouse
from shopkpi.settings import REPO_ROOT

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


def order_count(cursor) -> int:
    return cursor.sql("select count(*) from orders").fetchall()[0][0]


def test_ingest_in_another_process_succeeds_while_reader_is_open_and_reader_then_sees_it(tmp_path: Path) -> None:
    db = tmp_path / "shopkpi.duckdb"
    first = write_orders_in_another_process(db, 0, 3)
    assert first.returncode == 0, first.stderr

    reader = warehouse.Reader(db)
    before = reader.cursor()  # the dashboard's connection stays open (read-only) during the next write
    assert order_count(before) == 3
    version_before = reader.version

    second = write_orders_in_another_process(db, 3, 4)

    # The writer must not be refused because a reader holds the file ("Could not set lock on file …").
    assert second.returncode == 0, second.stderr
    assert reader.version != version_before, "the writer published a new file, so the cache key must change"
    # A cursor taken before the write keeps its consistent snapshot …
    assert order_count(before) == 3
    # … and the next cursor reads the committed rows without restarting anything.
    assert order_count(reader.cursor()) == 7
    before.close()


def test_failed_write_in_another_process_leaves_what_the_reader_sees_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "shopkpi.duckdb"
    assert write_orders_in_another_process(db, 0, 2).returncode == 0
    reader = warehouse.Reader(db)
    assert order_count(reader.cursor()) == 2
    version_before = reader.version

    # Order o1 exists already: the primary key makes the whole write fail, so nothing is published.
    clash = write_orders_in_another_process(db, 1, 5)

    assert clash.returncode != 0
    assert reader.version == version_before
    assert order_count(reader.cursor()) == 2
