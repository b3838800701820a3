"""mathdnn's threads: a small pool that spreads chunks of work over the cores, and BLAS kept to one
thread inside mathdnn's calls.

NumPy runs its copies and elementwise work on one core; only OpenBLAS's matrix products use more,
and OpenBLAS's threads wait for work by spinning: on a machine busy with other processes they take
the cores from everyone, a product then stalls until the spinning ends (measured here: 300 training
steps took 18.7 s instead of 2.0 s beside two busy processes, and 2.2 s with BLAS on one thread).
So mathdnn does its own threading: ``parallel_map`` spreads chunks of work over
``get_num_threads()`` threads, each running single-threaded BLAS, and threads that wait for work
sleep instead of spinning. The fast paths (``mathdnn.kernels``), the engine's matrix product and
its backward pass run their BLAS calls inside ``single_threaded_blas()``, which sets OpenBLAS to
one thread for the span of the call and gives it back its count afterwards: nothing outside
mathdnn's calls sees a change. (The formula paths leave BLAS as it is: they are the formula alone.)

``set_num_threads(n)`` (or ``$MATHDNN_NUM_THREADS``) sets the number of threads; the default is the
number of CPUs this process may run on.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")
ENV = "MATHDNN_NUM_THREADS"


def _default_threads() -> int:
    setting = os.environ.get(ENV, "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"mathdnn: ${ENV} must be a positive integer, got {setting!r}")
        return int(setting)
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return len(cpus) if cpus else os.cpu_count() or 1


_lock = threading.Lock()
_num_threads: int | None = None
_pool: list[_Worker] = []
_inside = threading.local()  # .share: running a share of a parallel_map (nested calls loop)


def get_num_threads() -> int:
    """The number of threads mathdnn's kernels use (like ``torch.get_num_threads``)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in mathdnn's kernels (like ``torch.set_num_threads``); 1 runs everything
    on the calling thread. BLAS stays on one thread inside mathdnn's calls either way."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    with _lock:
        for worker in _pool[n - 1 :]:
            worker.tasks.put(None)
        del _pool[n - 1 :]
        _num_threads = n


# ----------------------------------------------------------------------------- BLAS, one thread
_blas: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries
_blas_modules = 0  # len(sys.modules) when they were found: an import may load another BLAS
_blas_saved: list[int] = []  # their thread counts before the first span began
_blas_spans = 0  # spans running now, in any thread
# OpenBLAS runs a product of fewer multiply-adds than this on one thread anyway (its
# GEMM_MULTITHREAD_THRESHOLD of 4 × 65536): such products need no span.
SMALL_PRODUCT = 4 * 65536


def _set_blas_threads(counts: list[int]) -> None:
    # OpenBLAS's count is process-wide; threadpoolctl lets one "controlling" thread set it and
    # silently ignores the others, so each change first hands control to this thread.
    for lib, n in zip(_blas or [], counts, strict=True):
        release = getattr(type(lib), "clear_controlling_thread", None)
        if release is not None:
            release(force=True)
        lib.set_num_threads(n)


class single_threaded_blas(contextlib.ContextDecorator):  # lower case: as contextlib's helpers
    """OpenBLAS on one thread for the span of a ``with`` block (or of a call, as a decorator),
    then its previous count. Spans may overlap (nested, or from several threads): the first saves
    the count, the last restores it. ``work``, the multiply-adds of the products inside, skips the
    span for small products."""

    __slots__ = ("active",)

    def __init__(self, work: int | None = None) -> None:
        self.active = work is None or work >= SMALL_PRODUCT

    def __enter__(self) -> None:
        global _blas, _blas_modules, _blas_saved, _blas_spans
        if not self.active:
            return
        with _lock:
            # Found again after any import (scipy brings its own OpenBLAS), between spans only.
            if _blas is None or (_blas_spans == 0 and len(sys.modules) != _blas_modules):
                from threadpoolctl import ThreadpoolController

                _blas = ThreadpoolController().select(user_api="blas").lib_controllers
                _blas_modules = len(sys.modules)
            if _blas_spans == 0:
                _blas_saved = [lib.num_threads for lib in _blas]
                if any(n != 1 for n in _blas_saved):
                    _set_blas_threads([1] * len(_blas))
            _blas_spans += 1

    def __exit__(self, *exc: object) -> None:
        global _blas_spans
        if not self.active:
            return
        with _lock:
            _blas_spans -= 1
            if _blas_spans == 0 and any(n != 1 for n in _blas_saved):
                _set_blas_threads(_blas_saved)


# ----------------------------------------------------------------------------------- the pool
class _Work:
    """The items of one ``parallel_map`` call, which its threads take one at a time (each thread
    the next item not yet taken, so a thread that starts late simply takes fewer, or none)."""

    def __init__(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> None:
        self.fn, self.items = fn, items
        self.errstate = np.geterr()  # the caller's: NumPy's error handling is per thread
        self.results: list[Any] = [None] * len(items)
        self.error: BaseException | None = None
        self.taken = 0  # the items handed out so far
        self.busy = 0  # of those, the items still running
        self.idle = threading.Condition(threading.Lock())  # notified when busy drops to 0

    def take(self) -> int | None:
        """The next item's index, or None when all are taken or one has failed."""
        with self.idle:
            if self.error is not None or self.taken == len(self.items):
                return None
            self.taken += 1
            self.busy += 1
            return self.taken - 1

    def run(self) -> None:
        """Take items until none are left, or one has failed."""
        _inside.share = True
        try:
            with np.errstate(**self.errstate):
                while (i := self.take()) is not None:
                    error = None
                    try:
                        self.results[i] = self.fn(self.items[i])
                    except BaseException as err:  # handed to the caller, which raises it
                        error = err
                    with self.idle:
                        self.error = self.error or error
                        self.busy -= 1
                        if self.busy == 0:
                            self.idle.notify_all()
        finally:
            _inside.share = False

    def wait(self) -> None:
        """Until no item runs and none is left to take: a pool thread that has not started by
        then takes none, and nothing waits for it."""
        with self.idle:
            self.idle.wait_for(lambda: self.busy == 0)


class _Worker(threading.Thread):
    """A pool thread: works on the calls put on its queue, sleeping in between, until ``None``."""

    def __init__(self, index: int) -> None:
        super().__init__(name=f"mathdnn-{index}", daemon=True)
        self.tasks: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self.start()

    def run(self) -> None:
        while (work := self.tasks.get()) is not None:
            work.run()


def parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, the items taken one at a time by ``get_num_threads()``
    threads: the calling thread and the pool threads each take the next item not yet taken, so
    the calling thread starts at once, and a pool thread that wakes late takes fewer, or none
    (the call returns once every item is done, without waiting for such a thread to wake). BLAS
    runs on one thread meanwhile. Called from inside an item, or with one thread or one item, it
    simply loops. An error in any item is raised once no item runs any more."""
    workers = min(get_num_threads(), len(items))
    if workers < 2 or getattr(_inside, "share", False):
        with single_threaded_blas():
            return [fn(item) for item in items]
    with _lock:
        while len(_pool) < workers - 1:
            _pool.append(_Worker(len(_pool) + 1))
        pool = _pool[: workers - 1]
    work = _Work(fn, items)
    with single_threaded_blas():
        for worker in pool:
            worker.tasks.put(work)
        work.run()
        work.wait()
    if work.error is not None:
        raise work.error
    return work.results
