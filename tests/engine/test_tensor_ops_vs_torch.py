"""Tensor operations against PyTorch: forward, and the backward of broadcasting and indexing."""

from __future__ import annotations

import operator

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import assert_close, dtypes, randn, rng, seeds  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes  # noqa: E402
from torch_reference import compare_with_torch  # noqa: E402

import mathdnn  # noqa: E402

pair_shapes = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)
shapes = array_shapes(min_dims=1, max_dims=4, max_side=4)


def positive(seed: int, shape, dtype) -> np.ndarray:
    return rng(seed).uniform(0.5, 2.0, shape).astype(dtype)


def away_from_zero(seed: int, shape, dtype) -> np.ndarray:
    r = rng(seed)
    return (r.choice([-1.0, 1.0], shape) * r.uniform(0.5, 2.0, shape)).astype(dtype)


# ----------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize(
    "op", [operator.add, operator.sub, operator.mul, operator.truediv], ids=lambda o: o.__name__
)
@given(shapes=pair_shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=40)
def test_binary_ops_broadcast(op, shapes, dtype, seed):
    sa, sb = shapes.input_shapes
    a = randn(seed, sa, dtype)
    b = (
        away_from_zero(seed + 7, sb, dtype)
        if op is operator.truediv
        else randn(seed + 7, sb, dtype)
    )
    compare_with_torch(op, op, [a, b], seed)


@pytest.mark.parametrize(
    "op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]
)
@pytest.mark.parametrize("scalar", [2, 0.5, -1.5])
@pytest.mark.parametrize("reflected", [False, True])
@given(shape=shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=8)
def test_ops_with_python_scalars(op, scalar, reflected, shape, dtype, seed):
    x = positive(seed, shape, dtype)
    if reflected:
        if op is operator.pow and scalar < 0:
            scalar = -scalar  # a positive base for scalar ** tensor
        compare_with_torch(lambda t: op(scalar, t), lambda t: op(scalar, t), [x], seed)
    else:
        compare_with_torch(lambda t: op(t, scalar), lambda t: op(t, scalar), [x], seed)


@given(shape=shapes, dtype=dtypes, seed=seeds, p=st.sampled_from([0, 1, 2, 3, -1, 0.5, 2.5]))
@settings(max_examples=40)
def test_pow_scalar_exponent(shape, dtype, seed, p):
    x = away_from_zero(seed, shape, dtype) if p == int(p) else positive(seed, shape, dtype)
    compare_with_torch(lambda t: t**p, lambda t: t**p, [x], seed)


def test_pow_zero_base_and_zero_exponent_like_torch():
    for p in (0.0, 1.0, 2.0):
        x = np.array([0.0, 1.5, -2.0])
        compare_with_torch(lambda t, p=p: t**p, lambda t, p=p: t**p, [x])
    base, expo = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])
    compare_with_torch(operator.pow, operator.pow, [base, expo])


@given(shapes=pair_shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=40)
def test_pow_tensor_tensor_positive_base(shapes, dtype, seed):
    sa, sb = shapes.input_shapes
    a, b = positive(seed, sa, dtype), randn(seed + 3, sb, dtype)
    compare_with_torch(operator.pow, operator.pow, [a, b], seed)


@given(shape=shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=20)
def test_negation(shape, dtype, seed):
    compare_with_torch(operator.neg, operator.neg, [randn(seed, shape, dtype)], seed)


# --------------------------------------------------------------------------------- matmul
@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["1x1", "1x2", "2x1", "2x2", "batched", "1xb", "bx1"]))
    if kind == "1x1":
        return (k,), (k,)
    if kind == "1x2":
        return (k,), (k, m)
    if kind == "2x1":
        return (n, k), (k,)
    if kind == "2x2":
        return (n, k), (k, m)
    batch = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    if kind == "1xb":
        return (k,), (*bb, k, m)
    if kind == "bx1":
        return (*ba, n, k), (k,)
    return (*ba, n, k), (*bb, k, m)


@given(shapes=matmul_shapes(), dtype=dtypes, seed=seeds)
@settings(max_examples=60)
def test_matmul(shapes, dtype, seed):
    sa, sb = shapes
    a, b = randn(seed, sa, dtype), randn(seed + 1, sb, dtype)
    compare_with_torch(operator.matmul, operator.matmul, [a, b], seed)


# ------------------------------------------------------------------------------ unary maps
UNARY = {
    "exp": (lambda t: t.exp(), randn),
    "log": (lambda t: t.log(), positive),
    "sin": (lambda t: t.sin(), randn),
    "cos": (lambda t: t.cos(), randn),
    "abs": (lambda t: t.abs(), away_from_zero),
}


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=20)
def test_unary(name, shape, dtype, seed):
    fn, make = UNARY[name]
    compare_with_torch(fn, fn, [make(seed, shape, dtype)], seed)


def test_abs_gradient_is_zero_at_zero():
    compare_with_torch(lambda t: t.abs(), lambda t: t.abs(), [np.array([0.0, -1.0, 2.0])])


# ----------------------------------------------------------------------------- reductions
@st.composite
def shape_and_dims(draw):
    shape = draw(shapes)
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-ndim, ndim - 1))
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return shape, tuple(d - ndim if draw(st.booleans()) else d for d in dims)


def torch_dims(dim, ndim):
    return tuple(range(ndim)) if dim is None else dim


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(sd=shape_and_dims(), keepdim=st.booleans(), dtype=dtypes, seed=seeds)
@settings(max_examples=40)
def test_sum_mean(name, sd, keepdim, dtype, seed):
    shape, dim = sd
    x = randn(seed, shape, dtype)
    compare_with_torch(
        lambda t: getattr(t, name)(dim, keepdim),
        lambda t: getattr(t, name)(torch_dims(dim, len(shape)), keepdim),
        [x],
        seed,
    )


@given(sd=shape_and_dims(), keepdim=st.booleans(), dtype=dtypes, seed=seeds, ties=st.booleans())
@settings(max_examples=60)
def test_max_like_amax_including_ties(sd, keepdim, dtype, seed, ties):
    shape, dim = sd
    x = rng(seed).integers(0, 3, shape).astype(dtype) if ties else randn(seed, shape, dtype)
    compare_with_torch(
        lambda t: t.max(dim, keepdim),
        lambda t: torch.amax(t, torch_dims(dim, len(shape)), keepdim),
        [x],
        seed,
    )


# ---------------------------------------------------------------------------------- shapes
@given(shape=shapes, dtype=dtypes, seed=seeds, data=st.data())
@settings(max_examples=40)
def test_reshape_transpose_permute(shape, dtype, seed, data):
    x = randn(seed, shape, dtype)
    ndim = len(shape)
    perm = data.draw(st.permutations(range(ndim)))
    d0, d1 = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    target = data.draw(st.sampled_from([(-1,), tuple(reversed(shape)), (shape[0], -1)]))

    def chain(t, lib):
        y = t.reshape(target) * 2.0
        y = y.reshape(shape).permute(*perm)
        return y.transpose(d0, d1) if lib == "mf" else torch.transpose(y, d0, d1)

    compare_with_torch(lambda t: chain(t, "mf"), lambda t: chain(t, "torch"), [x], seed)


@given(shape=shapes, dtype=dtypes, seed=seeds, data=st.data())
@settings(max_examples=40)
def test_flatten(shape, dtype, seed, data):
    ndim = len(shape)
    s = data.draw(st.integers(0, ndim - 1))
    e = data.draw(st.integers(s, ndim - 1))
    s = s - ndim if data.draw(st.booleans()) else s
    e = e - ndim if data.draw(st.booleans()) else e
    fn = lambda t: t.flatten(s, e)  # noqa: E731
    compare_with_torch(fn, fn, [randn(seed, shape, dtype)], seed)


@given(dtype=dtypes, seed=seeds, data=st.data())
@settings(max_examples=40)
def test_unsqueeze_squeeze(dtype, seed, data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=2))
    ndim = len(shape)
    u = data.draw(st.integers(-ndim - 1, ndim))
    sq = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)))
    x = randn(seed, shape, dtype)
    compare_with_torch(lambda t: t.unsqueeze(u), lambda t: t.unsqueeze(u), [x], seed)
    fn = (lambda t: t.squeeze()) if sq is None else (lambda t: t.squeeze(sq))
    compare_with_torch(fn, fn, [x], seed)


INDICES = {
    "channel list": (slice(None), [0, 2, 5]),
    "repeated rows": [0, 0, 1],
    "repeated and negative": ([3, -1, 3, 0],),
    "slices": (slice(1, 3), slice(None, None, 2)),
    "ellipsis": (Ellipsis, -1),
    "integer": 2,
    "mixed advanced": ([0, 2, 0], slice(None), [1, 1, 2]),
}


@pytest.mark.parametrize("name", INDICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_indexing(name, dtype):
    index = INDICES[name]
    x = randn(1, (4, 6, 3), dtype)
    compare_with_torch(lambda t: t[index], lambda t: t[index], [x], seed=2)


@given(shape=shapes, dtype=dtypes, seed=seeds)
@settings(max_examples=30)
def test_boolean_mask(shape, dtype, seed):
    x = randn(seed, shape, dtype)
    mask = rng(seed + 5).random(shape) < 0.5
    compare_with_torch(
        lambda t: t[mathdnn.tensor(mask)] * 3.0, lambda t: t[torch.tensor(mask)] * 3.0, [x], seed
    )


@given(dtype=dtypes, seed=seeds, data=st.data())
@settings(max_examples=40)
def test_concatenate(dtype, seed, data):
    base = list(data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3)))
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    count = data.draw(st.integers(1, 3))
    arrays = []
    for k in range(count):
        shape = list(base)
        shape[dim] = data.draw(st.integers(1, 3))
        arrays.append(randn(seed + k, shape, dtype))
    compare_with_torch(
        lambda *ts: mathdnn.concatenate(ts, dim) * 1.5,
        lambda *ts: torch.cat(ts, dim) * 1.5,
        arrays,
        seed,
    )
    assert mathdnn.cat is mathdnn.concatenate


# ------------------------------------------------------------------------ autograd semantics
def test_gradients_accumulate_across_backward_calls():
    a = randn(3, (3, 4))
    x, tx = mathdnn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (x * x).sum().backward()
    (x.exp()).mean().backward()
    (tx * tx).sum().backward()
    (tx.exp()).mean().backward()
    assert_close(x.grad, tx.grad.numpy(), np.float64)


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2.5]], np.float32),
        (np.zeros(3, np.float32), np.float32),
        (np.zeros(3), np.float64),
        (3, np.int64),
        ([1, 2], np.int64),
        (np.array([1, 2], np.int64), np.int64),
        ([True, False], np.bool_),
    ],
)
def test_tensor_dtype_rules(data, dtype):
    t = mathdnn.tensor(data)
    assert t.dtype == dtype
    assert t.dtype == torch.tensor(data).numpy().dtype
    np.testing.assert_array_equal(np.asarray(t), np.asarray(data))


def test_diamond_reuse_sums_gradients():
    a = randn(4, (3,))
    x, tx = mathdnn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)

    def f(t):
        u = t * t
        v = t.sin()
        w = u * v + u / (v * v + 1.0) + t
        return (w * u).sum()

    f(x).backward()
    f(tx).backward()
    assert_close(x.grad, tx.grad.numpy(), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "f", [lambda t: t.abs(), lambda t: t**0.5, lambda t: t**-0.5, lambda t: t**1.5]
)
def test_nonfinite_and_signed_zero_vjps_equal_torch(f, dtype):
    """Exactly PyTorch's values and signs at NaN, ±∞ and ±0 (compare_with_torch's tolerance
    scales with the largest value, so infinities are compared here bit for bit)."""
    x = np.array([np.nan, -0.0, 0.0, -np.inf, np.inf, 4.0, -1.0], dtype=dtype)
    ours, theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = f(ours)
        y.backward(np.ones(len(x), dtype))
    f(theirs).backward(torch.ones(len(x), dtype=theirs.dtype))
    for a, b in ((y.data, f(torch.tensor(x)).numpy()), (ours.grad, theirs.grad.numpy())):
        np.testing.assert_array_equal(a, b)
        signed = ~np.isnan(b)  # a NaN's sign means nothing
        np.testing.assert_array_equal(np.signbit(a[signed]), np.signbit(b[signed]))
