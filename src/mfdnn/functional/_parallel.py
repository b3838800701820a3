"""Running the fast kernels on every core, and the scratch memory they reuse.

NumPy runs elementwise work (copies, adds) on one core; only its matrix products (OpenBLAS) use
more. The chunked kernels in ``conv.py`` therefore split their chunks among one thread per core
(the calling thread and a pool of the others), each computing whole chunks with a
single-threaded BLAS: NumPy releases the GIL in large copies, ufuncs and products, so the threads
really run at once.
``set_num_threads(1)`` turns this off (the results agree up to the grouping of floating-point
sums, e.g. of the per-worker parts of ∂L/∂W).

Scratch memory: on a virtual machine, first touching a freshly allocated buffer of a few MB costs
more in page faults than the arithmetic done on it, so each worker keeps its chunk-sized buffers
and reuses them from chunk to chunk and call to call (``scratch``). The arrays a kernel returns
are new each call; ``empty_output`` allocates them without NumPy's request for huge pages.
"""

from __future__ import annotations

import importlib
import math
import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: list[_Worker] | None = None
_blas: list[Any] | None = None  # threadpoolctl's controllers of the BLAS libraries
_blas_saved: list[int] = []  # their thread counts before the first running parallel_map
_blas_users = 0  # parallel_map calls running (from different threads of the caller)


def _default_threads() -> int:
    """The CPUs this process may run on, or ``MFDNN_NUM_THREADS`` if that is a positive int."""
    setting = os.environ.get("MFDNN_NUM_THREADS", "")
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return len(cpus) if cpus else os.cpu_count() or 1


_num_threads = _default_threads()


class _WorkerState(threading.local):
    def __init__(self) -> None:
        self.inside = False  # running a parallel task: nested calls run sequentially
        self.buffers: dict[tuple[str, np.dtype], np.ndarray] = {}
        self.tags: dict[tuple[str, np.dtype], Any] = {}  # what each buffer last held


_state = _WorkerState()

# Scratch buffers larger than this are not kept between calls.
KEEP_BYTES = 64 << 20


class _Share:
    """One pool thread's part of a ``parallel_map`` call; ``done`` is released when it ends."""

    __slots__ = ("done", "error", "fn", "items", "results")

    def __init__(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> None:
        self.fn, self.items = fn, items
        self.results: list[Any] = []
        self.error: BaseException | None = None
        self.done = threading.Lock()
        self.done.acquire()

    def run(self) -> None:
        _state.inside = True
        try:
            self.results = [self.fn(item) for item in self.items]
        except BaseException as error:  # handed to the caller, which re-raises it
            self.error = error
        finally:
            _state.inside = False
            self.done.release()


class _Worker(threading.Thread):
    """A pool thread: runs the shares put on its queue until it gets ``None``."""

    def __init__(self, index: int) -> None:
        super().__init__(name=f"mfdnn-{index}", daemon=True)
        self.shares: queue.SimpleQueue[_Share | None] = queue.SimpleQueue()
        self.start()

    def run(self) -> None:
        while (share := self.shares.get()) is not None:
            share.run()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the chunked kernels (like ``torch.set_num_threads``); 1 = sequential."""
    global _pool, _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    with _lock:
        if _pool is not None and n != _num_threads:
            for worker in _pool:
                worker.shares.put(None)
            for worker in _pool:
                worker.join()
            _pool = None
        _num_threads = n


def get_num_threads() -> int:
    """The number of threads the chunked kernels use (default: the number of CPUs)."""
    return _num_threads


def _set_blas_threads(libs: list[Any], counts: list[int]) -> None:
    """Set each BLAS library's thread count, from whichever thread calls ``parallel_map``.

    threadpoolctl ≥ 3.6 lets only one "controlling" thread set OpenBLAS's process-wide count and
    ignores the others; its documented ``clear_controlling_thread(force=True)`` hands control to
    this thread, and control is handed back the same way afterwards."""
    for lib, n in zip(libs, counts, strict=True):
        release = getattr(type(lib), "clear_controlling_thread", None)
        if release is not None:
            release(force=True)
        lib.set_num_threads(n)
        if release is not None:
            release(force=True)


def _limit_blas() -> None:
    """BLAS on one thread while any ``parallel_map`` runs (call under ``_lock``)."""
    global _blas, _blas_saved, _blas_users
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    if _blas_users == 0:
        _blas_saved = [lib.num_threads for lib in _blas]
        _set_blas_threads(_blas, [1] * len(_blas))
    _blas_users += 1


def _unlimit_blas() -> None:
    """The last running ``parallel_map`` gives BLAS its threads back (call under ``_lock``)."""
    global _blas_users
    _blas_users -= 1
    if _blas_users == 0 and _blas is not None:
        _set_blas_threads(_blas, _blas_saved)


def parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, the items dealt out to the threads in turn.

    The calling thread takes the items ``0, workers, 2·workers, ...`` itself, and each of the
    ``workers − 1`` pool threads one other share, so a call costs one hand-off per pool thread,
    not per item, and the caller works rather than waits. The hand-off is a queue put and a lock
    per pool thread: a call costs about 0.1 ms more than the shares' work, mostly the pool
    thread's waking (``concurrent.futures`` took 0.2-0.25 ms). While they run, BLAS is limited to
    one thread, so the threads' products do not compete for the cores. Called from inside a
    share, or with one thread or one item, it simply loops. Calls from several threads of the
    caller at once are safe: their shares queue up, and BLAS gets its threads back when the last
    one ends.
    """
    global _pool
    workers = min(_num_threads, len(items))
    if workers < 2 or _state.inside:
        return [fn(item) for item in items]
    with _lock:
        if _pool is None:
            _pool = [_Worker(i) for i in range(1, _num_threads)]
        pool = _pool
        _limit_blas()
    try:
        shares = [_Share(fn, items[i::workers]) for i in range(1, workers)]
        for worker, share in zip(pool, shares, strict=False):
            worker.shares.put(share)
        results: list[R] = [None] * len(items)  # type: ignore[list-item]
        _state.inside = True
        try:
            results[0::workers] = [fn(item) for item in items[0::workers]]
        finally:  # even if the caller's share failed: no share may outlive the call
            _state.inside = False
            for share in shares:
                share.done.acquire()
    finally:
        with _lock:
            _unlimit_blas()
    for i, share in enumerate(shares, start=1):
        if share.error is not None:
            raise share.error
        results[i::workers] = share.results
    return results


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype, tag: Any = None) -> np.ndarray:
    """An uninitialised array of ``shape``, reusing this thread's buffer called ``name``.

    The buffer is overwritten by the next request for the same name in the same thread, so a
    kernel must never return it (or a view of it). ``tag`` names what the caller will write into
    it, for ``scratch_holding``.
    """
    size = math.prod(shape)
    dtype = np.dtype(dtype)
    key = (name, dtype)
    buffer = _state.buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = np.empty(size, dtype=dtype)
        if buffer.nbytes <= KEEP_BYTES:
            _state.buffers[key] = buffer
    _state.tags[key] = tag if _state.buffers.get(key) is buffer else None
    return buffer[:size].reshape(shape)


def scratch_holding(
    name: str, shape: tuple[int, ...], dtype: np.dtype, tag: Any
) -> np.ndarray | None:
    """This thread's buffer ``name`` as the last ``scratch`` request left it, if that request
    carried ``tag`` (so nothing has been written to it since), else None: a kernel's VJP reads
    what its forward pass laid out there, if no other call has used the buffer in between."""
    key = (name, np.dtype(dtype))
    buffer = _state.buffers.get(key)
    size = math.prod(shape)
    if tag is None or buffer is None or buffer.size < size or _state.tags.get(key) != tag:
        return None
    return buffer[:size].reshape(shape)


def _madvise_switch() -> Callable[[bool], bool] | None:
    """NumPy's switch for asking Linux to back arrays of 4 MB or more with huge pages (private;
    None where it is missing)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._set_madvise_hugepage  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    return None


_set_madvise_hugepage = _madvise_switch()


def empty_output(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` for an array returned to the caller, new each call.

    NumPy asks Linux to back arrays of 4 MB or more with huge pages. For an array that is
    allocated and freed every step that makes the first touch stall from time to time while the
    kernel compacts memory (measured here: the ResNet layer's step took 50 ms instead of 34 in
    about one run of three; with its outputs allocated this way, 35-38 ms in eight of eight).
    The scratch buffers, allocated once, keep the huge pages. PyTorch does not ask for them either.
    """
    if _set_madvise_hugepage is None:
        return np.empty(shape, dtype)
    with _lock:
        previous = _set_madvise_hugepage(False)
        try:
            return np.empty(shape, dtype)
        finally:
            _set_madvise_hugepage(previous)
