"""Reading an export: its type (.csv, .jsonl, .parquet; CSV and JSON may be gzipped), its size against the load's
budget (limits.py), its encoding (UTF-8, or GBK/GB18030 converted to UTF-8 for DuckDB; decided once per file, a line
in another encoding is rejected, never transcoded), DuckDB's reader over it as text columns (a JSON key's values of
one type), the records the CSV reader could not split, and each row's physical line in the file."""

from __future__ import annotations

import codecs
import csv
import gzip
import re
import zlib
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.common import IngestError, Params, Progress, first_line
from pipelines.ingest.limits import Limits, TextShape, guess_delimiter, over_limit, scan_text

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ENCODINGS = {"utf-8", "utf8", "utf-8-sig", "gbk", "gb2312", "gb18030"}
_SNIFF_BYTES = 1 << 20


def checked_file(path: Path, encoding: str | None) -> tuple[str, bool]:
    """The file's format ('csv', 'json' or 'parquet') and whether it is gzipped; IngestError when there is no such
    file, it is empty or of an unknown type, or `encoding` is not one we read."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty")
    fmt, compressed = _file_format(path)
    if encoding is not None and encoding.lower() not in ENCODINGS:
        raise IngestError(f"{path}: unsupported encoding {encoding!r}; use one of utf-8, gbk, gb18030")
    return fmt, compressed


def within_budget(
    path: Path, fmt: str, compressed: bool, limits: Limits, delimiter: str | None = None
) -> TextShape | None:
    """The shape of a text file (CSV, JSON), streamed once against the load's budget, with the file's SHA-256 and,
    for a CSV, the most `delimiter`s on one line (read_source's guard reads it); IngestError naming the limit it
    passes. Parquet is checked against its own metadata when it is opened (read_source)."""
    if fmt == "parquet":
        return None
    return scan_text(path, compressed, limits, digest=True, fields=fmt == "csv", delimiter=delimiter)


def readable(
    path: Path, fmt: str, compressed: bool, encoding: str | None, workdir: Path, report: Progress
) -> tuple[Path, str]:
    """The file DuckDB reads and the encoding it was in: a CSV in `encoding` (default: detected) other than UTF-8 is
    converted to UTF-8 in `workdir`; JSON and Parquet are read as they are."""
    if fmt != "csv":
        return path, "utf-8"
    report("detecting encoding", 0.1)
    chosen = (encoding or detect_encoding(path, compressed)).lower()
    if chosen in ("utf-8", "utf8", "utf-8-sig"):
        return path, chosen
    report(f"converting from {chosen}", 0.15)
    target = workdir / (path.name.removesuffix(".gz") + ".utf8")
    encoding = "gb18030" if chosen in ("gbk", "gb2312") else chosen
    return transcode_to_utf8(path, compressed, encoding, target, per_row=True), chosen


def read_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    read_path: Path,
    delimiter: str | None,
    limits: Limits,
    shape: TextShape | None = None,
) -> Source:
    """DuckDB's reader over `read_path` as text columns (`path` names the file in messages). `shape` is the budget's
    pass over the text of `read_path` (within_budget), if it read that text."""
    if fmt == "csv":  # before the reader first looks at the file: its sniffer is as slow on such lines
        _refuse_runaway_records(con, path, read_path, delimiter, limits, shape)
    if fmt == "parquet":
        _refuse_large_parquet(con, path, limits)
    if fmt == "json":
        source = _open_json(con, path, read_path, limits)
    else:
        source = _open_source(con, path, fmt, read_path, delimiter, limits)
    if len(source.columns) > limits.max_columns:
        what = "keys" if fmt == "json" else "columns"
        raise over_limit(path, f"it has {len(source.columns):,} {what}", "max_columns", limits.max_columns)
    return source


def _file_format(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if suffix in CSV_SUFFIXES:
        return "csv", compressed
    if suffix in JSON_SUFFIXES:
        return "json", compressed
    if suffix in PARQUET_SUFFIXES and not compressed:
        return "parquet", False
    raise IngestError(f"{path}: unknown file type {''.join(path.suffixes) or '(none)'}; use .csv, .parquet or .jsonl")


def _open_bytes(path: Path, compressed: bool):
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def detect_encoding(path: Path, compressed: bool = False) -> str:
    """'utf-8' or 'gb18030' (a superset of GBK and GB2312), from the first megabyte of the file."""
    try:
        with _open_bytes(path, compressed) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{path}: cannot read the file ({first_line(exc)})") from exc
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Some line is not UTF-8. If at least as many lines are UTF-8 beyond plain ASCII, the file is UTF-8 all the same
    # (GBK text is seldom valid UTF-8; a line of a few such characters can be): the odd lines are then rejected as
    # rows, not the file read as GBK, which would turn every UTF-8 line into mojibake (北京 → 鍖椾含).
    lines = [line for line in head.split(b"\n")[:-1] if not line.isascii()]
    utf8 = sum(_is_utf8(line) for line in lines)
    if utf8 and utf8 >= len(lines) - utf8:
        return "utf-8"
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: neither UTF-8 nor GBK/GB18030 text (byte {exc.start}); pass --encoding") from exc


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Written before a line that is not valid text in the file's encoding: 0xFF is never valid UTF-8, so DuckDB's reader
# rejects that record (INVALID ENCODING) at its own line instead of the line being transcoded into mojibake.
_INVALID_MARK = b"\xff"


def transcode_to_utf8(path: Path, compressed: bool, encoding: str, target: Path, *, per_row: bool = False) -> Path:
    """Writes the text of `path` (in `encoding`, gzipped or not) to `target` as UTF-8.

    Invalid text is an IngestError; with `per_row`, a line holding invalid bytes is written as it is, marked
    invalid, so the CSV reader rejects that row alone. DuckDB's CSV reader only knows UTF-8/UTF-16/Latin-1 without
    extensions it cannot download here.
    """
    offset = 0
    try:
        with _open_bytes(path, compressed) as source, open(target, "wb") as sink:
            pending = b""
            while chunk := source.read(1 << 22):
                text = pending + chunk
                cut = text.rfind(b"\n") + 1  # whole lines only: a character never spans the cut
                pending = text[cut:]
                _write_utf8(sink, text[:cut], encoding, per_row)
                offset += cut
            _write_utf8(sink, pending, encoding, per_row)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz (BadGzipFile is an OSError)
        raise IngestError(f"{path}: cannot read the file ({first_line(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} near byte {offset + exc.start}; pass --encoding") from exc
    return target


def _write_utf8(sink, lines: bytes, encoding: str, per_row: bool) -> None:
    try:
        sink.write(lines.decode(encoding).encode("utf-8"))
        return
    except UnicodeDecodeError:
        if not per_row:
            raise
    for line in lines.splitlines(keepends=True):
        try:
            sink.write(line.decode(encoding).encode("utf-8"))
        except UnicodeDecodeError:
            sink.write(_INVALID_MARK + line)


@dataclass
class Source:
    """A file seen as a relation of VARCHAR columns, in file order, named by position: __c0, __c1, … (so no column
    of the file can collide with a name the later SQL uses, and the file's names never become SQL text)."""

    reader_sql: str  # a relation over the file: one VARCHAR column __c{i} per column of the file
    params: Params  # the values reader_sql's placeholders stand for (file path, delimiter)
    columns: list[str]  # the file's own column names, in order
    kind: str  # 'csv', 'json' or 'parquet'
    row_check: str | None = None  # a column of reader_sql: the row's reject {col, reason} found by the reader, or null
    read_path: Path | None = None  # the text file the reader reads (for physical line numbers)
    delimiter: str | None = None
    shape: TextShape | None = None  # its lines, from the budget's pass (limits.scan_text)
    types: list[str] | None = None  # a Parquet file's own column types (__c{i} keeps them); None: every one VARCHAR


def _open_source(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, read_path: Path, delimiter: str | None, limits: Limits
) -> Source:
    params = Params("src")
    file = params.bind(str(read_path))
    if fmt == "csv":
        options = f"all_varchar = true, header = true, store_rejects = true, max_line_size = {limits.line_bytes}"
        if delimiter:
            options += f", delim = {params.bind(delimiter)}"
        reader = f"read_csv({file}, {options})"
    else:
        reader = f"read_parquet({file})"
    try:
        described = con.execute(f"describe select * from {reader}", params).fetchall()
    except duckdb.Error as exc:
        raise reader_error(path, fmt, exc, limits) from exc
    columns = [row[0] for row in described]
    _refuse_duplicate_columns(con, path, fmt, columns, reader, params)
    # Columns by position (#1, #2, …): DuckDB's SQL refers to them without naming them. A Parquet column whose own
    # type validation can take as it is (a time, a whole number) keeps it: printing 49 M timestamps as text only
    # to parse them back cost a third of a load (issue 14); any other is read as text.
    types = [row[1] for row in described]
    kept = [fmt == "parquet" and native_type(kind) is not None for kind in types]
    positional = ", ".join(
        (f"#{i + 1}" if fmt == "csv" or kept[i] else f"cast(#{i + 1} as varchar)") + f" as __c{i}"
        for i in range(len(columns))
    )
    source = Source(f"(select {positional} from {reader})", params, columns, fmt, None, read_path, delimiter)
    source.types = [kind if keep else "VARCHAR" for kind, keep in zip(types, kept, strict=True)] if any(kept) else None
    return source


_TIMES = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE", "DATE"}
_WHOLE = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT"}


def native_type(kind: str) -> str | None:
    """'time' or 'whole' for a Parquet column type that validation reads as it is, else None (read as text)."""
    if kind in _TIMES:
        return "time"
    if kind in _WHOLE:
        return "whole"
    return None


def reader_error(path: Path, fmt: str, exc: duckdb.Error, limits: Limits) -> IngestError:
    """A reader's failure as one line for the user (a record over the line limit names the limit)."""
    text = str(exc)
    if "aximum line size" in text or "maximum_object_size" in text:
        line = re.search(r"[Ll]ine:? (\d+)", text)
        where = f"line {line.group(1)}" if line else "a record"
        return over_limit(path, f"{where} is longer than {limits.max_line_mb:,} MB", "max_line_mb", limits.max_line_mb)
    return IngestError(f"{path}: not a readable {fmt} file ({first_line(exc)})")


# JSON values by kind: a key whose values are of several kinds across the file keeps its most common kind and
# rejects the other rows (1001 and "1001" were two orders: '1001' and '"1001"' with the quotes kept).
_JSON_KINDS = {"VARCHAR": "text", "BIGINT": "number", "UBIGINT": "number", "DOUBLE": "number", "BOOLEAN": "true/false"}


def _pointer(key: str) -> str:
    """The JSON pointer of a top-level key (RFC 6901: ~ and / escaped)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _open_json(con: duckdb.DuckDBPyConnection, path: Path, read_path: Path, limits: Limits) -> Source:
    """A JSON Lines (or JSON array) file as text columns, one per key in order of first appearance. Each key's
    values are of one kind across the file: a row whose value is of another kind (a number where most rows have
    text, an object or a list where a value belongs) is rejected with the reason in the column __bad."""
    params = Params("src")
    reader = (
        f"read_json_objects({params.bind(str(read_path))}, format = 'auto', "
        f"maximum_object_size = {min(limits.line_bytes, 2**31 - 1)})"
    )
    try:
        kinds = con.execute(
            f"""
            with objects as (select row_number() over () as n, json from {reader} where json_type(json) = 'OBJECT'),
            keyed as (
                select n, unnest(json_keys(json)) as key, unnest(range(len(json_keys(json)))) as i, json from objects
            ),
            typed as (select n, i, key, json_type(json, '/' || replace(replace(key, '~', '~0'), '/', '~1')) as kind
                      from keyed)
            select key, kind, count(*), min([n, i]) from typed group by key, kind
            """,
            params,
        ).fetchall()
    except duckdb.Error as exc:
        raise reader_error(path, "JSON", exc, limits) from exc
    first_seen: dict[str, int] = {}
    counts: dict[str, dict[str, int]] = {}
    for key, kind, count, first in kinds:
        first_seen[key] = min(first_seen.get(key, first), first)
        group = _JSON_KINDS.get(kind, kind.lower())
        if kind != "NULL":
            counts.setdefault(key, {})
            counts[key][group] = counts[key].get(group, 0) + count
    keys = sorted(first_seen, key=lambda k: (*first_seen[k], k))
    columns, checks = [], []
    for index, key in enumerate(keys):
        pointer = params.bind(_pointer(key))
        columns.append(f"json_extract_string(json, {pointer}) as __c{index}")
        usual = [kind for kind in counts.get(key, {}) if kind in ("text", "number", "true/false")]
        usual = max(usual, key=lambda kind: counts[key][kind]) if usual else None
        name = params.bind(key)
        # The kinds seen of this key, as DuckDB's json_type names them.
        allowed = [k for k, group in _JSON_KINDS.items() if group == usual] + ["NULL"]
        reason = params.bind(f" here, where the file's other rows have {usual}" if usual else " here")
        kind = f"json_type(json, {pointer})"
        checks.append(
            f"when {kind} is not null and {kind} not in ({', '.join(params.bind(k) for k in allowed)}) "
            f"then {{'col': {name}, 'reason': {name} || ' is ' || "
            f"case {kind} when 'OBJECT' then 'an object' when 'ARRAY' then 'a list' "
            f"when 'VARCHAR' then 'text' when 'BOOLEAN' then 'true/false' else 'a number' end || {reason}}}"
        )
    not_object = params.bind("the line is not a JSON object")
    bad = f"case when json_type(json) <> 'OBJECT' then {{'col': null::varchar, 'reason': {not_object}}} "
    bad += " ".join(checks) + " end"
    relation = f"(select {', '.join(columns + [f'{bad} as __bad'])} from {reader})"
    _refuse_duplicate_columns(con, path, "json", keys, reader, params)
    return Source(relation, params, keys, "json", row_check="__bad", read_path=read_path)


def _refuse_large_parquet(con: duckdb.DuckDBPyConnection, path: Path, limits: Limits) -> None:
    """Raises IngestError when the Parquet file's own metadata says it holds more rows or more (uncompressed) data
    than the budget, before a row of it is read."""
    try:
        file = {"path": str(path)}
        size = con.execute("select coalesce(sum(total_uncompressed_size), 0) from parquet_metadata($path)", file)
        size = size.fetchall()[0][0]
        rows = con.execute("select coalesce(sum(num_rows), 0) from parquet_file_metadata($path)", file).fetchall()[0][0]
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable parquet file ({first_line(exc)})") from exc
    if rows > limits.max_rows:
        raise over_limit(path, f"it has {rows:,} rows", "max_rows", limits.max_rows)
    if size > limits.file_bytes:
        raise over_limit(
            path,
            f"its data is {size / (1024 * 1024):,.0f} MB uncompressed",
            "max_file_mb",
            limits.max_file_mb,
            " MB",
        )


def _normalised(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def _refuse_duplicate_columns(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, columns: list[str], reader: str, params: Params
) -> None:
    """Raises IngestError naming the columns when two of the file's columns have the same name (any case, spaces
    trimmed). DuckDB's readers rename a repeated name (order_id, ORDER_ID → order_id, ORDER_ID_1), after which the
    second column would be silently ignored; so where a name looks renamed, the file's own names are read."""
    names = columns
    renamed = {_normalised(c).rsplit("_", 1)[0] for c in columns if re.search(r"_\d+$", c.strip())}
    if renamed & {_normalised(c) for c in columns}:
        names = _own_names(con, fmt, reader, params) or columns
    seen: dict[str, list[str]] = {}
    for name in names:
        seen.setdefault(_normalised(name), []).append(name)
    repeated = [spellings for spellings in seen.values() if len(spellings) > 1]
    if repeated:
        listing = "; ".join(" and ".join(repr(n) for n in spellings) for spellings in repeated)
        what = "keys" if fmt == "json" else "columns"
        raise IngestError(
            f"{path}: {what} with the same name (case and spaces aside): {listing}; rename or remove one of each"
        )


def _own_names(con: duckdb.DuckDBPyConnection, fmt: str, reader: str, params: Params) -> list[str]:
    """The file's column (or key) names as written, before DuckDB renames repeated ones; [] if they cannot be read."""
    file = {"src0": params["src0"]}  # the file's path, bound first
    try:
        if fmt == "csv":
            header = reader.replace("header = true, store_rejects = true", "header = false")
            found = con.execute(f"select * from {header} limit 1", params).fetchall()
            return [v or "" for v in found[0]] if found else []
        if fmt == "json":
            keys = "select distinct unnest(json_keys(json)) from read_json_objects($src0, format = 'auto')"
            return [row[0] for row in con.execute(keys, file).fetchall()]
        rows = con.execute("select name, num_children from parquet_schema($src0)", file).fetchall()
    except duckdb.Error:
        return []
    # parquet_schema lists the schema depth first: the root, then each top-level field followed by its children.
    names, index = [], 1
    while index < len(rows):
        names.append(rows[index][0])
        index = _after_subtree(rows, index)
    return names


def _after_subtree(rows: list[tuple[str, int | None]], index: int) -> int:
    """The index just past the field at `index` and all its nested fields."""
    pending = rows[index][1] or 0
    index += 1
    while pending:
        index = _after_subtree(rows, index)
        pending -= 1
    return index


# DuckDB's CSV reader stores one reject per surplus field of a record, each with the record's whole text, so the
# time grows with (surplus fields × line length): one 400 kB line of 200 000 fields takes over an hour. A file
# whose lines together cost more than this is refused before the real read (ordinary files cost 0).
_SURPLUS_BUDGET = 100_000_000


def _refuse_runaway_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    read_path: Path,
    delimiter: str | None,
    limits: Limits,
    shape: TextShape | None = None,
) -> None:
    """Raises IngestError when lines with far more fields than the header would make the CSV reader crawl. Where
    the budget's pass over the same text (`shape`) counted this delimiter and no line has more of them than the
    header, quoted or not, no line can have surplus fields: the lines are not read again (3.5 s for 2.4 GB)."""
    # Each physical line as one text value (none is longer than the budget: scan_text checked).
    lines = (
        "read_csv($path, columns = {'line': 'VARCHAR'}, header = false, delim = '\\0', quote = '', "
        f"escape = '', auto_detect = false, strict_mode = false, ignore_errors = true, "
        f"max_line_size = {limits.line_bytes + 2})"
    )
    try:
        found = con.execute(f"select line from {lines} limit 1", {"path": str(read_path)}).fetchall()
        header = found[0][0] or "" if found else ""
        if delimiter is None:
            delimiter = guess_delimiter(header)
        width = header.count(delimiter) + 1
        if shape is not None and shape.delimiter == delimiter and shape.widest is not None and shape.widest < width:
            return
        # Each line's delimiters counted (an upper bound of its fields), fields in balanced quotes removed first.
        cost, extra = con.sql(
            f"""
            with wide as (
                select length(line) as size, regexp_replace(line, '"[^"]*("|$)', '', 'g') as unquoted
                from {lines}
                where length(line) - length(replace(line, $delim, '')) > $width - 1
            ),
            surplus as (
                select size, length(unquoted) - length(replace(unquoted, $delim, '')) - ($width - 1) as extra
                from wide
            )
            select sum(extra * size) filter (where extra > 0), max(extra) from surplus
            """,
            params={"path": str(read_path), "delim": delimiter, "width": width},
        ).fetchall()[0]
    except duckdb.Error:
        return  # the guard could not read the file: the real reader decides
    if cost is not None and cost > _SURPLUS_BUDGET:
        raise IngestError(
            f"{path}: a line has {extra + width:,} fields where the header has {width}; "
            "check the delimiter (--delimiter) or split the file"
        )


def structural_rejects(con: duckdb.DuckDBPyConnection, encoding: str) -> list[tuple[int, int, str, str]]:
    """(line, byte offset, reason, raw text) of the records the CSV reader itself could not split into the header's
    columns or decode; the offset (of the record's start in the text read) places it when lines and records differ."""
    rows = con.sql(
        """
        with errors as (
            select line, line_byte_position, column_idx, error_type, error_message, csv_line from reject_errors
            where scan_id = (select max(scan_id) from reject_errors)
        )
        select line, min(line_byte_position) - 1, arg_min(error_type || ': ' || error_message, column_idx),
               bool_or(error_type = 'INVALID ENCODING'), any_value(csv_line)
        from errors group by line order by line
        """
    ).fetchall()
    invalid = f"INVALID ENCODING: bytes that are not {encoding} text; the file is read as {encoding}: fix this line"
    return [(line, offset, invalid if bad else reason, raw) for line, offset, reason, bad, raw in rows]


def physical_lines(
    source: Source, rows: int, structural: list[tuple[int, int, str, str]]
) -> tuple[list[tuple[int, int, str, str]], list[int] | None]:
    """The structural rejects with their physical lines, and each read row's physical line in order (None when
    every record is one line, so the rows' positions give their lines).

    A blank line, or a quoted field spanning lines, makes records and lines differ (a bad row on line 5 was
    recorded as line 3): then the file is read once more here, split into records the way the CSV reader does,
    and a row's line is the line its record starts on. If that split does not give the reader's count of records,
    positions are used as before.
    """
    shape = source.shape
    header = 1 if source.kind == "csv" else 0
    if shape is None or source.read_path is None or rows + len(structural) + header == shape.lines:
        return structural, None
    compressed = source.read_path.suffix.lower() == ".gz"
    starts, records = record_starts(source.read_path, compressed, source.kind, source.delimiter)
    if len(records) != rows + len(structural) + header:
        return structural, None
    fixed = [(bisect_right(starts, offset), offset, reason, raw) for _, offset, reason, raw in structural]
    skipped = {line for line, _, _, _ in fixed}
    lines = [line for line in records[header:] if line not in skipped]
    return (fixed, lines) if len(lines) == rows else (structural, None)


def record_starts(read_path: Path, compressed: bool, kind: str, delimiter: str | None) -> tuple[list[int], list[int]]:
    """The byte offset of each physical line, and the line (1-based) each non-blank record starts on."""
    starts: list[int] = []

    def text_lines():
        offset = 0
        with _open_bytes(read_path, compressed) as handle:
            for raw in handle:
                starts.append(offset)
                offset += len(raw)
                yield raw.decode("utf-8", "replace")

    if kind == "json":
        return starts, [number for number, text in enumerate(text_lines(), 1) if text.strip()]
    records: list[int] = []
    lines = text_lines()
    first = next(lines, "")
    delimiter = delimiter or guess_delimiter(first)
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    reader = csv.reader(_chain(first, lines), delimiter=delimiter if len(delimiter) == 1 else ",")
    done = 0
    try:
        for row in reader:
            if row:
                records.append(done + 1)
            done = reader.line_num
    except csv.Error:
        return starts, []
    return starts, records


def _chain(first: str, rest):
    yield first
    yield from rest


def number_lines(
    con: duckdb.DuckDBPyConnection, kind: str, bad_lines: list[int], lines: list[int] | None = None
) -> None:
    """Creates the view _lined: _checked plus _line, the CSV line (header = 1), JSON line or Parquet row of each row.

    `lines`, when given, is each row's physical line in order (physical_lines). Otherwise rows keep file order in
    _checked (DuckDB preserves insertion order), so _pos is the row's position among the rows the reader returned;
    the CSV reader skips records it cannot split, so positions after them are shifted.
    """
    first = 2 if kind == "csv" else 1
    if lines is not None:
        import pyarrow as pa  # only here: importing it costs every command a few tenths of a second

        con.register("_physical", pa.table({"_pos": pa.array(range(len(lines)), pa.int64()), "_line": lines}))
        con.execute(
            "create or replace temp view _lined as select l._line, c.* from _checked c join _physical l using (_pos)"
        )
        return
    if not bad_lines:
        con.execute(f"create or replace temp view _lined as select _pos + {first} as _line, * from _checked")
        return
    con.execute("create or replace temp table _bad as select unnest(?::bigint[]) as line", [bad_lines])
    con.execute(
        f"""
        create or replace temp view _lined as
        with skipped as (
            select line - {first} - (row_number() over (order by line) - 1) as good_before,
                   row_number() over (order by line) as seen
            from _bad
        ),
        shifts as (select good_before, max(seen) as seen from skipped group by good_before)
        select p._pos + {first} + coalesce(s.seen, 0) as _line, p.* exclude (_pos)
        from _checked p asof left join shifts s on p._pos >= s.good_before
        """
    )
