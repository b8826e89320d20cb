"""A small demo shop for the dashboard tests: 60 days of the demo generator ending 30 June 2024, built once per
test process (about 5 s) and shared by the page tests and the browser test."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date
from functools import cache
from pathlib import Path

from pipelines import demo, ingest

END = date(2024, 6, 30)
DAYS = 60


@cache
def demo_warehouse() -> Path:
    """The path of the small demo warehouse (read it only: every test shares it)."""
    root = Path(tempfile.mkdtemp(prefix="shopkpi-pages-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_demo_warehouse(root, DAYS, END)


def build_demo_warehouse(root: Path, days: int, end: date, seed: int = 7) -> Path:
    """Write `days` days of the demo shop ending on `end` under `root` and load them into root/demo.duckdb, as
    `shopkpi demo` does; returns the warehouse's path."""
    files = demo.write_demo_files(root / "files", seed=seed, days=days, end=end)
    db = root / "demo.duckdb"
    for table, paths in files.items():
        for path in paths:
            ingest.ingest_file(db, table, path, store_timezone=demo.DEMO_TIMEZONE, currency="CNY")
    return db
