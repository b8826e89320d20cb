"""The `shopkpi` command line as a user runs it: real processes, exit codes and messages of SPEC §5."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from metrics.compute import rollups_current
from warehouse import TABLES, Reader

ENV = {key: value for key, value in os.environ.items() if not key.startswith("SHOPKPI_")}


def shopkpi(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shopkpi", *args], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=300
    )


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "shopkpi.duckdb"
    run = shopkpi("demo", "--days", "21", "--seed", "3", "--no-serve", "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert "generated in" in run.stdout and "loaded in" in run.stdout
    return db


def test_demo_loads_every_table_through_ingest_with_nothing_rejected(demo_db):
    # The demo has session logs, so no platform traffic report (the traffic table is for shops without them).
    tables = [table for table in TABLES if table != "traffic"]
    with duckdb.connect(str(demo_db), read_only=True) as con:
        for table in tables:
            assert con.sql(f"select count(*) from {table}").fetchall()[0][0] > 0, table
        loads = con.sql("select table_name, rows_read, inserted, rejected from ingest_log").fetchall()
        assert sorted(table for table, *_ in loads) == sorted(tables)
        assert all(read == inserted and rejected == 0 for _, read, inserted, rejected in loads)
        assert con.sql("select value from shopkpi_meta where key = 'timezone'").fetchall() == [("Asia/Shanghai",)]
        # 21 days ending yesterday, in the store's calendar.
        days = con.sql("select count(distinct cast(started_at as date)) from sessions").fetchall()[0][0]
        assert days == 21
    assert (demo_db.parent / "demo" / "orders.csv").exists()


def test_every_table_key_is_unique_and_not_null_in_the_demo(demo_db):
    with duckdb.connect(str(demo_db), read_only=True) as con:
        for table in TABLES.values():
            key = ", ".join(table.key if table.name != "order_items" else ("order_id", "line_no"))
            nulls = " or ".join(f"{column} is null" for column in key.split(", "))
            total, distinct, null = con.sql(
                f"select count(*), count(distinct ({key})), count(*) filter (where {nulls}) from {table.name}"
            ).fetchall()[0]
            assert (distinct, null) == (total, 0), table.name


def test_demo_replaces_the_warehouse_rather_than_adding_to_it(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    for _ in range(2):
        assert shopkpi("demo", "--days", "7", "--no-serve", "--db", str(db)).returncode == 0
    with duckdb.connect(str(db), read_only=True) as con:
        # One load per table of the demo (every table but traffic: the demo has session logs).
        assert con.sql("select count(*) from ingest_log").fetchall() == [(len(TABLES) - 1,)]


def test_ingest_from_another_process_succeeds_while_a_reader_is_open(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    first = tmp_path / "a.csv"
    first.write_text("sku,name,category\nA,Tea,食品\n")
    assert shopkpi("ingest", "products", str(first), "--db", str(db)).returncode == 0
    reader = Reader(db)  # what the dashboard holds
    assert reader.cursor().sql("select count(*) from products").fetchall() == [(1,)]
    second = tmp_path / "b.csv"
    second.write_text("sku,name,category\nB,Cup,家居\nC,Pot,家居\n")
    run = shopkpi("ingest", "products", str(second), "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert "2 rows read = 2 inserted + 0 updated + 0 unchanged duplicates + 0 rejected" in run.stdout
    assert reader.cursor().sql("select count(*) from products").fetchall() == [(3,)]


def test_usage_errors_exit_2_and_data_errors_exit_1(tmp_path):
    bad_table = shopkpi("ingest", "customers", str(tmp_path / "x.csv"), "--db", str(tmp_path / "w.duckdb"))
    assert bad_table.returncode == 2 and "customers" in bad_table.stderr
    missing = shopkpi("ingest", "orders", str(tmp_path / "nope.csv"), "--db", str(tmp_path / "w.duckdb"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.csv'}: no such file"]
    no_warehouse = shopkpi("kpis", "--db", str(tmp_path / "none.duckdb"))
    assert no_warehouse.returncode == 1 and "no warehouse" in no_warehouse.stderr


def test_kpis_csv_makes_formula_like_campaign_names_inert(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    sessions = tmp_path / "sessions.csv"
    sessions.write_text(
        'session_id,visitor_id,started_at,source,campaign\ns1,v1,2024-06-18 10:00:00,social,"=HYPERLINK(""x"")"\n'
    )
    assert shopkpi("ingest", "sessions", str(sessions), "--db", str(db)).returncode == 0
    run = shopkpi(
        "kpis", "--from", "2024-06-18", "--to", "2024-06-18", "--by", "campaign", "--format", "csv", "--db", str(db)
    )
    assert run.returncode == 0, run.stderr
    assert "'=HYPERLINK" in run.stdout and "\n=HYPERLINK" not in run.stdout and ",=HYPERLINK" not in run.stdout


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ("max_rows = 'abc'\n", "max_rows must be a whole number above 0"),
        ("session_hours = 'soon'\n", "session_hours must be a number of hours"),
        ("max_rows = \n", "cannot read the settings file"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_1(tmp_path, config, named):
    (tmp_path / "shopkpi.toml").write_text(config)
    run = shopkpi("kpis", "--db", str(tmp_path / "none.duckdb"), cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert named in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_the_rollups_command_lists_the_rollups_and_chooses_the_splits_whose_visitors_spans_are_kept(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    header = "session_id,visitor_id,started_at,source,campaign\n"
    first = tmp_path / "s1.csv"
    first.write_text(header + "s1,v1,2024-06-18 10:00:00,google,spring\ns2,v2,2024-06-19 11:00:00,direct,\n")
    assert shopkpi("ingest", "sessions", str(first), "--db", str(db)).returncode == 0
    run = shopkpi("rollups", "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert re.search(r"^rollup_day_visitors +2 rows$", run.stdout, re.M), run.stdout  # s1, s2
    assert "visitors' spans kept for: none (" in run.stdout and "visitors numbered: on (" in run.stdout
    run = shopkpi("rollups", "--visitor-splits", "source", "--db", str(db))
    assert re.search(r"^rollup_visitor_sources +2 rows$", run.stdout, re.M), run.stdout  # v1 google, v2 direct
    assert "visitors' spans kept for: source (" in run.stdout
    wrong = shopkpi("rollups", "--visitor-splits", "campaign,region", "--db", str(db))
    assert wrong.returncode == 2 and "no visitors' spans for region" in wrong.stderr
    run = shopkpi("rollups", "--visitor-splits", "campaign", "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert re.search(r"^rollup_visitor_campaigns +2 rows$", run.stdout, re.M), run.stdout  # v1 spring, v2 none
    assert "rollup_visitor_sources" not in run.stdout and "visitors' spans kept for: campaign (" in run.stdout
    # A later load keeps the warehouse's choice: v1's spring span widened, the source's spans not built again.
    second = tmp_path / "s2.csv"
    second.write_text(header + "s3,v1,2024-06-20 10:00:00,google,spring\n")
    run = shopkpi("ingest", "sessions", str(second), "--db", str(db))
    assert run.returncode == 0 and "built the daily rollups" not in run.stdout, run.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.sql("select campaign, first_day, last_day from rollup_visitor_campaigns order by 1").fetchall()
        tables = con.sql("select table_name from duckdb_tables() where starts_with(table_name, 'rollup_visitor')")
        found = sorted(row[0] for row in tables.fetchall())
    assert spans == [("spring", date(2024, 6, 18), date(2024, 6, 20)), (None, date(2024, 6, 19), date(2024, 6, 19))]
    assert found == ["rollup_visitor_campaigns"], "no whole shop's spans: the visitors are numbered"
    missing = shopkpi("rollups", "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1 and "no warehouse at" in missing.stderr
    # Chosen before a warehouse's first load: the load builds the chosen spans with the others.
    new = tmp_path / "new.duckdb"
    run = shopkpi("rollups", "--visitor-splits", "device", "--db", str(new))
    assert run.returncode == 0 and "no rollups yet" in run.stdout and "kept for: device (" in run.stdout, run.stdout
    run = shopkpi("ingest", "sessions", str(first), "--db", str(new))
    assert run.returncode == 0 and run.stdout.count("built the daily rollups") == 1, run.stdout
    listed = shopkpi("rollups", "--db", str(new)).stdout
    assert re.search(r"^rollup_visitor_devices +2 rows$", listed, re.M) and "rollup_visitor_sources" not in listed


def test_the_rollups_command_checks_the_rollups_against_a_rebuild_and_rebuilds_them(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    sessions = tmp_path / "s.csv"
    sessions.write_text(
        "session_id,visitor_id,started_at,source\n"
        "s1,v1,2024-06-18 10:00:00,google\ns2,v2,2024-06-18 11:00:00,direct\ns3,v1,2024-06-19 09:00:00,google\n"
    )
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,ordered_at,status,session_id\no1,2024-06-18 10:30:00,paid,s1\n")
    for table, path in (("sessions", sessions), ("orders", orders)):
        assert shopkpi("ingest", table, str(path), "--db", str(db)).returncode == 0
    run = shopkpi("rollups", "--check", "--db", str(db))
    assert run.returncode == 0, run.stderr
    # 18 June google and direct, 19 June google.
    assert re.search(r"^rollup_sessions +3 rows  same as a rebuild$", run.stdout, re.M), run.stdout
    assert re.search(r"^visitor_numbers +2 rows  one number per stored visitor$", run.stdout, re.M), run.stdout
    assert re.search(r"^all \d+ rollups agree with the tables", run.stdout, re.M), run.stdout
    # A stored row that is not what the tables give: one row a rebuild would not keep, and its right one missing.
    with duckdb.connect(str(db)) as con:
        con.execute("update rollup_sessions set sessions = sessions + 1 where day = date '2024-06-19'")
    run = shopkpi("rollups", "--check", "--db", str(db))
    assert run.returncode == 1
    differing = re.findall(r"^(\w+) .* DIFFERS: (.*)$", run.stdout, re.M)
    assert differing == [("rollup_sessions", "1 stored rows a rebuild would not keep, 1 it would add")], run.stdout
    assert "1 of " in run.stderr and "(rollup_sessions)" in run.stderr and "shopkpi rollups --rebuild" in run.stderr
    run = shopkpi("rollups", "--rebuild", "--check", "--db", str(db))
    assert run.returncode == 0 and "every rollup rebuilt in" in run.stdout and "DIFFERS" not in run.stdout, run.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("select sessions from rollup_sessions where day = date '2024-06-19'").fetchall() == [(1,)]
    # A visitor without a number (v2): the numbers say so, and the visitors' rollup made from them differs.
    with duckdb.connect(str(db)) as con:
        con.execute("delete from visitor_numbers where visitor_id = 'v2'")
    run = shopkpi("rollups", "--check", "--db", str(db))
    assert run.returncode == 1
    differing = dict(re.findall(r"^(\w+) .* DIFFERS: (.*)$", run.stdout, re.M))
    expected = "0 numbers given twice, to a visitor numbered twice or to no stored visitor, 1 visitors without one"
    assert differing["visitor_numbers"] == expected
    assert sorted(differing) == ["rollup_day_visitors", "visitor_numbers"], run.stdout
    # And v1 numbered twice (1 and 99): one number too many.
    with duckdb.connect(str(db)) as con:
        numbered = "select store, visitor_id, 99 as visitor_no from visitor_numbers"
        con.execute(f"insert into visitor_numbers by name {numbered}")
    run = shopkpi("rollups", "--check", "--db", str(db))
    differing = dict(re.findall(r"^(\w+) .* DIFFERS: (.*)$", run.stdout, re.M))
    assert differing["visitor_numbers"].startswith("1 numbers given twice,"), run.stdout
    missing = shopkpi("rollups", "--check", "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1 and "no warehouse at" in missing.stderr


def test_the_rollups_command_keeps_the_visitors_numbered_or_not(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    header = "session_id,visitor_id,started_at,source,campaign\n"
    first = tmp_path / "s1.csv"
    first.write_text(header + "s1,v1,2024-06-18 10:00:00,google,spring\ns2,v2,2024-06-18 11:00:00,direct,\n")
    # Chosen before the first load, which builds them with the other rollups.
    run = shopkpi("rollups", "--visitor-numbers", "ON", "--db", str(db))
    assert run.returncode == 0 and "visitors numbered: on (" in run.stdout, run.stdout + run.stderr
    assert shopkpi("ingest", "sessions", str(first), "--db", str(db)).returncode == 0
    listed = shopkpi("rollups", "--db", str(db)).stdout
    assert re.search(r"^rollup_day_visitors +2 rows$", listed, re.M), listed  # 18 June: v1 google, v2 direct
    second = tmp_path / "s2.csv"
    second.write_text(header + "s3,v3,2024-06-19 10:00:00,google,spring\n")
    assert shopkpi("ingest", "sessions", str(second), "--db", str(db)).returncode == 0
    with duckdb.connect(str(db), read_only=True) as con:
        numbers = con.sql("select visitor_id, visitor_no from visitor_numbers order by 2").fetchall()
    assert numbers == [("v1", 1), ("v2", 2), ("v3", 3)] or numbers == [("v2", 1), ("v1", 2), ("v3", 3)]
    wrong = shopkpi("rollups", "--visitor-numbers", "maybe", "--db", str(db))
    assert wrong.returncode == 2 and "choose on or off" in wrong.stderr
    run = shopkpi("rollups", "--visitor-numbers", "off", "--db", str(db))
    assert run.returncode == 0 and "visitors numbered: off (" in run.stdout and "rollup_day_visitors" not in run.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert not con.sql("select * from duckdb_tables() where table_name = 'visitor_numbers'").fetchall()


def test_the_first_ingest_builds_the_daily_rollups_and_later_loads_keep_them_in_step(tmp_path):
    db = tmp_path / "shopkpi.duckdb"
    header = "session_id,visitor_id,started_at,source\n"
    first = tmp_path / "s1.csv"
    first.write_text(header + "s1,v1,2024-06-18 10:00:00,google\ns2,v2,2024-06-19 11:00:00,direct\n")
    run = shopkpi("ingest", "sessions", str(first), "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("built the daily rollups") == 1
    with duckdb.connect(str(db), read_only=True) as con:
        # Built in the load's own writer, published with the rows: one publication (a second writer's build would
        # have been the second).
        assert con.sql("select value from shopkpi_meta where key = 'generation'").fetchall() == [("1",)]
    second = tmp_path / "s2.csv"
    second.write_text(header + "s3,v1,2024-06-19 12:00:00,google\n")
    run = shopkpi("ingest", "sessions", str(second), "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert "built the daily rollups" not in run.stdout  # the load refreshed 19 June itself
    with duckdb.connect(str(db), read_only=True) as con:
        assert rollups_current(con)
        by_day = con.sql("select day, sum(sessions) from rollup_sessions group by day order by day").fetchall()
        days = con.sql(
            """select n.visitor_id, min(d.day), max(d.day)
            from rollup_day_visitors d join visitor_numbers n using (visitor_no) group by all order by 1"""
        ).fetchall()
    assert by_day == [(date(2024, 6, 18), 1), (date(2024, 6, 19), 2)]
    assert days == [("v1", date(2024, 6, 18), date(2024, 6, 19)), ("v2", date(2024, 6, 19), date(2024, 6, 19))]
