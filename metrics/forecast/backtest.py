"""The rolling-origin backtest: each candidate model and the seasonal-naive baseline forecast the same held-out weeks,
scored by MAPE, sMAPE, MASE and interval coverage on the days the shop traded; `Backtest.best` picks the model a
forecast uses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from metrics.forecast.calendar import SEASON, Event, _dates
from metrics.forecast.design import _design
from metrics.forecast.intervals import Band, held_out_ratios, held_out_widths, stretched
from metrics.forecast.models import (
    COMBINE_WITHIN,
    COMBINED,
    MIN_HISTORY,
    MODELS,
    SINGLE_MODELS,
    band,
    combine,
    fit_model,
)
from metrics.forecast.models import seasonal_naive as seasonal_naive
from metrics.forecast.threads import single_threaded

BACKTEST_FOLDS = 8
BACKTEST_STEP = 7  # days between rolling origins
NEAR_BEST = 1.10  # models within 10% of the best backtest MAPE are near-equals, if their intervals are honest
HONEST_COVERAGE = (0.90, 0.98)  # shares of held-out days inside the 95% intervals that count as honest
EMPTY_SCORES = {"mape": None, "smape": None, "mase": None, "coverage80": None, "coverage95": None}


@dataclass
class Backtest:
    """Held-out errors of each model and the seasonal-naive baseline on the same rolling origins."""

    horizon: int
    origins: list[date]
    # per model: arrays of actual, forecast, inside80, inside95 over every held-out day of every fold
    actual: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # the MASE scale of each held-out day: the mean absolute week-on-week change of its fold's history, over the
    # pairs of trading days (both positive)
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    inside80: dict[str, np.ndarray] = field(default_factory=dict)
    inside95: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, tuple] = field(default_factory=dict)
    designs: dict[str, list[str]] = field(default_factory=dict)  # each model's regressors, by name
    # each model's 80% and 95% interval stretch on the modelled scale, measured on every fold's held-out days
    # (`held_out_widths`): the forecast made with that model applies it (None: too few days to tell)
    widths: dict[str, tuple[float, float] | None] = field(default_factory=dict)

    def merge(self, other: Backtest) -> Backtest:
        """The pooled backtest of several series (e.g. the groups of a split)."""
        merged = Backtest(self.horizon, sorted(set(self.origins) | set(other.origins)))
        merged.actual = np.concatenate([self.actual, other.actual])
        merged.scale = np.concatenate([self.scale, other.scale])
        for attr in ("forecasts", "inside80", "inside95"):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            setattr(merged, attr, {k: np.concatenate([mine.get(k, []), theirs.get(k, [])]) for k in mine | theirs})
        return merged

    def scores(self, name: str) -> dict[str, float | None]:
        """MAPE, sMAPE, MASE and (for models) interval coverage over held-out days with a positive actual (the days
        the shop traded)."""
        if name not in self.forecasts:
            return dict(EMPTY_SCORES)
        y, f = self.actual, self.forecasts[name]
        keep = y > 0
        if not keep.any() or len(f) != len(y):
            return dict(EMPTY_SCORES)
        scale = self.scale if len(self.scale) == len(y) else np.full(len(y), np.nan)
        y, f, scale = y[keep], f[keep], scale[keep]
        scaled = np.abs(y - f) / np.where(scale > 0, scale, np.nan)
        out: dict[str, float | None] = {
            "mape": float(np.mean(np.abs(y - f) / np.abs(y))),
            "smape": float(np.mean(2 * np.abs(y - f) / (np.abs(y) + np.abs(f)))),
            "mase": float(np.nanmean(scaled)) if np.isfinite(scaled).any() else None,
        }
        for level in ("80", "95"):
            inside = getattr(self, f"inside{level}").get(name)
            out[f"coverage{level}"] = None if inside is None else float(np.mean(inside[keep]))
        return out

    def table(self) -> pl.DataFrame:
        """One row per model and the baseline: model, mape, smape, mase, coverage80, coverage95, days."""
        rows = [{"model": n, **self.scores(n), "days": int((self.actual > 0).sum())} for n in self.forecasts]
        schema = {"model": pl.String, "mape": pl.Float64, "smape": pl.Float64, "mase": pl.Float64}
        schema |= {"coverage80": pl.Float64, "coverage95": pl.Float64, "days": pl.Int64}
        return pl.DataFrame(rows, schema=schema)

    def best(self) -> str | None:
        """The model to forecast with: among the models within 10% of the lowest backtest MAPE, the most accurate
        whose 95% intervals held 90-98% of the held-out days; if none did, the one closest to 95%. Accuracy first,
        then honest intervals (pacing probabilities and stock buffers are read from them); a coverage inside that
        range is as good as 95% on a few hundred days (one standard error of a share near 95% over 96 days is 2.2
        points). The baseline does not compete."""
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
        low, high = HONEST_COVERAGE
        honest = [name for name in near if low <= (scored[name]["coverage95"] or 0) <= high]
        if honest:
            return min(honest, key=lambda name: scored[name]["mape"])

        def miscalibration(name: str) -> float:
            coverage = scored[name]["coverage95"]
            return abs(coverage - 0.95) if coverage is not None else 1.0

        return min(near, key=lambda name: (miscalibration(name), scored[name]["mape"]))


def mase_scale(y: np.ndarray) -> float:
    """The mean absolute week-on-week change of a history over the pairs of days the shop traded on (both
    positive): what "same day last week" errs by in-sample, the denominator of MASE."""
    y = np.asarray(y, dtype=float)
    if len(y) <= SEASON:
        return float("nan")
    now, before = y[SEASON:], y[:-SEASON]
    pairs = (now > 0) & (before > 0)
    return float(np.mean(np.abs(now - before)[pairs])) if pairs.any() else float("nan")


@single_threaded
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
    (same parameters, no look-ahead: only the days before each origin) up to each later origin and asked for the
    next `horizon` days. The combination averages its members' forecasts of each fold (no fit of its own)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    folds = min(folds, max(0, (n - horizon - 3 * MIN_HISTORY) // step + 1))
    if folds <= 0:
        return Backtest(horizon, [])
    origins = sorted(n - horizon - step * k for k in range(folds))
    result = Backtest(horizon, [start + timedelta(days=o) for o in origins])
    result.actual = np.concatenate([y[o : o + horizon] for o in origins])
    result.scale = np.concatenate([np.full(horizon, mase_scale(y[:o])) for o in origins])
    result.forecasts["seasonal_naive"] = np.concatenate([seasonal_naive(y[:o], horizon) for o in origins])
    design = _design(_dates(start, origins[0]), y[: origins[0]], events)
    singles = [m for m in SINGLE_MODELS if m in models or COMBINED in models]
    bands: dict[str, list[Band]] = {}
    for name in singles:
        try:
            first = fit_model(name, start, y[: origins[0]], design)
            params = first.params
            # Later origins only filter with the same parameters (a forecast made on that day would refit; the
            # parameters of a long history move little in a few weeks).
            later = [band(fit_model(name, start, y[:o], design, params), horizon) for o in origins[1:]]
        except (np.linalg.LinAlgError, ValueError):
            continue  # a model that cannot be fitted on this series does not compete
        bands[name] = [band(first, horizon), *later]
        result.params[name] = params
        result.designs[name] = list(design.names)
    if COMBINED in models and len(bands) >= 2:
        for name in bands:
            _score(result, name, bands[name])
        error = {name: result.scores(name)["mape"] for name in bands}
        lowest = min((e for e in error.values() if e is not None and math.isfinite(e)), default=None)
        members = [
            m for m in bands if lowest is not None and error[m] is not None and error[m] <= COMBINE_WITHIN * lowest
        ]
    else:
        members = []
    if len(members) >= 2:
        bands[COMBINED] = [combine([bands[m][i] for m in members], design) for i in range(len(origins))]
        result.params[COMBINED] = tuple((m, result.params[m]) for m in members)
        result.designs[COMBINED] = list(design.names)
    for name in [m for m in MODELS if m in models and m in bands]:
        fold_actuals = [y[o : o + horizon] for o in origins]
        result.widths[name], honest = _conformal(bands[name], fold_actuals, origins, horizon, design)
        _score(result, name, honest)
    for name in [m for m in singles if m not in models]:
        for table in (result.params, result.forecasts, result.inside80, result.inside95, result.designs):
            table.pop(name, None)
    return result


def _conformal(
    bands: list[Band], actuals: list[np.ndarray], origins: list[int], horizon: int, design
) -> tuple[tuple[float, float] | None, list[Band]]:
    """A model's interval widths calibrated on its own held-out days: the stretch measured on every fold (for the
    forecast), and each fold's band stretched by what the folds already over before its origin measured (so the
    coverage scored stays out of sample; the first folds, with too few such days, keep the model's own widths)."""
    ratios = [held_out_ratios(band, actual, design) for band, actual in zip(bands, actuals, strict=True)]

    def pooled(folds: list[int]) -> dict[str, np.ndarray]:
        return {level: np.concatenate([ratios[j][level] for j in folds] or [np.zeros(0)]) for level in ("80", "95")}

    honest = []
    for i, origin in enumerate(origins):
        over = [j for j in range(len(origins)) if origins[j] + horizon <= origin]
        honest.append(stretched(bands[i], design, held_out_widths(pooled(over))))
    return held_out_widths(pooled(list(range(len(origins))))), honest


def _score(result: Backtest, name: str, bands: list[Band]) -> None:
    actual = result.actual
    result.forecasts[name] = np.concatenate([b.forecast for b in bands])
    for level in ("80", "95"):
        lo = np.concatenate([getattr(b, f"lo{level}") for b in bands])
        hi = np.concatenate([getattr(b, f"hi{level}") for b in bands])
        getattr(result, f"inside{level}")[name] = (lo <= actual) & (actual <= hi)


def backtest_horizon(horizon: int) -> int:
    """The held-out window of each fold: the requested horizon, within one to four weeks."""
    return min(max(horizon, SEASON), 4 * SEASON)
