"""The monthly P&L statement: gross sales down to net profit, with margins, from the same KPI query as `kpis`."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from metrics.compute import compute_kpis, kpi_series
from metrics.currency import Rates
from metrics.periods import Coverage, add_months, data_span, month_period, parse_month
from metrics.registry import METRICS, PNL_COLUMNS, PNL_LINES
from metrics.segments import ALL, Segment


def _month(value: date | str) -> date:
    return parse_month(value) if isinstance(value, str) else value.replace(day=1)


def pnl_statement(
    con: duckdb.DuckDBPyConnection,
    first_month: date | str,
    last_month: date | str,
    segment: Segment = ALL,
    rates: Rates | None = None,
) -> pl.DataFrame:
    """One row per calendar month from `first_month` to `last_month` ('YYYY-MM' or a date in the month), on a segment
    (default: the whole shop).

    Columns: month ('YYYY-MM'), the P&L lines of SPEC §5 (gross_sales … net_margin), then days (in the month),
    days_with_data (between the data's first and latest date) and partial (SPEC §4: a month the data does not cover
    whole). Each month's numbers are exactly `compute_kpis` for that month; a partial month's operating expenses are
    pro-rated by its days with data, as `compute_kpis` does for any period. Over stores in different currencies the
    money lines are null unless `rates` converts them (metrics/currency.py).
    """
    first, last = _month(first_month), _month(last_month)
    if last < first:
        raise ValueError(f"the statement ends ({last:%Y-%m}) before it starts ({first:%Y-%m})")
    series = kpi_series(
        con, month_period(first, last), grain="month", metrics=PNL_COLUMNS, segment=segment, rates=rates
    )
    span = data_span(con)
    coverage = [Coverage(month_period(m, m), month_period(m, m).covered(span)) for m in series["period"].to_list()]
    return series.select(pl.col("period").dt.strftime("%Y-%m").alias("month"), *PNL_COLUMNS).with_columns(
        pl.Series("days", [c.days for c in coverage], dtype=pl.Int64),
        pl.Series("days_with_data", [c.days_with_data for c in coverage], dtype=pl.Int64),
        pl.Series("partial", [c.partial for c in coverage], dtype=pl.Boolean),
    )


SHARED = "shared"  # the column of expenses every store shares (expenses.store '')
TOTAL = "total"  # the consolidated column


def pnl_by_store(
    con: duckdb.DuckDBPyConnection, first_month: date | str, last_month: date | str, rates: Rates | None = None
) -> pl.DataFrame:
    """The statement per store, with the expenses shared by every store and the consolidated total: one row per
    month and column (store name, then 'shared' where there are shared expenses, then 'total').

    Columns: month, store, then the P&L lines as `pnl_statement`'s. A store's lines are in its own currency; the
    total is null for money lines over stores in different currencies unless `rates` converts them.
    """
    first, last = _month(first_month), _month(last_month)
    total = pnl_statement(con, first, last, rates=rates)
    series = kpi_series(con, month_period(first, last), grain="month", metrics=PNL_COLUMNS, by="store")
    per_store = series.select(
        pl.col("period").dt.strftime("%Y-%m").alias("month"),
        pl.col("group").fill_null(SHARED).alias("store"),
        *PNL_COLUMNS,
    )
    per_store = per_store.with_columns(pl.col(c).cast(total.schema[c]) for c in PNL_COLUMNS)
    combined = pl.concat(
        [per_store, total.select("month", pl.lit(TOTAL).alias("store"), *PNL_COLUMNS)], how="vertical_relaxed"
    )
    stores = sorted(s for s in per_store["store"].unique().to_list() if s != SHARED)
    order = {name: i for i, name in enumerate([*stores, SHARED, TOTAL])}
    return (
        combined.with_columns(pl.col("store").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort(["month", "_order"])
        .drop("_order")
    )


def store_grid(by_store: pl.DataFrame, month: str, lang: str = "en") -> pl.DataFrame:
    """One month of `pnl_by_store` as printed: one row per P&L line (top to bottom), one column per store, then
    'shared' and 'total'. Columns: line, label (in `lang`), then the stores in `pnl_by_store`'s order."""
    rows = by_store.filter(pl.col("month") == month)
    columns = {
        row["store"]: pl.Series(row["store"], [row[name] for name in PNL_COLUMNS], dtype=pl.Float64)
        for row in rows.iter_rows(named=True)
    }
    labels = [METRICS[n].label_zh if lang == "zh" else METRICS[n].label_en for n in PNL_COLUMNS]
    return pl.DataFrame({"line": list(PNL_COLUMNS), "label": labels, **columns})


def pnl_last_year(
    con: duckdb.DuckDBPyConnection, first_month: date | str, last_month: date | str, segment: Segment = ALL
) -> pl.DataFrame:
    """The statement to compare the months `first_month` to `last_month` with: the same months a year earlier, where
    a month that is partial this year takes the same days of last year's month (SPEC §4) and a whole month last
    year's whole month (February whole, the 29th included). Columns as `pnl_statement`'s; `month` is last year's."""
    first, last = _month(first_month), _month(last_month)
    earlier = pnl_statement(con, add_months(first, -12), add_months(last, -12), segment)
    span = data_span(con)
    rows = []
    for before in earlier.iter_rows(named=True):
        month = add_months(parse_month(before["month"]), 12)
        period = month_period(month, month)
        covered = period.covered(span)
        if covered is None or covered == period:
            rows.append(before)
            continue
        same_days = period.compared("last_year", covered)
        values = compute_kpis(con, same_days, metrics=PNL_COLUMNS, segment=segment).row(0, named=True)
        rows.append(before | {name: values[name] for name in PNL_COLUMNS} | {"days_with_data": same_days.days})
    return pl.DataFrame(rows, schema=earlier.schema, orient="row")


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
