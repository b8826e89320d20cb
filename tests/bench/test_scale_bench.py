"""bench.scale's floor of what a load does at the least does that work (tiny files: a smoke test of the floor)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from bench.scale import floor_with_rollups, run_child
from metrics.rollups import build_rollups
from pipelines.ingest import ingest_file
from warehouse import writing


def _rollups(db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [row[0] for row in con.sql("select table_name from rollup_queries order by 1").fetchall()]
        return {name: con.sql(f"select * from {name} order by all").fetchall() for name in names}


def test_the_floor_with_rollups_leaves_the_rollups_a_load_of_the_file_leaves(tmp_path: Path):
    """The typed insert of an events file into a copy of the warehouse, then the rollups that read the events computed
    whole: the copy's rollups are those `shopkpi ingest` of the same file keeps (so the floor stands for the same work,
    less the checks), and the warehouse itself is left as it was."""
    db = tmp_path / "w.duckdb"
    sessions = tmp_path / "s.csv"
    sessions.write_text(
        "session_id,visitor_id,started_at,source,device\n"
        "S1,V1,2024-03-01 10:00:00,google,mobile\n"
        "S2,V2,2024-03-02 11:00:00,direct,desktop\n"
    )
    ingest_file(db, "sessions", sessions)
    with writing(db) as con:
        build_rollups(con)
    events = tmp_path / "e.csv"
    events.write_text(
        "event_id,session_id,occurred_at,event_type\n"
        "e1,S1,2024-03-01 10:01:00,page_view\n"
        "e2,S1,2024-03-01 10:02:00,impression\n"
        "e3,S2,2024-03-02 11:01:00,click\n"
        "e4,S2,2024-03-03 00:01:00,add_to_cart\n"
    )
    before = _rollups(db)
    seconds = floor_with_rollups(events, "events", db, tmp_path, keep=True)
    assert seconds > 0
    assert _rollups(db) == before, "the warehouse itself is only copied"
    ingest_file(db, "events", events)
    loaded, floored = _rollups(db), _rollups(tmp_path / "rolled.duckdb")
    assert loaded != before and floored == loaded


def test_a_child_s_peak_memory_is_its_own_not_the_bench_s():
    """The bench's own memory grows (the KPI set took it to 3.3 GB), and a process forked from it reported that as
    its peak: a child started by run_child reports its own, however large the bench is."""
    held = bytearray(600 * 1024 * 1024)
    held[::4096] = b"\1" * len(range(0, len(held), 4096))  # touched: resident
    _, peak_mb, output = run_child([sys.executable, "-c", "print('ran')"])
    assert output.strip() == "ran"
    assert 1 < peak_mb < 200
    del held
