"""Anomaly alerts on daily KPIs that know the promotion calendar, and the source or device that drove each one.

A day's value is compared with what its history explains: a robust regression of the log of the KPI on a smooth trend,
the weekday and the calendar's event terms, fitted on the days before it. So 双11 is expected to be high if past 双11s
were; a day inside an event the history has never seen is not judged at all (nothing to compare with). An alert is a
day whose log-value sits more than `THRESHOLD` robust standard deviations from the expectation and moved by at least
`MIN_CHANGE`. The calendar (`events`) is the one the caller passes; without it, the packaged metrics/calendar.toml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from metrics.compute import kpi_series
from metrics.forecast import Event, ForecastError, event_terms, load_calendar
from metrics.periods import latest_date
from metrics.registry import METRICS
from metrics.segments import ALL, Segment
from metrics.units import CHANGE

ALERT_METRICS = ("conversion_rate", "aov", "bounce_rate", "ctr", "sessions")
SPLIT_METRICS = {"sessions": "source"}  # also checked group by group
DRIVER_DIMENSIONS = ("source", "device")
# The share each group's rate is weighted by in a mix decomposition: the rate's denominator where it is a metric.
WEIGHTS = {"conversion_rate": "sessions", "bounce_rate": "sessions", "aov": "orders", "ctr": "sessions"}
THRESHOLD = 3.5  # robust z beyond which a day is an alert
MIN_CHANGE = 0.05  # …and it moved by at least 5% from the expectation
WINDOW = 400  # days of history each check is fitted on: last year's events included
NOISE_DAYS = 56  # recent days whose residuals set the noise level
KNOT_DAYS = 28  # spacing of the trend's hinges
MIN_DAYS = 28
BASELINE_WEEKS = 4  # drivers: the same weekday of the previous four weeks


@dataclass(frozen=True)
class Check:
    """The verdict on one day of one series."""

    value: float
    expected: float | None
    z: float | None
    event: str | None  # label of the event whose window holds the day
    judged: bool  # False: too little history, or an event never seen before

    @property
    def change(self) -> float | None:
        return None if self.expected in (None, 0) else self.value / self.expected - 1

    def is_alert(self, threshold: float = THRESHOLD, min_change: float = MIN_CHANGE) -> bool:
        return bool(
            self.judged
            and self.z is not None
            and abs(self.z) >= threshold
            and self.change is not None
            and abs(self.change) >= min_change
        )


def _design(dates: Sequence[date], origin: date, events: Sequence[Event]) -> tuple[np.ndarray, list[str]]:
    t = np.array([(d - origin).days for d in dates], dtype=float)
    columns = [np.ones(len(dates)), t / 365.0]
    names = ["intercept", "trend"]
    # No hinge in the last eight weeks: a slope fitted on a few days would swing the next day's expectation.
    for knot in range(KNOT_DAYS, int(t.max(initial=0)) - 2 * KNOT_DAYS + 1, KNOT_DAYS):
        columns.append(np.maximum(t - knot, 0) / 365.0)
        names.append(f"hinge{knot}")
    weekday = np.array([d.weekday() for d in dates])
    for w in range(1, 7):
        columns.append((weekday == w).astype(float))
        names.append(f"weekday{w}")
    matrix, event_names = event_terms(dates, events)
    return np.column_stack([*columns, matrix]), names + event_names


def check_day(
    dates: Sequence[date], values: Sequence[float | None], day: date, events: Sequence[Event] | None = None
) -> Check:
    """Whether `day`'s value departs from what the series before it (weekday, trend, calendar) explains."""
    events = load_calendar() if events is None else tuple(events)
    series = dict(zip(dates, values, strict=True))
    value = series.get(day)
    if value is None or not np.isfinite(value):
        return Check(float("nan"), None, None, None, False)
    history = [(d, v) for d, v in series.items() if day - timedelta(days=WINDOW) <= d < day]
    history = [(d, float(v)) for d, v in history if v is not None and np.isfinite(v) and v > 0]
    label = _event_label(day, events)
    if len(history) < MIN_DAYS or value <= 0:
        return Check(float(value), None, None, label, False)
    past_dates = [d for d, _ in history]
    y = np.log([v for _, v in history])
    origin = past_dates[0]
    matrix, names = _design([*past_dates, day], origin, events)
    past, today = matrix[:-1], matrix[-1]
    # An event term the history never saw cannot be estimated: if today needs one, today cannot be judged.
    seen = past.any(axis=0) | (np.arange(len(names)) < 2)
    if np.any((today != 0) & ~seen):
        return Check(float(value), None, None, label, False)
    past, today = past[:, seen], today[seen]
    keep = np.ones(len(y), dtype=bool)
    for _ in range(2):  # refit once without the outliers of the first fit (earlier anomalies)
        beta = np.linalg.lstsq(past[keep], y[keep], rcond=None)[0]
        residuals = y - past @ beta
        scale = 1.4826 * np.median(np.abs(residuals[keep] - np.median(residuals[keep])))
        keep = np.abs(residuals) <= 4 * max(scale, 1e-9)
    recent = residuals[-NOISE_DAYS:][keep[-NOISE_DAYS:]]
    noise = 1.4826 * np.median(np.abs(recent - np.median(recent))) if len(recent) >= 14 else scale
    # The larger of the recent and the whole window's noise: a quiet few weeks should not turn ordinary days into
    # alerts; residuals are corrected for the terms fitted (they make residuals smaller than the noise).
    dof = max(1.0, keep.sum() - past.shape[1])
    noise = max(noise, scale) * float(np.sqrt(keep.sum() / dof))
    noise = max(noise, 1e-3)
    expected_log = float(today @ beta)
    return Check(float(value), float(np.exp(expected_log)), (np.log(value) - expected_log) / noise, label, True)


def _event_label(day: date, events: Sequence[Event]) -> str | None:
    for event in events:
        for peak in event.days_in(day, day):
            if -event.before <= (day - peak).days <= event.after:
                return event.label
    return None


def _drivers(
    con: duckdb.DuckDBPyConnection, metric: str, day: date, dimension: str, segment: Segment = ALL
) -> tuple[str | None, float | None, float | None]:
    """The group of `dimension` that moved `metric` most on `day` against the same weekday of the previous weeks:
    (group, its contribution to the change, the total change). Rates use a mix decomposition: a group contributes
    its share × rate today minus its share × rate then, so contributions add up to the change of the total rate."""
    weight = WEIGHTS.get(metric)
    names = [metric] + ([weight] if weight and weight != metric else [])
    start = day - timedelta(days=7 * BASELINE_WEEKS)
    frame = kpi_series(con, start, day, grain="day", metrics=names, by=dimension, segment=segment)
    baseline_days = [day - timedelta(days=7 * k) for k in range(1, BASELINE_WEEKS + 1)]
    frame = frame.filter(pl.col("period").is_in([day, *baseline_days]))
    if frame.is_empty():
        return None, None, None
    frame = frame.with_columns(pl.col(metric).cast(pl.Float64).fill_null(0.0))
    if weight:
        frame = frame.with_columns(pl.col(weight).cast(pl.Float64).fill_null(0.0).alias("_w"))
        frame = frame.with_columns((pl.col("_w") / pl.col("_w").sum().over("period")).alias("_share"))
        frame = frame.with_columns((pl.col("_share") * pl.col(metric)).fill_nan(0.0).alias("_part"))
    else:
        frame = frame.with_columns(pl.col(metric).alias("_part"))
    today = frame.filter(pl.col("period") == day).group_by("group").agg(pl.col("_part").sum().alias("today"))
    then = (
        frame.filter(pl.col("period") != day)
        .group_by("group")
        .agg((pl.col("_part").sum() / len(baseline_days)).alias("then"))
    )
    joined = today.join(then, on="group", how="full", coalesce=True, nulls_equal=True).fill_null(0.0)
    joined = joined.with_columns((pl.col("today") - pl.col("then")).alias("delta"))
    total = float(joined["delta"].sum())
    if joined.is_empty() or total == 0:
        return None, None, total
    # The driver moved the same way as the total, and most.
    signed = joined.with_columns((pl.col("delta") * np.sign(total)).alias("_same")).sort("_same", descending=True)
    top = signed.row(0, named=True)
    return top["group"], float(top["delta"]), total


ALERT_SCHEMA = {
    "date": pl.Date,
    "metric": pl.String,
    "group": pl.String,
    "value": pl.Float64,
    "expected": pl.Float64,
    "change": pl.Float64,
    "z": pl.Float64,
    "direction": pl.String,
    "good": pl.Boolean,
    "event": pl.String,
    "driver_dimension": pl.String,
    "driver": pl.String,
    "driver_contribution": pl.Float64,
    "message": pl.String,
}


def daily_alerts(
    con: duckdb.DuckDBPyConnection,
    day: date | None = None,
    events: Sequence[Event] | None = None,
    threshold: float = THRESHOLD,
    segment: Segment = ALL,
) -> pl.DataFrame:
    """The alerts of a day (default: the segment's latest date) on a segment (default: the whole shop; a store's
    alerts under a store filter). One row per KPI (and group) that moved beyond its expected range: what moved, by how
    much, whether that is good, and the source or device that drove it."""
    from metrics.registry import format_value

    events = load_calendar() if events is None else tuple(events)
    day = day or latest_date(con, segment)
    if day is None:
        raise ForecastError("the warehouse has no orders, sessions or ad spend yet: nothing to check")
    start = day - timedelta(days=WINDOW)
    overall = kpi_series(con, start, day, grain="day", metrics=list(ALERT_METRICS), segment=segment)
    series: list[tuple[str, str | None, list[date], list]] = []
    dates = overall["period"].to_list()
    for metric in ALERT_METRICS:
        series.append((metric, None, dates, overall[metric].cast(pl.Float64).to_list()))
    for metric, dimension in SPLIT_METRICS.items():
        split = kpi_series(con, start, day, grain="day", metrics=[metric], by=dimension, segment=segment)
        for (group,), part in split.group_by(["group"], maintain_order=True):
            if group is None:
                continue
            filled = dict(zip(part["period"].to_list(), part[metric].cast(pl.Float64).to_list(), strict=True))
            series.append((metric, f"{dimension}={group}", dates, [filled.get(d, 0.0) for d in dates]))
    rows = []
    for metric, group, days, values in series:
        check = check_day(days, values, day, events)
        if not check.is_alert(threshold):
            continue
        entry = METRICS[metric]
        direction = "up" if check.value > check.expected else "down"
        good = (direction == "up") == (entry.direction == "higher")
        driver_dimension = driver = contribution = None
        if group is None:
            best = None
            for dimension in DRIVER_DIMENSIONS:
                found, delta, total = _drivers(con, metric, day, dimension, segment)
                if found is not None and delta is not None and total:
                    share = delta / total
                    if best is None or share > best[3]:
                        best = (dimension, found, delta, share)
            if best:
                driver_dimension, driver, contribution, _ = best
        else:
            driver_dimension, driver = group.split("=", 1)
        what = entry.label_en + (f" ({group})" if group else "")
        change = CHANGE.text(check.change, style="whole")
        message = (
            f"{what} {direction} {change}: {format_value(metric, check.value)} against "
            f"{format_value(metric, check.expected)} expected"
        )
        if check.event:
            message += f" for a {check.event} day"
        if driver_dimension and contribution is not None:
            message += f"; driven by {driver_dimension} {driver} (contributing {format_value(metric, contribution)})"
        elif driver_dimension:
            message += f"; in {driver_dimension} {driver}"
        rows.append(
            {
                "date": day,
                "metric": metric,
                "group": group,
                "value": check.value,
                "expected": check.expected,
                "change": check.change,
                "z": check.z,
                "direction": direction,
                "good": good,
                "event": check.event,
                "driver_dimension": driver_dimension,
                "driver": driver,
                "driver_contribution": contribution,
                "message": message,
            }
        )
    frame = pl.DataFrame(rows, schema=ALERT_SCHEMA)
    return frame.sort(pl.col("z").abs(), descending=True)
