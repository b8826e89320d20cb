"""Month-to-date pacing against the month's target: a target line shaped like the month's expected days, and the
month-end outlook from simulated paths of the forecasting model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from metrics.compute import kpi_series
from metrics.forecast.backtest import backtest_series
from metrics.forecast.calendar import SEASON, Event, _dates, load_calendar
from metrics.forecast.metric import (
    DEFAULT_HISTORY_DAYS,
    ForecastError,
    _trimmed,
    forecast_series,
    forecastable,
    metric_history,
)
from metrics.forecast.models import MIN_HISTORY
from metrics.periods import first_order_date, latest_date, month_end, shift_years
from metrics.segments import ALL, Segment
from metrics.units import RATE

DEFAULT_TARGET_GROWTH = 0.10  # default monthly target: last year's same month × (1 + 10%)


@dataclass
class Pacing:
    """Month to date against a target line shaped like the month's expected days, and the month-end outlook."""

    metric: str
    month: date  # first day
    target: float | None
    target_source: str  # how the target was set, in words
    actual_to_date: float
    target_to_date: float | None
    projected: float  # month-end total: actual to date + median of the simulated rest
    projected_lo80: float
    projected_hi80: float
    probability: float | None  # P(month total ≥ target) from the forecast distribution
    days: (
        pl.DataFrame
    )  # one row per day of the month: date, actual, forecast, expected, target_cum, actual_cum, projected_cum


def monthly_target(
    con: duckdb.DuckDBPyConnection, metric: str, month: date, targets: dict | None = None, segment: Segment = ALL
) -> tuple[float | None, str]:
    """The month's target and where it comes from.

    Rule: a `[monthly_<metric>]` entry (its min) in `targets` (the targets in force, from the user's targets file;
    default: the packaged ones), e.g. `[monthly_total_revenue] min = 1_200_000`; else last year's same month ×
    (1 + growth), growth from `[monthly_<metric>_growth] min` or 10%.
    """
    from metrics.targets import load_targets

    targets = load_targets() if targets is None else targets
    own = targets.get(f"monthly_{metric}")
    if own is not None and own.min is not None:
        return float(own.min), f"monthly_{metric} in the targets file"
    growth_entry = targets.get(f"monthly_{metric}_growth")
    growth = float(growth_entry.min) if growth_entry is not None and growth_entry.min is not None else None
    growth = DEFAULT_TARGET_GROWTH if growth is None else growth
    first, last = shift_years(month, -1), month_end(shift_years(month, -1))
    frame = kpi_series(con, first, last, grain="month", metrics=[metric], segment=segment)
    base = float(frame.get_column(metric).sum()) if len(frame) else 0.0
    earliest = first_order_date(con, segment)
    if base <= 0 or earliest is None or earliest > first:
        return None, f"no target: set monthly_{metric} in the targets file (no full month a year earlier)"
    return base * (1 + growth), f"{first:%Y-%m} × (1 + {RATE.text(growth, style='whole')})"


def month_pacing(
    con: duckdb.DuckDBPyConnection,
    metric: str = "total_revenue",
    month: date | None = None,
    target: float | None = None,
    events: Sequence[Event] | None = None,
    repetitions: int = 500,  # enough for a probability to the nearest few percent, in about a second
    seed: int = 0,
    model: str | None = None,
    params: Sequence | None = None,
    targets: dict | None = None,
    segment: Segment = ALL,
) -> Pacing:
    """Pacing of the month after the latest complete day (default: the month holding the day after the latest date).

    The target line spreads the target over the month like a forecast made on the month's first day (weekdays,
    promotion days); the projection adds simulated paths of the rest of the month to the actual month to date.
    `params`: `model`'s parameters already estimated on the metric's history (`Forecast.params` of the metric's
    forecast), so that nothing is estimated here. `targets`: the targets in force, read when no `target` is given
    (see `monthly_target`). `segment`: the source / device filter (default: the whole shop).
    """
    problem = forecastable(metric)
    if problem:
        raise ValueError(problem)
    if params is not None and model is None:
        raise ValueError("params are a model's parameters: give the model too")
    events = load_calendar() if events is None else tuple(events)
    latest = latest_date(con, segment)
    if latest is None:
        raise ForecastError("the warehouse has no orders, sessions or ad spend yet: nothing to pace")
    month = (latest + timedelta(days=1)).replace(day=1) if month is None else month.replace(day=1)
    last_day = month_end(month)
    source = "given"
    if target is None:
        target, source = monthly_target(con, metric, month, targets, segment)
    history = metric_history(con, metric, None, DEFAULT_HISTORY_DAYS, segment)
    dates = history.get_column("date").to_list()
    values = history.get_column("value").to_numpy()
    start, y = _trimmed(dates, values)
    days_in_month = (last_day - month).days + 1
    month_dates = _dates(month, days_in_month)

    backtest = None
    if model is None and len(y) >= MIN_HISTORY:
        backtest = backtest_series(start, y, 4 * SEASON, events)
        model = backtest.best()
    model = model or "sarimax_promo"

    done = max(0, min(days_in_month, (latest - month).days + 1))
    actual = np.full(days_in_month, np.nan)
    if done:
        actual[:done] = y[len(y) - done :]
    actual_to_date = float(np.nansum(actual[:done])) if done else 0.0
    remaining = days_in_month - done
    forecast_rest = np.zeros(remaining)
    totals = np.full(repetitions, actual_to_date)
    fitted = None
    if remaining:
        _, rest_band, fitted = forecast_series(start, y, remaining, events, model, backtest, params=params)
        forecast_rest = rest_band.forecast
        if fitted is not None:
            paths = fitted.simulate(remaining, repetitions, np.random.default_rng(seed))
            totals = actual_to_date + paths.sum(axis=0)
        else:
            totals = actual_to_date + np.full(repetitions, forecast_rest.sum())

    # The expected shape: a forecast of the whole month from the history before it. The parameters estimated on the
    # whole history only filter that history (one estimation, not two): the weekday and promotion effects of the
    # shape are still learnt from the days before the month alone.
    before = y[: max(0, (month - start).days)]
    shape = np.ones(days_in_month)
    if len(before) >= MIN_HISTORY:
        known = fitted.params if fitted is not None else params
        _, shape_band, _ = forecast_series(start, before, days_in_month, events, model, params=known)
        shape = shape_band.forecast
    shape = np.where(shape > 0, shape, 0) if shape.sum() > 0 else np.ones(days_in_month)
    weights = shape / shape.sum()
    expected = np.concatenate([actual[:done], forecast_rest])
    target_cum = np.cumsum(weights) * target if target is not None else np.full(days_in_month, np.nan)
    days = pl.DataFrame(
        {
            "date": month_dates,
            "actual": actual,
            "forecast": np.concatenate([np.full(done, np.nan), forecast_rest]),
            "expected": shape,
            "target_cum": target_cum,
            "actual_cum": np.where(np.arange(days_in_month) < done, np.nancumsum(np.nan_to_num(actual)), np.nan),
            "projected_cum": np.cumsum(expected),
        }
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    return Pacing(
        metric=metric,
        month=month,
        target=target,
        target_source=source,
        actual_to_date=actual_to_date,
        target_to_date=float(target_cum[done - 1]) if target is not None and done else (0.0 if target else None),
        projected=float(np.median(totals)),
        projected_lo80=float(np.quantile(totals, 0.1)),
        projected_hi80=float(np.quantile(totals, 0.9)),
        probability=float(np.mean(totals >= target)) if target is not None else None,
        days=days,
    )
