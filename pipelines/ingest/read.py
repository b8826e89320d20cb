"""Reading an export: its type (.csv, .jsonl, .parquet; CSV and JSON may be gzipped), its encoding (UTF-8, or
GBK/GB18030 converted to UTF-8 for DuckDB), DuckDB's reader over it as text columns, the records the CSV reader
could not split, and each row's line in the file."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.common import IngestError, Params, Progress, first_line

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ENCODINGS = {"utf-8", "utf8", "utf-8-sig", "gbk", "gb2312", "gb18030"}
_SNIFF_BYTES = 1 << 20


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity of an export, whatever its name."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


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
    return transcode_to_utf8(path, compressed, "gb18030" if chosen in ("gbk", "gb2312") else chosen, target), chosen


def read_source(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, read_path: Path, delimiter: str | None) -> Source:
    """DuckDB's reader over `read_path` as text columns (`path` names the file in messages)."""
    if fmt == "csv":  # before the reader first looks at the file: its sniffer is as slow on such lines
        _refuse_runaway_records(con, path, read_path, delimiter)
    return _open_source(con, path, fmt, read_path, delimiter)


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
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: neither UTF-8 nor GBK/GB18030 text (byte {exc.start}); pass --encoding") from exc


def transcode_to_utf8(path: Path, compressed: bool, encoding: str, target: Path) -> Path:
    """Writes the text of `path` (in `encoding`, gzipped or not) to `target` as UTF-8; raises IngestError if invalid.

    DuckDB's CSV reader only knows UTF-8/UTF-16/Latin-1 without extensions it cannot download here.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with _open_bytes(path, compressed) as source, open(target, "w", encoding="utf-8", newline="") as sink:
            offset = 0
            while chunk := source.read(1 << 22):
                sink.write(decoder.decode(chunk))
                offset += len(chunk)
            sink.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} near byte {offset + exc.start}; pass --encoding") from exc
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz (BadGzipFile is an OSError)
        raise IngestError(f"{path}: cannot read the file ({first_line(exc)})") from exc
    return target


@dataclass
class Source:
    """A file seen as a relation of VARCHAR columns, in file order, named by position: __c0, __c1, … (so no column
    of the file can collide with a name the later SQL uses, and the file's names never become SQL text)."""

    reader_sql: str  # a relation over the file: one VARCHAR column __c{i} per column of the file
    params: Params  # the values reader_sql's placeholders stand for (file path, delimiter)
    columns: list[str]  # the file's own column names, in order
    kind: str  # 'csv', 'json' or 'parquet'


def _open_source(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, read_path: Path, delimiter: str | None
) -> Source:
    params = Params("src")
    file = params.bind(str(read_path))
    if fmt == "csv":
        options = "all_varchar = true, header = true, store_rejects = true"
        if delimiter:
            options += f", delim = {params.bind(delimiter)}"
        reader = f"read_csv({file}, {options})"
    elif fmt == "json":
        reader = f"read_json({file}, format = 'auto')"
    else:
        reader = f"read_parquet({file})"
    try:
        described = con.execute(f"describe select * from {reader}", params).fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable {fmt} file ({first_line(exc)})") from exc
    columns = [row[0] for row in described]
    _refuse_duplicate_columns(con, path, fmt, columns, reader, params)
    # Columns by position (#1, #2, …): DuckDB's SQL refers to them without naming them.
    positional = ", ".join(
        (f"#{i + 1}" if fmt == "csv" else f"cast(#{i + 1} as varchar)") + f" as __c{i}" for i in range(len(columns))
    )
    return Source(f"(select {positional} from {reader})", params, columns, fmt)


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


def _refuse_runaway_records(con: duckdb.DuckDBPyConnection, path: Path, read_path: Path, delimiter: str | None) -> None:
    """Raises IngestError when lines with far more fields than the header would make the CSV reader crawl."""
    # Each physical line as one text value.
    lines = (
        "read_csv($path, columns = {'line': 'VARCHAR'}, header = false, delim = '\\0', quote = '', "
        "escape = '', auto_detect = false, strict_mode = false, ignore_errors = true, max_line_size = 1000000000)"
    )
    try:
        found = con.execute(f"select line from {lines} limit 1", {"path": str(read_path)}).fetchall()
        header = found[0][0] or "" if found else ""
        if delimiter is None:  # the candidate DuckDB's sniffer tries that splits the header most
            delimiter = max((",", ";", "\t", "|"), key=header.count)
        width = header.count(delimiter) + 1
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


def structural_rejects(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str]]:
    """(line, reason, raw text) of the records the CSV reader itself could not split into the header's columns."""
    return con.sql(
        """
        with errors as (
            select line, column_idx, error_type, error_message, csv_line from reject_errors
            where scan_id = (select max(scan_id) from reject_errors)
        )
        select line, arg_min(error_type || ': ' || error_message, column_idx), any_value(csv_line)
        from errors group by line order by line
        """
    ).fetchall()


def number_lines(con: duckdb.DuckDBPyConnection, kind: str, bad_lines: list[int]) -> None:
    """Creates the view _lined: _checked plus _line, the CSV line (header = 1), JSON line or Parquet row of each row.

    Rows keep file order in _checked (DuckDB preserves insertion order), so rowid is the row's position among the
    rows the reader returned; the CSV reader skips records it cannot split, so positions after them are shifted.
    """
    first = 2 if kind == "csv" else 1
    base = "(select min(rowid) from _checked)"  # temporary tables do not number their rows from 0
    if not bad_lines:
        con.execute(f"create or replace temp view _lined as select rowid - {base} + {first} as _line, * from _checked")
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
        shifts as (select good_before, max(seen) as seen from skipped group by good_before),
        positioned as (select rowid - {base} as _pos, * from _checked)
        select p._pos + {first} + coalesce(s.seen, 0) as _line, p.* exclude (_pos)
        from positioned p asof left join shifts s on p._pos >= s.good_before
        """
    )
