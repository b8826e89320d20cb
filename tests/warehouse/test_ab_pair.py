"""The warehouse as an A/B pair (issue 14): a load after a small load replays that load's journal on the idle copy
instead of copying the whole warehouse, gives exactly the warehouse a full copy gives, and falls back to the full
copy whenever the idle copy cannot be trusted; a writer killed mid-load leaves nothing a person must clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import ingest_file
from shopkpi.settings import REPO_ROOT
from warehouse import Reader, open_read_only, store, writing

JOURNAL_MAX_ROWS = store.JOURNAL_MAX_ROWS

# Each load: (table, CSV text). Together they insert, update (X-1 paid → shipped), repeat unchanged rows, reject
# rows (a bad date, an unknown event type) and touch three tables with three kinds of key.
LOADS = [
    ("orders", "order_id,ordered_at,status\nX-1,2025-06-01 10:00,paid\nX-2,2025-06-01 11:00,paid\n"),
    ("orders", "order_id,ordered_at,status\nX-1,2025-06-02 10:00,shipped\nX-3,notadate,paid\n"),
    ("order_items", "order_id,sku,quantity,unit_price\nX-1,A,1,10.00\nX-1,B,2,5.00\n"),
    (
        "events",
        "event_id,session_id,occurred_at,event_type\ne1,s1,2025-06-01 10:00,page_view\ne2,s1,2025-06-01 10:01,fly\n",
    ),
    ("orders", "order_id,ordered_at,status\nX-2,2025-06-01 11:00,paid\nX-4,2025-06-03 09:00,placed\n"),
    ("order_items", "order_id,sku,quantity,unit_price\nX-1,B,3,5.00\nX-4,C,1,7.50\n"),
]
CONTENT = {
    "orders": "select order_id, ordered_at, status from orders order by all",
    "order_items": "select * from order_items order by all",
    "events": "select * from events order by all",
    "ingest_log": "select load_id, table_name, rows_read, inserted, updated, duplicates, rejected from ingest_log",
    "rejects": "select load_id, line, table_name, column_name, reason from rejects order by all",
}


@pytest.fixture(autouse=True)
def paired(monkeypatch: pytest.MonkeyPatch) -> None:
    """These warehouses are small: pair them all the same (only large ones are, see store.PAIR_FROM_BYTES). The
    inodes this process opened read-only before (other tests' warehouses) are forgotten: a file of this test may get
    one of their numbers again, and the writer would then copy rather than trust the idle copy (safe, but not what
    these tests count)."""
    monkeypatch.setattr(store, "PAIR_FROM_BYTES", 0)
    monkeypatch.setattr(store, "_read_here", set())


def load_all(db: Path, folder: Path) -> None:
    for n, (table, text) in enumerate(LOADS):
        source = folder / f"{n}.csv"
        source.write_text(text)
        ingest_file(db, table, source)


def content(db: Path) -> dict[str, list[tuple]]:
    with open_read_only(db, brief=True) as con:
        found = {name: con.sql(sql).fetchall() for name, sql in CONTENT.items()}
        found["load_id_seq"] = con.sql("select last_value from duckdb_sequences()").fetchall()
    return found


def count_copies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    copies: list[Path] = []
    real = store.shutil.copyfile

    def copy(source, target, *args, **kwargs):
        copies.append(Path(source))
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(store.shutil, "copyfile", copy)
    return copies


def test_loads_through_the_idle_copy_give_the_warehouse_full_copies_give(tmp_path, monkeypatch):
    copies = count_copies(monkeypatch)
    (tmp_path / "ab").mkdir()
    load_all(tmp_path / "ab" / "w.duckdb", tmp_path / "ab")
    # The first load creates the warehouse and copies it as the idle copy (it has none to keep); the other five
    # replay the previous load's journal on the idle copy: no more copies.
    assert len(copies) == 1
    monkeypatch.setattr(store, "JOURNAL_MAX_ROWS", -1)  # no journal is ever kept: every load copies what it published
    (tmp_path / "full").mkdir()
    load_all(tmp_path / "full" / "w.duckdb", tmp_path / "full")
    assert len(copies) == 1 + 6
    replayed, copied = content(tmp_path / "ab" / "w.duckdb"), content(tmp_path / "full" / "w.duckdb")
    assert replayed == copied
    # Worked out by hand: X-1 updated by load 2, X-3 rejected; X-1/B replaced by load 6 (quantity 3).
    assert [(row[0], row[2]) for row in replayed["orders"]] == [("X-1", "shipped"), ("X-2", "paid"), ("X-4", "placed")]
    assert [(row[0], row[2], row[3]) for row in replayed["order_items"]] == [
        ("X-1", "A", 1),
        ("X-1", "B", 3),
        ("X-4", "C", 1),
    ]
    assert [row[1:] for row in replayed["ingest_log"]] == [
        ("orders", 2, 2, 0, 0, 0),
        ("orders", 2, 0, 1, 0, 1),
        ("order_items", 2, 2, 0, 0, 0),
        ("events", 2, 1, 0, 0, 1),
        ("orders", 2, 1, 0, 1, 0),
        ("order_items", 2, 1, 1, 0, 0),
    ]
    assert replayed["load_id_seq"] == [(6,)]  # six loads took 1…6


def test_a_block_that_changes_a_table_it_does_not_note_copies_what_it_published_as_the_idle_copy(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    with writing(db) as con:
        con.execute("insert into products (sku, name, category) values ('A', 'a', 'c')")
    copies = count_copies(monkeypatch)
    with writing(db) as con:
        con.execute(
            "insert into products (sku, name, category) values ('B', 'b', 'c')"
        )  # not noted: the idle copy cannot be replayed
    assert copies == [db], "the block copies the file it published, for the next writer"
    with writing(db) as con:
        assert con.sql("select sku from products order by sku").fetchall() == [("A",), ("B",)]
    assert copies == [db], "the next writer takes that copy"


def test_a_large_load_leaves_the_idle_copy_ready_so_the_one_row_load_after_it_copies_nothing(tmp_path, monkeypatch):
    """Issue 14: a load too large to journal used to leave no pair, and the next load, however small, copied the
    whole warehouse (1.8 GB at 10 M sessions). The large load now makes that copy before it lets go of the lock."""
    db = tmp_path / "w.duckdb"
    load_all(db, tmp_path)
    monkeypatch.setattr(store, "JOURNAL_MAX_ROWS", 2)  # the next file's three rows are too many to journal
    large = tmp_path / "large.csv"
    large.write_text(
        "order_id,ordered_at,status\n"
        "L-1,2025-06-04 10:00,paid\nL-2,2025-06-04 11:00,paid\nX-2,2025-06-04 12:00,shipped\n"
    )
    copies = count_copies(monkeypatch)
    ingest_file(db, "orders", large)
    assert copies == [db]
    monkeypatch.setattr(store, "JOURNAL_MAX_ROWS", JOURNAL_MAX_ROWS)
    small = tmp_path / "small.csv"
    small.write_text("order_id,ordered_at,status\nS-1,2025-06-05 10:00,paid\n")
    ingest_file(db, "orders", small)
    assert copies == [db], "the one-row load copied the warehouse"
    orders = [(row[0], row[2]) for row in content(db)["orders"]]
    assert orders == [
        ("L-1", "paid"),
        ("L-2", "paid"),
        ("S-1", "paid"),
        ("X-1", "shipped"),
        ("X-2", "shipped"),
        ("X-4", "placed"),
    ]


def test_a_journal_that_asks_for_a_rollup_refresh_makes_the_next_writer_copy(tmp_path, monkeypatch):
    """An earlier version's journal named the days whose rollups its replay was to recompute; this version journals
    the rollup rows themselves and does not recompute them, so such a journal is not replayed: the writer copies."""
    import json

    db = tmp_path / "w.duckdb"
    load_all(db, tmp_path)
    manifest_file = tmp_path / ".w.duckdb.journal" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["rollup_days"] = ["2025-06-03"]
    manifest_file.write_text(json.dumps(manifest))
    copies = count_copies(monkeypatch)
    with writing(db) as con:
        assert con.sql("select count(*) from orders").fetchall() == [(3,)]
    assert copies == [db]


def test_a_reader_of_this_process_on_the_idle_copy_makes_the_writer_copy(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    first, second, third = (tmp_path / f"{n}.csv" for n in range(3))
    first.write_text("order_id,ordered_at,status\nX-1,2025-06-01 10:00,paid\n")
    second.write_text("order_id,ordered_at,status\nX-2,2025-06-01 10:00,paid\n")
    third.write_text("order_id,ordered_at,status\nX-3,2025-06-01 10:00,paid\n")
    ingest_file(db, "orders", first)
    reader = Reader(db)
    held = reader.cursor()  # reads the file that the next load turns into the idle copy
    ingest_file(db, "orders", second)
    copies = count_copies(monkeypatch)
    ingest_file(db, "orders", third)
    # POSIX locks do not stop a process from opening its own reader's file: the writer must know and copy instead.
    assert copies == [db]
    assert held.sql("select order_id from orders").fetchall() == [("X-1",)]  # its snapshot, intact
    cursor = reader.cursor()
    assert cursor.sql("select order_id from orders order by 1").fetchall() == [("X-1",), ("X-2",), ("X-3",)]


HOLD_READ_ONLY = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.sql("select count(*) from orders").fetchall()[0][0], flush=True)
time.sleep(60)
"""


def test_a_reader_in_another_process_on_the_idle_copy_makes_the_writer_copy(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    files = [tmp_path / f"{n}.csv" for n in range(3)]
    for n, path in enumerate(files):
        path.write_text(f"order_id,ordered_at,status\nX-{n},2025-06-01 10:00,paid\n")
    ingest_file(db, "orders", files[0])
    ingest_file(db, "orders", files[1])  # the journal of this load makes the next one use the idle copy, unless…
    reader = subprocess.Popen([sys.executable, "-c", HOLD_READ_ONLY, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "2"
        # … the file the reader holds becomes the idle copy with this load, so the next must copy (DuckDB's lock).
        ingest_file(db, "orders", files[2])
        copies = count_copies(monkeypatch)
        extra = tmp_path / "extra.csv"
        extra.write_text("order_id,ordered_at,status\nX-9,2025-06-01 10:00,paid\n")
        ingest_file(db, "orders", extra)
        assert copies == [db]
    finally:
        reader.kill()
        reader.wait()
    assert [row[0] for row in content(db)["orders"]] == ["X-0", "X-1", "X-2", "X-9"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}


def test_kill_9_in_the_middle_of_a_large_load_then_the_next_ingest_and_the_dashboard_need_no_hand_step(tmp_path):
    db = tmp_path / "w.duckdb"
    small = [tmp_path / f"{n}.csv" for n in range(3)]
    for n, path in enumerate(small):
        path.write_text(f"event_id,session_id,occurred_at,event_type\nk{n},s{n},2025-06-01 10:00,page_view\n")
    ingest_file(db, "events", small[0])
    ingest_file(db, "events", small[1])  # now an idle copy and a journal exist: the killed writer replays them
    big = tmp_path / "big.csv"
    rows = 600_000
    with duckdb.connect() as con:
        con.execute(
            f"""copy (select 'big' || i as event_id, 's' || (i // 5) as session_id,
                       timestamp '2025-01-01' + to_seconds(i) as occurred_at, 'page_view' as event_type
                from range({rows}) t(i)) to '{big}' (header)"""
        )
    writer = subprocess.Popen(
        [sys.executable, "-m", "shopkpi", "ingest", "events", str(big), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env(), "SHOPKPI_MEMORY_MB": "64"},  # a small budget: DuckDB spills to its folder beside the copy
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".w.duckdb.*.tmp")) and writer.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)  # well into the load: the copy open, the file being read
    assert writer.poll() is None, "the load ended before it could be killed"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    # What a killed writer can leave: its copy, the copy's WAL, DuckDB's spill folder, a journal folder.
    spill = tmp_path / f".w.duckdb.{writer.pid}.1.tmp.tmp"
    spill.mkdir(exist_ok=True)
    (spill / "duckdb_temp_block-1.block").write_bytes(b"x" * 100)
    (tmp_path / f".w.duckdb.{writer.pid}.1.tmp.journal").mkdir()
    assert list(tmp_path.glob(".w.duckdb.*.tmp*"))

    cursor = Reader(db).cursor()  # the dashboard opens the last published warehouse
    assert cursor.sql("select count(*) from events").fetchall() == [(2,)]
    cursor.close()
    assert ingest_file(db, "events", small[2]).status == "loaded"
    assert not list(tmp_path.glob(".w.duckdb.*.tmp*")), "the next ingest left the killed writer's leftovers"
    assert ingest_file(db, "events", big).inserted == rows
    cursor = Reader(db).cursor()
    assert cursor.sql("select count(*), count(distinct event_id) from events").fetchall() == [(rows + 3, rows + 3)]


def test_a_load_of_a_file_already_loaded_removes_a_killed_writers_leftovers(tmp_path):
    """Such a load ends before it would take the writer's lock (which clears leftovers): a killed writer's copy, as
    large as the warehouse, stayed beside it as long as every load was of a file already loaded."""
    db = tmp_path / "w.duckdb"
    source = tmp_path / "e.csv"
    source.write_text("event_id,session_id,occurred_at,event_type\nk1,s1,2025-06-01 10:00,page_view\n")
    ingest_file(db, "events", source)
    leftovers = [tmp_path / ".w.duckdb.99999.1.tmp", tmp_path / ".w.duckdb.99999.1.tmp.wal"]
    for leftover in leftovers:
        leftover.write_bytes(b"x" * 100)
    spill = tmp_path / ".w.duckdb.99999.1.tmp.tmp"
    spill.mkdir()
    assert ingest_file(db, "events", source).status == "already loaded"
    assert not list(tmp_path.glob(".w.duckdb.*.tmp*"))


@pytest.mark.parametrize(
    "splits, numbers", [(("source",), False), (("source", "medium", "campaign", "device"), False), ((), True)]
)
def test_rollups_refreshed_through_the_idle_copy_equal_a_full_rebuild(tmp_path, monkeypatch, splits, numbers):
    """A load refreshes the rollups of the days it touched (warehouse/rollups.py); the A/B pair's replay must refresh
    them on the idle copy too: a refresh can keep a rollup's row count and change its rows (X-1 moves from 1 to 2 June
    and turns shipped), which the unnoted-change check, counting rows, would not see. With the visitors' spans of the
    default split and of every split (shopkpi rollups --visitor-splits), and with the visitors numbered (the new
    numbers are replayed with the rollup's rows)."""
    from metrics.compute import DAY_VISITORS, ROLLUP_TABLES, SPLIT_SPANS, VISITOR_NUMBERS, VISITOR_SPANS
    from metrics.rollups import build_rollups, choose_visitor_numbers, choose_visitor_splits

    tables = [*ROLLUP_TABLES.values(), *([] if numbers else [VISITOR_SPANS]), *(SPLIT_SPANS[d] for d in splits)]

    def rollups(db: Path) -> dict[str, list[tuple]]:
        with open_read_only(db, brief=True) as con:
            found = {t: con.sql(f"select * from {t} order by all").fetchall() for t in tables}
            if numbers:  # each number's visitor: a rebuild numbers them anew
                found[DAY_VISITORS] = con.sql(
                    f"""select d.* exclude (visitor_no), n.store, n.visitor_id
                    from {DAY_VISITORS} d join {VISITOR_NUMBERS} n using (visitor_no) order by all"""
                ).fetchall()
            return found

    def numbered(db: Path) -> list[tuple]:
        with open_read_only(db, brief=True) as con:
            return con.sql(f"select store, visitor_id from {VISITOR_NUMBERS} order by visitor_no").fetchall()

    found, copies = {}, count_copies(monkeypatch)
    for name, journal_rows in (("ab", store.JOURNAL_MAX_ROWS), ("full", -1)):
        monkeypatch.setattr(store, "JOURNAL_MAX_ROWS", journal_rows)  # -1: no journal, every load copies
        folder = tmp_path / name
        folder.mkdir()
        db = folder / "w.duckdb"
        first, *rest = LOADS
        (folder / "first.csv").write_text(first[1])
        ingest_file(db, first[0], folder / "first.csv")
        with writing(db) as con:
            choose_visitor_splits(con, splits)
            choose_visitor_numbers(con, numbers)
            build_rollups(con)
        # Sessions of new visitors, then one of them moved to another new visitor and day: the spans change, and new
        # visitors are numbered. The last of LOADS (X-1's line B from 2 to 3 units) changes a row of the items'
        # rollup and none of its row counts; one more load then starts from the idle copy, which must have caught
        # that change up.
        header = "session_id,visitor_id,started_at,source,medium,campaign,device"
        sessions = [
            ("sessions", f"{header}\ns1,v1,2025-06-01 09:00,google,cpc,june,mobile\ns2,v2,2025-06-02 09:00,bing,,,app"),
            ("sessions", f"{header}\ns2,v3,2025-06-04 09:00,bing,,,app\ns3,v1,2025-06-04 10:00,direct,,,desktop"),
        ]
        later = ("events", "event_id,session_id,occurred_at,event_type\ne3,s1,2025-06-05 10:00,page_view\n")
        for n, (table, text) in enumerate([*sessions, *rest, later]):
            (folder / f"{n}.csv").write_text(text)
            ingest_file(db, table, folder / f"{n}.csv")
        found[name] = rollups(db)
        if numbers:  # the same visitors numbered in the same order, replayed or copied (v2 keeps its number)
            found[f"{name} numbers"] = numbered(db)
            assert found[f"{name} numbers"] == [("main", "v1"), ("main", "v2"), ("main", "v3")]
        if name == "ab":
            # Copied twice: by the first load (a new warehouse has no idle copy to keep) and by the block that built
            # the rollups (a rebuild cannot be replayed), each copying what it published; the six loads after those
            # replay their journal, rollup refreshes included.
            assert len(copies) == 2, copies
    # And a rebuild of the final warehouse from its tables: what the loads' refreshes must have kept in step.
    with writing(tmp_path / "full" / "w.duckdb") as con:
        build_rollups(con)
    rebuilt = rollups(tmp_path / "full" / "w.duckdb")
    assert found["ab"] == found["full"] == rebuilt
    assert found.get("ab numbers") == found.get("full numbers")
    assert not numbers or rebuilt[DAY_VISITORS], "the visitors by number have rows to compare"
    assert rebuilt["rollup_orders"], "the orders' rollup has rows to compare"
