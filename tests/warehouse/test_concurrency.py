"""Reads never block on writes (issue 8, items 2 and 5): the dashboard's queries keep answering from the last
published warehouse while `shopkpi ingest` loads a large file in another process, see the new rows once it has
published, and an ingest killed at any point (also around the publishing rename) is loaded exactly once by a re-run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from metrics import compute_kpis, funnel, kpi_series
from metrics.periods import Period
from metrics.segments import Segment
from pipelines.ingest import ingest_file
from shopkpi.settings import REPO_ROOT
from warehouse import Reader

PERIOD = Period(date(2024, 6, 1), date(2024, 6, 30))


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}


def big_events_file(path: Path, rows: int) -> Path:
    """`rows` page views with ids of their own, written by DuckDB's COPY (1.5M rows: about a second)."""
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select 'big' || i as event_id, 'bigs' || (i // 5) as session_id,
                       timestamp '2024-01-01' + to_seconds(i) as occurred_at, 'page_view' as event_type
                from range({rows}) t(i)
            ) to '{path}' (header)
            """
        )
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def event_count(db: Path) -> int:
    cursor = Reader(db).cursor()
    try:
        return cursor.sql("select count(*) from events").fetchall()[0][0]
    finally:
        cursor.close()


class QueryLoop(threading.Thread):
    """The dashboard: one Reader for the process, a fresh cursor per query, metric functions on it, in a loop."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.reader = Reader(db)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.counts: list[tuple[float, int]] = []  # (when, events seen)
        self.slowest = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                cursor = self.reader.cursor()
                try:
                    count = cursor.sql("select count(*) from events").fetchall()[0][0]
                    compute_kpis(cursor, PERIOD, metrics=["sessions", "orders", "total_revenue", "conversion_rate"])
                    funnel(cursor, PERIOD, by="source")
                finally:
                    cursor.close()
                segmented = self.reader.cursor()
                try:
                    search = Segment(source="search")
                    kpi_series(segmented, PERIOD, grain="week", metrics=["sessions", "orders"], segment=search)
                finally:
                    segmented.close()
            except BaseException as exc:  # noqa: BLE001 - every error is a failure of the test
                self.errors.append(exc)
                return
            finished = time.monotonic()
            self.slowest = max(self.slowest, finished - started)
            self.counts.append((finished, count))


def test_query_loop_keeps_answering_during_a_large_ingest_in_another_process_and_then_sees_it(demo_copy, tmp_path):
    rows = 1_500_000
    big = big_events_file(tmp_path / "big_events.csv", rows)
    before = event_count(demo_copy)
    loop = QueryLoop(demo_copy)
    loop.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        ingest = subprocess.run(
            [sys.executable, "-m", "shopkpi", "ingest", "events", str(big), "--db", str(demo_copy)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env(),
        )
        published = time.monotonic()
        # After the publish, the next query of the running loop must see the new rows without any restart.
        deadline = published + 30
        while not loop.errors and not any(when > published and n == before + rows for when, n in loop.counts):
            assert time.monotonic() < deadline, "the query loop never saw the ingested rows"
            time.sleep(0.05)
    finally:
        loop.stop.set()
        loop.join(timeout=60)
    assert not loop.errors, repr(loop.errors[0])
    assert ingest.returncode == 0, ingest.stderr
    assert f"{rows:,} inserted" in ingest.stdout, ingest.stdout
    during = [n for when, n in loop.counts if started < when < published]
    assert len(during) >= 3, (
        f"the dashboard answered only {len(during)} times during a {published - started:.1f} s load"
    )
    # Every answer is one committed state or the other, never a partial load.
    assert {n for _, n in loop.counts} <= {before, before + rows}
    assert loop.slowest < 10, f"a dashboard query took {loop.slowest:.1f} s while the writer worked"


# --- kill -9 at the publishing step ---------------------------------------------------------------------------------

# Runs `shopkpi ingest` with os.replace wrapped so that the process kills itself right before or right after the
# rename that publishes the new warehouse: the two sides of the only step where the live file changes.
KILLED_AT_PUBLISH = """
import os, signal, sys
import warehouse

when = sys.argv[1]
real_replace = os.replace

def replace(source, target):
    if when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
    if when == "after":
        os.kill(os.getpid(), signal.SIGKILL)

warehouse.store.os.replace = replace
from shopkpi.cli import main
sys.argv = ["shopkpi", *sys.argv[2:]]
main()
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_around_the_publishing_rename_then_a_rerun_loads_the_file_exactly_once(demo_copy, tmp_path, when):
    rows = 50_000
    big = big_events_file(tmp_path / "events.csv", rows)
    before_hash, before = sha256(demo_copy), event_count(demo_copy)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_PUBLISH, when, "ingest", "events", str(big), "--db", str(demo_copy)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),
    )
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    if when == "before":
        assert sha256(demo_copy) == before_hash, "a writer killed before publishing changed the live warehouse"
        assert event_count(demo_copy) == before
    else:
        assert event_count(demo_copy) == before + rows, "the rename is the commit: after it the load is complete"
    rerun = ingest_file(demo_copy, "events", big)
    assert rerun.status == ("loaded" if when == "before" else "already loaded"), rerun.summary()
    assert event_count(demo_copy) == before + rows
    assert ingest_file(demo_copy, "events", big).status == "already loaded"
    cursor = Reader(demo_copy).cursor()
    try:
        logged = cursor.sql("select count(*) from ingest_log where path = ?", params=[str(big.resolve())]).fetchall()[
            0
        ][0]
        distinct = cursor.sql("select count(distinct event_id) from events where event_id like 'big%'").fetchall()
    finally:
        cursor.close()
    assert logged == 1 and distinct == [(rows,)]
    assert not list(tmp_path.glob(".shop.duckdb.*.tmp*")), "a stale copy of the killed writer was left"


def test_kill_9_at_many_points_of_a_load_then_a_rerun_loads_the_file_exactly_once(demo_copy, tmp_path) -> None:
    rows = 400_000
    big = big_events_file(tmp_path / "events.csv", rows)
    before = event_count(demo_copy)
    for delay in (0.0, 0.2, 0.6, 1.2, 2.0):
        process = subprocess.Popen(
            [sys.executable, "-m", "shopkpi", "ingest", "events", str(big), "--db", str(demo_copy)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env(),
        )
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # Killed or finished, the live file is one complete state: without the file's rows or with all of them.
        assert event_count(demo_copy) in (before, before + rows), delay
    result = ingest_file(demo_copy, "events", big)
    assert result.status in ("loaded", "already loaded")
    assert event_count(demo_copy) == before + rows
    assert ingest_file(demo_copy, "events", big).status == "already loaded"
    assert not list(tmp_path.glob(".shop.duckdb.*.tmp*"))
