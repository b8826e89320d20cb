"""Periods of local dates: the range a KPI is computed over, its previous period and the same period last year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from metrics.facts import facts, order_rows_current, parameters, query
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

    @property
    def whole_months(self) -> int | None:
        """How many calendar months the period spans if it is whole months (first day to last day), else None."""
        if self.start.day != 1 or self.end != month_end(self.end):
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def previous(self) -> Period:
        """The period compared with as "previous" (SPEC §4): the previous calendar month, quarter or year (the same
        number of whole months before, for any run of whole months), else the range of the same length just before it
        (for an ISO week, the previous ISO week)."""
        return self.shifted(self.previous_shift())

    def last_year(self) -> Period:
        """The same period last year (SPEC §4): whole calendar months take the same months a year earlier (February
        whole, the 29th included); a day, an ISO week and any other range go back 364 days (the same weekdays)."""
        return self.shifted(self.last_year_shift())

    def previous_shift(self) -> Shift:
        months = self.whole_months
        return Shift(months=-months) if months else Shift(days=-self.days)

    def last_year_shift(self) -> Shift:
        return Shift(months=-12) if self.whole_months else Shift(days=-364)

    def shifted(self, shift: Shift) -> Period:
        """The period moved by a shift; whole months stay whole months."""
        if shift.months and self.whole_months:
            return month_period(shift(self.start), shift(self.end.replace(day=1)))
        return Period(shift(self.start), shift(self.end))

    def covered(self, span: Period | None) -> Period | None:
        """The days of the period that lie in `span` (the data's first to latest date), or None if none do."""
        if span is None or span.end < self.start or span.start > self.end:
            return None
        return Period(max(self.start, span.start), min(self.end, span.end))

    def compared(self, kind: str, covered: Period | None) -> Period | None:
        """The period `kind` ('previous' or 'last_year') compares with, cut to the same covered days (SPEC §4: a
        partial period is compared with the same days of the comparison period); None when no day is covered."""
        shift = self.last_year_shift() if kind == "last_year" else self.previous_shift()
        whole = self.shifted(shift)
        if covered == self:
            return whole
        if covered is None:
            return None
        start, end = max(shift(covered.start), whole.start), min(shift(covered.end), whole.end)
        return Period(start, end) if start <= end else None

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class Shift:
    """A move back or forward in time by whole days or by calendar months (the day clamped to the month's end)."""

    days: int = 0
    months: int = 0

    def __call__(self, day: date) -> date:
        if self.months:
            first = add_months(day.replace(day=1), self.months)
            return first.replace(day=min(day.day, month_end(first).day))
        return day + timedelta(days=self.days)


@dataclass(frozen=True)
class Coverage:
    """Which days of a period the data covers (SPEC §4: a period running past the data's latest date, or starting
    before its first, is partial)."""

    period: Period
    covered: Period | None  # the days of the period between the data's first and latest date

    @property
    def days(self) -> int:
        return self.period.days

    @property
    def days_with_data(self) -> int:
        return self.covered.days if self.covered else 0

    @property
    def partial(self) -> bool:
        return self.covered != self.period

    def as_json(self) -> dict[str, object]:
        return {"partial": self.partial, "days_with_data": self.days_with_data, "days": self.days}


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
    """The latest local date with any order, session, ad spend or platform traffic report of a segment (default: the
    whole shop) in the warehouse, or None if there is none."""
    sql = query(
        facts(segment, order_rows=order_rows_current(con)),
        """
        select max(day) from (
            select cast(max(ordered_at) as date) as day from segment_orders
            union all
            select cast(max(started_at) as date) from segment_sessions
            union all
            select max(date) from segment_ad_spend
            union all
            select max(end_date) from segment_traffic
        )""",
    )
    rows = con.sql(sql, params=parameters(sql, {}, segment)).fetchall()
    return rows[0][0] if rows else None


def first_order_date(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> date | None:
    """The local date of the first order of a segment (default: the whole shop), of any status, or None."""
    sql = query(
        facts(segment, order_rows=order_rows_current(con)), "select cast(min(ordered_at) as date) from segment_orders"
    )
    return con.sql(sql, params=parameters(sql, {}, segment)).fetchall()[0][0]


def data_span(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> Period | None:
    """The data's first to latest local date: any order, session, ad spend or platform traffic report of a segment
    (default: the whole shop; one store's under a store filter); None if none."""
    sql = query(
        facts(segment, order_rows=order_rows_current(con)),
        """
        select min(first_day), max(last_day) from (
            select cast(min(ordered_at) as date) as first_day, cast(max(ordered_at) as date) as last_day
            from segment_orders
            union all
            select cast(min(started_at) as date), cast(max(started_at) as date) from segment_sessions
            union all
            select min(date), max(date) from segment_ad_spend
            union all
            select min(date), max(end_date) from segment_traffic
        )""",
    )
    first, last = con.sql(sql, params=parameters(sql, {}, segment)).fetchall()[0]
    return Period(first, last) if first is not None else None


def coverage(con: duckdb.DuckDBPyConnection, period: Period, segment: Segment = ALL) -> Coverage:
    """Which days of `period` the data of a segment (default: the whole warehouse) covers."""
    return Coverage(period, period.covered(data_span(con, segment)))


def default_period(con: duckdb.DuckDBPyConnection, days: int = 30, segment: Segment = ALL) -> Period | None:
    """The `days` days ending on the latest date of a segment's data (default: the warehouse's; SPEC §5), or None
    when it has none."""
    last = latest_date(con, segment)
    if last is None:
        return None
    return Period(last - timedelta(days=days - 1), last)
