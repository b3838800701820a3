"""Any conv2d kernel, run on chunks of the batch on mathdnn's threads.

The images of a batch are independent: ``Y[s] = conv(X[s])`` for every run ``s`` of images, and
the VJP of a chunk gives ``∂L/∂X[s]`` and that chunk's share of ``∂L/∂W`` and ``∂L/∂bias``, which
sum over the chunks. Chunks of a few MB keep each chunk's unfolded matrices in the processor's
cache and let the threads share the copies that NumPy runs on one core.

The chunks depend on the batch alone, never on the number of threads, and their shares of
``∂L/∂W`` and ``∂L/∂bias`` are added in the chunks' order: each chunk is computed by one thread with
BLAS on one thread, so the result has the same bits with any number of threads. ``Y`` and
``∂L/∂X`` are assembled in arrays of the workspace (``workspace.py``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import numpy as np

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.threads import parallel_map
from mathdnn.windows import ConvGeometry

#: A conv2d kernel (``mathdnn.switch``): ``kernel(x, weight, bias, geo, need) -> (Y, vjp)``.
Kernel = Callable[
    [np.ndarray, np.ndarray, np.ndarray | None, ConvGeometry, tuple[bool, bool]],
    tuple[np.ndarray, VJP],
]

# A chunk holds at most about this many bytes of unfolded input (C·kh·kw·Ho·Wo per image).
CHUNK_BYTES = 4 << 20
# Below this many bytes in all, one chunk on the calling thread: handing a share to a sleeping
# pool thread costs about 0.1 ms, more than small layers gain from a second core.
PARALLEL_MIN_BYTES = 2 << 20
# The number of chunks is a multiple of this, so that two threads share them evenly.
CHUNKS_MULTIPLE = 2


def batch_chunks(
    n: int,
    per_image_bytes: int,
    chunk_bytes: int = CHUNK_BYTES,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
) -> list[slice]:
    """The images ``0 … n−1`` in nearly equal runs of at most about ``chunk_bytes``, a multiple of
    ``CHUNKS_MULTIPLE`` of them (or one per image); one run when they are under
    ``parallel_min_bytes`` in all. The same runs for any number of threads."""
    total = n * max(per_image_bytes, 1)
    if total < parallel_min_bytes or n < 2:
        return [slice(0, n)]
    per_part = CHUNKS_MULTIPLE * chunk_bytes
    parts = min(n, CHUNKS_MULTIPLE * max(1, -(-total // per_part)))
    bounds = [i * n // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def conv2d_chunked(
    kernel: Kernel, chunk_bytes: int = CHUNK_BYTES, parallel_min_bytes: int = PARALLEL_MIN_BYTES
) -> Kernel:
    """``kernel`` run on chunks of the batch, the chunks spread over mathdnn's threads."""

    @functools.wraps(kernel)
    def run(
        x: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray | None,
        geo: ConvGeometry,
        need: tuple[bool, bool],
    ) -> tuple[np.ndarray, VJP]:
        (kh, kw), (ho, wo) = geo.kernel, geo.out
        per_image = x.shape[1] * kh * kw * ho * wo * x.itemsize
        chunks = batch_chunks(x.shape[0], per_image, chunk_bytes, parallel_min_bytes)
        if len(chunks) == 1:
            return kernel(x, weight, bias, geo, need)
        y = workspace.empty((x.shape[0], weight.shape[0], ho, wo), x.dtype)

        def forward(s: slice) -> VJP:
            y[s], vjp_s = kernel(x[s], weight, bias, geo, need)  # each thread copies its part
            return vjp_s

        vjps = parallel_map(forward, chunks)

        def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
            need_x, need_w = need
            grad_x = workspace.empty(x.shape, x.dtype) if need_x else None

            def chunk_vjp(k: int) -> tuple[np.ndarray | None, np.ndarray | None]:
                s = chunks[k]
                grad_x_s, grad_w_s, grad_bias_s = vjps[k](g[s])
                if grad_x is not None:
                    grad_x[s] = grad_x_s
                return grad_w_s, grad_bias_s

            grad_w, grad_bias = zip(*parallel_map(chunk_vjp, range(len(chunks))), strict=True)
            return (
                grad_x,
                functools.reduce(np.add, grad_w) if need_w else None,
                None if bias is None else functools.reduce(np.add, grad_bias),
            )

        return y, vjp

    return run
