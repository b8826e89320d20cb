"""The rolling-origin backtest: each candidate model and the seasonal-naive baseline forecast the same held-out weeks,
scored by MAPE, sMAPE and interval coverage; `Backtest.best` picks the model a forecast uses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from metrics.forecast.calendar import SEASON, Event, _dates
from metrics.forecast.design import _design
from metrics.forecast.models import MIN_HISTORY, MODELS, SARIMAX_ORDERS, band, fit_model, seasonal_naive

BACKTEST_FOLDS = 8
BACKTEST_STEP = 7  # days between rolling origins
NEAR_BEST = 1.10  # models within 10% of the best backtest MAPE are near-equals; calibration decides between them


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


def backtest_horizon(horizon: int) -> int:
    """The held-out window of each fold: the requested horizon, within one to four weeks."""
    return min(max(horizon, SEASON), 4 * SEASON)
