"""What every stage of an ingest shares: the file-level error, progress reporting, and how values reach SQL: bound as
parameters (Params), never formatted into the statement's text."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

Progress = Callable[[str, float], None]


class IngestError(Exception):
    """A file-level problem: nothing of the file was loaded. The message is one line for the user."""


@contextmanager
def scratch_folder(prefix: str) -> Iterator[str]:
    """A temporary folder for a load's or an import's own files (a transcoded export, derived tables), removed at the
    end. Named after its process, so that the folder a killed process left, which nothing else removes and which can
    hold gigabytes, is removed here by the next one: its process is gone."""
    for found in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        named = re.fullmatch(rf"{re.escape(prefix)}(\d+)-.+", found.name)
        if named and found.is_dir() and not _running(int(named.group(1))):
            shutil.rmtree(found, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as folder:
        yield folder


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
