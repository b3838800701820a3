"""Problem 6 without PyTorch: batched and per-example gradients, finite differences on a subset
of the entries, bad input; ``random_mlp`` is shared with the PyTorch tests."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4.figures import PAGE_PX
from mathdnn.hw4.p6_jacobians import (
    METHODS,
    finite_difference_gradients,
    forward,
    gradient_cost,
    init_mlp,
    layer_jacobians,
    layer_jacobians_png,
    mlp_backprop,
    mlp_gradients,
    output_jacobians,
)

EXACT = {"rtol": 1e-10, "atol": 1e-10}


FD = {"rtol": 1e-6, "atol": 1e-6}


def random_mlp(widths: list[int], seed: int, batch: int | None = None):
    """A random MLP n_0-…-n_{L−1}-1 (weights ~ N(0, 1/n_{ℓ−1})) and an input, float64."""
    rng = np.random.default_rng(seed)
    sizes = [*widths, 1]
    As = [rng.standard_normal((m, n)) / np.sqrt(n) for n, m in itertools.pairwise(sizes)]
    bs = [0.5 * rng.standard_normal(m) for m in sizes[1:]]
    x = rng.standard_normal(sizes[0] if batch is None else (batch, sizes[0]))
    return As, bs, x


@pytest.mark.parametrize("method", ["backprop", "jacobian"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_batched_per_example_and_summed(method, activation):
    As, bs, X = random_mlp([6, 5, 4], seed=4, batch=7)
    singles = [mlp_gradients(As, bs, x, activation, method=method) for x in X]
    per_example = mlp_gradients(As, bs, X, activation, method=method, reduction="none")
    summed = mlp_gradients(As, bs, X, activation, method=method)
    ones = mlp_backprop(As, bs, X, activation)
    for k in range(2):
        for ell in range(3):
            stacked = np.stack([s[k][ell] for s in singles])
            assert per_example[k][ell].shape == (7, *(As, bs)[k][ell].shape)
            np.testing.assert_allclose(per_example[k][ell], stacked, **EXACT)
            np.testing.assert_allclose(summed[k][ell], stacked.sum(axis=0), **EXACT)
            np.testing.assert_allclose(ones[k][ell], stacked.sum(axis=0), **EXACT)


def test_finite_differences_on_a_subset():
    As, bs, x = random_mlp([10, 8], seed=7)
    grads_A, _ = finite_difference_gradients(As, bs, x, "tanh", max_entries=5)
    assert np.count_nonzero(~np.isnan(grads_A[0])) == 5
    exact = mlp_gradients(As, bs, x, "tanh")[0][0]
    mask = ~np.isnan(grads_A[0])
    np.testing.assert_allclose(grads_A[0][mask], exact[mask], **FD)


def test_bad_inputs():
    As, bs, x = random_mlp([4, 3], seed=8)
    with pytest.raises(ValueError, match=r"mlp_gradients: shapes do not chain: A_2 .*\(1, 5\)"):
        mlp_gradients([As[0], np.ones((1, 5))], bs, x, "tanh")
    with pytest.raises(ValueError, match=r"layer_jacobians: shapes do not chain: A_1.*x"):
        layer_jacobians(As, bs, np.ones(5), "tanh")
    with pytest.raises(ValueError, match=r"mlp_gradients: b_1 must have shape \(3,\).*\(4,\)"):
        mlp_gradients(As, [np.ones(4), bs[1]], x, "tanh")
    with pytest.raises(ValueError, match=r"mlp_gradients: the output must be a scalar.*n_L = 2"):
        mlp_gradients([As[0], np.ones((2, 3))], [bs[0], np.ones(2)], x, "tanh")
    with pytest.raises(ValueError, match=r"output_jacobians: unknown activation 'gelu'; valid:"):
        output_jacobians(As, bs, x, "gelu")
    with pytest.raises(ValueError, match=r"forward: activation must be a name .* pair"):
        forward(As, bs, x, (np.sin,))
    with pytest.raises(ValueError, match=r"mlp_gradients: method must be one of .*'explicit'"):
        mlp_gradients(As, bs, x, "tanh", method="explicit")
    with pytest.raises(ValueError, match=r"mlp_gradients: reduction must be .*'mean'"):
        mlp_gradients(As, bs, x, "tanh", reduction="mean")
    with pytest.raises(ValueError, match=r"mlp_gradients: As and bs .* got 2 and 1"):
        mlp_gradients(As, bs[:1], x, "tanh")
    with pytest.raises(ValueError, match=r"layer_jacobians: x must be one input .*\(2, 4\)"):
        layer_jacobians(As, bs, np.ones((2, 4)), "tanh")
    with pytest.raises(ValueError, match=r"mlp_backprop: grad_output must have .*\(3, 1\)"):
        mlp_backprop(As, bs, np.ones((3, 4)), "tanh", np.ones(3))


def test_gradient_cost_measures_both_methods():
    cost = {method: gradient_cost(48, method, depth=3, repeats=1) for method in METHODS}
    for c in cost.values():
        assert c.seconds > 0 and c.peak >= c.working >= 0
    # The explicit method holds 48 × 48 matrices diag σ'(z); backprop only vectors.
    assert cost["jacobian"].working >= 48 * 48 * 8 > cost["backprop"].working


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "explicit"}, "method must be one of"),
        ({"n": 0}, "n must be a positive int, got 0"),
        ({"depth": 1.5}, "depth must be a positive int, got 1.5"),
        ({"repeats": True}, "repeats must be a positive int, got True"),
    ],
)
def test_gradient_cost_names_a_bad_argument(kwargs, message):
    args = {"n": 4, "method": "backprop", **kwargs}
    with pytest.raises(ValueError, match=f"gradient_cost: {message}"):
        gradient_cost(**args)


# -------------------------------------------------------------------------------- the figure
def _image(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize("activation", ["tanh", (np.tanh, lambda z: 1 - np.tanh(z) ** 2)])
def test_layer_jacobians_grow_with_the_network(activation):
    small = init_mlp((4, 3, 1), seed=0, dtype=np.float64)
    large = init_mlp((8, 6, 4, 1), seed=0, dtype=np.float64)
    x_small, x_large = np.ones(4), np.ones(8)
    a = _image(layer_jacobians_png(*small, x_small, activation))
    b = _image(layer_jacobians_png(*large, x_large, activation))
    assert b.height > a.height
    assert b.width <= PAGE_PX  # shown at its own size on the page, its small text legible


def test_layer_jacobians_name_a_bad_network():
    As, bs = init_mlp((4, 3, 2), seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="layer_jacobians: the output must be a scalar"):
        layer_jacobians_png(As, bs, np.ones(4), "tanh")
