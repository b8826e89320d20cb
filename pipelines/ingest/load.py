"""Loading one export in one transaction: the stages in order (read.py, map.py, validate.py), then the valid rows
upserted by key with row-by-row accounting (inserted, updated, unchanged duplicate), the rejects, and the ingest_log
ledger (`ingest_file`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines.ingest.common import IngestError, Progress, first_line, scratch_folder, silent, watched
from pipelines.ingest.limits import Limits, TextShape, content_hash
from pipelines.ingest.map import ValueFormat, map_columns
from pipelines.ingest.read import checked_file, read_source, readable, within_budget
from pipelines.ingest.validate import validate
from warehouse import (
    DEFAULT_STORE,
    PLATFORMS,
    TABLES,
    Table,
    WarehouseError,
    clear_leftovers,
    note_change,
    open_read_only,
    writing,
)
from warehouse.rollups import EVENT_NARROWING, REPLACED, refresh_rollups, touched_days

log = logging.getLogger("shopkpi.ingest")


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
    # Stored traffic the file replaced (later export wins): (store, first day, last day, rows) per stored period.
    replaced: list[tuple[str, date, date, int]] = field(default_factory=list)

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
        return text + "".join(f"; {note}" for note in self.replaced_notes())

    def replaced_notes(self) -> list[str]:
        """One phrase per stored traffic period the file replaced."""
        return [
            f"replaced {rows:,} stored rows of store {store} over {first} to {last} (this file covers those days; "
            "later export wins)"
            for store, first, last, rows in self.replaced
        ]


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
    limits: Limits | None = None,
    number_by_record: bool = False,
    store: str | None = None,
    platform: str | None = None,
    store_currency: str | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> FileResult:
    """Loads one file into `table` in one transaction and returns its row accounting; raises IngestError.

    `value_format` reads exports that write numbers with a decimal comma, dates in another format, or an enumerated
    column (e.g. status) in their own words; see ValueFormat and load_mapping. `limits` is the load's budget
    (decompressed size, rows, line length, columns, DuckDB's memory); a file over it is refused naming the limit.
    A reject's line is its physical line in the file; with `number_by_record` it is its record's number (header =
    1), which the adapters' derived files map back to the export's own lines.
    `store` names the store the rows belong to where the file has no store column (default: the warehouse's
    default store; expenses: shared by all stores); the stores table records it with its `platform` and
    `store_currency` (default: those already recorded, else 'other' and the warehouse's currency).
    `then(con)` runs once the load has committed, in the same writer and in a transaction of its own, so that what it
    writes is published with the load (the command line builds the rollups of a warehouse's first load there rather
    than in a second writer, which would copy the warehouse again). A DuckDB error in it (the memory budget, say) is
    rolled back and logged and the load stands; the caller's own check (metrics.rollups.ensure_rollups) then finds the
    work still to do. Any other exception is a bug: it fails the load, which publishes nothing.
    """
    started = time.perf_counter()
    started_at = datetime.now()
    report = progress or silent
    if table not in TABLES:
        raise IngestError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    spec = TABLES[table]
    path = Path(path)
    fmt, compressed = checked_file(path, encoding)

    limits = limits or Limits()
    report("checking the size", 0.05)
    shape = within_budget(path, fmt, compressed, limits, delimiter)  # a text file's hash comes with it
    digest = shape.digest if shape is not None else None
    if digest is None:  # Parquet
        report("hashing", 0.08)
        digest = content_hash(path)
    if _loaded_before(Path(db_path), digest, table, store):
        clear_leftovers(Path(db_path))  # this load never takes the writer's lock, which clears them
        return FileResult(path, table, "already loaded", seconds=time.perf_counter() - started)

    with scratch_folder("shopkpi-ingest-") as workdir:  # a file transcoded to UTF-8 goes there
        read_path, chosen = readable(path, fmt, compressed, encoding, Path(workdir), report)
        try:
            report("reading", 0.25)
            scanned = shape if read_path == path else None  # a transcoded file's text is not the one scanned
            source = _scratch_source(path, fmt, read_path, delimiter, limits, scanned)
            source.shape = None if number_by_record else shape
            mapping, ignored = map_columns(path, spec, source.columns, column_map or {})
            with writing(Path(db_path), store_timezone=store_timezone, currency=currency) as con:
                if _already_loaded(con, digest, table, store):
                    raise _AlreadyLoaded
                chosen_store = _use_store(con, store)
                # DuckDB tracks progress for query_progress() but prints nothing: the caller draws the bar.
                con.execute("set enable_progress_bar = true")
                con.execute("set enable_progress_bar_print = false")
                con.execute(f"set memory_limit = '{int(limits.memory_mb)}MB'")
                con.execute("begin transaction")
                report("validating", 0.45)
                checked = validate(
                    con,
                    path,
                    spec,
                    source,
                    mapping,
                    value_format or ValueFormat(),
                    strict,
                    report,
                    chosen,
                    key_hash=_key_hash(spec),
                )
                report("loading", 0.65)
                within = _where_stored(con, spec, mapping)
                # Before the write: the days of the rows it changes and of those it replaces.
                touched = touched_days(con, table, within=within, identity=(_key_hash(spec), _row_hash(spec)))
                replaced = _replace_overlapped_traffic(con, path) if table == "traffic" else []
                with watched(con, report, "loading", 0.65, 0.9):
                    inserted, updated, duplicates = _classify_and_write(con, spec, within)
                con.execute(f"drop table if exists {REPLACED}")
                if replaced:
                    _note_stores_traffic(con)
                _record_stores(con, spec, "store" in mapping, chosen_store, platform, store_currency)
                refresh_rollups(con, touched)
                rows_read = inserted + updated + duplicates + checked.rejected
                result = FileResult(
                    path, table, "loaded", rows_read, inserted, updated, duplicates, checked.rejected, ignored, chosen
                )
                result.replaced = replaced
                _record(con, result, digest, started_at, checked.structural, chosen_store)
                report("committing", 0.9)
                con.execute("commit")
                if then is not None:
                    _after_commit(con, then, path)
        except _AlreadyLoaded:
            return FileResult(path, table, "already loaded", seconds=time.perf_counter() - started)
        except WarehouseError as exc:
            raise IngestError(str(exc)) from exc
        except duckdb.OutOfMemoryException as exc:
            raise IngestError(
                f"{path}: the load needs more than the memory limit of {limits.memory_mb:,} MB (memory_mb); nothing "
                f"was loaded. Split the file, or raise memory_mb in shopkpi.toml or SHOPKPI_MEMORY_MB"
            ) from exc
        except duckdb.Error as exc:
            raise IngestError(f"{path}: could not be loaded ({first_line(exc)})") from exc
    report("done", 1.0)
    result.seconds = time.perf_counter() - started
    return result


def _after_commit(
    con: duckdb.DuckDBPyConnection, then: Callable[[duckdb.DuckDBPyConnection], object], path: Path
) -> None:
    """Runs `then(con)` in a transaction of its own after the load of `path` has committed; a DuckDB error rolls back
    its work only, said in one line. The load's scratch tables go first: the staged rows of a large file would take
    most of the memory budget."""
    scratch = con.sql("select table_name, table_type from information_schema.tables where table_catalog = 'temp'")
    for name, kind in scratch.fetchall():
        con.execute(f'drop {"view" if kind == "VIEW" else "table"} if exists temp.main."{name}"')
    con.execute("begin transaction")
    try:
        then(con)
    except duckdb.Error as exc:
        con.execute("rollback")
        log.warning("shopkpi: %s is loaded; what follows the load was not done (%s)", path, first_line(exc))
        return
    con.execute("commit")


def _scratch_source(
    path: Path, fmt: str, read_path: Path, delimiter: str | None, limits: Limits, shape: TextShape | None = None
):
    """The file's reader (a relation over it, connection-independent), opened on a scratch in-memory DuckDB before
    the warehouse is: a file refused for its shape (unreadable, columns repeated or too many, over the budget, no
    column the table needs) neither waits for the writer nor copies the warehouse. `shape`: the budget's pass over
    the text the reader reads."""
    with duckdb.connect() as scratch:
        scratch.execute(f"set memory_limit = '{int(limits.memory_mb)}MB'")
        return read_source(scratch, path, fmt, read_path, delimiter, limits, shape)


def ingest_files(db_path: Path, table: str, paths: Iterable[Path], **options) -> list[FileResult]:
    """Loads each file in turn, each in its own transaction; stops at the first file-level error."""
    return [ingest_file(db_path, table, Path(path), **options) for path in paths]


def _loaded_before(db_path: Path, digest: str, table: str, store: str | None) -> bool:
    """Whether the published warehouse already holds this content for this table (read without waiting for the
    writer; the writer checks again inside the transaction)."""
    if not db_path.exists():
        return False
    try:
        with open_read_only(db_path, brief=True) as con:
            return _already_loaded(con, digest, table, store)
    except WarehouseError:
        return False  # reported with more context by the writer


def _already_loaded(con: duckdb.DuckDBPyConnection, digest: str, table: str, store: str | None) -> bool:
    # The same file loaded for another store is another load (two stores' exports can be byte for byte the same).
    found = con.sql(
        """
        select count(*) from ingest_log
        where content_hash = ? and table_name = ?
            and coalesce(store, '') = coalesce(?, (select value from shopkpi_meta where key = 'default_store'), '')
        """,
        params=[digest, table, store],
    )
    return found.fetchall()[0][0] > 0


def _use_store(con: duckdb.DuckDBPyConnection, store: str | None) -> str:
    """The store of the load's rows where the file does not name one (`store`, else the warehouse's default store),
    set for validate's defaults."""
    default = con.sql("select value from shopkpi_meta where key = 'default_store'").fetchall()
    chosen = store or (default[0][0] if default else DEFAULT_STORE)
    con.execute("set variable shopkpi_store = ?", [chosen])
    con.execute("set variable shopkpi_expense_store = ?", [store or ""])
    return chosen


def _record_stores(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    own_column: bool,
    chosen: str,
    platform: str | None,
    currency: str | None,
) -> None:
    """The stores of the loaded rows, in the stores table (products and inventory are shared by every store; an
    expense of store '' by all). The load's own store takes `platform` and `currency` where given (else those
    already recorded, else 'other' and the warehouse's currency); another store the file names (its own store
    column, e.g. tickets of several stores: `own_column`) is on the platform it is named after (tmall, jd,
    own_site), else other."""
    if "store" not in (c.name for c in table.columns):
        return
    # Without a store column every row has the load's store: one row tells it (a distinct over 49 M events took 2 s).
    distinct = "distinct" if own_column else ""
    limit = "" if own_column else "limit 1"
    stores = [
        row[0] for row in con.sql(f"select {distinct} store from _checked where _error is null {limit}").fetchall()
    ]
    con.execute(
        """
        insert into stores
        select distinct
            store,
            case
                when store = $chosen and $platform is not null then $platform
                when list_contains($platforms, store) then store
                else 'other'
            end,
            coalesce(
                case when store = $chosen then $currency end,
                (select value from shopkpi_meta where key = 'currency'),
                'CNY'
            )
        from (select unnest($stores::varchar[]) as store)
        where store <> ''
        on conflict (store) do update set
            platform = coalesce(case when excluded.store = $chosen then $platform end, stores.platform),
            currency = coalesce(case when excluded.store = $chosen then $currency end, stores.currency)
        """,
        {"chosen": chosen, "platform": platform, "currency": currency, "platforms": list(PLATFORMS), "stores": stores},
    )
    # Replayed on the idle copy (warehouse/store.py): the stores the file names, as they now are.
    note_change(
        con, "stores", "select * from stores where list_contains(?::varchar[], store)", key="store", params=[stores]
    )


def _replace_overlapped_traffic(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, date, date, int]]:
    """Deletes the stored traffic rows that the file's valid rows overlap with another date range (a week's export
    stored, the quarter holding it loaded), where the file covers every day of them; returns (store, first day, last
    day, rows) per stored period replaced. Raises IngestError, before anything is written, for a file whose own rows
    mix periods, or whose rows overlap stored ones covering days the file does not (a range's totals cannot be
    split: keeping both would count the common days twice, replacing would lose the others)."""
    # The within-file rule of the adapters (pipelines/adapters), for `shopkpi ingest traffic` too.
    check_one_period(con, path, "(select * from _lined where _error is null)", per_store=True)
    con.execute(
        """
        create or replace temp table _overlapped as
        with
        loaded as (select distinct store, date, end_date from _lined where _error is null),
        loaded_days as (
            select distinct store, cast(unnest(generate_series(date, end_date, interval 1 day)) as date) as day
            from loaded
        ),
        stored as (
            select store, date, end_date, count(*) as stored_rows
            from traffic where store in (select store from loaded)
            group by all
        ),
        overlapped as (
            select distinct s.*
            from stored s join loaded n
                on s.store = n.store and s.date <= n.end_date and n.date <= s.end_date
                and (s.date <> n.date or s.end_date <> n.end_date)
        ),
        overlapped_days as (
            select store, date, end_date, cast(unnest(generate_series(date, end_date, interval 1 day)) as date) as day
            from overlapped
        ),
        uncovered as (
            select store, date, end_date, min(day) as first_uncovered, max(day) as last_uncovered
            from overlapped_days anti join loaded_days using (store, day)
            group by all
        )
        select o.*, u.first_uncovered, u.last_uncovered
        from overlapped o left join uncovered u using (store, date, end_date)
        order by o.store, o.date, o.end_date
        """
    )
    overlapped = con.sql("select * from _overlapped").fetchall()
    for store, first, last, rows, uncovered_from, uncovered_to in overlapped:
        if uncovered_from is not None:
            days = uncovered_from if uncovered_from == uncovered_to else f"{uncovered_from} to {uncovered_to}"
            raise IngestError(
                f"{path}: its rows overlap store {store}'s stored traffic of {first} to {last} ({rows:,} rows), "
                f"which also counts days this file does not cover ({days}); a period's totals cannot be split, so "
                f"nothing was loaded. Load an export covering {first} to {last} (it replaces those rows), or this "
                "one into another store (--store)"
            )
    if not overlapped:
        return []
    con.execute(
        """
        delete from traffic
        where (store, date, end_date) in (select (store, date, end_date) from _overlapped)
        """
    )
    return [(store, first, last, rows) for store, first, last, rows, _, _ in overlapped]


def check_one_period(con: duckdb.DuckDBPyConnection, path: Path, relation: str, per_store: bool = False) -> None:
    """Refuses a traffic report whose rows have periods that overlap without being the same (a daily row inside a
    weekly one; of the same store with `per_store`): each row's figures would be counted twice. `relation` has _line,
    date and end_date (DATE), and store with `per_store`."""
    same_store = "a.store = b.store and " if per_store else ""
    clash = con.sql(
        f"""
        select a._line, a.date, a.end_date, b._line, b.date, b.end_date
        from {relation} a join {relation} b
            on {same_store}a._line > b._line and a.date <= b.end_date and b.date <= a.end_date
            and (a.date <> b.date or a.end_date <> b.end_date)
        order by a._line limit 1
        """
    ).fetchall()
    if clash:
        line, first, last, other, other_first, other_last = clash[0]
        raise IngestError(
            f"{path}: line {line}: the period {first} to {last} overlaps line {other}'s {other_first} to "
            f"{other_last}: a file mixing periods is refused; export one period (or one row per day) per file"
        )


def _note_stores_traffic(con: duckdb.DuckDBPyConnection) -> None:
    """Journals the traffic of the stores a load replaced rows of, whole (a few hundred rows a store): the replay
    deletes those stores' rows, the replaced ones with them, and inserts them as they now are."""
    note_change(
        con,
        "traffic",
        "select * from traffic where store in (select distinct store from _lined where _error is null)",
        key="store",
    )


def _where_stored(con: duckdb.DuckDBPyConnection, table: Table, mapping: dict[str, str]) -> str:
    """SQL: a condition that every stored row sharing a key with a valid row of _checked meets, narrowing the scan
    of the stored rows; "true" where none is known.

    Events whose file has no id are keyed by their values (_row_key), so a stored event with the same key has the
    same values: its time lies within the file's. The stored events of other months are then skipped by
    their row groups' time ranges, instead of every stored id being looked up (2 s for a month of events into the
    44 M of the year before it). Ids given by the file (an id may be re-exported with another time) get no such
    condition."""
    if table.name != "events" or "event_id" in mapping:
        return "true"
    first, last = con.sql("select min(occurred_at), max(occurred_at) from _checked where _error is null").fetchall()[0]
    if first is None:
        return "false"
    return f"occurred_at between timestamp '{first}' and timestamp '{last}'"


def _classify_and_write(con: duckdb.DuckDBPyConnection, table: Table, within: str = "true") -> tuple[int, int, int]:
    """Upserts the valid rows of _checked; returns (inserted, updated, duplicates), counted row by row in file order.

    A row is compared with the previous row of the same key in the file, or else with the stored row: no such
    row means inserted, a different one updated, an identical one an unchanged duplicate. The last row of each
    key is what the table keeps. `within` (_where_stored) narrows the stored rows read.
    """
    columns = ", ".join(c.name for c in table.columns)
    rows = con.sql("select count(*) from _checked where _error is null").fetchall()[0][0]
    _find_repeated_keys(con, rows)
    repeated_rows = con.sql("select coalesce(sum(_rows), 0) from _repeated").fetchall()[0][0]
    # The stored rows that may share a key with the file's (all of them where touched_days did not find those).
    stored_rows = con.sql(f"select count(*) from {_stored(con, table)} where {within}").fetchall()[0][0]
    # The rows of keys the file does not repeat need no comparison with each other (one repeated key among 49 M
    # events sent every row through the window functions: minutes of spilling); into an empty table they are new, so
    # they are written without any comparison (as into a table that holds none of the file's keys: a month of events
    # into the year before it). Only the rows of the repeated keys are compared in file order.
    unrepeated = "and _key_hash not in (select _key_hash from _repeated)" if repeated_rows else ""
    if stored_rows > 0:
        inserted, updated, duplicates = _compare_and_write(con, table, False, unrepeated, within)
    else:
        unique = f"select {columns} from _checked where _error is null {unrepeated}"
        con.execute(f"insert into {table.name} ({columns}) {unique}")
        note_change(con, table.name, unique, count=rows - repeated_rows)
        inserted, updated, duplicates = rows - repeated_rows, 0, 0
    if repeated_rows:
        among = "and _key_hash in (select _key_hash from _repeated)"
        counts = _compare_and_write(con, table, True, among, within)
        inserted, updated, duplicates = inserted + counts[0], updated + counts[1], duplicates + counts[2]
    return inserted, updated, duplicates


# From this many valid rows (and up to REPEATS_IN_NUMPY_UPTO: 8 bytes a row outside DuckDB's memory budget, 0.4 GB
# for issue 14's 50 M-row file) the repeated keys are found by numpy rather than DuckDB: for 49 M events in a load
# 2.0 s instead of 3.0 s.
REPEATS_IN_NUMPY_FROM = 1_000_000
REPEATS_IN_NUMPY_UPTO = 60_000_000


def _find_repeated_keys(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """The file's repeated keys, into _repeated (each key hash with the number of valid rows that have it), by the hash
    validate stored (_key_hash): a fraction of the time of key strings. Rows of different keys with equal hashes only
    count as repeated, which takes the comparisons of _classify_and_write: the result stays exact. Found as equal
    neighbours once sorted: grouping by the hash (a hash table of every key) took 13 s for 49 M events and once ran
    out of the 2 GB budget; sorted by DuckDB 3.0 s, by numpy (the hashes fetched, 390 MB, sorted in place) 2.0 s."""
    if not REPEATS_IN_NUMPY_FROM <= rows <= REPEATS_IN_NUMPY_UPTO:
        con.execute(
            """
            create or replace temp table _repeated as
            with neighbours as (
                select _key_hash, lag(_key_hash) over (order by _key_hash) as _before
                from _checked where _error is null
            )
            select _key_hash, count(*) + 1 as _rows
            from neighbours where _key_hash = _before
            group by _key_hash
            """
        )
        return
    import numpy as np  # only for a large file
    import polars as pl

    # Into one array, batch by batch: a whole result fetched at once held twice the array's memory.
    hashes, at = np.empty(rows, dtype=np.uint64), 0
    for batch in con.sql("select _key_hash from _checked where _error is null").to_arrow_reader(1_000_000):
        column = batch.column(0).to_numpy(zero_copy_only=False)
        hashes[at : at + len(column)] = column
        at += len(column)
    hashes = hashes[:at]  # the rows fetched (as many as counted: no load writes between)
    hashes.sort()
    equal = hashes[1:] == hashes[:-1]
    repeated, neighbours = np.unique(hashes[1:][equal], return_counts=True)
    del hashes, equal
    found = pl.DataFrame({"_key_hash": pl.Series(repeated, dtype=pl.UInt64), "_rows": neighbours.astype(np.int64) + 1})
    con.register("_repeated_found", found)
    try:
        con.execute("create or replace temp table _repeated as select _key_hash, _rows from _repeated_found")
    finally:
        con.unregister("_repeated_found")


def _compare_and_write(
    con: duckdb.DuckDBPyConnection, table: Table, repeats: bool, among: str = "", within: str = "true"
) -> tuple[int, int, int]:
    """_classify_and_write's comparisons, for the valid rows of _lined (those `among` selects, an SQL condition
    starting with AND): each with the previous row of its key in the file (when the file `repeats` keys) or else the
    stored row (among those `within` selects); writes the last row of each key where it differs from the stored
    one."""
    columns = ", ".join(c.name for c in table.columns)
    stored_rows = _stored(con, table)
    # The rows meet their stored ones by the hash of their key, then are compared column by column (_same_key): the
    # text of a key (_row_key) is built only where the file repeats it, to put those rows in order. A month of events
    # keyed by their values, loaded again: 7.1 s → 3.5 s.
    key_text = f", {_row_key(table)} as _key" if repeats else ""
    con.execute(
        f"""
        create or replace temp table _valid as
        select {columns}, _line, {_key_hash(table)} as _key_hash, {_row_hash(table)} as _hash{key_text}
        from _lined where _error is null {among}
        """
    )
    previous_in_file = "lag(v._hash) over (partition by v._key order by v._line)" if repeats else "null"
    last_in_file = "row_number() over (partition by v._key order by v._line desc) = 1" if repeats else "true"
    con.execute(
        f"""
        create or replace temp table _ranked as
        with stored as (
            select {", ".join(_key_columns(table))}, {_key_hash(table)} as _key_hash, {_row_hash(table, "t")} as _hash
            from {stored_rows} t
            where ({within})
                and {_first_key_among(table, "_valid", "t")} {_key_hash(table)} in (select _key_hash from _valid)
        ),
        sequenced as (
            select v.*,
                coalesce({previous_in_file}, s._hash) as _previous,
                {last_in_file} as _last,
                s._hash as _stored
            from _valid v left join stored s on s._key_hash = v._key_hash and {_same_key(table, "v", "s")}
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
    replaced = "_ranked where _last and _stored is not null and _stored <> _hash"
    con.execute(
        f"""
        delete from {table.name}
        where {_first_key_among(table, replaced)} {_row_key(table)} in (select {_row_key(table)} from {replaced})
        """
    )
    written = f"select {columns} from _ranked where _last and (_stored is null or _stored <> _hash)"
    con.execute(f"insert into {table.name} ({columns}) {written}")
    # Replayed on the idle copy as here: the stored rows of the written keys deleted, the written rows inserted.
    note_change(con, table.name, written, key=_row_key(table), count=inserted + updated, narrow=_narrowing(table))
    return inserted, updated, duplicates


def _stored(con: duckdb.DuckDBPyConnection, table: Table) -> str:
    """The stored rows the load may replace: those touched_days found, where it ran (a warehouse with rollups), else
    the table."""
    found = con.sql("select count(*) from duckdb_tables() where temporary and table_name = ?", params=[REPLACED])
    return REPLACED if found.fetchall()[0][0] else table.name


def _first_key_among(table: Table, rows: str, alias: str = "") -> str:
    """SQL `k in (select k from ROWS) and` on the key's first part after the store that is never null (_narrowing),
    else nothing: a join on stored values that spares building the key's text for every stored row (a one-row file
    into 49 M events did that for each of them). The store is skipped: most warehouses have one, so it narrows
    nothing."""
    first = _narrowing(table)
    if first is None:
        return ""
    return f"{_narrowing(table, alias)} in (select {first} from {rows}) and"


def _narrowing(table: Table, alias: str = "") -> str | None:
    """SQL: the key's first column after the store whose stored values are never null, if any. For events, whose id
    is null where the export gave none, the id else the session (EVENT_NARROWING)."""
    prefix = f"{alias}." if alias else ""
    if table.name == "events":
        return EVENT_NARROWING.format(prefix=prefix)
    for name in table.key:
        if name != "store" and table.column(name).required:
            return prefix + name
    return None


# The columns of an event's key when its export gives an id; without one, it is the others'.
_EVENT_KEY = ("store", "event_id")


def _row_key(table: Table, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    if table.name == "events":
        # (store, event_id), or for an event its export gave no id (event_id null), (store, its values): a re-export
        # of the same events is not doubled.
        values = " || chr(31) || ".join(
            f"coalesce(cast({prefix}{c.name} as varchar), '')" for c in table.columns if c.name not in _EVENT_KEY
        )
        given = f"'id' || chr(31) || {prefix}event_id"
        return f"{prefix}store || chr(31) || coalesce({given}, 'values' || chr(31) || {values})"
    if table.name == "order_items":
        # (store, order_id, line_no) where the export numbers its lines, else (store, order_id, sku).
        line = f"coalesce('#' || cast({prefix}line_no as varchar), 'sku:' || {prefix}sku)"
        return f"{prefix}store || chr(31) || {prefix}order_id || chr(31) || {line}"
    parts = [f"coalesce(cast({prefix}{k} as varchar), '')" for k in table.key]
    return parts[0] if len(parts) == 1 else " || chr(31) || ".join(parts)


def _key_hash(table: Table) -> str:
    """SQL: a hash of the row's key, equal for equal keys, from the key's columns rather than its text (building
    the text of 49 M event keys doubled the time of finding the repeated ones)."""
    if table.name == "order_items":
        return f"hash({_row_key(table)})"
    if table.name == "events":
        values = ", ".join(c.name for c in table.columns if c.name not in _EVENT_KEY)
        return f"(case when event_id is null then hash(store, {values}) else hash(store, event_id) end)"
    return f"hash({', '.join(f'coalesce(cast({k} as varchar), {chr(39) * 2})' for k in table.key)})"


def _key_columns(table: Table) -> list[str]:
    """The columns _same_key compares: the key's (for an event, all of them: an event without an id is keyed by its
    values; for an order line, its number and its SKU)."""
    if table.name == "events":
        return [c.name for c in table.columns]
    if table.name == "order_items":
        return ["store", "order_id", "line_no", "sku"]
    return list(table.key)


def _same_key(table: Table, a: str, b: str) -> str:
    """SQL: whether the rows aliased `a` and `b` have the same key, as _key_hash hashes it (_row_key's parts,
    compared one by one rather than as one text)."""
    if table.name == "events":
        values = " and ".join(
            f"{a}.{c} is not distinct from {b}.{c}" for c in _key_columns(table) if c not in _EVENT_KEY
        )
        return (
            f"{a}.store = {b}.store and (case when {a}.event_id is not null then {a}.event_id = {b}.event_id "
            f"else {b}.event_id is null and {values} end)"
        )
    if table.name == "order_items":
        return (
            f"{a}.store = {b}.store and {a}.order_id = {b}.order_id and (case when {a}.line_no is not null "
            f"then {a}.line_no = {b}.line_no else {b}.line_no is null and {a}.sku = {b}.sku end)"
        )
    part = "coalesce(cast({row}.{column} as varchar), '')"
    return " and ".join(f"{part.format(row=a, column=k)} = {part.format(row=b, column=k)}" for k in table.key)


def _row_hash(table: Table, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f"hash({', '.join(prefix + c.name for c in table.columns)})"


def _record(
    con: duckdb.DuckDBPyConnection,
    result: FileResult,
    digest: str,
    started_at: datetime,
    structural: list[tuple[int, str, str]],
    store: str,
) -> None:
    """The file's rejects (its rows' and the CSV reader's own) and its entry in the ingest_log ledger, under one
    load_id."""
    load_id = con.sql("select nextval('load_id_seq')").fetchall()[0][0]
    _record_rejects(con, load_id, result.path, TABLES[result.table], structural)
    con.execute(
        "insert into ingest_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            str(result.path.resolve()),
            digest,
            result.table,
            started_at,
            datetime.now(),
            result.rows_read,
            result.inserted,
            result.updated,
            result.duplicates,
            result.rejected,
            ", ".join(result.ignored_columns) or None,
            store,
        ],
    )
    note_change(con, "rejects", "select * from rejects where load_id = ?", params=[load_id], count=result.rejected)
    note_change(con, "ingest_log", "select * from ingest_log where load_id = ?", params=[load_id], count=1)


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
