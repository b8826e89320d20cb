"""What the traffic-report adapters (ga4, shopify-channels, sycm) share: reading a small report with a preamble,
its period, and writing the canonical `traffic` file.

Platform traffic reports are a few dozen rows of counts per channel, often under a preamble of `#` or title lines
that say the period; they are read with the csv module into a staging CSV that keeps each record's line in the
export (`_source_line`), then mapped to `traffic` with DuckDB SQL like the other adapters.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, read_export, sql_string, write_derived
from pipelines.ingest import IngestError, detect_encoding
from pipelines.ingest.limits import scan_text

DAY = re.compile(r"(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})")
RANGE = re.compile(r"(\d{4}[-/.]?\d{1,2}[-/.]?\d{1,2})\s*(?:-|~|～|至|到|—|–|_)\s*(\d{4}[-/.]?\d{1,2}[-/.]?\d{1,2})")


@dataclass
class Record:
    """One record of the report: its line in the export (header = its own line) and its fields."""

    line: int
    fields: list[str]


def read_lines(path: Path, workdir: Path, options: ImportOptions) -> list[str]:
    """The export's text as lines (CSV in UTF-8, GBK or GB18030, optionally .gz; or the first sheets of an XLSX),
    within the load budget."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".xlsx"]:
        from pipelines.adapters.xlsx import xlsx_to_csv

        source, compressed, encoding = xlsx_to_csv(path, workdir, options.limits), False, "utf-8"
    else:
        compressed = suffixes[-1:] == [".gz"]
        scan_text(path, compressed, options.limits)
        source, encoding = path, (options.encoding or detect_encoding(path, compressed)).lower()
    if encoding in ("gbk", "gb2312"):
        encoding = "gb18030"
    try:
        with gzip.open(source, "rb") if compressed else open(source, "rb") as handle:
            text = handle.read().decode("utf-8-sig" if encoding in ("utf-8", "utf8") else encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise IngestError(f"{path}: the text is not {encoding} ({exc}); pass --encoding") from exc
    return text.splitlines()


def records(lines: list[str], start: int, delimiter: str | None) -> list[Record]:
    """The CSV records of lines[start:], each with its line number in the export (1-based); blank lines skipped."""
    result = []
    reader = csv.reader(lines[start:], delimiter=delimiter or ",")
    for fields in reader:
        line = start + reader.line_num
        if any(f.strip() for f in fields):
            result.append(Record(line, [f.strip() for f in fields]))
    return result


def parse_day(text: str) -> date | None:
    """A date written YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD or YYYY.MM.DD; None if it is not one."""
    match = DAY.fullmatch(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_period(text: str) -> tuple[date, date] | None:
    """(first, last day) of a written range ('20260226-20260325', '2024-06-01~2024-06-07') or of one day."""
    match = RANGE.search(text)
    if match:
        first, last = parse_day(match[1]), parse_day(match[2])
        return (first, last) if first and last else None
    day = parse_day(text)
    return (day, day) if day else None


def settle_period(path: Path, found: tuple[date, date] | None, options: ImportOptions, where: str) -> tuple[date, date]:
    """The report's period: the one it states (`where` says where), else --from/--to; both given and different, or
    neither, is a one-line IngestError."""
    asked = (options.date_from, options.date_to)
    if (asked[0] is None) != (asked[1] is None):
        raise IngestError(f"{path}: give both --from and --to (YYYY-MM-DD), or neither")
    if found and asked[0] and (asked[0], asked[1]) != found:
        raise IngestError(
            f"{path}: the {where} says {found[0]} to {found[1]}, but --from/--to say {asked[0]} to {asked[1]}; "
            "leave --from/--to out, or import the export of that period"
        )
    period = found or (asked if asked[0] else None)
    if period is None:
        raise IngestError(
            f"{path}: the export does not say its period ({where}); pass --from YYYY-MM-DD --to YYYY-MM-DD"
        )
    if period[1] < period[0]:
        raise IngestError(f"{path}: the period ends ({period[1]}) before it starts ({period[0]})")
    return period  # type: ignore[return-value]


def stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    workdir: Path,
    options: ImportOptions,
    header: list[str],
    rows: list[Record],
) -> dict[str, str]:
    """Creates `src` from the report's header and records (extra fields cut, missing ones empty), with
    `_source_line` = the record's line in the export; returns read_export's {squashed name → column}."""
    staging = workdir / "report.csv"
    with open(staging, "w", encoding="utf-8", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(["_source_line", *header])
        for record in rows:
            fields = (record.fields + [""] * len(header))[: len(header)]
            writer.writerow([record.line, *fields])
    found = read_export(con, staging, workdir, ImportOptions(limits=options.limits))
    found.pop("sourceline", None)
    return found


def number(sql: str) -> str:
    """SQL: a count or amount written with thousands separators, a currency sign or a trailing %; null if empty."""
    return f"try_cast(nullif(regexp_replace({sql}, '[,¥￥$€£%\\s]', '', 'g'), '') as double)"


def write_traffic(con: duckdb.DuckDBPyConnection, relation: str, workdir: Path, options: ImportOptions):
    """Writes traffic.csv from `relation` (traffic's columns as typed values, `_line`, `_reason`, `_column`, `_raw`),
    with the store of --store; returns the Derived file."""
    con.execute(
        f"""
        create or replace view traffic_out as
        select _line, _reason, _column, _raw,
            strftime(date, '%Y-%m-%d') as date, strftime(end_date, '%Y-%m-%d') as end_date,
            {sql_string(options.store)} as store, source, medium, campaign, device,
            cast(sessions as varchar) as sessions, cast(visitors as varchar) as visitors,
            cast(pageviews as varchar) as pageviews, cast(engaged_sessions as varchar) as engaged_sessions,
            cast(bounced_sessions as varchar) as bounced_sessions, cast(cart_sessions as varchar) as cart_sessions,
            cast(orders as varchar) as orders, cast(buyers as varchar) as buyers,
            cast(cast(revenue as decimal(18, 2)) as varchar) as revenue,
            cast(cast(ad_cost as decimal(18, 2)) as varchar) as ad_cost
        from {relation}
        """
    )
    return write_derived(con, "traffic", "traffic_out", workdir, unit="channel rows")


def slug(name: str) -> str:
    """An unknown channel's name as a source: lower-cased, runs of spaces and dashes → _."""
    return re.sub(r"[\s\-/]+", "_", name.strip().lower()).strip("_")


def unknown_note(names: list[str], what: str) -> list[str]:
    """The summary line listing channel names the adapter did not know (kept as their own sources)."""
    if not names:
        return []
    return [f"{what} not known to shopkpi, kept as their own sources: " + ", ".join(sorted(set(names)))]
