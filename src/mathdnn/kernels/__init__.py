"""The kernel switch: every primitive runs its formula ("reference") or a fast path ("fast").

The formula path is the code in ``mathdnn.functional``: the formula of the docstring, written so a
reader can put the two side by side. A fast path computes the same thing another way (by chunks
on threads, or as banded matrix products); it lives in this package, one module per idea, with
the same contract as the formula it stands in for: the same inputs, the same outputs (to
floating-point rounding, with NaN and ±∞ in exactly the same places) and the same errors. The
formula path is the oracle every fast path is tested against.

One switch chooses between them for every primitive::

    with mathdnn.kernels.use("reference"):
        y = F.conv2d(x, w)              # the formula path, whatever the default

    mathdnn.kernels.use("reference")      # from now on, in this process
    MATHDNN_KERNELS=reference mathdnn verify

The default is ``"fast"``. The switch is process-wide (like ``torch.set_num_threads``), not
per thread.
"""

from __future__ import annotations

import functools
import os
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from mathdnn.kernels.workspace import clear_workspace, set_workspace_limit

if TYPE_CHECKING:
    from mathdnn.functional.conv import Backward, ConvGeometry
    from mathdnn.kernels.chunks import Kernel

MODES = ("reference", "fast")
ENV = "MATHDNN_KERNELS"

_mode: str | None = None  # None until first asked for: then $MATHDNN_KERNELS, else "fast"


def _check(fn: str, name: str, value: object) -> str:
    if value not in MODES:
        raise ValueError(f"{fn}: {name} must be 'reference' or 'fast', got {value!r}")
    return str(value)


def mode() -> str:
    """The kernels in use: ``"reference"`` (the formulas) or ``"fast"``."""
    global _mode
    if _mode is None:
        _mode = _check("mathdnn.kernels", f"${ENV}", os.environ.get(ENV, "fast") or "fast")
    return _mode


def fast() -> bool:
    """Whether the primitives may take their fast paths."""
    return mode() == "fast"


class use:  # lower case: called like a function too, as torch.set_grad_enabled
    """Switch every primitive to ``"reference"`` or ``"fast"`` kernels.

    Takes effect at once; used as a context manager, it restores the previous choice on exit.
    """

    def __init__(self, mode: str) -> None:
        global _mode
        new = _check("mathdnn.kernels.use", "mode", mode)
        self.previous = globals()["mode"]()
        _mode = new

    def __enter__(self) -> use:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _mode
        _mode = self.previous


def finite(a: np.ndarray) -> bool:
    """Whether every entry of ``a`` is finite, by one sum (NaN and ±∞ make it non-finite; so may an
    overflow, which only sends the work to the formula path)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(a)))


def finite_only(kernel: Kernel) -> Kernel:
    """``kernel``, which is exact on finite values only (its shifted garbage or banded zeros,
    times a NaN or ±∞, would spread it): a non-finite input, weight or cotangent goes to the
    formula instead, which puts NaN and ±∞ exactly where PyTorch does."""
    from mathdnn.functional.conv import conv2d_formula

    @functools.wraps(kernel)
    def run(
        x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, geo: ConvGeometry
    ) -> tuple[np.ndarray, Backward]:
        if not (finite(x) and finite(weight)):
            return conv2d_formula(x, weight, bias, geo)
        y, backward = kernel(x, weight, bias, geo)

        def checked(g: np.ndarray, need_x: bool, need_w: bool) -> tuple[np.ndarray | None, ...]:
            if not finite(g):
                return conv2d_formula(x, weight, bias, geo)[1](g, need_x, need_w)
            return backward(g, need_x, need_w)

        return y, checked

    return run


# The rule's thresholds, measured in benchmarks/README.md. The kernel-rows products have depth
# C·kh: too shallow for BLAS below ROWS_MIN_DEPTH. The banded products multiply Wp/kw times the
# useful amount; for depthwise layers, whose formula products are matrix-vector products, that
# pays up to DEPTHWISE_MAX_WASTE.
ROWS_MIN_DEPTH = 8
DEPTHWISE_MAX_WASTE = 12


def conv2d_kernel(x: np.ndarray, weight: np.ndarray, geo: ConvGeometry) -> Kernel:
    """The fast path for one ``conv2d`` call, by one rule:

    - stride 1, groups 1, ``C·kh ≥ 8``: unfold the kernel rows only (``conv_rows``);
    - stride 1, depthwise (one output channel per group), a narrow image: banded products
      (``conv_banded``);
    - anything else: the formula;

    each run on chunks of the batch on mathdnn's threads (``chunks``).
    """
    from mathdnn.functional.conv import conv2d_formula
    from mathdnn.kernels.chunks import conv2d_chunked
    from mathdnn.kernels.conv_banded import conv2d_banded
    from mathdnn.kernels.conv_rows import conv2d_rows

    c_out, c_g, kh, kw = weight.shape
    kernel = conv2d_formula
    if geo.stride == (1, 1) and geo.groups == 1 and c_g * kh >= ROWS_MIN_DEPTH:
        kernel = conv2d_rows
    elif geo.stride == (1, 1) and c_out == geo.groups:
        if x.shape[3] + geo.pads[2] + geo.pads[3] <= DEPTHWISE_MAX_WASTE * kw:
            kernel = conv2d_banded
    return conv2d_chunked(kernel)


__all__ = [
    "ENV",
    "MODES",
    "clear_workspace",
    "conv2d_kernel",
    "fast",
    "finite",
    "mode",
    "set_workspace_limit",
    "use",
]
