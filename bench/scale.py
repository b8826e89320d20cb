"""Scale benchmark (issue 14): a generated year of a shop, loaded the way a user would, against DuckDB's plain load.

    python -m bench.scale                      # 500,000 sessions (~2.4 M events): a few minutes
    python -m bench.scale --sessions 10000000  # the mid-size shop of issue 14 (~49 M events)
    python -m bench.scale --keep /tmp/scale    # keep the files and the warehouses
    python -m bench.scale --csv                # … and load every table once more as one CSV file
    python -m bench.scale --no-monthly         # not as monthly files
    python -m bench.scale --timezone Asia/Shanghai  # every load into warehouses of a store in that time zone
    python -m bench.scale --baseline /work/main  # incremental loads also with another checkout's code (the before)
    python -m bench.scale --baseline /work/main --baseline-loads  # … and every file with it too
    python -m bench.scale --visitor-splits source,campaign  # warehouses that keep those splits' visitors' spans
    python -m bench.scale --visitor-numbers off  # warehouses that keep the whole shop's visitors' spans instead

Steps, each printed with its time and, where it is a process, its peak memory (the child's own maximum resident set,
from wait4):
1. generate canonical Parquet files (../shared/tools/gen_canonical_shop.py), and the big tables (sessions, events)
   also as one file per month;
2. the floors: DuckDB alone, `create table … as select * from read_parquet(…)` per file into a fresh file (the
   file's own types), and the same rows inserted into the canonical table (`warehouse.table_ddl`: its types, e.g.
   text session ids where the generator writes numbers); and, for a table loaded as one file, what issue 14 asks a
   load to do beyond that insert at the least: the same insert into a copy of the warehouse as the load finds it,
   then the rollups that read the table computed whole by their own queries (or all of them built, where the
   warehouse has none yet), as one transaction, timed inside the process (no validation, no repeated keys, no
   journal, no A/B pair);
3. `shopkpi ingest TABLE FILE` per table, one process each, in the order a shop loads them: one file per table, then
   (into a second warehouse) the big tables as monthly files, and with `--csv` (into a third) one CSV file per table,
   the same rows, against DuckDB's `read_csv` of them;
4. the full KPI set (`compute_kpis`) for the last 30 and 365 days, warm (best of 3), from the rollups the loads kept
   (`shopkpi ingest` builds them on a warehouse's first load) and from the raw tables, against the hand-written
   single query of bench/kpis.py on the same warehouse (`--no-kpis` skips it);
5. incremental loads: one new order at a time into the loaded warehouse (the first after the last big load, then
   two more), and the same with the baseline's code if given; then a day's files (the last day's sessions, events,
   orders and order lines again a day later, new ids, the same visitors), two rounds, alternating with the
   baseline's code if given. `--incremental-only` fills the warehouse with DuckDB straight from the files instead of
   steps 2–4 (minutes instead of a long load on a busy machine).
Ratios are against the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.kpis import reference_kpis, same_numbers
from metrics.compute import compute_kpis, rollups_current
from metrics.periods import Period, data_span
from metrics.rollups import checked_splits, choose_visitor_numbers, choose_visitor_splits
from pipelines.ingest import ingest_file
from warehouse import TABLES, table_ddl, writing

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "gen_canonical_shop.py"
# DuckDB alone: the file (Parquet, or CSV by its suffix) into a table of a fresh database file, checkpointed; as the
# file's own types (create table as select; a CSV's as DuckDB's sniffer reads them), or, given the canonical table's
# DDL and name, into that table (its types: e.g. text session ids).
FLOOR_SCRIPT = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
reader = "read_csv" if sys.argv[2].endswith(".csv") else "read_parquet"
rows = f"select * from {reader}('{sys.argv[2]}')"
if len(sys.argv) > 3:
    con.execute(sys.argv[3])
    con.execute(f"insert into {sys.argv[4]} by name {rows}")
else:
    con.execute(f"create table t as {rows}")
con.execute("checkpoint")
"""
# The least a load of issue 14 does, timed inside the process and printed: the file's rows inserted into the
# canonical table of a copy of the warehouse (as FLOOR_SCRIPT's typed load), then the rollups that read the table
# computed whole, or every rollup built where the warehouse has none (as a first load builds them), committed.
FLOOR_ROLLUPS_SCRIPT = """
import duckdb, sys, time
from metrics.rollups import build_rollups
from warehouse import TABLES, table_ddl
from warehouse.rollups import WHOLE, has_rollups, reading, refresh_rollups
db, source, table = sys.argv[1:4]
started = time.perf_counter()
con = duckdb.connect(db)
reader = "read_csv" if source.endswith(".csv") else "read_parquet"
for canonical in TABLES.values():  # a fresh file: the rollups read every canonical table
    con.execute(table_ddl(canonical))
con.execute("begin")
con.execute(f"insert into {table} by name select * from {reader}('{source}')")
if has_rollups(con):
    refresh_rollups(con, {name: WHOLE for name in reading(con, table)})
else:
    build_rollups(con)
con.execute("commit")
con.execute("checkpoint")
con.close()
print(time.perf_counter() - started)
"""
# One SQL statement run by a child process, printing its rows' first column: the bench writes the monthly and CSV
# files this way, so that its own memory stays small.
SQL_SCRIPT = """
import duckdb, sys
for row in duckdb.connect().execute(sys.argv[1]).fetchall():
    print(row[0])
"""
# Starts each child the bench times and reports how it went, one JSON line per request read on stdin: a child's peak
# as wait4 reports it starts from its parent's resident set at the fork (Linux keeps the high-water mark across exec),
# so the children are forked by this small process rather than by the bench, whose own memory grows (to 3.3 GB after
# the KPI set: every one-order load then "peaked" at 3.3 GB).
LAUNCHER_SCRIPT = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    request = json.loads(line)
    started = time.perf_counter()
    child = subprocess.Popen(
        request["command"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=request["env"],
        cwd=request["cwd"],
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_kb": usage.ru_maxrss, "code": code, "output": output}), flush=True)
"""
LOAD_ORDER = ("products", "sessions", "events", "orders", "order_items", "ad_spend", "inventory", "expenses")
MONTHLY = {"sessions": "started_at", "events": "occurred_at"}  # tables also loaded as monthly files, by this column
REPO = Path(__file__).resolve().parents[1]


def run_child(command: list[str], code: Path = REPO) -> tuple[float, float, str]:
    """Run a process in `code` (so `python -m` imports that checkout's code); its wall time in seconds, its peak
    resident memory in MB, and its output (stdout + stderr). The launcher starts it (see LAUNCHER_SCRIPT)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))}
    launcher = _launcher()
    assert launcher.stdin is not None and launcher.stdout is not None
    launcher.stdin.write(json.dumps({"command": command, "env": env, "cwd": str(code)}) + "\n")
    launcher.stdin.flush()
    answer = json.loads(launcher.stdout.readline())
    if answer["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed ({answer['code']}):\n{answer['output']}")
    return answer["seconds"], answer["peak_kb"] / 1024, answer["output"]


@functools.cache
def _launcher() -> subprocess.Popen:
    """The small process that starts every child. It is small whenever it starts: it forks from this process, but
    its exec of a new Python leaves that copy behind."""
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )


def ingest(table: str, source: Path, db: Path, code: Path = REPO) -> tuple[float, float]:
    """`shopkpi ingest TABLE FILE` as a process: seconds and peak MB. The row and size limits are raised as a user
    loading a file over the defaults would (the 10 M-session shop's events are one file of 49 M rows, 2.4 GB as
    CSV)."""
    os.environ.setdefault("SHOPKPI_MAX_ROWS", "200000000")  # run_child passes the environment on
    os.environ.setdefault("SHOPKPI_MAX_FILE_MB", "8192")  # the year's events as CSV are 2.4 GB of text
    seconds, peak, _ = run_child([sys.executable, "-m", "shopkpi", "ingest", table, str(source), "--db", str(db)], code)
    return seconds, peak


def floor(source: Path, work: Path, table: str | None = None) -> float:
    """DuckDB's plain load of one Parquet or CSV file into a fresh database file, in seconds: as the file's types,
    or into `table`'s canonical DDL."""
    target = work / "plain.duckdb"
    target.unlink(missing_ok=True)
    typed = [table_ddl(TABLES[table]), table] if table else []
    seconds = run_child([sys.executable, "-c", FLOOR_SCRIPT, str(target), str(source), *typed])[0]
    target.unlink(missing_ok=True)
    return seconds


def floor_with_rollups(source: Path, table: str, db: Path, work: Path, keep: bool = False) -> float:
    """FLOOR_ROLLUPS_SCRIPT on a copy of the warehouse at `db` as it is before the load of `source` (a fresh file if
    there is none yet), in seconds. The copy is work/rolled.duckdb, removed unless `keep`."""
    target = work / "rolled.duckdb"
    target.unlink(missing_ok=True)
    if db.exists():
        shutil.copyfile(db, target)
    output = run_child([sys.executable, "-c", FLOOR_ROLLUPS_SCRIPT, str(target), str(source), table])[2]
    if not keep:
        target.unlink(missing_ok=True)
    return float(output.split()[-1])


def monthly_files(source: Path, column: str, folder: Path) -> list[Path]:
    """The Parquet file split into one file per calendar month of `column`, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    months = sql_child(f"select distinct strftime({column}, '%Y-%m') from read_parquet('{source}') order by 1")
    files = []
    for month in months:
        target = folder / f"{source.stem}-{month}.parquet"
        sql_child(
            f"copy (select * from read_parquet('{source}') where strftime({column}, '%Y-%m') = '{month}') "
            f"to '{target}' (format parquet, compression zstd)"
        )
        files.append(target)
    return files


def sql_child(sql: str) -> list[str]:
    """One DuckDB statement run by a child process (SQL_SCRIPT): the first column of its rows, as text."""
    return run_child([sys.executable, "-c", SQL_SCRIPT, sql])[2].split()


def csv_files(files: dict[str, list[Path]], folder: Path) -> dict[str, list[Path]]:
    """Each table's Parquet files also written as CSV (a header, DuckDB's defaults), as most exports come."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for table, sources in files.items():
        written[table] = []
        for source in sources:
            target = folder / f"{source.stem}.csv"
            if not target.exists():
                sql_child(f"copy (select * from read_parquet('{source}')) to '{target}' (header)")
            written[table].append(target)
    return written


def disk_gb(db: Path) -> tuple[float, float]:
    """The live warehouse file and, beside it, the idle copy and journal of the A/B pair (warehouse/store.py), GB."""
    extra = 0
    for sibling in (db.with_name(f".{db.name}.idle"), db.with_name(f".{db.name}.journal")):
        if sibling.is_dir():
            extra += sum(f.stat().st_size for f in sibling.iterdir())
        elif sibling.exists():
            extra += sibling.stat().st_size
    return db.stat().st_size / 1e9, extra / 1e9


def load_all(
    files: dict[str, list[Path]],
    db: Path,
    work: Path,
    code: Path = REPO,
    label: str = "",
    splits: tuple[str, ...] | None = None,
    numbers: bool | None = None,
) -> None:
    """Loads every table's files in the shop's order into a new warehouse at `db` (one an earlier run kept is removed
    first: its files would all be "already loaded"), printing one line per table against the floor. With `splits` or
    `numbers`, the new warehouse is made first and keeps the visitors' spans of those splits
    (metrics.rollups.visitor_splits), and its visitors numbered or not (keeps_visitor_numbers)."""
    for found in [*db.parent.glob(f"{db.name}*"), *db.parent.glob(f".{db.name}*")]:
        if found.is_dir():
            shutil.rmtree(found)
        else:
            found.unlink()
    if splits is not None or numbers is not None:
        with writing(db, store_timezone=os.environ.get("SHOPKPI_TIMEZONE") or "UTC") as con:
            if splits is not None:
                choose_visitor_splits(con, splits)
                label += f" (visitors' spans of {', '.join(splits) or 'no split'})"
            if numbers is not None:
                choose_visitor_numbers(con, numbers)
                label += f" (visitors numbered: {'on' if numbers else 'off'})"
    print(
        f"\n{label}\n{'table':<12} {'files':>5} {'rows':>12} {'DuckDB s':>9} {'typed s':>8} {'+rollups s':>10} "
        f"{'shopkpi s':>10} {'ratio':>6} {'rows/s':>11} {'% floor':>8} {'% typed':>8} {'% +rollups':>10} "
        f"{'peak MB':>8}"
    )
    floor_total = typed_total = ours_total = 0.0
    rolled_total: float | None = 0.0
    total_rows = 0
    for table, sources in files.items():
        rows = sum(rows_of(source) for source in sources)
        base = typed = ours = peak = 0.0
        # Only for one file: recomputing the rollups whole for each of 12 monthly files is no floor of their loads.
        rolled = floor_with_rollups(sources[0], table, db, work) if len(sources) == 1 else None
        for source in sources:
            base += floor(source, work)
            typed += floor(source, work, table)
            seconds, memory = ingest(table, source, db, code)
            ours, peak = ours + seconds, max(peak, memory)
        floor_total, typed_total = floor_total + base, typed_total + typed
        rolled_total = None if rolled is None or rolled_total is None else rolled_total + rolled
        ours_total, total_rows = ours_total + ours, total_rows + rows
        print(
            f"{table:<12} {len(sources):>5} {rows:>12,} {base:>9.2f} {typed:>8.2f} {_seconds(rolled):>10} "
            f"{ours:>10.2f} {ours / base:>6.1f} {rows / ours:>11,.0f} {100 * base / ours:>7.0f}% "
            f"{100 * typed / ours:>7.0f}% {_share(rolled, ours):>10} {peak:>8.0f}"
        )
    print(
        f"{'all':<12} {'':>5} {total_rows:>12,} {floor_total:>9.2f} {typed_total:>8.2f} {_seconds(rolled_total):>10} "
        f"{ours_total:>10.2f} {ours_total / floor_total:>6.1f} {total_rows / ours_total:>11,.0f} "
        f"{100 * floor_total / ours_total:>7.0f}% {100 * typed_total / ours_total:>7.0f}% "
        f"{_share(rolled_total, ours_total):>10}"
    )
    live, extra = disk_gb(db)
    print(f"warehouse: {live:.2f} GB (+ {extra:.2f} GB idle copy and journal)")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _share(floor_seconds: float | None, ours: float) -> str:
    """The floor's time as a share of ours (its speed as a share of the floor's), or — where it was not measured."""
    return "—" if floor_seconds is None else f"{100 * floor_seconds / ours:.0f}%"


def incremental(db: Path, work: Path, day: date, count: int, code: Path = REPO, label: str = "shopkpi") -> None:
    """`count` loads of a one-order file each into `db`, one line each: the `shopkpi ingest` process (with its
    start-up) and, for this checkout, the load itself as ingest_file times it in this process."""
    for n in range(count):
        one = work / f"one_order_{label}_{n}.csv"
        one.write_text(f"order_id,ordered_at,status\nSCALE-{label}-{n},{day} 12:00,paid\n")
        seconds, peak = ingest("orders", one, db, code)
        inside = ""
        if code == REPO:
            again = work / f"one_order_{label}_{n}_b.csv"
            again.write_text(f"order_id,ordered_at,status\nSCALE-{label}-{n}-b,{day} 12:00,paid\n")
            session = work / f"one_session_{label}_{n}.csv"
            session.write_text(
                f"session_id,visitor_id,started_at,source\nSCALE-{label}-{n},SCALE-{label}-{n},{day} 12:00,google\n"
            )
            inside = (
                f"; in process: {ingest_file(db, 'orders', again).seconds:.2f} s, one session "
                f"{ingest_file(db, 'sessions', session).seconds:.2f} s"
            )
        live, _ = disk_gb(db)
        print(
            f"incremental ({label}) {n + 1}: 1 order into the {live:.2f} GB warehouse: {seconds:.2f} s as a process "
            f"({peak:.0f} MB){inside}"
        )


# A day after the warehouse's last one, as a shop's daily export brings it: the last day's rows again one day later
# (`$shift` days), with new ids (`$prefix`) and the same visitors and customers (each comes back).
NEXT_DAY = {
    "sessions": """
        select * replace ($prefix || session_id as session_id, started_at + $shift * interval 1 day as started_at)
        from sessions where started_at >= $day and started_at < $day + interval 1 day""",
    "events": """
        select * replace (
            $prefix || event_id as event_id, $prefix || session_id as session_id,
            occurred_at + $shift * interval 1 day as occurred_at
        )
        from events where occurred_at >= $day and occurred_at < $day + interval 1 day""",
    "orders": """
        select * replace (
            $prefix || order_id as order_id, $prefix || session_id as session_id,
            ordered_at + $shift * interval 1 day as ordered_at
        )
        from orders where ordered_at >= $day and ordered_at < $day + interval 1 day""",
    "order_items": """
        select * replace ($prefix || order_id as order_id)
        from order_items
        where (store, order_id) in (
            select store, order_id from orders where ordered_at >= $day and ordered_at < $day + interval 1 day
        )""",
}


def next_days(db: Path, work: Path, checkouts: list[tuple[str, Path]], rounds: int) -> None:
    """A day's files (sessions, events, orders, order lines: NEXT_DAY) loaded into `db` one table at a time with
    `shopkpi ingest`, round after round (each a day later, each checkout's in turn), one line per day: each file's
    rows and seconds as a process, against one order loaded the same way just before (the fixed cost of a load)."""
    day = busiest_end(db)
    shift = 0
    for round_ in range(rounds):
        for label, code in checkouts:
            shift += 1
            folder = work / f"next_day_{label}_{round_}"
            folder.mkdir(exist_ok=True)
            prefix = f"NEXT-{label}-{round_}-"
            one = folder / "one_order.csv"
            one.write_text(f"order_id,ordered_at,status\n{prefix}ONE,{day + timedelta(days=shift)} 12:00,paid\n")
            floor_seconds, _ = ingest("orders", one, db, code)
            parts, total = [], 0.0
            for table, sql in NEXT_DAY.items():
                path = folder / f"{table}.parquet"
                with duckdb.connect(str(db), read_only=True) as con:
                    values = {"prefix": prefix, "shift": shift, "day": day}
                    rows = con.sql(sql, params={k: v for k, v in values.items() if f"${k}" in sql})
                    rows.to_parquet(str(path))
                seconds, _ = ingest(table, path, db, code)
                total += seconds
                parts.append(f"{table} {rows_of(path):,} rows {seconds:.2f} s")
            print(
                f"next day ({label}) {day + timedelta(days=shift)}: {', '.join(parts)}; all {total:.2f} s "
                f"(one order {floor_seconds:.2f} s)"
            )


def busiest_end(db: Path) -> date:
    """The last day with sessions: the day an incremental load lands on. The data's last day can be one of orders
    only (an order just after midnight), where refreshing its rollups reads no events at all."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql("select cast(max(started_at) as date) from sessions").fetchall()[0][0]


def fill_directly(files: dict[str, list[Path]], db: Path) -> float:
    """Inserts every file into its canonical table in one writing block, without ingest's checks (events without
    ids, as ingest keeps them): a warehouse of the shop's size in the time DuckDB takes, to time the incremental loads
    on."""
    started = time.perf_counter()
    with writing(db) as con:
        for table, sources in files.items():
            for source in sources:
                con.execute(f"insert into {table} by name select * from read_parquet('{source}')")
    return time.perf_counter() - started


def rows_of(path: Path) -> int:
    """The rows of a Parquet file; of a CSV file, those of the Parquet file it was written from (csv_files)."""
    if path.suffix == ".csv":
        path = path.parent.parent / f"{path.stem}.parquet"
    with duckdb.connect() as con:
        return con.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]


def best_of(action, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500_000)
    parser.add_argument("--keep", type=Path, help="folder to keep the files and the warehouses in")
    parser.add_argument("--baseline", type=Path, help="a checkout whose code makes the incremental loads (the before)")
    parser.add_argument("--baseline-loads", action="store_true", help="the baseline also loads every file")
    parser.add_argument("--no-kpis", action="store_true", help="skip the KPI set timings")
    parser.add_argument("--no-monthly", action="store_true", help="skip the monthly files' loads")
    parser.add_argument(
        "--csv", action="store_true", help="also load one CSV file per table (the same rows) into a third warehouse"
    )
    parser.add_argument(
        "--timezone", help="the warehouses' store time zone, as SHOPKPI_TIMEZONE sets it (default: shopkpi's, UTC)"
    )
    parser.add_argument(
        "--visitor-splits",
        help="the splits whose visitors' spans the loaded warehouses keep (shopkpi rollups --visitor-splits; default: "
        "the warehouse's default, none)",
    )
    parser.add_argument(
        "--visitor-numbers",
        choices=["on", "off"],
        help="whether the loaded warehouses keep their visitors numbered (shopkpi rollups --visitor-numbers; default: "
        "the warehouse's default, on)",
    )
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="fill the warehouse with DuckDB straight from the files (no ingest timings); time the incremental loads",
    )
    args = parser.parse_args()
    splits = None
    if args.visitor_splits is not None:
        names = [] if args.visitor_splits.strip().lower() == "none" else args.visitor_splits.split(",")
        splits = checked_splits(names)
    numbers = None if args.visitor_numbers is None else args.visitor_numbers == "on"
    if args.timezone:
        os.environ["SHOPKPI_TIMEZONE"] = args.timezone  # the loads are processes of their own: run_child passes it on
    work = (args.keep or Path(tempfile.mkdtemp(prefix="shopkpi-scale-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    files, db = work / "files", work / "shopkpi.duckdb"
    zone = os.environ.get("SHOPKPI_TIMEZONE") or "UTC"
    print(f"shop: {args.sessions:,} sessions, one year; store time zone {zone}; files in {work}")
    print(f"load average {os.getloadavg()[0]:.1f}")
    if (files / "orders.parquet").exists():  # a --keep folder of an earlier run: its files are reused
        print(f"files of an earlier run reused: {files}")
    else:
        seconds, _, _ = run_child([sys.executable, str(GENERATOR), str(args.sessions), str(files)])
        print(f"generate: {seconds:.1f} s")
    tables = [t for t in LOAD_ORDER if (files / f"{t}.parquet").exists()]
    one_file = {t: [files / f"{t}.parquet"] for t in tables}
    if args.incremental_only:
        seconds = fill_directly(one_file, db)
        live, _ = disk_gb(db)
        print(f"warehouse filled straight from the files by DuckDB (not by ingest): {seconds:.1f} s, {live:.2f} GB")
        with duckdb.connect(str(db), read_only=True) as con:
            span = data_span(con)
        assert span is not None
        print()
        incremental(db, work, busiest_end(db), 3)
        if args.baseline:
            incremental(db, work, busiest_end(db), 2, args.baseline, label="baseline")
        next_days(db, work, [("shopkpi", REPO)] + ([("baseline", args.baseline)] if args.baseline else []), 2)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    load_all(one_file, db, work, label="one file per table", splits=splits, numbers=numbers)
    with duckdb.connect(str(db), read_only=True) as con:
        span = data_span(con)
        assert span is not None
        if not args.no_kpis:
            kpi_timings(con, span.end)
    print()
    incremental(db, work, busiest_end(db), 3)
    if args.baseline:
        incremental(db, work, busiest_end(db), 2, args.baseline, label="baseline")
    next_days(db, work, [("shopkpi", REPO)] + ([("baseline", args.baseline)] if args.baseline else []), 2)

    if not args.no_monthly:
        monthly = {
            t: monthly_files(files / f"{t}.parquet", MONTHLY[t], files / "monthly")
            if t in MONTHLY
            else [files / f"{t}.parquet"]
            for t in tables
        }
        months_db = work / "monthly.duckdb"
        load_all(monthly, months_db, work, label="big tables as monthly files", splits=splits, numbers=numbers)
        print()
        incremental(months_db, work, busiest_end(months_db), 2)
    if args.csv:
        csv_db = work / "csv.duckdb"
        csv = csv_files(one_file, files / "csv")
        load_all(csv, csv_db, work, label="one CSV file per table", splits=splits, numbers=numbers)
    if args.baseline and args.baseline_loads:
        before_db = work / "baseline.duckdb"
        load_all(one_file, before_db, work, args.baseline, label=f"baseline ({args.baseline}): one file per table")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def kpi_timings(con: duckdb.DuckDBPyConnection, end: date) -> None:
    """The KPI set for the last 30 days and the last 365, from the rollups the loads kept (if current) and from the
    raw tables, against the hand-written single query."""
    current = rollups_current(con)
    print(f"\nKPI set (rollups {'current' if current else 'MISSING: both columns read the raw tables'})")
    print(f"{'period':<16} {'rollups s':>10} {'raw s':>8} {'one query s':>12} {'rollups/one':>12}  same numbers")
    for label, period in (
        ("last 30 days", Period(end - timedelta(days=29), end)),
        ("last 365 days", Period(end - timedelta(days=364), end)),
    ):
        compute_kpis(con, period)  # warm
        ours = best_of(lambda p=period: compute_kpis(con, p))
        raw = best_of(lambda p=period: compute_kpis(con, p, rollups=False))
        reference = best_of(lambda p=period: reference_kpis(con, p))
        checked = reference_kpis(con, period)
        differ = same_numbers(compute_kpis(con, period).row(0, named=True), checked) or same_numbers(
            compute_kpis(con, period, rollups=False).row(0, named=True), checked
        )
        verdict = differ or "yes"
        print(f"{label:<16} {ours:>10.2f} {raw:>8.2f} {reference:>12.2f} {ours / reference:>12.2f}  {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
