"""Anomaly checks on a synthetic daily KPI with a weekly pattern, yearly promotions and one planted anomaly."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from metrics.anomalies import check_day
from metrics.forecast import Event, event_terms

START = date(2024, 1, 1)
DAYS = 2 * 366 + 30  # to 31 January 2026
WEEKLY = np.array([1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.25])
D11 = Event("double11", "双11", before=5, after=1, month_day=(11, 11))
ANOMALY = date(2025, 12, 3)  # a Wednesday: the KPI falls to 60% of normal


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(5)
    dates = [START + timedelta(days=i) for i in range(DAYS)]
    values = 1000 * np.array([WEEKLY[d.weekday()] for d in dates]) * np.exp(rng.normal(0, 0.04, DAYS))
    matrix, names = event_terms(dates, [D11])
    effect = dict(zip(names, matrix.T, strict=True))
    # 双11 doubles the day, the build-up lifts sales by 30%, the day after by 20%.
    values *= 1 + 1.0 * effect["double11_day"] + 0.3 * effect["double11_before"] + 0.2 * effect["double11_after"]
    values[dates.index(ANOMALY)] *= 0.6
    return dates, values.tolist()


def test_the_planted_anomaly_fires(series):
    dates, values = series
    check = check_day(dates, values, ANOMALY, [D11])
    # Expected ≈ 1000 × 0.95 (a Wednesday); the value is 60% of that: change ≈ −40%, many noise widths away.
    assert check.is_alert()
    assert check.change == pytest.approx(-0.4, abs=0.06)
    assert check.z < -5 and check.event is None


@pytest.mark.parametrize("day", [date(2025, 11, 11), date(2025, 11, 8), date(2025, 11, 12)])
def test_a_calendar_promotion_seen_before_is_not_an_anomaly(series, day):
    dates, values = series
    check = check_day(dates, values, day, [D11])
    assert check.judged and not check.is_alert(), (check.change, check.z)
    assert check.event == "双11"


def test_the_same_promotion_is_an_anomaly_when_the_calendar_does_not_know_it(series):
    dates, values = series
    check = check_day(dates, values, date(2025, 11, 11), [])
    # The trend soaks up part of the build-up, so the jump reads smaller than the true doubling, but it fires.
    assert check.is_alert() and check.change > 0.2


def test_a_promotion_never_seen_before_is_not_judged(series):
    # The first 双11 in the data: no earlier one to learn its size from, so no verdict rather than a false alarm.
    dates, values = series
    check = check_day(dates, values, date(2024, 11, 11), [D11])
    assert not check.judged and not check.is_alert() and check.event == "双11"


def test_ordinary_days_are_quiet(series):
    dates, values = series
    days = [date(2025, 9, 1) + timedelta(days=i) for i in range(60)]
    alerts = [d for d in days if check_day(dates, values, d, [D11]).is_alert()]
    assert alerts == []
