"""Bad arguments to the pools: each raises ValueError or TypeError naming the function, the
argument and what was wrong (``test_pooling_errors_vs_torch`` checks that PyTorch raises too)."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import mathdnn
import mathdnn.functional as F


def s(shape: tuple[int, ...]) -> str:
    """A regex matching ``shape`` as printed."""
    return re.escape(str(shape))


X = (1, 1, 6, 6)
# (function, x shape, args, kwargs, error, message, whether PyTorch raises too)
CASES = [
    ("max_pool2d", (6, 6), (2,), {}, ValueError, rf"max_pool2d: x .*dimensions.*{s((6, 6))}", 1),
    ("max_pool2d", (1, 1, 1, 6, 6), (2,), {}, ValueError, r"max_pool2d: x .*dimensions", 1),
    ("max_pool2d", (1, 0, 6, 6), (2,), {}, ValueError, r"max_pool2d: x .*non-empty C, H, W", 1),
    ("max_pool2d", (1, 3, 0, 6), (1,), {}, ValueError, r"max_pool2d: x .*non-empty C, H, W", 1),
    ("max_pool2d", (0, 6, 6), (2,), {}, ValueError, rf"max_pool2d: x .*empty.*{s((0, 6, 6))}", 1),
    ("max_pool2d", X, (0,), {}, ValueError, r"max_pool2d: kernel_size must be positive, got 0", 1),
    ("max_pool2d", X, (-1,), {}, ValueError, r"max_pool2d: kernel_size must be positive", 1),
    ("max_pool2d", X, (2.0,), {}, TypeError, r"max_pool2d: kernel_size must be an int", 1),
    ("max_pool2d", X, (2, (1, 0)), {}, ValueError, r"max_pool2d: stride must be positive", 1),
    ("max_pool2d", X, (2,), {"dilation": 0}, ValueError, r"max_pool2d: dilation must be pos", 1),
    ("max_pool2d", X, (2,), {"padding": -1}, ValueError, r"max_pool2d: padding must be non-neg", 1),
    (
        "max_pool2d",
        X,
        (3,),
        {"padding": 2},
        ValueError,
        r"max_pool2d: padding \(2, 2\) must be at most half of kernel_size \(3, 3\)",
        1,
    ),
    (
        "max_pool2d",
        (1, 1, 3, 3),
        (4,),
        {},
        ValueError,
        r"max_pool2d: the pooling window height \(extent 4 .*larger than the padded input \(3 ",
        1,
    ),
    (
        "max_pool2d",
        (1, 1, 4, 4),
        (3,),
        {"dilation": 2},
        ValueError,
        r"max_pool2d: the pooling window height \(extent 5 with dilation 2\) is larger",
        1,
    ),
    (
        "max_pool2d",
        (1, 1, 3, 3),
        (4, 1),
        {"ceil_mode": True},
        ValueError,
        r"max_pool2d: the pooling window height .* by more than stride - 1 = 0 \(ceil_mode\)",
        1,
    ),
    ("max_pool2d", X, (2,), {"ceil_mode": "yes"}, TypeError, r"max_pool2d: ceil_mode.*bool", 1),
    ("max_pool2d", X, (2,), {"ceil_mode": 1}, TypeError, r"max_pool2d: ceil_mode.*bool", 1),
    # PyTorch takes any truthy value here.
    ("max_pool2d", X, (2,), {"return_indices": 1}, TypeError, r"max_pool2d: return_indices", 0),
    ("avg_pool2d", (1, 1, 0, 3), (1,), {}, ValueError, r"avg_pool2d: x .*non-empty", 1),
    (
        "avg_pool2d",
        X,
        (2,),
        {"padding": (0, 2)},
        ValueError,
        r"avg_pool2d: padding \(0, 2\) must be at most half of kernel_size \(2, 2\)",
        1,
    ),
    ("avg_pool2d", X, (2,), {"divisor_override": 0}, ValueError, r"avg_pool2d: divisor_ov.*0", 1),
    ("avg_pool2d", X, (2,), {"divisor_override": 2.5}, TypeError, r"avg_pool2d: divisor_o.*int", 1),
    (
        "avg_pool2d",
        X,
        (2,),
        {"divisor_override": True},
        TypeError,
        r"avg_pool2d: divisor_o.*int",
        1,
    ),
    ("avg_pool2d", X, (2,), {"count_include_pad": None}, TypeError, r"avg_pool2d: count_inc", 1),
    (
        "avg_pool2d",
        X,
        (2,),
        {"ceil_mode": 1},
        TypeError,
        r"avg_pool2d: ceil_mode must be a bool",
        1,
    ),
    ("adaptive_avg_pool2d", X, (-1,), {}, ValueError, r"adaptive_avg_pool2d: output_size.*-1", 1),
    ("adaptive_avg_pool2d", X, ((2, -1),), {}, ValueError, r"adaptive_avg_pool2d: output_siz", 1),
    ("adaptive_avg_pool2d", X, ((1, 2, 3),), {}, TypeError, r"adaptive_avg_pool2d: output_si", 1),
    ("adaptive_avg_pool2d", X, (2.0,), {}, TypeError, r"adaptive_avg_pool2d: output_size.*2\.0", 1),
    (
        "adaptive_avg_pool2d",
        X,
        (None,),
        {},
        TypeError,
        r"adaptive_avg_pool2d: output_size.*None",
        1,
    ),
    ("adaptive_avg_pool2d", X, (True,), {}, TypeError, r"adaptive_avg_pool2d: output_size", 1),
    ("adaptive_avg_pool2d", X, ((True, 2),), {}, TypeError, r"adaptive_avg_pool2d: output_s", 1),
    ("adaptive_avg_pool2d", (1, 1, 0, 3), (2,), {}, ValueError, r"adaptive_avg.*non-empty H, W", 1),
    (
        "adaptive_avg_pool2d",
        (3, 3),
        (2,),
        {},
        ValueError,
        r"adaptive_avg_pool2d: x .*dimensions",
        1,
    ),
]


@pytest.mark.parametrize(
    "name, shape, args, kwargs, error, message, pytorch_raises",
    CASES,
    ids=[f"{k:02d}-{c[0]}-{c[5][len(c[0]) + 2 :][:30]}" for k, c in enumerate(CASES)],
)
def test_bad_arguments_raise_a_clear_error(
    name, shape, args, kwargs, error, message, pytorch_raises
):
    with pytest.raises(error, match=message):
        getattr(F, name)(mathdnn.tensor(np.ones(shape)), *args, **kwargs)


def test_a_window_of_padding_only_is_rejected():
    """PyTorch's max_pool2d reads and writes out of bounds on it, so it is not called here."""
    with pytest.raises(ValueError, match=r"max_pool2d: with kernel_size .* cover only padding"):
        F.max_pool2d(mathdnn.tensor(np.ones((1, 1, 2, 2))), 2, stride=1, padding=1, dilation=3)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d])
def test_integer_input_is_rejected(pool):
    with pytest.raises(TypeError, match=rf"{pool.__name__}: x must be a floating-point tensor"):
        pool(mathdnn.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2)


# Issue 22: windows far larger than the input. The work and the memory follow the input and the
# output (one pixel here), not the window: padding reads nothing, so nothing is padded.
HUGE_WINDOWS = [
    ("max_pool2d", 2000, 1000, 1.0),
    ("avg_pool2d", 2000, 1000, 16 / 2000**2),  # the padding counts (count_include_pad)
    ("max_pool2d", 100_000, 50_000, 1.0),
    ("avg_pool2d", 100_000, 50_000, 16 / 100_000**2),
    ("max_pool2d", 2**31 - 1, 2**30 - 1, 1.0),
]


@pytest.mark.parametrize(("pool", "kernel", "padding", "value"), HUGE_WINDOWS)
def test_a_huge_window_costs_what_the_output_costs(pool, kernel, padding, value):
    x = mathdnn.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    tracemalloc.start()
    try:
        y = getattr(F, pool)(x, kernel, padding=padding)
        y.backward(np.ones(y.shape))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert y.shape == (1, 1, 1, 1) and y.data.item() == pytest.approx(value, rel=1e-12)
    expected_grad = np.full((4, 4), value / 16) if pool == "avg_pool2d" else np.eye(1, 16)
    np.testing.assert_allclose(x.grad.reshape(4, 4), expected_grad.reshape(4, 4), rtol=1e-12)
    assert peak < 1 << 20, f"{pool} allocated {peak} bytes"


def test_window_arguments_beyond_32_bits_are_refused_at_once():
    x = mathdnn.ones((1, 1, 4, 4))
    with pytest.raises(
        ValueError, match=r"^max_pool2d: kernel_size \(1099511627776, 1099511627776"
    ):
        F.max_pool2d(x, 2**40, padding=2**39)
    with pytest.raises(ValueError, match=r"^avg_pool2d: stride \(1, 8589934592\) must be at most"):
        F.avg_pool2d(x, 2, stride=(1, 2**33))


@pytest.mark.parametrize("size", [2**70, 2**40, (2**62, 2)])
def test_an_adaptive_output_beyond_any_array_is_refused_at_once(size):
    with pytest.raises(ValueError, match=r"^adaptive_avg_pool2d: output_size .* is too large"):
        F.adaptive_avg_pool2d(mathdnn.ones((1, 1, 4, 4)), size)


def test_an_adaptive_output_beyond_the_memory_fails_before_any_work():
    with pytest.raises(MemoryError, match=r"^adaptive_avg_pool2d: output_size \(1000000000, 10"):
        F.adaptive_avg_pool2d(mathdnn.ones((1, 1, 4, 4)), 10**9)
