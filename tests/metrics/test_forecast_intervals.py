"""Interval widths measured on a backtest's held-out days (conformal), and the one-BLAS-thread guard of the fits."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from metrics import forecast as fc
from metrics.forecast.intervals import held_out_ratios, held_out_widths, stretched
from metrics.forecast.threads import _setters, one_blas_thread

START = date(2024, 1, 1)  # a Monday
WEEKLY = np.array([1.0, 0.9, 0.9, 1.0, 1.2, 1.5, 1.4])


def log_design() -> fc.Design:
    days = 60
    y = 1000 * np.resize(WEEKLY, days)
    design = fc._design(fc._dates(START, days), y, ())
    assert design.log
    return design


def test_ratios_measure_each_day_against_its_own_side_of_the_interval():
    # On the log1p scale: point log1p(99) ≈ 4.6052; 95% interval [log1p(49), log1p(199)] ≈ [3.9120, 5.2983].
    design = log_design()
    band = fc.Band(*(np.full(3, v) for v in (99.0, 69.0, 149.0, 49.0, 199.0)))
    actual = np.array([199.0, 49.0, 0.0])  # the upper bound, the lower bound, a closed day
    ratios = held_out_ratios(band, actual, design)
    # at each bound exactly: ratio 1 on its own side; the closed day has no error to score
    assert ratios["95"][:2] == pytest.approx([1.0, 1.0])
    assert np.isnan(ratios["95"][2]) and np.isnan(ratios["80"][2])
    # 80%: (log 200 − log 100) / (log 150 − log 100) = 0.6931 / 0.4055 = 1.7095 above the point
    assert ratios["80"][0] == pytest.approx(np.log(2) / np.log(1.5))


def test_widths_are_the_conformal_quantiles_of_the_ratios():
    # 19 days with ratios 0.1, 0.2, … 1.9: the 95% factor is the ⌈20 × 0.95⌉ = 19th smallest (1.9), the 80% one the
    # ⌈20 × 0.8⌉ = 16th (1.6); a closed day (NaN) does not count; 18 days cannot give a 95% quantile.
    ratios = np.r_[np.arange(1, 20) / 10, np.nan]
    assert held_out_widths({"80": ratios, "95": ratios}) == pytest.approx((1.6, 1.9))
    assert held_out_widths({"80": ratios[1:], "95": ratios[1:]}) is None


def test_a_stretched_band_keeps_its_point_nesting_and_closed_days():
    # Half-widths on the log1p scale doubled (95%) and halved (80%): the 95% upper bound log1p(99) + 2 × log(2)
    # is expm1(log(100) + log(4)) = 399; the 80% upper bound expm1(log(100) + 0.5 × log(1.5)) = 100 × √1.5 − 1.
    design = log_design()
    band = fc.Band(*(np.array([v, 0.0]) for v in (99.0, 69.0, 149.0, 49.0, 199.0)))  # the second day closed
    wider = stretched(band, design, (0.5, 2.0))
    assert wider.forecast.tolist() == [99.0, 0.0]
    assert wider.hi95[0] == pytest.approx(399.0) and wider.lo95[0] == pytest.approx(100 / 4 - 1)
    assert wider.hi80[0] == pytest.approx(100 * np.sqrt(1.5) - 1)
    assert wider.lo95[0] <= wider.lo80[0] <= wider.forecast[0] <= wider.hi80[0] <= wider.hi95[0]
    for bound in (wider.lo80, wider.hi80, wider.lo95, wider.hi95):
        assert bound[1] == 0.0, "a closed day stays closed"
    assert stretched(band, design, None) is band


def test_too_narrow_intervals_are_widened_on_held_out_days():
    # A shop whose days got five times noisier half a year ago (log-scale noise 0.04, then 0.2): ETS's intervals,
    # one noise level over the whole history, are too narrow for today's days. The backtest measures on its
    # held-out days how far they had to be stretched (each fold by the folds over before its origin: coverage scored
    # out of sample), and the forecast applies the stretch measured on every fold. On the next 42 days, never seen by
    # the backtest nor the fit, the model's own 95% intervals held under 85% of the days, the calibrated ones 90% or
    # more (seed 12: 69% → 100%; 80% intervals 40% → 95%).
    rng = np.random.default_rng(12)
    days, history = 300, 258
    noise = np.where(np.arange(days) < 180, 0.04, 0.2)
    y = 1000 * np.resize(WEEKLY, days) * np.exp(noise * rng.standard_normal(days))
    past, future = y[:history], y[history:]
    backtest = fc.backtest_series(START, past, 14, (), folds=10, models=("ets",))
    widths = backtest.widths["ets"]
    assert widths is not None and min(widths) > 1.2, "the held-out days call for wider intervals"
    _, own, fitted = fc.forecast_series(START, past, len(future), (), "ets")
    _, calibrated, _ = fc.forecast_series(START, past, len(future), (), "ets", params=fitted.params, backtest=backtest)

    def coverage(band: fc.Band, level: str) -> float:
        return float(np.mean((getattr(band, f"lo{level}") <= future) & (future <= getattr(band, f"hi{level}"))))

    assert calibrated.forecast == pytest.approx(own.forecast), "the point forecast is the model's"
    assert coverage(own, "95") < 0.85 and coverage(calibrated, "95") >= 0.90
    assert coverage(calibrated, "80") >= coverage(own, "80") + 0.2
    # the 95% half-width on the log scale is the model's times the measured factor
    half_own = np.log1p(own.hi95) - np.log1p(own.forecast)
    assert np.log1p(calibrated.hi95) - np.log1p(calibrated.forecast) == pytest.approx(widths[1] * half_own, rel=1e-6)


def test_fits_run_with_one_blas_thread_and_restore_the_count():
    setters = _setters()
    assert setters, "numpy's and scipy's wheels bundle OpenBLAS: its thread setter is found"
    before = [setter(3) for setter in setters]  # 3 threads, whatever the machine
    try:
        with one_blas_thread():
            assert [setter(1) for setter in setters] == [1] * len(setters)  # each returns the count it had
        assert [setter(3) for setter in setters] == [3] * len(setters), "restored after the fit"
    finally:
        for setter, count in zip(setters, before, strict=True):
            setter(max(1, count))
