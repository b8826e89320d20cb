"""The candidate models of one daily series and the seasonal-naive baseline: two regressions with SARIMA errors and
the calendar's event terms as regressors (`sarimax_promo`, `airline_promo`), damped-trend ETS, damped-trend ETS of
the weekly levels (`weekly`), and their combination (`combined`: the average of the good ones on the modelled
scale), fitted on the shop's trading days (see design.py);
`band` turns a fit into a forecast with intervals on every calendar day (see intervals.py): 0 on a closed day."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from metrics.forecast.calendar import SEASON, _dates
from metrics.forecast.design import Design
from metrics.forecast.intervals import Z80, Z95, Band, _band, _calibrate
from metrics.forecast.threads import single_threaded

MIN_HISTORY = 4 * SEASON  # fewer days than this: seasonal naive only
# The likelihood search stops when its slope (per day and parameter) is below this. The likelihood is flat near its
# maximum (the ARMA terms drift towards a unit root): scipy's default 1e-5 spent 1.3-7 times the evaluations for gains
# in log-likelihood below 0.5 that moved no backtest MAPE of forecast_bench by more than 0.1 point. (Stopping on small
# gains per step instead, scipy's factr, halts some searches half-way along that slow climb.)
FIT_PGTOL = 5e-4
APPROXIMATE_DIFFUSE = 1e6  # the initial variance of every SARIMAX state, on the modelled (log) scale
# SARIMAX orders of the regression-with-ARIMA-errors candidates: (order, seasonal order without its period, which is
# the number of days a week the shop trades)
SARIMAX_ORDERS = {
    # ARMA(1,1) on the week-on-week change with a seasonal MA term: a weekly pattern that adapts slowly, a level
    # that reverts (narrow intervals far out)
    "sarimax_promo": ((1, 0, 1), (0, 1, 1)),
    # the "airline" model: the level also wanders (better for a trending series, wider intervals far out)
    "airline_promo": ((0, 1, 1), (0, 1, 1)),
}
# Damped-trend ETS of the weekly levels (each week's mean on the log scale once the weekday profile is taken out)
# plus the weekday profile and the day's own noise: the level and its trend are read from weeks, not from days
# (temporal aggregation: a week's mean is several times less noisy than a day, so a trend of a few weeks shows
# instead of being smoothed away as noise). On UCI Online Retail's pre-Christmas quarter it erred less than daily
# ETS on revenue (MAPE 23.0% against 24.0%, MASE 1.02 against 1.11), about as much on orders, and picked from the
# earlier folds only it cut the orders' MASE from 1.50 to 1.33 (README, Forecasts).
WEEKLY = "weekly"
PROFILE_WEEKS = 52  # weeks of history the weekday profile is measured on (with a linear trend)
NOISE_WEEKS = 13  # weeks of history the noise of a day around its week's level is measured on
MIN_WEEKS = 8  # fewer weeks than this: no weekly model
SINGLE_MODELS = (*SARIMAX_ORDERS, "ets", WEEKLY)
# The average of the single models on the modelled scale (point and interval bounds alike): each model's errors
# partly cancel (a reverting level, a wandering one, a damped trend), which on noisy real series beat each of them.
# Only good models are averaged: those whose backtest MAPE is within COMBINE_WITHIN of the best single model's (on
# the demo shop ETS, blind to the promotion calendar, errs four times more than the SARIMAX and would only add noise).
COMBINED = "combined"
COMBINE_WITHIN = 1.25
MODELS = (*SINGLE_MODELS, COMBINED)
# A history too short to backtest or to learn a weekly pattern from (two to four weeks: a new shop, a new channel)
# is forecast at its recent level: simple exponential smoothing of its trading days on the modelled scale. On the
# Tmall report's February (orders jumping from ~10 to ~2,000 a day) it halved seasonal naive's error beyond 0.8.
SHORT_MODEL = "level"
MIN_SHORT_HISTORY = 2 * SEASON  # fewer days than this: seasonal naive with empirical intervals


@dataclass
class Fitted:
    """A model fitted on one history: forecasts on the modelled scale (mean and standard error) of its modelled days
    (see Design.modelled); a combination holds its members."""

    name: str
    design: Design
    result: object
    start: date
    n: int  # calendar days of the history
    steps: int = 0  # modelled days of the history
    # interval multipliers of the standard error on ordinary days and on event days (see `_calibrate`), times the
    # multiplier of each step ahead (the last step's beyond CALIBRATION_STEPS)
    z80: tuple[float, float] = (Z80, Z80)
    z95: tuple[float, float] = (Z95, Z95)
    steps80: np.ndarray = field(default_factory=lambda: np.ones(1))
    steps95: np.ndarray = field(default_factory=lambda: np.ones(1))
    members: tuple[Fitted, ...] = ()

    @property
    def params(self) -> tuple:
        """The estimated parameters (a combination: (member name, its parameters) per member), which
        `fit_model(params=...)` filters."""
        if self.members:
            return tuple((member.name, member.params) for member in self.members)
        return tuple(float(v) for v in np.asarray(self.result.params))

    def _future(self, first: int, horizon: int) -> tuple[list[date], np.ndarray]:
        dates = _dates(self.start + timedelta(days=first), horizon)
        return dates, self.design.modelled(dates)

    def multipliers(self, dates: list[date]) -> tuple[np.ndarray, np.ndarray]:
        """The 80% and 95% multipliers of each modelled day of `dates`, the first being one step ahead."""
        event = self.design.on_event(dates)
        ahead = np.minimum(np.arange(len(dates)), len(self.steps80) - 1)
        z80 = np.where(event, self.z80[1], self.z80[0]) * self.steps80[ahead]
        z95 = np.where(event, self.z95[1], self.z95[0]) * self.steps95[ahead]
        return z80, z95

    def forecast(self, steps: int, future: list[date]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error of the next `steps` modelled days (`future`, their dates)."""
        if self.name in SARIMAX_ORDERS:
            prediction = self.result.get_forecast(steps, exog=self.design.exog(future))
            return np.asarray(prediction.predicted_mean), np.sqrt(np.asarray(prediction.var_pred_mean))
        if self.name == WEEKLY:
            return self.result.forecast(self.start + timedelta(days=self.n), future)
        frame = self.result.get_prediction(start=self.steps, end=self.steps + steps - 1).summary_frame(alpha=0.05)
        mean = frame["mean"].to_numpy()
        return mean, (frame["pi_upper"].to_numpy() - mean) / Z95

    @single_threaded
    def simulate(self, horizon: int, repetitions: int, rng: np.random.Generator) -> np.ndarray:
        """Sample paths on the original scale: horizon × repetitions (0 on closed days). A combination draws each
        path from one of its members in turn."""
        if self.members:
            shares = np.array_split(np.arange(repetitions), len(self.members))
            return np.hstack([m.simulate(horizon, len(s), rng) for m, s in zip(self.members, shares, strict=True)])
        dates, modelled = self._future(self.n, horizon)
        kept = [d for d, k in zip(dates, modelled, strict=True) if k]
        paths = np.zeros((horizon, repetitions))
        if not kept:
            return paths
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.name in SARIMAX_ORDERS:
                exog = self.design.exog(dates)
                # the fit kept no history of its states (see fit_model); a simulation needs them: filter again
                model = self.result.model
                model.ssm.set_conserve_memory(0)
                full = model.filter(np.asarray(self.result.params), cov_type="none")
                drawn = full.simulate(len(kept), anchor="end", repetitions=repetitions, exog=exog, rng=rng)
            elif self.name == WEEKLY:
                drawn = self.result.simulate(self.start + timedelta(days=self.n), kept, repetitions, rng)
            else:
                drawn = self.result.simulate(len(kept), anchor="end", repetitions=repetitions, rng=rng)
        paths[modelled] = self.design.back(np.asarray(drawn, dtype=float).reshape(len(kept), repetitions))
        paths[~self.design.open(dates)] = 0.0
        return paths


def _on_calendar(inner: Band, design: Design, dates: list[date]) -> Band:
    """A band of the modelled days spread over every calendar day of `dates`: 0 (point and intervals) on the days
    the shop is closed (a weekday it never trades, a closure it has every year)."""
    modelled, open_ = design.modelled(dates), design.open(dates)
    parts = []
    for values in (inner.forecast, inner.lo80, inner.hi80, inner.lo95, inner.hi95):
        full = np.zeros(len(dates))
        full[modelled] = values
        full[~open_] = 0.0
        parts.append(full)
    return Band(*parts)


def _season(design: Design) -> int:
    return SEASON - len(design.closed_weekdays)


def _sarimax(z: np.ndarray, exog: np.ndarray | None, name: str, season: int):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    # The calendar terms carry promotions; the ARIMA errors the rest; closures and outlier days are missing values.
    # The regression coefficients are states (exact GLS given the ARMA terms, so the optimiser only searches three
    # parameters: ten times faster than estimating sixteen promotion effects by MLE), and the scale is concentrated.
    order, seasonal = SARIMAX_ORDERS[name]
    model = SARIMAX(
        z,
        exog=exog,
        order=order,
        seasonal_order=(*seasonal, season),
        mle_regression=exog is None,
        concentrate_scale=True,
    )
    # Every state starts diffuse (a large variance) instead of the exact diffuse and stationary start, which solved
    # a Lyapunov equation of the 30-odd states (ARMA, seasonal differences, regression coefficients) on every
    # likelihood evaluation: a fit four times faster on the 2-year demo, the same parameters to two decimals.
    model.ssm.initialize_approximate_diffuse(APPROXIMATE_DIFFUSE)
    return model


def _no_history() -> int:
    from statsmodels.tsa.statespace import kalman_filter as kf

    return (
        kf.MEMORY_NO_FILTERED
        | kf.MEMORY_NO_PREDICTED
        | kf.MEMORY_NO_GAIN
        | kf.MEMORY_NO_SMOOTHING
        | kf.MEMORY_NO_STD_FORECAST
    )


def _ets(z: np.ndarray, season: int, trend: bool = True):
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # ETS has no missing values: closures and outlier days are interpolated from their neighbours.
    # ETS prediction intervals need an indexed series (a bare array fails inside statsmodels 0.15).
    filled = pd.Series(z).interpolate(limit_direction="both")
    seasonal = "add" if season >= 2 and trend else None
    return ETSModel(
        filled,
        error="add",
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal=seasonal,
        seasonal_periods=season if seasonal else None,
    )


@dataclass
class WeeklyLevels:
    """The `weekly` model of one history: damped-trend ETS of its weekly levels, its weekday profile and the noise of a
    day around its week's level, all on the modelled scale."""

    levels: np.ndarray  # one per week, oldest first; the last week ends on the history's last day
    effects: dict[int, float]  # weekday → its effect (the modelled weekdays' effects sum to 0)
    noise: float  # standard deviation of a day around its week's level
    result: object = None  # the ETS fit of `levels`

    @property
    def params(self) -> np.ndarray:
        return np.asarray(self.result.params)

    def fit(self, params: np.ndarray | tuple | None, start_params: np.ndarray | tuple | None) -> None:
        """Estimates the ETS of the weekly levels (with `params`: only filters them)."""
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        model = ETSModel(pd.Series(self.levels), error="add", trend="add", damped_trend=True)
        if params is not None:
            self.result = model.smooth(np.asarray(params, dtype=float))
            return
        near = None if start_params is None else np.asarray(start_params, dtype=float)
        if near is not None and len(near) != len(model.param_names):
            near = None
        self.result = model.fit(start_params=near, disp=False, maxiter=200)

    def _parts(self, first: date, future: list[date]) -> tuple[np.ndarray, int, np.ndarray]:
        # the week ahead of each future day (0: the 7 days from `first`, the day after the history), their number,
        # and each day's weekday effect
        ahead = np.array([(d - first).days // SEASON for d in future])
        effect = np.array([self.effects.get(d.weekday(), 0.0) for d in future])
        return ahead, int(ahead.max()) + 1, effect

    def forecast(self, first: date, future: list[date]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error of the modelled days `future` (`first`: the day after the history)."""
        ahead, weeks, effect = self._parts(first, future)
        n = len(self.levels)
        frame = self.result.get_prediction(start=n, end=n + weeks - 1).summary_frame(alpha=0.05)
        mean = frame["mean"].to_numpy()
        se = (frame["pi_upper"].to_numpy() - mean) / Z95
        return mean[ahead] + effect, np.sqrt(se[ahead] ** 2 + self.noise**2)

    def simulate(self, first: date, future: list[date], repetitions: int, rng: np.random.Generator) -> np.ndarray:
        """Sample paths of the modelled days `future` on the modelled scale: days × repetitions."""
        ahead, weeks, effect = self._parts(first, future)
        drawn = self.result.simulate(weeks, anchor="end", repetitions=repetitions, rng=rng)
        paths = np.asarray(drawn, dtype=float).reshape(weeks, repetitions)[ahead]
        return paths + effect[:, None] + rng.normal(0.0, self.noise, (len(future), repetitions))


def _weekly(z: np.ndarray, dates: list[date], last: date) -> WeeklyLevels:
    """The weekly levels of a modelled series `z` (its modelled days `dates`, the history ending on `last`): each week
    counted back from `last`, its mean once the weekday profile is taken out (missing days left out; a week without
    a known day interpolated). The profile: weekday effects of a regression on the last PROFILE_WEEKS weeks with a
    linear trend (a growing shop's later weekdays are not read as stronger ones)."""
    weekdays = np.array([d.weekday() for d in dates])
    back = np.array([(last - d).days for d in dates])
    week = back // SEASON  # 0: the last 7 days
    known = np.isfinite(z)
    count = int(week.max()) + 1 if len(week) else 0
    profile = known & (week < PROFILE_WEEKS)
    kinds = sorted({int(w) for w in weekdays[profile]})
    if count < MIN_WEEKS or profile.sum() < 2 * (len(kinds) + 1):
        raise ValueError("too few weeks for the weekly model")
    columns = [np.ones(profile.sum()), -back[profile] / SEASON]
    columns += [(weekdays[profile] == k).astype(float) for k in kinds[1:]]
    coef = np.linalg.lstsq(np.column_stack(columns), z[profile], rcond=None)[0]
    raw = np.r_[0.0, coef[2:]]
    effects = {k: float(v - raw.mean()) for k, v in zip(kinds, raw, strict=True)}
    adjusted = z - np.array([effects.get(int(w), 0.0) for w in weekdays])
    levels = np.full(count, np.nan)
    squares, dof = 0.0, 0
    for k in range(count):
        values = adjusted[(week == k) & known]
        if len(values):
            levels[k] = values.mean()
        if k < NOISE_WEEKS and len(values) >= 2:
            squares += float(np.sum((values - values.mean()) ** 2))
            dof += len(values) - 1
    levels = levels[::-1]
    missing = np.isnan(levels)
    if missing.any():
        levels[missing] = np.interp(np.flatnonzero(missing), np.flatnonzero(~missing), levels[~missing])
    return WeeklyLevels(levels, effects, float(np.sqrt(squares / dof)) if dof else 0.0)


@single_threaded
def fit_model(
    name: str,
    start: date,
    y: np.ndarray,
    design: Design,
    params: np.ndarray | tuple | None = None,
    start_params: np.ndarray | tuple | None = None,
) -> Fitted:
    """`name` fitted on the series y (one value per day from `start`); with `params`, only filtered (no search);
    `start_params` (e.g. from a backtest's fit on a shorter history) start the search near the answer. A
    combination fits each single model (`params` and `start_params`: one per member)."""
    if name == COMBINED:
        members = []
        own_params, near_params = dict(params or ()), dict(start_params or ())
        # the members the backtest combined (those whose parameters are given), else every single model
        names = [m for m in SINGLE_MODELS if m in own_params or m in near_params] or list(SINGLE_MODELS)
        for member in names:
            # a member without parameters of its own is estimated here
            own, near = own_params.get(member), near_params.get(member)
            try:
                members.append(fit_model(member, start, y, design, own, near))
            except (np.linalg.LinAlgError, ValueError):
                continue
        if len(members) < 2:
            raise ValueError("fewer than two models of the combination could be fitted")
        return Fitted(COMBINED, design, None, start, len(y), members[0].steps, members=tuple(members))
    dates = _dates(start, len(y))
    z = design.values(dates, np.asarray(y, dtype=float))
    if not np.isfinite(z).any():
        raise ValueError("no trading day to model")
    season = _season(design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a poor fit shows in the backtest
        if name in SARIMAX_ORDERS:
            model = _sarimax(z, design.exog(dates), name, season)
            if params is None:
                params = model.fit(
                    start_params=None if start_params is None else np.asarray(start_params, dtype=float),
                    disp=False,
                    maxiter=200,
                    return_params=True,
                    pgtol=FIT_PGTOL,
                )
            # Filtered, not smoothed (what `fit` would do): forecasts, simulations and one-step errors need only the
            # filter; and no covariance of the parameters, which nothing reads.
            # Nor the filtered states, gains and smoother inputs of every day (copying them out of the filter took
            # a third of its time): forecasts start from the last predicted state, `_calibrate` reads the one-step
            # errors and their variances.
            model.ssm.set_conserve_memory(_no_history())
            result = model.filter(np.asarray(params, dtype=float), cov_type="none")
        elif name == WEEKLY:
            result = _weekly(z, [d for d, k in zip(dates, design.modelled(dates), strict=True) if k], dates[-1])
            result.fit(params, start_params)
        elif name in ("ets", SHORT_MODEL):
            model = _ets(z, season, trend=name == "ets")
            if params is not None:
                result = model.smooth(np.asarray(params, dtype=float))
            else:
                near = None if start_params is None else np.asarray(start_params, dtype=float)
                if near is not None and len(near) != len(model.param_names):
                    near = None  # estimated with another weekly season (the shop's closed weekdays changed)
                result = model.fit(start_params=near, disp=False, maxiter=200)
        else:
            raise ValueError(f"unknown model {name!r}; use one of {', '.join(MODELS)}")
    fitted = Fitted(name, design, result, start, len(y), len(z))
    if name in SARIMAX_ORDERS:
        modelled = [d for d, k in zip(dates, design.modelled(dates), strict=True) if k]
        measured = _calibrate(result, design, modelled)
        fitted.z80, fitted.z95 = measured.z80, measured.z95
        fitted.steps80, fitted.steps95 = measured.steps80, measured.steps95
    return fitted


@single_threaded
def band(fitted: Fitted, horizon: int) -> Band:
    """The point forecast and nested intervals (95% ⊇ 80% ⊇ point) of a fitted model on each of the next `horizon`
    calendar days, on the original scale: 0 on the days the shop is closed."""
    if fitted.members:
        return combine([band(member, horizon) for member in fitted.members], fitted.design)
    dates, modelled = fitted._future(fitted.n, horizon)
    kept = [d for d, k in zip(dates, modelled, strict=True) if k]
    if not kept:
        return _on_calendar(Band(*(np.zeros(0) for _ in range(5))), fitted.design, dates)
    mean, se = fitted.forecast(len(kept), kept)
    inner = _band(fitted.design, mean, se, fitted.design.non_negative, *fitted.multipliers(kept))
    return _on_calendar(inner, fitted.design, dates)


def combine(bands: list[Band], design: Design) -> Band:
    """The average of several forecasts of the same days on the modelled scale: point and each interval bound
    (quantile averaging, which keeps the bands nested)."""
    parts = []
    for attr in ("forecast", "lo80", "hi80", "lo95", "hi95"):
        stacked = np.vstack([np.asarray(getattr(b, attr), dtype=float) for b in bands])
        parts.append(design.back(np.mean(design.forward(stacked), axis=0)) if design.log else stacked.mean(axis=0))
    point, lo80, hi80, lo95, hi95 = parts
    lo80, hi80 = np.minimum(lo80, point), np.maximum(hi80, point)
    return Band(point, lo80, hi80, np.minimum(lo95, lo80), np.maximum(hi95, hi80))


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
