"""Load export files into one canonical table: read with DuckDB's own readers, validate, upsert, account for every row.

Every row read ends up inserted, updated, counted as an unchanged duplicate, or rejected with a reason in `rejects`.
One file is one transaction on a private copy of the warehouse (see warehouse), so a file that fails, or a
process killed mid-file, leaves the live warehouse as it was.
"""

from __future__ import annotations

import codecs
import difflib
import gzip
import hashlib
import tempfile
import threading
import time
import tomllib
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse import TABLES, Column, Table, WarehouseError, open_read_only, writing

Progress = Callable[[str, float], None]

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ENCODINGS = {"utf-8", "utf8", "utf-8-sig", "gbk", "gb2312", "gb18030"}
_SNIFF_BYTES = 1 << 20


class IngestError(Exception):
    """A file-level problem: nothing of the file was loaded. The message is one line for the user."""


class _AlreadyLoaded(Exception):
    pass


@dataclass
class FileResult:
    """The row accounting of one file: rows_read = inserted + updated + duplicates + rejected."""

    path: Path
    table: str
    status: str  # 'loaded' or 'already loaded'
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.inserted + self.updated + self.duplicates + self.rejected

    def summary(self) -> str:
        """One line a person reads after the load."""
        if self.status == "already loaded":
            return f"{self.path}: already loaded (same content), nothing changed"
        text = (
            f"{self.path} → {self.table}: {self.rows_read:,} rows read = {self.inserted:,} inserted + "
            f"{self.updated:,} updated + {self.duplicates:,} unchanged duplicates + {self.rejected:,} rejected"
        )
        if self.rejected:
            text += " (see table rejects)"
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return text


@dataclass(frozen=True)
class ValueFormat:
    """How an export writes its values, where it differs from SPEC §2: decimal comma, date formats, own vocabulary."""

    decimal_comma: bool = False  # 1.234,56: '.' (or a space) groups thousands, ',' is the decimal mark
    date_formats: tuple[str, ...] = ()  # strptime formats tried before ISO-8601, e.g. '%d/%m/%Y %H:%M'
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column → {export value → canonical value}


@dataclass
class SavedMapping:
    """A mapping file (`--mapping FILE.toml`) saved for one source's exports: everything `shopkpi ingest` needs."""

    path: Path
    table: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # canonical column → the export's column
    encoding: str | None = None
    delimiter: str | None = None
    value_format: ValueFormat = field(default_factory=ValueFormat)


_MAPPING_KEYS = {"table", "columns", "encoding", "delimiter", "decimal_comma", "date_format", "values"}


def load_mapping(path: Path) -> SavedMapping:
    """Reads a mapping file; raises IngestError with one line naming the file and the key that is wrong.

    ```toml
    table = "orders"                 # optional: the table this mapping is for
    encoding = "gbk"                 # optional, like --encoding
    delimiter = ";"                  # optional, like --delimiter
    decimal_comma = true             # optional: 1.234,56
    date_format = "%d.%m.%Y %H:%M"   # optional: one strptime format or a list of them
    [columns]                        # canonical column = "the export's column"
    order_id = "Auftragsnummer"
    [values.status]                  # optional: the export's own values of an enumerated column
    "Versendet" = "shipped"
    ```
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the mapping file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise IngestError(f"{path}: not a valid TOML mapping file ({exc})") from exc
    unknown = sorted(set(data) - _MAPPING_KEYS)
    if unknown:
        known = ", ".join(sorted(_MAPPING_KEYS))
        raise IngestError(f"{path}: unknown key {', '.join(unknown)}; a mapping file has {known}")

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise IngestError(f'{path}: {key} must be a string, e.g. {key} = "..."')
        return value

    table = text("table")
    if table is not None and table.lower() not in TABLES:
        raise IngestError(f"{path}: table = {table!r} is not one of {', '.join(TABLES)}")
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise IngestError(f'{path}: [columns] must hold lines like order_id = "Order No."')
    formats = data.get("date_format", [])
    formats = [formats] if isinstance(formats, str) else formats
    if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f for f in formats):
        raise IngestError(f'{path}: date_format must be a strptime format or a list of them, e.g. "%d/%m/%Y %H:%M"')
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in values.values()
    ):
        raise IngestError(f'{path}: [values.COLUMN] must hold lines like "Versendet" = "shipped"')
    decimal_comma = data.get("decimal_comma", False)
    if not isinstance(decimal_comma, bool):
        raise IngestError(f"{path}: decimal_comma must be true or false")
    return SavedMapping(
        path,
        table.lower() if table else None,
        {k.lower(): v for k, v in columns.items()},
        text("encoding"),
        text("delimiter"),
        ValueFormat(decimal_comma, tuple(formats), {k.lower(): dict(m) for k, m in values.items()}),
    )


def _silent(stage: str, done: float) -> None:
    pass


@contextmanager
def _watched(con: duckdb.DuckDBPyConnection, report: Progress, stage: str, start: float, end: float) -> Iterator[None]:
    """Reports DuckDB's own progress on the statements run inside the block, as [start, end] of the whole file."""
    if report is _silent:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                percent = con.query_progress()
            except duckdb.Error:
                return
            if percent >= 0:
                report(stage, start + (end - start) * min(percent, 100.0) / 100.0)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity of an export, whatever its name."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


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
        raise IngestError(f"{path}: cannot read the file ({_first_line(exc)})") from exc
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
        raise IngestError(f"{path}: cannot read the file ({_first_line(exc)})") from exc
    return target


def sql_string(value: str) -> str:
    """A SQL string literal (for file paths in reader calls, which DuckDB cannot bind as parameters)."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier (for an export's own column names)."""
    return '"' + name.replace('"', '""') + '"'


def _normalise_header(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


@dataclass
class _Source:
    """A file seen as a relation of VARCHAR columns, in file order."""

    reader_sql: str  # a relation over the file whose columns are all VARCHAR
    columns: list[str]
    kind: str  # 'csv', 'json' or 'parquet'


def _open_source(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, read_path: Path, delimiter: str | None
) -> _Source:
    literal = sql_string(str(read_path))
    if fmt == "csv":
        options = "all_varchar = true, header = true, store_rejects = true"
        if delimiter:
            options += f", delim = {sql_string(delimiter)}"
        reader = f"read_csv({literal}, {options})"
    elif fmt == "json":
        reader = f"read_json({literal}, format = 'auto')"
    else:
        reader = f"read_parquet({literal})"
    try:
        described = con.sql(f"describe select * from {reader}").fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable {fmt} file ({_first_line(exc)})") from exc
    columns = [row[0] for row in described]
    if fmt != "csv":
        as_text = ", ".join(f"cast({ident(c)} as varchar) as {ident(c)}" for c in columns)
        reader = f"(select {as_text} from {reader})"
    return _Source(reader, columns, fmt)


# DuckDB's CSV reader stores one reject per surplus field of a record, each with the record's whole text, so the
# time grows with (surplus fields × line length): one 400 kB line of 200 000 fields takes over an hour. A file
# whose lines together cost more than this is refused before the real read (ordinary files cost 0).
_SURPLUS_BUDGET = 100_000_000


def _refuse_runaway_records(con: duckdb.DuckDBPyConnection, path: Path, read_path: Path, delimiter: str | None) -> None:
    """Raises IngestError when lines with far more fields than the header would make the CSV reader crawl."""
    literal = sql_string(str(read_path))
    # Each physical line as one text value.
    lines = (
        f"read_csv({literal}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\\0', quote = '', "
        "escape = '', auto_detect = false, strict_mode = false, ignore_errors = true, max_line_size = 1000000000)"
    )
    try:
        found = con.sql(f"select line from {lines} limit 1").fetchall()
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
            params={"delim": delimiter, "width": width},
        ).fetchall()[0]
    except duckdb.Error:
        return  # the guard could not read the file: the real reader decides
    if cost is not None and cost > _SURPLUS_BUDGET:
        raise IngestError(
            f"{path}: a line has {extra + width:,} fields where the header has {width}; "
            "check the delimiter (--delimiter) or split the file"
        )


def _structural_rejects(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str]]:
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


def _number_lines(con: duckdb.DuckDBPyConnection, kind: str, bad_lines: list[int]) -> None:
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


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _map_columns(path: Path, table: Table, columns: list[str], column_map: dict[str, str]) -> tuple[dict, list]:
    """Canonical column → file column, and the file's columns that map to nothing (ignored)."""
    by_name: dict[str, str] = {}
    for column in columns:
        key = _normalise_header(column)
        if key in by_name:
            raise IngestError(f"{path}: columns {by_name[key]!r} and {column!r} have the same name; rename one")
        by_name[key] = column
    canonical = {c.name for c in table.columns}
    unknown = sorted(set(column_map) - canonical)
    if unknown:
        raise IngestError(
            f"{path}: --map names {', '.join(unknown)}, not columns of {table.name} "
            f"({', '.join(c.name for c in table.columns)})"
        )
    mapping: dict[str, str] = {}
    for target, source in column_map.items():
        found = by_name.get(_normalise_header(source))
        if found is None:
            raise IngestError(
                f"{path}: --map {target}={source}: the file has no column {source!r} (file has: {_listing(columns)})"
            )
        mapping[target] = found
    taken = set(mapping.values())
    for col in table.columns:
        if col.name not in mapping and col.name in by_name and by_name[col.name] not in taken:
            mapping[col.name] = by_name[col.name]
    missing = [name for name in table.required if name not in mapping]
    if missing:
        free = [c for c in columns if c not in mapping.values()]
        hint = _map_hints(missing, free)
        optional = [c.name for c in table.columns if not c.required and c.name not in mapping]
        raise IngestError(
            f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for table "
            f"{table.name}; rename the column or pass {hint} "
            f"(optional columns not mapped: {', '.join(optional) or 'none'}; file has: {_listing(columns)})"
        )
    used = set(mapping.values())
    ignored = [column for column in columns if column not in used]
    return mapping, ignored


def _listing(columns: list[str]) -> str:
    shown = ", ".join(repr(c) if c != c.strip() or "," in c else c for c in columns[:60])
    return shown + (f", … ({len(columns)} columns)" if len(columns) > 60 else "")


def _map_hints(missing: list[str], free: list[str]) -> str:
    """`--map canonical=COLUMN` for each missing column, naming the file's closest column where one is close.

    Each file column is guessed for at most one canonical column, the closest pairs first.
    """
    squashed = {_normalise_header(c).replace(" ", "_").replace("-", "_"): c for c in free}
    pairs = sorted(
        (
            (difflib.SequenceMatcher(None, name, key).ratio(), index, key)
            for index, name in enumerate(missing)
            for key in squashed
        ),
        reverse=True,
    )
    guesses: dict[str, str] = {}
    for ratio, index, key in pairs:
        if ratio >= 0.6 and missing[index] not in guesses and squashed[key] not in guesses.values():
            guesses[missing[index]] = squashed[key]
    hints = []
    for name in missing:
        guess = guesses.get(name, "COLUMN")
        quoted = any(ch in guess for ch in " '\"$;&|<>()")
        hints.append(f"--map '{name}={guess}'" if quoted else f"--map {name}={guess}")
    return " ".join(hints)


def _number_text(raw: str, value_format: ValueFormat) -> str:
    if not value_format.decimal_comma:
        return raw
    # 1.234,56 / 1 234,56 → 1234.56 (also no-break and narrow no-break spaces, and the Swiss apostrophe).
    return f"replace(regexp_replace({raw}, '[.\\s\u00a0\u202f'']', '', 'g'), ',', '.')"


def _in_range(value: str, kind: str) -> str:
    """The date or time if it lies in 1900–2199, else null (rejected): 'infinity' or year 99999 would make every
    date the dashboard derives from the latest data overflow."""
    return f"(case when {value} >= {kind} '1900-01-01' and {value} < {kind} '2200-01-01' then {value} end)"


def _typed(col: Column, raw: str, value_format: ValueFormat = ValueFormat()) -> str:
    """SQL turning the trimmed text `raw` into the column's stored type (null when it does not parse)."""
    if col.type == "VARCHAR":
        own = value_format.values.get(col.name)
        if own:
            # The export's own vocabulary first (matched case-insensitively), then SPEC's synonyms.
            cases = " ".join(f"when {sql_string(k.strip().lower())} then {sql_string(v)}" for k, v in own.items())
            raw = f"(case lower({raw}) {cases} else {raw} end)"
        value = f"lower({raw})" if col.lower else raw
        if col.synonyms:
            cases = " ".join(f"when {sql_string(k)} then {sql_string(v)}" for k, v in col.synonyms.items())
            value = f"(case {value} {cases} else {value} end)"
        return value
    formats = "[" + ", ".join(sql_string(f) for f in value_format.date_formats) + "]"
    if col.type == "TIMESTAMP":
        # The session time zone is the store's: offsets are converted to it, naive times are taken as local.
        iso = f"try_cast({raw} as timestamptz)"
        if value_format.date_formats:
            iso = f"coalesce(try_cast(try_strptime({raw}, {formats}) as timestamptz), {iso})"
        return _in_range(f"cast({iso} as timestamp)", "timestamp")
    if col.type == "DATE":
        iso = f"coalesce(try_cast({raw} as date), cast(try_cast({raw} as timestamp) as date))"
        if value_format.date_formats:
            return _in_range(f"coalesce(cast(try_strptime({raw}, {formats}) as date), {iso})", "date")
        return _in_range(iso, "date")
    raw = _number_text(raw, value_format)
    if col.type in ("INTEGER", "BIGINT"):
        whole = f"try_cast({raw} as double)"
        integral = f"case when {whole} = floor({whole}) then try_cast({whole} as {col.type}) end"
        return f"coalesce(try_cast({raw} as {col.type}), {integral})"
    return f"try_cast({raw} as {col.type})"


_TYPE_WORDS = {
    "TIMESTAMP": "a date-time (ISO-8601, e.g. 2024-06-18 10:30:00)",
    "DATE": "a date (YYYY-MM-DD)",
    "INTEGER": "a whole number",
    "BIGINT": "a whole number",
    "DOUBLE": "a number",
}


def _checks(col: Column, raw: str, typed: str, value_format: ValueFormat = ValueFormat()) -> list[tuple[str, str]]:
    """(condition, reason SQL) pairs, in the order they are reported; the first that holds rejects the row."""
    name = sql_string(col.name)
    checks: list[tuple[str, str]] = []
    if col.required:
        checks.append((f"{raw} is null", "'missing value'"))
    wanted = _TYPE_WORDS.get(col.type, "a decimal number" if col.type.startswith("DECIMAL") else None)
    if wanted and col.type in ("TIMESTAMP", "DATE") and value_format.date_formats:
        wanted = f"a {'date-time' if col.type == 'TIMESTAMP' else 'date'} ({' or '.join(value_format.date_formats)})"
    elif wanted and value_format.decimal_comma and col.type != "TIMESTAMP" and col.type != "DATE":
        wanted += " with a decimal comma (e.g. 1.234,56)"
    if wanted:
        checks.append((f"{raw} is not null and {typed} is null", f"'not {wanted}: ' || {raw}"))
    if col.enum:
        allowed = ", ".join(sql_string(v) for v in col.enum)
        checks.append(
            (
                f"{typed} is not null and {typed} not in ({allowed})",
                f"'''' || {raw} || ''' is not one of {', '.join(col.enum)}'",
            )
        )
    if col.rule == "nonneg":
        checks.append((f"{typed} < 0", "'must be ≥ 0, got ' || " + raw))
    elif col.rule == "positive":
        checks.append((f"{typed} <= 0", "'must be > 0, got ' || " + raw))
    elif col.rule == "month":
        checks.append(
            (
                f"{raw} is not null and (not regexp_full_match({raw}, '\\d{{4}}-\\d{{2}}') "
                f"or try_cast({raw} || '-01' as date) is null)",
                "'not a month (YYYY-MM): ' || " + raw,
            )
        )
    return [(cond, f"{{'col': {name}, 'reason': {reason}}}") for cond, reason in checks]


def _row_key(table: Table, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    if table.name == "order_items":
        # (order_id, line_no) where the export numbers its lines, else (order_id, sku).
        line = f"coalesce('#' || cast({prefix}line_no as varchar), 'sku:' || {prefix}sku)"
        return f"{prefix}order_id || chr(31) || {line}"
    parts = [f"coalesce(cast({prefix}{k} as varchar), '')" for k in table.key]
    return parts[0] if len(parts) == 1 else " || chr(31) || ".join(parts)


def _row_hash(table: Table, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f"hash({', '.join(prefix + c.name for c in table.columns)})"


def _validate_sql(
    table: Table, source: _Source, mapping: dict[str, str], value_format: ValueFormat = ValueFormat()
) -> str:
    """One row per row read, in file order: its first error (null if valid), the typed columns, raw text if bad."""
    # Each value is parsed once (parsed), then checked against its parse (checked), then stored (typed).
    # The file's columns are renamed by position (__c0, __c1, …), so no column of the file can collide with the
    # names used here (a column called __error or _raw_row once made the whole file unreadable).
    position = {name: index for index, name in enumerate(source.columns)}
    cleaned, parsed, checks, typed = [], [], [], []
    for col in table.columns:
        if col.name in mapping:
            cleaned.append(f"nullif(trim(__c{position[mapping[col.name]]}), '') as __v_{col.name}")
            parsed.append(f"{_typed(col, f'r.__v_{col.name}', value_format)} as __t_{col.name}")
            checks.extend(_checks(col, f"r.__v_{col.name}", f"r.__t_{col.name}", value_format))
            value = f"r.__t_{col.name}"
            if col.default is not None:
                value = f"coalesce({value}, {col.default})"
        else:
            value = col.default if col.default is not None else "null"
        typed.append(f"cast({value} as {col.type}) as {col.name}")
    raw_json = "json_object(" + ", ".join(f"{sql_string(src)}, __c{i}" for i, src in enumerate(source.columns)) + ")"
    renamed = ", ".join(f"{ident(src)} as __c{i}" for i, src in enumerate(source.columns))
    cases = " ".join(f"when {cond} then {err}" for cond, err in checks)
    first_error = f"case {cases} end" if checks else "null"
    typed_list = ",\n            ".join(typed)
    sql = f"""
    with source as (select {renamed} from {source.reader_sql}),
    cleaned as (
        select *, {", ".join(cleaned)}
        from source
    ),
    parsed as (
        select *, {", ".join(parsed)}
        from cleaned r
    ),
    checked as (
        select *, {first_error} as __error
        from parsed r
    ),
    typed as (
        select __error as _error,
            case when __error is not null then {raw_json} end as _raw_row,
            {typed_list}
        from checked r
    )
    select * from typed
    """
    if table.name == "events":
        # Events without an id are identified by the hash of their values, so a re-export is not doubled.
        values = ", ".join(f"coalesce(cast({c.name} as varchar), '')" for c in table.columns if c.name != "event_id")
        sql = f"select * replace (coalesce(event_id, md5(concat_ws(chr(31), {values}))) as event_id) from ({sql})"
    return sql


def _record_rejects(
    con: duckdb.DuckDBPyConnection, load_id: int, path: Path, table: Table, structural: list[tuple[int, str, str]]
) -> None:
    con.execute(
        """
        insert into rejects
        select ?, ?, _line, ?, _error.col, _error.reason, _raw_row from _lined where _error is not null
        """,
        [load_id, str(path), table.name],
    )
    if structural:
        con.executemany(
            "insert into rejects values (?, ?, ?, ?, null, ?, ?)",
            [(load_id, str(path), line, table.name, reason, raw) for line, reason, raw in structural],
        )


def _classify_and_write(con: duckdb.DuckDBPyConnection, table: Table) -> tuple[int, int, int]:
    """Upserts the valid rows of _checked; returns (inserted, updated, duplicates), counted row by row in file order.

    A row is compared with the previous row of the same key in the file, or else with the stored row: no such
    row means inserted, a different one updated, an identical one an unchanged duplicate. The last row of each
    key is what the table keeps.
    """
    columns = ", ".join(c.name for c in table.columns)
    rows, keys = con.sql(
        f"select count(*), count(distinct {_row_key(table)}) from _checked where _error is null"
    ).fetchall()[0]
    stored_rows = con.sql(f"select count(*) from {table.name}").fetchall()[0][0]
    if rows == keys and stored_rows == 0:
        # The common first load: every row is new, so skip the comparisons.
        con.execute(f"insert into {table.name} ({columns}) select {columns} from _checked where _error is null")
        return rows, 0, 0
    con.execute(
        f"""
        create or replace temp table _valid as
        select {columns}, _line, {_row_key(table)} as _key, {_row_hash(table)} as _hash
        from _lined where _error is null
        """
    )
    previous_in_file = "lag(v._hash) over (partition by v._key order by v._line)" if rows != keys else "null"
    last_in_file = "row_number() over (partition by v._key order by v._line desc) = 1" if rows != keys else "true"
    con.execute(
        f"""
        create or replace temp table _ranked as
        with stored as (
            select {_row_key(table, "t")} as _key, {_row_hash(table, "t")} as _hash
            from {table.name} t
            where {_row_key(table, "t")} in (select _key from _valid)
        ),
        sequenced as (
            select v.*,
                coalesce({previous_in_file}, s._hash) as _previous,
                {last_in_file} as _last,
                s._hash as _stored
            from _valid v left join stored s using (_key)
        )
        select * from sequenced
        """
    )
    inserted, updated, duplicates = con.sql(
        """
        select count(*) filter (where _previous is null),
               count(*) filter (where _previous is not null and _previous <> _hash),
               count(*) filter (where _previous = _hash)
        from _ranked
        """
    ).fetchall()[0]
    con.execute(
        f"""
        delete from {table.name}
        where {_row_key(table)} in (select _key from _ranked where _last and _stored is not null and _stored <> _hash)
        """
    )
    con.execute(
        f"""
        insert into {table.name} ({columns})
        select {columns} from _ranked where _last and (_stored is null or _stored <> _hash)
        """
    )
    return inserted, updated, duplicates


def _already_loaded(con: duckdb.DuckDBPyConnection, digest: str, table: str) -> bool:
    found = con.sql("select count(*) from ingest_log where content_hash = ? and table_name = ?", params=[digest, table])
    return found.fetchall()[0][0] > 0


def ingest_file(
    db_path: Path,
    table: str,
    path: Path,
    *,
    strict: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    column_map: dict[str, str] | None = None,
    store_timezone: str = "UTC",
    currency: str = "CNY",
    progress: Progress | None = None,
    value_format: ValueFormat | None = None,
) -> FileResult:
    """Loads one file into `table` in one transaction and returns its row accounting; raises IngestError.

    `value_format` reads exports that write numbers with a decimal comma, dates in another format, or an enumerated
    column (e.g. status) in their own words; see ValueFormat and load_mapping.
    """
    started = time.perf_counter()
    started_at = datetime.now()
    report = progress or _silent
    if table not in TABLES:
        raise IngestError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    spec = TABLES[table]
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty")
    fmt, compressed = _file_format(path)
    if encoding is not None and encoding.lower() not in ENCODINGS:
        raise IngestError(f"{path}: unsupported encoding {encoding!r}; use one of utf-8, gbk, gb18030")

    report("hashing", 0.05)
    digest = content_hash(path)
    if Path(db_path).exists():
        try:
            with open_read_only(Path(db_path)) as con:
                if _already_loaded(con, digest, table):
                    return FileResult(path, table, "already loaded", seconds=time.perf_counter() - started)
        except WarehouseError:
            pass  # reported with more context by the writer below

    chosen = "utf-8"
    with tempfile.TemporaryDirectory(prefix="shopkpi-ingest-") as workdir:
        read_path = path
        if fmt == "csv":
            report("detecting encoding", 0.1)
            chosen = (encoding or detect_encoding(path, compressed)).lower()
            if chosen not in ("utf-8", "utf8", "utf-8-sig"):
                report(f"converting from {chosen}", 0.15)
                read_path = transcode_to_utf8(
                    path,
                    compressed,
                    "gb18030" if chosen in ("gbk", "gb2312") else chosen,
                    Path(workdir) / (path.name.removesuffix(".gz") + ".utf8"),
                )
        try:
            with writing(Path(db_path), store_timezone=store_timezone, currency=currency) as con:
                if _already_loaded(con, digest, table):
                    raise _AlreadyLoaded
                # DuckDB tracks progress for query_progress() but prints nothing: the caller draws the bar.
                con.execute("set enable_progress_bar = true")
                con.execute("set enable_progress_bar_print = false")
                con.execute("begin transaction")
                report("reading", 0.25)
                if fmt == "csv":  # before the reader first looks at the file: its sniffer is as slow on such lines
                    _refuse_runaway_records(con, path, read_path, delimiter)
                source = _open_source(con, path, fmt, read_path, delimiter)
                mapping, ignored = _map_columns(path, spec, source.columns, column_map or {})
                report("validating", 0.45)
                try:
                    checked = _validate_sql(spec, source, mapping, value_format or ValueFormat())
                    with _watched(con, report, "validating", 0.45, 0.65):
                        con.execute(f"create or replace temp table _checked as {checked}")
                except duckdb.Error as exc:
                    raise IngestError(f"{path}: not a readable {fmt} file ({_first_line(exc)})") from exc
                structural = _structural_rejects(con) if fmt == "csv" else []
                _number_lines(con, fmt, [line for line, _, _ in structural])
                rejected = con.sql("select count(*) from _checked where _error is not null").fetchall()[0][0]
                rejected += len(structural)
                if strict and rejected:
                    first = _first_reject(con, structural)
                    raise IngestError(
                        f"{path}: {rejected:,} rows rejected, nothing loaded because of --strict (first: {first})"
                    )
                report("loading", 0.65)
                with _watched(con, report, "loading", 0.65, 0.9):
                    inserted, updated, duplicates = _classify_and_write(con, spec)
                load_id = con.sql("select nextval('load_id_seq')").fetchall()[0][0]
                _record_rejects(con, load_id, path, spec, structural)
                result = FileResult(
                    path,
                    table,
                    "loaded",
                    inserted + updated + duplicates + rejected,
                    inserted,
                    updated,
                    duplicates,
                    rejected,
                    ignored,
                    chosen,
                )
                con.execute(
                    "insert into ingest_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        load_id,
                        str(path.resolve()),
                        digest,
                        table,
                        started_at,
                        datetime.now(),
                        result.rows_read,
                        inserted,
                        updated,
                        duplicates,
                        rejected,
                        ", ".join(ignored) or None,
                    ],
                )
                report("committing", 0.9)
                con.execute("commit")
        except _AlreadyLoaded:
            return FileResult(path, table, "already loaded", seconds=time.perf_counter() - started)
        except WarehouseError as exc:
            raise IngestError(str(exc)) from exc
        except duckdb.Error as exc:
            raise IngestError(f"{path}: could not be loaded ({_first_line(exc)})") from exc
    report("done", 1.0)
    result.seconds = time.perf_counter() - started
    return result


def _first_reject(con: duckdb.DuckDBPyConnection, structural: list[tuple[int, str, str]]) -> str:
    rows = con.sql(
        "select _line, _error.col, _error.reason from _lined where _error is not null order by _line limit 1"
    ).fetchall()
    candidates = [(line, None, reason) for line, reason, _ in structural[:1]] + rows
    line, column, reason = min(candidates, key=lambda item: item[0])
    return f"line {line}" + (f", column {column}" if column else "") + f": {reason}"


def ingest_files(db_path: Path, table: str, paths: Iterable[Path], **options) -> list[FileResult]:
    """Loads each file in turn, each in its own transaction; stops at the first file-level error."""
    return [ingest_file(db_path, table, Path(path), **options) for path in paths]
