"""Elementwise primitives in parts, on mathdnn's threads, into the workspace: the fast path of
``tanh``.

An elementwise map ``y = σ(x)`` computes each entry from that entry alone, and so does its VJP
``∂L/∂x = g · σ′(x)``. So the flat array may be cut into parts anywhere, and each part is the same
map of that part: every entry gets the same bits as from the whole array at once, whatever the
parts and whichever thread computes them. For ``tanh``::

    t = tanh(x),   slope = 1 − t·t   (kept for the VJP),   ∂L/∂x = g · slope,

each part three passes on one thread, the parts spread over ``get_num_threads()`` threads. The
arrays come from the workspace (``workspace.py``), so a training step maps no fresh pages for
them. Arrays under ``PARALLEL_MIN_BYTES`` are one part on the calling thread.
"""

from __future__ import annotations

import numpy as np

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.threads import parallel_map

# One part: small enough to share the work out evenly, large enough that the handing over (tens
# of µs) is a small share of it.
PART_BYTES = 256 << 10
PARALLEL_MIN_BYTES = 512 << 10


def parts(n: int, itemsize: int) -> list[slice]:
    """``0 … n−1`` in runs of about ``PART_BYTES``; one run under ``PARALLEL_MIN_BYTES``."""
    if n * itemsize < PARALLEL_MIN_BYTES:
        return [slice(0, n)]
    step = max(1, PART_BYTES // itemsize)
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def tanh(x: np.ndarray) -> tuple[np.ndarray, VJP]:
    """``(tanh x, vjp)`` as ``functional.activation``'s formula, computed in parts."""
    t, slope = workspace.empty(x.shape, x.dtype), workspace.empty(x.shape, x.dtype)
    flat_x, flat_t, flat_slope = x.reshape(-1), t.reshape(-1), slope.reshape(-1)
    runs = parts(flat_x.size, x.itemsize)

    def forward(s: slice) -> None:
        np.tanh(flat_x[s], out=flat_t[s])
        np.multiply(flat_t[s], flat_t[s], out=flat_slope[s])
        np.subtract(1, flat_slope[s], out=flat_slope[s])

    parallel_map(forward, runs)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = workspace.empty(x.shape, np.result_type(g, slope))
        flat_g, flat_grad = g.reshape(-1), grad.reshape(-1)
        parallel_map(lambda s: np.multiply(flat_g[s], flat_slope[s], out=flat_grad[s]), runs)
        return (grad,)

    return t, vjp
