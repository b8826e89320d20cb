"""Daily forecasts with 80% / 95% intervals, chosen by rolling-origin backtest, and month-to-date target pacing.

A series is modelled on a variance-stabilised scale (log1p for non-negative metrics, so intervals never go below 0)
with weekly seasonality and the promotion calendar (metrics/calendar.toml) as known events. Three candidates are
backtested on the same rolling origins as a seasonal-naive baseline (each day forecast by the same weekday of the
last observed week): two regressions with SARIMA errors and the calendar's event terms as regressors
(`sarimax_promo`: ARMA(1,1) on the week-on-week change; `airline_promo`: (0,1,1)(0,1,1)7), and ETS (damped trend,
weekly season, no regressors). Of the models within 10% of the lowest backtest MAPE, the one whose 95% intervals held
closest to 95% of the held-out days makes the forecast (`Backtest.best`). Interval widths use the fit's own
errors, not the normal's 1.28 / 1.96: for each step ahead, the h-step errors it would have made over the last half
year (rebuilt from its one-step errors), with event days' excess measured apart (`_calibrate`).

Accuracy figures are fractions (0.12 = 12%) over held-out days with a positive actual value (a closed day has no
percentage error; the days a shop never trades, e.g. Saturdays, would flatter interval coverage).
"""

from __future__ import annotations

import math
import os
import re
import time
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from metrics.compute import kpi_series
from metrics.periods import add_months, latest_date, month_end, shift_years
from metrics.registry import METRICS, dimensions_of

DEFAULT_CALENDAR_PATH = Path(__file__).resolve().parent / "calendar.toml"
DEFAULT_HISTORY_DAYS = 730  # two years: every yearly event seen twice
SEASON = 7
Z80 = 1.2815515655446004  # standard normal quantiles of the two-sided 80% and 95% intervals
Z95 = 1.959963984540054
BACKTEST_FOLDS = 8
BACKTEST_STEP = 7  # days between rolling origins
NEAR_BEST = 1.10  # models within 10% of the best backtest MAPE are near-equals; calibration decides between them
RECENT_ERRORS = 182  # days of errors that set the interval width of ordinary days
CALIBRATION_STEPS = 4 * SEASON  # steps ahead whose interval multipliers are measured (later steps: the last one's)
ROBUST_TAIL = 0.9  # share of the measured 95% quantile kept as a floor
MIN_HISTORY = 4 * SEASON  # fewer days than this: seasonal naive only
# The likelihood search stops when its slope (per day and parameter) is below this. The likelihood is flat near its
# maximum (the ARMA terms drift towards a unit root): scipy's default 1e-5 spent 1.3-7 times the evaluations for gains
# in log-likelihood below 0.5 that moved no backtest MAPE of forecast_bench by more than 0.1 point. (Stopping on small
# gains per step instead, scipy's factr, halts some searches half-way along that slow climb.)
FIT_PGTOL = 5e-4
DEFAULT_TARGET_GROWTH = 0.10  # default monthly target: last year's same month × (1 + 10%)
# SARIMAX orders of the regression-with-ARIMA-errors candidates: (order, seasonal order)
SARIMAX_ORDERS = {
    # ARMA(1,1) on the week-on-week change with a seasonal MA term: a weekly pattern that adapts slowly, a level
    # that reverts (narrow intervals far out)
    "sarimax_promo": ((1, 0, 1), (0, 1, 1, SEASON)),
    # the "airline" model: the level also wanders (better for a trending series, wider intervals far out)
    "airline_promo": ((0, 1, 1), (0, 1, 1, SEASON)),
}
MODELS = (*SARIMAX_ORDERS, "ets")


class ForecastError(ValueError):
    """A forecast that cannot be made from the data, explained in one line (exit 1 in the CLI)."""


class CalendarError(ValueError):
    """A promotion calendar file that cannot be used: which file, which event, what is wrong."""


# --- the promotion calendar ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A yearly event: its day (fixed MM-DD or listed dates), build-up days before it and tail days after it."""

    name: str
    label: str
    before: int = 0
    after: int = 0
    kind: str = "promotion"
    month_day: tuple[int, int] | None = None
    dates: tuple[date, ...] = ()

    def days_in(self, first: date, last: date) -> list[date]:
        """The event's days whose window (before … after) touches [first, last]."""
        lo, hi = first - timedelta(days=self.after), last + timedelta(days=self.before)
        if self.month_day is not None:
            found = []
            for year in range(lo.year, hi.year + 1):
                try:
                    day = date(year, *self.month_day)
                except ValueError:  # 29 February in a common year
                    continue
                if lo <= day <= hi:
                    found.append(day)
            return found
        return [d for d in self.dates if lo <= d <= hi]


def _calendar_file() -> Path:
    explicit = os.environ.get("SHOPKPI_CALENDAR")
    if explicit:
        return Path(explicit)
    from shopkpi.settings import load_settings

    configured = load_settings().extra.get("calendar_path")
    return Path(configured) if configured else DEFAULT_CALENDAR_PATH


def load_calendar(path: str | Path | None = None) -> tuple[Event, ...]:
    """The promotion calendar in force: `path`, else settings `calendar_path` / SHOPKPI_CALENDAR, else the default."""
    path = Path(path) if path is not None else _calendar_file()
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise CalendarError(f"calendar file {path} does not exist: fix calendar_path or SHOPKPI_CALENDAR") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"calendar file {path} is not valid TOML: {exc}") from None
    events = []
    for index, entry in enumerate(raw.get("event", [])):
        where = f"{path} event {index + 1}"
        name = str(entry.get("name", ""))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise CalendarError(f"{where}: name must be letters, digits and _, not {name!r}")
        unknown = set(entry) - {"name", "label", "day", "dates", "before", "after", "kind"}
        if unknown:
            raise CalendarError(f"{where} ({name}): unknown key(s) {', '.join(sorted(unknown))}")
        month_day, dates = None, ()
        if ("day" in entry) == ("dates" in entry):
            raise CalendarError(f'{where} ({name}): give either day = "MM-DD" or dates = ["YYYY-MM-DD", …]')
        try:
            if "day" in entry:
                month, day = (int(part) for part in str(entry["day"]).split("-"))
                date(2000, month, day)  # validates, 2000 being a leap year
                month_day = (month, day)
            else:
                dates = tuple(sorted(date.fromisoformat(str(d)) for d in entry["dates"]))
        except (ValueError, TypeError):
            raise CalendarError(f'{where} ({name}): bad day or dates; use "MM-DD" or ["YYYY-MM-DD", …]') from None
        before, after = entry.get("before", 0), entry.get("after", 0)
        if not all(isinstance(v, int) and 0 <= v <= 60 for v in (before, after)):
            raise CalendarError(f"{where} ({name}): before and after must be whole days between 0 and 60")
        label = str(entry.get("label", name))
        events.append(Event(name, label, before, after, str(entry.get("kind", "promotion")), month_day, dates))
    return tuple(events)


def event_terms(dates: Sequence[date], events: Sequence[Event]) -> tuple[np.ndarray, list[str]]:
    """The regressors of the calendar for each date: per event a build-up flag, a build-up ramp, the day, the tail.

    The ramp goes from 0 to 1 over the build-up, since presales grow towards the day. One row per date.
    """
    if not len(dates):
        return np.zeros((0, 4 * len(events))), []
    first, last = min(dates), max(dates)
    index = {d: i for i, d in enumerate(dates)}
    columns, names = [], []
    for event in events:
        build, ramp, peak, tail = (np.zeros(len(dates)) for _ in range(4))
        for day in event.days_in(first, last):
            for k in range(-event.before, event.after + 1):
                i = index.get(day + timedelta(days=k))
                if i is None:
                    continue
                if k < 0:
                    build[i] = 1.0
                    ramp[i] = (event.before + k + 1) / event.before
                elif k == 0:
                    peak[i] = 1.0
                else:
                    tail[i] = 1.0
        columns += [build, ramp, peak, tail]
        names += [f"{event.name}_before", f"{event.name}_ramp", f"{event.name}_day", f"{event.name}_after"]
    return (np.column_stack(columns) if columns else np.zeros((len(dates), 0))), names


def event_days(first: date, last: date, events: Sequence[Event] | None = None) -> pl.DataFrame:
    """The days of [first, last] inside an event's window. One row per day and event: date, event, label, phase."""
    events = load_calendar() if events is None else events
    rows = []
    for event in events:
        for day in event.days_in(first, last):
            for k in range(-event.before, event.after + 1):
                d = day + timedelta(days=k)
                if first <= d <= last:
                    phase = "before" if k < 0 else ("day" if k == 0 else "after")
                    rows.append({"date": d, "event": event.name, "label": event.label, "phase": phase})
    schema = {"date": pl.Date, "event": pl.String, "label": pl.String, "phase": pl.String}
    return pl.DataFrame(rows, schema=schema).sort("date")


# --- models on one series -------------------------------------------------------------------------------------


def _dates(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


@dataclass
class Design:
    """How one series is modelled: its transform and its regressors (calendar terms and closed days)."""

    log: bool
    names: list[str]
    events: tuple[Event, ...]
    closed_weekdays: frozenset[int] = frozenset()

    def forward(self, y: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(y, 0)) if self.log else y

    def on_event(self, dates: Sequence[date]) -> np.ndarray:
        """Whether each date is inside an event window of the calendar."""
        matrix, _ = event_terms(dates, self.events)
        return matrix.any(axis=1) if matrix.size else np.zeros(len(dates), dtype=bool)

    def back(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(np.expm1(z), 0.0) if self.log else z

    def exog(self, dates: Sequence[date], y: np.ndarray | None = None) -> np.ndarray | None:
        matrix, names = event_terms(dates, self.events)
        frame = dict(zip(names, matrix.T, strict=True))
        if "closed" in self.names:
            # A day with no sales on a weekday the shop trades is a closure; only known for past days.
            closed = np.zeros(len(dates)) if y is None else (y <= 0).astype(float)
            closed[[d.weekday() in self.closed_weekdays for d in dates]] = 0.0
            frame["closed"] = closed
        return np.column_stack([frame[n] for n in self.names]) if self.names else None


def _design(dates: Sequence[date], y: np.ndarray, events: Sequence[Event]) -> Design:
    """The transform and the regressors that vary over the history (a term never seen cannot be estimated)."""
    # A rare negative day (refunds above sales) is clipped to 0 rather than losing the log scale.
    log = bool(np.mean(y < 0) <= 0.01)
    matrix, names = event_terms(dates, events)
    kept = [n for n, col in zip(names, matrix.T, strict=True) if col.std() > 0 and col.sum() >= 1]
    weekdays = np.array([d.weekday() for d in dates])
    # Weekdays the shop never trades (e.g. Saturdays) are zeros the weekly season already explains.
    never = frozenset(int(w) for w in range(7) if np.median(y[weekdays == w]) <= 0) if len(y) else frozenset()
    closures = (y <= 0) & ~np.isin(weekdays, list(never))
    if log and closures.sum() >= 1:
        kept.append("closed")
    return Design(log, kept, tuple(events), never)


@dataclass
class Fitted:
    """A model fitted on one history: forecasts on the transformed scale (mean and standard error)."""

    name: str
    design: Design
    result: object
    start: date
    n: int
    # interval multipliers of the standard error on ordinary days and on event days (see `_calibrate`), times the
    # multiplier of each step ahead (the last step's beyond CALIBRATION_STEPS)
    z80: tuple[float, float] = (Z80, Z80)
    z95: tuple[float, float] = (Z95, Z95)
    steps80: np.ndarray = field(default_factory=lambda: np.ones(1))
    steps95: np.ndarray = field(default_factory=lambda: np.ones(1))

    def multipliers(self, first: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """The 80% and 95% multipliers of each day from day `first` (index from the history's start), the first
        being one step ahead."""
        dates = _dates(self.start + timedelta(days=first), horizon)
        event = self.design.on_event(dates)
        ahead = np.minimum(np.arange(horizon), len(self.steps80) - 1)
        z80 = np.where(event, self.z80[1], self.z80[0]) * self.steps80[ahead]
        z95 = np.where(event, self.z95[1], self.z95[0]) * self.steps95[ahead]
        return z80, z95

    def forecast(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        future = _dates(self.start + timedelta(days=self.n), horizon)
        if self.name in SARIMAX_ORDERS:
            prediction = self.result.get_forecast(horizon, exog=self.design.exog(future))
            return np.asarray(prediction.predicted_mean), np.sqrt(np.asarray(prediction.var_pred_mean))
        frame = self.result.get_prediction(start=self.n, end=self.n + horizon - 1).summary_frame(alpha=0.05)
        mean = frame["mean"].to_numpy()
        return mean, (frame["pi_upper"].to_numpy() - mean) / Z95

    def band_from(self, origin: int, horizon: int) -> Band:
        """The forecast the fitted SARIMAX would have made at day `origin` (index) for the next `horizon` days."""
        prediction = self.result.get_prediction(start=origin, end=origin + horizon - 1, dynamic=0)
        mean, se = np.asarray(prediction.predicted_mean), np.sqrt(np.asarray(prediction.var_pred_mean))
        return _band(self.design, mean, se, True, *self.multipliers(origin, horizon))

    def simulate(self, horizon: int, repetitions: int, rng: np.random.Generator) -> np.ndarray:
        """Sample paths on the original scale: horizon × repetitions."""
        future = _dates(self.start + timedelta(days=self.n), horizon)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.name in SARIMAX_ORDERS:
                exog = self.design.exog(future)
                paths = self.result.simulate(horizon, anchor="end", repetitions=repetitions, exog=exog, rng=rng)
            else:
                paths = self.result.simulate(horizon, anchor="end", repetitions=repetitions, rng=rng)
        return self.design.back(np.asarray(paths, dtype=float).reshape(horizon, repetitions))


def _sarimax(z: np.ndarray, exog: np.ndarray | None, name: str = "sarimax_promo"):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    # The calendar terms carry promotions and closures; the ARIMA errors the rest.
    # The regression coefficients are states (exact GLS given the ARMA terms, so the optimiser only searches three
    # parameters: ten times faster than estimating sixteen promotion effects by MLE), and the scale is concentrated.
    return SARIMAX(
        z,
        exog=exog,
        order=SARIMAX_ORDERS[name][0],
        seasonal_order=SARIMAX_ORDERS[name][1],
        mle_regression=exog is None,
        concentrate_scale=True,
    )


def _ets(z: np.ndarray):
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # ETS prediction intervals need an indexed series (a bare array fails inside statsmodels 0.15).
    return ETSModel(pd.Series(z), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=SEASON)


def fit_model(
    name: str,
    start: date,
    y: np.ndarray,
    design: Design,
    params: np.ndarray | None = None,
    start_params: np.ndarray | None = None,
) -> Fitted:
    """`name` fitted on the series y (one value per day from `start`); with `params`, only filtered (no search);
    `start_params` (e.g. from a backtest's fit on a shorter history) start the search near the answer."""
    dates = _dates(start, len(y))
    z = design.forward(np.asarray(y, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a poor fit shows in the backtest
        if name in SARIMAX_ORDERS:
            model = _sarimax(z, design.exog(dates, y), name)
            if params is None:
                params = model.fit(
                    start_params=start_params,
                    disp=False,
                    maxiter=200,
                    return_params=True,
                    pgtol=FIT_PGTOL,
                )
            # Filtered, not smoothed (what `fit` would do): forecasts, simulations and one-step errors need only the
            # filter; and no covariance of the parameters, which nothing reads.
            result = model.filter(params, cov_type="none")
        elif name == "ets":
            model = _ets(z)
            if params is not None:
                result = model.smooth(params)
            else:
                result = model.fit(start_params=start_params, disp=False, maxiter=200)
        else:
            raise ValueError(f"unknown model {name!r}; use one of {', '.join(MODELS)}")
    fitted = Fitted(name, design, result, start, len(y))
    if name in SARIMAX_ORDERS:
        _calibrate(fitted, dates)
    return fitted


def _psi_weights(result, name: str, steps: int) -> np.ndarray:
    """The model's MA(∞) weights on the modelled scale, differencing included: an h-step forecast error is
    Σ_{j<h} ψ_j × (one-step error h − j days later)."""
    from statsmodels.tsa.arima_process import arma2ma

    ar, ma = np.asarray(result.polynomial_reduced_ar, float), np.asarray(result.polynomial_reduced_ma, float)
    (_, d, _), (_, seasonal_d, _, season) = SARIMAX_ORDERS[name]
    for _ in range(d):
        ar = np.convolve(ar, [1.0, -1.0])
    for _ in range(seasonal_d):
        ar = np.convolve(ar, np.r_[1.0, np.zeros(season - 1), -1.0])
    return arma2ma(ar, ma, steps)


def _calibrate(fitted: Fitted, dates: Sequence[date]) -> None:
    """Interval multipliers for each step ahead, measured on the fit's own recent multi-step errors.

    The h-step errors the model would have made over the last RECENT_ERRORS days are rebuilt from its one-step
    errors and MA(∞) weights (no refitting: cheap), standardised by the standard error the model claims for h steps
    ahead, and their 80% / 95% quantiles on ordinary days become the multipliers of step h. This corrects two ways
    the model's own intervals were too wide on held-out days:
    - a random-walk level (airline) or seasonal pattern claims errors that grow with the horizon, but a shop's
      series reverts more than that: the measured h-step errors grow less;
    - on the log scale a growing shop's days get less noisy, so one variance over two years overstates today's.
    The 95% multiplier is the larger of the measured 95% quantile's normal-shape equivalent from the 80% quantile
    (q80 × 1.96 / 1.28) and 90% of the measured 95% quantile: a few unexplained outlier days in half a year do not
    set the width of every future day, but heavy tails still widen it. Event days keep their excess over ordinary
    days, measured on one-step errors over the whole history.
    """
    result, design = fitted.result, fitted.design
    raw = np.asarray(result.forecasts_error, dtype=float).ravel().copy()
    variance = np.asarray(result.forecasts_error_cov, dtype=float).ravel()
    errors = raw / np.sqrt(np.where(variance > 0, variance, np.nan))
    warm = SEASON + 1  # the first week and a day only initialise the seasonal states
    errors[:warm] = np.nan
    raw[:warm] = 0.0
    raw[~np.isfinite(raw)] = 0.0
    on_event = design.on_event(dates)
    n = len(raw)
    all80, all95 = _multipliers(errors, ~on_event)
    event80, event95 = _multipliers(errors, on_event)
    excess80, excess95 = max(1.0, event80 / all80), max(1.0, event95 / all95)
    try:
        psi = _psi_weights(result, fitted.name, CALIBRATION_STEPS)
    except (ValueError, np.linalg.LinAlgError):
        psi = np.r_[1.0, np.zeros(CALIBRATION_STEPS - 1)]
    claimed = np.sqrt(np.cumsum(psi**2))
    recent = np.arange(n) >= n - RECENT_ERRORS
    target = recent & ~on_event & (np.arange(n) >= warm + CALIBRATION_STEPS)
    scale = np.sqrt(np.where(variance > 0, variance, np.nan))
    step80, step95 = np.full(CALIBRATION_STEPS, Z80), np.full(CALIBRATION_STEPS, Z95)
    cumulative = np.zeros(n)
    for k in range(CALIBRATION_STEPS):
        # the error of the forecast made k + 1 days before each day
        cumulative[k:] += psi[k] * raw[: n - k]
        z = np.full(n, np.nan)
        z[target] = cumulative[target] / (scale[target] * claimed[k])
        step80[k], step95[k] = _multipliers(z, target, robust=True)
    fitted.steps80, fitted.steps95 = step80, step95
    fitted.z80 = (1.0, excess80)
    fitted.z95 = (1.0, excess95)


def _multipliers(errors: np.ndarray, mask: np.ndarray, robust: bool = False) -> tuple[float, float]:
    """Interval multipliers from standardised errors instead of the normal's 1.28 and 1.96: the 80% and 95%
    quantiles of |error| over the masked days (with fewer than 30 errors, or quantiles outside a sane range, the
    normal's). `robust`: the 95% multiplier is max(q80 × 1.96 / 1.28, 0.9 × q95), so that a handful of outlier days
    (the top 5% of half a year is nine days) cannot set it alone."""
    picked = np.abs(errors[mask])
    picked = picked[np.isfinite(picked)]
    if len(picked) < 30:
        return Z80, Z95
    q80, q95 = float(np.quantile(picked, 0.8)), float(np.quantile(picked, 0.95))
    if not (0.3 <= q80 <= 3.0 and 0.5 <= q95 <= 5.0 and q95 > q80):
        return Z80, Z95
    if robust:
        q95 = max(q80 * Z95 / Z80, ROBUST_TAIL * q95)
    return q80, q95


@dataclass
class Band:
    """A forecast on the original scale: the point (median) and the 80% and 95% intervals, one value per day."""

    forecast: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray


def band(fitted: Fitted, horizon: int) -> Band:
    """The point forecast and nested intervals (95% ⊇ 80% ⊇ point) of a fitted model, on the original scale."""
    mean, se = fitted.forecast(horizon)
    non_negative = bool(np.all(np.asarray(fitted.result.model.endog) >= 0))
    return _band(fitted.design, mean, se, non_negative, *fitted.multipliers(fitted.n, horizon))


def _band(
    design: Design,
    mean: np.ndarray,
    se: np.ndarray,
    non_negative: bool,
    z80: float | np.ndarray = Z80,
    z95: float | np.ndarray = Z95,
) -> Band:
    se = np.where(np.isfinite(se), se, 0.0)
    back = design.back
    point = back(mean)
    lo80, hi80 = back(mean - z80 * se), back(mean + z80 * se)
    lo95, hi95 = np.minimum(back(mean - z95 * se), lo80), np.maximum(back(mean + z95 * se), hi80)
    if not design.log and non_negative:
        lo80, lo95 = np.maximum(lo80, 0), np.maximum(lo95, 0)
    return Band(point, np.minimum(lo80, point), np.maximum(hi80, point), lo95, hi95)


def seasonal_naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """Each future day forecast by the same weekday of the last observed week."""
    last_week = np.asarray(y[-SEASON:], dtype=float)
    return np.array([last_week[i % SEASON] for i in range(horizon)])


def _naive_band(y: np.ndarray, horizon: int) -> Band:
    """Seasonal naive with empirical intervals from past week-on-week changes (for series too short to model)."""
    point = seasonal_naive(y, horizon) if len(y) >= SEASON else np.full(horizon, float(np.mean(y)) if len(y) else 0.0)
    changes = y[SEASON:] - y[:-SEASON] if len(y) > SEASON else np.array([0.0])
    weeks = np.sqrt(np.arange(horizon) // SEASON + 1)
    q = {p: np.quantile(changes, p) for p in (0.025, 0.1, 0.9, 0.975)}
    floor = 0.0 if np.all(y >= 0) else -np.inf
    lo80, hi80 = np.maximum(point + q[0.1] * weeks, floor), point + q[0.9] * weeks
    lo95, hi95 = np.maximum(point + q[0.025] * weeks, floor), point + q[0.975] * weeks
    return Band(point, np.minimum(lo80, point), np.maximum(hi80, point), np.minimum(lo95, lo80), np.maximum(hi95, hi80))


# --- rolling-origin backtest -----------------------------------------------------------------------------------


@dataclass
class Backtest:
    """Held-out errors of each model and the seasonal-naive baseline on the same rolling origins."""

    horizon: int
    origins: list[date]
    # per model: arrays of actual, forecast, inside80, inside95 over every held-out day of every fold
    actual: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    inside80: dict[str, np.ndarray] = field(default_factory=dict)
    inside95: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    designs: dict[str, list[str]] = field(default_factory=dict)  # each model's regressors, by name

    def merge(self, other: Backtest) -> Backtest:
        """The pooled backtest of several series (e.g. the groups of a split)."""
        merged = Backtest(self.horizon, sorted(set(self.origins) | set(other.origins)))
        merged.actual = np.concatenate([self.actual, other.actual])
        for attr in ("forecasts", "inside80", "inside95"):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            setattr(merged, attr, {k: np.concatenate([mine.get(k, []), theirs.get(k, [])]) for k in mine | theirs})
        return merged

    def scores(self, name: str) -> dict[str, float | None]:
        """MAPE, sMAPE and (for models) interval coverage over held-out days with a positive actual."""
        if name not in self.forecasts:
            return {"mape": None, "smape": None, "coverage80": None, "coverage95": None}
        y, f = self.actual, self.forecasts[name]
        keep = y > 0
        if not keep.any():
            return {"mape": None, "smape": None, "coverage80": None, "coverage95": None}
        y, f = y[keep], f[keep]
        out: dict[str, float | None] = {
            "mape": float(np.mean(np.abs(y - f) / np.abs(y))),
            "smape": float(np.mean(2 * np.abs(y - f) / (np.abs(y) + np.abs(f)))),
        }
        for level in ("80", "95"):
            inside = getattr(self, f"inside{level}").get(name)
            out[f"coverage{level}"] = None if inside is None else float(np.mean(inside[keep]))
        return out

    def table(self) -> pl.DataFrame:
        """One row per model and the baseline: model, mape, smape, coverage80, coverage95, days."""
        rows = [{"model": n, **self.scores(n), "days": int((self.actual > 0).sum())} for n in self.forecasts]
        schema = {"model": pl.String, "mape": pl.Float64, "smape": pl.Float64}
        schema |= {"coverage80": pl.Float64, "coverage95": pl.Float64, "days": pl.Int64}
        return pl.DataFrame(rows, schema=schema)

    def best(self) -> str | None:
        """The model to forecast with: among the models within 10% of the lowest backtest MAPE, the one whose 95%
        intervals held the share of held-out days closest to 95%. Accuracy first; between near-equals, honest
        intervals (pacing probabilities and stock buffers are read from them). The baseline does not compete."""
        scored = {}
        for name in MODELS:
            if name in self.forecasts:
                score = self.scores(name)
                if score["mape"] is not None and math.isfinite(score["mape"]):
                    scored[name] = score
        if not scored:
            return None
        lowest = min(score["mape"] for score in scored.values())
        near = [name for name, score in scored.items() if score["mape"] <= NEAR_BEST * lowest]

        def miscalibration(name: str) -> float:
            coverage = scored[name]["coverage95"]
            return abs(coverage - 0.95) if coverage is not None else 1.0

        return min(near, key=lambda name: (miscalibration(name), scored[name]["mape"]))


def backtest_series(
    start: date,
    y: np.ndarray,
    horizon: int,
    events: Sequence[Event],
    folds: int = BACKTEST_FOLDS,
    step: int = BACKTEST_STEP,
    models: Sequence[str] = MODELS,
) -> Backtest:
    """Rolling-origin backtest: each model is fitted once on the days before the first origin, then re-filtered
    (same parameters, no look-ahead) up to each later origin and asked for the next `horizon` days."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    folds = min(folds, max(0, (n - horizon - 3 * MIN_HISTORY) // step + 1))
    if folds <= 0:
        return Backtest(horizon, [])
    origins = sorted(n - horizon - step * k for k in range(folds))
    result = Backtest(horizon, [start + timedelta(days=o) for o in origins])
    result.actual = np.concatenate([y[o : o + horizon] for o in origins])
    result.forecasts["seasonal_naive"] = np.concatenate([seasonal_naive(y[:o], horizon) for o in origins])
    design = _design(_dates(start, origins[0]), y[: origins[0]], events)
    for name in models:
        try:
            first = fit_model(name, start, y[: origins[0]], design)
            params = np.asarray(first.result.params)
            if name in SARIMAX_ORDERS:
                # One pass of the filter over the whole series; a dynamic prediction from an origin only uses the
                # days before it, exactly as a forecast made on that day would.
                whole = fit_model(name, start, y, design, params)
                # learnt before the first origin, like the parameters
                whole.z80, whole.z95 = first.z80, first.z95
                whole.steps80, whole.steps95 = first.steps80, first.steps95
                bands = [whole.band_from(o, horizon) for o in origins]
            else:
                bands = [band(first, horizon)]
                bands += [band(fit_model(name, start, y[:o], design, params), horizon) for o in origins[1:]]
        except (np.linalg.LinAlgError, ValueError):
            continue  # a model that cannot be fitted on this series does not compete
        actual = result.actual
        result.forecasts[name] = np.concatenate([b.forecast for b in bands])
        result.inside80[name] = (np.concatenate([b.lo80 for b in bands]) <= actual) & (
            actual <= np.concatenate([b.hi80 for b in bands])
        )
        result.inside95[name] = (np.concatenate([b.lo95 for b in bands]) <= actual) & (
            actual <= np.concatenate([b.hi95 for b in bands])
        )
        result.params[name] = params
        result.designs[name] = list(design.names)
    return result


# --- forecasting a metric ------------------------------------------------------------------------------------


def backtest_horizon(horizon: int) -> int:
    """The held-out window of each fold: the requested horizon, within one to four weeks."""
    return min(max(horizon, SEASON), 4 * SEASON)


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
    con: duckdb.DuckDBPyConnection, metric: str, by: str | None = None, days: int = DEFAULT_HISTORY_DAYS
) -> pl.DataFrame:
    """The metric's daily values over the last `days` days of the warehouse. One row per group and day (zeros where
    nothing happened); group null without `by`, and for rows no group names (e.g. orders without a session)."""
    end = latest_date(con)
    if end is None:
        raise ForecastError("the warehouse has no orders, sessions or ad spend yet: nothing to forecast")
    start = end - timedelta(days=days - 1)
    frame = kpi_series(con, start, end, grain="day", metrics=[metric], by=by)
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
) -> Forecast:
    """The daily forecast of a metric for the `horizon` days after the latest date in the warehouse."""
    started = time.perf_counter()
    problem = forecastable(metric, by)
    if problem:
        raise ValueError(problem)
    if horizon < 1:
        raise ValueError("the horizon must be at least 1 day")
    events = load_calendar() if events is None else tuple(events)
    history = metric_history(con, metric, by, history_days)
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


# --- target pacing -------------------------------------------------------------------------------------------


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
    con: duckdb.DuckDBPyConnection, metric: str, month: date, targets: dict | None = None
) -> tuple[float | None, str]:
    """The month's target and where it comes from.

    Rule: a `[monthly_<metric>]` entry (its min) in the user's targets file, e.g. `[monthly_total_revenue] min =
    1_200_000`; else last year's same month × (1 + growth), growth from `[monthly_<metric>_growth] min` or 10%.
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
    frame = kpi_series(con, first, last, grain="month", metrics=[metric])
    base = float(frame.get_column(metric).sum()) if len(frame) else 0.0
    earliest = con.sql("select cast(min(ordered_at) as date) from orders").fetchall()[0][0]
    if base <= 0 or earliest is None or earliest > first:
        return None, f"no target: set monthly_{metric} in the targets file (no full month a year earlier)"
    return base * (1 + growth), f"{first:%Y-%m} × (1 + {growth:.0%})"


def month_pacing(
    con: duckdb.DuckDBPyConnection,
    metric: str = "total_revenue",
    month: date | None = None,
    target: float | None = None,
    events: Sequence[Event] | None = None,
    repetitions: int = 500,  # enough for a probability to the nearest few percent, in about a second
    seed: int = 0,
    model: str | None = None,
    params: Sequence[float] | None = None,
) -> Pacing:
    """Pacing of the month after the latest complete day (default: the month holding the day after the latest date).

    The target line spreads the target over the month like a forecast made on the month's first day (weekdays,
    promotion days); the projection adds simulated paths of the rest of the month to the actual month to date.
    `params`: `model`'s parameters already estimated on the metric's history (`Forecast.params` of the metric's
    forecast), so that nothing is estimated here.
    """
    problem = forecastable(metric)
    if problem:
        raise ValueError(problem)
    if params is not None and model is None:
        raise ValueError("params are a model's parameters: give the model too")
    events = load_calendar() if events is None else tuple(events)
    latest = latest_date(con)
    if latest is None:
        raise ForecastError("the warehouse has no orders, sessions or ad spend yet: nothing to pace")
    month = (latest + timedelta(days=1)).replace(day=1) if month is None else month.replace(day=1)
    last_day = month_end(month)
    source = "given"
    if target is None:
        target, source = monthly_target(con, metric, month)
    history = metric_history(con, metric, None, DEFAULT_HISTORY_DAYS)
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
        known = fitted.result.params if fitted is not None else params
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


__all__ = [
    "Backtest",
    "Band",
    "CalendarError",
    "Event",
    "Forecast",
    "ForecastError",
    "Pacing",
    "add_months",
    "backtest_series",
    "event_days",
    "event_terms",
    "forecast_metric",
    "forecast_series",
    "load_calendar",
    "month_pacing",
    "monthly_target",
    "seasonal_naive",
]
