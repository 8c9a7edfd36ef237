"""Evaluation on the BLAS thread budget: the independent parts of one op on worker threads.

Not an op: how the reference spends the threads it is given. An op whose work splits into parts
that read shared inputs and write disjoint parts of its output (the image chunks and groups of
a binary convolution, the images of the stem) may evaluate the parts concurrently; each part's
arithmetic is the same whichever thread runs it and whenever, so the result is the serial one,
bit for bit. The budget is the thread count of the BLAS numpy uses (``OPENBLAS_NUM_THREADS``,
``threadpoolctl``'s limits); while parts run on worker threads, each BLAS call gets one thread,
so that the numpy work around the products (conversions, shifted adds, copies), which runs on one
core per call, runs on all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np  # noqa: F401  (loaded before threadpoolctl looks for numpy's BLAS)
from threadpoolctl import ThreadpoolController

__all__ = ["budget", "workers", "run_parts"]

Part = TypeVar("Part")

_lock = threading.Lock()
_controller: list[ThreadpoolController] = []
_inside = threading.local()


def _blas() -> ThreadpoolController:
    with _lock:
        if not _controller:
            _controller.append(ThreadpoolController().select(user_api="blas"))
        return _controller[0]


def budget() -> int:
    """The threads the reference may use: the fewest of numpy's BLAS pools (1 without one)."""
    return min((pool["num_threads"] for pool in _blas().info()), default=1)


def workers(parts: int) -> int:
    """The worker threads :func:`run_parts` uses for ``parts`` parts (1 inside a worker)."""
    return 1 if getattr(_inside, "active", False) else max(1, min(budget(), parts))


def run_parts(work: Callable[[int, Sequence[Part]], None], parts: Sequence[Part]) -> None:
    """``work(worker, share)`` for shares of ``parts`` that together hold each part once: on one
    thread with the whole BLAS budget when there is one part or one thread, else one share per
    worker thread, ``worker`` counting from 0 (a caller may give each worker buffers of its own,
    allocated on the calling thread, whose freed memory is reused without page faults)."""
    count = workers(len(parts))
    if count < 2:
        work(0, parts)
        return

    def share(worker: int) -> None:
        _inside.active = True  # a nested op runs serially on its worker
        try:
            work(worker, parts[worker::count])
        finally:
            _inside.active = False

    with _blas().limit(limits=1), ThreadPoolExecutor(count) as pool:
        for future in [pool.submit(share, worker) for worker in range(count)]:
            future.result()
