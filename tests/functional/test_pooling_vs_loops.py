"""The pools' formula path against the loop oracle (``mathdnn.functional.reference``), with ties,
NaN and ±inf; the drawing helpers are shared with the PyTorch tests."""

from __future__ import annotations

import numpy as np
from conftest import assert_close, dtypes, rng, seeds
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
import mathdnn.kernels as kernels
from mathdnn.functional import reference


def int_or_pair(lo: int, hi: int):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def pytorch_output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape`` (aten/src/ATen/native/Pool.h), transcribed."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


@st.composite
def pool_cases(draw, dilated: bool):
    """(input shape, keyword arguments) that PyTorch accepts, every window reading the input (on a
    window of padding only, PyTorch's max_pool2d reads and writes out of bounds)."""
    kernel = draw(int_or_pair(1, 4))
    k = as_pair(kernel)
    stride = draw(st.one_of(st.none(), int_or_pair(1, 4)))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    padding = padding[0] if padding[0] == padding[1] and draw(st.booleans()) else padding
    dilation = draw(int_or_pair(1, 3)) if dilated else 1
    ceil_mode = draw(st.booleans())
    hw = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    strides = k if stride is None else as_pair(stride)
    for size, kk, s, p, d in zip(hw, k, strides, as_pair(padding), as_pair(dilation), strict=True):
        out = pytorch_output_size(size, kk, s, p, d, ceil_mode)
        assume(out >= 1)
        assume(all(any(0 <= s * i + d * a - p < size for a in range(kk)) for i in range(out)))
    batch = draw(st.sampled_from([None, 0, 1, 2]))
    c = draw(st.integers(1, 3))
    shape = (c, *hw) if batch is None else (batch, c, *hw)
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    if dilated:
        kwargs["dilation"] = dilation
    return shape, kwargs


def make_array(seed: int, shape, dtype, ties: bool = False, nonfinite: bool = False) -> np.ndarray:
    """Normal values, or (``ties``) values in {−1, 0, 1} so that most windows hold several
    equal maxima; ``nonfinite``: about a quarter of them NaN, +∞ or −∞."""
    r = rng(seed)
    x = r.integers(-1, 2, shape) if ties else r.standard_normal(shape)
    if nonfinite:
        x = np.where(r.random(shape) < 0.25, r.choice([np.nan, np.inf, -np.inf], shape), x)
    return x.astype(dtype)


def assert_same(actual, expected, dtype, what: str) -> None:
    """Equal to rounding, same dtype, with NaN, +∞ and −∞ in exactly the same places."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    for place in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(place(actual), place(expected), f"{what}: {place.__name__}")
    finite = np.isfinite(expected)
    assert_close(actual[finite], expected[finite], dtype, what)


def batched(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 4 else a[None]


def quiet_ieee() -> np.errstate:
    """The loops meet ∞ − ∞ (NaN) and overflow as PyTorch does, without NumPy's warnings."""
    return np.errstate(invalid="ignore", over="ignore")


output_sizes = st.one_of(
    st.integers(0, 6),
    st.tuples(st.none() | st.integers(0, 6), st.none() | st.integers(0, 6)),
)


@st.composite
def adaptive_cases(draw):
    batch = draw(st.sampled_from([None, 0, 1, 2]))
    chw = (draw(st.integers(0, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    return (chw if batch is None else (batch, *chw)), draw(output_sizes)


# ------------------------------------------------------------- the formula path against loops
@given(
    case=pool_cases(dilated=True),
    dtype=dtypes,
    seed=seeds,
    ties=st.booleans(),
    nonfinite=st.booleans(),
)
@settings(max_examples=150)
def test_max_pool2d_formula_matches_the_loop_reference(case, dtype, seed, ties, nonfinite):
    shape, kw = case
    x = make_array(seed, shape, dtype, ties, nonfinite)
    ours = mathdnn.tensor(x, requires_grad=True)
    with kernels.use("reference"):
        y, indices = F.max_pool2d(ours, **kw, return_indices=True)
    g = make_array(seed + 1, y.shape, dtype, nonfinite=nonfinite)
    y.backward(g)
    k = as_pair(kw["kernel_size"])
    args = (
        k,
        k if kw["stride"] is None else as_pair(kw["stride"]),
        as_pair(kw["padding"]),
        as_pair(kw["dilation"]),
        kw["ceil_mode"],
    )
    with quiet_ieee():
        y_ref, indices_ref = reference.max_pool2d(batched(x), *args)
        grad_ref = reference.max_pool2d_vjp(batched(x), batched(g), *args)
    np.testing.assert_array_equal(batched(y.data), y_ref)
    np.testing.assert_array_equal(batched(indices.data), indices_ref)
    assert_same(batched(ours.grad), grad_ref, dtype, "gradient")


@given(
    case=pool_cases(dilated=False),
    count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), st.integers(-3, 6).filter(bool)),
    dtype=dtypes,
    seed=seeds,
    nonfinite=st.booleans(),
)
@settings(max_examples=150)
def test_avg_pool2d_formula_matches_the_loop_reference(
    case, count_include_pad, divisor_override, dtype, seed, nonfinite
):
    shape, kw = case
    x = make_array(seed, shape, dtype, nonfinite=nonfinite)
    ours = mathdnn.tensor(x, requires_grad=True)
    with kernels.use("reference"):
        y = F.avg_pool2d(
            ours, **kw, count_include_pad=count_include_pad, divisor_override=divisor_override
        )
    g = make_array(seed + 1, y.shape, dtype, nonfinite=nonfinite)
    y.backward(g)
    k = as_pair(kw["kernel_size"])
    args = (
        k,
        k if kw["stride"] is None else as_pair(kw["stride"]),
        as_pair(kw["padding"]),
        kw["ceil_mode"],
        count_include_pad,
        divisor_override,
    )
    with quiet_ieee():
        y_ref = reference.avg_pool2d(batched(x), *args)
        grad_ref = reference.avg_pool2d_vjp(batched(x), batched(g), *args)
    assert_same(batched(y.data), y_ref, dtype, "forward")
    assert_same(batched(ours.grad), grad_ref, dtype, "gradient")


@given(case=adaptive_cases(), dtype=dtypes, seed=seeds, nonfinite=st.booleans())
@settings(max_examples=100)
def test_adaptive_avg_pool2d_matches_the_loop_reference(case, dtype, seed, nonfinite):
    shape, output_size = case
    x = make_array(seed, shape, dtype, nonfinite=nonfinite)
    ours = mathdnn.tensor(x, requires_grad=True)
    y = F.adaptive_avg_pool2d(ours, output_size)
    g = make_array(seed + 1, y.shape, dtype, nonfinite=nonfinite)
    y.backward(g)
    size = tuple(
        n if o is None else o for o, n in zip(as_pair(output_size), shape[-2:], strict=True)
    )
    with quiet_ieee():
        y_ref = reference.adaptive_avg_pool2d(batched(x), size)
        grad_ref = reference.adaptive_avg_pool2d_vjp(batched(x), batched(g), size)
    assert_same(batched(y.data), y_ref, dtype, "forward")
    assert_same(batched(ours.grad), grad_ref, dtype, "gradient")
