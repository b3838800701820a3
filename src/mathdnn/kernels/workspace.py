"""The kernels' workspace: the large arrays of the fast paths, reused from one step to the next.

A training step makes and drops the same large arrays every time: unfolded columns, gradient
buffers, padded copies, outputs. glibc hands out blocks that large as fresh pages from the
operating system, and each page faults and is zeroed when first written; whether a freed block
is kept for the next request depends on everything the process has allocated before (a process
that once loaded and freed a large array can train much faster than a fresh one; the figures are
in ``benchmarks/README.md``). The workspace makes
the fast paths independent of that history: it keeps the arrays it has handed out, and hands one
out again once nothing else refers to it.

``empty(shape, dtype)`` is ``np.empty``: an array of undefined contents (``zeros`` fills it with
zeros), owned by the caller as long as the caller, or any view of it, refers to it. An array is
free again when the workspace's own reference is the only one left (CPython counts every view of
an array, a memoryview of it too, as a reference to it), so an array is never handed out while
anything can still read or write it, whatever the caller keeps (an output in the graph, a
gradient adopted as a parameter's ``.grad``, a view kept for the VJP). Arrays below
``MIN_BYTES`` come from ``np.empty``: the allocator serves those from memory it keeps anyway; so
do arrays over a quarter of the limit (``KEPT_SHARE``), one-offs such as the columns of one large
photograph, which would hold that memory long after the call.

The workspace holds at most ``set_workspace_limit(nbytes)`` bytes (``DEFAULT_LIMIT``; 0 turns
it off); to make room it forgets the arrays of the shapes used least recently (an array still in
use stays with its user). ``clear_workspace()`` forgets every array. It is shared by all threads:
a lock guards its lists, and an array in use by one thread is not free for another.

Only the fast paths take arrays from here (``mathdnn.kernels``); the formula path allocates as it
reads. The results are the same bits either way.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Sequence

import numpy as np

DEFAULT_LIMIT = 128 << 20
MIN_BYTES = 64 << 10
# An array larger than the limit's KEPT_SHARE-th part is a one-off (one large image, not a
# training step's chunk): it comes from np.empty, and goes when its user drops it.
KEPT_SHARE = 4

_lock = threading.Lock()
# (shape, dtype) -> the arrays of that shape handed out so far; the shapes in order of last use.
_arrays: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}
_held = 0  # bytes of the arrays in _arrays
_limit = DEFAULT_LIMIT
# References to a free array while `empty` looks at it: its list's, the loop's, getrefcount's.
_FREE = 3


def empty(shape: int | Sequence[int], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` with undefined contents, as ``np.empty``: one the
    workspace handed out before and nothing refers to any longer, or a new one it keeps."""
    global _held
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or nbytes > _limit // KEPT_SHARE:
        return np.empty(shape, dtype)
    key = (shape, dtype)
    with _lock:
        arrays = _arrays.pop(key, [])
        _arrays[key] = arrays  # now the most recently used shape
        for array in arrays:
            if sys.getrefcount(array) == _FREE:
                return array
        while _held + nbytes > _limit:  # forget the arrays of the least recently used shape
            oldest = next(iter(_arrays))
            forgotten = _arrays.pop(oldest) if oldest != key else [arrays.pop(0)]
            _held -= sum(a.nbytes for a in forgotten)
        array = np.empty(shape, dtype)
        arrays.append(array)
        _held += nbytes
        return array


def zeros(shape: int | Sequence[int], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """``np.zeros`` from the workspace."""
    array = empty(shape, dtype)
    array.fill(0)
    return array


def copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` (a view, typically: the copy is the gather) in a workspace
    array, as ``np.ascontiguousarray`` of a non-contiguous view."""
    out = empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def padded(x: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """``X'``: ``x`` (N, C, H, W) with ``pads = (top, bottom, left, right)`` rows and columns of
    zeros, in a workspace array (``x`` itself when there is no padding)."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape
    xp = empty((n, c, top + h + bottom, left + w + right), x.dtype)
    xp[:, :, :top] = 0
    xp[:, :, top + h :] = 0
    xp[:, :, top : top + h, :left] = 0
    xp[:, :, top : top + h, left + w :] = 0
    xp[:, :, top : top + h, left : left + w] = x
    return xp


def clear_workspace() -> None:
    """Forget every array the workspace keeps (those still in use stay with their users)."""
    global _held
    with _lock:
        _arrays.clear()
        _held = 0


def set_workspace_limit(nbytes: int) -> None:
    """Keep at most ``nbytes`` bytes of arrays in the workspace (0: none, every array new)."""
    global _limit
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(f"set_workspace_limit: nbytes must be an int >= 0, got {nbytes!r}")
    clear_workspace()
    _limit = nbytes


def workspace_limit() -> int:
    """The most bytes the workspace keeps (``set_workspace_limit``)."""
    return _limit


def workspace_bytes() -> int:
    """The bytes of the arrays the workspace keeps now, in use or free."""
    return _held
