"""How report cells leave shopkpi: text from user data made inert for spreadsheets (formula injection), and numbers
formatted for reading (in their unit's format, metrics/units.py). Every export (XLSX, CSV) goes through `inert`.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import polars as pl

from metrics.registry import format_value
from metrics.targets import VERDICTS
from metrics.units import DATE, MISSING, UNITS, missing

# A spreadsheet treats text starting with these as a formula (OWASP "CSV injection"); tab and carriage return
# too, because some programs strip them before looking at the next character.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula, prefixed with an apostrophe; anything else unchanged.

    Only strings change: numbers stay numbers (a negative number is not text and is never prefixed).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def inert_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text column's cells passed through `inert`; numeric columns untouched."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    starts = "|".join("\\" + c if c in "+-\t\r" else c for c in FORMULA_STARTS)
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(f"^({starts})"))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as UTF-8 CSV with formula-like text made inert (for downloads and `--format csv`)."""
    buffer = io.StringIO()
    inert_frame(frame).write_csv(buffer)
    return buffer.getvalue().encode("utf-8")


# A target's verdict as a report words it; 'above' / 'below' ("above range — good") are coloured as on target.
STATUS_TEXT = {key: words for key, (words, _) in VERDICTS.items()}


def status_colour(verdict: str | None) -> str | None:
    """The colour key ('on', 'near', 'off') of a verdict."""
    return "on" if verdict in ("above", "below") else verdict


def display(value: Any, kind: str, metric: str | None = None) -> str:
    """A cell as a reader sees it in HTML or PDF: '—' where undefined, numbers in their metric's or column's unit
    ('count', 'money', 'rate', 'margin', 'ratio', 'change', 'decimal', 'date')."""
    if missing(value):
        return MISSING
    if kind == "unit" and metric is not None:
        return format_value(metric, value)
    if kind == "status":
        return STATUS_TEXT.get(value, str(value))
    if kind in UNITS and kind != "date" and not isinstance(value, str | date):
        return UNITS[kind].text(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return DATE.text(value)
    if isinstance(value, date):  # a timestamp: date and time
        return value.isoformat()
    return str(value)
