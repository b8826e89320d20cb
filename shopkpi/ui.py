"""Streamlit glue shared by all pages: the cached warehouse reader, cached query results, and empty states.

The only module that uses `st.cache_resource` / `st.cache_data`. A page calls `load(metrics_function, *args)` and
renders what comes back. Results are cached per warehouse version, so a page shows an ingest's rows on its next run
after the writer has published the new file, without a restart (SPEC §3).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import streamlit as st

from shopkpi.settings import load_settings
from shopkpi.warehouse import Reader, WarehouseError

T = TypeVar("T")

NO_DATA = "No data yet: run `shopkpi demo` or `shopkpi ingest …`"

# Each warehouse version adds one entry per query; old versions are never asked for again, so a bound is enough.
_MAX_CACHED_RESULTS = 256


def db_path() -> Path:
    """The absolute path of the warehouse this dashboard reads (settings: `--db`, `SHOPKPI_DB`, shopkpi.toml)."""
    return load_settings().db_path.expanduser().resolve()


@st.cache_resource(show_spinner=False)
def _reader(path: str) -> Reader:
    # One Reader per warehouse path and process; it is thread-safe and hands each query its own cursor.
    return Reader(Path(path))


def reader() -> Reader:
    """The process-wide reader of the configured warehouse."""
    return _reader(str(db_path()))


def has_warehouse() -> bool:
    """Whether a warehouse file has been published at the configured path."""
    return reader().version is not None


@st.cache_data(show_spinner=False, max_entries=_MAX_CACHED_RESULTS)
def _cached(
    _query: Callable[..., Any], query_name: str, path: str, version: tuple[int, int, int] | None, args: tuple
) -> Any:
    # The key is (query_name, path, version, args); `_query` itself is not hashable. `version` changes whenever a
    # writer publishes a new file, so the next run re-queries instead of showing the old result.
    cursor = _reader(path).cursor()
    try:
        return _query(cursor, *args)
    finally:
        cursor.close()


def _explained(path: Path, exc: duckdb.Error) -> WarehouseError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WarehouseError(f"could not read the warehouse at {path}: {first_line}")


def load(query: Callable[..., T], *args: Any) -> T:
    """`query(cursor, *args)` on the newest published warehouse, cached until a writer publishes a new one.

    Raises WarehouseError (with a message for the user) when there is no warehouse or it cannot be read.
    """
    current = reader()
    try:
        return _cached(query, f"{query.__module__}.{query.__qualname__}", str(current.path), current.version, args)
    except duckdb.Error as exc:
        raise _explained(current.path, exc) from exc


def deferred_csv(query: Callable[..., Any], *args: Any) -> Callable[[], bytes]:
    """A callable for `st.download_button(data=...)` that runs `query(cursor, *args)` on click and returns CSV bytes.

    It runs outside the script thread, so it uses the reader directly rather than the Streamlit cache.
    """
    current = reader()

    def build() -> bytes:
        cursor = current.cursor()
        try:
            return query(cursor, *args).write_csv().encode("utf-8")
        finally:
            cursor.close()

    return build


def no_data_yet() -> None:
    """The empty state of every page when no warehouse exists yet: a sentence saying how to get data."""
    st.info(NO_DATA, icon=":material/database_off:")
    st.caption(f"Looked for the warehouse at `{db_path()}` (set `SHOPKPI_DB` or `--db` to read another one).")


def empty(message: str) -> None:
    """An empty result shown as a sentence, not as an empty table."""
    st.caption(message)


def warehouse_problem(error: WarehouseError) -> None:
    """A warehouse that exists but cannot be read, explained in one line instead of a traceback."""
    st.error(str(error), icon=":material/error:")
