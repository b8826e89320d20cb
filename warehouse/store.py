"""The DuckDB warehouse file: its creation and schema version, and safe reading beside writing.

DuckDB lets one process write a file or many processes read it, never both. So no process ever opens the live
file for writing: a writer copies it, changes the copy in one transaction, checkpoints, and atomically renames the
copy over the live file (`os.replace`). Readers hold read-only connections; they keep a consistent snapshot of
the file they opened, and reopen when the live file's inode changes. A writer killed at any point leaves only a
stray temporary file, never a half-written warehouse. Writers queue on an advisory lock file.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.schema import LEDGER_DDL, SCHEMA_VERSION, TABLES, table_ddl


class WarehouseError(Exception):
    """A problem with the warehouse file itself, explained in one line for the user."""


# Each step upgrades a warehouse from version N to N + 1; append here when the schema changes.
MIGRATIONS: dict[int, list[str]] = {}


def _create_schema(con: duckdb.DuckDBPyConnection, store_timezone: str, currency: str) -> None:
    con.execute(LEDGER_DDL)
    for table in TABLES.values():
        con.execute(table_ddl(table))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {"schema_version": str(SCHEMA_VERSION), "timezone": store_timezone, "currency": currency, "created_at": now}
    con.executemany("insert or ignore into shopkpi_meta values (?, ?)", list(meta.items()))


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version recorded in the warehouse, or None for a file that is not a shopkpi warehouse."""
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'shopkpi_meta'").fetchall()[0][0]
    if not found:
        return None
    rows = con.sql("select value from shopkpi_meta where key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else None


def _check_version(con: duckdb.DuckDBPyConnection, path: Path, *, can_upgrade: bool) -> None:
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


def store_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The warehouse's recorded facts: schema_version, timezone, currency, created_at."""
    return dict(con.sql("select key, value from shopkpi_meta").fetchall())


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_copies(path: Path) -> None:
    # Only called under the writer lock, so every temporary copy left is from a writer that died.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
        Path(str(stale) + ".wal").unlink(missing_ok=True)


@contextmanager
def writing(path: Path, *, store_timezone: str = "UTC", currency: str = "CNY") -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a private copy of the warehouse, published atomically if the block succeeds.

    A new warehouse is created with the given store time zone and currency; an older schema is upgraded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(path):
        _remove_stale_copies(path)
        temp = _temp_path(path)
        if path.exists():
            shutil.copyfile(path, temp)
        con = duckdb.connect(str(temp))
        try:
            if path.exists():
                _check_version(con, path, can_upgrade=True)
            else:
                _create_schema(con, store_timezone, currency)
            con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
            yield con
            con.execute("checkpoint")
            con.close()
            os.replace(temp, path)
            _fsync_dir(path.parent)
        except BaseException:
            con.close()
            temp.unlink(missing_ok=True)
            Path(str(temp) + ".wal").unlink(missing_ok=True)
            raise


def replace_with(path: Path, new_file: Path) -> None:
    """Publishes a complete warehouse built elsewhere (e.g. the demo) as the live file, in one atomic step."""
    path = Path(path)
    with _writer_lock(path):
        con = duckdb.connect(str(new_file), read_only=True)
        try:
            _check_version(con, Path(new_file), can_upgrade=False)
        finally:
            con.close()
        os.replace(new_file, path)
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live warehouse, in the store's time zone."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `shopkpi demo` or `shopkpi ingest` first")
    # A fresh in-memory instance that attaches the file: `duckdb.connect(path)` would hand back DuckDB's cached
    # instance for that path (the replaced file) as long as any connection to it is still open.
    con = duckdb.connect()
    try:
        con.execute(f"attach '{_sql_string(path)}' as warehouse (read_only)")
        con.execute("use warehouse")
        _check_version(con, path, can_upgrade=False)
        con.execute("set TimeZone = ?", [store_settings(con)["timezone"]])
    except BaseException:
        con.close()
        raise
    return con


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
