"""The window arithmetic of convolution and pooling, along one axis: the one place it is written.

Output pixel ``i`` of a layer with kernel ``k``, stride ``s``, dilation ``d`` reads the rows
``s·i + d·a`` (``a < k``) of the padded input ``X'``, that is the rows ``s·i + d·a − p`` of the
input itself when ``p`` rows of padding come first. Read by output pixel, that is a window
(``window``, the loop references, Problem 4's counterexample); read by tap ``a``, it is one strided
slice of ``X'`` for all ``i`` at once (``tap``, the formula paths of ``conv2d`` and the pools).
"""

from __future__ import annotations

import numpy as np


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
