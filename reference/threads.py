"""Evaluation on the BLAS thread budget: the independent parts of one op on worker threads.

Not an op: how the reference spends the threads it is given. An op whose work splits into parts
that read shared inputs and write disjoint parts of its output (the image chunks and groups of
a binary convolution, with the threshold of each finished block; the images of the stem; the
images of XNOR, OR and the shuffle) may evaluate the parts concurrently; each part's
arithmetic is the same whichever thread runs it and whenever, so the result is the serial one,
bit for bit. The budget is the thread count of the BLAS numpy uses (``OPENBLAS_NUM_THREADS``,
``threadpoolctl``'s limits); while parts run on worker threads, each BLAS call gets one thread,
so that the numpy work around the products (conversions, shifted adds, copies), which runs on one
core per call, runs on all of them.

Parts run on workers only inside a :func:`session` (a forward pass of a batch opens one): BLAS is
set to one thread once, and the workers live for the session. Switching the BLAS pool back and
forth around every op wakes its idle threads, which then spin on the cores the workers need.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np  # noqa: F401  (loaded before threadpoolctl looks for numpy's BLAS)
from threadpoolctl import ThreadpoolController

__all__ = ["budget", "workers", "run_parts", "session"]

Part = TypeVar("Part")

_lock = threading.RLock()  # session() asks budget(), which asks _blas(), under it
_controller: list[ThreadpoolController] = []
_inside = threading.local()
#: The session this thread opened: its budget and its workers (a nested one is a no-op).
_own = threading.local()
#: The process's open session (at most one) and its BLAS limit, so that sessions on several
#: threads never restore each other's limit.
_open: dict = {"count": 0, "limit": None}


def _blas() -> ThreadpoolController:
    with _lock:
        if not _controller:
            _controller.append(ThreadpoolController().select(user_api="blas"))
        return _controller[0]


def budget() -> int:
    """The threads the reference may use: the fewest of numpy's BLAS pools (1 without one)."""
    return min((pool["num_threads"] for pool in _blas().info()), default=1)


def workers(parts: int) -> int:
    """The worker threads :func:`run_parts` uses for ``parts`` parts: 1 outside a session of
    this thread, or inside a worker."""
    own = getattr(_own, "session", None)
    if own is None or getattr(_inside, "active", False):
        return 1
    return max(1, min(own["budget"], parts))


@contextlib.contextmanager
def session(parallel: bool = True) -> Iterator[None]:
    """Run the ops this thread calls inside on the budget's workers, BLAS at one thread
    throughout; with ``parallel`` false, a budget of 1, or a session already open (on any
    thread), nothing changes."""
    blas = _blas()
    with _lock:
        count = budget()
        # One session at a time in the process: another thread's calls run serially meanwhile.
        if not parallel or _open["count"] or getattr(_inside, "active", False):
            count = 1
        if count >= 2:
            _open["limit"] = blas.limit(limits=1)
            _open["count"] = 1
    if count < 2:
        yield
        return
    try:
        with ThreadPoolExecutor(count) as pool:
            _own.session = {"budget": count, "pool": pool}
            try:
                yield
            finally:
                _own.session = None
    finally:
        with _lock:
            _open["limit"].restore_original_limits()
            _open.update(count=0, limit=None)


def _share(work: Callable[[int, Sequence[Part]], None], parts: Sequence[Part], worker: int,
           count: int) -> None:
    _inside.active = True  # a nested op runs serially on its worker
    try:
        work(worker, parts[worker::count])
    finally:
        _inside.active = False


def run_parts(work: Callable[[int, Sequence[Part]], None], parts: Sequence[Part]) -> None:
    """``work(worker, share)`` for shares of ``parts`` that together hold each part once: one
    share per worker thread of the open session, ``worker`` counting from 0 (a caller may give
    each worker buffers of its own, allocated on the calling thread, whose freed memory is reused
    without page faults); outside a session, or for one part, ``work(0, parts)`` on this thread
    with the BLAS's own threads."""
    count = workers(len(parts))
    if count < 2:
        work(0, parts)
        return
    for future in [_own.session["pool"].submit(_share, work, parts, worker, count)
                   for worker in range(count)]:
        future.result()
