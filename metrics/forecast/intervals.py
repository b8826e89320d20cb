"""Forecast intervals: the band (point, 80% and 95%) on the original scale, the interval multipliers measured on a
fit's own errors instead of the normal's 1.28 and 1.96 (`_calibrate`), and the widths measured on a backtest's
held-out days (`held_out_widths`, conformal: what the model's intervals had to be stretched by to hold 80% and 95% of
those days)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from metrics.forecast.calendar import SEASON
from metrics.forecast.design import Design

Z80 = 1.2815515655446004  # standard normal quantiles of the two-sided 80% and 95% intervals
Z95 = 1.959963984540054
RECENT_ERRORS = 182  # days of errors that set the interval width of ordinary days
CALIBRATION_STEPS = 4 * SEASON  # steps ahead whose interval multipliers are measured (later steps: the last one's)
ROBUST_TAIL = 0.9  # share of the measured 95% quantile kept as a floor


@dataclass
class Band:
    """A forecast on the original scale: the point (median) and the 80% and 95% intervals, one value per day."""

    forecast: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray


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


@dataclass
class Multipliers:
    """What `_calibrate` measured: the multipliers of the standard error on ordinary and on event days (80% and 95%),
    and those of each step ahead."""

    z80: tuple[float, float]
    z95: tuple[float, float]
    steps80: np.ndarray
    steps95: np.ndarray


def _psi_weights(result, steps: int) -> np.ndarray:
    """A fitted SARIMAX's MA(∞) weights on the modelled scale, differencing included: an h-step forecast error is
    Σ_{j<h} ψ_j × (one-step error h − j days later)."""
    from statsmodels.tsa.arima_process import arma2ma

    ar, ma = np.asarray(result.polynomial_reduced_ar, float), np.asarray(result.polynomial_reduced_ma, float)
    (_, d, _), (_, seasonal_d, _, season) = result.model.order, result.model.seasonal_order
    for _ in range(d):
        ar = np.convolve(ar, [1.0, -1.0])
    for _ in range(seasonal_d):
        ar = np.convolve(ar, np.r_[1.0, np.zeros(season - 1), -1.0])
    return arma2ma(ar, ma, steps)


def _calibrate(result, design: Design, dates: Sequence[date]) -> Multipliers:
    """Interval multipliers for each step ahead, measured on a fitted SARIMAX's own recent multi-step errors.

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
        psi = _psi_weights(result, CALIBRATION_STEPS)
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
    return Multipliers((1.0, excess80), (1.0, excess95), step80, step95)


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


LEVELS = {"80": 0.80, "95": 0.95}


def held_out_ratios(band: Band, actual: np.ndarray, design: Design) -> dict[str, np.ndarray]:
    """For each level, each held-out day's distance from the point forecast over its interval's half-width on the same
    side, on the modelled (log) scale: at most 1 inside the interval. NaN on the days the shop did not trade (no
    error to score, as in the backtest's coverage)."""
    forward = design.forward
    point, seen = forward(np.asarray(band.forecast, float)), forward(np.asarray(actual, float))
    out = {}
    for level in LEVELS:
        lo, hi = forward(getattr(band, f"lo{level}")), forward(getattr(band, f"hi{level}"))
        half = np.where(seen >= point, hi - point, point - lo)
        distance = np.abs(seen - point)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(half > 0, distance / half, np.where(distance > 0, np.inf, 0.0))
        ratio[np.asarray(actual) <= 0] = np.nan
        out[level] = ratio
    return out


def held_out_widths(ratios: dict[str, np.ndarray]) -> tuple[float, float] | None:
    """The 80% and 95% stretch factors of a model's interval half-widths (modelled scale) that held-out days call
    for: the split-conformal quantile of the ratios (the ⌈(n + 1)·level⌉-th smallest of n), so that a new day falls
    inside with at least that probability if it errs like the held-out ones. None with too few days to tell (under
    19: no 95% quantile)."""
    factors = []
    for level, share in LEVELS.items():
        values = np.sort(ratios[level][~np.isnan(ratios[level])])
        rank = int(np.ceil((len(values) + 1) * share))
        if rank > len(values) or not np.isfinite(values[rank - 1]) or values[rank - 1] <= 0:
            return None
        factors.append(float(values[rank - 1]))
    s80, s95 = factors
    return s80, s95


def stretched(band: Band, design: Design, widths: tuple[float, float] | None) -> Band:
    """A band whose half-widths on the modelled scale are multiplied by the 80% and 95% factors (nesting kept);
    closed days (0 everywhere) stay 0."""
    if widths is None:
        return band
    forward, back = design.forward, design.back
    point = forward(np.asarray(band.forecast, float))
    bounds = {}
    for level, factor in zip(LEVELS, widths, strict=True):
        lo, hi = forward(getattr(band, f"lo{level}")), forward(getattr(band, f"hi{level}"))
        bounds[level] = (back(point - factor * (point - lo)), back(point + factor * (hi - point)))
    (lo80, hi80), (lo95, hi95) = bounds["80"], bounds["95"]
    if not design.log and design.non_negative:
        lo80, lo95 = np.maximum(lo80, 0), np.maximum(lo95, 0)
    forecast = np.asarray(band.forecast, float)
    lo80, hi80 = np.minimum(lo80, forecast), np.maximum(hi80, forecast)
    return Band(forecast, lo80, hi80, np.minimum(lo95, lo80), np.maximum(hi95, hi80))
