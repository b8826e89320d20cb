"""What every stage of an ingest shares: the file-level error, progress reporting, and how values reach SQL: bound as
parameters (Params), never formatted into the statement's text."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

Progress = Callable[[str, float], None]


class IngestError(Exception):
    """A file-level problem: nothing of the file was loaded. The message is one line for the user."""


# The file in a scratch folder that its process holds locked (fcntl.flock) while it uses the folder.
_OWNER = ".owner"
# A scratch folder without that file is one being made this moment, or one an earlier shopkpi made: older than this
# (seconds), it is left to its process id.
_UNLOCKED_GRACE_SECONDS = 60


@contextmanager
def scratch_folder(prefix: str) -> Iterator[str]:
    """A temporary folder for a load's or an import's own files (a transcoded export, derived tables), removed at the
    end. Its process holds a lock on a file in it while it uses it, which the kernel lets go of when the process ends,
    however it ends: the folder a killed process left, which nothing else removes and which can hold gigabytes, is
    removed here by the next one. A lock rather than the process id in its name: a load in another container sharing
    the temporary folder has an id that means nothing here, and its folder was removed under it."""
    for found in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        if found.is_dir() and _abandoned(found, prefix):
            shutil.rmtree(found, ignore_errors=True)
    # The lock is let go of just before the folder goes: a cleaner may remove it first (hence ignore_cleanup_errors).
    with (
        tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", ignore_cleanup_errors=True) as folder,
        open(Path(folder) / _OWNER, "w") as owner,
    ):
        fcntl.flock(owner, fcntl.LOCK_EX)
        yield folder


def _abandoned(folder: Path, prefix: str) -> bool:
    """Whether no process uses the scratch folder any more: nothing holds its owner file locked; without that file,
    it is over a minute old and the process its name gives has ended."""
    try:
        with open(folder / _OWNER, "rb") as owner:
            try:
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
    except FileNotFoundError:
        named = re.fullmatch(rf"{re.escape(prefix)}(\d+)-.+", folder.name)
        try:
            age = time.time() - folder.stat().st_mtime
        except FileNotFoundError:  # removed meanwhile
            return False
        return age > _UNLOCKED_GRACE_SECONDS and named is not None and not _running(int(named.group(1)))
    except OSError:  # unreadable: another user's
        return False


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


class Params(dict[str, object]):
    """The values of one statement's named parameters, added as the statement is built: `params.bind(value)` returns
    the placeholder (`$p0`, …) to put in the SQL text, so a value from a user, a file or a mapping (a date format, a
    delimiter, a file path or column name, an export's own words) is never SQL text, whatever quotes it holds."""

    def __init__(self, prefix: str = "p") -> None:
        super().__init__()
        self.prefix = prefix
        self.count = 0

    def bind(self, value: object) -> str:
        name = f"{self.prefix}{self.count}"
        self.count += 1
        self[name] = value
        return f"${name}"


def sql_string(value: str) -> str:
    """A SQL string literal, quotes doubled (DuckDB's plain strings have no backslash escapes); bind with Params
    where the statement can take parameters."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier, double quotes doubled (for names that cannot be parameters)."""
    return '"' + name.replace('"', '""') + '"'


def silent(stage: str, done: float) -> None:
    pass


@contextmanager
def watched(con: duckdb.DuckDBPyConnection, report: Progress, stage: str, start: float, end: float) -> Iterator[None]:
    """Reports DuckDB's own progress on the statements run inside the block, as [start, end] of the whole file."""
    if report is silent:
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
