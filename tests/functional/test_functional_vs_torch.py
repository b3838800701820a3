"""Every primitive of ``mathdnn.functional``, forward and backward, against
``torch.nn.functional`` on random shapes and arguments; and the numerical stability of the
sigmoid / softplus / softmax family at huge inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as TF  # noqa: E402
from conftest import DTYPES, assert_close, dtypes, randn, rng, seeds  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes  # noqa: E402
from torch_reference import compare_with_torch  # noqa: E402

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402

small_shapes = array_shapes(min_dims=1, max_dims=4, max_side=4)


def int_or_pair(lo: int, hi: int):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


# ----------------------------------------------------------------------------------- conv2d
@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = draw(int_or_pair(1, 3))
    dilation = draw(int_or_pair(1, 3))
    padding = draw(
        st.one_of(int_or_pair(0, 2), st.just("valid"), st.just("same"))
        if as_pair(stride) == (1, 1)
        else st.one_of(int_or_pair(0, 2), st.just("valid"))
    )
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    if padding != "same":
        pad = (0, 0) if padding == "valid" else as_pair(padding)
        for size, p, k, d in zip((h, w), pad, kernel, as_pair(dilation), strict=True):
            assume(size + 2 * p >= d * (k - 1) + 1)  # the kernel must fit the padded input
    batch = draw(st.one_of(st.none(), st.integers(1, 2)))  # None: unbatched (C, H, W)
    x_shape = (c_in, h, w) if batch is None else (batch, c_in, h, w)
    return dict(
        x_shape=x_shape,
        w_shape=(c_out, c_in // groups, *kernel),
        bias=draw(st.booleans()),
        kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
    )


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # PyTorch's own note
@given(case=conv_cases(), dtype=dtypes, seed=seeds)
@settings(max_examples=250)
def test_conv2d(case, dtype, seed):
    x = randn(seed, case["x_shape"], dtype)
    w = randn(seed + 1, case["w_shape"], dtype)
    inputs = [x, w] + ([randn(seed + 2, (case["w_shape"][0],), dtype)] if case["bias"] else [])
    kw = case["kwargs"]
    compare_with_torch(lambda *t: F.conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), inputs, seed)


def test_conv2d_input_without_grad_weight_with_grad():
    x, w = randn(0, (1, 2, 5, 5)), randn(1, (3, 2, 3, 3))
    compare_with_torch(F.conv2d, TF.conv2d, [x, w], grad=[False, True])
    compare_with_torch(F.conv2d, TF.conv2d, [x, w], grad=[True, False])


ONE_ELEMENT = [
    {"stride": (2,)},
    {"padding": (1,)},
    {"dilation": (2,)},
    {"stride": [2], "padding": [1], "dilation": [2]},
]


@pytest.mark.parametrize("kwargs", ONE_ELEMENT, ids=str)
def test_conv2d_reads_a_one_element_sequence_as_both_axes(kwargs):
    x, w = randn(0, (2, 3, 9, 9)), randn(1, (4, 3, 3, 3))
    compare_with_torch(
        lambda *t: F.conv2d(*t, **kwargs), lambda *t: TF.conv2d(*t, **kwargs), [x, w]
    )


POOL_ARGUMENTS = [
    {"kernel_size": (3,)},
    {"kernel_size": 3, "stride": ()},
    {"kernel_size": 3, "stride": []},
    {"kernel_size": (3,), "stride": (2,), "padding": (1,)},
]


@pytest.mark.parametrize("kwargs", POOL_ARGUMENTS, ids=str)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pools_read_one_element_sequences_and_an_empty_stride_as_pytorch(pool, kwargs):
    x = randn(0, (2, 3, 9, 9))
    ours, theirs = getattr(F, pool), getattr(TF, pool)
    compare_with_torch(lambda t: ours(t, **kwargs), lambda t: theirs(t, **kwargs), [x])


# ----------------------------------------------------------------------------------- linear
@given(
    batch=array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
    fin=st.integers(0, 5),
    fout=st.one_of(st.none(), st.integers(1, 5)),
    bias=st.booleans(),
    dtype=dtypes,
    seed=seeds,
)
@settings(max_examples=60)
def test_linear(batch, fin, fout, bias, dtype, seed):
    """Any batch shape (empty too); ``fout=None`` is PyTorch's 1-D weight, one output, no axis."""
    out = () if fout is None else (fout,)
    inputs = [randn(seed, (*batch, fin), dtype), randn(seed + 1, (*out, fin), dtype)]
    if bias:
        inputs.append(randn(seed + 2, out, dtype))
    compare_with_torch(F.linear, torch_linear, inputs, seed)


def torch_linear(x, weight, bias=None):
    """PyTorch's linear; its addmm refuses a 1-D weight with a bias for 2-D x: then x·w + b."""
    if weight.ndim == 1 and bias is not None:
        return TF.linear(x, weight) + bias
    return TF.linear(x, weight, bias)


# ------------------------------------------------------------------------------ activations
ACTIVATIONS = {
    "relu": (F.relu, TF.relu),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@given(shape=small_shapes, dtype=dtypes, seed=seeds, scale=st.sampled_from([1.0, 10.0]))
@settings(max_examples=25)
def test_activation(name, shape, dtype, seed, scale):
    mf, th = ACTIVATIONS[name]
    compare_with_torch(mf, th, [randn(seed, shape, dtype) * dtype(scale)], seed)


@given(shape=small_shapes, dtype=dtypes, seed=seeds, slope=st.floats(-2, 2, allow_subnormal=False))
@settings(max_examples=30)
def test_leaky_relu(shape, dtype, seed, slope):
    compare_with_torch(
        lambda t: F.leaky_relu(t, slope),
        lambda t: TF.leaky_relu(t, slope),
        [randn(seed, shape, dtype)],
        seed,
    )


@pytest.mark.parametrize("slope", [np.inf, -np.inf])
def test_leaky_relu_takes_an_infinite_slope_as_pytorch(slope):
    """Issue 22: PyTorch accepts it; x·slope for x ≤ 0 (NaN at ±0), gradient the slope there."""
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf])
    ours, theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = F.leaky_relu(ours, slope), TF.leaky_relu(theirs, slope)
    y.backward(np.ones(len(x)))
    expected.backward(torch.ones(len(x), dtype=torch.float64))
    np.testing.assert_array_equal(y.data, expected.detach().numpy())
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    layer = mathdnn.nn.LeakyReLU(slope)
    np.testing.assert_array_equal(layer(mathdnn.tensor(x)).data, expected.detach().numpy())


def test_relu_and_leaky_relu_gradient_at_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    compare_with_torch(F.relu, TF.relu, [x])
    compare_with_torch(lambda t: F.leaky_relu(t, 0.2), lambda t: TF.leaky_relu(t, 0.2), [x])


@given(
    shape=small_shapes,
    dtype=dtypes,
    seed=seeds,
    beta=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    threshold=st.sampled_from([1.0, 5.0, 20.0]),
)
@settings(max_examples=40)
def test_softplus(shape, dtype, seed, beta, threshold):
    x = randn(seed, shape, dtype) * dtype(5)
    compare_with_torch(
        lambda t: F.softplus(t, beta, threshold),
        lambda t: TF.softplus(t, beta, threshold),
        [x],
        seed,
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=small_shapes, dtype=dtypes, seed=seeds, data=st.data())
@settings(max_examples=30)
def test_softmax_family(name, shape, dtype, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    mf, th = getattr(F, name), getattr(TF, name)
    x = randn(seed, shape, dtype) * dtype(3)
    compare_with_torch(lambda t: mf(t, dim), lambda t: th(t, dim=dim), [x], seed)


@given(
    shape=small_shapes,
    dtype=dtypes,
    seed=seeds,
    lo=st.one_of(st.none(), st.floats(-1.5, 0.5)),
    hi=st.one_of(st.none(), st.floats(-0.5, 1.5)),
)
@settings(max_examples=40)
def test_clamp(shape, dtype, seed, lo, hi):
    assume(lo is not None or hi is not None)
    x = randn(seed, shape, dtype)
    compare_with_torch(lambda t: F.clamp(t, lo, hi), lambda t: torch.clamp(t, lo, hi), [x], seed)


def test_clamp_boundary_gradient_like_torch():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    compare_with_torch(lambda t: F.clamp(t, 0.0, 1.0), lambda t: torch.clamp(t, 0.0, 1.0), [x])


@given(shape=small_shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=20)
def test_step_value_and_zero_gradient(shape, dtype, seed):
    a = randn(seed, shape, dtype)
    a.flat[0] = 0  # the step is 0 at 0
    x = mathdnn.tensor(a, requires_grad=True)
    y = F.step(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(
        y.data,
        torch.heaviside(
            torch.tensor(a),
            torch.tensor(0, dtype=torch.float64 if dtype == np.float64 else torch.float32),
        ).numpy(),
    )
    y.backward(np.ones(shape, dtype))
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(x.grad, np.zeros(shape))


# ----------------------------------------------------------------------------------- losses
@given(
    n=st.integers(1, 5),
    c=st.integers(1, 6),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=dtypes,
    seed=seeds,
)
@settings(max_examples=40)
def test_cross_entropy(n, c, reduction, dtype, seed):
    logits = randn(seed, (n, c), dtype) * dtype(3)
    labels = rng(seed + 1).integers(0, c, n)
    compare_with_torch(
        lambda t: F.cross_entropy(t, labels, reduction=reduction),
        lambda t: TF.cross_entropy(t, torch.tensor(labels), reduction=reduction),
        [logits],
        seed,
    )


@given(
    shape=small_shapes,
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=dtypes,
    seed=seeds,
)
@settings(max_examples=40)
def test_mse_loss(shape, reduction, dtype, seed):
    a, b = randn(seed, shape, dtype), randn(seed + 1, shape, dtype)
    compare_with_torch(
        lambda s, t: F.mse_loss(s, t, reduction=reduction),
        lambda s, t: TF.mse_loss(s, t, reduction=reduction),
        [a, b],
        seed,
    )


# ------------------------------------------------------------------------ numerical stability
def _huge(dtype) -> np.ndarray:
    values = [-1e6, -50.0, -1.0, 0.0, 1.0, 50.0, 1e6]
    if dtype == np.float64:
        values += [-1e30, 1e30]
    return np.array(values, dtype)


STABLE = {
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "softplus": (F.softplus, TF.softplus),
    "softplus beta": (lambda t: F.softplus(t, 2.0), lambda t: TF.softplus(t, 2.0)),
    "softplus small beta": (
        lambda t: F.softplus(t, 0.5, 5.0),
        lambda t: TF.softplus(t, 0.5, 5.0),
    ),
    "log_softmax": (lambda t: F.log_softmax(t, 0), lambda t: TF.log_softmax(t, 0)),
    "softmax": (lambda t: F.softmax(t, 0), lambda t: TF.softmax(t, 0)),
}


def _no_warnings_finite(mf_fn, th_fn, x: np.ndarray, g: np.ndarray) -> None:
    t = mathdnn.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any NumPy RuntimeWarning (overflow, 0/0, ...) fails
        y = mf_fn(t)
        y.backward(g)
    assert np.all(np.isfinite(y.data)), y.data
    assert np.all(np.isfinite(t.grad)), t.grad
    tt = torch.tensor(x, requires_grad=True)
    ref = th_fn(tt)
    ref.backward(torch.tensor(g))
    assert_close(y.data, ref.detach().numpy(), x.dtype, "value")
    assert_close(t.grad, tt.grad.numpy(), x.dtype, "gradient")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", STABLE)
def test_stable_at_huge_inputs(name, dtype):
    x = _huge(dtype)
    g = np.linspace(0.5, 1.5, x.size).astype(dtype)
    _no_warnings_finite(*STABLE[name], x, g)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_stable_at_huge_logits(dtype, reduction):
    big = 1e30 if dtype == np.float64 else 1e6
    logits = np.array([[big, -big, 0.0], [-big, big, 1.0], [0.0, 1.0, -big]], dtype)
    labels = np.array([1, 1, 2])
    g = np.ones(3, dtype) if reduction == "none" else np.array(1.0, dtype)
    _no_warnings_finite(
        lambda t: F.cross_entropy(t, labels, reduction=reduction),
        lambda t: TF.cross_entropy(t, torch.tensor(labels), reduction=reduction),
        logits,
        g,
    )


def test_comparison_detects_a_wrong_forward_or_gradient():
    """The harness itself must fail when mathdnn and PyTorch disagree."""
    x = np.array([-1.0, 2.0])
    with pytest.raises(AssertionError, match="forward"):
        compare_with_torch(F.relu, lambda t: TF.leaky_relu(t, 0.1), [x])
    with pytest.raises(AssertionError, match="gradient"):  # same value, half the gradient
        compare_with_torch(lambda t: t * t.detach(), lambda t: t * t, [x])
