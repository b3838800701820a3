"""Empty dims, larger shapes and NaN/±inf at random places: the activations, the softmax family,
the losses, ``linear``, ``@`` and the reductions give PyTorch's values and gradients, with the
same non-finite pattern (NaN, +inf, −inf exactly where PyTorch has them) and no NumPy warning."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
import torch.nn.functional as TF  # noqa: E402
from conftest import TOLERANCE, dtypes, seeds  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes  # noqa: E402

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402

# Shapes with empty dims (side 0), and a few larger ones.
shapes = st.one_of(
    array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    array_shapes(min_dims=1, max_dims=2, min_side=20, max_side=200),
)
# The share of entries replaced by NaN, +inf or −inf.
special_fractions = st.sampled_from([0.0, 0.05, 0.3, 1.0])


def with_specials(seed: int, shape: tuple[int, ...], dtype, fraction: float, scale=3.0):
    """Normal numbers times ``scale``, with ``fraction`` of them NaN, +inf or −inf at random."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * scale).astype(dtype)
    where = rng.random(shape) < fraction
    a[where] = rng.choice(np.array([np.nan, np.inf, -np.inf], dtype), size=int(where.sum()))
    return a


def assert_like_torch(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Same shape and dtype, NaN/+inf/−inf at the same places, finite entries close."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        np.testing.assert_array_equal(test(actual), test(expected), f"{what}: {name} places")
    finite = np.isfinite(expected)
    tol = TOLERANCE[expected.dtype]
    scale = max(1.0, float(np.max(np.abs(expected[finite]), initial=0.0)))
    np.testing.assert_allclose(
        actual[finite], expected[finite], rtol=tol, atol=tol * scale, err_msg=what
    )


def compare(mf_fn, th_fn, inputs: list[np.ndarray], seed: int) -> None:
    """Forward, and backward with a random finite cotangent, in both; compare as above."""
    mf_in = [mathdnn.tensor(a, requires_grad=True) for a in inputs]
    th_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    ref = th_fn(*th_in)
    g = np.random.default_rng(seed + 1).standard_normal(ref.shape).astype(inputs[0].dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any NumPy RuntimeWarning fails the test
        out = mf_fn(*mf_in)
        out.backward(g)
    ref.backward(torch.tensor(g))
    assert_like_torch(out.data, ref.detach().numpy(), "forward")
    for k, (m, t) in enumerate(zip(mf_in, th_in, strict=True)):
        expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, m.dtype)
        assert_like_torch(m.grad, expected, f"gradient of input {k}")


ELEMENTWISE = {
    "relu": (F.relu, TF.relu),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), lambda t: TF.leaky_relu(t, 0.1)),
    "leaky_relu 0": (lambda t: F.leaky_relu(t, 0.0), lambda t: TF.leaky_relu(t, 0.0)),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "softplus": (F.softplus, TF.softplus),
    "softplus beta": (lambda t: F.softplus(t, 2.0, 5.0), lambda t: TF.softplus(t, 2.0, 5.0)),
    "softplus negative beta": (lambda t: F.softplus(t, -1.0), lambda t: TF.softplus(t, -1.0)),
    "clamp": (lambda t: F.clamp(t, -1.0, 2.0), lambda t: torch.clamp(t, -1.0, 2.0)),
    "clamp min > max": (lambda t: F.clamp(t, 1.0, -1.0), lambda t: torch.clamp(t, 1.0, -1.0)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(shape=shapes, dtype=dtypes, seed=seeds, fraction=special_fractions)
@settings(max_examples=30)
def test_elementwise(name, shape, dtype, seed, fraction):
    compare(*ELEMENTWISE[name], [with_specials(seed, shape, dtype, fraction, 10.0)], seed)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=shapes, dtype=dtypes, seed=seeds, fraction=special_fractions, data=st.data())
@settings(max_examples=40)
def test_softmax_family(name, shape, dtype, seed, fraction, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    mf, th = getattr(F, name), getattr(TF, name)
    x = with_specials(seed, shape, dtype, fraction)
    compare(lambda t: mf(t, dim), lambda t: th(t, dim=dim), [x], seed)


def test_log_softmax_rows_with_inf_or_only_minus_inf_are_nan():
    inf = np.inf
    x = np.array([[inf, 1.0, 2.0], [-inf, -inf, -inf], [-inf, 0.0, 1.0]])
    compare(lambda t: F.log_softmax(t, 1), lambda t: TF.log_softmax(t, 1), [x], 0)
    compare(lambda t: F.log_softmax(t, 1), lambda t: TF.log_softmax(t, 1), [np.zeros((3, 0))], 0)


@given(
    n=st.one_of(st.just(0), st.integers(1, 5), st.integers(50, 300)),
    c=st.integers(1, 12),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=dtypes,
    seed=seeds,
    fraction=special_fractions,
)
@settings(max_examples=80)
def test_cross_entropy(n, c, reduction, dtype, seed, fraction):
    logits = with_specials(seed, (n, c), dtype, fraction)
    labels = np.random.default_rng(seed + 2).integers(0, c, n)
    compare(
        lambda t: F.cross_entropy(t, labels, reduction=reduction),
        lambda t: TF.cross_entropy(t, torch.tensor(labels), reduction=reduction),
        [logits],
        seed,
    )


def test_cross_entropy_of_an_empty_batch_is_nan_like_torch():
    empty = np.zeros((0, 4))
    labels = np.zeros(0, np.int64)
    for reduction in ("mean", "sum", "none"):
        compare(
            lambda t, r=reduction: F.cross_entropy(t, labels, reduction=r),
            lambda t, r=reduction: TF.cross_entropy(t, torch.tensor(labels), reduction=r),
            [empty],
            0,
        )
    assert np.isnan(F.cross_entropy(mathdnn.tensor(empty), labels).item())


@given(
    shape=shapes,
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=dtypes,
    seed=seeds,
    fraction=special_fractions,
)
@settings(max_examples=60)
def test_mse_loss(shape, reduction, dtype, seed, fraction):
    a = with_specials(seed, shape, dtype, fraction)
    b = with_specials(seed + 3, shape, dtype, fraction)
    compare(
        lambda s, t: F.mse_loss(s, t, reduction=reduction),
        lambda s, t: TF.mse_loss(s, t, reduction=reduction),
        [a, b],
        seed,
    )


@given(
    batch=st.one_of(st.just(()), st.tuples(st.sampled_from([0, 1, 3, 64]))),
    fin=st.sampled_from([0, 1, 5, 40]),
    fout=st.sampled_from([0, 1, 4, 30]),
    bias=st.booleans(),
    dtype=dtypes,
    seed=seeds,
    fraction=special_fractions,
)
@settings(max_examples=80)
def test_linear(batch, fin, fout, bias, dtype, seed, fraction):
    inputs = [
        with_specials(seed, (*batch, fin), dtype, fraction),
        with_specials(seed + 1, (fout, fin), dtype, fraction),
    ]
    if bias:
        inputs.append(with_specials(seed + 2, (fout,), dtype, fraction))
    compare(F.linear, TF.linear, inputs, seed)


@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.sampled_from([0, 1, 3, 50])) for _ in range(3))
    kind = draw(st.sampled_from(["1x1", "1x2", "2x1", "2x2", "batched"]))
    batch = draw(st.sampled_from([(), (0,), (2,)]))
    return {
        "1x1": ((k,), (k,)),
        "1x2": ((k,), (k, m)),
        "2x1": ((n, k), (k,)),
        "2x2": ((n, k), (k, m)),
        "batched": ((*batch, n, k), (k, m)),
    }[kind]


@given(shapes=matmul_shapes(), dtype=dtypes, seed=seeds, fraction=special_fractions)
@settings(max_examples=80)
def test_matmul(shapes, dtype, seed, fraction):
    a = with_specials(seed, shapes[0], dtype, fraction)
    b = with_specials(seed + 1, shapes[1], dtype, fraction)
    compare(lambda s, t: s @ t, lambda s, t: s @ t, [a, b], seed)


@st.composite
def shape_and_dim(draw):
    shape = draw(shapes)
    dim = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    return shape, dim


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@given(
    sd=shape_and_dim(), keepdim=st.booleans(), dtype=dtypes, seed=seeds, fraction=special_fractions
)
@settings(max_examples=60)
def test_reductions(name, sd, keepdim, dtype, seed, fraction):
    shape, dim = sd
    x = with_specials(seed, shape, dtype, fraction)
    dims = tuple(range(len(shape))) if dim is None else dim
    th_name = "amax" if name == "max" else name
    reduced = shape if dim is None else (shape[dim],)
    if name == "max" and 0 in reduced:  # no maximum of nothing, in either
        with pytest.raises(ValueError, match=r"max: .*size 0"):
            mathdnn.tensor(x).max(dim, keepdim)
        with pytest.raises((RuntimeError, IndexError)):
            torch.amax(torch.tensor(x), dims, keepdim)
        return
    compare(
        lambda t: getattr(t, name)(dim, keepdim),
        lambda t: getattr(torch, th_name)(t, dims, keepdim),
        [x],
        seed,
    )
