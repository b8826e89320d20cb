"""What every import adapter shares: reading an export into DuckDB, writing canonical-table files, loading them.

An adapter turns one third-party export into canonical-table CSV files with DuckDB SQL (no per-row Python), then
`run_import` loads each through `ingest_file`, so SPEC §2's rules apply unchanged: row accounting, rejects with a
reason, upsert by key, and "already loaded" for a file loaded before. The derived files are written in a fixed
order with fixed formatting, so the same export gives byte-identical files and importing it again changes nothing.

Rows the adapter itself refuses (e.g. an Online Retail line with UnitPrice ≤ 0) stay in the derived file with a
required column emptied, so `ingest_file` rejects them inside its own transaction and the counts stay whole; a
second, small transaction then gives those rejects the adapter's reason, the export's line and its raw row, and
points the load ledger at the export instead of the temporary file ("provenance").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from pipelines.adapters.timezones import settle_timezone
from pipelines.ingest import (
    FileResult,
    IngestError,
    Limits,
    content_hash,
    detect_encoding,
    ident,
    ingest_file,
    sql_string,
    transcode_to_utf8,
)
from pipelines.ingest.common import scratch_folder
from pipelines.ingest.limits import scan_text
from pipelines.ingest.read import reader_error, record_starts
from warehouse import TABLES, WarehouseError, open_read_only, store_settings, writing

Progress = Callable[[str, float], None]

_SCRATCH_PREFIX = "shopkpi-import-"  # the folder of the derived files: how the ledger tells them from exports


@dataclass
class ImportOptions:
    """The knobs of `shopkpi import`; each adapter reads the ones that concern it."""

    encoding: str | None = None
    delimiter: str | None = None
    session_gap_minutes: float = 30.0  # clickstream: inactivity that ends a session
    store: str = ""  # the store the export's rows belong to (`--store`; '': the warehouse's default store)
    platform: str | None = None  # the store's platform (`--platform`; default: the adapter's PLATFORM)
    date_from: date | None = None  # traffic exports that do not say their period (`--from/--to`)
    date_to: date | None = None
    limits: Limits = field(default_factory=Limits)  # the budget of the export and of each derived file's load


@dataclass
class Derived:
    """One canonical-table file an adapter made from the export."""

    table: str
    path: Path
    unit: str  # what one row of the file is, for the summary: "lines", "invoices", "stock codes"
    rows: int = 0
    source_lines: bool = False  # row N of the file is record N of the export, so rejects keep the export's lines
    new_only: bool = False  # add keys the warehouse does not have yet, leave the others as they are (products)
    known: int = 0  # new_only: rows left out because the warehouse already has their key
    digests: list[str] = field(default_factory=list)  # content hashes this file had (before and after new_only)


@dataclass
class Plan:
    """What an adapter made of an export: the derived files in load order, and what the summary must add."""

    source_rows: int
    source_unit: str  # "rows", "lines", "clicks"
    tables: list[Derived]
    notes: list[str] = field(default_factory=list)  # extra summary lines (e.g. credit notes and their value)
    currency: str | None = None  # the export's currency, if it says or is known
    adapter_rejects: int = 0
    first_adapter_reject: str | None = None


@dataclass
class TableResult:
    derived: Derived
    result: FileResult | None  # None when there was nothing new to load

    def summary(self) -> str:
        d, r = self.derived, self.result
        known = f" ({d.known:,} already in the warehouse, kept as they are)" if d.new_only else ""
        if r is None:
            return f"  {d.table}: {d.rows + d.known:,} {d.unit}, none new{known}"
        if r.status == "already loaded":
            return f"  {d.table}: {d.rows:,} {d.unit}: already loaded (same content), nothing changed{known}"
        text = (
            f"  {d.table}: {r.rows_read:,} {d.unit} read = {r.inserted:,} inserted + {r.updated:,} updated + "
            f"{r.duplicates:,} unchanged duplicates + {r.rejected:,} rejected{known}"
        )
        text += " (see table rejects)" if r.rejected else ""
        return text + "".join(f"; {note}" for note in r.replaced_notes())


@dataclass
class ImportResult:
    """The row accounting of one import, per canonical table."""

    format: str
    source: Path
    plan: Plan
    tables: list[TableResult]
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def already_imported(self) -> bool:
        return all(t.result is None or t.result.status == "already loaded" for t in self.tables)

    def summary(self) -> str:
        """Lines a person reads after the import: the export, then one line per table, then the notes."""
        plan = self.plan
        head = f"{self.source} ({self.format}): {plan.source_rows:,} {plan.source_unit} read in {self.seconds:.1f} s"
        if self.already_imported:
            head += "; already imported, nothing changed"
        lines = [head, *(t.summary() for t in self.tables), *(f"  {note}" for note in plan.notes)]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


# ---------------------------------------------------------------------------------------------------------------
# Reading the export


def _squash(name: str) -> str:
    """Header name as compared: no BOM, case, spaces, underscores or dashes (`Customer ID` = `CustomerID`)."""
    return "".join(ch for ch in name.replace("\ufeff", "").lower() if ch not in " _-\t")


def read_export(
    con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions, *, table: str = "src"
) -> dict[str, str]:
    """Creates `table`: the export's records as text, in file order, with `_line` (its line, header = 1).

    Returns {squashed header name → column name}. CSV (any delimiter; UTF-8, GBK or GB18030; optionally .gz) or
    XLSX. A record the reader cannot split is a file-level error: adapters need every record to account for it.
    """
    suffixes = [s.lower() for s in path.suffixes]
    limits = options.limits
    shape = None
    if suffixes and suffixes[-1] == ".xlsx":
        from pipelines.adapters.xlsx import xlsx_to_csv

        read_path, encoding = xlsx_to_csv(path, workdir, limits), "utf-8"
    else:
        read_path = path
        compressed = suffixes[-1:] == [".gz"]
        shape = scan_text(path, compressed, limits)  # the budget, checked while streaming, before DuckDB reads
        encoding = (options.encoding or detect_encoding(path, compressed)).lower()
    if encoding not in ("utf-8", "utf8", "utf-8-sig"):
        read_path = transcode_to_utf8(
            path,
            path.suffix.lower() == ".gz",
            "gb18030" if encoding in ("gbk", "gb2312") else encoding,
            workdir / "export.utf8.csv",
        )
    # The path and --delimiter are bound parameters, never SQL text.
    params = {"path": str(read_path), **({"delim": options.delimiter} if options.delimiter else {})}
    options_sql = f"all_varchar = true, max_line_size = {limits.line_bytes}" + (
        ", delim = $delim" if options.delimiter else ""
    )
    reader = f"read_csv($path, header = true, {options_sql})"
    try:
        columns = [row[0] for row in con.execute(f"describe select * from {reader}", params).fetchall()]
        _refuse_duplicate_columns(con, path, f"read_csv($path, header = false, {options_sql})", params, columns)
        renamed = ", ".join(f"{ident(c)} as {ident(c.replace(chr(0xFEFF), '').strip())}" for c in columns)
        con.execute(f"create or replace table {table}_raw as select {renamed} from {reader}", params)
    except duckdb.Error as exc:
        error = reader_error(path, "export", exc, limits)
        raise IngestError(str(error).replace("not a readable export file", "not a readable export")) from exc
    base, records = con.sql(f"select min(rowid), count(*) from {table}_raw").fetchall()[0]
    lines = None
    if shape is not None and records + 1 != shape.lines:
        # Blank lines or quoted fields spanning lines: a record's line is the physical line it starts on.
        _, starts = record_starts(read_path, read_path.suffix.lower() == ".gz", "csv", options.delimiter)
        lines = starts[1:] if len(starts) == records + 1 else None
    if lines is None:
        con.execute(f"create or replace table {table} as select rowid - {base or 0} + 2 as _line, * from {table}_raw")
    else:
        import pyarrow as pa  # only here: importing it costs every command a few tenths of a second

        con.register("_export_lines", pa.table({"_pos": pa.array(range(records), pa.int64()), "_line": lines}))
        con.execute(
            f"""
            create or replace table {table} as
            select l._line, r.* exclude (_pos)
            from (select rowid - {base or 0} as _pos, * from {table}_raw) r join _export_lines l using (_pos)
            order by l._line
            """
        )
        con.unregister("_export_lines")
    # How many records the export has: a source-lines file must have one row per record (write_derived checks).
    con.execute("create or replace table _export_records as select ?::bigint as records", [records])
    con.execute(f"drop table {table}_raw")
    names = [c.replace("\ufeff", "").strip() for c in columns]
    return {_squash(name): name for name in names}


def _refuse_duplicate_columns(
    con: duckdb.DuckDBPyConnection, path: Path, raw_reader: str, params: dict, columns: list[str]
) -> None:
    """Raises IngestError naming the columns when two header names are the same as the adapters compare them (case,
    spaces, underscores and dashes aside): DuckDB would rename the second (InvoiceNo_1) and the adapter would read
    one of them and silently ignore the other."""
    if len(columns) > 1:
        found = con.execute(f"select * from {raw_reader} limit 1", params).fetchall()
        names = [str(v or "") for v in found[0]] if found and len(found[0]) == len(columns) else columns
    else:
        names = columns
    seen: dict[str, list[str]] = {}
    for name in names:
        seen.setdefault(_squash(name.strip()), []).append(name.replace("\ufeff", "").strip())
    repeated = [spellings for spellings in seen.values() if len(spellings) > 1]
    if repeated:
        listing = "; ".join(" and ".join(repr(n) for n in spellings) for spellings in repeated)
        raise IngestError(
            f"{path}: columns with the same name (case, spaces, _ and - aside): {listing}; rename or remove one of each"
        )


def column_listing(names: Iterable[str], limit: int = 40) -> str:
    """An export's column names for a one-line message: a name with spaces at its ends, a comma, a line break or
    another character that does not print is shown quoted and escaped, so the message stays one line."""
    names = list(names)
    shown = ", ".join(repr(n) if n != n.strip() or "," in n or not n.isprintable() else n for n in names[:limit])
    return shown + (f", … ({len(names)} columns)" if len(names) > limit else "")


def find_columns(
    path: Path, header: dict[str, str], wanted: dict[str, tuple[str, ...]], required: tuple[str, ...], what: str
) -> dict[str, str | None]:
    """{role → the export's column or None}; a required role that no alias matches is a one-line IngestError."""
    found: dict[str, str | None] = {}
    for role, aliases in wanted.items():
        found[role] = next((header[_squash(a)] for a in aliases if _squash(a) in header), None)
    missing = [role for role in required if found[role] is None]
    if missing:
        need = "; ".join(f"{role} ({' or '.join(wanted[role])})" for role in missing)
        listing = column_listing(header.values())
        raise IngestError(
            f"{path}: not {what}: no column for {need} (file has: {listing}); "
            f"for another layout use `shopkpi ingest TABLE FILE --map canonical=COLUMN`"
        )
    return found


def col(found: dict[str, str | None], role: str) -> str:
    """SQL for a role's column (trimmed, empty = null), or null when the export does not have it."""
    name = found.get(role)
    return f"nullif(trim({ident(name)}), '')" if name else "null::varchar"


def raw_json(columns: list[str]) -> str:
    """SQL: the export's record as a JSON object of its columns, as `rejects.raw_row` shows it."""
    return "json_object(" + ", ".join(f"{sql_string(c)}, {ident(c)}" for c in columns) + ")"


# ---------------------------------------------------------------------------------------------------------------
# Writing canonical-table files


PROVENANCE_DDL = """
create table if not exists _provenance (
    table_name varchar, line bigint, source_line bigint, column_name varchar, reason varchar, raw_row varchar
)
"""


def write_derived(
    con: duckdb.DuckDBPyConnection,
    table: str,
    relation: str,
    workdir: Path,
    *,
    unit: str,
    source_lines: bool = False,
    new_only: bool = False,
) -> Derived:
    """Writes the canonical file of `table` from `relation` and returns it.

    `relation` (a table or view name) has the table's columns (as text, missing ones may be left out) and:
    `_line` (source_lines: the record's line in the export; else: the export line the row comes from, for rejects),
    `_reason` and `_column` (non-null: the adapter refuses the row, saying why), `_raw` (the export's record, JSON).
    Rows are written in `_line` order (then by key), so the same export always gives the same bytes.
    """
    spec = TABLES[table]
    present = {row[0] for row in con.sql(f"describe {relation}").fetchall()}
    poison = spec.required[0]
    select = []
    for column in spec.columns:
        value = ident(column.name) if column.name in present else "null::varchar"
        if column.name == poison:
            # A refused row keeps its place (and line) in the file; an empty required column makes ingest reject it.
            value = f"case when _reason is null then {value} end"
        select.append(f"{value} as {column.name}")
    order = "_line, " + ", ".join(ident(k) for k in spec.key if k in present)
    path = workdir / f"{table}.csv"
    con.execute(
        f"""
        copy (
            with numbered as (
                select *, row_number() over (order by {order}) + 1 as _file_line from {relation}
            )
            select {", ".join(select)} from numbered order by _file_line
        ) to {sql_string(str(path))} (header, delimiter ',', quote '"')
        """
    )
    con.execute(PROVENANCE_DDL)
    # Aggregated tables (orders of an order-line export) map each file line to the export line it comes from.
    keep = "_reason is not null" if source_lines else "true"
    con.execute(
        f"""
        insert into _provenance
        with numbered as (
            select *, row_number() over (order by {order}) + 1 as _file_line from {relation}
        )
        select {sql_string(table)}, _file_line, _line, _column, _reason, _raw from numbered where {keep}
        """
    )
    con.execute("create table if not exists _export_records (records bigint)")
    rows, lines_ok = con.sql(
        f"""
        select count(*), count(*) = count(distinct _line)
            and count(*) = coalesce((select max(records) from _export_records), count(*))
        from {relation}
        """
    ).fetchall()[0]
    if source_lines and not lines_ok:
        raise AssertionError(f"{table}: a source-lines file must have one row per export record")
    return Derived(table, path, unit, rows, source_lines=source_lines, new_only=new_only)


def adapter_rejects(con: duckdb.DuckDBPyConnection) -> tuple[int, str | None]:
    """How many rows the adapter refused, and the first as 'line N, column C: reason'."""
    con.execute(PROVENANCE_DDL)
    count = con.sql("select count(*) from _provenance where reason is not null").fetchall()[0][0]
    first = con.sql(
        "select source_line, column_name, reason from _provenance where reason is not null order by source_line limit 1"
    ).fetchall()
    text = f"line {first[0][0]}, column {first[0][1]}: {first[0][2]}" if first else None
    return count, text


# ---------------------------------------------------------------------------------------------------------------
# Loading


def _drop_known(derived: Derived, db_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Rewrites a new_only file without the keys the warehouse already has."""
    if not Path(db_path).exists():
        return
    spec = TABLES[derived.table]
    key = ", ".join(spec.key)
    with open_read_only(Path(db_path)) as warehouse:
        known = warehouse.sql(f"select distinct {key} from {spec.name}").to_arrow_table()
    if known.num_rows == 0:
        return
    con.register("known", known)
    literal = sql_string(str(derived.path))
    reader = f"read_csv({literal}, all_varchar = true, header = true)"
    con.execute(f"create or replace temp table _derived as select row_number() over () as _n, * from {reader}")
    match = " and ".join(f"d.{k} = cast(k.{k} as varchar)" for k in spec.key)
    before = derived.rows
    con.execute(
        f"""
        copy (
            select d.* exclude (_n) from _derived d
            where not exists (select 1 from known k where {match})
            order by d._n
        ) to {literal} (header, delimiter ',', quote '"')
        """
    )
    derived.rows = con.sql(f"select count(*) from {reader}").fetchall()[0][0]
    derived.known = before - derived.rows
    if derived.known:
        # The file's lines moved: rejects of this file keep its own line numbers rather than wrong export lines.
        con.execute("delete from _provenance where table_name = ?", [derived.table])


def _store_timezone(db_path: Path, timezone: str | None, default: str | None) -> str:
    """The store's time zone: the warehouse's own, else the one asked for, else the export's usual one, else UTC."""
    if Path(db_path).exists():
        with open_read_only(Path(db_path)) as con:
            return store_settings(con).get("timezone", "UTC")
    return timezone or default or "UTC"


def _store_currency(db_path: Path, currency: str | None, plan: Plan, options_store: str) -> tuple[str, list[str]]:
    """The currency to load with, and a warning when the export's is not the warehouse's."""
    if not Path(db_path).exists():
        return currency or plan.currency or "CNY", []
    with open_read_only(Path(db_path)) as con:
        settings = store_settings(con)
    warnings = []
    if options_store:
        return settings.get("currency", "CNY"), []  # a named store keeps the export's currency (the stores table)
    if plan.currency and settings.get("currency") and plan.currency != settings["currency"]:
        warnings.append(
            f"the export is in {plan.currency} but the warehouse's currency is {settings['currency']}: "
            "amounts are stored as they are, not converted"
        )
    return settings.get("currency", "CNY"), warnings


def _is_derived(path: str) -> bool:
    return Path(path).parent.name.startswith(_SCRATCH_PREFIX)


def _record_provenance(db_path: Path, source: Path, con: duckdb.DuckDBPyConnection, tables: list[TableResult]) -> None:
    """Points the ledger and the rejects of the derived files at the export (line, reason and raw row of its own)."""
    loads = []
    with open_read_only(Path(db_path)) as warehouse:
        for item in tables:
            rows = warehouse.sql(
                "select load_id, path from ingest_log where list_contains(?, content_hash) and table_name = ?",
                params=[[*item.derived.digests, content_hash(item.derived.path)], item.derived.table],
            ).fetchall()
            # Only loads still named after a derived file (of this run, or of a run killed before this step):
            # a load already pointed at its export, this one or an identical other, is left as it is.
            loads += [(load_id, item.derived.table) for load_id, path in rows if _is_derived(path)]
    if not loads:
        return  # already done: importing the same export again must not touch the warehouse
    with scratch_folder("shopkpi-provenance-") as scratch:
        provenance = Path(scratch) / "provenance.parquet"
        con.execute(f"copy _provenance to {sql_string(str(provenance))} (format parquet)")
        with writing(Path(db_path)) as warehouse:
            warehouse.execute("begin transaction")
            warehouse.execute(
                f"create temp table _provenance as select * from read_parquet({sql_string(str(provenance))})"
            )
            for load_id, table in loads:
                warehouse.execute(
                    """
                    update rejects r set
                        line = coalesce(p.source_line, r.line),
                        column_name = coalesce(p.column_name, r.column_name),
                        reason = coalesce(p.reason, r.reason),
                        raw_row = coalesce(p.raw_row, r.raw_row)
                    from _provenance p
                    where r.load_id = ? and p.table_name = ? and p.line = r.line
                    """,
                    [load_id, table],
                )
                warehouse.execute("update rejects set file = ? where load_id = ?", [str(source), load_id])
                warehouse.execute("update ingest_log set path = ? where load_id = ?", [str(source), load_id])
            warehouse.execute("commit")


def run_import(
    db_path: Path,
    format_name: str,
    build: Callable[[duckdb.DuckDBPyConnection, Path, Path, ImportOptions], Plan],
    path: Path,
    *,
    default_timezone: str | None = None,
    options: ImportOptions | None = None,
    strict: bool = False,
    store_timezone: str | None = None,
    currency: str | None = None,
    progress: Progress | None = None,
    platform: str | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> ImportResult:
    """Builds the canonical files of one export and loads each through ingest_file; raises IngestError. The rows
    are the store `options.store`'s (default: the warehouse's default store), on `options.platform` (default:
    `platform`, the adapter's), in the export's currency where it says one. `then` is ingest_file's, for the load of
    the export's last table."""
    started = time.perf_counter()
    report = progress or (lambda stage, done: None)
    options = options or ImportOptions()
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty")
    source = path.resolve()
    try:
        tz = _store_timezone(db_path, store_timezone, default_timezone)
    except WarehouseError as exc:
        raise IngestError(str(exc)) from exc
    limits = options.limits
    with scratch_folder(_SCRATCH_PREFIX) as scratch, duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        con.execute(f"set memory_limit = '{int(limits.memory_mb)}MB'")
        # Adapters cast offset and Unix times to naive timestamps: in store time, as ingest itself would.
        con.execute("set TimeZone = ?", [tz])
        report("reading the export", 0.05)
        try:
            plan = build(con, path, Path(scratch), options)
        except duckdb.OutOfMemoryException as exc:
            raise IngestError(
                f"{path}: the import needs more than the memory limit of {limits.memory_mb:,} MB (memory_mb); nothing "
                "was loaded. Split the export, or raise memory_mb in shopkpi.toml or SHOPKPI_MEMORY_MB"
            ) from exc
        except duckdb.Error as exc:  # the adapter's SQL met a value it could not handle: one line, not a traceback
            message = str(exc).strip().splitlines()[0][:300]
            raise IngestError(f"{path}: not a readable {format_name} export ({message})") from exc
        # An export whose times carry UTC offsets names the zone of a new warehouse, or is checked against one.
        tz, zone_notes, zone_warnings = settle_timezone(con, tz, existing=Path(db_path).exists(), asked=store_timezone)
        plan.notes[:0] = zone_notes
        plan.adapter_rejects, plan.first_adapter_reject = adapter_rejects(con)
        if strict and plan.adapter_rejects:
            raise IngestError(
                f"{path}: {plan.adapter_rejects:,} rows rejected, nothing loaded because of --strict "
                f"(first: {plan.first_adapter_reject})"
            )
        cur, warnings = _store_currency(db_path, currency, plan, options.store)
        warnings += zone_warnings
        results: list[TableResult] = []
        for index, derived in enumerate(plan.tables):
            if derived.new_only:
                # A run killed before its provenance step loaded this file unfiltered: remember its hash.
                derived.digests.append(content_hash(derived.path))
                try:
                    _drop_known(derived, db_path, con)
                except WarehouseError as exc:
                    raise IngestError(str(exc)) from exc
            if derived.new_only and derived.rows == 0:
                results.append(TableResult(derived, None))
                continue
            share = 0.1 + 0.8 * index / len(plan.tables)
            report(f"loading {derived.table}", share)
            try:
                result = ingest_file(
                    db_path,
                    derived.table,
                    derived.path,
                    strict=strict,
                    encoding="utf-8",
                    delimiter=",",
                    store_timezone=tz,
                    currency=cur,
                    limits=limits,
                    number_by_record=True,
                    store=options.store or None,
                    platform=options.platform or platform,
                    store_currency=plan.currency if options.store else None,
                    then=then if index == len(plan.tables) - 1 else None,
                )
            except IngestError as exc:  # a refusal of the derived file is one of the export
                raise IngestError(str(exc).replace(str(derived.path), str(path))) from exc
            results.append(TableResult(derived, result))
        report("recording where the rows came from", 0.95)
        try:
            _record_provenance(db_path, source, con, results)
        except WarehouseError as exc:
            raise IngestError(str(exc)) from exc
    report("done", 1.0)
    return ImportResult(format_name, path, plan, results, time.perf_counter() - started, warnings)
