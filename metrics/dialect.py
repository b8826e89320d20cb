"""The only SQL in metrics/ that is DuckDB's own rather than portable: calendar helpers and parameter markers.

Everything else the metrics layer generates is plain SQL. The same text runs on Spark: warehouse/spark.py transpiles
it with sqlglot (DuckDB → Spark SQL), so each helper here is written in a form that transpiles to a Spark query
with the same result (tests/metrics/test_spark.py compares the two engines on every KPI, the P&L and the cohorts).
"""

from __future__ import annotations

GRAINS = ("day", "week", "month")
TEXT = "varchar"  # the string type in casts (Spark: string)


def param(name: str) -> str:
    """A bound named parameter."""
    return f"${name}"


def day_spine(first: str, last: str) -> str:
    """A query with one row per date from `first` to `last` inclusive (both SQL date expressions), column `day`."""
    # The series is unnested in a subquery and cast outside it: Spark does not allow a generator (explode) inside
    # an expression such as a cast.
    return f"select cast(d as date) as day from (select unnest(generate_series({first}, {last}, interval 1 day)) as d)"


def truncate(grain: str, expression: str) -> str:
    """The first date of the day, ISO week (Monday) or month containing a date or timestamp."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    return f"cast(date_trunc('{grain}', {expression}) as date)"


def add_grains(grain: str, expression: str, count: int) -> str:
    """A date moved by `count` days, weeks or months."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    return f"cast({expression} + interval {int(count)} {grain} as date)"


def month_label(expression: str) -> str:
    """'YYYY-MM' of a date (the format of expenses.month)."""
    return f"strftime({expression}, '%Y-%m')"


def days_in_month(expression: str) -> str:
    """The number of days in the month of a date."""
    return f"dayofmonth(last_day({expression}))"
