"""2-D max, average and adaptive average pooling, and their VJPs.

``max_pool2d`` and ``avg_pool2d`` look, for every output pixel ``(i, j)``, at the window
``X'[n, c, s·i + d·a, s·j + d·b]`` (``a < kh``, ``b < kw``) of the padded input ``X'``. Both loop
over the window offsets ``(a, b)``: offset ``(a, b)`` of every window at once is one strided slice
of the batch, so each step is vectorised over ``N·C·Ho·Wo``. The padding (−∞ for the maximum, 0
for the sum) changes nothing, so an offset reads only the input, for the windows where it lies
inside it: the padded input is never built, and the work does not grow with the padding. Their
VJPs run the same loop and add each offset's share of ``∂L/∂Y`` back onto the pixels it read.
``adaptive_avg_pool2d`` chooses the windows from the output size instead.

``mathdnn.functional.reference`` holds the per-window loops these are tested against;
``mathdnn.kernels.pool_tiles`` a fast path for windows that tile the input, which the switch
(``mathdnn.switch``) picks when the fast paths are on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mathdnn import switch
from mathdnn.engine import Tensor
from mathdnn.engine.tensor import VJP
from mathdnn.functional._checks import check_ndim, float_tensor
from mathdnn.windows import PoolGeometry, flag


def _batched(fn: str, x: Any, empty_channels: bool = False) -> tuple[Tensor, bool]:
    """``x`` as a batch ``(N, C, H, W)``, and whether it came unbatched as ``(C, H, W)``.

    As in PyTorch, N may be 0, and C too where ``empty_channels``; H and W may not.
    """
    x = float_tensor(fn, "x", x)
    check_ndim(fn, "x", x, (3, 4), "(N, C, H, W) or (C, H, W)")
    named = ("H", "W") if empty_channels else ("C", "H", "W")
    if 0 in x.shape[-len(named) :]:
        raise ValueError(f"{fn}: x must have non-empty {', '.join(named)}, got shape {x.shape}")
    return (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)


def _unbatched(t: Tensor, unbatched: bool) -> Tensor:
    return t.squeeze(0) if unbatched else t


# ------------------------------------------------------------------------------- max_pool2d
def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``Y[n, c, i, j] = max_{a,b} X'[n, c, s·i + d·a, s·j + d·b]``, ``X'`` padded with −∞.

    As ``torch.nn.functional.max_pool2d``: ``stride`` defaults to ``kernel_size``, ``padding`` is
    at most half the kernel, ``ceil_mode`` rounds the output size up
    (``mathdnn.windows.output_size``).
    Each window's maximum is its first largest entry in row-major order, where a NaN beats
    everything, a later NaN included (PyTorch's scan ``v > max or isnan(v)``); in a window of
    only −∞ it is its first pixel. ``return_indices=True`` also returns where: the flat position
    ``h·W + w`` of that pixel in its input plane, int64, without gradient.

    VJP: each ``∂L/∂Y[n, c, i, j]`` goes to the pixel of that window's maximum,
    ``∂L/∂X[n, c, h, w] = Σ_{(i, j) whose maximum is (h, w)} ∂L/∂Y[n, c, i, j]``.
    """
    fn = "max_pool2d"
    x, unbatched = _batched(fn, x)
    geo = PoolGeometry(fn, x, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = flag(fn, "return_indices", return_indices)
    kernel = switch.kernel(fn, max_pool2d_formula, x.data, geo)
    y, offset, vjp = kernel(x.data, geo)
    out = _unbatched(Tensor._make(y, (x,), vjp, fn), unbatched)
    if not return_indices:
        return out
    return out, _unbatched(Tensor._leaf(geo.input_index(offset)), unbatched)


def max_pool2d_formula(x: np.ndarray, geo: PoolGeometry) -> tuple[np.ndarray, np.ndarray, VJP]:
    """The formula path, a kernel (``mathdnn.switch``): ``(Y, offset, vjp)``, ``offset = a·kw + b``
    of each window's maximum.

    The padding is −∞, which never wins: each window offset ``(a, b)`` updates the windows whose
    tap ``(a, b)`` reads the input (``PoolGeometry.reads``), so no padded copy is made."""
    y = np.full(x.shape[:2] + geo.out, -np.inf, dtype=x.dtype)
    offset = np.broadcast_to(geo.first_pixel, y.shape).copy()  # −∞ everywhere: the first pixel
    for k, out, inside in geo.reads():
        v, best = x[inside], y[out]
        better = (v > best) | np.isnan(v)  # ties keep the first maximum
        offset[out] = np.where(better, k, offset[out])
        y[out] = np.maximum(best, v)  # NaN where either is

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros(x.shape, dtype=x.dtype)
        with np.errstate(invalid="ignore", over="ignore"):  # ∞ − ∞ = NaN, as in PyTorch
            for k, out, inside in geo.reads():
                grad[inside] += np.where(offset[out] == k, g[out], 0)
        return (grad,)

    return y, offset, vjp


# ------------------------------------------------------------------------------- avg_pool2d
def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """``Y[n, c, i, j] = (1/|window|) Σ_{a,b} X'[n, c, s·i + a, s·j + b]``, ``X'`` zero-padded.

    As ``torch.nn.functional.avg_pool2d``: ``|window|`` counts the window's places in the padded
    input (``kh·kw``, less where a ``ceil_mode`` window reaches past the padding), only its
    pixels of the input with ``count_include_pad=False``, or is ``divisor_override``.

    VJP: each window shares ``∂L/∂Y[n, c, i, j] / |window|`` with every place it read,
    ``∂L/∂X'[n, c, s·i + a, s·j + b] += ∂L/∂Y[n, c, i, j] / |window|``.
    """
    fn = "avg_pool2d"
    x, unbatched = _batched(fn, x)
    geo = PoolGeometry(fn, x, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _divisor(fn, geo, count_include_pad, divisor_override).astype(x.dtype)
    kernel = switch.kernel(fn, avg_pool2d_formula, x.data, geo)
    y, vjp = kernel(x.data, geo, divisor)
    return _unbatched(Tensor._make(y, (x,), vjp, fn), unbatched)


def avg_pool2d_formula(
    x: np.ndarray, geo: PoolGeometry, divisor: np.ndarray
) -> tuple[np.ndarray, VJP]:
    """The formula path, a kernel (``mathdnn.switch``): ``(Y, vjp)``. The padding is 0, which
    adds nothing: each window offset adds what it reads of the input (``PoolGeometry.reads``)."""
    total = np.zeros(x.shape[:2] + geo.out, dtype=x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # ∞ − ∞ = NaN, as in PyTorch
        for _, out, inside in geo.reads():
            total[out] += x[inside]

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        share = g / divisor
        grad = np.zeros(x.shape, dtype=x.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            for _, out, inside in geo.reads():
                grad[inside] += share[out]
        return (grad,)

    return total / divisor, vjp


def _divisor(
    fn: str, geo: PoolGeometry, count_include_pad: Any, divisor_override: Any
) -> np.ndarray:
    """``|window|`` of every output pixel ``(i, j)``: the number of places it reads that count."""
    count_include_pad = flag(fn, "count_include_pad", count_include_pad)
    if divisor_override is not None:
        if not isinstance(divisor_override, int | np.integer) or isinstance(divisor_override, bool):
            raise TypeError(f"{fn}: divisor_override must be an int, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{fn}: divisor_override must not be 0")
        return np.full(geo.out, divisor_override)
    # A window is a rectangle: |window| = (its rows that count)·(its columns that count), in
    # float64, which a huge window's count cannot overflow.
    counted = []
    for axis, (n, p) in enumerate(zip(geo.size, geo.padding, strict=True)):
        first, end = (-p, n + p) if count_include_pad else (0, n)
        lo, hi = geo.tap_range(axis, first, end)
        counted.append(np.maximum(hi - lo, 0).astype(np.float64))
    return np.outer(*counted)


# ---------------------------------------------------------------------- adaptive_avg_pool2d
def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """``Y[n, c, i, j]`` = the mean of ``X[n, c, h, w]`` over the window of rows
    ``⌊i·H/Ho⌋ ≤ h < ⌈(i+1)·H/Ho⌉`` and columns ``⌊j·W/Wo⌋ ≤ w < ⌈(j+1)·W/Wo⌉``.

    As ``torch.nn.functional.adaptive_avg_pool2d``: ``output_size`` is ``(Ho, Wo)`` or one int
    for both; ``None`` keeps that size of the input. Neighbouring windows overlap where ``H/Ho``
    is not whole. A window is a rectangle, so its mean is the mean over its columns of the mean
    over its rows: ``Y`` averages the rows of every window, then the columns.

    VJP: each window shares ``∂L/∂Y[n, c, i, j]`` equally among its pixels,
    ``∂L/∂X[n, c, h, w] = Σ_{windows (i, j) ∋ (h, w)} ∂L/∂Y[n, c, i, j] / (|rows_i|·|cols_j|)``,
    spread back over the columns, then over the rows.
    """
    fn = "adaptive_avg_pool2d"
    x, unbatched = _batched(fn, x, empty_channels=True)
    (h, w), (ho, wo) = x.shape[2:], _adaptive_size(fn, output_size, x.shape[2:])
    numbers = x.shape[0] * x.shape[1] * ho * max(w, wo)  # of the output, or of the row means
    if numbers * x.dtype.itemsize > np.iinfo(np.intp).max:
        raise ValueError(
            f"{fn}: output_size {(ho, wo)} is too large: x of shape {x.shape} would give "
            f"{numbers:.3g} numbers, more than an array can hold"
        )
    try:  # the output first, so that one too large for the memory fails at once
        y = np.empty((*x.shape[:2], ho, wo), dtype=x.dtype)
    except MemoryError as err:
        raise MemoryError(f"{fn}: output_size {(ho, wo)}: {err}") from None
    rows, cols = _adaptive_windows(h, ho), _adaptive_windows(w, wo)
    _mean_over(_mean_over(x.data, 2, rows), 3, cols, out=y)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (np.ascontiguousarray(_spread_over(_spread_over(g, 3, cols, w), 2, rows, h)),)

    return _unbatched(Tensor._make(y, (x,), vjp, fn), unbatched)


def _adaptive_size(fn: str, output_size: Any, size: tuple[int, int]) -> tuple[int, int]:
    """``(Ho, Wo)`` from an int or a pair of ints or ``None`` (that input size), each ≥ 0."""
    is_int = isinstance(output_size, int | np.integer) and not isinstance(output_size, bool)
    try:
        items = tuple((output_size, output_size) if is_int else output_size)
    except TypeError:
        items = ()
    if len(items) != 2 or not all(
        v is None or (isinstance(v, int | np.integer) and not isinstance(v, bool)) for v in items
    ):
        raise TypeError(
            f"{fn}: output_size must be an int or a pair of ints or None, got {output_size!r}"
        )
    if any(v is not None and v < 0 for v in items):
        raise ValueError(f"{fn}: output_size must be non-negative, got {output_size!r}")
    return tuple(n if v is None else int(v) for v, n in zip(items, size, strict=True))


def _adaptive_windows(size: int, out: int) -> list[slice]:
    """The windows ``⌊i·size/out⌋ ≤ h < ⌈(i+1)·size/out⌉``, ``i < out``, along one axis."""
    return [slice(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _mean_over(
    a: np.ndarray, axis: int, windows: list[slice], out: np.ndarray | None = None
) -> np.ndarray:
    """``out[..., i, ...]`` = the mean of ``a[..., window_i, ...]`` along ``axis`` (into ``out``
    if given)."""
    a = np.moveaxis(a, axis, -1)
    if out is None:
        out = np.empty((*a.shape[:-1], len(windows)), dtype=a.dtype)
    else:
        out = np.moveaxis(out, axis, -1)
    with np.errstate(invalid="ignore", over="ignore"):  # ∞ − ∞ = NaN, as in PyTorch
        for i, window in enumerate(windows):
            out[..., i] = a[..., window].mean(axis=-1)
    return np.moveaxis(out, -1, axis)


def _spread_over(g: np.ndarray, axis: int, windows: list[slice], size: int) -> np.ndarray:
    """The VJP of ``_mean_over``: each ``g[..., i, ...]`` shared equally by window ``i``."""
    g = np.moveaxis(g, axis, -1)
    grad = np.zeros((*g.shape[:-1], size), dtype=g.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        for i, window in enumerate(windows):
            grad[..., window] += g[..., i, None] / (window.stop - window.start)
    return np.moveaxis(grad, -1, axis)
