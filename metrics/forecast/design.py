"""How one daily series is modelled: its scale (log1p for a non-negative metric, so intervals stay above 0) and its
regressors (the calendar's event terms that vary over the history, and closed days)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from metrics.forecast.calendar import Event, event_terms


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
