"""Ingest benchmark: `shopkpi ingest` on a generated events file against DuckDB's plain read_csv of the same file.

Run: `python -m bench.ingest --rows 3000000`. Prints seconds, rows per second and the ratios, measured in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.ingest import ingest_file


def write_events_csv(path: Path, rows: int) -> Path:
    """A clickstream export of `rows` events over 5-event sessions, as a CSV with a header."""
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select 'e' || i as event_id, 's' || (i // 5) as session_id,
                       timestamp '2024-01-01' + to_seconds(i // 3) as occurred_at,
                       ['page_view', 'impression', 'click', 'add_to_cart', 'begin_checkout', 'purchase'][1 + i % 6]
                           as event_type,
                       'SKU' || (i % 200) as sku, '/p/' || (i % 50) as page, i % 10 as position
                from range({int(rows)}) t(i)
            ) to '{path}' (header)
            """
        )
    return path


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shopkpi-bench-") as workdir:
        work = Path(workdir)
        csv = write_events_csv(work / "events.csv", args.rows)
        size_mb = csv.stat().st_size / 1e6

        def plain_count() -> None:
            with duckdb.connect() as con:
                con.sql(f"select count(*) from read_csv('{csv}')").fetchall()

        def plain_table() -> None:
            with duckdb.connect(str(work / "plain.duckdb")) as con:
                con.execute(f"create table events as select * from read_csv('{csv}')")
                con.execute("checkpoint")

        count_s = _timed(plain_count)
        table_s = _timed(plain_table)
        first = ingest_file(work / "shopkpi.duckdb", "events", csv)
        again_s = _timed(lambda: ingest_file(work / "shopkpi.duckdb", "events", csv))
        assert first.inserted == args.rows and first.balanced
        print(f"file: {args.rows:,} events, {size_mb:,.0f} MB CSV")
        print(f"duckdb read_csv, count only:         {count_s:6.2f} s  {args.rows / count_s:12,.0f} rows/s")
        print(f"duckdb read_csv into a table file:   {table_s:6.2f} s  {args.rows / table_s:12,.0f} rows/s")
        print(
            f"shopkpi ingest (validate + upsert):  {first.seconds:6.2f} s  {args.rows / first.seconds:12,.0f} rows/s"
            f"  = {first.seconds / count_s:.1f}x read_csv count, {first.seconds / table_s:.1f}x read_csv into a table"
        )
        print(f"shopkpi ingest of the same file again (no-op by content hash): {again_s:.2f} s")


if __name__ == "__main__":
    main()
