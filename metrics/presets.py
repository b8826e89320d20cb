"""Named date ranges of the dashboard (today, last 7 days, this month, …) and the period each is compared with.

Every preset is relative to the warehouse's latest date rather than the wall clock, so a demo or an old export
always shows data. "This month", "this quarter" and "this year" are the whole calendar period: while it is not over it
is partial (SPEC §4), shown with its days that have data and compared with the same days of the comparison period.
"""

from __future__ import annotations

from datetime import date, timedelta

from metrics.periods import Period, add_months, month_end

PRESETS: dict[str, tuple[str, str]] = {
    "today": ("Today", "今天"),
    "yesterday": ("Yesterday", "昨天"),
    "last_7": ("Last 7 days", "近 7 天"),
    "last_30": ("Last 30 days", "近 30 天"),
    "this_month": ("This month", "本月"),
    "last_month": ("Last month", "上月"),
    "this_quarter": ("This quarter", "本季度"),
    "year_to_date": ("This year", "今年"),
    "custom": ("Custom", "自定义"),
}
DEFAULT_PRESET = "last_30"

COMPARISONS: dict[str, tuple[str, str]] = {
    "previous": ("Previous period", "上一周期"),
    "last_year": ("Same period last year", "去年同期"),
}
DEFAULT_COMPARISON = "previous"


def preset_period(preset: str, latest: date, custom: Period | None = None) -> Period:
    """The period a preset names, with `latest` (the warehouse's latest date) as "today".

    `custom` is used for the "custom" preset (default: the last 30 days). "This month / quarter / year" is the whole
    calendar period, partial while it runs past `latest`.
    """
    if preset == "today":
        return Period(latest, latest)
    if preset == "yesterday":
        day = latest - timedelta(days=1)
        return Period(day, day)
    if preset == "last_7":
        return Period(latest - timedelta(days=6), latest)
    if preset == "this_month":
        return Period(latest.replace(day=1), month_end(latest))
    if preset == "last_month":
        first = add_months(latest.replace(day=1), -1)
        return Period(first, month_end(first))
    if preset == "this_quarter":
        first = date(latest.year, (latest.month - 1) // 3 * 3 + 1, 1)
        return Period(first, month_end(add_months(first, 2)))
    if preset == "year_to_date":
        return Period(date(latest.year, 1, 1), date(latest.year, 12, 31))
    if preset == "custom" and custom is not None:
        return custom
    return Period(latest - timedelta(days=29), latest)


def comparison_period(period: Period, comparison: str, covered: Period | None = None) -> Period | None:
    """The period compared with (SPEC §4): 'previous' or 'last_year', cut to the same days as `covered` (the days of
    `period` with data; default: all of them). None when no day of `period` has data."""
    return period.compared("last_year" if comparison == "last_year" else "previous", covered or period)
