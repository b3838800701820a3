"""Elementwise primitives in parts, on mathdnn's threads, into the workspace: the fast path of
``tanh``.

An elementwise map ``y = σ(x)`` computes each entry from that entry alone, and so does its VJP
``∂L/∂x = g · σ′(x)``. So the flat array may be cut into parts anywhere, and each part is the same
map of that part: every entry gets the same bits as from the whole array at once, whatever the
parts and whichever thread computes them. For ``tanh``::

    t = tanh(x),   ∂L/∂x = g · (1 − t·t),

each part on one thread, the parts spread over ``get_num_threads()`` threads. The
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
    """``(tanh x, vjp)`` as ``functional.activation``'s formula, computed in parts; the slope
    ``1 − t·t`` is computed by the VJP, from ``t``, so a forward pass without gradients skips it."""
    t = workspace.empty(x.shape, x.dtype)
    flat_x, flat_t = x.reshape(-1), t.reshape(-1)
    runs = parts(flat_x.size, x.itemsize)
    parallel_map(lambda s: np.tanh(flat_x[s], out=flat_t[s]), runs)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = workspace.empty(x.shape, np.result_type(g, t))
        flat_g, flat_grad = g.reshape(-1), grad.reshape(-1)

        def backward(s: slice) -> None:  # g · (1 − t·t), the formula's operations in its order
            np.multiply(flat_t[s], flat_t[s], out=flat_grad[s])
            np.subtract(1, flat_grad[s], out=flat_grad[s])
            np.multiply(flat_g[s], flat_grad[s], out=flat_grad[s])

        parallel_map(backward, runs)
        return (grad,)

    return t, vjp
