"""Problem 5's two objectives and the model's score, against hw4.md's formulas, their limits
and finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mathdnn
import mathdnn.functional as F
from mathdnn.engine.gradcheck import gradcheck_error
from mathdnn.hw4.p5_losses import (
    logistic_loss,
    predict,
    sum_of_squares_long_form,
    sum_of_squares_loss,
)

Z = np.linspace(-8, 8, 161)


def sigma(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("y", [-1.0, 1.0])
def test_long_form_equals_simplified_form(y):
    """ℓ(z, y) = ½(1−y)[(1−σ(−z))² + σ(z)²] + ½(1+y)[σ(−z)² + (1−σ(z))²] = 2σ(−yz)²."""
    long_form = sum_of_squares_long_form(Z, np.full_like(Z, y))
    np.testing.assert_allclose(long_form, 2 * sigma(-y * Z) ** 2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("y", [-1.0, 1.0])
def test_losses_match_hw4_formulas_per_item(y):
    for v in Z:
        z, label = np.array([v]), np.array([y])
        assert sum_of_squares_loss(z, label).item() == pytest.approx(
            sum_of_squares_long_form(z, label)[0], rel=1e-12, abs=1e-15
        )
        assert logistic_loss(z, label).item() == pytest.approx(np.log1p(np.exp(-y * v)), rel=1e-12)


def test_losses_are_batch_means():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(50) * 3
    y = rng.choice([-1.0, 1.0], 50)
    assert logistic_loss(z, y).item() == pytest.approx(np.mean(np.log1p(np.exp(-y * z))))
    assert sum_of_squares_loss(z, y).item() == pytest.approx(
        np.mean(sum_of_squares_long_form(z, y))
    )


def test_exact_values_at_extreme_scores():
    assert sum_of_squares_loss(1e6, -1).item() == 2
    assert sum_of_squares_loss(-1e6, -1).item() == 0
    assert logistic_loss(-1e6, -1).item() == 0
    assert logistic_loss(1e6, -1).item() == 1e6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", [logistic_loss, sum_of_squares_loss])
def test_stable_without_warnings_at_1e6(dtype, loss):
    z = mathdnn.tensor(np.array([1e6, -1e6, 1e6, -1e6, 0.0], dtype=dtype), requires_grad=True)
    y = np.array([1, 1, -1, -1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss(z, y)
        value.backward()
    assert value.dtype == dtype and z.grad.dtype == dtype
    assert np.isfinite(value.item()) and np.all(np.isfinite(z.grad))


@pytest.mark.parametrize("loss", [logistic_loss, sum_of_squares_loss])
def test_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(1)
    z = rng.standard_normal(12) * 3
    y = rng.choice([-1.0, 1.0], 12)
    assert gradcheck_error(lambda t: loss(t, y), [z]) < 1e-8


def test_the_score_is_linear_with_a_vector_weight_and_gradchecks():
    """Problem 5's score ``z = X a + b`` is ``F.linear(X, a, b)`` with a 1-D weight."""
    rng = np.random.default_rng(3)
    X, a, b = rng.standard_normal((7, 5)), rng.standard_normal(5), np.array(0.3)
    np.testing.assert_allclose(F.linear(X, a, b).data, X @ a + 0.3)
    assert gradcheck_error(F.linear, [X, a, b]) < 1e-8


def test_predict_is_the_more_probable_label():
    np.testing.assert_array_equal(predict(np.array([-2.0, 0.0, 3.0])), [-1, 1, 1])


@pytest.mark.parametrize("loss", [logistic_loss, sum_of_squares_loss])
def test_bad_labels_and_shapes(loss):
    name = loss.__name__
    with pytest.raises(ValueError, match=rf"{name}: y must hold labels -1 or \+1, got \[0"):
        loss(np.zeros(3), np.array([1, 0, -1]))
    with pytest.raises(ValueError, match=rf"{name}: y must have the shape of z"):
        loss(np.zeros(3), np.ones(4))
    with pytest.raises(TypeError, match=name):
        loss(np.zeros(2), np.array(["a", "b"]))
