"""Typing and checking every row read, in one SQL pass: each value parsed to its column's type and checked
(required, type, enumeration, range); a row's first error is its reject reason. The valid rows go on to load.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.ingest.common import IngestError, Params, Progress, first_line, sql_string, watched
from pipelines.ingest.map import ValueFormat
from pipelines.ingest.read import Source, native_type, number_lines, physical_lines, structural_rejects
from warehouse import Column, Table


@dataclass
class Checked:
    """What validation found: the records the CSV reader could not split (line, reason, raw text) and the number of
    rejected rows, theirs included."""

    structural: list[tuple[int, str, str]]
    rejected: int


def validate(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: Table,
    source: Source,
    mapping: dict[str, str],
    value_format: ValueFormat,
    strict: bool,
    report: Progress,
    encoding: str = "utf-8",
    key_hash: str = "null",
) -> Checked:
    """Types and checks every row read into the view _checked (the temp table _staged, with the columns the file
    does not have and each row's position _pos), numbered by file line in the view _lined.

    `key_hash`, SQL over the table's columns, is stored as the column _key_hash: computed once, in the pass that
    reads the file, rather than in each later pass over the rows (each took seconds for 49 M events).
    With `strict`, any rejected row is an IngestError naming the first.
    """
    # The load's store (a variable ingest sets) is read once and bound: getvariable() per row slows a big load.
    of_load = {
        c.name: con.sql(f"select {c.default}").fetchall()[0][0]
        for c in table.columns
        if c.default and "getvariable(" in c.default
    }
    _refuse_bad_date_formats(con, path, value_format)
    steady = steady_since(con)
    try:
        checked, params = _validate_sql(table, source, mapping, value_format, of_load, steady)
        # A column the file does not have holds one value on every row (its default, the load's store, or null): it
        # is not stored row by row in the temp table, but given by the view. Storing the events' four such columns
        # took 1.3 s of 9.4 for 49 M rows, and reading them back 2.7 s of the insert's 13.3.
        constant = {c.name: _constant(c, of_load) for c in table.columns if c.name not in mapping}
        stored = f"* exclude ({', '.join(constant)})" if constant else "*"
        with watched(con, report, "validating", 0.45, 0.65):
            con.execute(
                f"create or replace temp table _staged as select {stored}, {key_hash} as _key_hash from ({checked})",
                params,
            )
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable {source.kind} file ({first_line(exc)})") from exc
    base = con.sql("select coalesce(min(rowid), 0) from _staged").fetchall()[0][0]  # temp tables do not start at 0
    columns = ", ".join(f"{constant[c.name]} as {c.name}" if c.name in constant else c.name for c in table.columns)
    con.execute(
        f"""
        create or replace temp view _checked as
        select _error, _raw_row, {columns}, _key_hash, rowid - {base} as _pos from _staged
        """
    )
    structural = structural_rejects(con, encoding) if source.kind == "csv" else []
    rows, rejected = con.sql("select count(*), count(_error) from _checked").fetchall()[0]
    found, lines = physical_lines(source, rows, structural)
    number_lines(con, source.kind, [line for line, _, _, _ in found], lines)
    structural = [(line, reason, raw) for line, _, reason, raw in found]
    rejected += len(structural)
    if strict and rejected:
        first = _first_reject(con, structural)
        raise IngestError(f"{path}: {rejected:,} rows rejected, nothing loaded because of --strict (first: {first})")
    return Checked(structural, rejected)


def _constant(col: Column, of_load: dict[str, object]) -> str:
    """SQL: the value of `col` on every row of a file that does not have it, as a literal (a view takes no
    parameters): the validating query's (which the key hash reads) and the view _checked's."""
    if col.name in of_load:
        value = of_load[col.name]
        default = "null" if value is None else sql_string(str(value))
    else:
        default = col.default if col.default is not None else "null"
    return f"cast({default} as {col.type})"


def _refuse_bad_date_formats(con: duckdb.DuckDBPyConnection, path: Path, value_format: ValueFormat) -> None:
    """Raises IngestError naming the first date format DuckDB's strptime does not understand (e.g. '%Q')."""
    for date_format in value_format.date_formats:
        try:
            con.execute("select try_strptime('', $format)", {"format": date_format}).fetchall()
        except duckdb.Error as exc:
            raise IngestError(
                f"{path}: date format {date_format!r} is not a strptime format ({first_line(exc)})"
            ) from exc


def _number_text(raw: str, value_format: ValueFormat) -> str:
    if not value_format.decimal_comma:
        return raw
    # 1.234,56 / 1 234,56 → 1234.56 (also no-break and narrow no-break spaces, and the Swiss apostrophe).
    return f"replace(regexp_replace({raw}, '[.\\s\u00a0\u202f'']', '', 'g'), ',', '.')"


# A number as exports write it: digits, one decimal point, an exponent. DuckDB's casts also take 1_000, 0x10, nan
# and inf, which are not amounts (1_000 was read as 1000, NaN stored in sessions.duration_s).
_NUMBER = "'^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'"
# Whitespace that makes a required value missing when it is all the value holds: spaces, tabs, line breaks,
# no-break, ideographic and zero-width spaces, BOM (a tab-only order id was stored as a key).
_SPACES = " \t\n\r\v\f\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(map(chr, range(0x2000, 0x200C)))
_WHITESPACE = f"'{_SPACES}'"
_SPACE_CODES = ", ".join(str(ord(ch)) for ch in _SPACES)
# A date-time without an offset as exports write it, with a fraction of a second or without (_naive_time).
_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")
# The session time zone's last offset change, found from its offset at midnight UTC of every day 1900–2199: the first
# such midnight with the final offset (null if the offset never changed). No change in the time zone database is
# undone within a day, so none goes unseen between two midnights.
_LAST_CHANGE = """
    with samples as (
        select utc, cast(timezone('UTC', utc) as timestamp) - utc as utc_offset
        from (select unnest(generate_series(timestamp '1900-01-01', timestamp '2200-01-01', interval 1 day)) as utc)
    ),
    changes as (select utc, utc_offset <> lag(utc_offset) over (order by utc) as changed from samples)
    select cast(timezone('UTC', max(utc) filter (where changed)) as timestamp) from changes
"""
# The earliest time a load accepts (_in_range): a zone steady since then never changed, and needs no year check.
_EARLIEST = datetime(1900, 1, 1)
_STEADY: dict[str, datetime | None] = {}  # per time zone name: steady_since's answer (its query takes 25–60 ms)


def _blank(raw: str) -> str:
    """SQL: whether the (space-trimmed) value is only other whitespace (a tab, no-break or ideographic spaces). Such
    a value of a required column is missing; DuckDB's trim with a set of characters is ~20x slower than its plain
    trim, so only a value that starts with whitespace is trimmed with the set."""
    # A CASE, not an AND: DuckDB evaluates both sides of an AND on the whole vector. A value that starts with a
    # printable ASCII character (most) is settled by one comparison: the list of codes took 0.8 s of the 3.7 s that
    # validating 49 M events takes.
    first = f"ascii({raw})"
    return (
        f"(case when {first} between 33 and 126 then false "
        f"when {first} in ({_SPACE_CODES}) then trim({raw}, {_WHITESPACE}) = '' else false end)"
    )


def _starts_with_digit(raw: str) -> str:
    # DuckDB reads 'epoch', 'infinity' and 'allballs' as dates and times; exports write dates with digits first.
    return f"left({raw}, 1) between '0' and '9'"


def steady_since(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The local time from which the session time zone's offset to UTC stays as it is now: 1900-01-01 for UTC and any
    zone that never changed in 1900–2199, e.g. 1991-09-17 for Asia/Shanghai (its daylight saving time ended on 15
    September 1991); None for a zone whose offset changes after today (daylight saving time). From then on a naive
    time is the time written: no daylight-saving gap skips it and no fold repeats it (_naive_time)."""
    zone = con.sql("select current_setting('TimeZone')").fetchall()[0][0]
    if zone not in _STEADY:
        changed = con.sql(_LAST_CHANGE).fetchall()[0][0]
        # Two days after the first midnight with the final offset: past any local time the change skipped or repeated.
        since = _EARLIEST if changed is None else changed + timedelta(days=2)
        _STEADY[zone] = since if since.date() <= date.today() else None
    return _STEADY[zone]


def _naive_time(raw: str, steady: datetime = _EARLIEST) -> str:
    """SQL: the text as a date-time if it is one without an offset (YYYY-MM-DD HH:MM:SS, with up to six decimals of
    a second) of a year after `steady`'s (steady_since: the store's time zone no longer changes; UTC: any year), else
    null. For such text it is what the cast through timestamptz gives, without the time zone arithmetic: for 49 M
    values 1.0 s instead of 3.7 s in UTC, 1.8 s instead of 3.8 s in Asia/Shanghai. The strptime takes whitespace
    after the seconds, which the cast refuses, so the text must also end with a digit (a fuzz of a million altered
    date-times found no other difference; tests/pipelines/test_ingest.py runs 100,000 of them)."""
    # One format per value, chosen by its decimal point: a format that fails is slow (trying the one with a fraction
    # first took 2.0 s for 10 M session starts without one, against 0.33 s).
    parsed = (
        f"(case when contains({raw}, '.') then try_strptime({raw}, '{_NAIVE_FORMATS[0]}') "
        f"else try_strptime({raw}, '{_NAIVE_FORMATS[1]}') end)"
    )
    usable = f"{_starts_with_digit(raw)} and right({raw}, 1) between '0' and '9'"
    if steady > _EARLIEST:
        # The year compared as text (its four digits): comparing the parsed time would parse each value twice.
        usable += f" and left({raw}, 4) >= '{steady.year + 1}'"
    return f"(case when {usable} then {parsed} end)"


def _in_range(value: str, kind: str) -> str:
    """The date or time if it lies in 1900–2199, else null (rejected): 'infinity' or year 99999 would make every
    date the dashboard derives from the latest data overflow."""
    return f"(case when {value} >= {kind} '1900-01-01' and {value} < {kind} '2200-01-01' then {value} end)"


def _typed(col: Column, raw: str, value_format: ValueFormat, params: Params, steady: datetime | None = None) -> str:
    """SQL turning the trimmed text `raw` into the column's stored type (null when it does not parse); the values it
    compares with or parses by (the export's own words, date formats) are bound in `params`. `steady`: the local
    time from which a naive time is the time written in the store's time zone (the session's), see steady_since."""
    if col.type == "VARCHAR":
        own = value_format.values.get(col.name)
        if own:
            # The export's own vocabulary first (matched case-insensitively), then SPEC's synonyms.
            cases = " ".join(f"when {params.bind(k.strip().lower())} then {params.bind(v)}" for k, v in own.items())
            raw = f"(case lower({raw}) {cases} else {raw} end)"
        value = f"lower({raw})" if col.lower else raw
        if col.synonyms:
            cases = " ".join(f"when {params.bind(k)} then {params.bind(v)}" for k, v in col.synonyms.items())
            value = f"(case {value} {cases} else {value} end)"
        return value
    if col.type in ("TIMESTAMP", "DATE") and value_format.date_formats:
        formats = params.bind(list(value_format.date_formats))
    if col.type == "TIMESTAMP":
        # The session time zone is the store's: offsets are converted to it, naive times are taken as local.
        iso = f"try_cast({raw} as timestamptz)"
        if value_format.date_formats:
            iso = f"(case when {_starts_with_digit(raw)} then {iso} end)"  # the check below cannot tell
            iso = f"coalesce(try_cast(try_strptime({raw}, {formats}) as timestamptz), {iso})"
        elif steady is not None:
            # A naive time of a year after `steady`'s is read by its format; the others (all, in a zone with daylight
            # saving time) take the cast: in a daylight-saving gap a time moves with the zone.
            return _in_range(f"coalesce({_naive_time(raw, steady)}, cast({iso} as timestamp))", "timestamp")
        return _in_range(f"cast({iso} as timestamp)", "timestamp")
    if col.type == "DATE":
        iso = f"coalesce(try_cast({raw} as date), cast(try_cast({raw} as timestamp) as date))"
        if value_format.date_formats:
            iso = f"(case when {_starts_with_digit(raw)} then {iso} end)"
            return _in_range(f"coalesce(cast(try_strptime({raw}, {formats}) as date), {iso})", "date")
        return _in_range(iso, "date")
    raw = _number_text(raw, value_format)
    if col.type in ("INTEGER", "BIGINT"):
        whole = f"try_cast({raw} as double)"
        integral = f"case when {whole} = floor({whole}) then try_cast({whole} as {col.type}) end"
        return f"coalesce(try_cast({raw} as {col.type}), {integral})"
    if col.type == "DOUBLE":  # 1e400 is a number to the regular expression and infinity to the cast
        return f"(case when isfinite(try_cast({raw} as double)) then try_cast({raw} as double) end)"
    return f"try_cast({raw} as {col.type})"


_TYPE_WORDS = {
    "TIMESTAMP": "a date-time (ISO-8601, e.g. 2024-06-18 10:30:00)",
    "DATE": "a date (YYYY-MM-DD)",
    "INTEGER": "a whole number",
    "BIGINT": "a whole number",
    "DOUBLE": "a number",
}


def _checks(
    col: Column, raw: str, typed: str, value_format: ValueFormat, params: Params, spaced: bool = True
) -> list[tuple[str, str]]:
    """(condition, reason SQL) pairs, in the order they are reported; the first that holds rejects the row. The
    reasons' text (which names the date formats given) is bound in `params`. `spaced`: whether `raw` can be only
    whitespace (not the text of a number)."""
    checks: list[tuple[str, str]] = []
    if col.required:
        checks.append((f"{raw} is null or {_blank(raw)}" if spaced else f"{raw} is null", "'missing value'"))
    wanted = _TYPE_WORDS.get(col.type, "a decimal number" if col.type.startswith("DECIMAL") else None)
    if wanted and col.type in ("TIMESTAMP", "DATE") and value_format.date_formats:
        wanted = f"a {'date-time' if col.type == 'TIMESTAMP' else 'date'} ({' or '.join(value_format.date_formats)})"
    elif wanted and value_format.decimal_comma and col.type != "TIMESTAMP" and col.type != "DATE":
        wanted += " with a decimal comma (e.g. 1.234,56)"
    if wanted:
        # Checked here, once per row, rather than in the parse, whose expression DuckDB repeats at each use.
        if col.type in ("TIMESTAMP", "DATE"):
            plain = "false" if value_format.date_formats else f"not {_starts_with_digit(raw)}"
        else:
            plain = f"not regexp_full_match({_number_text(raw, value_format)}, {_NUMBER})"
        checks.append(
            (f"{raw} is not null and ({typed} is null or {plain})", f"{params.bind(f'not {wanted}: ')} || {raw}")
        )
    scale = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", col.type)
    if scale:
        # 0.005 would be stored as 0.01: an amount with more decimals than the column keeps is refused, not rounded.
        digits = int(scale.group(1))
        exact = f"try_cast({_number_text(raw, value_format)} as decimal(38, 18))"
        checks.append(
            (
                f"{typed} is not null and {exact} <> {typed}",
                f"{params.bind(f'more than {digits} decimals (it would be rounded): ')} || {raw}",
            )
        )
    if col.enum:
        enum_reason = "' is not one of " + ", ".join(col.enum)
        allowed = ", ".join(params.bind(v) for v in col.enum)
        checks.append(
            (
                f"{typed} is not null and {typed} not in ({allowed})",
                f"'''' || {raw} || {params.bind(enum_reason)}",
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
    if not checks:
        return []
    name = params.bind(col.name)
    return [(cond, f"{{'col': {name}, 'reason': {reason}}}") for cond, reason in checks]


def _text(value: str) -> str:
    """SQL: the value as text (a no-op on text; a Parquet time or number as DuckDB prints it)."""
    return f"cast({value} as varchar)"


def _native(col: Column, source_type: str, value_format: ValueFormat) -> str | None:
    """SQL typing a Parquet column that keeps its own type (read.native_type) into `col`, or None when the value
    goes through text (a text column, another pairing of types, or date formats given for the export)."""
    kind = native_type(source_type)
    value = f"r.__v_{col.name}"
    if kind == "time" and col.type in ("TIMESTAMP", "DATE") and not value_format.date_formats:
        # A time with an offset is converted to the store's time zone (the session's), as text with one would be.
        return _in_range(f"cast({value} as {col.type.lower()})", col.type.lower())
    if kind == "whole" and col.type in ("INTEGER", "BIGINT"):
        return f"try_cast({value} as {col.type})"
    return None


def _native_checks(col: Column, value: str, typed: str, params: Params) -> list[tuple[str, str]]:
    """The checks of _checks for a value that kept its Parquet type: missing, out of the column's range, the rule."""
    checks: list[tuple[str, str]] = []
    name = params.bind(col.name)
    if col.required:
        checks.append((f"{value} is null", "'missing value'"))
    wanted = _TYPE_WORDS[col.type]
    checks.append((f"{value} is not null and {typed} is null", f"{params.bind(f'not {wanted}: ')} || {_text(value)}"))
    if col.rule == "nonneg":
        checks.append((f"{typed} < 0", f"'must be ≥ 0, got ' || {_text(value)}"))
    elif col.rule == "positive":
        checks.append((f"{typed} <= 0", f"'must be > 0, got ' || {_text(value)}"))
    return [(cond, f"{{'col': {name}, 'reason': {reason}}}") for cond, reason in checks]


def _validate_sql(
    table: Table,
    source: Source,
    mapping: dict[str, str],
    value_format: ValueFormat,
    of_load: dict[str, object] | None = None,
    steady: datetime | None = None,
) -> tuple[str, Params]:
    """One row per row read, in file order: its first error (null if valid), the typed columns, raw text if bad;
    and the values its placeholders stand for (every text from the user, the file or a mapping is one of them)."""
    # Each value is parsed once (parsed), then checked against its parse (checked), then stored (typed).
    # The source's columns are named by position (__c0, __c1, …), so no column of the file can collide with the
    # names used here (a column called __error or _raw_row once made the whole file unreadable).
    params = Params("v")
    params.update(source.params)
    position = {name: index for index, name in enumerate(source.columns)}
    of_load = of_load or {}
    default = {c.name: _constant(c, of_load) for c in table.columns}
    cleaned, parsed, checks, typed = [], [], [], []
    for col in table.columns:
        if col.name in mapping:
            index = position[mapping[col.name]]
            native = _native(col, source.types[index] if source.types else "VARCHAR", value_format)
            if native:
                cleaned.append(f"__c{index} as __v_{col.name}")
                parsed.append(f"{native} as __t_{col.name}")
                checks.extend(_native_checks(col, f"r.__v_{col.name}", f"r.__t_{col.name}", params))
            else:
                text = f"__c{index}" if not source.types or source.types[index] == "VARCHAR" else _text(f"__c{index}")
                # A whole number's text (a Parquet id stored as a number) has no spaces to trim and is never empty:
                # trimming and checking 49 M event session ids for whitespace took a quarter of their validation.
                spaced = not source.types or native_type(source.types[index]) != "whole"
                if spaced:
                    text = f"nullif(trim({text}), '')"
                cleaned.append(f"{text} as __v_{col.name}")
                parsed.append(f"{_typed(col, f'r.__v_{col.name}', value_format, params, steady)} as __t_{col.name}")
                checks.extend(_checks(col, f"r.__v_{col.name}", f"r.__t_{col.name}", value_format, params, spaced))
            value = f"r.__t_{col.name}"
            if col.default is not None:
                value = f"coalesce({value}, {default[col.name]})"
            typed.append(f"cast({value} as {col.type}) as {col.name}")
        else:  # one value on every row, as the view _checked gives it (validate)
            typed.append(f"{default[col.name]} as {col.name}")
    for column, condition, reason in table.checks:  # across columns and tables, after each value's own checks
        names = dict.fromkeys(re.findall(r"\{(\w+)\}", condition))
        # A column the file does not have but that has a default (the load's store) is checked with the default.
        defaults = {n: f"coalesce(r.__t_{n}, {default[n]})" for n in names if n in mapping}
        defaults |= {n: f"({default[n]})" for n in names if n not in mapping}
        if all(name in mapping or table.column(name).default is not None for name in names):
            values = {name: defaults[name] if table.column(name).default else f"r.__t_{name}" for name in names}
            known = " and ".join(f"{value} is not null" for value in values.values())
            shown = _text(f"r.__v_{column}")
            why = f"{{'col': {params.bind(column)}, 'reason': {params.bind(reason + ': ')} || {shown}}}"
            checks.append((f"{known} and ({condition.format(**values)})", why))
    raw_json = (
        "json_object("
        + ", ".join(f"{params.bind(src)}, {_text(f'__c{i}')}" for i, src in enumerate(source.columns))
        + ")"
    )
    if source.row_check:  # what the reader found wrong with the row comes first (a JSON value of another kind)
        checks.insert(0, (f"r.{source.row_check} is not null", f"r.{source.row_check}"))
    cases = " ".join(f"when {cond} then {err}" for cond, err in checks)
    first_error = f"case {cases} end" if checks else "null"
    typed_list = ",\n            ".join(typed)
    sql = f"""
    with source as (select * from {source.reader_sql}),
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
    return sql, params


def _first_reject(con: duckdb.DuckDBPyConnection, structural: list[tuple[int, str, str]]) -> str:
    rows = con.sql(
        "select _line, _error.col, _error.reason from _lined where _error is not null order by _line limit 1"
    ).fetchall()
    candidates = [(line, None, reason) for line, reason, _ in structural[:1]] + rows
    line, column, reason = min(candidates, key=lambda item: item[0])
    return f"line {line}" + (f", column {column}" if column else "") + f": {reason}"
