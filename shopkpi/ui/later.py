"""Slow results a page draws once they are ready, without making its visitor wait for them.

Two results take seconds to compute once per published warehouse file (on the 2-year demo, quiet machine): the
forecast demand per product behind the reorder alerts (Overview, Products & stock) and the backtest that chooses the
Forecast page's model. The warm-up computes both after each publish, but a visitor right after a start or an ingest
would wait for them, and for the rest of the warm-up's work on the same key, before seeing any figure. With
`load(query, *args)` a page gets the result if it is ready, else None while it is computed in the background (once,
whoever asks); the page draws everything else, says what is still coming with `redraw_when_ready`, and is drawn
again, whole, once it is there. The Traffic page leaves the same way the visitors of a split that are counted over
millions of sessions (BACKGROUND_FROM_SESSIONS), a view no warm-up can foresee.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from metrics.segments import ALL, Segment
from shopkpi import ui

T = TypeVar("T")

log = logging.getLogger("shopkpi.ui.later")

POLL_SECONDS = 0.25  # how often a page waiting for a result looks whether it is there
# An exact distinct count of visitors over more sessions than this is left to the background where a page can draw
# without it (the Traffic page's split by medium, campaign or device: a year of 10 M sessions takes 1-2 s to count,
# the rest of the page's data 0.1 s). Below it the count is quicker than a redraw.
BACKGROUND_FROM_SESSIONS = 2_000_000
NOTE_KEY = "shopkpi_later"  # the note's container key; the browser sees it as the CSS class st-key-shopkpi_later_N

# One worker: the slow results queue behind each other instead of sharing two cores with each other and the visitors.
# A daemon thread, as the warm-up's: at exit the queue is dropped and the result being computed is waited for (a
# thread killed inside DuckDB aborts the process), rather than every queued one being computed first.
_jobs: queue.SimpleQueue = queue.SimpleQueue()
_worker: threading.Thread | None = None
_results: dict[tuple, Future] = {}
_lock = threading.Lock()
_asked = threading.local()  # per script thread: the computations this page run found not ready
_stopping = threading.Event()  # set at exit

_visits = 0  # page runs in progress
_visits_lock = threading.Lock()
MAX_GIVE_WAY_SECONDS = 10.0  # then background work goes on, even under a constant stream of visits


@contextmanager
def visit() -> Iterator[None]:
    """Around a page run (app.py): background work (this module's, the warm-up's) pauses until no page is being
    drawn."""
    global _visits
    with _visits_lock:
        _visits += 1
    try:
        yield
    finally:
        with _visits_lock:
            _visits -= 1


def give_way(stopping: threading.Event | None = None) -> None:
    """Wait while a page is being drawn, at most MAX_GIVE_WAY_SECONDS, and not once `stopping` is set."""
    deadline = time.monotonic() + MAX_GIVE_WAY_SECONDS
    while _visits and time.monotonic() < deadline and not (stopping or _stopping).is_set():
        time.sleep(0.05)


def _key(query: Callable[..., Any], args: tuple, segment: Segment) -> tuple:
    current = ui.reader()
    return (f"{query.__module__}.{query.__qualname__}", str(current.path), current.version, args, segment)


def _compute(query: Callable[..., T], args: tuple, segment: Segment, polite: bool) -> T:
    # Not while a visitor's page is being drawn: a forecast fit holds Python's GIL for most of its seconds.
    if polite:
        give_way()
    return ui.load(query, *args, segment=segment)


def _work() -> None:
    while True:
        future, query, args, segment, polite = _jobs.get()
        if future is None:  # exiting
            return
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(_compute(query, args, segment, polite))
        except BaseException as error:  # handed to whoever asks for the result
            future.set_exception(error)


def _submit(query: Callable[..., Any], args: tuple, segment: Segment, polite: bool) -> Future:
    global _worker
    future: Future = Future()
    _jobs.put((future, query, args, segment, polite))
    if _worker is None:
        _worker = threading.Thread(target=_work, name="shopkpi-later", daemon=True)
        _worker.start()
    return future


@atexit.register
def _stop() -> None:
    _stopping.set()
    with _lock:
        for future in _results.values():
            future.cancel()  # those not started yet
    _jobs.put((None, None, None, None, None))
    if _worker is not None:
        _worker.join(timeout=30)


def load(query: Callable[..., T], *args: Any, segment: Segment = ALL, polite: bool = True) -> T | None:
    """`ui.load(query, *args, segment=segment)` when it has been computed, else None: it is then being computed in
    the background (started by this call or an earlier one). A failure is raised as ui.load raises it.

    `polite`: the computation waits while pages are being drawn (give_way), as one that holds Python's GIL must (a
    forecast fit); a DuckDB query, which releases it, need not (polite=False) and is ready sooner."""
    key = _key(query, args, segment)
    ui.note_answer(query)  # the page's engine caption names it, though another thread computes it
    with _lock:
        future = _results.get(key)
        if future is None:
            # Results of older warehouse files are never asked for again.
            for old in [k for k in _results if k[1] == key[1] and k[2] != key[2]]:
                del _results[old]
            future = _submit(query, args, segment, polite)
            _results[key] = future
    if future.done():
        return future.result()
    _asked.futures = [*getattr(_asked, "futures", []), future]
    return None


def pending() -> list[Future]:
    """The background computations not finished yet."""
    with _lock:
        return [future for future in _results.values() if not future.done()]


def wait(timeout: float | None = None) -> None:
    """Wait until every background computation started so far has finished (the warm-up, tests)."""
    for future in pending():
        try:
            future.result(timeout=timeout)
        except Exception:  # the page that asks for it shows the failure; here it only has to be over
            log.debug("a background result failed", exc_info=True)


@st.fragment(run_every=POLL_SECONDS)
def _poll(message: str, futures: tuple[Future, ...], key: str) -> None:
    if all(future.done() for future in futures):
        st.rerun(scope="app")  # draw the whole page again, now with the results
    st.container(key=key).caption(message)


def redraw_when_ready(message: str) -> None:
    """Say `message` (what is still being computed) where the missing part goes; the page is drawn again once what
    `load` found not ready in this page run is ready."""
    futures = tuple(getattr(_asked, "futures", ()))
    _asked.futures = []
    _asked.notes = getattr(_asked, "notes", 0) + 1  # a page may have several notes; their keys must differ
    _poll(message, futures, f"{NOTE_KEY}_{_asked.notes}")
