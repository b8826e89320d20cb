"""SPEC §3's concurrency contract: an ingest in another process succeeds while the dashboard holds the warehouse open,
and the dashboard's next query sees what it committed (without a restart)."""

from __future__ import annotations

from pathlib import Path

import warehouse
from tests.support.small import write_orders_in_another_process

# An ingest-like writer, run as its own process: DuckDB's locks are per process, so a thread would prove nothing.


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
