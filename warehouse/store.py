"""The DuckDB warehouse file: its creation and schema version, and safe reading beside writing.

DuckDB lets one process write a file or many processes read it, never both. So no process ever opens the live
file for writing: a writer changes a private copy in one transaction, checkpoints, and atomically renames the
copy over the live file (`os.replace`). Readers hold read-only connections; they keep a consistent snapshot of
the file they opened, and reopen when the live file's inode changes. A writer killed at any point leaves only a
stray temporary copy (and DuckDB's spill folder for it), never a half-written warehouse; the next writer removes
them. Writers queue on an advisory lock file. A damaged file or an unwritable folder is a WarehouseError.

The private copy costs in proportion to the file loaded, not to the warehouse (issue 14): from PAIR_FROM_BYTES on,
the warehouse is an A/B pair. Publishing keeps the previous live file as the idle copy (`.NAME.idle`, a hard link),
and a load that says what it changed (`note_change`) leaves a journal of those rows (`.NAME.journal`, Parquet). The
next writer takes the idle copy, replays the journal on it (bringing it to the live state), and works on it, instead
of copying the whole warehouse. A block whose changes cannot be journaled (a journal too large to replay,
JOURNAL_MAX_ROWS; a table changed and not noted, by row counts; a schema upgrade; a new warehouse) copies the file it
has just published as the idle copy, with an empty journal, before it lets go of the lock: the large load pays for
the copy, not the small one after it. The next writer falls back to the full copy whenever the pair cannot be
trusted: no journal, a journal for another live file or generation, or a reader still holding the idle file (its
lock; or any connection of this process ever opened on it). A dashboard that keeps its connection on a retired file
makes at most the one load after that copy; the one after it finds a free idle copy again.
Why this design and not one file per table: the warehouse stays one DuckDB file that an analyst opens with
`duckdb.connect(path)` and finds every table in (SPEC §3), readers are unchanged, and every kind of load (also one
that updates keys in place) is covered by the same replay. The price is twice the disk (the idle copy).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.schema import DEFAULT_STORE, LEDGER_DDL, SCHEMA_VERSION, STORES_DDL, TABLES, table_ddl

log = logging.getLogger(__name__)

# A DuckDB file starts with a 4096-byte main header (the magic bytes "DUCK" at offset 8) and two 4096-byte database
# headers; its blocks follow. A complete file is at least this header plus block_size × total_blocks bytes long.
_HEADER_BYTES = 3 * 4096
_MAGIC = b"DUCK"


class WarehouseError(Exception):
    """A problem with the warehouse file itself, explained in one line for the user."""


def _damaged(path: Path, reason: str) -> WarehouseError:
    return WarehouseError(
        f"{path} is not a shopkpi warehouse or is damaged ({reason}): "
        "restore it from a backup, or move it away and load the data again"
    )


def _unwritable(folder: Path, exc: OSError) -> WarehouseError:
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return WarehouseError(f"cannot write in {folder}: {blocker} is a file, not a folder; choose another path")
    reason = exc.strerror or type(exc).__name__
    return WarehouseError(f"cannot write in {folder}: {reason}; make it writable or keep the warehouse elsewhere")


def _unreadable(path: Path, exc: OSError) -> WarehouseError:
    return WarehouseError(f"cannot read {path}: {exc.strerror or type(exc).__name__}; check its permissions")


def _duckdb_reason(exc: duckdb.Error, temp: Path, path: Path) -> str:
    """DuckDB's first line, naming the warehouse rather than the writer's private copy."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__).replace(str(temp), str(path))


def _file_problem(path: Path) -> str | None:
    """Why the file cannot be a DuckDB database, if its first bytes tell; raises OSError if it cannot be read."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if not head:
        return "the file is empty"
    if head[8:12] != _MAGIC:
        return "not a DuckDB file"
    return None


def _check_complete(con: duckdb.DuckDBPyConnection, path: Path, size: int) -> None:
    """Refuses a file shorter than its own header says: a truncated copy opens and answers the first queries, then
    fails (or, for `shopkpi upgrade`, would be called up to date)."""
    # used_blocks, not total_blocks: DuckDB cuts free blocks off the end of the file, which total_blocks still counts.
    block_size, blocks = con.sql(
        "select block_size, used_blocks from pragma_database_size() where database_name = current_database()"
    ).fetchall()[0]
    expected = _HEADER_BYTES + block_size * blocks
    if blocks and size < expected:
        raise _damaged(path, f"truncated: {size:,} of {expected:,} bytes")


def _rebuilt_with_store(name: str) -> list[str]:
    """v4: the table rebuilt with a store column and its key per store (DuckDB cannot alter a primary key), each row
    in the warehouse's one store (`main`; tickets and traffic had a free-text store: kept where it was given)."""
    store = {"tickets": f"coalesce(nullif(store, ''), '{DEFAULT_STORE}')", "expenses": "''"}.get(
        name, f"'{DEFAULT_STORE}'"
    )
    if name == "traffic":
        store = f"case when store = '' then '{DEFAULT_STORE}' else store end"
    new = f"_v4_{name}"
    return [
        table_ddl(TABLES[name]).replace(f"create table if not exists {name} (", f"create table {new} ("),
        # By name and without the old store column: tables an earlier step created already have the v4 columns.
        f"insert into {new} by name select columns(lambda c: c <> 'store'), {store} as store from {name}",
        f"drop table {name}",
        f"alter table {new} rename to {name}",
    ]


# The text v4 hashed for an event without an id: its values but the id and the store, in v4's order of the columns.
_EVENT_VALUES = ", ".join(
    f"coalesce(cast({name} as varchar), '')"
    for name in ("session_id", "occurred_at", "event_type", "sku", "page", "position")
)

_STORE_TABLES = ("orders", "order_items", "sessions", "events", "ad_spend", "tickets", "returns", "traffic", "expenses")

# Each step upgrades a warehouse from version N to N + 1; append here when the schema changes.
MIGRATIONS: dict[int, list[str]] = {
    1: [table_ddl(TABLES["tickets"]), table_ddl(TABLES["returns"])],  # v2: customer service and returns (issue 16)
    2: [table_ddl(TABLES["traffic"])],  # v3: traffic counted by the platform (issue 13)
    # v4: several stores in one warehouse (issue 13); the rows so far are the default store's
    3: [
        *(statement for name in _STORE_TABLES for statement in _rebuilt_with_store(name)),
        STORES_DDL,
        f"""insert or ignore into stores
        select '{DEFAULT_STORE}', 'other', coalesce((select value from shopkpi_meta where key = 'currency'), 'CNY')
        where exists (select 1 from orders) or exists (select 1 from sessions) or exists (select 1 from ad_spend)
            or exists (select 1 from traffic where store = '{DEFAULT_STORE}')""",
        # Traffic loaded without --store ('' before v4) in a warehouse that was another store's: its own row.
        """insert or ignore into stores
        select distinct t.store, 'other', coalesce((select value from shopkpi_meta where key = 'currency'), 'CNY')
        from traffic t""",
        "alter table ingest_log add column if not exists store varchar",
        f"update ingest_log set store = '{DEFAULT_STORE}'",
        f"insert or ignore into shopkpi_meta values ('default_store', '{DEFAULT_STORE}')",
    ],
    # v5: an event whose export gave no id is keyed by its values with event_id null, where v4 stored the MD5 of the
    # values (writing it was a third of the time of loading 49 M events); the ids v4 made are made null
    4: [
        "alter table events alter column event_id drop not null",
        f"update events set event_id = null where event_id = md5(concat_ws(chr(31), {_EVENT_VALUES}))",
    ],
}


def _create_schema(
    con: duckdb.DuckDBPyConnection, store_timezone: str, currency: str, default_store: str = DEFAULT_STORE
) -> None:
    con.execute(LEDGER_DDL)
    con.execute(STORES_DDL)
    for table in TABLES.values():
        con.execute(table_ddl(table))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "timezone": store_timezone,
        "currency": currency,
        "created_at": now,
        "default_store": default_store,
    }
    con.executemany("insert or ignore into shopkpi_meta values (?, ?)", list(meta.items()))


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version recorded in the warehouse, or None for a file that is not a shopkpi warehouse."""
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'shopkpi_meta'").fetchall()[0][0]
    if not found:
        return None
    rows = con.sql("select value from shopkpi_meta where key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else None


def _check_version(con: duckdb.DuckDBPyConnection, path: Path, *, can_upgrade: bool) -> bool:
    """Raises WarehouseError for a schema this shopkpi cannot use; upgrades an older one if it may, returning True."""
    version = schema_version(con)
    if version is None:
        raise WarehouseError(f"{path} is a DuckDB file but not a shopkpi warehouse: point --db at another path")
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"{path} was made by a newer shopkpi (schema v{version}, this one knows v{SCHEMA_VERSION}): upgrade shopkpi"
        )
    if version < SCHEMA_VERSION and not can_upgrade:
        raise WarehouseError(
            f"{path} has schema v{version}, this shopkpi needs v{SCHEMA_VERSION}: run `shopkpi upgrade --db {path}`"
        )
    for step in range(version, SCHEMA_VERSION):
        if step not in MIGRATIONS:
            raise WarehouseError(f"{path} has schema v{version}, which this shopkpi cannot upgrade: reload the data")
        for statement in MIGRATIONS[step]:
            con.execute(statement)
        con.execute("update shopkpi_meta set value = ? where key = 'schema_version'", [str(step + 1)])
    return version < SCHEMA_VERSION


def store_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The warehouse's recorded facts: schema_version, timezone, currency, created_at, default_store."""
    return dict(con.sql("select key, value from shopkpi_meta").fetchall())


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")  # noqa: SIM115 (the `with` below closes it)
    except OSError as exc:
        raise _unwritable(path.parent, exc) from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stale_pattern(path: Path) -> re.Pattern[str]:
    # The writer's own names only (see _temp_path): its copy, the copy's WAL, DuckDB's spill folder for the copy and
    # the journal folder being written.
    return re.compile(rf"\.{re.escape(path.name)}\.\d+\.\d+\.tmp(\.tmp|\.wal|\.journal)?")


def _remove_stale_copies(path: Path) -> None:
    # Only called under the writer lock, so every temporary copy left is from a writer that died. A leftover that
    # cannot be removed is logged and left: it must not stop the load.
    pattern = _stale_pattern(path)
    for stale in path.parent.iterdir():
        if pattern.fullmatch(stale.name):
            _remove(stale)


def clear_leftovers(path: Path) -> None:
    """Removes what killed writers left beside the warehouse (copies, their WAL, spill and journal folders) unless a
    writer is at work (it removes them itself). For a command that ends without writing, e.g. a load of a file
    already loaded: a killed writer's copy (as large as the warehouse) would otherwise stay until the next write."""
    path = Path(path)
    pattern = _stale_pattern(path)
    try:
        if not any(pattern.fullmatch(found.name) for found in path.parent.iterdir()):
            return
        handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 (the `with` below closes it)
    except OSError:
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a writer holds the lock
        try:
            _remove_stale_copies(path)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _discard(temp: Path) -> None:
    for leftover in (temp, Path(str(temp) + ".wal")):
        _remove(leftover)


def _open_copy(path: Path, temp: Path, store_timezone: str, currency: str) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """A read-write connection to a checked copy of the warehouse at `temp`, or to a new warehouse if there is none,
    and whether its schema was upgraded on the way.

    Raises WarehouseError, leaving no copy, if the warehouse is damaged or the folder cannot be written.
    """
    exists = path.exists()
    try:
        if exists:
            problem = _file_problem(path)
            if problem:
                raise _damaged(path, problem)
            size = path.stat().st_size  # under the writer lock: nobody replaces the file meanwhile
            shutil.copyfile(path, temp)
    except OSError as exc:
        _discard(temp)
        # Reading the warehouse names it; anything else (the copy's creation, a full disk) is about the folder.
        raise (_unreadable(path, exc) if str(exc.filename) == str(path) else _unwritable(path.parent, exc)) from exc
    try:
        con = duckdb.connect(str(temp))
    except duckdb.Error as exc:
        _discard(temp)
        reason = _duckdb_reason(exc, temp, path)
        raise (_damaged(path, reason) if exists else WarehouseError(f"cannot create {path}: {reason}")) from exc
    upgraded = False
    try:
        if exists:
            _check_complete(con, path, size)
            upgraded = _check_version(con, path, can_upgrade=True)
        else:
            _create_schema(con, store_timezone, currency)
        con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
    except BaseException as exc:
        con.close()
        _discard(temp)
        if isinstance(exc, duckdb.Error):
            reason = _duckdb_reason(exc, temp, path)
            raise (_damaged(path, reason) if exists else WarehouseError(f"cannot create {path}: {reason}")) from exc
        raise
    return con, upgraded


# A journal of more rows than this is not kept (the next load copies the warehouse instead): writing it costs the
# load that made it, and replaying it costs the next load, about a second per million rows; copying a warehouse of
# a few GB costs a few seconds. A day of a mid-size shop (130 k events) is below it, a month (4 M) far above.
JOURNAL_MAX_ROWS = 250_000
# A warehouse smaller than this is copied (a fraction of a second) and keeps no idle copy or journal: writing and
# replaying the journal would cost more than the copy.
PAIR_FROM_BYTES = 256 * 1024 * 1024
_MANIFEST = "manifest.json"


def _idle_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.idle")


def _journal_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.journal")


def _identity(stat: os.stat_result) -> list[int]:
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns]


# The inodes this process has opened read-only. POSIX locks are per process, so DuckDB's lock would not stop this
# process's writer from opening, as its idle copy, a file one of its own readers still reads: never reuse those.
_read_here: set[tuple[int, int]] = set()


@dataclass
class _Journal:
    """What a writing block changed, for the next writer's catch-up: one Parquet file per note_change."""

    folder: Path
    counts: dict[str, int]  # rows per table before the block (to catch a change the block did not note)
    changes: list[dict[str, str | None]] = field(default_factory=list)
    rows: int = 0
    complete: bool = True


_journals: dict[int, _Journal] = {}  # id(connection) -> the journal of the writing block it belongs to


def note_change(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: str,
    *,
    key: str | None = None,
    params: list | None = None,
    count: int | None = None,
    narrow: str | None = None,
    insert: bool = True,
) -> None:
    """Records rows a writing block has just written into `table`, so that the next writer can replay them on the
    idle copy instead of copying the warehouse.

    `rows` is a query giving exactly the table's columns: the rows as they now are (inserted or replaced); `key`,
    for a table whose rows are replaced, is an SQL expression over its columns: replaying first deletes the stored
    rows whose key is among the noted rows' keys. A block that changes a table must note it (or the next writer
    copies the whole warehouse, see writing). `count`, the number of rows if known, spares writing a journal that
    would be too large to keep. `narrow`, a column of the key that is never null, lets the replay find the stored
    rows by a join on it before it computes `key` for them. `insert=False` notes a removal: `rows` are the keys of
    rows the block deleted, and the replay deletes them only. Called on a connection that is not a writer's, it does
    nothing.
    """
    journal = _journals.get(id(con))
    if journal is None or not journal.complete:
        return
    if count is not None and journal.rows + count > JOURNAL_MAX_ROWS:
        journal.complete = False
        return
    journal.folder.mkdir(exist_ok=True)
    file = journal.folder / f"{len(journal.changes)}.parquet"
    con.sql(rows, params=params or []).to_parquet(str(file))
    journal.rows += con.sql("select count(*) from read_parquet(?)", params=[str(file)]).fetchall()[0][0]
    journal.changes.append({"table": table, "file": file.name, "key": key, "narrow": narrow, "insert": insert})
    journal.complete = journal.rows <= JOURNAL_MAX_ROWS


def note_unreplayable(con: duckdb.DuckDBPyConnection) -> None:
    """Records that a writing block changed the warehouse in a way the journal cannot replay (e.g. a table rebuilt
    whole): the next writer copies the warehouse instead of catching up the idle copy."""
    journal = _journals.get(id(con))
    if journal is not None:
        journal.complete = False


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.sql("select table_name, estimated_size from duckdb_tables() where database_name = current_database()")
    return dict(rows.fetchall())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _generation(con: duckdb.DuckDBPyConnection) -> int:
    found = con.sql("select value from shopkpi_meta where key = 'generation'").fetchall()
    return int(found[0][0]) if found else 0


def _set_generation(con: duckdb.DuckDBPyConnection, generation: int) -> None:
    con.execute("insert or replace into shopkpi_meta values ('generation', ?)", [str(generation)])


def _replay(con: duckdb.DuckDBPyConnection, folder: Path, manifest: dict) -> None:
    """Applies a journal's changes in the order they were made, in one transaction."""
    con.execute("begin transaction")
    for change in manifest["changes"]:
        table, file, key = change["table"], str(folder / change["file"]), change["key"]
        if key:
            narrow = change.get("narrow")
            first = f"{narrow} in (select {narrow} from read_parquet($file)) and " if narrow else ""
            con.execute(
                f"delete from {table} where {first}({key}) in (select {key} from read_parquet($file))", {"file": file}
            )
        if change.get("insert", True):
            con.execute(f"insert into {table} by name select * from read_parquet($file)", {"file": file})
    for name, value in manifest["sequences"].items():
        last = con.sql("select last_value from duckdb_sequences() where sequence_name = ?", params=[name]).fetchall()
        for _ in range((value or 0) - (last[0][0] or 0 if last else 0)):
            con.sql(f"select nextval('{name}')").fetchall()
    _set_generation(con, manifest["to"])
    con.execute("commit")


def _caught_up_idle(path: Path, temp: Path) -> duckdb.DuckDBPyConnection | None:
    """A read-write connection to the idle copy, moved to `temp` and brought to the live state by the journal of the
    last load; None (and no copy left) when the pair cannot be trusted."""
    idle, journal = _idle_path(path), _journal_path(path)
    try:
        manifest = json.loads((journal / _MANIFEST).read_text())
        live, spare = os.stat(path), os.stat(idle)
    except (OSError, ValueError):
        return None
    if manifest.get("live") != _identity(live) or spare.st_ino == live.st_ino:
        return None
    if manifest.get("rollup_days"):  # an earlier version's journal: its rollups were to be recomputed, not copied
        return None
    if (spare.st_dev, spare.st_ino) in _read_here:
        return None
    try:
        os.rename(idle, temp)
        con = duckdb.connect(str(temp))  # refused while another process still reads the file (its lock)
    except (OSError, duckdb.Error) as exc:
        log.info("the idle copy of %s cannot be used (%s): copying the warehouse", path, exc)
        _discard(temp)
        return None
    try:
        _check_complete(con, temp, spare.st_size)
        _check_version(con, temp, can_upgrade=True)
        if _generation(con) != manifest["from"]:
            raise WarehouseError(
                f"the idle copy is generation {_generation(con)}, the journal starts at {manifest['from']}"
            )
        _replay(con, journal, manifest)
        con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
    except (duckdb.Error, WarehouseError, OSError, KeyError, TypeError) as exc:
        log.info("the idle copy of %s cannot be brought up to date (%s): copying the warehouse", path, exc)
        con.close()
        _discard(temp)
        return None
    return con


def _remove(leftover: Path) -> None:
    """Removes a file or folder if it is there; one that cannot be removed is logged and left."""
    try:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", leftover, exc)


def _retire(path: Path) -> None:
    """Removes the journal and the idle copy of the published warehouse (they describe the file being replaced)."""
    _remove(_journal_path(path))
    _remove(_idle_path(path))


def _publish(path: Path, temp: Path, journal: _Journal | None, sequences: dict[str, int], generation: int) -> bool:
    """Renames `temp` over the live file; keeps the replaced file as the idle copy and installs the journal when the
    block's changes can be replayed on it. Returns whether it did."""
    keep = journal is not None and journal.complete and path.exists()
    _retire(path)
    if keep:
        try:
            os.link(path, _idle_path(path))
        except OSError as exc:
            log.info("no idle copy of %s (%s): the next load copies the warehouse", path, exc)
            keep = False
    if keep:
        assert journal is not None
        # Installed before the rename, naming the file it leads to: until the rename it matches no live file.
        manifest = {
            "from": generation - 1,
            "to": generation,
            "live": _identity(os.stat(temp)),  # a rename keeps the inode, size and time
            "changes": journal.changes,
            "sequences": sequences,
        }
        try:
            journal.folder.mkdir(exist_ok=True)
            (journal.folder / _MANIFEST).write_text(json.dumps(manifest))
            os.rename(journal.folder, _journal_path(path))
        except OSError as exc:
            log.info("no journal for %s (%s): the next load copies the warehouse", path, exc)
    if journal is not None:
        _remove(journal.folder)
    os.replace(temp, path)  # the commit: the first os.replace of a writer (tests kill the process around it)
    _fsync_dir(path.parent)
    return keep


def _copy_as_idle(path: Path, temp: Path, sequences: dict[str, int], generation: int) -> None:
    """Makes the idle copy of the live file just published, with a journal of no changes: for a block whose changes
    cannot be replayed (too many rows to journal, a change it did not note, a new or upgraded warehouse), so that
    the next load, often a small one, finds the pair ready instead of copying the warehouse itself. The copy costs
    the large block rather than the small load after it. Called under the writer lock; a copy that fails, or a
    writer killed during it, leaves only a temporary copy, which the next writer removes, and no pair."""
    folder = Path(str(temp) + ".journal")
    manifest = {"from": generation, "to": generation, "changes": [], "sequences": sequences}
    try:
        manifest["live"] = _identity(os.stat(path))
        shutil.copyfile(path, temp)
        # On disk before the journal names it (a power cut must not leave a journal over a partial copy), and written
        # back by this block rather than by the next load's checkpoint, whose fsync would wait for it.
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        folder.mkdir()
        (folder / _MANIFEST).write_text(json.dumps(manifest))
        os.rename(temp, _idle_path(path))
        os.rename(folder, _journal_path(path))  # last: a journal without its idle copy would name a missing file
        _fsync_dir(path.parent)
    except OSError as exc:
        log.info("no idle copy of %s (%s): the next load copies the warehouse", path, exc)
        _discard(temp)
        _remove(folder)


@contextmanager
def writing(path: Path, *, store_timezone: str = "UTC", currency: str = "CNY") -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a private copy of the warehouse, published atomically if the block succeeds.

    A new warehouse is created with the given store time zone and currency; an older schema is upgraded. Raises
    WarehouseError (one line for the user) if the warehouse is damaged or its folder cannot be written. The copy is
    the idle copy brought up to date when the last load noted its changes (see note_change), else a full copy.
    """
    path = Path(path)
    with _writer_lock(path):
        _remove_stale_copies(path)
        temp = _temp_path(path)
        con = _caught_up_idle(path, temp)
        upgraded = False
        if con is None:
            con, upgraded = _open_copy(path, temp, store_timezone, currency)
        paired = not upgraded and _size(path) >= PAIR_FROM_BYTES
        journal = _Journal(Path(str(temp) + ".journal"), _row_counts(con), complete=paired)
        _journals[id(con)] = journal
        try:
            yield con
            generation = _generation(con) + 1
            _set_generation(con, generation)
            changed = {t for t, n in _row_counts(con).items() if journal.counts.get(t) != n}
            noted = {change["table"] for change in journal.changes} | {"shopkpi_meta"}
            journal.complete = journal.complete and changed <= noted and journal.rows <= JOURNAL_MAX_ROWS
            sequences = dict(con.sql("select sequence_name, last_value from duckdb_sequences()").fetchall())
            con.execute("checkpoint")
            con.close()
        except BaseException:
            con.close()
            _discard(temp)
            _remove(journal.folder)
            raise
        finally:
            _journals.pop(id(con), None)
        try:
            kept = _publish(path, temp, journal, sequences, generation)
        except OSError as exc:
            _discard(temp)
            _remove(journal.folder)
            raise _unwritable(path.parent, exc) from exc
        if not kept and _size(path) >= PAIR_FROM_BYTES:
            _copy_as_idle(path, temp, sequences, generation)


def replace_with(path: Path, new_file: Path) -> None:
    """Publishes a complete warehouse built elsewhere (e.g. the demo) as the live file, in one atomic step."""
    path = Path(path)
    with _writer_lock(path):
        try:
            con = duckdb.connect(str(new_file), read_only=True)
        except duckdb.Error as exc:
            raise _damaged(Path(new_file), _duckdb_reason(exc, Path(new_file), Path(new_file))) from exc
        try:
            _check_version(con, Path(new_file), can_upgrade=False)
        finally:
            con.close()
        try:
            os.replace(new_file, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise _unwritable(path.parent, exc) from exc
        _retire(path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def open_read_only(path: Path, *, brief: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live warehouse, in the store's time zone.

    `brief`: the caller closes it before this process next writes, so the file may then serve as a writer's idle
    copy (see writing); any other connection keeps this process's writers from reusing the file it reads.
    """
    path = Path(path)
    try:
        before = os.stat(path)
        problem = _file_problem(path)
    except FileNotFoundError:
        raise WarehouseError(f"no warehouse at {path}: run `shopkpi demo` or `shopkpi ingest` first") from None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if problem:
        raise _damaged(path, problem)
    if not brief:
        _read_here.add((before.st_dev, before.st_ino))
    # A fresh in-memory instance that attaches the file: `duckdb.connect(path)` would hand back DuckDB's cached
    # instance for that path (the replaced file) as long as any connection to it is still open.
    con = duckdb.connect()
    try:
        con.execute(f"attach '{_sql_string(path)}' as warehouse (read_only)")
        con.execute("use warehouse")
        # The size is compared only if the file attached is the one measured (a writer may have replaced it since).
        if _same_file(before, path):
            _check_complete(con, path, before.st_size)
        elif not brief:  # replaced meanwhile: the file attached may be the newer one
            with contextlib.suppress(OSError):
                now = os.stat(path)
                _read_here.add((now.st_dev, now.st_ino))
        _check_version(con, path, can_upgrade=False)
        con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
    except duckdb.Error as exc:
        con.close()
        raise _damaged(path, _duckdb_reason(exc, path, path)) from exc
    except BaseException:
        con.close()
        raise
    return con


def _same_file(before: os.stat_result, path: Path) -> bool:
    try:
        now = os.stat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino, now.st_mtime_ns) == (before.st_dev, before.st_ino, before.st_mtime_ns)


class Reader:
    """Hands out cursors on the live warehouse, reopening it after a writer has published a new file.

    Thread-safe: each caller gets its own cursor (DuckDB 2.0 refuses two threads on one connection). Cursors
    already handed out keep reading the snapshot they started on.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._inode: tuple[int, int, int] | None = None
        self._timezone = "UTC"

    def _live_inode(self) -> tuple[int, int, int] | None:
        # mtime as well as the inode: a freed inode number can come back for a later copy.
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (stat.st_dev, stat.st_ino, stat.st_mtime_ns)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the newest published warehouse; raises WarehouseError if there is none."""
        with self._lock:
            inode = self._live_inode()
            if self._con is None or inode != self._inode:
                # The old connection is not closed here: cursors other threads hold keep it alive until they finish.
                self._con = open_read_only(self.path)
                self._inode = inode
                self._timezone = store_settings(self._con)["timezone"]
            # A cursor is a new session: it starts on the in-memory catalog and in UTC.
            cursor = self._con.cursor()
            cursor.execute("use warehouse")
            cursor.execute("set TimeZone = ?", [self._timezone])
            return cursor

    @property
    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever a writer publishes; use it as a cache key for query results."""
        return self._live_inode()
