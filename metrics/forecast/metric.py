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
from metrics.forecast.calendar import Event, _dates, load_calendar
from metrics.forecast.design import _design
from metrics.forecast.intervals import Band
from metrics.forecast.models import MIN_HISTORY, MODELS, SARIMAX_ORDERS, Fitted, _naive_band, band, fit_model
from metrics.periods import latest_date
from metrics.registry import METRICS, dimensions_of
from metrics.segments import ALL, Segment

DEFAULT_HISTORY_DAYS = 730  # two years: every yearly event seen twice


class ForecastError(ValueError):
    """A forecast that cannot be made from the data, explained in one line (exit 1 in the CLI)."""


def forecast_series(
    start: date,
    y: np.ndarray,
    horizon: int,
    events: Sequence[Event],
    model: str | None = None,
    backtest: Backtest | None = None,
    refit: bool = True,
    params: Sequence[float] | None = None,
) -> tuple[str, Band, Fitted | None]:
    """The forecast of one daily series from `start`: model name, band over the next `horizon` days, fitted model.

    `model` None: the backtest's best (backtesting here if no backtest is given). Too short a history gives the
    seasonal naive forecast with empirical intervals. `refit` False: keep the parameters the backtest estimated
    (only filter the whole history), much faster where many series are forecast. `params`: the parameters of
    `model` already estimated on this history (e.g. `Forecast.params`): only filtered, no estimation.
    """
    y = np.asarray(y, dtype=float)
    if len(y) < MIN_HISTORY:
        return "seasonal_naive", _naive_band(y, horizon), None
    if model is None:
        backtest = backtest or backtest_series(start, y, backtest_horizon(horizon), events)
        model = backtest.best() or "sarimax_promo"
    design = _design(_dates(start, len(y)), y, events)
    known = backtest.params.get(model) if backtest is not None else None
    same_terms = known is not None and backtest.designs.get(model) == design.names
    try:
        if params is not None:
            fitted = fit_model(model, start, y, design, params=np.asarray(params, dtype=float))
        elif not refit and known is not None and model in SARIMAX_ORDERS:
            # The ARIMA parameters do not depend on the regressors (these are states), so any design filters.
            fitted = fit_model(model, start, y, design, params=known)
        else:
            fitted = fit_model(model, start, y, design, start_params=known if same_terms else None)
    except (np.linalg.LinAlgError, ValueError):
        return "seasonal_naive", _naive_band(y, horizon), None
    return model, band(fitted, horizon), fitted


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
    # seasonal naive): `month_pacing(..., params=...)` reuses them instead of estimating them again
    params: tuple[float, ...] | None = None

    def backtest_summary(self) -> dict:
        """SPEC §5's backtest object: the chosen model's accuracy and coverage, and the baseline's accuracy."""
        model = self.backtest.scores(self.model) if self.model in MODELS else self.backtest.scores("")
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
    (default: the whole shop)."""
    started = time.perf_counter()
    problem = forecastable(metric, by)
    if problem:
        raise ValueError(problem)
    if horizon < 1:
        raise ValueError("the horizon must be at least 1 day")
    events = load_calendar() if events is None else tuple(events)
    history = metric_history(con, metric, by, history_days, segment)
    series = []
    for (group,), part in history.group_by(["group"], maintain_order=True):
        start, y = _trimmed(part.get_column("date").to_list(), part.get_column("value").to_numpy())
        if np.any(y != 0):
            series.append((group, start, y))
    if not series:
        raise ForecastError(f"{metric} is 0 on every day of the last {history_days} days: nothing to forecast")
    bt_horizon = backtest_horizon(horizon)
    if by is None:
        backtests = [backtest_series(start, y, bt_horizon, events) for _, start, y in series]
        model = backtests[0].best() or "seasonal_naive"
    else:
        # A split multiplies the work by the number of groups: the candidates compete once, on the total (the sum
        # of the groups, the metric being additive); each group then backtests and forecasts with the winner only,
        # keeping the ARIMA parameters its backtest estimated (the calendar effects are re-estimated by the filter).
        total = history.group_by("date").agg(pl.col("value").sum()).sort("date")
        total_start, total_y = _trimmed(total["date"].to_list(), total["value"].to_numpy())
        model = backtest_series(total_start, total_y, bt_horizon, events).best() or "seasonal_naive"
        models = [model] if model in MODELS else []
        backtests = [backtest_series(start, y, bt_horizon, events, models=models) for _, start, y in series]
    pooled = backtests[0]
    for other in backtests[1:]:
        pooled = pooled.merge(other)
    last = history.get_column("date").max()
    future = _dates(last + timedelta(days=1), horizon)
    frames = []
    params = None
    for (group, start, y), own in zip(series, backtests, strict=True):
        chosen = model if (model in MODELS and len(y) >= MIN_HISTORY) else None
        name, result, fitted = forecast_series(start, y, horizon, events, chosen, own, refit=by is None)
        if name != model and model in MODELS:
            name, result = "seasonal_naive", _naive_band(y, horizon)
        elif by is None and fitted is not None:
            params = tuple(float(v) for v in np.asarray(fitted.result.params))
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
    return Forecast(metric, by, model, history, rows, pooled, time.perf_counter() - started, params)
