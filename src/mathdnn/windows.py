"""The windows of convolution and pooling: their arithmetic and geometry, the one place they are
written, below both the formula paths (``mathdnn.functional``) and the fast paths
(``mathdnn.kernels``), which share them and never import each other's.

Output pixel ``i`` of a layer with kernel ``k``, stride ``s``, dilation ``d`` reads the rows
``s·i + d·a`` (``a < k``) of the padded input ``X'``, that is the rows ``s·i + d·a − p`` of the
input itself when ``p`` rows of padding come first. Read by output pixel, that is a window
(``window``, the loop references, Problem 4's counterexample); read by tap ``a``, it is one strided
slice of ``X'`` for all ``i`` at once (``tap``, the formula paths of ``conv2d`` and the pools).

``ConvGeometry`` and ``PoolGeometry`` hold the checked window arguments of one call and the size of
its output; ``pad`` and ``PoolGeometry.pad`` build ``X'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def extent(kernel: int, dilation: int) -> int:
    """``d·(k − 1) + 1``: the rows a window spans, first to last."""
    return dilation * (kernel - 1) + 1


def output_size(
    fn: str,
    size: int,
    pad: int,
    kernel: int,
    stride: int,
    dilation: int,
    what: str,
    ceil_mode: bool = False,
) -> int:
    """``⌊(size + pad − d·(k−1) − 1) / s⌋ + 1``, the number of window positions along one axis
    (``pad``: the padding of both sides together).

    ``ceil_mode`` (pooling, which pads ``pad/2`` on each side) rounds up instead, so that a last
    window may reach past the padding, but, as in PyTorch, only if it starts inside the input or
    the left padding: ``(out − 1)·s < size + pad/2``, else that window is dropped.
    """
    span = extent(kernel, dilation)
    out = (size + pad - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad // 2:
        out -= 1
    if out < 1:
        raise ValueError(
            f"{fn}: the {what} (extent {span} with dilation {dilation}) is larger than the "
            f"padded input ({size} + padding {pad} = {size + pad})"
            + (f" by more than stride - 1 = {stride - 1} (ceil_mode)" if ceil_mode else "")
        )
    return out


def window(i: int, kernel: int, stride: int, dilation: int) -> slice:
    """The rows ``s·i + d·a``, ``a < k``, of ``X'`` that output pixel ``i`` reads."""
    return slice(stride * i, stride * i + extent(kernel, dilation), dilation)


def tap(a: int, stride: int, dilation: int, out: int) -> slice:
    """The rows ``s·i + d·a``, ``i < out``, of ``X'`` that tap ``a`` of every window reads."""
    return slice(dilation * a, dilation * a + stride * (out - 1) + 1, stride)


def input_rows(out: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """``rows[i, a] = s·i + d·a − p``: the input row (or column) tap ``a`` of window ``i`` reads;
    outside ``[0, size)`` it reads padding."""
    return stride * np.arange(out)[:, None] + dilation * np.arange(kernel) - padding


# ------------------------------------------------------------------------ the window arguments
def pair(fn: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``minimum``, as a pair; a sequence of one int is
    that int for both axes, as in PyTorch."""
    items = (value, value) if isinstance(value, int | np.integer) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) == 1:
        items = items * 2
    if len(items) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items
    ):
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{fn}: {name} must be {kind}, got {value!r}")
    return int(items[0]), int(items[1])


def flag(fn: str, name: str, value: Any) -> bool:
    """``value``, which must be a bool (``ceil_mode``, ``return_indices``, ...)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{fn}: {name} must be a bool, got {value!r}")
    return bool(value)


# --------------------------------------------------------------------------------- convolution
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


@dataclass(frozen=True)
class ConvGeometry:
    """The checked arguments of one ``conv2d`` call, and the size ``(Ho, Wo)`` of its output."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: Pads
    dilation: tuple[int, int]
    groups: int
    out: tuple[int, int]

    def window(self, a: int, b: int) -> tuple[slice, slice]:
        """The rows ``s·i + d·a`` and columns ``s·j + d·b`` of ``X'`` that window tap ``(a, b)``
        reads, over all output pixels ``(i, j)``."""
        (sh, sw), (dh, dw), (ho, wo) = self.stride, self.dilation, self.out
        return tap(a, sh, dh, ho), tap(b, sw, dw, wo)


def taps(xp: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """``windows[n, c, a, b, i, j] = X'[n, c, s·i + d·a, s·j + d·b]`` of the padded ``xp``: a
    view, nothing copied (``unfold`` copies it into its columns)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    windows = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return windows[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :ho, :wo].transpose(0, 1, 4, 5, 2, 3)


def add_taps(grad_padded: np.ndarray, grad_taps: np.ndarray, geo: ConvGeometry) -> None:
    """The adjoint of ``taps``: add ``grad_taps[n, c, a, b, i, j]`` onto ``grad_padded[n, c,
    s·i + d·a, s·j + d·b]`` (``∂L/∂X'``), tap by tap."""
    kh, kw = geo.kernel
    for a in range(kh):
        for b in range(kw):
            grad_padded[(..., *geo.window(a, b))] += grad_taps[:, :, a, b]


def pad(x: np.ndarray, pads: Pads) -> np.ndarray:
    """``X'``: ``x`` with ``pads = (top, bottom, left, right)`` rows and columns of zeros."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape
    padded = np.zeros((n, c, top + h + bottom, left + w + right), dtype=x.dtype)
    padded[:, :, top : top + h, left : left + w] = x  # (np.pad does this, ten times slower)
    return padded


# ------------------------------------------------------------------------------------- pooling
Window = tuple[Any, slice, slice]  # (..., rows, cols)
# The pools' window arguments must fit in 32 bits, as PyTorch's.
POOL_ARGUMENT_MAX = 2**31 - 1


def _ceil_div(a: np.ndarray | int, b: int) -> np.ndarray | int:
    return -(-a // b)


class PoolGeometry:
    """Kernel, stride, padding, dilation and output size of one pooling call, validated.

    ``x`` is the batch ``(N, C, H, W)`` (only its shape is read). ``X'`` is the input padded by
    ``padding`` on each side and, with ``ceil_mode``, further at the bottom and right as far as
    the last window reaches (``overhang``). The pools fill the overhang as they fill the padding,
    but unlike the padding it never counts as part of a window.

    Along an axis, tap ``a`` of window ``i`` reads the input row ``s·i + d·a − p``, which is
    inside the input (``0 ≤ row < size``) for the taps ``lo_i ≤ a < hi_i`` (``tap_range``): the
    rest read padding. Everything here is computed from these ranges, so that the work is
    proportional to the output and to the input, whatever the size of the window.
    """

    def __init__(
        self,
        fn: str,
        x: Any,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: Any,
    ) -> None:
        self.kernel = pair(fn, "kernel_size", kernel_size, minimum=1)
        # As PyTorch, an empty stride (``()`` or ``[]``) is the default, the kernel size.
        default = stride is None or (isinstance(stride, tuple | list) and not stride)
        self.stride = self.kernel if default else pair(fn, "stride", stride, minimum=1)
        self.padding = pair(fn, "padding", padding, minimum=0)
        self.dilation = pair(fn, "dilation", dilation, minimum=1)
        ceil_mode = flag(fn, "ceil_mode", ceil_mode)
        for name in ("kernel", "stride", "padding", "dilation"):
            if max(getattr(self, name)) > POOL_ARGUMENT_MAX:
                raise ValueError(
                    f"{fn}: {'kernel_size' if name == 'kernel' else name} "
                    f"{getattr(self, name)} must be at most 2**31 - 1, as in PyTorch"
                )
        if any(2 * p > k for p, k in zip(self.padding, self.kernel, strict=True)):
            raise ValueError(
                f"{fn}: padding {self.padding} must be at most half of kernel_size {self.kernel}"
            )
        self.size: tuple[int, int] = x.shape[2:]
        out, overhang = [], []
        for n, p, k, s, d, what in zip(
            self.size,
            self.padding,
            self.kernel,
            self.stride,
            self.dilation,
            ("height", "width"),
            strict=True,
        ):
            out.append(output_size(fn, n, 2 * p, k, s, d, f"pooling window {what}", ceil_mode))
            # how far the last window ends past the padding (only ever with ceil_mode)
            overhang.append(max(0, s * (out[-1] - 1) + extent(k, d) - (n + 2 * p)))
        self.out, self.overhang = tuple(out), tuple(overhang)
        # A window reads the input where both its row and its column do: along each axis, every
        # window needs a tap inside the input, and its first pixel is (first such row, column).
        first = []
        for axis in (0, 1):
            lo, hi = self.tap_range(axis, 0, self.size[axis])
            if np.any(lo >= hi):
                # PyTorch's max_pool2d reads and writes out of bounds on such a window.
                raise ValueError(
                    f"{fn}: with kernel_size {self.kernel}, stride {self.stride}, padding "
                    f"{self.padding} and dilation {self.dilation}, some windows of the "
                    f"{self.size[0]}x{self.size[1]} input cover only padding"
                )
            first.append(lo)
        self.first_pixel = first[0][:, None] * self.kernel[1] + first[1]  # as offset a·kw + b

    def tap_range(self, axis: int, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """For each window ``i`` along ``axis``: the taps ``lo_i ≤ a < hi_i`` whose row
        ``s·i + d·a − p`` lies in ``[first, end)`` (``lo_i ≥ hi_i`` where none does)."""
        k, s, d, p = (v[axis] for v in (self.kernel, self.stride, self.dilation, self.padding))
        start = s * np.arange(self.out[axis], dtype=np.int64) - p  # the row of tap 0
        lo = np.clip(_ceil_div(first - start, d), 0, k)
        hi = np.clip(_ceil_div(end - start, d), 0, k)
        return lo, hi

    def reads(self) -> Iterator[tuple[int, Window, Window]]:
        """For each window offset ``k = a·kw + b`` that reads the input: the output pixels
        ``(i, j)`` whose tap ``(a, b)`` is inside it, and the input pixels
        ``X[..., s·i + d·a − p, s·j + d·b − p]`` they read, as two slices (the taps that read
        only padding, or the overhang, are left out)."""
        rows, cols = (self._axis_reads(axis) for axis in (0, 1))
        kw = self.kernel[1]
        for a, out_rows, in_rows in rows:
            for b, out_cols, in_cols in cols:
                yield a * kw + b, (..., out_rows, out_cols), (..., in_rows, in_cols)

    def _axis_reads(self, axis: int) -> list[tuple[int, slice, slice]]:
        """Along ``axis``, each tap ``a`` that reads the input for some window, with the windows
        ``i_lo ≤ i < i_hi`` for which it does and the rows they read."""
        n, o = self.size[axis], self.out[axis]
        s, d, p = (v[axis] for v in (self.stride, self.dilation, self.padding))
        lo, hi = self.tap_range(axis, 0, n)
        found = []
        for a in range(int(lo.min()), int(hi.max())):
            # 0 ≤ s·i + d·a − p < n  ⇔  ⌈(p − d·a)/s⌉ ≤ i < ⌈(n + p − d·a)/s⌉
            i_lo = max(0, _ceil_div(p - d * a, s))
            i_hi = min(o, _ceil_div(n + p - d * a, s))
            if i_lo < i_hi:
                row = s * i_lo + d * a - p
                found.append((a, slice(i_lo, i_hi), slice(row, row + s * (i_hi - i_lo - 1) + 1, s)))
        return found

    def pad(self, x: np.ndarray, value: Any) -> np.ndarray:
        """``X'``: the last two axes of ``x`` padded with ``value`` (and the overhang)."""
        (ph, pw), (oh, ow) = self.padding, self.overhang
        if ph == pw == oh == ow == 0:
            return x
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph + oh), (pw, pw + ow)]
        return np.pad(x, widths, constant_values=value)

    def input_index(self, offset: np.ndarray) -> np.ndarray:
        """PyTorch's pooling indices: the flat position ``h·W + w`` in its input plane of the
        pixel at window offset ``offset = a·kw + b`` of each window ``(i, j)``."""
        a, b = np.divmod(offset.astype(np.int64), self.kernel[1])  # a fast path's may be uint8
        (sh, sw), (dh, dw), (ph, pw) = self.stride, self.dilation, self.padding
        i, j = np.arange(self.out[0])[:, None], np.arange(self.out[1])
        return (sh * i + dh * a - ph) * self.size[1] + (sw * j + dw * b - pw)
