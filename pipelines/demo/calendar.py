"""The demo shop's calendar: one entry per day of the window with what drives it (618, 双11 and 双12 promotions, the
Spring Festival slowdown, weekdays, summer, growth). Days are store days in Asia/Shanghai."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DEMO_TIMEZONE = "Asia/Shanghai"
UTC_OFFSET_S = 8 * 3600  # Asia/Shanghai has no daylight saving time
DAY_S = 86_400

CHINESE_NEW_YEAR = tuple(
    np.datetime64(d) for d in ("2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26")
)
WEEKDAY = np.array([1.00, 0.97, 0.96, 0.97, 0.95, 1.05, 1.10])  # Monday first
YEARLY_GROWTH = 1.4
PROMO_TRAFFIC = 1.9  # traffic multiplier per unit of promotion intensity


@dataclass(frozen=True)
class Calendar:
    """One entry per day of the window: promotion intensities, and traffic and conversion multipliers."""

    start: date
    days: int
    dates: np.ndarray  # datetime64[D]
    months: np.ndarray  # datetime64[M]
    p618: np.ndarray  # promotion intensities, 0 outside their windows
    d11: np.ndarray
    d12: np.ndarray
    spring: np.ndarray  # 1 while the spring launch campaign runs (March, April)
    festival: np.ndarray  # 0..1, strength of the Spring Festival slowdown
    baseline: np.ndarray  # weekday x season x festival traffic multiplier, no promotions
    growth: np.ndarray
    conversion: np.ndarray  # conversion multiplier
    peak: np.ndarray  # bool: midnight-rush days (18 June, 11 November, 12 December)

    @property
    def promo(self) -> np.ndarray:
        return self.p618 + self.d11 + self.d12

    @property
    def traffic(self) -> np.ndarray:
        """Expected traffic multiplier of each day, promotions and growth included."""
        return self.baseline * self.growth * (1 + PROMO_TRAFFIC * self.promo)

    def driver(self, name: str | None) -> np.ndarray:
        return {"618": self.p618, "d11": self.d11, "d12": self.d12, "spring": self.spring}.get(
            name, np.zeros(self.days)
        )


def _days_to(dates: np.ndarray, month: int, day: int) -> np.ndarray:
    """Days from the given month/day of each date's own year to the date (negative before it)."""
    years = dates.astype("datetime64[Y]")
    event = years.astype("datetime64[M]") + (month - 1)
    event = event.astype("datetime64[D]") + (day - 1)
    return (dates - event).astype(np.int64)


def _ramp(k: np.ndarray, first: int, last: int, lo: float, hi: float) -> np.ndarray:
    inside = (k >= first) & (k <= last)
    return np.where(inside, lo + (hi - lo) * (k - first) / max(last - first, 1), 0.0)


def _calendar(start: date, days: int) -> Calendar:
    """The window's days and their drivers: 618, 双11 and 双12 promotions, the Spring Festival, weekdays, growth."""
    dates = np.datetime64(start, "D") + np.arange(days)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday

    k = _days_to(dates, 6, 18)
    p618 = _ramp(k, -18, -1, 0.22, 0.52) + np.select([k == 0, k == 1, k == 2], [1.0, 0.2, 0.08], 0.0)
    k = _days_to(dates, 11, 11)
    d11 = (
        _ramp(k, -22, -12, 0.15, 0.30)
        + np.where((k == -11) | (k == -10), 0.7, 0.0)  # first sales wave, 31 Oct - 1 Nov
        + _ramp(k, -9, -1, 0.35, 0.55)
        + np.select([k == 0, k == 1, k == 2], [1.35, 0.3, 0.1], 0.0)
    )
    k = _days_to(dates, 12, 12)
    d12 = np.select([(k >= -3) & (k <= -1), k == 0, k == 1], [0.15, 0.6, 0.1], 0.0)
    peak = (_days_to(dates, 6, 18) == 0) | (_days_to(dates, 11, 11) == 0) | (k == 0)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    spring = ((month == 3) | (month == 4)).astype(float)

    # Days to the nearest Chinese New Year: logistics stop and people travel for about a week around it.
    to_cny = (dates[:, None] - np.array(CHINESE_NEW_YEAR)[None, :]).astype(np.int64)
    k = to_cny[np.arange(days), np.abs(to_cny).argmin(axis=1)]
    festival = _ramp(k, -9, -4, 0.3, 0.7) + np.where((k >= -3) & (k <= 6), 1.0, 0.0) + _ramp(k, 7, 11, 0.5, 0.1)

    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    summer = 1 - 0.07 * np.exp(-(((day_of_year - 213) / 28.0) ** 2))
    baseline = WEEKDAY[weekday] * summer * (1 - 0.42 * festival)
    growth = YEARLY_GROWTH ** ((np.arange(days) - (days - 1)) / 365.0)
    promo = p618 + d11 + d12
    conversion = (1 + 0.5 * promo) * (1 - 0.25 * festival)
    months = dates.astype("datetime64[M]")
    return Calendar(start, days, dates, months, p618, d11, d12, spring, festival, baseline, growth, conversion, peak)
