"""Report benchmark: seconds to build each report format for one period of a warehouse, cold and warm.

Run: `python -m bench.report_formats --db data/shopkpi.duckdb [--period monthly] [--date YYYY-MM-DD]`.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from metrics.periods import latest_date
from metrics.targets import load_targets
from shopkpi.reports import report_bytes
from shopkpi.settings import load_settings
from warehouse import open_read_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None)
    parser.add_argument("--period", default="monthly", choices=["daily", "weekly", "monthly"])
    parser.add_argument("--date", type=date.fromisoformat, default=None)
    args = parser.parse_args()
    with open_read_only(load_settings(args.db).db_path) as con:
        day = args.date or latest_date(con)
        targets = load_targets(load_settings(args.db).targets_path)
        for fmt in ("html", "xlsx", "pdf"):
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                size = len(report_bytes(con, args.period, day, fmt, targets))
                timings.append(time.perf_counter() - started)
            cold, warm = timings
            print(f"{args.period} {fmt:4s} for {day}: cold {cold:5.2f} s, warm {warm:5.2f} s, {size:,} bytes")


if __name__ == "__main__":
    main()
