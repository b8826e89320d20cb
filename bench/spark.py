"""Benchmark: the full KPI set of a 30-day window on Spark (over the lake) against DuckDB (over the warehouse).

    python -m bench.spark --demo-days 730            # build a demo shop of that many days first (as `shopkpi demo`)
    python -m bench.spark --db data/shopkpi.duckdb [--master local[2]] [--repeat 3]

Writes the lake (`shopkpi export-lake`) into a temporary folder, checks that both engines give the same numbers, then
prints each engine's first and warm times and their ratio. Spark on one machine is expected to be slower than the
embedded DuckDB: its point is that the same queries scale out on a cluster. Each Spark run uses a fresh connection,
so no result is reused between runs.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from metrics.compute import compute_kpis
from metrics.periods import Period, default_period
from warehouse import open_read_only
from warehouse.lake import export_lake
from warehouse.spark import SparkWarehouse, start_session


def build_demo(root: Path, days: int, end: date) -> Path:
    """A demo shop of `days` days ending on `end`, loaded as `shopkpi demo` loads it; returns the warehouse."""
    from pipelines import demo, ingest

    files = demo.write_demo_files(root / "files", seed=7, days=days, end=end)
    db = root / "demo.duckdb"
    for table, paths in files.items():
        for path in paths:
            ingest.ingest_file(db, table, path, store_timezone=demo.DEMO_TIMEZONE, currency="CNY")
    return db


def same_numbers(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Equal frames, floats to 1e-9 relative (or a hundredth of a cent on large money sums)."""
    if a.columns != b.columns or a.height != b.height:
        return False
    for name in a.columns:
        for x, y in zip(a.get_column(name).to_list(), b.get_column(name).to_list(), strict=True):
            if (x is None) != (y is None):
                return False
            if isinstance(y, float) and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-4):
                return False
            if not isinstance(y, float) and x != y:
                return False
    return True


def timed(run) -> tuple[float, pl.DataFrame]:
    started = time.perf_counter()
    frame = run()
    return time.perf_counter() - started, frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, help="warehouse file")
    source.add_argument("--demo-days", type=int, metavar="DAYS", help="build a demo shop of DAYS days first")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs of each engine (default 3)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="shopkpi-bench-spark-"))
    try:
        started = time.perf_counter()
        db = args.db or build_demo(root, args.demo_days, date(2024, 6, 30))
        if args.demo_days:
            print(f"demo shop of {args.demo_days} days built in {time.perf_counter() - started:.1f} s")
        duck = open_read_only(db)
        period: Period | None = default_period(duck)
        if period is None:
            print("the warehouse is empty", file=sys.stderr)
            return 1
        sessions = duck.sql("select count(*) from sessions").fetchall()[0][0]
        export_time, _ = timed(lambda: export_lake(db, root / "lake"))
        print(f"{sessions:,} sessions; lake written in {export_time:.1f} s; KPI set of {period}")

        duck_first, expected = timed(lambda: compute_kpis(duck, period))
        duck_warm = [timed(lambda: compute_kpis(duck, period))[0] for _ in range(args.repeat)]

        session_time, session = timed(lambda: start_session(args.master))
        spark_first, on_spark = timed(lambda: compute_kpis(SparkWarehouse(session, root / "lake"), period))
        spark_warm = [
            timed(lambda: compute_kpis(SparkWarehouse(session, root / "lake"), period))[0] for _ in range(args.repeat)
        ]
        duck.close()
        if not same_numbers(on_spark, expected):
            print("Spark and DuckDB gave different numbers", file=sys.stderr)
            return 1
        duck_median, spark_median = statistics.median(duck_warm), statistics.median(spark_warm)
        print(f"Spark session start ({args.master}): {session_time:.1f} s")
        print(f"{'engine':<22}{'first':>10}{'warm (median)':>16}")
        print(f"{'DuckDB':<22}{duck_first:>9.2f}s{duck_median:>15.2f}s")
        print(f"{'Spark ' + args.master:<22}{spark_first:>9.2f}s{spark_median:>15.2f}s")
        print(f"Spark / DuckDB, warm: {spark_median / duck_median:.0f}× (same numbers on both)")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_demo", "main", "same_numbers"]
