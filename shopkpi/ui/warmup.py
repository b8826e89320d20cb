"""The dashboard's warm-up: compute what every page shows in its default view before anyone opens it.

A page's first view costs its queries (most pages: a few tenths of a second on the 2-year demo; the Forecast page: a
backtest of three models, seconds). Each page module has a `data(view, role)` that returns everything the page draws,
each result through `ui.load`, and that the page's own render calls. The warm-up imports the pages listed in
pages.PAGES (in their `warm` order) and calls `data` with the default view, once for each role that may open the page
(roles see different metrics), in a background thread: that fills the cache the pages read, so a first visit finds
its results ready (tests/ui/test_warmup.py checks a default view then computes nothing). The slowest results (the
Forecast page's backtest, each product's forecast demand) are asked for through shopkpi/ui/later.py, so no visitor
waits for them: the warm-up waits for them, then calls the pages' `data` once more for what is computed from them.
Then a year of every fact table is read once, so other views find DuckDB's buffers filled.

It runs once per published warehouse file, in the background: `shopkpi serve` starts it as soon as the server is up
and again whenever a writer publishes a new file (shopkpi/ui/server.py), and app.py starts it after any page run, should
it not have run for this file yet (e.g. under a plain `streamlit run app.py`).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pandas  # noqa: F401  (see below)
import streamlit as st

from metrics.currency import mixed_currencies
from metrics.facts import read_raw_facts
from metrics.inputs import missing_inputs, session_stores
from metrics.periods import data_span
from metrics.presets import DEFAULT_COMPARISON, DEFAULT_PRESET, preset_period
from metrics.segments import ALL, segment_options
from shopkpi import auth, ui
from shopkpi.ui import later

if TYPE_CHECKING:
    from pages import Page

log = logging.getLogger("shopkpi.ui.warmup")

# pandas is imported above, before any warm-up or background thread starts, not first by one of them (statsmodels
# imports it): Plotly uses pandas if it is in sys.modules, and a page drawing a chart while another thread was still
# importing it failed with "partially initialized module 'pandas' has no attribute 'Series'".

# Set when the interpreter exits: the warm-up stops between two steps rather than being killed inside DuckDB (which
# aborts the process).
_stopping = threading.Event()
_threads: list[threading.Thread] = []

# Page runs in progress (app.py wraps each in `visit()`): the warm-up gives way to them between its steps, so a
# visitor's page does not share the machine (and Python's GIL) with a forecast fit nobody is waiting for. The count is
# kept in shopkpi/ui/later.py, whose background results give way too.
visit = later.visit


def give_way() -> None:
    """Wait while a page is being drawn (at most later.MAX_GIVE_WAY_SECONDS), unless the process is exiting."""
    later.give_way(_stopping)


def default_view() -> ui.View | None:
    """The view a first visitor gets (no URL query): the default period and comparison, no filter, English.

    None when the warehouse has no dated rows. Loads the sidebar's queries on the way.
    """
    span = ui.load(data_span)
    ui.load(segment_options)
    ui.load(mixed_currencies)  # a money card's reason for "—" (stores in different currencies)
    # A session card's definition says which input gave its sessions (logs or a platform's traffic report, per store).
    ui.load(missing_inputs)
    ui.load(session_stores)
    if span is None:
        return None
    period = preset_period(DEFAULT_PRESET, span.end)
    return ui.View(
        period=period, comparison=DEFAULT_COMPARISON, segment=ALL, lang="en", latest=span.end, first=span.start
    )


def prefetched() -> tuple[Page, ...]:
    """The pages the warm-up computes, in its order (pages.PAGES, those with a `warm` place)."""
    # Imported here, not at the top: shopkpi.ui.server imports this module before Streamlit puts app.py's folder
    # first on sys.path, and only then does `pages` name the dashboard's pages (not a folder of the working directory).
    import pages

    return pages.warmed()


def prefetch(page: Page, view: ui.View) -> None:
    """Compute `page`'s data for `view` as each role that may open it sees it, into the dashboard's cache."""
    # Imported as a module, not run: a page draws itself only as __main__, so this defines its functions only.
    data = importlib.import_module(page.module).data
    for role in (auth.OPEN, *auth.ROLES):
        if auth.may_open(role, page.roles):
            data(view, role)


def _read_a_year(last) -> None:
    # Not cached: only the buffers are the point, for a file not yet in the OS's cache (after a reboot or a load): a
    # filtered or longer view reads the same columns. Every column of a year of rows, hashed: a scan, with no hash
    # table of millions of ids to build, as the KPIs by source that this read before had. At 10 M sessions a year it
    # takes 0.5 s instead of their 2.6-4.8 s; with the file in the OS's cache, the Traffic page's year took 1.5-2.2 s
    # whether this read, those KPIs or nothing ran first (three runs each, alternated).
    cursor = ui.reader().cursor()
    try:
        read_raw_facts(cursor, last - timedelta(days=364))
    finally:
        cursor.close()


def warm() -> dict[str, float]:
    """Prefetch every page's default view of the configured warehouse, then read a year of data; returns the
    seconds each step took. Stops early (without an error) when the process is exiting."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    view = default_view()
    seconds["sidebar"] = time.perf_counter() - started
    if view is None:
        return seconds
    for page in prefetched():
        give_way()
        if _stopping.is_set():
            return seconds
        started = time.perf_counter()
        prefetch(page, view)
        seconds[page.file] = time.perf_counter() - started
    # The slow results the pages asked for in the background (shopkpi/ui/later.py), then once more what the pages
    # compute from them (the Forecast page's fit of the chosen model): all of it cached, none of it waited for.
    for _ in range(3):
        if not later.pending():
            break
        started = time.perf_counter()
        later.wait()
        seconds["in the background"] = seconds.get("in the background", 0.0) + time.perf_counter() - started
        started = time.perf_counter()
        for page in prefetched():
            give_way()
            if _stopping.is_set():
                return seconds
            prefetch(page, view)
        seconds["with their results"] = seconds.get("with their results", 0.0) + time.perf_counter() - started
    give_way()
    if not _stopping.is_set():
        started = time.perf_counter()
        _read_a_year(view.latest)
        seconds["a year of data"] = time.perf_counter() - started
    return seconds


def _warm_in_background(path: str) -> None:
    started = time.perf_counter()
    try:
        seconds = warm()
    except Exception:  # a warm-up is an optimisation: a page computes what it needs should this fail
        log.warning("shopkpi: warm-up of %s failed; pages compute on their first view", path, exc_info=True)
        return
    steps = ", ".join(f"{name.removeprefix('pages/').removesuffix('.py')} {s:.1f} s" for name, s in seconds.items())
    log.info("shopkpi: warm-up done for %s in %.1f s (%s)", path, time.perf_counter() - started, steps)


@st.cache_resource(show_spinner=False, max_entries=4)
def _warming(path: str, version: tuple[int, int, int]) -> threading.Thread:
    # One warm-up per published file: the cache makes later calls for the same version return this thread.
    thread = threading.Thread(target=_warm_in_background, args=(path,), name="shopkpi-warm-up", daemon=True)
    _threads[:] = [*(t for t in _threads if t.is_alive()), thread]
    thread.start()
    return thread


def start() -> None:
    """Start the background warm-up of the configured warehouse, unless it has run (or is running) for this file."""
    current = ui.reader()
    version = current.version
    if version is not None and not _stopping.is_set():
        _warming(str(current.path), version)


@atexit.register
def _stop() -> None:
    _stopping.set()
    for thread in _threads:
        thread.join(timeout=30)
