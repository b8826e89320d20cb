"""Slow results a page draws once they are ready, without making its visitor wait for them.

Two results take seconds to compute once per published warehouse file (on the 2-year demo, quiet machine): the
forecast demand per product behind the reorder alerts (Overview, Products & stock) and the backtest that chooses the
Forecast page's model. The warm-up computes both after each publish, but a visitor right after a start or an ingest
would wait for them, and for the rest of the warm-up's work on the same key, before seeing any figure. With
`load(query, *args)` a page gets the result if it is ready, else None while it is computed in the background (once,
whoever asks); the page draws everything else, says what is still coming with `redraw_when_ready`, and is drawn
again, whole, once it is there. The Traffic page leaves the same way the visitors of a split that are counted over
millions of sessions (BACKGROUND_FROM_SESSIONS), a view no warm-up can foresee; as that count takes about a second, its
page waits for it at the end of its run (`Note.wait`), the rest already drawn, and draws it in place rather than again.
"""

from __future__ import annotations

import atexit
import concurrent.futures
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
# without it (the Traffic page's split, where the warehouse keeps no visitor numbers or on Spark: a year of 10 M
# sessions takes 1-2 s to count, the rest of the page's data 0.1 s). Below it the count is quicker than a redraw.
BACKGROUND_FROM_SESSIONS = 2_000_000
NOTE_KEY = "shopkpi_later"  # the note's container key; the browser sees it as the CSS class st-key-shopkpi_later_N
# How long a page run waits at its end for a result it draws in place (Note.wait) before leaving it to a redraw. A
# year's visitors by campaign of the 10 M-session shop take about 1 s; the redraw after the run cost 0.7-1.3 s more.
WAIT_IN_RUN_SECONDS = 5.0

# One worker for the polite results, one for the others (by `polite`): the slow results queue behind each other
# instead of sharing two cores with each other and the visitors, and a DuckDB count a page waits for (Note.wait) never
# queues behind a forecast fit that gives way to that very page. Daemon threads, as the warm-up's: at exit the queues
# are dropped and the results being computed are waited for (a thread killed inside DuckDB aborts the process),
# rather than every queued one being computed first.
_jobs: dict[bool, queue.SimpleQueue] = {True: queue.SimpleQueue(), False: queue.SimpleQueue()}
_workers: dict[bool, threading.Thread] = {}
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


def _work(polite: bool) -> None:
    while True:
        future, query, args, segment = _jobs[polite].get()
        if future is None:  # exiting
            return
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(_compute(query, args, segment, polite))
        except BaseException as error:  # handed to whoever asks for the result
            future.set_exception(error)


def _submit(query: Callable[..., Any], args: tuple, segment: Segment, polite: bool) -> Future:
    future: Future = Future()
    _jobs[polite].put((future, query, args, segment))
    if polite not in _workers:
        name = "shopkpi-later" if polite else "shopkpi-later-queries"
        _workers[polite] = threading.Thread(target=_work, args=(polite,), name=name, daemon=True)
        _workers[polite].start()
    return future


@atexit.register
def _stop() -> None:
    _stopping.set()
    with _lock:
        for future in _results.values():
            future.cancel()  # those not started yet
    for jobs in _jobs.values():
        jobs.put((None, None, None, None))
    for worker in _workers.values():
        worker.join(timeout=30)


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


def _asked_so_far() -> tuple[Future, ...]:
    """The computations `load` found not ready in this page run since the last note took them."""
    futures = tuple(getattr(_asked, "futures", ()))
    _asked.futures = []
    return futures


def _note_key() -> str:
    _asked.notes = getattr(_asked, "notes", 0) + 1  # a page may have several notes; their keys must differ
    return f"{NOTE_KEY}_{_asked.notes}"


def redraw_when_ready(message: str) -> None:
    """Say `message` (what is still being computed) where the missing part goes; the page is drawn again once what
    `load` found not ready in this page run is ready."""
    _poll(message, _asked_so_far(), _note_key())


class Note:
    """`message` (what is still being computed: what `load` found not ready in this page run so far), said where the
    missing part goes, for a result that a page run can wait for: a DuckDB query of a second or two, not a forecast
    fit, which would wait for the page itself (give_way)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.futures = _asked_so_far()
        self._slot = st.empty()
        self._line = self._slot.container(key=_note_key()).empty()
        self._line.caption(message)

    def wait(self, seconds: float | None = None) -> bool:
        """At the end of the page run (the rest of the page is drawn), wait up to `seconds` (WAIT_IN_RUN_SECONDS)
        for the results; True once they are ready: the note is gone and the page draws them in its place. False when
        they take longer: the note stays and the page is drawn again once they are ready (redraw_when_ready). A
        visitor's action ends the wait as it ends any page run: Streamlit stops a run where it draws, and the wait
        draws the note again at each look."""
        deadline = time.monotonic() + (WAIT_IN_RUN_SECONDS if seconds is None else seconds)
        while not all(future.done() for future in self.futures):
            left = deadline - time.monotonic()
            if left <= 0:
                with self._slot.container():
                    _poll(self.message, self.futures, _note_key())
                return False
            concurrent.futures.wait(self.futures, timeout=min(POLL_SECONDS, left))
            self._line.caption(self.message)
        self._slot.empty()
        return True
