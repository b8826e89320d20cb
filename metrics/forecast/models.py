"""The candidate models of one daily series and the seasonal-naive baseline: two regressions with SARIMA errors and
the calendar's event terms as regressors (`sarimax_promo`, `airline_promo`) and damped-trend ETS, fitted on the
modelled scale (see design.py); `band` turns a fit into a forecast with intervals (see intervals.py)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from metrics.forecast.calendar import SEASON, _dates
from metrics.forecast.design import Design
from metrics.forecast.intervals import Z80, Z95, Band, _band, _calibrate

MIN_HISTORY = 4 * SEASON  # fewer days than this: seasonal naive only
# The likelihood search stops when its slope (per day and parameter) is below this. The likelihood is flat near its
# maximum (the ARMA terms drift towards a unit root): scipy's default 1e-5 spent 1.3-7 times the evaluations for gains
# in log-likelihood below 0.5 that moved no backtest MAPE of forecast_bench by more than 0.1 point. (Stopping on small
# gains per step instead, scipy's factr, halts some searches half-way along that slow climb.)
FIT_PGTOL = 5e-4
# SARIMAX orders of the regression-with-ARIMA-errors candidates: (order, seasonal order)
SARIMAX_ORDERS = {
    # ARMA(1,1) on the week-on-week change with a seasonal MA term: a weekly pattern that adapts slowly, a level
    # that reverts (narrow intervals far out)
    "sarimax_promo": ((1, 0, 1), (0, 1, 1, SEASON)),
    # the "airline" model: the level also wanders (better for a trending series, wider intervals far out)
    "airline_promo": ((0, 1, 1), (0, 1, 1, SEASON)),
}
MODELS = (*SARIMAX_ORDERS, "ets")


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
        measured = _calibrate(result, design, dates)
        fitted.z80, fitted.z95 = measured.z80, measured.z95
        fitted.steps80, fitted.steps95 = measured.steps80, measured.steps95
    return fitted


def band(fitted: Fitted, horizon: int) -> Band:
    """The point forecast and nested intervals (95% ⊇ 80% ⊇ point) of a fitted model, on the original scale."""
    mean, se = fitted.forecast(horizon)
    non_negative = bool(np.all(np.asarray(fitted.result.model.endog) >= 0))
    return _band(fitted.design, mean, se, non_negative, *fitted.multipliers(fitted.n, horizon))


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
