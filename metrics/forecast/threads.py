"""One BLAS thread while a model is fitted: the matrices of a daily model are small, and OpenBLAS's worker threads
mostly wait on each other. On this 2-core machine under a load average of 18, one thread made the demo's fit +
forecast 2.10 s → 1.21 s of wall time and its backtest 20.2 s → 8.9 s (a rank check of the regressors, 0.7 ms with
one thread, took 76 ms with two). `shopkpi serve` sets OPENBLAS_NUM_THREADS=1 for the same reason; the CLI, the
benchmarks and the tests get it here, for the duration of each fit only."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# OpenBLAS (0.3.27 and later) exports this under its own name whatever prefix its other symbols carry (numpy's and
# scipy's wheels bundle one each, with prefixed symbols); it returns the previous number of threads.
SETTER = "openblas_set_num_threads_local"


@functools.cache
def _setters() -> tuple[Callable[[int], int], ...]:
    """The thread-count setters of every OpenBLAS loaded in this process (none where /proc is missing)."""
    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS, the one statsmodels' Kalman filter calls)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return ()
    found = []
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            setter = getattr(ctypes.CDLL(path), SETTER)
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        found.append(setter)
    return tuple(found)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with one OpenBLAS thread, then restore each library's previous count."""
    previous = [(setter, setter(1)) for setter in _setters()]
    try:
        yield
    finally:
        for setter, count in previous:
            setter(max(1, count))


def single_threaded(function: Callable[P, R]) -> Callable[P, R]:
    """`function` run with one OpenBLAS thread (see one_blas_thread)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_blas_thread():
            return function(*args, **kwargs)

    return wrapper
