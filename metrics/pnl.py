"""The monthly P&L statement: gross sales down to net profit, with margins, from the same KPI query as `kpis`."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from metrics.compute import kpi_series
from metrics.periods import month_period, parse_month
from metrics.registry import METRICS, PNL_COLUMNS, PNL_LINES
from metrics.segments import ALL, Segment


def _month(value: date | str) -> date:
    return parse_month(value) if isinstance(value, str) else value.replace(day=1)


def pnl_statement(
    con: duckdb.DuckDBPyConnection, first_month: date | str, last_month: date | str, segment: Segment = ALL
) -> pl.DataFrame:
    """One row per calendar month from `first_month` to `last_month` ('YYYY-MM' or a date in the month), on a segment
    (default: the whole shop).

    Columns: month ('YYYY-MM') and the P&L lines of SPEC §5 (gross_sales … net_margin). Each month's numbers are
    exactly `compute_kpis` for that month.
    """
    first, last = _month(first_month), _month(last_month)
    if last < first:
        raise ValueError(f"the statement ends ({last:%Y-%m}) before it starts ({first:%Y-%m})")
    series = kpi_series(con, month_period(first, last), grain="month", metrics=PNL_COLUMNS, segment=segment)
    return series.select(pl.col("period").dt.strftime("%Y-%m").alias("month"), *PNL_COLUMNS)


def pnl_lines(statement: pl.DataFrame) -> pl.DataFrame:
    """The statement turned on its side for a waterfall or a printed P&L. One row per month and line.

    Columns: month, line (metric name), label, sign (+1 adds to the bottom line, -1 subtracts, 0 for a margin),
    subtotal (true for net sales, total revenue, gross profit, contribution, net profit), value.
    """
    lines = pl.DataFrame(
        {
            "line": [name for name, _, _ in PNL_LINES],
            "label": [METRICS[name].label_en for name, _, _ in PNL_LINES],
            "sign": [sign for _, sign, _ in PNL_LINES],
            "subtotal": [subtotal for _, _, subtotal in PNL_LINES],
            "order": list(range(len(PNL_LINES))),
        }
    )
    long = statement.unpivot(index="month", on=list(PNL_COLUMNS), variable_name="line", value_name="value")
    return (
        long.join(lines, on="line")
        .sort(["month", "order"])
        .select("month", "line", "label", "sign", "subtotal", "value")
    )
