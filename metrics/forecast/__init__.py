"""Daily forecasts with 80% / 95% intervals, chosen by rolling-origin backtest, and month-to-date target pacing.

A series is modelled on its trading days (design.py): a weekday the shop never trades (a wholesaler's Saturdays) is
left out and forecast at 0, a closure (a day with no sales on a trading weekday) and an outlier day (one wholesale
order: far from the median of the days around it) are missing values rather than zeros or levels to chase, and a run
of closed days (Christmas to New Year) comes back closed a year later. The scale is log1p for non-negative metrics
(intervals never go below 0) with the weekly season and the promotion calendar (metrics/calendar.toml) as known
events. Five candidates are backtested on the same rolling origins as a seasonal-naive baseline (each day forecast by
the same weekday of the last observed week): two regressions with SARIMA errors and the calendar's event terms as
regressors (`sarimax_promo`: ARMA(1,1) on the week-on-week change; `airline_promo`: (0,1,1)(0,1,1)), ETS (damped
trend, weekly season, no regressors), `weekly` (damped-trend ETS of the weekly levels, the weekday profile and the
day's noise added back) and `combined`, the average of those of the four within 25% of the best one's MAPE. Of the
models within 10% of the lowest backtest MAPE, the one whose 95% intervals held closest to 95% of the held-out days
makes the forecast (`Backtest.best`, backtest.py). A history of two to four weeks is forecast at its
recent level (`level`), a shorter one by seasonal naive. SARIMAX interval widths use the fit's own errors, not the
normal's 1.28 / 1.96: for each step ahead, the h-step errors it would have made over the last half year (rebuilt from
its one-step errors), with event days' excess measured apart (intervals.py). The backtest then measures how far
each model's half-widths (on the log scale) had to stretch to hold 80% and 95% of its held-out trading days (split
conformal: `Backtest.widths`), each fold by the folds over before its origin so that the coverage it scores is out
of sample, and the forecast of the total applies the stretch measured on every fold.

Accuracy figures are fractions (0.12 = 12%) over held-out days with a positive actual value (a closed day has no
percentage error; the days a shop never trades, e.g. Saturdays, would flatter interval coverage); MASE divides the
mean absolute error by the history's mean absolute week-on-week change over pairs of trading days (Hyndman and
Koehler's in-sample seasonal-naive scale with m = 7, the pairs with a closed day left out, as the held-out days are).
Fits run with one OpenBLAS thread (threads.py).

`model_choice` (the backtest of a metric's total) is the costly part and depends on neither the horizon nor a split:
the dashboard computes it when a warehouse is published, and `forecast_chosen` then only fits the chosen model
(per group of a split: the total's SARIMAX parameters filter each group's history).

The package reads in that order: calendar.py (the events), design.py (the scale, trading days and regressors of one
series), intervals.py (bands and their calibration), models.py (the candidates and the baseline), backtest.py,
metric.py (the forecast of a warehouse metric) and pacing.py (the month against its target). Callers import from
here.
"""

from metrics.forecast.backtest import Backtest, backtest_horizon, backtest_series, mase_scale
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
    forecast_chosen,
    forecast_metric,
    forecast_series,
    forecastable,
    metric_history,
    model_choice,
)
from metrics.forecast.metric import _trimmed as _trimmed
from metrics.forecast.models import (
    COMBINED,
    MODELS,
    SARIMAX_ORDERS,
    SHORT_MODEL,
    SINGLE_MODELS,
    Fitted,
    band,
    combine,
    fit_model,
    seasonal_naive,
)
from metrics.forecast.pacing import Pacing, month_pacing, monthly_target

# Also re-exported above (`x as x`): _dates, _design and _trimmed, the single-series helpers that
# metrics/replenishment.py and bench/forecasts.py use.
__all__ = [
    "COMBINED",
    "DEFAULT_CALENDAR_PATH",
    "DEFAULT_HISTORY_DAYS",
    "MODELS",
    "SARIMAX_ORDERS",
    "SEASON",
    "SHORT_MODEL",
    "SINGLE_MODELS",
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
    "combine",
    "event_days",
    "event_terms",
    "fit_model",
    "forecast_chosen",
    "forecast_metric",
    "forecast_series",
    "forecastable",
    "load_calendar",
    "mase_scale",
    "metric_history",
    "model_choice",
    "month_pacing",
    "monthly_target",
    "seasonal_naive",
]
