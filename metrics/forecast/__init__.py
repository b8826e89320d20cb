"""Daily forecasts with 80% / 95% intervals, chosen by rolling-origin backtest, and month-to-date target pacing.

A series is modelled on a variance-stabilised scale (log1p for non-negative metrics, so intervals never go below 0)
with weekly seasonality and the promotion calendar (metrics/calendar.toml) as known events. Three candidates are
backtested on the same rolling origins as a seasonal-naive baseline (each day forecast by the same weekday of the
last observed week): two regressions with SARIMA errors and the calendar's event terms as regressors
(`sarimax_promo`: ARMA(1,1) on the week-on-week change; `airline_promo`: (0,1,1)(0,1,1)7), and ETS (damped trend,
weekly season, no regressors). Of the models within 10% of the lowest backtest MAPE, the one whose 95% intervals held
closest to 95% of the held-out days makes the forecast (`Backtest.best`, backtest.py). Interval widths use the fit's own
errors, not the normal's 1.28 / 1.96: for each step ahead, the h-step errors it would have made over the last half
year (rebuilt from its one-step errors), with event days' excess measured apart (intervals.py).

Accuracy figures are fractions (0.12 = 12%) over held-out days with a positive actual value (a closed day has no
percentage error; the days a shop never trades, e.g. Saturdays, would flatter interval coverage).

The package reads in that order: calendar.py (the events), design.py (the scale and regressors of one series),
intervals.py (bands and their calibration), models.py (the candidates and the baseline), backtest.py, metric.py (the
forecast of a warehouse metric) and pacing.py (the month against its target). Callers import from here.
"""

from metrics.forecast.backtest import Backtest, backtest_horizon, backtest_series
from metrics.forecast.calendar import (
    DEFAULT_CALENDAR_PATH,
    SEASON,
    CalendarError,
    Event,
    event_days,
    event_terms,
    load_calendar,
)
from metrics.forecast.calendar import _dates as _dates
from metrics.forecast.design import Design
from metrics.forecast.design import _design as _design
from metrics.forecast.intervals import Band
from metrics.forecast.metric import (
    DEFAULT_HISTORY_DAYS,
    Forecast,
    ForecastError,
    forecast_metric,
    forecast_series,
    forecastable,
    metric_history,
)
from metrics.forecast.metric import _trimmed as _trimmed
from metrics.forecast.models import MODELS, SARIMAX_ORDERS, Fitted, band, fit_model, seasonal_naive
from metrics.forecast.pacing import Pacing, month_pacing, monthly_target

# Also re-exported above (`x as x`): _dates, _design and _trimmed, the single-series helpers that
# metrics/replenishment.py and bench/forecasts.py use.
__all__ = [
    "DEFAULT_CALENDAR_PATH",
    "DEFAULT_HISTORY_DAYS",
    "MODELS",
    "SARIMAX_ORDERS",
    "SEASON",
    "Backtest",
    "Band",
    "CalendarError",
    "Design",
    "Event",
    "Fitted",
    "Forecast",
    "ForecastError",
    "Pacing",
    "backtest_horizon",
    "backtest_series",
    "band",
    "event_days",
    "event_terms",
    "fit_model",
    "forecast_metric",
    "forecast_series",
    "forecastable",
    "load_calendar",
    "metric_history",
    "month_pacing",
    "monthly_target",
    "seasonal_naive",
]
