"""The fast paths of the primitives, and the rules that pick them.

A fast path computes what a formula of ``mathdnn.functional`` computes, another way (by chunks on
threads, as banded matrix products, over contiguous memory), one module per idea, and keeps the
formula's contract (``mathdnn.switch``): the same arguments, the same outputs to floating-point
rounding with NaN and ±∞ in exactly the same places, the same errors. The formula path is the
oracle every fast path is tested against. This package registers one rule per primitive with the
switch, which asks it only when the fast paths are on; the formulas never import it.

The switch is re-exported here::

    with mathdnn.kernels.use("reference"):
        y = F.conv2d(x, w)              # the formula path, whatever the default

    mathdnn.kernels.use("reference")      # from now on, in this process
    MATHDNN_KERNELS=reference mathdnn verify

What only the fast paths do, so that the formula path stays the formula alone: BLAS kept on one
thread (``one_blas_thread``, see ``mathdnn.threads``), the batch split over mathdnn's threads
(``chunks``) in chunks that do not depend on the number of threads, their large arrays kept from
one call to the next in a workspace (``workspace``: ``clear_workspace``, ``set_workspace_limit``),
and non-finite values sent back to the formula where a fast kernel would smear them
(``finite_only``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mathdnn import switch
from mathdnn.kernels import elementwise, pool_tiles, workspace
from mathdnn.kernels.chunks import Kernel, conv2d_chunked
from mathdnn.kernels.conv_banded import conv2d_banded
from mathdnn.kernels.conv_rows import conv2d_rows
from mathdnn.kernels.conv_unfold import conv2d_unfold
from mathdnn.kernels.workspace import clear_workspace, set_workspace_limit
from mathdnn.switch import ENV, MODES, fast, mode, use
from mathdnn.threads import single_threaded_blas
from mathdnn.windows import ConvGeometry, PoolGeometry


def one_blas_thread(kernel: Callable[..., Any], work: int | None = None) -> Callable[..., Any]:
    """``kernel`` with its forward and its VJP run on one BLAS thread (``single_threaded_blas``;
    ``work``, the multiply-adds, skips the span for small products)."""

    @functools.wraps(kernel)
    def run(*args: Any) -> tuple[Any, ...]:
        with single_threaded_blas(work):
            *outputs, vjp = kernel(*args)

        def vjp_one_thread(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
            with single_threaded_blas(work):
                return vjp(g)

        return (*outputs, vjp_one_thread)

    return run


def finite(a: np.ndarray) -> bool:
    """Whether every entry of ``a`` is finite, by one dot product ``a · a`` (NaN and ±∞ make it
    non-finite; so may an overflow, which only sends the work to the formula path). BLAS's dot
    product reads the array faster than NumPy's sum."""
    flat = a.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.dot(flat, flat)))


def finite_only(kernel: Kernel, formula: Kernel) -> Kernel:
    """``kernel``, which is exact on finite values only (its shifted garbage or banded zeros,
    times a NaN or ±∞, would spread it): a non-finite input, weight or cotangent goes to
    ``formula`` instead, which puts NaN and ±∞ exactly where PyTorch does."""

    @functools.wraps(kernel)
    def run(
        x: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray | None,
        geo: ConvGeometry,
        need: tuple[bool, bool],
    ) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray | None, ...]]]:
        if not (finite(x) and finite(weight)):
            return formula(x, weight, bias, geo, need)
        y, vjp = kernel(x, weight, bias, geo, need)

        def checked(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
            if not finite(g):
                return formula(x, weight, bias, geo, need)[1](g)
            return vjp(g)

        return y, checked

    return run


# The rule's thresholds, measured in benchmarks/README.md. The kernel-rows products have depth
# C·kh: too shallow for BLAS below ROWS_MIN_DEPTH. The banded products multiply Wp/kw times the
# useful amount; for depthwise layers, whose formula products are matrix-vector products, that
# pays up to DEPTHWISE_MAX_WASTE.
ROWS_MIN_DEPTH = 8
DEPTHWISE_MAX_WASTE = 12


def conv2d_kernel(formula: Kernel, x: np.ndarray, weight: np.ndarray, geo: ConvGeometry) -> Kernel:
    """The fast path for one ``conv2d`` call, by one rule:

    - stride 1, groups 1, ``C·kh ≥ 8``: unfold the kernel rows only (``conv_rows``);
    - stride 1, groups 1, ``C·kh < 8``, a window larger than 1×1: the formula's unfold into the
      workspace (``conv_unfold``; a 1×1 window is one product, with nothing to unfold);
    - stride 1, depthwise (one output channel per group), a narrow image: banded products
      (``conv_banded``);
    - anything else: the formula;

    each run on chunks of the batch on mathdnn's threads (``chunks``), BLAS on one thread.
    """
    c_out, c_g, kh, kw = weight.shape
    kernel = formula
    if geo.stride == (1, 1) and geo.groups == 1 and c_g * kh >= ROWS_MIN_DEPTH:
        kernel = finite_only(conv2d_rows, formula)
    elif geo.stride == (1, 1) and geo.groups == 1 and kh * kw > 1:
        kernel = conv2d_unfold
    elif geo.stride == (1, 1) and c_out == geo.groups:
        if x.shape[3] + geo.pads[2] + geo.pads[3] <= DEPTHWISE_MAX_WASTE * kw:
            kernel = finite_only(conv2d_banded, formula)
    return one_blas_thread(conv2d_chunked(kernel))


def max_pool2d_kernel(
    formula: Callable[..., Any], x: np.ndarray, geo: PoolGeometry
) -> Callable[..., Any]:
    """``pool_tiles.max_pool2d`` where the windows tile the input, else the formula."""
    return pool_tiles.max_pool2d if pool_tiles.tiles(geo) else formula


def avg_pool2d_kernel(
    formula: Callable[..., Any], x: np.ndarray, geo: PoolGeometry
) -> Callable[..., Any]:
    """``pool_tiles.avg_pool2d`` where the windows tile the input, else the formula."""
    return pool_tiles.avg_pool2d if pool_tiles.tiles(geo) else formula


def linear_kernel(
    formula: Callable[..., Any], x: np.ndarray, weight: np.ndarray
) -> Callable[..., Any]:
    """The formula of ``linear``, BLAS on one thread when its products are large enough for
    OpenBLAS to use threads."""
    return one_blas_thread(formula, work=x.size * math.prod(weight.shape[:-1]))


def tanh_kernel(formula: Callable[..., Any], x: np.ndarray) -> Callable[..., Any]:
    """``elementwise.tanh`` (in parts on mathdnn's threads, into the workspace) for arrays the
    workspace keeps, else the formula."""
    return elementwise.tanh if x.nbytes >= workspace.MIN_BYTES else formula


switch.register("conv2d", conv2d_kernel)
switch.register("max_pool2d", max_pool2d_kernel)
switch.register("avg_pool2d", avg_pool2d_kernel)
switch.register("linear", linear_kernel)
switch.register("tanh", tanh_kernel)

__all__ = [
    "ENV",
    "MODES",
    "clear_workspace",
    "conv2d_kernel",
    "fast",
    "finite",
    "finite_only",
    "mode",
    "one_blas_thread",
    "set_workspace_limit",
    "use",
]
