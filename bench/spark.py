"""Benchmark: the full KPI set of a 30-day window on Spark (over the lake) against DuckDB (over the warehouse).

    python -m bench.spark --demo-days 730            # build a demo shop of that many days first (as `shopkpi demo`)
    python -m bench.spark --db data/shopkpi.duckdb [--master local[2]] [--repeat 3]
    python -m bench.spark --db FILE --standalone     # on a standalone cluster (a master and a worker on 127.0.0.1)
                                                     # started with pyspark's own bin/spark-class, then stopped
    python -m bench.spark --db FILE --connect        # through a Spark Connect server (sc://) started the same way
    python -m bench.spark --canonical DIR            # the Parquet files of ../shared/tools/gen_canonical_shop.py,
                                                     # copied into a warehouse as they are (no ingest validation)

Writes the lake (`shopkpi export-lake`) into a temporary folder, checks that both engines give the same numbers, then
prints each engine's first and warm times and their ratio. Spark on one machine is expected to be slower than the
embedded DuckDB: its point is that the same queries scale out on a cluster. Each Spark run uses a fresh connection,
so no result is reused between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


def load_canonical(files: Path, db: Path) -> Path:
    """A warehouse holding the generator's Parquet files (one per table) as they are: each column the warehouse has,
    cast to its type; shopkpi ingest's validation and mapping are skipped (bench.scale times those)."""
    from warehouse import TABLES, writing

    with writing(db, store_timezone="UTC", currency="CNY") as con:
        for name, table in TABLES.items():
            path = files / f"{name}.parquet"
            if not path.is_file():
                continue
            given = {row[0] for row in con.sql("describe select * from read_parquet($p)", params={"p": str(path)})
                     .fetchall()}  # fmt: skip
            columns = [c for c in table.columns if c.name in given]
            casts = [f"cast({c.name} as {c.type})" for c in columns]
            # The columns the files lack take their defaults (store) or stay null (events.event_id, as ingest keeps it).
            names, casts = ", ".join(c.name for c in columns), ", ".join(casts)
            # Table and column names come from warehouse.schema; the path is a bound parameter.
            con.execute(f"insert into {name} ({names}) select {casts} from read_parquet(?)", [str(path)])
    return db


def pruning_note(lake: Path, period: Period) -> str:
    """How the lake is split by month and how much of it the KPI window's months are."""
    months = {f"month={day:%Y-%m}" for day in (period.start, period.end)}
    parts = []
    for table in ("sessions", "events", "orders"):
        folders = [folder for folder in (lake / table).iterdir() if folder.is_dir()]
        size = sum(file.stat().st_size for file in (lake / table).rglob("*.parquet"))
        inside = sum(
            file.stat().st_size for folder in folders if folder.name in months for file in folder.rglob("*.parquet")
        )
        parts.append(f"{table} {len(folders)} month folders, the window's {inside / max(size, 1):.0%} of its bytes")
    return (
        "lake split by month (" + "; ".join(parts) + "): a query filtering on `month` reads those folders only; "
        "shopkpi's filter on the timestamp is pushed to the Parquet row groups' min/max, so other months' row groups "
        "are skipped after reading their footers"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent  # the pip package is a Spark distribution: bin/, jars/


def _wait_for(log: Path, text: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[1]} exited ({process.returncode}): see {log}")
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{process.args[1]} not ready after {seconds:.0f} s: see {log}")


@contextlib.contextmanager
def _java(root: Path, name: str, args: list[str], ready: str, seconds: float = 300) -> Iterator[None]:
    """One Spark JVM (bin/spark-class CLASS ARGS) running until the block ends; its log in root/NAME.log."""
    home = _spark_home()
    log = root / f"{name}.log"
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(home / "bin" / "spark-class"), *args], stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    try:
        _wait_for(log, ready, process, seconds)
        yield
    finally:
        process.terminate()  # this process only: the JVM it started, by its id
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def standalone_cluster(root: Path, cores: int = 2, memory: str = "2g") -> Iterator[str]:
    """A Spark standalone cluster on this machine, a master and one worker of `cores` cores: its spark:// URL."""
    port = _free_port()
    master = f"spark://127.0.0.1:{port}"
    master_args = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
    worker_args = ["org.apache.spark.deploy.worker.Worker", "--cores", str(cores), "--memory", memory, master]
    worker_args += ["--work-dir", str(root / "work")]  # not the default, inside the installed pyspark package
    with (
        _java(root, "master", [*master_args, "--webui-port", str(_free_port())], "I have been elected leader"),
        _java(
            root,
            "worker",
            [*worker_args, "--host", "127.0.0.1", "--webui-port", str(_free_port())],
            "Successfully registered with master",
        ),
    ):
        yield master


@contextlib.contextmanager
def connect_server(root: Path, cores: int = 2) -> Iterator[str]:
    """A Spark Connect server on this machine (local[cores] under it): its sc:// URL."""
    port = _free_port()
    args = [
        "org.apache.spark.deploy.SparkSubmit",
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        f"local[{cores}]",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
        "spark-internal",
    ]
    with _java(root, "connect", args, "Spark Connect server started"):
        yield f"sc://127.0.0.1:{port}"


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
    source.add_argument("--canonical", type=Path, metavar="DIR", help="gen_canonical_shop.py's Parquet files")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    where.add_argument(
        "--standalone", action="store_true", help="start a standalone master and a 2-core worker on 127.0.0.1"
    )
    where.add_argument("--connect", action="store_true", help="start a Spark Connect server (local[2]) on 127.0.0.1")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs of each engine (default 3)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="shopkpi-bench-spark-"))
    try:
        started = time.perf_counter()
        if args.canonical:
            db = load_canonical(args.canonical, root / "canonical.duckdb")
            print(f"{args.canonical}'s files copied into a warehouse in {time.perf_counter() - started:.1f} s")
        else:
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
        print(f"{sessions:,} sessions; lake written in {export_time:.1f} s; KPI set of {period}", flush=True)
        print(pruning_note(root / "lake", period), flush=True)

        duck_first, expected = timed(lambda: compute_kpis(duck, period))
        duck_warm = [timed(lambda: compute_kpis(duck, period))[0] for _ in range(args.repeat)]
        print(f"DuckDB: first {duck_first:.2f} s, warm {statistics.median(duck_warm):.2f} s", flush=True)

        with contextlib.ExitStack() as stack:
            master = args.master
            if args.standalone:
                master = stack.enter_context(standalone_cluster(root))
            elif args.connect:
                master = stack.enter_context(connect_server(root))
            session_time, session = timed(lambda: start_session(master))
            print(f"Spark session start ({master}): {session_time:.1f} s", flush=True)
            spark_first, on_spark = timed(lambda: compute_kpis(SparkWarehouse(session, root / "lake", master), period))
            print(f"Spark first: {spark_first:.2f} s", flush=True)
            spark_warm = [
                timed(lambda: compute_kpis(SparkWarehouse(session, root / "lake", master), period))[0]
                for _ in range(args.repeat)
            ]
            session.stop()  # before the cluster it runs on
        duck.close()
        if not same_numbers(on_spark, expected):
            print("Spark and DuckDB gave different numbers", file=sys.stderr)
            return 1
        duck_median, spark_median = statistics.median(duck_warm), statistics.median(spark_warm)
        print(f"{'engine':<34}{'first':>10}{'warm (median)':>16}")
        print(f"{'DuckDB':<34}{duck_first:>9.2f}s{duck_median:>15.2f}s")
        print(f"{'Spark ' + master:<34}{spark_first:>9.2f}s{spark_median:>15.2f}s")
        print(f"Spark / DuckDB, warm: {spark_median / duck_median:.0f}× (same numbers on both)")
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_demo", "main", "same_numbers"]
