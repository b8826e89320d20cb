"""The monthly P&L shaped for reading: lines as rows and months as columns, and a month against the same month a
year earlier."""

from __future__ import annotations

import polars as pl

from metrics.pnl import pnl_lines
from metrics.registry import METRICS, PNL_COLUMNS


def statement_grid(statement: pl.DataFrame, lang: str = "en") -> pl.DataFrame:
    """The statement as printed: one row per P&L line (top to bottom), one column per month ('YYYY-MM').

    Columns: line (metric name), label (in `lang`), then the months in order.
    """
    if statement.is_empty():
        return pl.DataFrame(schema={"line": pl.String, "label": pl.String})
    long = pnl_lines(statement)
    wide = long.pivot(on="month", index="line", values="value", sort_columns=True)
    labels = pl.DataFrame(
        {
            "line": list(PNL_COLUMNS),
            "label": [METRICS[n].label_zh if lang == "zh" else METRICS[n].label_en for n in PNL_COLUMNS],
            "order": list(range(len(PNL_COLUMNS))),
        }
    )
    return labels.join(wide, on="line").sort("order").drop("order")


def year_over_year(statement: pl.DataFrame, last_year: pl.DataFrame, month: str) -> pl.DataFrame:
    """One month's P&L lines against the same month a year earlier. One row per line, top to bottom.

    Columns: line, value, last_year, change (value − last_year), change_rate (relative; null when last year's value
    is 0 or missing; for margins, the change in points is `change`).
    """
    year, mon = month.split("-")
    before = f"{int(year) - 1:04d}-{mon}"
    now = statement.filter(pl.col("month") == month)
    then = last_year.filter(pl.col("month") == before)
    rows = []
    for name in PNL_COLUMNS:
        value = now[name][0] if now.height else None
        previous = then[name][0] if then.height else None
        change = None if value is None or previous is None else value - previous
        rate = None if change is None or not previous else change / abs(previous)
        rows.append((name, value, previous, change, rate))
    schema = {"line": pl.String, "value": pl.Float64, "last_year": pl.Float64, "change": pl.Float64}
    return pl.DataFrame(rows, schema={**schema, "change_rate": pl.Float64}, orient="row")
