"""The `shopkpi report` command (SPEC §5): an operations report for cron, written to a file, never a prompt.

Registered in shopkpi/cli/main.py (LATER_COMMANDS: imported when it runs). Exit 0 on success, 1 on a data or file error
(one line on stderr), 2 on wrong usage (typer's usage errors).
"""

from __future__ import annotations

import contextlib
import os
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from metrics.forecast import CalendarError, load_calendar
from metrics.periods import latest_date, parse_date
from metrics.targets import TargetsError, load_targets
from shopkpi.cli.common import DbOption, EngineOption, StoreOption, fail, no_data, read_warehouse, store_segment
from shopkpi.reports import report_bytes
from shopkpi.settings import load_settings


class ReportPeriod(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"


def _report_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--date") from None


def _format_of(fmt: ReportFormat | None, out: Path) -> str:
    if fmt is not None:
        return fmt.value
    suffix = out.suffix.lower().lstrip(".")
    if suffix in ReportFormat.__members__:
        return suffix
    raise typer.BadParameter(
        "give --format html, pdf or xlsx (or an --out ending in one of those)", param_hint="--format"
    )


def _write(out: Path, data: bytes) -> None:
    """Write the whole file or nothing: a cron job never leaves a half-written report where the old one was."""
    out = out.expanduser()
    if out.is_dir():
        raise OSError(f"--out {out} is a directory: give a file name")
    if not out.parent.is_dir():
        raise OSError(f"cannot write {out}: folder {out.parent} does not exist")
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def report(
    period: Annotated[ReportPeriod, typer.Option("--period", help="daily, weekly (ISO week) or monthly.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced whole if it exists).")],
    date_: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="A date in the period, YYYY-MM-DD (default: the latest date in the warehouse; the store's with "
            "--store).",
        ),
    ] = None,
    format: Annotated[
        ReportFormat | None, typer.Option("--format", help="html, pdf or xlsx (default: from --out's suffix).")
    ] = None,
    store: StoreOption = None,
    db: DbOption = None,
    engine: EngineOption = None,
) -> None:
    """An operations report (KPIs vs targets, P&L, traffic, funnel, products, stock) as HTML, PDF or Excel."""
    day = _report_date(date_)
    fmt = _format_of(format, out)
    on_spark = str(engine or load_settings(db).engine) == "spark"
    # On Spark, the figures that run on either engine are the lake's; stock and the outlook stay on the warehouse.
    with (
        read_warehouse(db, "duckdb") as con,
        read_warehouse(db, "spark") if on_spark else contextlib.nullcontext() as figures,
    ):
        segment = store_segment(con, store)
        if day is None:
            day = latest_date(con, segment)
            if day is None:
                raise no_data(segment, "--date")
        settings = load_settings(db)
        try:
            targets = load_targets(settings.targets_path)
            calendar = load_calendar(settings.calendar_path)
        except (TargetsError, CalendarError) as exc:
            raise fail(str(exc)) from None
        try:
            data = report_bytes(con, period.value, day, fmt, targets, calendar, figures, segment)
        except RuntimeError as exc:  # the PDF renderer's system libraries are missing
            raise fail(str(exc)) from None
    try:
        _write(out, data)
    except OSError as exc:
        reason = exc.strerror if exc.strerror else str(exc)
        raise fail(reason if reason.startswith(("--out", "cannot")) else f"cannot write {out}: {reason}") from None
