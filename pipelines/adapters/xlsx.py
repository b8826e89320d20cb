"""XLSX workbooks read with the standard library (no Excel package is installed), written out as one UTF-8 CSV.

Every sheet is read in workbook order; a later sheet whose first row repeats the first sheet's header continues
the same table (Online Retail II keeps one year per sheet). Cells formatted as dates become ISO date-times.
"""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree.ElementTree import iterparse

from pipelines.ingest import IngestError

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug folded in)
_DATE_FORMAT_IDS = set(range(14, 23)) | set(range(45, 48))


def _column_index(reference: str) -> int:
    letters = re.match(r"[A-Z]+", reference).group(0)
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings = []
    with book.open("xl/sharedStrings.xml") as handle:
        for _, element in iterparse(handle):
            if element.tag == f"{_NS}si":
                strings.append("".join(t.text or "" for t in element.iter(f"{_NS}t")))
                element.clear()
    return strings


def _date_styles(book: zipfile.ZipFile) -> set[int]:
    """Indexes of the cell styles that show a date."""
    if "xl/styles.xml" not in book.namelist():
        return set()
    with book.open("xl/styles.xml") as handle:
        root = next(e for _, e in iterparse(handle, events=("end",)) if e.tag == f"{_NS}styleSheet")
    custom = {int(f.get("numFmtId")): f.get("formatCode", "") for f in root.iter(f"{_NS}numFmt")}
    dates = set(_DATE_FORMAT_IDS) | {
        i for i, code in custom.items() if re.search(r"[dmyh]", re.sub(r'"[^"]*"|\[[^]]*]', "", code.lower()))
    }
    xfs = root.find(f"{_NS}cellXfs")
    return {n for n, xf in enumerate(xfs if xfs is not None else []) if int(xf.get("numFmtId", 0)) in dates}


def _sheet_paths(book: zipfile.ZipFile) -> list[str]:
    with book.open("xl/workbook.xml") as handle:
        sheets = [e.get(f"{_REL}id") for _, e in iterparse(handle) if e.tag == f"{_NS}sheet"]
    with book.open("xl/_rels/workbook.xml.rels") as handle:
        targets = {e.get("Id"): e.get("Target") for _, e in iterparse(handle) if e.get("Id")}
    return ["xl/" + targets[s].lstrip("/").removeprefix("xl/") for s in sheets]


def _rows(book: zipfile.ZipFile, sheet: str, strings: list[str], dates: set[int]):
    with book.open(sheet) as handle:
        for _, element in iterparse(handle):
            if element.tag != f"{_NS}row":
                continue
            values: dict[int, str] = {}
            for cell in element.iter(f"{_NS}c"):
                kind, style = cell.get("t"), int(cell.get("s", 0))
                raw = cell.findtext(f"{_NS}v")
                if kind == "s" and raw is not None:
                    value = strings[int(raw)]
                elif kind == "inlineStr":
                    value = "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
                elif raw is not None and style in dates and kind in (None, "n"):
                    value = (_EPOCH + timedelta(days=float(raw))).isoformat(sep=" ", timespec="seconds")
                else:
                    value = raw or ""
                values[_column_index(cell.get("r"))] = value
            element.clear()
            if values:
                yield [values.get(i, "") for i in range(max(values) + 1)]


def xlsx_to_csv(path: Path, workdir: Path) -> Path:
    """The workbook's sheets as one UTF-8 CSV in workdir (header once); raises IngestError if it is not XLSX."""
    target = workdir / "export.from-xlsx.csv"
    try:
        with zipfile.ZipFile(path) as book, open(target, "w", encoding="utf-8", newline="") as sink:
            strings, dates = _shared_strings(book), _date_styles(book)
            writer = csv.writer(sink)
            header: list[str] | None = None
            for sheet in _sheet_paths(book):
                for number, row in enumerate(_rows(book, sheet, strings, dates)):
                    if number == 0 and header is not None:
                        if [c.strip() for c in row] != header:
                            raise IngestError(f"{path}: sheet {sheet} has another header than the first sheet")
                        continue
                    if header is None:
                        header = [c.strip() for c in row]
                        row = header
                    writer.writerow(row + [""] * (len(header) - len(row)))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise IngestError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    return target
