"""The forecast of a warehouse metric: its daily history, the model its backtest chose, and a band per day overall or
per group of a dimension (`forecast_metric`); `forecast_series` is the same for one daily series."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from metrics.compute import kpi_series
from metrics.forecast.backtest import Backtest, backtest_horizon, backtest_series
from metrics.forecast.calendar import SEASON, Event, _dates, load_calendar
from metrics.forecast.design import _design
from metrics.forecast.intervals import Band, stretched
from metrics.forecast.models import (
    MIN_HISTORY,
    MIN_SHORT_HISTORY,
    MODELS,
    SARIMAX_ORDERS,
    SHORT_MODEL,
    WEEKLY,
    Fitted,
    _naive_band,
    band,
    fit_model,
)
from metrics.forecast.threads import single_threaded
from metrics.periods import latest_date
from metrics.registry import METRICS, dimensions_of
from metrics.segments import ALL, Segment

DEFAULT_HISTORY_DAYS = 730  # two years: every yearly event seen twice
UNTESTED_MODEL = "sarimax_promo"  # the model of a history long enough to model but too short to backtest


class ForecastError(ValueError):
    """A forecast that cannot be made from the data, explained in one line (exit 1 in the CLI)."""


@single_threaded
def forecast_series(
    start: date,
    y: np.ndarray,
    horizon: int,
    events: Sequence[Event],
    model: str | None = None,
    backtest: Backtest | None = None,
    refit: bool = True,
    params: Sequence | None = None,
    known: tuple | None = None,
    widths: tuple[float, float] | None = None,
) -> tuple[str, Band, Fitted | None]:
    """The forecast of one daily series from `start`: model name, band over the next `horizon` days, fitted model.

    `model` None: the backtest's best (backtesting here if no backtest is given). A history too short to backtest
    is forecast at its level (two to four weeks) or by seasonal naive with empirical intervals (under two weeks).
    `known`: `model`'s parameters estimated on a related history (default: the backtest's); with `refit` they start
    the search, without it the SARIMAX ones are kept as they are (only the whole history is filtered: much faster
    where many series are forecast; ETS is still fitted, its initial states belonging to its own series). `params`:
    the parameters of `model` already estimated on this history (e.g. `Forecast.params`): only filtered. `widths`:
    the 80% and 95% stretch of the model's intervals its backtest measured on held-out days (default: the
    backtest's, `Backtest.widths`; none without a backtest).
    """
    y = np.asarray(y, dtype=float)
    if len(y) < MIN_HISTORY and model not in (None, SHORT_MODEL):
        return "seasonal_naive", _naive_band(y, horizon), None
    if len(y) < MIN_HISTORY:
        if len(y) < MIN_SHORT_HISTORY:
            return "seasonal_naive", _naive_band(y, horizon), None
        model = SHORT_MODEL
    if model is None:
        backtest = backtest or backtest_series(start, y, backtest_horizon(horizon), events)
        model = backtest.best() or "sarimax_promo"
    design = _design(_dates(start, len(y)), y, events)
    if known is None and backtest is not None:
        known = backtest.params.get(model)
    if widths is None and backtest is not None:
        widths = backtest.widths.get(model)
    try:
        if params is not None:
            fitted = fit_model(model, start, y, design, params=tuple(params))
        elif not refit and known is not None and model not in ("ets", WEEKLY):
            # The ARIMA parameters do not depend on the regressors (these are states) nor on the level, so they
            # filter any series of the same kind; an ETS's hold its series' initial level and trend: a combination's
            # ETS members are fitted on this one.
            kept = known if model in SARIMAX_ORDERS else tuple((m, p) for m, p in known if m in SARIMAX_ORDERS)
            fitted = fit_model(model, start, y, design, params=kept)
        else:
            fitted = fit_model(model, start, y, design, start_params=known)
    except (np.linalg.LinAlgError, ValueError):
        return "seasonal_naive", _naive_band(y, horizon), None
    return model, stretched(band(fitted, horizon), design, widths), fitted


@dataclass
class Forecast:
    """A metric's daily forecast, overall or per group, with its backtest against seasonal naive."""

    metric: str
    by: str | None
    model: str
    history: pl.DataFrame  # one row per group and day: group, date, value
    rows: pl.DataFrame  # one row per group and future day: group, date, forecast, lo80, hi80, lo95, hi95
    backtest: Backtest
    seconds: float
    # the forecasting model's parameters estimated on the whole history of the total (None when split or for
    # seasonal naive; a combination: one per member): `month_pacing(..., params=...)` reuses them instead of
    # estimating them again
    params: tuple | None = None

    def backtest_summary(self) -> dict:
        """SPEC §5's backtest object: the chosen model's accuracy and coverage, and the baseline's accuracy."""
        scores = self.backtest.scores(self.model) if self.model in MODELS else self.backtest.scores("")
        model = {key: scores[key] for key in ("mape", "smape", "coverage80", "coverage95")}
        naive = self.backtest.scores("seasonal_naive")
        return {"model": model, "seasonal_naive": {"mape": naive["mape"], "smape": naive["smape"]}}


def forecastable(metric: str, by: str | None = None) -> str | None:
    """Why a metric cannot be forecast (split by `by`), or None if it can."""
    entry = METRICS.get(metric)
    if entry is None:
        return f"unknown metric {metric!r}"
    if not entry.additive:
        return f"{metric} is a ratio or a distinct count; forecast its parts (e.g. orders, sessions) instead"
    if by is not None and by not in dimensions_of(metric):
        splittable = [m for m in ("gross_sales", "units", "orders", "sessions") if by in dimensions_of(m)]
        return f"{metric} cannot be split by {by}" + (f"; try {', '.join(splittable)}" if splittable else "")
    return None


def metric_history(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    by: str | None = None,
    days: int = DEFAULT_HISTORY_DAYS,
    segment: Segment = ALL,
) -> pl.DataFrame:
    """The metric's daily values over the last `days` days of the warehouse, on a segment (default: the whole shop).
    One row per group and day (zeros where nothing happened); group null without `by`, and for rows no group names
    (e.g. orders without a session)."""
    end = latest_date(con, segment)
    if end is None:
        raise ForecastError("the warehouse has no orders, sessions or ad spend yet: nothing to forecast")
    start = end - timedelta(days=days - 1)
    frame = kpi_series(con, start, end, grain="day", metrics=[metric], by=by, segment=segment)
    if by is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("group"))
    frame = frame.select("group", pl.col("period").alias("date"), pl.col(metric).cast(pl.Float64).alias("value"))
    calendar = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    groups = frame.select("group").unique()
    full = groups.join(calendar, how="cross").join(frame, on=["group", "date"], how="left", nulls_equal=True)
    return full.with_columns(pl.col("value").fill_null(0.0)).sort(["group", "date"], nulls_last=True)


def _trimmed(dates: list[date], values: np.ndarray) -> tuple[date, np.ndarray]:
    # A group that started part-way (a new source, a new category) is modelled from its first non-zero day.
    nonzero = np.flatnonzero(values != 0)
    first = int(nonzero[0]) if len(nonzero) else 0
    return dates[first] if dates else date.today(), values[first:]


def _series_of(history: pl.DataFrame) -> list[tuple[str | None, date, np.ndarray]]:
    """Each group's series from its first non-zero day; groups with no value left out."""
    series = []
    for (group,), part in history.group_by(["group"], maintain_order=True):
        start, y = _trimmed(part.get_column("date").to_list(), part.get_column("value").to_numpy())
        if np.any(y != 0):
            series.append((group, start, y))
    return series


def model_choice(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    horizon: int = 4 * SEASON,
    events: Sequence[Event] | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
    segment: Segment = ALL,
) -> Backtest:
    """The backtest of every candidate on the metric's daily total (`horizon` days ahead from each origin), on a
    segment: its `best()` is the model forecasts of the metric use, overall and per group (the metric being
    additive, the total is the sum of any split's groups), and its `params` their starting point. The costly part of
    a forecast, and the same for every horizon and split: the dashboard computes it when a warehouse is published."""
    problem = forecastable(metric)
    if problem:
        raise ValueError(problem)
    events = load_calendar() if events is None else tuple(events)
    history = metric_history(con, metric, None, history_days, segment)
    series = _series_of(history)
    if not series:
        raise ForecastError(f"{metric} is 0 on every day of the last {history_days} days: nothing to forecast")
    _, start, y = series[0]
    return backtest_series(start, y, horizon, events)


def forecast_chosen(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    horizon: int,
    by: str | None,
    events: Sequence[Event],
    model: str | None,
    known: tuple | None = None,
    widths: tuple[float, float] | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
    segment: Segment = ALL,
) -> Forecast:
    """The daily forecast of a metric with a model already chosen (`model_choice(...).best()`, None when no model
    could be backtested) and its parameters there (`known`): fits only, no backtest (`Forecast.backtest` has no
    origins). Overall, the model is fitted on the whole history from `known`; per group, the SARIMAX parameters are
    kept and only filter each group's history (ETS is fitted on each), a fraction of a second a group. `widths`: the
    stretch of the model's intervals measured on the total's held-out days (`model_choice(...).widths[model]`),
    applied to the total's forecast (a group's errors are not the total's: its intervals are the model's own)."""
    started = time.perf_counter()
    problem = forecastable(metric, by)
    if problem:
        raise ValueError(problem)
    if horizon < 1:
        raise ValueError("the horizon must be at least 1 day")
    events = tuple(events)
    history = metric_history(con, metric, by, history_days, segment)
    series = _series_of(history)
    if not series:
        raise ForecastError(f"{metric} is 0 on every day of the last {history_days} days: nothing to forecast")
    model = model if model in MODELS else None
    last = history.get_column("date").max()
    future = _dates(last + timedelta(days=1), horizon)
    frames = []
    params = None
    shown = model or "seasonal_naive"
    for group, start, y in series:
        # too short a history to backtest (under 14 weeks), long enough to model: the SARIMAX with the calendar
        chosen = (model or UNTESTED_MODEL) if len(y) >= MIN_HISTORY else None
        own = widths if by is None and chosen == model else None
        name, result, fitted = forecast_series(
            start, y, horizon, events, chosen, refit=by is None, known=known, widths=own
        )
        if by is None:
            shown = name  # a history too short for the candidates is forecast at its level or by seasonal naive
            params = fitted.params if fitted is not None else None
        elif name != model and name != SHORT_MODEL and model is not None:
            name, result = "seasonal_naive", _naive_band(y, horizon)
        frames.append(
            pl.DataFrame(
                {
                    "group": [group] * horizon,
                    "date": future,
                    "forecast": result.forecast,
                    "lo80": result.lo80,
                    "hi80": result.hi80,
                    "lo95": result.lo95,
                    "hi95": result.hi95,
                },
                schema={"group": pl.String, "date": pl.Date} | {k: pl.Float64 for k in Band.__annotations__},
            )
        )
    rows = pl.concat(frames)
    no_backtest = Backtest(backtest_horizon(horizon), [])
    return Forecast(metric, by, shown, history, rows, no_backtest, time.perf_counter() - started, params)


def forecast_metric(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    horizon: int = 30,
    by: str | None = None,
    events: Sequence[Event] | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
    segment: Segment = ALL,
) -> Forecast:
    """The daily forecast of a metric for the `horizon` days after the latest date in the warehouse, on a segment
    (default: the whole shop), with the backtest that chose its model: `model_choice` on the total (`horizon` days
    ahead, within one to four weeks), then `forecast_chosen`. Under a split the backtest is the total's."""
    started = time.perf_counter()
    problem = forecastable(metric, by)
    if problem:
        raise ValueError(problem)
    if horizon < 1:
        raise ValueError("the horizon must be at least 1 day")
    events = load_calendar() if events is None else tuple(events)
    choice = model_choice(con, metric, backtest_horizon(horizon), events, history_days, segment)
    model = choice.best()
    known = choice.params.get(model) if model else None
    widths = choice.widths.get(model) if model else None
    result = forecast_chosen(con, metric, horizon, by, events, model, known, widths, history_days, segment)
    result.backtest = choice
    result.seconds = time.perf_counter() - started
    return result
