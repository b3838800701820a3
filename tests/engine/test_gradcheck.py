"""Finite-difference checks, in float64, of the VJP of every primitive and tensor operation.

Inputs are small and random; where a primitive has kinks or ties (ReLU, leaky ReLU, clamp, max,
max-pooling, abs) they are kept at least 0.1 away from them, far beyond the step ε = 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rng

import mathdnn
import mathdnn.functional as F
from mathdnn.engine.gradcheck import gradcheck_error, numerical_vjp

TOL = 1e-6  # central differences: O(ε²) + O(1e-16/ε) ≈ 1e-10 per entry, scaled by the values


def randn(seed: int, *shape: int) -> np.ndarray:
    return rng(seed).standard_normal(shape)


def away_from(seed: int, shape: tuple[int, ...], points=(0.0,), margin: float = 0.1) -> np.ndarray:
    """Random values at least ``margin`` away from each of ``points``."""
    x = rng(seed).uniform(-2, 2, shape)
    for p in points:
        near = np.abs(x - p) < margin
        x[near] = p + np.where(x[near] >= p, margin, -margin) * 2
    return x


def distinct(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Entries at least 0.1 apart: no ties, so the maximum is differentiable."""
    n = int(np.prod(shape))
    return (rng(seed).permutation(n) * 0.1 - n * 0.05).reshape(shape)


CASES = {
    # tensor operations
    "add broadcast": (lambda a, b: a + b, [randn(0, 2, 3), randn(1, 3)]),
    "sub broadcast": (lambda a, b: a - b, [randn(0, 2, 1), randn(1, 1, 3)]),
    "mul broadcast": (lambda a, b: a * b, [randn(0, 2, 3), randn(1, 2, 1)]),
    "div": (lambda a, b: a / b, [randn(0, 2, 3), away_from(1, (3,), margin=0.5)]),
    "pow scalar": (lambda a: a**3, [randn(0, 2, 3)]),
    "pow tensor": (lambda a, b: a**b, [np.abs(randn(0, 2, 3)) + 0.5, randn(1, 3)]),
    "neg": (lambda a: -a, [randn(0, 4)]),
    "matmul 1x1": (lambda a, b: a @ b, [randn(0, 3), randn(1, 3)]),
    "matmul batched": (lambda a, b: a @ b, [randn(0, 2, 1, 2, 3), randn(1, 3, 3, 2)]),
    "matmul 1xb": (lambda a, b: a @ b, [randn(0, 3), randn(1, 2, 3, 2)]),
    "exp": (lambda a: a.exp(), [randn(0, 2, 3)]),
    "log": (lambda a: a.log(), [np.abs(randn(0, 2, 3)) + 0.5]),
    "sin": (lambda a: a.sin(), [randn(0, 2, 3)]),
    "cos": (lambda a: a.cos(), [randn(0, 2, 3)]),
    "abs": (lambda a: a.abs(), [away_from(0, (2, 3))]),
    "sum dims": (lambda a: a.sum((0, 2), keepdim=True), [randn(0, 2, 3, 2)]),
    "mean": (lambda a: a.mean(1), [randn(0, 2, 3, 2)]),
    "max": (lambda a: a.max(-1), [distinct(0, (3, 4))]),
    "reshape permute": (lambda a: a.reshape(3, 2, 2).permute(2, 0, 1) * 2, [randn(0, 2, 6)]),
    "transpose flatten": (lambda a: a.transpose(0, 2).flatten(1) * 2, [randn(0, 2, 3, 2)]),
    "index list": (lambda a: a[:, [0, 2, 2]] * 2, [randn(0, 2, 3)]),
    "index mask": (lambda a: a[mathdnn.tensor(np.array([True, False, True]))] * 2, [randn(0, 3)]),
    "concatenate": (lambda a, b: mathdnn.cat([a, b, a], 1), [randn(0, 2, 1), randn(1, 2, 3)]),
    # functional primitives
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
        [randn(0, 2, 2, 5, 5), randn(1, 3, 2, 3, 2), randn(2, 3)],
    ),
    "conv2d groups same": (
        lambda x, w: F.conv2d(x, w, padding="same", groups=2),
        [randn(0, 1, 4, 4, 4), randn(1, 2, 2, 2, 3)],
    ),
    "conv2d unbatched": (
        lambda x, w: F.conv2d(x, w, stride=2, dilation=2),
        [randn(0, 2, 6, 5), randn(1, 2, 2, 2, 2)],
    ),
    "max_pool2d": (
        lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
        [distinct(0, (1, 2, 5, 5))],
    ),
    "max_pool2d dilated overlapping": (
        lambda x: F.max_pool2d(x, 2, stride=1, dilation=2),
        [distinct(1, (2, 1, 5, 4))],
    ),
    "avg_pool2d": (
        lambda x: F.avg_pool2d(x, (3, 2), stride=1, padding=1, count_include_pad=False),
        [randn(0, 1, 2, 4, 5)],
    ),
    "avg_pool2d include pad": (lambda x: F.avg_pool2d(x, 2, padding=1), [randn(0, 2, 4, 3)]),
    "max_pool2d ceil_mode": (
        lambda x: F.max_pool2d(x, 2, padding=1, ceil_mode=True),
        [distinct(2, (1, 2, 6, 5))],
    ),
    "max_pool2d tiles": (lambda x: F.max_pool2d(x, (2, 3)), [distinct(3, (2, 1, 5, 7))]),
    "avg_pool2d ceil_mode divisor_override": (
        lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, divisor_override=4),
        [randn(0, 1, 2, 6, 5)],
    ),
    "avg_pool2d tiles": (lambda x: F.avg_pool2d(x, (2, 3)), [randn(1, 2, 1, 5, 7)]),
    "adaptive_avg_pool2d": (
        lambda x: F.adaptive_avg_pool2d(x, (3, None)),
        [randn(0, 2, 1, 7, 4)],
    ),
    "adaptive_avg_pool2d unbatched": (
        lambda x: F.adaptive_avg_pool2d(x, (4, 3)),
        [randn(1, 2, 5, 7)],
    ),
    "linear": (F.linear, [randn(0, 2, 3, 4), randn(1, 5, 4), randn(2, 5)]),
    "relu": (F.relu, [away_from(0, (3, 4))]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.3), [away_from(0, (3, 4))]),
    "sigmoid": (F.sigmoid, [randn(0, 3, 4) * 3]),
    "tanh": (F.tanh, [randn(0, 3, 4) * 2]),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), [away_from(0, (3, 4), points=(1.5,))]),
    "logsigmoid": (F.logsigmoid, [randn(0, 3, 4) * 3]),
    "softmax": (lambda x: F.softmax(x, 1), [randn(0, 3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, 0), [randn(0, 3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, np.array([0, 3, 1])), [randn(0, 3, 4)]),
    "cross_entropy sum": (
        lambda x: F.cross_entropy(x, np.array([2, 2]), reduction="sum"),
        [randn(0, 2, 4)],
    ),
    "cross_entropy none": (
        lambda x: F.cross_entropy(x, np.array([1, 0]), reduction="none"),
        [randn(0, 2, 3)],
    ),
    "mse_loss": (F.mse_loss, [randn(0, 3, 4), randn(1, 3, 4)]),
    "mse_loss none": (lambda a, b: F.mse_loss(a, b, reduction="none"), [randn(0, 5), randn(1, 5)]),
    "clamp": (lambda x: F.clamp(x, -0.5, 1.0), [away_from(0, (3, 4), points=(-0.5, 1.0))]),
    "clamp min only": (lambda x: F.clamp(x, min=0.2), [away_from(0, (3, 4), points=(0.2,))]),
}


@pytest.mark.parametrize("name", CASES)
def test_vjp_matches_finite_differences(name):
    f, inputs = CASES[name]
    scale = max(1.0, *(float(np.max(np.abs(a))) for a in inputs))
    for seed in (0, 1):
        error = gradcheck_error(f, inputs, seed=seed)
        assert error < TOL * scale, f"{name}: |autodiff - finite difference| = {error:.3e}"


def test_step_gradient_is_zero_and_finite_differences_agree():
    x = away_from(0, (3, 4))
    g = rng(3).standard_normal((3, 4))
    (numerical,) = numerical_vjp(F.step, [x], g)
    np.testing.assert_array_equal(numerical, 0)
    assert gradcheck_error(F.step, [x]) == 0


def test_gradcheck_detects_a_wrong_vjp():
    """The checker itself must fail on a wrong derivative (here: sin with the VJP of cos)."""

    def wrong(a):
        return mathdnn.Tensor._make(np.sin(a.data), (a,), lambda g: (g * np.sin(a.data),), "bad")

    assert gradcheck_error(wrong, [randn(0, 5)]) > 1e-2
