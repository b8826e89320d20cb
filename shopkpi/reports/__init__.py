"""Operations reports (daily, weekly, monthly) as HTML, PDF and Excel: content assembled from metrics/ in
content.py, laid out by html.py, pdf.py and xlsx.py. `report_bytes` is what the CLI and the dashboard call."""

from __future__ import annotations

from datetime import date

import duckdb

from metrics.forecast import Event
from metrics.segments import ALL, Segment
from metrics.targets import Target
from shopkpi.reports.content import PERIOD_KINDS, Report, build_report, report_period

FORMATS = ("html", "pdf", "xlsx")
MEDIA_TYPES = {
    "html": "text/html",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def report_bytes(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    day: date,
    fmt: str,
    targets: dict[str, Target] | None = None,
    calendar: tuple[Event, ...] | None = None,
    figures: object = None,
    segment: Segment = ALL,
) -> bytes:
    """The report of the `kind` period containing `day` ('daily', 'weekly', 'monthly'), as a file of `fmt`.

    `targets` and the promotion `calendar` are those in force (the edge reads them from settings); without them, the
    packaged defaults. `figures`: the lake on Spark, for the figures that run on either engine (build_report).
    `segment`: one store's report, or the whole shop's (default)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    report = build_report(con, kind, day, targets, calendar, figures, segment)
    if fmt == "pdf":
        from shopkpi.reports.pdf import render_pdf

        return render_pdf(report)
    if fmt == "html":
        from shopkpi.reports.html import render_html

        return render_html(report).encode("utf-8")
    from shopkpi.reports.xlsx import render_xlsx

    return render_xlsx(report)


def file_name(kind: str, day: date, fmt: str) -> str:
    """A download's file name, e.g. 'shopkpi-monthly-2026-10.pdf' or 'shopkpi-weekly-2026-W43.xlsx'."""
    period = report_period(kind, day)
    if kind == "monthly":
        label = f"{period.start:%Y-%m}"
    elif kind == "weekly":
        year, week, _ = period.start.isocalendar()
        label = f"{year}-W{week:02d}"
    else:
        label = period.start.isoformat()
    return f"shopkpi-{kind}-{label}.{fmt}"


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "PERIOD_KINDS",
    "Report",
    "build_report",
    "file_name",
    "report_bytes",
    "report_period",
]
