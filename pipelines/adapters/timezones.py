"""The store's time zone read from an export whose timestamps carry UTC offsets (SPEC §2: with an offset, a timestamp
is converted to the store's time zone, so the zone decides on which day an order falls).

An adapter whose export has offsets records them in the table `_offsets` of its build connection (one row per
timestamp: `instant`, the UTC time, and `offset_minutes`). `settle_timezone` then picks the zone of a new warehouse
that has exactly those offsets at those instants (so −05:00 in winter and −04:00 in summer, switching on the US
dates, is America/New_York), or checks the zone a warehouse already has, or the one asked for, against them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import duckdb

from pipelines.ingest import IngestError

OFFSETS_DDL = "create or replace table _offsets (instant timestamp, offset_minutes integer)"

# The zones a shop is most likely in, in that order: where several zones have the same offsets on the export's dates
# (New York, Toronto and Detroit; Paris and Berlin; London and Dublin), the first of this list that fits is taken.
USUAL_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Europe/London",
    "Europe/Paris",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "UTC",
)
_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/")


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def _all_zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if z.startswith(_REGIONS)))


def known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


Observed = list[tuple[datetime, int, int]]  # (UTC hour, offset in minutes, timestamps in that hour with that offset)


def _fits(zone: str, observed: Observed) -> bool:
    tz = _zone(zone)
    return all(hour.replace(tzinfo=UTC).astimezone(tz).utcoffset() == timedelta(minutes=m) for hour, m, _ in observed)


def _offset_text(minutes: int) -> str:
    sign = "−" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _describe(observed: Observed) -> str:
    """'−05:00 on 2020-03-05 … 2022-02-14 and −04:00 on 2020-05-29 … 2022-04-06, 81 timestamps' (local dates)."""
    spans: dict[int, list[datetime]] = {}
    for hour, minutes, _ in observed:
        spans.setdefault(minutes, []).append(hour + timedelta(minutes=minutes))
    parts = [f"{_offset_text(m)} on {min(t):%Y-%m-%d} … {max(t):%Y-%m-%d}" for m, t in sorted(spans.items())]
    return " and ".join(parts) + f", {sum(n for *_, n in observed):,} timestamps"


def _observations(con: duckdb.DuckDBPyConnection) -> Observed:
    """`_offsets` by UTC hour and offset (offsets change on the hour), or nothing when the adapter wrote none."""
    if not con.sql("select count(*) from duckdb_tables() where table_name = '_offsets'").fetchall()[0][0]:
        return []
    return con.sql(
        """
        select date_trunc('hour', instant) as hour, offset_minutes, count(*) as timestamps
        from _offsets where instant is not null and offset_minutes is not null
        group by all order by hour, offset_minutes
        """
    ).fetchall()


def zones_fitting(observed: Observed) -> list[str]:
    """Every IANA zone (regional names, sorted) whose UTC offset at each observed instant is the observed one."""
    candidates = list(_all_zones())
    for observation in observed:
        candidates = [zone for zone in candidates if _fits(zone, [observation])]
        if not candidates:
            break
    return candidates


def settle_timezone(
    con: duckdb.DuckDBPyConnection, zone: str, *, existing: bool, asked: str | None
) -> tuple[str, list[str], list[str]]:
    """(the zone to load with, summary notes, warnings) for an export whose offsets are in `_offsets`, if any.

    `zone` is the one chosen before reading the export: the warehouse's own when it `existing`, else `asked` (from
    --timezone or the settings), else the adapter's default. An existing warehouse keeps its zone and an asked-for zone
    is used, each with a warning when the offsets do not fit it; otherwise the zone is read from the offsets: the
    first of USUAL_ZONES that fits them all. Raises IngestError (pass --timezone) when none of those fits.
    """
    observed = _observations(con)
    if not observed:
        return zone, [], []
    if not known_zone(zone):
        raise IngestError(f"{zone!r} is not an IANA time zone (e.g. America/New_York, Europe/London)")
    offsets = _describe(observed)
    if existing or asked:
        whose = "the warehouse's time zone" if existing else "the time zone asked for"
        if _fits(zone, observed):
            return zone, [f"time zone: {zone} ({whose}), which fits the export's offsets: {offsets}"], []
        wrong = sum(o[2] for o in observed if not _fits(zone, [o]))
        suggestion = next((z for z in USUAL_ZONES if _fits(z, observed)), None)
        hint = f"; they fit {suggestion}" if suggestion else ""
        return (
            zone,
            [],
            [
                f"the export's UTC offsets ({offsets}) are not those of {whose}, {zone}, for {wrong:,} of "
                f"its timestamps{hint}: its times are converted to {zone} and loaded"
            ],
        )
    fitting = zones_fitting(observed)
    usual = next((z for z in USUAL_ZONES if z in fitting or (z == "UTC" and _fits(z, observed))), None)
    if usual is None:
        listed = ", ".join(fitting[:6]) + (f" … ({len(fitting)} in all)" if len(fitting) > 6 else "")
        fits = f"they fit {listed}" if fitting else "no single time zone has them all"
        raise IngestError(
            f"the export's timestamps carry UTC offsets ({offsets}) that fit none of the usual shop time zones "
            f"({fits}): pass --timezone IANA_NAME for the new warehouse"
        )
    others = [z for z in fitting if z != usual]
    also = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
    why = "the only zone that fits them" if not others else f"the most usual zone that fits them (also fit: {also})"
    return (
        usual,
        [
            f"time zone of the new warehouse: {usual}, read from the export's UTC offsets ({offsets}): {why}; "
            "--timezone chooses another"
        ],
        [],
    )
