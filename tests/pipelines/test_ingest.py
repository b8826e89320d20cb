"""Each ingestion rule of SPEC §2, on small hand-written files, through the same code path as `shopkpi ingest`."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from bench.ingest import write_events_csv
from metrics.rollups import build_rollups
from pipelines.ingest import IngestError, ingest_file
from pipelines.ingest import load as load_module
from pipelines.ingest.common import scratch_folder
from pipelines.ingest.validate import _naive_time, steady_since
from tests.support.warehouse_rows import query
from warehouse import writing

ORDERS_HEADER = "order_id,ordered_at,status,customer_id,discount\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_bad_type_is_rejected_with_line_and_reason_and_the_rest_loads(db, tmp_path):
    csv = write(
        tmp_path / "orders.csv",
        ORDERS_HEADER
        + "o1,2024-06-18 10:00:00,paid,c1,5\n"
        + "o2,yesterday,paid,c2,0\n"
        + "o3,2024-06-18,paid,c3,abc\n",
    )
    result = ingest_file(db, "orders", csv)
    # 3 rows read: o1 loads; o2 (line 3) has no valid timestamp; o3 (line 4) has a discount that is no number.
    assert (result.rows_read, result.inserted, result.rejected) == (3, 1, 2)
    assert query(db, "select order_id from orders") == [("o1",)]
    rejects = query(db, "select line, table_name, column_name, reason, raw_row from rejects order by line")
    assert [(r[0], r[1], r[2]) for r in rejects] == [(3, "orders", "ordered_at"), (4, "orders", "discount")]
    assert "yesterday" in rejects[0][3] and "abc" in rejects[1][3]
    assert json.loads(rejects[0][4])["order_id"] == "o2"


def test_bad_enum_is_rejected_and_synonyms_are_mapped(db, tmp_path):
    csv = write(tmp_path / "orders.csv", ORDERS_HEADER + "o1,2024-06-18,Canceled,,0\n" + "o2,2024-06-18,lost,,0\n")
    result = ingest_file(db, "orders", csv)
    assert (result.inserted, result.rejected) == (1, 1)
    assert query(db, "select status from orders") == [("cancelled",)]
    [(column, reason)] = query(db, "select column_name, reason from rejects")
    assert column == "status" and "'lost' is not one of" in reason


def test_negative_and_zero_quantity_are_rejected(db, tmp_path):
    csv = write(
        tmp_path / "items.csv",
        "order_id,line_no,sku,quantity,unit_price\no1,1,A,2,10\no1,2,B,-1,10\no1,3,C,0,10\no1,4,D,1,-5\n",
    )
    result = ingest_file(db, "order_items", csv)
    assert (result.rows_read, result.inserted, result.rejected) == (4, 1, 3)
    assert query(db, "select line, column_name from rejects order by line") == [
        (3, "quantity"),
        (4, "quantity"),
        (5, "unit_price"),
    ]


def test_missing_required_column_fails_the_file_and_loads_nothing(db, tmp_path):
    ingest_file(db, "orders", write(tmp_path / "good.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\n"))
    before = file_digest(db)
    bad = write(tmp_path / "bad.csv", "order_id,ordered_at,customer_id\no2,2024-06-18,c2\n")
    with pytest.raises(IngestError) as error:
        ingest_file(db, "orders", bad)
    message = str(error.value)
    assert "bad.csv" in message and "status" in message and "--map status=" in message and "\n" not in message
    assert file_digest(db) == before


def test_missing_required_column_exits_1_with_one_line(db, tmp_path):
    bad = write(tmp_path / "bad.csv", "order_id,ordered_at\no2,2024-06-18\n")
    run = subprocess.run(
        [sys.executable, "-m", "shopkpi", "ingest", "orders", str(bad), "--db", str(db)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert len(run.stderr.strip().splitlines()) == 1 and "status" in run.stderr
    assert not db.exists()


def test_unknown_extra_columns_are_ignored_and_reported(db, tmp_path):
    csv = write(tmp_path / "orders.csv", "ORDER_ID,Ordered_At,Status,note,tracking\no1,2024-06-18,paid,hi,X1\n")
    result = ingest_file(db, "orders", csv)
    assert result.ignored_columns == ["note", "tracking"]
    assert "ignored columns: note, tracking" in result.summary()
    assert query(db, "select ignored_columns from ingest_log") == [("note, tracking",)]
    assert "note" not in [
        name for (name,) in query(db, "select column_name from duckdb_columns() where table_name = 'orders'")
    ]


def test_same_file_twice_is_a_no_op(db, tmp_path):
    csv = write(tmp_path / "orders.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\no2,2024-06-18,bogus,c1,0\n")
    ingest_file(db, "orders", csv)
    before = file_digest(db)
    again = ingest_file(db, "orders", csv)
    assert again.status == "already loaded" and "already loaded" in again.summary()
    assert file_digest(db) == before
    assert query(db, "select count(*) from ingest_log") == [(1,)]
    assert query(db, "select count(*) from rejects") == [(1,)]


def test_key_update_later_export_wins_and_identical_rows_are_duplicates(db, tmp_path):
    first = write(tmp_path / "day1.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\no2,2024-06-18,paid,c2,0\n")
    ingest_file(db, "orders", first)
    second = write(
        tmp_path / "day2.csv",
        ORDERS_HEADER + "o1,2024-06-18,delivered,c1,0\no2,2024-06-18,paid,c2,0\no3,2024-06-19,paid,c3,0\n",
    )
    result = ingest_file(db, "orders", second)
    # o1 changed status (updated), o2 is the same row again (duplicate), o3 is new (inserted).
    assert (result.rows_read, result.inserted, result.updated, result.duplicates) == (3, 1, 1, 1)
    third = write(tmp_path / "day3.csv", ORDERS_HEADER + "o1,2024-06-18,returned,c1,0\n")
    ingest_file(db, "orders", third)
    assert query(db, "select order_id, status from orders order by order_id") == [
        ("o1", "returned"),
        ("o2", "paid"),
        ("o3", "paid"),
    ]


def test_updates_and_duplicates_are_counted_the_same_in_a_warehouse_with_rollups(db, tmp_path):
    # With rollups, the stored rows a file may replace are found once (warehouse.rollups.REPLACED) and compared from
    # there; for order lines that is the whole order (a superset of the lines the file names).
    items = "order_id,line_no,sku,quantity,unit_price\n"
    events = "event_id,session_id,occurred_at,event_type\n"
    ingest_file(db, "orders", write(tmp_path / "o1.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\n"))
    ingest_file(db, "order_items", write(tmp_path / "i1.csv", items + "o1,1,A,1,10\no1,2,B,2,5\no1,3,C,1,1\n"))
    ingest_file(db, "events", write(tmp_path / "e1.csv", events + "e1,s1,2024-06-18 10:00:00,page_view\n"))
    with writing(db) as con:
        build_rollups(con)

    # Line 1 changes quantity (updated), line 2 is the same (duplicate), line 4 is new; line 3 is not named.
    lines = ingest_file(db, "order_items", write(tmp_path / "i2.csv", items + "o1,1,A,3,10\no1,2,B,2,5\no1,4,D,1,7\n"))
    assert (lines.rows_read, lines.inserted, lines.updated, lines.duplicates) == (3, 1, 1, 1)
    assert query(db, "select line_no, sku, quantity from order_items order by line_no") == [
        (1, "A", 3),
        (2, "B", 2),
        (3, "C", 1),
        (4, "D", 1),
    ]
    # e1 moves to the add-to-cart step (updated), e2 is new and repeated in the file (inserted, then duplicate).
    moved = ingest_file(
        db,
        "events",
        write(
            tmp_path / "e2.csv",
            events
            + "e1,s1,2024-06-18 10:00:00,add_to_cart\n"
            + "e2,s1,2024-06-18 10:01:00,click\n"
            + "e2,s1,2024-06-18 10:01:00,click\n",
        ),
    )
    assert (moved.inserted, moved.updated, moved.duplicates) == (1, 1, 1)
    assert query(db, "select event_id, event_type from events order by 1") == [("e1", "add_to_cart"), ("e2", "click")]
    # No stored event has these ids, so the rows are written without comparing them with stored ones; e3 repeats.
    new = ingest_file(
        db,
        "events",
        write(
            tmp_path / "e3.csv",
            events
            + "e3,s1,2024-06-18 10:02:00,click\n"
            + "e3,s1,2024-06-18 10:02:00,purchase\n"
            + "e4,s1,2024-06-18 10:03:00,page_view\n",
        ),
    )
    assert (new.inserted, new.updated, new.duplicates) == (2, 1, 0)
    assert query(db, "select event_id, event_type from events where event_id > 'e2' order by 1") == [
        ("e3", "purchase"),
        ("e4", "page_view"),
    ]


# Large files find their repeated keys with numpy (REPEATS_IN_NUMPY_FROM valid rows or more), small ones with DuckDB:
# both ways on these small files.
BOTH_WAYS_OF_FINDING_REPEATS = pytest.mark.parametrize("numpy_from", [load_module.REPEATS_IN_NUMPY_FROM, 0])


@BOTH_WAYS_OF_FINDING_REPEATS
def test_repeated_key_within_one_file_keeps_the_last_row(db, tmp_path, monkeypatch, numpy_from):
    monkeypatch.setattr(load_module, "REPEATS_IN_NUMPY_FROM", numpy_from)
    csv = write(
        tmp_path / "orders.csv",
        ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\no1,2024-06-18,paid,c1,0\no1,2024-06-18,shipped,c1,0\n",
    )
    result = ingest_file(db, "orders", csv)
    # Row by row: new (inserted), same as the previous (duplicate), changed (updated).
    assert (result.inserted, result.duplicates, result.updated) == (1, 1, 1)
    assert query(db, "select status from orders") == [("shipped",)]


@BOTH_WAYS_OF_FINDING_REPEATS
def test_a_first_load_with_some_repeated_keys_counts_and_keeps_every_row_as_one_by_one(
    db, tmp_path, monkeypatch, numpy_from
):
    # Into an empty table the rows of unrepeated keys are written straight; o1 and o2 repeat and are compared.
    monkeypatch.setattr(load_module, "REPEATS_IN_NUMPY_FROM", numpy_from)
    csv = write(
        tmp_path / "orders.csv",
        ORDERS_HEADER
        + "o1,2024-06-18,paid,c1,0\no2,2024-06-18,paid,c2,0\no1,2024-06-18,shipped,c1,0\n"
        + "o3,2024-06-19,placed,c3,0\no2,2024-06-18,paid,c2,0\n",
    )
    result = ingest_file(db, "orders", csv)
    # o1 new, o2 new, o1 changed, o3 new, o2 the same as before.
    assert (result.inserted, result.updated, result.duplicates) == (3, 1, 1)
    assert query(db, "select order_id, status from orders order by 1") == [
        ("o1", "shipped"),
        ("o2", "paid"),
        ("o3", "placed"),
    ]


def test_gbk_file_with_chinese_text_is_detected_and_loaded(db, tmp_path):
    csv = write(
        tmp_path / "products.csv",
        "sku,name,category,supplier\nA1,真丝睡衣,服饰,杭州丝绸有限公司\nA2,茶具套装,家居,景德镇陶瓷\n",
        encoding="gbk",
    )
    with pytest.raises(UnicodeDecodeError):
        csv.read_bytes().decode("utf-8")
    result = ingest_file(db, "products", csv)
    assert result.encoding == "gb18030" and result.inserted == 2
    assert query(db, "select name, category from products order by sku") == [("真丝睡衣", "服饰"), ("茶具套装", "家居")]


def test_structurally_bad_csv_lines_are_rejected_with_their_own_line_numbers(db, tmp_path):
    # Every 997th record gets an extra field; the reader skips those, and the lines of all other rows must still
    # be right, which we check through rows rejected later for a bad status that carry their own line number.
    lines = ["event_id,session_id,occurred_at,event_type,page"]
    expected_structural, expected_status = [], []
    for i in range(20_000):
        line_no = i + 2
        event_type = "page_view"
        extra = ""
        if i % 997 == 5:
            extra = ",surplus"
            expected_structural.append(line_no)
        elif i % 1009 == 7:
            event_type = f"bogus{line_no}"
            expected_status.append(line_no)
        lines.append(f"e{i},s{i // 4},2024-06-18 10:00:00,{event_type},/p{extra}")
    csv = write(tmp_path / "events.csv", "\n".join(lines) + "\n")
    result = ingest_file(db, "events", csv)
    assert result.rejected == len(expected_structural) + len(expected_status)
    assert result.inserted == 20_000 - result.rejected
    structural = query(db, "select line from rejects where column_name is null order by line")
    assert [line for (line,) in structural] == expected_structural
    by_status = query(db, "select line, raw_row from rejects where column_name = 'event_type' order by line")
    assert [line for line, _ in by_status] == expected_status
    assert all(json.loads(raw)["event_type"] == f"bogus{line}" for line, raw in by_status)


def test_parquet_jsonl_and_gzip_load_the_same_rows(db, tmp_path):
    rows = [
        {"session_id": "s1", "visitor_id": "v1", "started_at": "2024-06-18 10:00:00", "source": "Organic_Search"},
        {
            "session_id": "s2",
            "visitor_id": "v1",
            "started_at": "2024-06-18 11:00:00",
            "source": "email",
            "device": "PC",
        },
    ]
    jsonl = tmp_path / "sessions.jsonl"
    jsonl.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    with duckdb.connect() as con:
        con.execute(f"copy (select * from read_json('{jsonl}')) to '{tmp_path / 'sessions.parquet'}'")
    gz = tmp_path / "sessions.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("session_id,visitor_id,started_at,source\ns1,v1,2024-06-18 10:00:00,organic_search\n")
    assert ingest_file(db, "sessions", jsonl).inserted == 2
    parquet = ingest_file(db, "sessions", tmp_path / "sessions.parquet")
    assert (parquet.rows_read, parquet.duplicates) == (2, 2)
    assert ingest_file(db, "sessions", gz).duplicates == 1
    # Free-text source is lower-cased; a missing device is 'unknown'; 'PC' is a desktop.
    assert query(db, "select session_id, source, device from sessions order by 1") == [
        ("s1", "organic_search", "unknown"),
        ("s2", "email", "desktop"),
    ]


def test_timestamps_with_offset_are_converted_to_store_time(db, tmp_path):
    csv = write(
        tmp_path / "orders.csv",
        "order_id,ordered_at,status\no1,2024-06-18T02:00:00Z,paid\no2,2024-06-18 10:00:00,paid\n"
        "o3,2024-06-18T10:00:00+08:00,paid\n",
    )
    ingest_file(db, "orders", csv, store_timezone="Asia/Shanghai")
    # 02:00 UTC is 10:00 in Shanghai; a naive time is already local; +08:00 is local too.
    assert {str(ts) for (ts,) in query(db, "select ordered_at from orders")} == {"2024-06-18 10:00:00"}


def test_in_a_utc_store_naive_times_are_read_as_written_and_the_rest_as_the_cast_reads_them(db, tmp_path):
    # A UTC store reads a naive time by its format alone (validate._naive_time); anything else is cast as before.
    csv = write(
        tmp_path / "orders.csv",
        "order_id,ordered_at,status\n"
        "o1,2024-06-18 10:00:00.5,paid\n"  # a fraction of a second
        "o2,2024-6-8 1:02:03,paid\n"  # unpadded fields
        "o3,2024-06-18T02:00:00Z,paid\n"  # an offset: the cast
        "o4,2024-06-18 10:00:00+08:00,paid\n"
        "o5,2024-06-18 24:00:00,paid\n"  # the cast's midnight of the next day
        "o6,2024-06-18 10:00:00.1234567,paid\n"  # seven decimals: the cast keeps six
        'o7,"2024-06-18 10:00:00\n",paid\n'  # a line break after it: no date-time, as before
        "o8,2024-02-30 10:00:00,paid\n",
    )
    result = ingest_file(db, "orders", csv, store_timezone="UTC")
    assert (result.inserted, result.rejected) == (6, 2)
    assert query(db, "select order_id, strftime(ordered_at, '%Y-%m-%d %H:%M:%S.%f') from orders order by 1") == [
        ("o1", "2024-06-18 10:00:00.500000"),
        ("o2", "2024-06-08 01:02:03.000000"),
        ("o3", "2024-06-18 02:00:00.000000"),
        ("o4", "2024-06-18 02:00:00.000000"),
        ("o5", "2024-06-19 00:00:00.000000"),
        ("o6", "2024-06-18 10:00:00.123456"),
    ]
    assert [line for (line,) in query(db, "select line from rejects order by line")] == [8, 10]


def test_a_naive_time_in_a_daylight_saving_gap_moves_with_the_store_time_zone(db, tmp_path):
    # New York skipped 02:00–03:00 on 10 March 2024: a time written in the gap is read as the zone reads it (03:30),
    # not as written, which only a UTC store may do.
    csv = write(tmp_path / "orders.csv", "order_id,ordered_at,status\no1,2024-03-10 02:30:00,paid\n")
    ingest_file(db, "orders", csv, store_timezone="America/New_York")
    assert [str(ts) for (ts,) in query(db, "select ordered_at from orders")] == ["2024-03-10 03:30:00"]


def test_a_naive_time_before_the_store_zone_last_changed_is_read_as_the_zone_reads_it(db, tmp_path):
    # Shanghai kept daylight saving time 1986-1991 and skipped 02:00-03:00 on 17 April 1988: a time written in that
    # gap moves to 03:30 as the cast moves it; one written after 1991 is read as written (validate._naive_time).
    csv = write(
        tmp_path / "orders.csv",
        "order_id,ordered_at,status\no1,1988-04-17 02:30:00,paid\no2,2025-03-09 02:30:00.25,paid\n",
    )
    ingest_file(db, "orders", csv, store_timezone="Asia/Shanghai")
    assert query(db, "select order_id, strftime(ordered_at, '%Y-%m-%d %H:%M:%S.%f') from orders order by 1") == [
        ("o1", "1988-04-17 03:30:00.000000"),
        ("o2", "2025-03-09 02:30:00.250000"),
    ]


@pytest.mark.parametrize(
    ("zone", "since"),
    [
        ("UTC", datetime(1900, 1, 1)),  # never changed
        # Daylight saving time ended at 02:00 on 15 September 1991 (18:00 UTC the day before): the next midnight UTC
        # is 08:00 local, and two days after it the reading is safe.
        ("Asia/Shanghai", datetime(1991, 9, 17, 8)),
        ("Asia/Kolkata", datetime(1945, 10, 17, 5, 30)),  # +05:30 since 15 October 1945
        ("America/New_York", None),  # changes twice a year
    ],
)
def test_a_store_zone_is_steady_from_two_days_after_its_last_change(zone, since):
    with duckdb.connect() as con:
        con.execute("set TimeZone = ?", [zone])
        assert steady_since(con) == since


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_the_naive_time_reading_never_differs_from_the_cast(zone):
    # A fuzz of altered date-times: wherever the fast reading gives a time, the cast through timestamptz gives the
    # same one (it once took a trailing line break the cast refuses). In Shanghai the times include its daylight
    # saving years, whose gaps and folds only the cast reads right.
    rng = random.Random(7)
    bases = ["2025-01-01 10:00:00.123456", "2025-1-1 1:2:3", "2024-02-29 23:59:59.9", "1999-12-31T23:59:59"]
    bases += ["1988-04-17 02:30:00", "1991-09-15 01:30:00", "1991-09-17 08:00:00"]
    alphabet = "0123456789-:. \t\n\rTZ+aP\u00a0\u3000"
    values = ["2024-06-18 10:00:00\n", "2024-06-18 10:00:00\t", "\t2024-06-18 10:00:00", "2024-06-18 10:00:00\u00a0"]
    values += [
        f"{day} {hour:02}:{minute:02}:00"
        for day in ("1988-04-17", "1991-09-15")
        for hour in range(4)
        for minute in (0, 30)
    ]
    for _ in range(100_000):
        chars = list(rng.choice(bases))
        del chars[rng.randint(6, len(chars)) :]
        for _ in range(rng.randint(0, 4)):
            at = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5:
                chars.insert(at, rng.choice(alphabet))
            elif chars:
                chars[min(at, len(chars) - 1)] = rng.choice(alphabet)
        values.append("".join(chars))
    with duckdb.connect() as con:
        con.execute("set TimeZone = ?", [zone])
        con.execute("create table v as select unnest(?::varchar[]) as x", [values])
        cast = "cast(try_cast(x as timestamptz) as timestamp)"

        def differ(fast: str) -> tuple[int, list[str]]:
            return con.sql(
                f"select count({fast}), list(x) filter (where {fast} is distinct from {cast} and {fast} is not null) "
                "from v"
            ).fetchall()[0]

        read, different = differ(_naive_time("x", steady_since(con)))
        assert read > 2_000  # the fast reading was tried on many values
        assert not different
        if zone != "UTC":  # the values test the zone's changes: read as written, its gap times would differ
            assert "1988-04-17 02:30:00" in differ(_naive_time("x"))[1]
        # One format per value, chosen by its decimal point, reads what trying both formats in turn reads.
        both = "try_strptime(x, ['%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d %H:%M:%S'])"
        digits = "left(x, 1) between '0' and '9' and right(x, 1) between '0' and '9'"
        same = con.sql(
            f"select count({both}), list(x) filter ({_naive_time('x')} is distinct from {both}) from v where {digits}"
        )
        parsed, different = same.fetchall()[0]
        assert parsed > 2_000 and not different


def test_strict_refuses_a_file_with_any_rejected_row(db, tmp_path):
    csv = write(tmp_path / "orders.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\no2,2024-06-18,lost,c1,0\n")
    with pytest.raises(IngestError, match="line 3, column status"):
        ingest_file(db, "orders", csv, strict=True)
    assert not db.exists()


def test_events_without_id_are_keyed_by_their_values(db, tmp_path):
    csv = write(
        tmp_path / "events.csv",
        "session_id,occurred_at,event_type\ns1,2024-06-18 10:00:00,page_view\ns1,2024-06-18 10:00:00,page_view\n"
        "s1,2024-06-18 10:01:00,click\n",
    )
    result = ingest_file(db, "events", csv)
    assert (result.inserted, result.duplicates) == (2, 1)
    # The export gave no id, so none is stored (v5; v4 stored an MD5 of the values).
    assert query(db, "select count(event_id), count(*) from events") == [(0, 2)]
    # Another export of the same events, one of them also with a sku: the same values are the same event, a value
    # more is another.
    again = write(
        tmp_path / "again.csv",
        "session_id,occurred_at,event_type,sku\ns1,2024-06-18 10:01:00,click,\ns1,2024-06-18 10:00:00,page_view,\n"
        "s1,2024-06-18 10:00:00,page_view,A1\n",
    )
    result = ingest_file(db, "events", again)
    assert (result.inserted, result.updated, result.duplicates) == (1, 0, 2)
    assert query(db, "select event_type, sku from events order by 1, 2 nulls first") == [
        ("click", None),
        ("page_view", None),
        ("page_view", "A1"),
    ]


def test_a_v4_warehouse_s_hashed_event_ids_are_made_null_and_still_match_their_events(db, tmp_path):
    header = "session_id,occurred_at,event_type,sku\n"
    rows = ["s1,2024-06-18 10:00:00,page_view,", "s1,2024-06-18 10:01:00,click,A1"]
    ingest_file(db, "events", write(tmp_path / "june.csv", header + "\n".join(rows) + "\n"))
    ingest_file(
        db,
        "events",
        write(tmp_path / "ids.csv", "event_id,session_id,occurred_at,event_type\ne1,s2,2024-06-18 11:00:00,click\n"),
    )
    # The v4 file: the id-less events hold the MD5 of their values but the id and the store, joined by chr(31)
    # (session_id, occurred_at, event_type, sku, page, position; a null as ''), and event_id is not null.
    v4 = {
        "s1|2024-06-18 10:00:00|page_view": hashlib.md5(b"s1\x1f2024-06-18 10:00:00\x1fpage_view\x1f\x1f\x1f"),
        "s1|2024-06-18 10:01:00|click": hashlib.md5(b"s1\x1f2024-06-18 10:01:00\x1fclick\x1fA1\x1f\x1f"),
    }
    with duckdb.connect(str(db)) as con:
        for values, digest in v4.items():
            session, at, kind = values.split("|")
            con.execute(
                "update events set event_id = ? where session_id = ? and occurred_at = ? and event_type = ?",
                [digest.hexdigest(), session, at, kind],
            )
        con.execute("alter table events alter column event_id set not null")
        con.execute("update shopkpi_meta set value = '4' where key = 'schema_version'")
    # The next load upgrades the warehouse: a re-export of both events and a new one adds only the new one.
    again = header + "\n".join([rows[1], rows[0], "s1,2024-06-18 10:02:00,add_to_cart,A1"]) + "\n"
    result = ingest_file(db, "events", write(tmp_path / "again.csv", again))
    assert (result.inserted, result.updated, result.duplicates) == (1, 0, 2)
    assert query(db, "select event_id, session_id, event_type from events order by occurred_at") == [
        (None, "s1", "page_view"),
        (None, "s1", "click"),
        (None, "s1", "add_to_cart"),
        ("e1", "s2", "click"),
    ]
    assert query(db, "select value from shopkpi_meta where key = 'schema_version'") == [("5",)]


@pytest.mark.parametrize("rollups", [False, True], ids=["without rollups", "with rollups"])
def test_a_re_export_of_events_without_ids_is_recognised_at_the_edges_of_its_time_range(db, tmp_path, rollups):
    # Events without an id are keyed by their values, so a load looks for their stored rows among the stored events
    # of the file's time range only (load._where_stored): the repeated rows here are its first and its last.
    header = "session_id,occurred_at,event_type\n"
    first = (
        header + "s1,2024-06-18 10:00:00,page_view\ns1,2024-06-18 12:00:00,click\ns2,2024-06-20 09:00:00,page_view\n"
    )
    ingest_file(db, "events", write(tmp_path / "june.csv", first))
    ingest_file(db, "events", write(tmp_path / "july.csv", header + "s3,2024-07-01 08:00:00,page_view\n"))
    if rollups:
        with writing(db) as con:
            build_rollups(con)
    again = (
        header + "s1,2024-06-18 10:00:00,page_view\ns1,2024-06-19 11:00:00,click\ns2,2024-06-20 09:00:00,page_view\n"
    )
    result = ingest_file(db, "events", write(tmp_path / "re-export.csv", again))
    assert (result.inserted, result.updated, result.duplicates) == (1, 0, 2)
    assert query(db, "select count(*), count(event_id) from events") == [(5, 0)]


@pytest.mark.parametrize("rollups", [False, True], ids=["without rollups", "with rollups"])
def test_an_event_whose_id_is_given_is_found_at_another_time_and_in_another_session(db, tmp_path, rollups):
    # An id the export gives may come back with a corrected time and session: its stored row is found outside the
    # file's range and sessions.
    header = "event_id,session_id,occurred_at,event_type\n"
    ingest_file(db, "events", write(tmp_path / "june.csv", header + "e1,s1,2024-06-18 10:00:00,page_view\n"))
    if rollups:
        with writing(db) as con:
            build_rollups(con)
    moved = header + "e1,s2,2024-07-05 10:00:00,page_view\ne2,s1,2024-07-05 10:01:00,click\n"
    result = ingest_file(db, "events", write(tmp_path / "corrected.csv", moved))
    assert (result.inserted, result.updated, result.duplicates) == (1, 1, 0)
    assert query(db, "select event_id, session_id, cast(occurred_at as varchar) from events order by 1") == [
        ("e1", "s2", "2024-07-05 10:00:00"),
        ("e2", "s1", "2024-07-05 10:01:00"),
    ]


# Loads in order: (table, header, rows of the file). Events with and without ids (an event without one is keyed by its
# values), order lines with and without numbers (without one, by SKU): keys new, stored, changed and repeated.
_LOADS = [
    ("orders", ORDERS_HEADER, ["o1,2024-06-18,paid,c1,0", "o2,2024-06-18,placed,c2,0"]),
    ("orders", ORDERS_HEADER, ["o1,2024-06-18,paid,c1,0", "o2,2024-06-18,paid,c2,0", "o3,2024-06-19,paid,c1,5"]),
    ("order_items", "order_id,line_no,sku,quantity,unit_price\n", ["o1,1,A,1,10", "o1,2,B,2,5"]),
    ("order_items", "order_id,line_no,sku,quantity,unit_price\n", ["o1,1,A,3,10", "o1,2,B,2,5", "o1,3,A,1,10"]),
    ("order_items", "order_id,sku,quantity,unit_price\n", ["o2,A,1,10", "o2,B,1,10", "o2,A,2,10"]),
    ("events", "event_id,session_id,occurred_at,event_type,sku\n", [
        "e1,s1,2024-06-18 10:00:00,page_view,A",
        ",s1,2024-06-18 10:01:00,click,A",
        ",s1,2024-06-18 10:01:00,click,",
    ]),
    ("events", "event_id,session_id,occurred_at,event_type,sku\n", [
        "e1,s1,2024-06-18 10:00:00,add_to_cart,A",
        ",s1,2024-06-18 10:01:00,click,A",
        ",s1,2024-06-18 10:01:00,click,B",
        "e2,s1,2024-06-18 10:01:00,click,",
        "e2,s1,2024-06-18 10:02:00,click,",
    ]),
]  # fmt: skip


def _load_all(db: Path, folder: Path) -> tuple[list[tuple[int, int, int, int]], dict[str, list]]:
    """Every load of _LOADS: its accounting (read, inserted, updated, duplicates), then every table's rows."""
    counts = []
    for n, (table, header, rows) in enumerate(_LOADS):
        result = ingest_file(db, table, write(folder / f"{n}.csv", header + "\n".join(rows) + "\n"))
        counts.append((result.rows_read, result.inserted, result.updated, result.duplicates))
    return counts, {table: query(db, f"select * from {table} order by all") for table, _, _ in _LOADS}


def test_keys_that_hash_alike_are_still_told_apart(tmp_path, monkeypatch):
    """A row meets the stored row of its key, and the file's other rows of its key, by a hash of the key, then its key
    is compared column by column: with every key hashed alike (as if all collided), the accounting and the rows
    stored are the same."""
    (tmp_path / "real").mkdir()
    (tmp_path / "alike").mkdir()
    real = _load_all(tmp_path / "real" / "w.duckdb", tmp_path / "real")
    # By hand: o1 again (duplicate), o2 paid now (updated), o3 new; line 1 changed, 2 the same, 3 new; an order's
    # lines without numbers keyed by SKU (A twice: inserted, then updated); e1 changed, the click on A the same, a
    # click on B new (the click without a SKU is another event and stays), e2 new and changed in the file.
    assert real[0] == [(2, 2, 0, 0), (3, 1, 1, 1), (2, 2, 0, 0), (3, 1, 1, 1), (3, 2, 1, 0), (3, 3, 0, 0), (5, 2, 2, 1)]
    assert len(real[1]["events"]) == 5 and len(real[1]["order_items"]) == 5
    import pipelines.ingest.load as load

    monkeypatch.setattr(load, "_key_hash", lambda table: "cast(0 as ubigint)")
    assert _load_all(tmp_path / "alike" / "w.duckdb", tmp_path / "alike") == real


def test_what_runs_after_the_commit_is_published_with_the_load_and_its_failure_leaves_the_load(db, tmp_path, caplog):
    header = "session_id,visitor_id,started_at,source\n"
    first = write(tmp_path / "s1.csv", header + "s1,v1,2024-06-18 10:00:00,google\n")

    def note(con):
        # The load's rows are committed and visible; its scratch tables are gone.
        assert con.sql("select count(*) from sessions").fetchall() == [(1,)]
        assert con.sql("select count(*) from duckdb_tables() where temporary").fetchall() == [(0,)]
        con.execute("create table after_load as select 'noted' as what")

    assert ingest_file(db, "sessions", first, then=note).inserted == 1
    assert query(db, "select what from after_load") == [("noted",)]
    assert query(db, "select value from shopkpi_meta where key = 'generation'") == [("1",)]

    def fail(con):
        con.execute("create table half_done (x int)")
        con.execute("select error('the build failed')")

    second = write(tmp_path / "s2.csv", header + "s2,v2,2024-06-19 10:00:00,direct\n")
    assert ingest_file(db, "sessions", second, then=fail).inserted == 1
    assert (
        f"{second} is loaded; what follows the load was not done (Invalid Input Error: the build failed)" in caplog.text
    )
    assert query(db, "select session_id from sessions order by 1") == [("s1",), ("s2",)]
    assert query(db, "select count(*) from duckdb_tables() where table_name = 'half_done'") == [(0,)]
    assert query(db, "select count(*) from ingest_log where table_name = 'sessions'") == [(2,)]


def test_order_items_without_line_numbers_are_keyed_by_sku(db, tmp_path):
    first = write(tmp_path / "a.csv", "order_id,sku,quantity,unit_price\no1,A,1,10\no1,B,2,5\n")
    second = write(tmp_path / "b.csv", "order_id,sku,quantity,unit_price\no1,A,3,10\n")
    ingest_file(db, "order_items", first)
    assert ingest_file(db, "order_items", second).updated == 1
    assert query(db, "select sku, quantity from order_items order by sku") == [("A", 3), ("B", 2)]


def test_file_level_errors_name_the_file(db, tmp_path):
    with pytest.raises(IngestError, match="unknown file type"):
        ingest_file(db, "orders", write(tmp_path / "orders.xlsx", "x"))
    with pytest.raises(IngestError, match="empty"):
        ingest_file(db, "orders", write(tmp_path / "empty.csv", ""))
    with pytest.raises(IngestError, match="no such file"):
        ingest_file(db, "orders", tmp_path / "missing.csv")
    assert not db.exists()


def test_newer_warehouse_schema_is_refused(db, tmp_path):
    with writing(db) as con:
        con.execute("update shopkpi_meta set value = '99' where key = 'schema_version'")
    with pytest.raises(IngestError, match="newer shopkpi"):
        ingest_file(db, "orders", write(tmp_path / "o.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\n"))


def test_kill_9_mid_file_leaves_the_warehouse_as_it_was_and_a_rerun_loads_once(db, tmp_path, monkeypatch):
    ingest_file(db, "orders", write(tmp_path / "o.csv", ORDERS_HEADER + "o1,2024-06-18,paid,c1,0\n"))
    before = file_digest(db)
    big = write_events_csv(tmp_path / "events.csv", 2_000_000)
    scratch = tmp_path / "scratch"  # the temporary folder of the killed load and of the rerun
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    process = subprocess.Popen(
        [sys.executable, "-m", "shopkpi", "ingest", "events", str(big), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    # Wait until the writer is working on its private copy of the warehouse, then kill it without warning.
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".warehouse.duckdb.*.tmp")):
        assert process.poll() is None, "ingest finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    left = [found.name for found in scratch.iterdir()]
    assert len(left) == 1 and left[0].startswith(f"shopkpi-ingest-{process.pid}-"), left  # a kill leaves it behind
    assert file_digest(db) == before
    assert query(db, "select count(*) from events") == [(0,)]
    result = ingest_file(db, "events", big)
    assert (result.inserted, result.status) == (2_000_000, "loaded")
    assert ingest_file(db, "events", big).status == "already loaded"
    assert query(db, "select count(*), count(distinct event_id) from events") == [(2_000_000, 2_000_000)]
    assert not list(tmp_path.glob(".warehouse.duckdb.*.tmp")), "the stale copy of the killed writer was not removed"
    assert not list(scratch.iterdir()), "the killed load's scratch folder was not removed"


def test_a_scratch_folder_in_use_is_kept_whatever_its_process_id_and_an_abandoned_one_is_removed(tmp_path, monkeypatch):
    """A load in another container sharing /tmp names its folder after a process id that does not exist here: its
    folder is kept while its owner file is locked, and removed once the lock is gone (the kernel lets go of it when
    the process ends). A folder without an owner file (an earlier shopkpi's) goes once its process has ended and it
    is over a minute old."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = 2**22 + 12345  # above Linux's largest process id: no process here has it
    elsewhere = tmp_path / f"shopkpi-ingest-{dead}-abc"
    elsewhere.mkdir()
    old = tmp_path / f"shopkpi-ingest-{dead}-old"
    recent = tmp_path / f"shopkpi-ingest-{dead}-new"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "transcoded.csv").write_text("a\n")
    os.utime(old, (time.time() - 120, time.time() - 120))
    with open(elsewhere / ".owner", "w") as owner:
        fcntl.flock(owner, fcntl.LOCK_EX)  # the other container's live load
        with scratch_folder("shopkpi-ingest-") as mine:
            assert Path(mine).parent == tmp_path and Path(mine).name.startswith(f"shopkpi-ingest-{os.getpid()}-")
            assert elsewhere.exists() and recent.exists() and not old.exists()
            # Another load meanwhile keeps this one's folder.
            with scratch_folder("shopkpi-ingest-"):
                assert Path(mine).exists()
        assert not Path(mine).exists() and elsewhere.exists()
    with scratch_folder("shopkpi-ingest-"):  # the other load has ended
        assert not elsewhere.exists() and recent.exists()


def test_parquet_whole_number_ids_are_stored_as_their_text_and_a_null_one_is_missing(tmp_path):
    # Events with numeric session ids, as the generator writes them: a number's text is not trimmed or searched for
    # whitespace (it has none), but a null id is still a missing value, and the ids are stored as text.
    parquet = tmp_path / "events.parquet"
    rows = """
        select * from (values
            (1001::bigint, timestamp '2024-06-18 10:00', 'page_view'),
            (null::bigint, timestamp '2024-06-18 10:01', 'click'),
            (-7::bigint, timestamp '2024-06-18 10:02', 'click')
        ) t(session_id, occurred_at, event_type)
    """
    with duckdb.connect() as con:
        con.execute(f"copy ({rows}) to '{parquet}'")
    db = tmp_path / "w.duckdb"
    result = ingest_file(db, "events", parquet)
    assert (result.inserted, result.rejected) == (2, 1)
    assert query(db, "select session_id from events order by occurred_at") == [("1001",), ("-7",)]
    assert query(db, "select line, column_name, reason from rejects") == [(2, "session_id", "missing value")]


def test_parquet_times_and_whole_numbers_load_and_reject_as_their_text_would(tmp_path):
    # The same rows as a Parquet file with typed columns (a time with its offset, whole numbers) and as a CSV: the
    # Parquet values are validated in their own types (issue 14), with the same stored rows and the same rejects.
    # Row 2: started_at in 1850 (out of range); row 3: pageviews 0 (must be > 0); row 4: no started_at;
    # row 5: pageviews over INTEGER's range. Rows 1 and 6 load; 10:00 UTC is 18:00 in the store's Shanghai.
    rows = """
        select * from (values
            ('s1', 'v1', timestamptz '2024-06-18 10:00:00+00', 'email', 3::bigint),
            ('s2', 'v1', timestamptz '1850-01-01 00:00:00+00', 'email', 1::bigint),
            ('s3', 'v2', timestamptz '2024-06-18 11:00:00+00', 'email', 0::bigint),
            ('s4', 'v2', null::timestamptz, 'email', 2::bigint),
            ('s5', 'v3', timestamptz '2024-06-18 12:00:00+00', 'email', 9999999999::bigint),
            ('s6', 'v3', timestamptz '2024-06-19 23:30:00+00', 'email', null::bigint)
        ) t(session_id, visitor_id, started_at, source, pageviews)
    """
    parquet, csv = tmp_path / "sessions.parquet", tmp_path / "sessions.csv"
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"copy ({rows}) to '{parquet}'")
        con.execute(f"copy ({rows}) to '{csv}' (header)")
    typed, text = tmp_path / "typed.duckdb", tmp_path / "text.duckdb"
    kept = ingest_file(typed, "sessions", parquet, store_timezone="Asia/Shanghai")
    read = ingest_file(text, "sessions", csv, store_timezone="Asia/Shanghai")
    assert (kept.inserted, kept.rejected) == (read.inserted, read.rejected) == (2, 4)
    stored = "select session_id, started_at, pageviews from sessions order by 1"
    assert query(typed, stored) == query(text, stored)
    assert [(s, str(t), p) for s, t, p in query(typed, stored)] == [
        ("s1", "2024-06-18 18:00:00", 3),
        ("s6", "2024-06-20 07:30:00", None),
    ]
    reasons = "select line, column_name, reason from rejects order by line"
    found = query(typed, reasons)
    assert [(line, column) for line, column, _ in found] == [
        (2, "started_at"),
        (3, "pageviews"),
        (4, "started_at"),
        (5, "pageviews"),
    ]
    assert found[1][2] == "must be > 0, got 0" and found[2][2] == "missing value"
    assert found[0][2].startswith("not a date-time") and found[3][2].startswith("not a whole number: 9999999999")
    text_reasons = query(text, reasons)
    # The CSV's lines count its header (line 1): the same rows are one line further down.
    assert [(line - 1, column) for line, column, _ in text_reasons] == [(line, column) for line, column, _ in found]
