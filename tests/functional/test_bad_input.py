"""Bad input to the primitives: each raises ValueError or TypeError naming the function, the
argument, and the shapes or values it got (``engine/test_tensor_bad_input`` does the Tensor's)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mathdnn
import mathdnn.functional as F


def t(*shape: int, dtype=np.float64, grad: bool = False) -> mathdnn.Tensor:
    return mathdnn.tensor(np.ones(shape, dtype), requires_grad=grad)


def s(shape: tuple[int, ...]) -> str:
    """A regex matching ``shape`` as printed."""
    return re.escape(str(shape))


X = t(1, 3, 6, 6)
W = t(4, 3, 3, 3)


CASES = [
    # conv2d
    (lambda: F.conv2d(t(6, 6), W), ValueError, rf"conv2d.*\bx\b.*dimensions.*{s((6, 6))}"),
    (lambda: F.conv2d(X, t(4, 3, 3)), ValueError, rf"conv2d.*weight.*dimensions.*{s((4, 3, 3))}"),
    (
        lambda: F.conv2d(X, t(4, 2, 3, 3)),
        ValueError,
        rf"conv2d.*weight of shape {s((4, 2, 3, 3))}.*x of shape {s((1, 3, 6, 6))}",
    ),
    (lambda: F.conv2d(X, t(4, 1, 3, 3), groups=2), ValueError, r"conv2d.*groups=2.*divide.*3"),
    (lambda: F.conv2d(t(1, 4, 6, 6), t(3, 2, 3, 3), groups=2), ValueError, r"conv2d.*groups=2"),
    (lambda: F.conv2d(X, W, groups=0), ValueError, r"conv2d.*groups.*positive.*0"),
    (lambda: F.conv2d(X, W, stride=0), ValueError, r"conv2d.*stride.*positive.*0"),
    (lambda: F.conv2d(X, W, stride=(1, -2)), ValueError, r"conv2d.*stride.*positive.*-2"),
    (lambda: F.conv2d(X, W, dilation=0), ValueError, r"conv2d.*dilation.*positive.*0"),
    (lambda: F.conv2d(X, W, stride=1.5), TypeError, r"conv2d.*stride.*int.*1\.5"),
    # as PyTorch: an empty stride is conv2d's error (and the pools' default); an empty padding,
    # or three values, everyone's
    (lambda: F.conv2d(X, W, stride=()), TypeError, r"conv2d: stride must be an int or a pair"),
    (lambda: F.conv2d(X, W, padding=(1, 1, 1)), TypeError, r"conv2d: padding must be an int"),
    (lambda: F.max_pool2d(X, 2, padding=()), TypeError, r"max_pool2d: padding must be an int"),
    (lambda: F.avg_pool2d(X, ()), TypeError, r"avg_pool2d: kernel_size must be an int"),
    (lambda: F.conv2d(X, W, padding=-1), ValueError, r"conv2d.*padding.*non-negative.*-1"),
    (lambda: F.conv2d(X, W, padding="full"), ValueError, r"conv2d.*padding.*'full'"),
    (
        lambda: F.conv2d(X, t(4, 3, 0, 3)),
        ValueError,
        rf"conv2d.*kernel.*weight of shape {s((4, 3, 0, 3))}",
    ),
    (
        lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 5, 3)),
        ValueError,
        r"conv2d.*kernel height.*5.*larger than the padded input.*4",
    ),
    (
        lambda: F.conv2d(t(1, 3, 4, 4), W, dilation=2),
        ValueError,
        r"conv2d.*kernel height.*extent 5.*dilation 2.*padded input",
    ),
    (
        lambda: F.conv2d(X, W, stride=2, padding="same"),
        ValueError,
        r"conv2d.*padding='same'.*stride.*\(2, 2\)",
    ),
    (
        lambda: F.conv2d(t(1, 3, 6, 6, dtype=np.int64), W),
        TypeError,
        r"conv2d.*\bx\b.*floating.*int64",
    ),
    (
        lambda: F.conv2d(X, t(4, 3, 3, 3, dtype=np.int32)),
        TypeError,
        r"conv2d.*weight.*floating.*int32",
    ),
    (lambda: F.conv2d(X, W, bias=t(3)), ValueError, rf"conv2d.*bias.*\(4,\).*{s((3,))}"),
    # pooling
    (lambda: F.max_pool2d(t(6, 6), 2), ValueError, rf"max_pool2d.*\bx\b.*{s((6, 6))}"),
    (
        lambda: F.avg_pool2d(t(1, 1, 1, 6, 6), 2),
        ValueError,
        r"avg_pool2d.*\bx\b.*\(1, 1, 1, 6, 6\)",
    ),
    (lambda: F.max_pool2d(X, 0), ValueError, r"max_pool2d.*kernel_size.*positive.*0"),
    (lambda: F.avg_pool2d(X, (2, -1)), ValueError, r"avg_pool2d.*kernel_size.*positive.*-1"),
    (lambda: F.max_pool2d(X, 2, stride=0), ValueError, r"max_pool2d.*stride.*positive.*0"),
    (lambda: F.max_pool2d(X, 2, dilation=0), ValueError, r"max_pool2d.*dilation.*positive.*0"),
    (lambda: F.avg_pool2d(X, 2, padding=-1), ValueError, r"avg_pool2d.*padding.*non-negative"),
    (
        lambda: F.max_pool2d(X, 3, padding=2),
        ValueError,
        r"max_pool2d.*padding \(2, 2\).*half.*kernel_size \(3, 3\)",
    ),
    (
        lambda: F.avg_pool2d(X, 2, padding=(0, 2)),
        ValueError,
        r"avg_pool2d.*padding \(0, 2\).*half.*kernel_size \(2, 2\)",
    ),
    (
        lambda: F.max_pool2d(t(1, 1, 3, 3), 4),
        ValueError,
        r"max_pool2d.*window height.*4.*larger than the padded input.*3",
    ),
    (
        lambda: F.max_pool2d(t(1, 1, 3, 3, dtype=np.int64), 2),
        TypeError,
        r"max_pool2d.*\bx\b.*floating.*int64",
    ),
    (lambda: F.avg_pool2d(X, 2.0), TypeError, r"avg_pool2d.*kernel_size.*int.*2\.0"),
    # activations
    (lambda: F.sigmoid(t(3, dtype=np.int64)), TypeError, r"sigmoid.*\bx\b.*floating.*int64"),
    (lambda: F.relu(mathdnn.tensor([1, 2])), TypeError, r"relu.*\bx\b.*floating.*int64"),
    (lambda: F.softplus(t(3, dtype=np.int32)), TypeError, r"softplus.*\bx\b.*int32"),
    (lambda: F.softmax(t(2, 3), 2), ValueError, rf"softmax.*dim 2.*{s((2, 3))}"),
    (lambda: F.softmax(t(2, 3), True), TypeError, r"softmax: dim must be an int, got True"),
    (lambda: F.log_softmax(t(2, 3), 1.0), TypeError, r"log_softmax: dim must be an int, got 1\.0"),
    (lambda: F.log_softmax(t(2, 3), -3), ValueError, rf"log_softmax.*dim -3.*{s((2, 3))}"),
    (lambda: F.clamp(t(3)), ValueError, r"clamp.*min.*max"),
    # losses and linear
    (
        lambda: F.cross_entropy(t(3, 4), np.array([0.0, 1.0, 2.0])),
        TypeError,
        r"cross_entropy.*labels.*float64",
    ),
    (
        lambda: F.cross_entropy(t(3, 4), np.array([True, False, True])),
        TypeError,
        r"cross_entropy.*labels.*bool",
    ),
    (
        lambda: F.cross_entropy(t(3, 4), np.array([0, 4, 1])),
        ValueError,
        r"cross_entropy.*labels.*\[0, 4\).*0 to 4",
    ),
    (
        lambda: F.cross_entropy(t(3, 4), np.array([0, -1, 1])),
        ValueError,
        r"cross_entropy.*labels.*\[0, 4\).*-1",
    ),
    (
        lambda: F.cross_entropy(t(3, 4), np.array([[0], [1], [2]])),
        ValueError,
        rf"cross_entropy.*labels.*{s((3,))}.*{s((3, 4))}.*{s((3, 1))}",
    ),
    (
        lambda: F.cross_entropy(t(4), np.array([0])),
        ValueError,
        rf"cross_entropy.*logits.*{s((4,))}",
    ),
    (
        lambda: F.cross_entropy(t(2, 3), np.array([0, 1]), reduction="avg"),
        ValueError,
        r"cross_entropy.*reduction.*'avg'",
    ),
    (
        lambda: F.mse_loss(t(2, 3), t(3, 2)),
        ValueError,
        rf"mse_loss.*input.*{s((2, 3))}.*target.*{s((3, 2))}",
    ),
    (lambda: F.mse_loss(t(2), t(2), reduction="max"), ValueError, r"mse_loss.*reduction.*'max'"),
    (
        lambda: F.mse_loss(t(2), mathdnn.tensor([1, 2])),
        TypeError,
        r"mse_loss.*target.*floating.*int64",
    ),
    (
        lambda: F.linear(t(2, 3), t(4, 5)),
        ValueError,
        rf"linear.*x.*{s((2, 3))}.*weight.*{s((4, 5))}",
    ),
    (lambda: F.linear(t(2, 3), t(4, 3), t(3)), ValueError, rf"linear.*bias.*\(4,\).*{s((3,))}"),
    (lambda: F.linear(t(2, 3), t(1, 2, 3)), ValueError, rf"linear.*weight.*{s((1, 2, 3))}"),
]


@pytest.mark.parametrize(
    "call, error, pattern", CASES, ids=[f"{k:02d}-{c[2][:40]}" for k, c in enumerate(CASES)]
)
def test_bad_input_raises_a_clear_error(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_max_pool2d_window_entirely_in_padding_is_rejected():
    with pytest.raises(ValueError, match=r"max_pool2d.*padding"):
        F.max_pool2d(t(1, 1, 2, 2), 2, stride=1, padding=1, dilation=3)
