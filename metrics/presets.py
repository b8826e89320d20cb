"""Named date ranges of the dashboard (today, last 7 days, this month, …) and the period each is compared with.

Every preset is relative to the warehouse's latest date rather than the wall clock, so a demo or an old export
always shows data.
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
    "year_to_date": ("Year to date", "年初至今"),
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

    `custom` is used for the "custom" preset (default: the last 30 days). Periods to date end on `latest`.
    """
    if preset == "today":
        return Period(latest, latest)
    if preset == "yesterday":
        day = latest - timedelta(days=1)
        return Period(day, day)
    if preset == "last_7":
        return Period(latest - timedelta(days=6), latest)
    if preset == "this_month":
        return Period(latest.replace(day=1), latest)
    if preset == "last_month":
        first = add_months(latest.replace(day=1), -1)
        return Period(first, month_end(first))
    if preset == "this_quarter":
        return Period(date(latest.year, (latest.month - 1) // 3 * 3 + 1, 1), latest)
    if preset == "year_to_date":
        return Period(date(latest.year, 1, 1), latest)
    if preset == "custom" and custom is not None:
        return custom
    return Period(latest - timedelta(days=29), latest)


def comparison_period(period: Period, comparison: str) -> Period:
    """The period compared with: the one just before (same length) or the same dates a year earlier."""
    return period.last_year() if comparison == "last_year" else period.previous()
