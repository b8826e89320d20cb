"""The report as an Excel workbook: a cover sheet, then one sheet per section with real numbers in number formats,
a frozen header row and a filter. Text cells go through `cells.inert`, so user data cannot become a formula."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import xlsxwriter

from metrics.units import UNITS
from shopkpi.reports.cells import STATUS_TEXT, inert, status_colour
from shopkpi.reports.content import Report, Section

NUMBER_FORMATS = {kind: unit.excel for kind, unit in UNITS.items()}  # by column kind: a metric unit, change, date…
STATUS_COLORS = {
    "on": "#047857",
    "near": "#b45309",
    "off": "#b91c1c",
    "order late": "#b91c1c",
    "order now": "#b45309",
}
INVALID_SHEET_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def _sheet_name(section: Section, used: set[str]) -> str:
    name = section.title.translate(INVALID_SHEET_CHARS)[:31]
    while name in used:
        name = name[:28] + f" {len(used)}"
    used.add(name)
    return name


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.header = book.add_format({"bold": True, "bg_color": "#1f4e79", "font_color": "white", "text_wrap": True})
        self.text = book.add_format({})
        self.numbers = {kind: book.add_format({"num_format": spec}) for kind, spec in NUMBER_FORMATS.items()}
        self.status = {
            key: book.add_format({"font_color": color, "bold": True}) for key, color in STATUS_COLORS.items()
        }
        self.title = book.add_format({"bold": True, "font_size": 16})
        self.label = book.add_format({"bold": True})

    def number(self, kind: str) -> Any:
        return self.numbers.get(kind, self.numbers["decimal"])


def _write_cell(sheet: Any, row: int, col: int, value: Any, kind: str, formats: _Formats) -> None:
    if value is None:
        sheet.write_blank(row, col, None, formats.number(kind) if kind != "text" else formats.text)
    elif kind == "status":
        sheet.write_string(
            row, col, inert(STATUS_TEXT.get(value, str(value))), formats.status.get(status_colour(value), formats.text)
        )
    elif isinstance(value, str):
        # write_string, never write(): xlsxwriter's write() would turn text starting with '=' into a formula.
        sheet.write_string(row, col, inert(value), formats.text)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats.number("date"))
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    else:
        sheet.write_number(row, col, float(value), formats.number(kind))


def _write_section(book: xlsxwriter.Workbook, name: str, section: Section, formats: _Formats) -> None:
    sheet = book.add_worksheet(name)
    table = section.table
    widths = [len(column.label) for column in table.columns]
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, column.label, formats.header)
    for r, values in enumerate(table.rows, start=1):
        for col, (column, value) in enumerate(zip(table.columns, values, strict=True)):
            kind = table.units[r - 1] if column.kind == "unit" and table.units else column.kind
            _write_cell(sheet, r, col, value, kind, formats)
            widths[col] = max(widths[col], min(len(str(value)) if isinstance(value, str) else 12, 60))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width + 2)
    sheet.freeze_panes(1, 0)
    if table.rows:
        sheet.autofilter(0, 0, len(table.rows), len(table.columns) - 1)
    else:
        sheet.write_string(1, 0, table.empty)


def render_xlsx(report: Report) -> bytes:
    """The workbook's bytes."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    formats = _Formats(book)
    cover = book.add_worksheet("Report")
    cover.set_column(0, 0, 22)
    cover.set_column(1, 1, 90)
    cover.write_string(0, 0, report.title, formats.title)
    facts = [
        ("Period", report.subtitle),
        ("From", report.period.start),
        ("To", report.period.end),
        ("Currency", report.currency),
        ("Generated", report.generated_at.strftime("%Y-%m-%d %H:%M")),
        ("Computed by", report.engine),
    ]
    if report.notice:
        facts.append(("Note", report.notice))
    for r, (label, value) in enumerate(facts, start=2):
        cover.write_string(r, 0, label, formats.label)
        _write_cell(cover, r, 1, value, "date" if isinstance(value, date) else "text", formats)
    r = len(facts) + 3
    cover.write_string(r, 0, "Sheets", formats.label)
    used = {"Report"}
    names = []
    for section in report.sections:
        name = _sheet_name(section, used)
        names.append(name)
        r += 1
        cover.write_string(r, 0, name)
        cover.write_string(r, 1, section.note)
    for name, section in zip(names, report.sections, strict=True):
        _write_section(book, name, section, formats)
    book.close()
    return buffer.getvalue()
