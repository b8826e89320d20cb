"""Periods of local dates: the range a KPI is computed over, its previous period and the same period last year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from metrics.facts import facts, parameters, query
from metrics.segments import ALL, Segment


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates [start, end]."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_ts(self) -> datetime:
        """The first instant of the period (timestamps are stored in store local time)."""
        return datetime.combine(self.start, datetime.min.time())

    @property
    def end_ts(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time())

    def previous(self) -> Period:
        """The range of the same length just before this one (SPEC §4)."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def last_year(self) -> Period:
        """The same dates one year earlier (29 February becomes 28 February)."""
        return Period(shift_years(self.start, -1), shift_years(self.end, -1))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def shift_years(day: date, years: int) -> date:
    """The same calendar date `years` later (earlier if negative); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse_date(text: str) -> date:
    """A `YYYY-MM-DD` date; ValueError says what was wrong."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"bad date {text!r}: use YYYY-MM-DD") from None


def parse_month(text: str) -> date:
    """The first day of a `YYYY-MM` month; ValueError says what was wrong."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"bad month {text!r}: use YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def add_months(first_of_month: date, months: int) -> date:
    """The first day of the month `months` after the month of a date."""
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(first_of_month: date) -> date:
    """The last day of the month of a date."""
    return add_months(first_of_month.replace(day=1), 1) - timedelta(days=1)


def month_period(first_month: date, last_month: date) -> Period:
    """The period from the first day of one month to the last day of another."""
    return Period(first_month.replace(day=1), month_end(last_month))


def latest_date(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> date | None:
    """The latest local date with any order, session or ad spend of a segment (default: the whole shop) in the
    warehouse, or None if there is none."""
    sql = query(
        facts(segment),
        """
        select max(day) from (
            select cast(max(ordered_at) as date) as day from segment_orders
            union all
            select cast(max(started_at) as date) from segment_sessions
            union all
            select max(date) from segment_ad_spend
        )""",
    )
    rows = con.sql(sql, params=parameters(sql, {}, segment)).fetchall()
    return rows[0][0] if rows else None


def first_order_date(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> date | None:
    """The local date of the first order of a segment (default: the whole shop), of any status, or None."""
    sql = query(facts(segment), "select cast(min(ordered_at) as date) from segment_orders")
    return con.sql(sql, params=parameters(sql, {}, segment)).fetchall()[0][0]


def default_period(con: duckdb.DuckDBPyConnection, days: int = 30) -> Period | None:
    """The `days` days ending on the latest date in the warehouse (SPEC §5), or None for an empty warehouse."""
    last = latest_date(con)
    if last is None:
        return None
    return Period(last - timedelta(days=days - 1), last)
