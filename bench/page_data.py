"""Benchmark: each page's own data (`pages.<page>.data(view, role)`) per view, computed without Streamlit's cache.

    python -m bench.page_data --db W [--pages customers,traffic] [--rounds 3] [--source S] [--device D] [--split D]
    python -m bench.page_data --db W_AFTER --baseline /work/main --baseline-db W_BEFORE   # before / after, alternated

Views: the default (last 30 days), the last 7, 90 and 365 days, and the last 30 days under a source filter and under a
device filter (default: the most common source and device); `--split` times the Traffic page split by another
dimension than the one it opens with (medium, campaign, device). Every `ui.load` the page makes is run on a fresh cursor
of the warehouse, as on a cache miss. Prints per page and view the median wall time and the median CPU time of the
process (all threads: less sensitive than wall time to other work on the machine) of `--rounds` runs, and the
slowest calls. With `--baseline CHECKOUT` the same views are timed with that checkout's code (on `--baseline-db`, by
default the same warehouse) in another process, alternating with this code's, `--rounds` times each.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

VIEWS = ("default", "last_7", "last_90", "last_365", "source", "device")


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def measure(
    db: Path, pages: list[str], rounds: int, source: str | None, device: str | None, split: str | None = None
) -> dict[str, Any]:
    """{page/view: {wall: [s], cpu: [s], calls: {query: [wall of each call, last round]}}} for this code."""
    os.environ["SHOPKPI_DB"] = str(db)
    from metrics.periods import Period, data_span
    from metrics.segments import ALL, Segment
    from shopkpi import ui
    from warehouse.store import Reader

    reader = Reader(db)
    calls: dict[str, list[float]] = {}

    def load(query, *args, segment=ALL):  # ui.load without the cache: a fresh cursor per call, as on a miss
        name = getattr(getattr(query, "func", query), "__name__", str(query))
        cursor = reader.cursor()
        started = time.perf_counter()
        try:
            return query(cursor, *args, segment=segment) if segment else query(cursor, *args)
        finally:
            calls.setdefault(name, []).append(round(time.perf_counter() - started, 3))
            cursor.close()

    ui.load = load
    cursor = reader.cursor()
    span = data_span(cursor)
    if span is None:
        raise SystemExit(f"{db} has no data")
    source = (
        source or cursor.sql("select source from sessions group by 1 order by count(*) desc limit 1").fetchall()[0][0]
    )
    device = (
        device or cursor.sql("select device from sessions group by 1 order by count(*) desc limit 1").fetchall()[0][0]
    )
    cursor.close()
    last = {"default": 30, "last_7": 7, "last_90": 90, "last_365": 365, "source": 30, "device": 30}
    segments = {"source": Segment(source=source), "device": Segment(device=device)}
    found: dict[str, Any] = {}
    for page in pages:
        module = importlib.import_module(f"pages.{page}")
        options = {"split": split} if split and page == "traffic" else {}
        for name in VIEWS:
            period = Period(span.end - timedelta(days=last[name] - 1), span.end)
            view = ui.View(period, "previous", segments.get(name, ALL), "en", span.end, span.start)
            walls, cpus = [], []
            for _ in range(rounds):
                calls.clear()
                started, cpu = time.perf_counter(), _cpu()
                module.data(view, "admin", **options)
                walls.append(time.perf_counter() - started)
                cpus.append(_cpu() - cpu)
            found[f"{page}/{name}"] = {"wall": walls, "cpu": cpus, "calls": dict(calls)}
    return found


def _report(label: str, found: dict[str, Any]) -> None:
    print(f"{label}:")
    for key, entry in found.items():
        slowest = sorted(((max(v), k) for k, v in entry["calls"].items()), reverse=True)[:3]
        calls = ", ".join(f"{k} {v:.2f}" for v, k in slowest)
        print(
            f"  {key:<22} wall {statistics.median(entry['wall']):6.2f} s   cpu {statistics.median(entry['cpu']):6.2f} s"
            f"   (slowest calls: {calls})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--pages", default="customers,traffic")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source")
    parser.add_argument("--device")
    parser.add_argument("--split", help="the Traffic page's split (default: the one it opens with)")
    parser.add_argument("--baseline", type=Path, help="another checkout (the 'before'), timed alternately")
    parser.add_argument("--baseline-db", type=Path, help="the warehouse the baseline reads (default: --db)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one measurement, as JSON (internal)
    args = parser.parse_args()
    pages = args.pages.split(",")
    if args.json or args.baseline is None:
        found = measure(args.db, pages, args.rounds, args.source, args.device, args.split)
        if args.json:
            print(json.dumps(found))
        else:
            _report("this code", found)
        return 0
    here = Path(__file__).resolve().parent.parent
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for label, root, db in (("before", args.baseline, args.baseline_db or args.db), ("after", here, args.db)):
            # This file, run with the other checkout's packages first on the path (that checkout may not have it).
            command = [sys.executable, __file__, "--db", str(db), "--pages", args.pages, "--rounds", "1", "--json"]
            for option in ("source", "device", "split"):
                if getattr(args, option):
                    command += [f"--{option}", getattr(args, option)]
            env = {**os.environ, "PYTHONPATH": str(root)}
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=True)
            results[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for label, runs in results.items():
        merged = {
            key: {
                "wall": [w for run in runs for w in run[key]["wall"]],
                "cpu": [c for run in runs for c in run[key]["cpu"]],
                "calls": runs[-1][key]["calls"],
            }
            for key in runs[0]
        }
        _report(f"{label} ({args.baseline if label == 'before' else here})", merged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
