"""The `shopkpi segments` command: RFM segments as of a date (one row per segment, with the movement since an earlier
date), or with --customers the ids of one segment's customers, for a campaign. A thin wrapper over metrics/customers.

Registered in shopkpi/cli/main.py (LATER_COMMANDS: imported when it runs).
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from metrics.customers import SEGMENT_NAMES, segment_customers, segment_summary
from metrics.periods import latest_date, parse_date
from metrics.units import COUNT, DECIMAL, MONEY, RATE
from shopkpi.cli.common import (
    DataError,
    DbOption,
    FormatOption,
    OutputFormat,
    StoreOption,
    json_rows,
    no_data,
    print_csv,
    print_json,
    print_table,
    read_warehouse,
    store_segment,
)


def segments(
    date_: Annotated[
        str | None, typer.Option("--date", help="Score customers as of this date YYYY-MM-DD (default: latest date).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Compare with the segments as of this date (default: 90 days before --date)."),
    ] = None,
    customers: Annotated[
        str | None,
        typer.Option("--customers", help=f"Print the customer ids of one segment: {', '.join(SEGMENT_NAMES)}."),
    ] = None,
    format: FormatOption = OutputFormat.table,
    store: StoreOption = None,
    db: DbOption = None,
) -> None:
    """RFM segments of the identified customers (quintile scores, ties shared), one row per segment."""
    if customers is not None and customers not in SEGMENT_NAMES:
        raise typer.BadParameter(f"{customers!r} is not one of {', '.join(SEGMENT_NAMES)}", param_hint="--customers")
    kind = format.value if isinstance(format, OutputFormat) else str(format)
    with read_warehouse(db) as con:
        segment = store_segment(con, store)
        as_of = parse_date(date_) if date_ else latest_date(con, segment)  # the store's latest date under --store
        if as_of is None:
            raise no_data(segment, "--date")
        before = parse_date(since) if since else None
        if before is not None and before > as_of:
            raise DataError(f"--since {before} is after --date {as_of}")
        if customers is not None:
            ids = segment_customers(con, customers, as_of, segment=segment)
            frame = pl.DataFrame({"customer_id": ids}, schema={"customer_id": pl.String})
        else:
            frame = segment_summary(con, as_of, before, segment=segment)
    if customers is not None:
        if kind == "json":
            print_json({"date": as_of.isoformat(), "segment": customers, "customers": ids})
        elif kind == "csv":
            print_csv(frame)
        else:
            sys.stdout.write("".join(f"{i}\n" for i in ids))
        return
    if kind == "json":
        print_json({"date": as_of.isoformat(), "rows": json_rows(frame)})
    elif kind == "csv":
        print_csv(frame)
    else:
        print_table(_table(frame, as_of))


def _table(frame: pl.DataFrame, as_of: date) -> Table:
    table = Table(title=f"RFM segments as of {as_of}", title_justify="left")
    for name in ("segment", "customers", "share", "revenue", "revenue share", "avg days", "avg orders", "change"):
        table.add_column(name, justify="left" if name == "segment" else "right")
    for row in frame.iter_rows(named=True):
        table.add_row(
            row["segment"],
            COUNT.text(row["customers"]),
            RATE.text(row["customer_share"]),
            MONEY.text(row["revenue"]),
            RATE.text(row["revenue_share"]),
            COUNT.text(row["avg_recency_days"]),
            DECIMAL.text(row["avg_frequency"]),
            f"{row['change']:+,d}",
        )
    return table
