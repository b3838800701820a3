"""Input mathdnn cannot compute with (longdouble, complex, ragged lists, strings, bad scalar
options) raises an error naming the function and the argument; float16 is widened to float32."""

from __future__ import annotations

import numpy as np
import pytest

import mathdnn
import mathdnn.functional as F

LONGDOUBLE_IS_WIDER = np.dtype(np.longdouble).itemsize > 8
longdouble_only = pytest.mark.skipif(
    not LONGDOUBLE_IS_WIDER, reason="longdouble is float64 on this platform"
)


def x64() -> mathdnn.Tensor:
    return mathdnn.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)


# ------------------------------------------------------------------------- longdouble, complex
WIDE_OR_COMPLEX = [
    pytest.param(np.longdouble, r"longdouble.*float32 or float64.*astype", marks=longdouble_only),
    pytest.param(np.complex128, r"complex128.*real numbers.*float32 or float64.*x\.real"),
]

CALLS = {
    "tensor": (lambda a: mathdnn.tensor(a), r"tensor: data has dtype"),
    "sigmoid": (lambda a: F.sigmoid(a), r"sigmoid: x has dtype"),
    "softmax": (lambda a: F.softmax(a, 1), r"softmax: x has dtype"),
    "linear weight": (lambda a: F.linear(x64(), a), r"linear: weight has dtype"),
    "mse_loss target": (lambda a: F.mse_loss(x64(), a), r"mse_loss: target has dtype"),
    "cross_entropy": (lambda a: F.cross_entropy(a, [0, 1]), r"cross_entropy: logits has dtype"),
    "operand": (lambda a: x64() * a, r"tensor: data has dtype"),
    "backward": (lambda a: (x64() * 2).backward(a), r"Tensor\.backward: grad has dtype"),
}


@pytest.mark.parametrize("dtype, reason", WIDE_OR_COMPLEX)
@pytest.mark.parametrize("call", CALLS)
def test_longdouble_and_complex_are_refused_naming_the_function(call, dtype, reason):
    fn, where = CALLS[call]
    a = np.ones((2, 3), dtype) if call != "linear weight" else np.ones((4, 3), dtype)
    with pytest.raises(TypeError, match=where + ".*" + reason):
        fn(a)


@longdouble_only
def test_longdouble_dtype_argument_and_from_numpy_are_refused():
    with pytest.raises(TypeError, match=r"tensor: dtype float128 is not supported.*float64"):
        mathdnn.tensor([1.0], dtype=np.longdouble)
    with pytest.raises(TypeError, match=r"from_numpy: .*float128.*float32 or float64"):
        mathdnn.from_numpy(np.ones(2, np.longdouble))


def test_complex_dtype_argument_is_refused():
    with pytest.raises(TypeError, match=r"tensor: dtype complex64 is not supported"):
        mathdnn.tensor([1.0], dtype=np.complex64)


# --------------------------------------------------------------------------------- float16
def test_float16_data_is_widened_exactly_to_float32():
    half = np.array([0.1, -65504.0, 6e-8, np.inf, np.nan], np.float16)
    t = mathdnn.tensor(half)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, half.astype(np.float32))
    np.testing.assert_array_equal(t.data.astype(np.float16), half)  # nothing was lost
    y = F.sigmoid(half)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, F.sigmoid(half.astype(np.float32)).data)


def test_float16_cannot_be_requested_or_shared():
    with pytest.raises(TypeError, match=r"tensor: dtype float16 is not supported.*widened"):
        mathdnn.tensor([1.0], dtype=np.float16)
    with pytest.raises(TypeError, match=r"from_numpy: .*float16.*mathdnn\.tensor\(array\)"):
        mathdnn.from_numpy(np.ones(2, np.float16))


# ------------------------------------------------------------------------- ragged, strings
def test_ragged_nested_lists_name_the_function():
    with pytest.raises(ValueError, match=r"tensor: data must be .*rectangular nested list"):
        mathdnn.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"relu: x must be .*rectangular"):
        F.relu([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match=r"Tensor\.backward: grad must be .*rectangular"):
        (x64() * 2).backward([[1.0, 2.0, 3.0], [4.0]])


def test_backward_with_strings_names_backward():
    with pytest.raises(TypeError, match=r"Tensor\.backward: grad has dtype <U1.*numbers"):
        mathdnn.tensor([1.0], requires_grad=True).backward(np.array(["a"]))


def test_backward_accepts_integer_and_tensor_cotangents():
    x = x64()
    (x * 2).backward(np.ones((2, 3), np.int64))
    (x * 2).backward(mathdnn.tensor(np.ones((2, 3))))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 4.0))


# -------------------------------------------------------------------------- scalar options
BAD_SCALARS = [
    (lambda: F.leaky_relu(x64(), "a"), TypeError, r"leaky_relu: negative_slope .*real.*'a'"),
    (lambda: F.leaky_relu(x64(), None), TypeError, r"leaky_relu: negative_slope .*None"),
    (lambda: F.leaky_relu(x64(), True), TypeError, r"leaky_relu: negative_slope .*True"),
    (lambda: F.leaky_relu(x64(), [0.1]), TypeError, r"leaky_relu: negative_slope .*\[0\.1\]"),
    # an infinite slope is PyTorch's too (test_functional_vs_torch); NaN is not a slope
    (lambda: F.leaky_relu(x64(), np.nan), ValueError, r"leaky_relu: negative_slope .*a number"),
    (lambda: F.softplus(x64(), "a"), TypeError, r"softplus: beta .*real.*'a'"),
    (lambda: F.softplus(x64(), 0), ValueError, r"softplus: beta .*non-zero.*0"),
    (lambda: F.softplus(x64(), np.inf), ValueError, r"softplus: beta .*finite.*inf"),
    (lambda: F.softplus(x64(), np.nan), ValueError, r"softplus: beta .*finite.*nan"),
    (lambda: F.softplus(x64(), 1.0, "20"), TypeError, r"softplus: threshold .*real.*'20'"),
    (lambda: F.softplus(x64(), 1.0, np.nan), ValueError, r"softplus: threshold .*finite"),
    (lambda: F.clamp(x64(), "a"), TypeError, r"clamp: min .*real.*'a'"),
    (lambda: F.clamp(x64(), None, [1, 2]), TypeError, r"clamp: max .*real.*\[1, 2\]"),
    (lambda: F.clamp(x64(), np.nan), ValueError, r"clamp: min must be a number.*nan"),
    (lambda: x64().clamp(max="b"), TypeError, r"clamp: max .*real.*'b'"),
]


@pytest.mark.parametrize("call, error, pattern", BAD_SCALARS, ids=[c[2][:40] for c in BAD_SCALARS])
def test_bad_scalar_options_name_the_function_and_the_option(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_scalar_options_accept_ints_numpy_scalars_and_infinite_clamp_bounds():
    x = x64()
    np.testing.assert_array_equal(F.leaky_relu(x, 0).data, F.relu(x).data)
    np.testing.assert_allclose(
        F.softplus(x, np.float32(2), np.int64(10)).data, F.softplus(x, 2.0).data
    )
    np.testing.assert_array_equal(F.clamp(x, -np.inf, 0.5).data, np.minimum(x.data, 0.5))


# ---------------------------------------------------------------------------- shapes, dims
BAD_SHAPES_AND_DIMS = [
    (lambda: mathdnn.zeros(-1), r"zeros: the shape must be non-negative ints, got \(-1,\)"),
    (lambda: mathdnn.zeros("a"), r"zeros: the shape must be non-negative ints, got \('a',\)"),
    (lambda: mathdnn.ones((2, 1.5)), r"ones: the shape must be non-negative ints"),
    (lambda: x64().unsqueeze("a"), r"unsqueeze: dim 'a' is out of range"),
    (lambda: F.cross_entropy(x64(), [[0], [1, 2]]), r"cross_entropy: labels must be .*rectangular"),
]


@pytest.mark.parametrize("call, pattern", BAD_SHAPES_AND_DIMS)
def test_bad_shapes_and_dims_name_the_function(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_zeros_and_ones_take_a_shape_or_its_sizes():
    assert mathdnn.zeros(2, 3).shape == mathdnn.ones((2, 3)).shape == (2, 3)
    assert mathdnn.zeros(np.int64(4)).shape == (4,) and mathdnn.ones().shape == ()
