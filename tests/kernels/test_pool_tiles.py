"""The tiling fast paths of max_pool2d and avg_pool2d (``mathdnn.kernels.pool_tiles``) against the
formula path: same outputs, indices and gradients, NaN and ±∞ in the same places."""

from __future__ import annotations

import numpy as np
from conftest import assert_close, dtypes, rng, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
import mathdnn.kernels as kernels
from mathdnn.kernels import pool_tiles
from mathdnn.windows import PoolGeometry


def int_or_pair(lo: int, hi: int):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


@st.composite
def tiling_cases(draw):
    """Windows that tile the input: stride = kernel_size (or left to default to it), no padding,
    no dilation; ceil_mode only where the kernel divides the input (else a window reaches past
    its edge). The input need not be a whole number of windows: the rest is left out."""
    kernel = draw(int_or_pair(1, 4))
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    ceil_mode = draw(st.booleans())
    if ceil_mode:
        hw = (kh * draw(st.integers(1, 4)), kw * draw(st.integers(1, 4)))
    else:
        hw = (draw(st.integers(kh, 12)), draw(st.integers(kw, 12)))
    batch = draw(st.sampled_from([None, 0, 1, 3]))
    c = draw(st.integers(1, 3))
    shape = (c, *hw) if batch is None else (batch, c, *hw)
    kwargs = dict(kernel_size=kernel, stride=draw(st.sampled_from([None, kernel])))
    if draw(st.booleans()):
        kwargs.update(padding=0, ceil_mode=ceil_mode)
    return shape, kwargs


def make_array(seed: int, shape, dtype, ties: bool, nonfinite: bool) -> np.ndarray:
    """Normal values, or (``ties``) a ReLU's output, so that windows of zeros tie; ``nonfinite``:
    about a quarter of the values NaN, +∞ or −∞."""
    r = rng(seed)
    x = r.standard_normal(shape)
    if ties:
        x = np.maximum(x, 0)
    if nonfinite:
        x = np.where(r.random(shape) < 0.25, r.choice([np.nan, np.inf, -np.inf], shape), x)
    return x.astype(dtype)


def assert_tiles(shape, kwargs) -> None:
    """The fast path is taken for this case (else the tests below compare the formula with
    itself)."""
    x = mathdnn.tensor(np.zeros(shape if len(shape) == 4 else (1, *shape)))
    stride, ceil_mode = kwargs["stride"], kwargs.get("ceil_mode", False)
    geo = PoolGeometry("test", x, kwargs["kernel_size"], stride, 0, 1, ceil_mode)
    assert pool_tiles.tiles(geo)


def run(mode: str, pool, x: np.ndarray, g_seed: int, nonfinite: bool, **kwargs):
    """Output (and indices), and the gradient for a random cotangent, on the path ``mode``."""
    t = mathdnn.tensor(x, requires_grad=True)
    with kernels.use(mode):
        out = pool(t, **kwargs)
    y = out[0] if isinstance(out, tuple) else out
    y.backward(make_array(g_seed, y.shape, x.dtype, False, nonfinite))
    return tuple(o.data for o in out) if isinstance(out, tuple) else (out.data,), t.grad


def assert_same_places(actual: np.ndarray, expected: np.ndarray) -> None:
    for place in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(place(actual), place(expected), place.__name__)


@given(
    case=tiling_cases(),
    dtype=dtypes,
    seed=seeds,
    ties=st.booleans(),
    nonfinite=st.booleans(),
)
@settings(max_examples=200)
def test_max_pool2d_tiles_equal_the_formula(case, dtype, seed, ties, nonfinite):
    shape, kwargs = case
    assert_tiles(shape, kwargs)
    x = make_array(seed, shape, dtype, ties, nonfinite)
    kwargs = dict(kwargs, return_indices=True)
    (y, indices), grad = run("fast", F.max_pool2d, x, seed + 1, nonfinite, **kwargs)
    (y_ref, indices_ref), grad_ref = run(
        "reference", F.max_pool2d, x, seed + 1, nonfinite, **kwargs
    )
    # Exactly equal: both pick the same pixel of each window, and hand the gradient to it.
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)
    assert indices.dtype == indices_ref.dtype == np.int64
    np.testing.assert_array_equal(grad, grad_ref)
    assert y.dtype == grad.dtype == dtype


@given(
    case=tiling_cases(),
    count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), st.integers(-3, 6).filter(bool)),
    dtype=dtypes,
    seed=seeds,
    nonfinite=st.booleans(),
)
@settings(max_examples=200)
def test_avg_pool2d_tiles_equal_the_formula(
    case, count_include_pad, divisor_override, dtype, seed, nonfinite
):
    shape, kwargs = case
    assert_tiles(shape, kwargs)
    x = make_array(seed, shape, dtype, False, nonfinite)
    kwargs = dict(kwargs, count_include_pad=count_include_pad, divisor_override=divisor_override)
    (y,), grad = run("fast", F.avg_pool2d, x, seed + 1, nonfinite, **kwargs)
    (y_ref,), grad_ref = run("reference", F.avg_pool2d, x, seed + 1, nonfinite, **kwargs)
    for ours, theirs, what in [(y, y_ref, "forward"), (grad, grad_ref, "gradient")]:
        assert ours.dtype == theirs.dtype == dtype
        assert_same_places(ours, theirs)
        finite = np.isfinite(theirs)
        assert_close(ours[finite], theirs[finite], dtype, what)  # the sums run in another order


def test_max_pool2d_tiles_with_more_than_256_offsets():
    """A 17x16 window: the fast path counts offsets in a wider type than for small windows."""
    x = np.arange(2 * 17 * 33, dtype=np.float64).reshape(1, 2, 17, 33)  # maxima: last offsets
    x[0, 1, 0, 0] = np.nan
    outs = {}
    for mode in kernels.MODES:
        outs[mode] = run(mode, F.max_pool2d, x, 0, False, kernel_size=(17, 16), return_indices=True)
    (y, indices), grad = outs["fast"]
    (y_ref, indices_ref), grad_ref = outs["reference"]
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)
    np.testing.assert_array_equal(grad, grad_ref)
    assert indices[0, 0, 0, 1] == 16 * 33 + 31  # offset 16·16 + 15 = 271 of window (0, 1)
