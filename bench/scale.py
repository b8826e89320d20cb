"""Scale benchmark (issue 14): a generated year of a shop, loaded the way a user would, against DuckDB's plain load.

    python -m bench.scale                      # 500,000 sessions (~2.4 M events): a few minutes
    python -m bench.scale --sessions 10000000  # the mid-size shop of issue 14 (~49 M events)
    python -m bench.scale --keep /tmp/scale    # keep the files and the warehouse

Steps, each printed with its time and, where it is a process, its peak memory (the child's own maximum resident set,
from wait4):
1. generate canonical Parquet files (../shared/tools/gen_canonical_shop.py);
2. the floor: DuckDB alone, `create table … as select * from read_parquet(…)` per table into a fresh file;
3. `shopkpi ingest TABLE FILE` per table, one process each, in the order a shop loads them;
4. the full KPI set (`compute_kpis`) for the last 30 days and the whole year, warm (best of 3), against the
   hand-written single query of bench/kpis.py on the same warehouse;
5. an incremental load: one new order into the loaded warehouse.
Ratios are against the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.kpis import reference_kpis, same_numbers
from metrics.compute import compute_kpis
from metrics.periods import Period, data_span

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "gen_canonical_shop.py"
# DuckDB alone: the file into a table of a fresh database file, checkpointed.
FLOOR_SCRIPT = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
    "con.execute(f\"create table t as select * from read_parquet('{sys.argv[2]}')\"); con.execute('checkpoint')"
)
LOAD_ORDER = ("products", "sessions", "events", "orders", "order_items", "ad_spend", "inventory", "expenses")


def run_child(command: list[str]) -> tuple[float, float, str]:
    """Run a process; its wall time in seconds, its peak resident memory in MB, and its output (stdout + stderr)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{output}")
    return elapsed, usage.ru_maxrss / 1024, output


def rows_of(path: Path) -> int:
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
    parser.add_argument("--keep", type=Path, help="folder to keep the files and the warehouse in")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="shopkpi-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    files, db, floor_db = work / "files", work / "shopkpi.duckdb", work / "plain.duckdb"

    print(f"shop: {args.sessions:,} sessions, one year; files in {work}")
    seconds, memory, _ = run_child([sys.executable, str(GENERATOR), str(args.sessions), str(files)])
    print(f"generate: {seconds:.1f} s")

    tables = [t for t in LOAD_ORDER if (files / f"{t}.parquet").exists()]
    rows = {t: rows_of(files / f"{t}.parquet") for t in tables}
    print(f"\n{'table':<12} {'rows':>12} {'DuckDB s':>9} {'shopkpi s':>10} {'ratio':>6} {'rows/s':>11} {'peak MB':>8}")
    floor_total = ours_total = 0.0
    for table in tables:
        source = files / f"{table}.parquet"
        floor_db.unlink(missing_ok=True)
        floor = run_child(
            [
                sys.executable,
                "-c",
                FLOOR_SCRIPT,
                str(floor_db),
                str(source),
            ]
        )[0]
        ours, peak, _ = run_child([sys.executable, "-m", "shopkpi", "ingest", table, str(source), "--db", str(db)])
        floor_total, ours_total = floor_total + floor, ours_total + ours
        print(
            f"{table:<12} {rows[table]:>12,} {floor:>9.2f} {ours:>10.2f} {ours / floor:>6.1f} "
            f"{rows[table] / ours:>11,.0f} {peak:>8.0f}"
        )
    total_rows = sum(rows.values())
    print(
        f"{'all':<12} {total_rows:>12,} {floor_total:>9.2f} {ours_total:>10.2f} {ours_total / floor_total:>6.1f} "
        f"{total_rows / ours_total:>11,.0f}"
    )
    print(f"warehouse: {db.stat().st_size / 1e9:.2f} GB")

    with duckdb.connect(str(db), read_only=True) as con:
        span = data_span(con)
        assert span is not None
        print(f"\n{'KPI set':<22} {'shopkpi s':>10} {'one query s':>12} {'ratio':>6}  same numbers")
        for label, period in (
            ("last 30 days", Period(span.end - timedelta(days=29), span.end)),
            ("whole year", Period(date(span.end.year, 1, 1), span.end)),
        ):
            compute_kpis(con, period)  # warm
            ours = best_of(lambda p=period: compute_kpis(con, p))
            reference = best_of(lambda p=period: reference_kpis(con, p))
            differ = same_numbers(compute_kpis(con, period).row(0, named=True), reference_kpis(con, period))
            verdict = differ or "yes"
            print(f"{label:<22} {ours:>10.2f} {reference:>12.2f} {ours / reference:>6.2f}  {verdict}")

    one = work / "one_order.csv"
    one.write_text(f"order_id,ordered_at,status\nSCALE-1,{span.end} 12:00,paid\n")
    seconds, peak, _ = run_child([sys.executable, "-m", "shopkpi", "ingest", "orders", str(one), "--db", str(db)])
    print(f"\nincremental: 1 order into the {db.stat().st_size / 1e9:.2f} GB warehouse: {seconds:.2f} s, {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
