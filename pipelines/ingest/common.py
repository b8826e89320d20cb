"""What every stage of an ingest shares: the file-level error, progress reporting, and SQL quoting for what DuckDB
cannot bind as a parameter (file paths in reader calls, an export's own column names)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

Progress = Callable[[str, float], None]


class IngestError(Exception):
    """A file-level problem: nothing of the file was loaded. The message is one line for the user."""


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def sql_string(value: str) -> str:
    """A SQL string literal (for file paths in reader calls, which DuckDB cannot bind as parameters)."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier (for an export's own column names)."""
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
