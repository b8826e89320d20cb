"""XLSX workbooks read with the standard library (no Excel package is installed), written out as one UTF-8 CSV.

Every sheet is read in workbook order; a later sheet whose first row repeats the first sheet's header continues
the same table (Online Retail II keeps one year per sheet). Cells formatted as dates become ISO date-times.

A workbook is a zip of XML parts, so it is read within the load's budget (Limits): the parts read may not
decompress to more than max_file_mb, a sheet may not have more than max_rows rows or a cell beyond max_columns
(a 958-byte file with a cell at column XFDZZZZZZ once grew past 8 GB), the shared strings may not number more than
max_xlsx_strings; and a damaged workbook (not a zip, a part missing, broken XML, a cell pointing at no string) is
one IngestError, never a traceback.
"""

from __future__ import annotations

import csv
import re
import zipfile
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

from pipelines.ingest import IngestError, Limits
from pipelines.ingest.limits import over_limit

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug folded in)
_DATE_FORMAT_IDS = set(range(14, 23)) | set(range(45, 48))


class _Damaged(Exception):
    """The workbook's content is not what an XLSX part must hold (said in the message)."""


def _column_index(reference: str | None, previous: int) -> int:
    """The 0-based column of a cell reference (B7 → 1); a cell without one follows the previous cell."""
    if reference is None:
        return previous + 1
    letters = re.match(r"[A-Z]{1,7}", reference)
    if letters is None:
        raise _Damaged(f"a cell reference {reference[:20]!r} is not a column and row")
    index = 0
    for letter in letters.group(0):
        index = index * 26 + ord(letter) - 64
    return index - 1


def _open_part(book: zipfile.ZipFile, name: str, budget: _Budget):
    """A part of the workbook, opened after charging its size to the budget (a zip entry is read no further than the
    size its header declares)."""
    budget.charge(book.getinfo(name).file_size)
    return book.open(name)


class _Budget:
    """The decompressed bytes left for the parts of one workbook."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path, self.limits, self.used = path, limits, 0

    def charge(self, size: int) -> None:
        self.used += size
        if self.used > self.limits.file_bytes:
            raise over_limit(
                self.path,
                f"its parts decompress to more than {self.limits.max_file_mb:,} MB",
                "max_file_mb",
                self.limits.max_file_mb,
                " MB",
            )


def _shared_strings(book: zipfile.ZipFile, budget: _Budget) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings = []
    limit = budget.limits.max_xlsx_strings
    with _open_part(book, "xl/sharedStrings.xml", budget) as handle:
        for _, element in iterparse(handle):
            if element.tag == f"{_NS}si":
                strings.append("".join(t.text or "" for t in element.iter(f"{_NS}t")))
                element.clear()
                if len(strings) > limit:
                    raise over_limit(
                        budget.path, f"it has more than {limit:,} shared strings", "max_xlsx_strings", limit
                    )
    return strings


def _date_styles(book: zipfile.ZipFile, budget: _Budget) -> set[int]:
    """Indexes of the cell styles that show a date."""
    if "xl/styles.xml" not in book.namelist():
        return set()
    with _open_part(book, "xl/styles.xml", budget) as handle:
        root = next((e for _, e in iterparse(handle, events=("end",)) if e.tag == f"{_NS}styleSheet"), None)
    if root is None:
        raise _Damaged("xl/styles.xml has no styleSheet")
    custom = {int(f.get("numFmtId")): f.get("formatCode", "") for f in root.iter(f"{_NS}numFmt")}
    dates = set(_DATE_FORMAT_IDS) | {
        i for i, code in custom.items() if re.search(r"[dmyh]", re.sub(r'"[^"]*"|\[[^]]*]', "", code.lower()))
    }
    xfs = root.find(f"{_NS}cellXfs")
    return {n for n, xf in enumerate(xfs if xfs is not None else []) if int(xf.get("numFmtId", 0)) in dates}


def _sheet_paths(book: zipfile.ZipFile, budget: _Budget) -> list[str]:
    with _open_part(book, "xl/workbook.xml", budget) as handle:
        sheets = [e.get(f"{_REL}id") for _, e in iterparse(handle) if e.tag == f"{_NS}sheet"]
    with _open_part(book, "xl/_rels/workbook.xml.rels", budget) as handle:
        targets = {e.get("Id"): e.get("Target") for _, e in iterparse(handle) if e.get("Id")}
    missing = [s for s in sheets if targets.get(s) is None]
    if missing or not sheets:
        raise _Damaged("the workbook lists no sheet" if not sheets else f"sheet {missing[0]} has no part")
    return ["xl/" + targets[s].lstrip("/").removeprefix("xl/") for s in sheets]


def _cell_value(cell, strings: list[str], dates: set[int]) -> str:
    kind, style = cell.get("t"), int(cell.get("s", 0))
    raw = cell.findtext(f"{_NS}v")
    if kind == "s" and raw is not None:
        index = int(raw)
        if not 0 <= index < len(strings):
            raise _Damaged(f"cell {cell.get('r')} points at shared string {index}, which does not exist")
        return strings[index]
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
    if raw is not None and style in dates and kind in (None, "n"):
        return (_EPOCH + timedelta(days=float(raw))).isoformat(sep=" ", timespec="seconds")
    return raw or ""


def _rows(book: zipfile.ZipFile, sheet: str, strings: list[str], dates: set[int], budget: _Budget):
    limits = budget.limits
    rows = 0
    with _open_part(book, sheet, budget) as handle:
        for _, element in iterparse(handle):
            if element.tag != f"{_NS}row":
                continue
            values: dict[int, str] = {}
            column = -1
            for cell in element.iter(f"{_NS}c"):
                column = _column_index(cell.get("r"), column)
                if column >= limits.max_columns:
                    raise over_limit(
                        budget.path,
                        f"sheet {sheet} has a cell ({cell.get('r') or 'unnamed'}) beyond column {limits.max_columns:,}",
                        "max_columns",
                        limits.max_columns,
                    )
                values[column] = _cell_value(cell, strings, dates)
            element.clear()
            if values:
                rows += 1
                if rows > limits.max_rows + 1:
                    raise over_limit(
                        budget.path,
                        f"sheet {sheet} has more than {limits.max_rows:,} rows",
                        "max_rows",
                        limits.max_rows,
                    )
                yield [values.get(i, "") for i in range(max(values) + 1)]


def xlsx_to_csv(path: Path, workdir: Path, limits: Limits | None = None) -> Path:
    """The workbook's sheets as one UTF-8 CSV in workdir (header once); raises IngestError if it is not a readable
    XLSX workbook or passes the budget."""
    target = workdir / "export.from-xlsx.csv"
    budget = _Budget(path, limits or Limits())
    try:
        with zipfile.ZipFile(path) as book, open(target, "w", encoding="utf-8", newline="") as sink:
            strings, dates = _shared_strings(book, budget), _date_styles(book, budget)
            writer = csv.writer(sink)
            header: list[str] | None = None
            for sheet in _sheet_paths(book, budget):
                for number, row in enumerate(_rows(book, sheet, strings, dates, budget)):
                    if number == 0 and header is not None:
                        if [c.strip() for c in row] != header:
                            raise IngestError(f"{path}: sheet {sheet} has another header than the first sheet")
                        continue
                    if header is None:
                        header = [c.strip() for c in row]
                        row = header
                    writer.writerow(row + [""] * (len(header) - len(row)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise IngestError(f"{path}: not a readable XLSX workbook (not a zip file: {exc})") from exc
    except KeyError as exc:
        raise IngestError(f"{path}: not a readable XLSX workbook (a part is missing: {exc})") from exc
    except ParseError as exc:
        raise IngestError(f"{path}: not a readable XLSX workbook (broken XML: {exc})") from exc
    except _Damaged as exc:
        raise IngestError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    except (ValueError, OverflowError, TypeError) as exc:  # a number, a style or a date that is not one
        raise IngestError(f"{path}: not a readable XLSX workbook (a cell or style is damaged: {exc})") from exc
    except (EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:  # truncated, corrupt, encrypted parts
        raise IngestError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    return target
