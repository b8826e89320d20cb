"""Several stores at scale: the KPI set of a loaded warehouse under a store filter, split by store, and with a second
store that has only a platform's traffic report, in another currency, from the rollups against the raw tables.

    python -m bench.stores --db /tmp/bs10m/shopkpi.duckdb  # e.g. bench.scale --keep's warehouse; it is only read
    python -m bench.stores --db W --repeat 5 --work /tmp/stores  # where the changed copy goes (default: a temp dir)

The warehouse is copied (the copy gains the second store; the original is not changed) and its rollups built where
they are not this code's (timed). Every case is timed warm, best of --repeat, from the rollups (`compute_kpis`, as the
dashboard asks) and from the raw tables (`rollups=False`) in the same run, and both results are compared: counts
exactly, money to 1e-9 (a conversion multiplies each store's daily sums by its rate, the raw facts each order). The
second store, `report`, has a row per day of the data, source and device of a platform's traffic report (sessions,
visitors, bounced, engaged and cart sessions, orders, revenue), and USD as its currency: with a rate table (7 of the
warehouse's currency per USD) its money is converted; without one the stores' money together is unknown.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from metrics.compute import compute_kpis, rollups_current
from metrics.currency import Rates
from metrics.periods import Period, data_span
from metrics.rollups import build_missing
from metrics.segments import ALL, Segment

REPORT_STORE = "report"
SOURCES = (("organic_search", "organic"), ("paid_search", "cpc"), ("social", "cpm"), ("kol", "cpm"))
DEVICES = ("mobile", "desktop", "app")


@dataclass(frozen=True)
class Case:
    label: str
    by: str | None = None
    segment: Segment = ALL
    rates: Rates | None = None


def add_report_store(con: duckdb.DuckDBPyConnection, first, last, currency: str = "USD") -> int:
    """Adds store REPORT_STORE with only a daily traffic report from `first` to `last` (no session logs), in
    `currency`; returns its rows. Counts are fixed shares of each row's sessions, which vary by day, source and
    device."""
    rows = []
    day, index = first, 0
    while day <= last:
        for source, medium in SOURCES:
            for device in DEVICES:
                sessions = 100 + (index * 7919) % 2900
                rows.append((REPORT_STORE, day, day, source, medium, "", device, sessions, sessions * 8 // 10,
                             sessions * 4 // 10, sessions // 2, sessions // 10, sessions * 3 // 100,
                             round(sessions * 4.5, 2)))  # fmt: skip
                index += 1
        day += timedelta(days=1)
    columns = "store, date, end_date, source, medium, campaign, device, sessions, visitors, bounced_sessions, "
    columns += "engaged_sessions, cart_sessions, orders, revenue"
    con.executemany(f"insert into traffic ({columns}) values ({', '.join('?' * 14)})", rows)
    con.execute("insert into stores values (?, 'report', ?)", [REPORT_STORE, currency])
    return len(rows)


def same(ours: pl.DataFrame, raw: pl.DataFrame) -> bool:
    """Whether two KPI frames hold the same figures: counts exactly, floats to 1e-9."""
    try:
        assert_frame_equal(ours, raw, check_exact=False, rel_tol=1e-9, abs_tol=1e-6)
    except AssertionError:
        return False
    return True


def best_of(action, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def run_cases(con: duckdb.DuckDBPyConnection, periods: dict[str, Period], cases: list[Case], repeat: int) -> bool:
    """Prints one line per case and period: rollups, raw, their ratio, and whether the figures are the same."""
    agree = True
    for case in cases:
        for name, period in periods.items():
            kwargs = {"by": case.by, "segment": case.segment, "rates": case.rates}
            ours_s, ours = best_of(lambda kw=kwargs, p=period: compute_kpis(con, p, **kw), repeat)
            raw_s, raw = best_of(lambda kw=kwargs, p=period: compute_kpis(con, p, rollups=False, **kw), repeat)
            ok = same(ours, raw)
            agree = agree and ok
            print(f"{case.label:<44} {name:>8} {ours_s:>8.3f} {raw_s:>8.3f} {raw_s / ours_s:>7.1f}x  {ok}")
    return agree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a loaded warehouse (only read: a copy is changed)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per case (best of)")
    parser.add_argument("--work", type=Path, help="where the copy goes (default: a temporary directory)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="shopkpi-stores-"))
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "stores.duckdb"
    started = time.perf_counter()
    shutil.copyfile(args.db, copy)
    print(f"copied {args.db} to {copy} in {time.perf_counter() - started:.1f} s")
    con = duckdb.connect(str(copy))
    if not rollups_current(con):
        seconds = build_missing(con)
        print(f"built the rollups this code reads in {seconds:.1f} s")
    span = data_span(con)
    if span is None:
        raise SystemExit(f"{args.db} holds no data")
    periods = {
        "30 days": Period(span.end - timedelta(days=29), span.end),
        "365 days": Period(span.end - timedelta(days=364), span.end),
    }
    store = con.sql("select min(store) from sessions").fetchall()[0][0]
    # The store's currency, else the warehouse's (a store a load names is in `stores`; a hand-built one may not be).
    own = con.sql("select currency from stores where store = ?", params=[store]).fetchall()
    currency = own[0][0] if own else con.sql("select value from shopkpi_meta where key = 'currency'").fetchall()[0][0]
    header = f"{'the KPI set (every metric)':<44} {'period':>8} {'rollups':>8} {'raw':>8} {'ratio':>8}  same"
    print(header)
    print("-" * len(header))
    agree = run_cases(con, periods, [Case(f"store filter ({store})", segment=Segment(store=store))], args.repeat)
    rows = add_report_store(con, span.start, span.end)
    print(f"added store {REPORT_STORE!r}: {rows:,} rows of a daily traffic report, in USD")
    rates = Rates(currency, {"USD": Decimal(7)})
    cases = [
        Case("two stores, one a report: whole shop"),
        Case("two stores, one a report: by store", by="store"),
        Case("two stores, one a report: by source", by="source"),
        Case("two stores, one a report: device filter", segment=Segment(device="mobile")),
        Case(f"… money converted (7 {currency}/USD): whole shop", rates=rates),
        Case(f"… money converted (7 {currency}/USD): by source", by="source", rates=rates),
    ]
    agree = run_cases(con, periods, cases, args.repeat) and agree
    con.close()
    if not args.work:
        shutil.rmtree(work)
    print("every case: the same figures from the rollups and the raw tables" if agree else "FIGURES DIFFER")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
