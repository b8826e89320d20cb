"""The promotion calendar: the yearly events (618, 双11, Spring Festival, …) forecasts and alerts treat as known.

Read from a TOML file (the packaged metrics/calendar.toml unless the caller passes another) and turned into
regressors: per event a build-up flag, a build-up ramp, the day and the tail.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

DEFAULT_CALENDAR_PATH = Path(__file__).resolve().parent.parent / "calendar.toml"
SEASON = 7  # days in the weekly season every daily series repeats


class CalendarError(ValueError):
    """A promotion calendar file that cannot be used: which file, which event, what is wrong."""


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


def load_calendar(path: str | Path | None = None) -> tuple[Event, ...]:
    """The events of the calendar file `path` (default: the packaged calendar, DEFAULT_CALENDAR_PATH).

    The edge (CLI, dashboard, reports) passes the file settings name (`calendar_path` / SHOPKPI_CALENDAR).
    """
    path = Path(path) if path is not None else DEFAULT_CALENDAR_PATH
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


def _dates(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]
