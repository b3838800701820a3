"""Problem 6: the MLP gradients from the layer Jacobians, checked against the engine's autodiff,
PyTorch (torch.autograd.functional.jacobian, torch.autograd.grad) and finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_p6_jacobians import EXACT, FD, random_mlp  # noqa: E402

from mathdnn.functional.activation import ACTIVATIONS  # noqa: E402
from mathdnn.hw4.p6_jacobians import (  # noqa: E402
    autodiff_gradients,
    finite_difference_gradients,
    forward,
    layer_jacobians,
    mlp_backprop,
    mlp_gradients,
    output_jacobians,
    softmax_cross_entropy,
)

TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softplus": torch.nn.functional.softplus,
    "leaky_relu": torch.nn.functional.leaky_relu,
    "hardtanh": torch.nn.functional.hardtanh,
    "step": lambda z: (z > 0).to(z.dtype) + 0 * z,  # slope 0; `0 * z` keeps z in the graph
}


def away_from_kinks(As, bs, x, activation) -> bool:
    """ReLU-type σ, the step and hardtanh have kinks (at 0, and at ±1 for hardtanh): keep every
    pre-activation at least 1e-3 away from them."""
    kinks = {"relu": [0], "leaky_relu": [0], "step": [0], "hardtanh": [-1, 1]}.get(activation, [])
    ys = forward(As, bs, x, activation)
    return all(
        np.min(np.abs(y @ A.T + b - kink), initial=np.inf) > 1e-3
        for y, A, b in zip(ys, As[:-1], bs, strict=False)
        for kink in kinks
    )


def torch_layer(A, b, y_prev, activation, last):
    z = A @ y_prev + b
    return z if last else TORCH_ACTIVATIONS[activation](z)


def torch_forward_from(As, bs, y, start, activation):
    """y_L as a function of y_start (layers start+1..L), in torch."""
    L = len(As)
    for ell in range(start + 1, L + 1):
        y = torch_layer(As[ell - 1], bs[ell - 1], y, activation, ell == L)
    return y


def as_torch(arrays, grad=False):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]


mlps = st.tuples(
    st.lists(st.integers(1, 8), min_size=1, max_size=6),
    st.sampled_from(list(ACTIVATIONS)),
    st.integers(0, 2**31 - 1),
)


@settings(max_examples=60)
@given(mlps)
def test_both_methods_agree_with_autodiff_torch_and_finite_differences(mlp):
    widths, activation, seed = mlp
    As, bs, x = random_mlp(widths, seed)
    assume(away_from_kinks(As, bs, x, activation))
    explicit = mlp_gradients(As, bs, x, activation, method="jacobian")
    backprop = mlp_gradients(As, bs, x, activation, method="backprop")
    engine = autodiff_gradients(As, bs, x, activation)
    A_t, b_t = as_torch(As, grad=True), as_torch(bs, grad=True)
    y_L = torch_forward_from(A_t, b_t, torch.tensor(x), 0, activation)
    torch_grads = [g.numpy() for g in torch.autograd.grad(y_L.sum(), A_t + b_t)]
    numeric = finite_difference_gradients(As, bs, x, activation)
    L = len(As)
    for k in range(2 * L):
        e, bp = (explicit[0] + explicit[1])[k], (backprop[0] + backprop[1])[k]
        assert e.shape == bp.shape == (As + bs)[k].shape
        np.testing.assert_allclose(e, bp, **EXACT)
        np.testing.assert_allclose(bp, (engine[0] + engine[1])[k], **EXACT)
        np.testing.assert_allclose(bp, torch_grads[k], **EXACT)
        np.testing.assert_allclose(bp, (numeric[0] + numeric[1])[k], **FD)


@settings(max_examples=40)
@given(mlps)
def test_layer_and_output_jacobians_match_torch(mlp):
    widths, activation, seed = mlp
    As, bs, x = random_mlp(widths, seed)
    assume(away_from_kinks(As, bs, x, activation))
    L = len(As)
    ys = forward(As, bs, x, activation)
    pairs = layer_jacobians(As, bs, x, activation)
    J = output_jacobians(As, bs, x, activation)
    A_t, b_t, y_t = as_torch(As), as_torch(bs), as_torch(ys)
    assert len(pairs) == L and len(J) == L + 1
    for ell in range(1, L + 1):
        A, b, y_prev, last = A_t[ell - 1], b_t[ell - 1], y_t[ell - 1], ell == L
        dy_db, dy_dyprev = pairs[ell - 1]
        n, n_prev = As[ell - 1].shape
        assert dy_db.shape == (n, n) and dy_dyprev.shape == (n, n_prev)
        ref_b = torch.autograd.functional.jacobian(
            lambda b_, A=A, y_prev=y_prev, last=last: torch_layer(A, b_, y_prev, activation, last),
            b,
        )
        ref_y = torch.autograd.functional.jacobian(
            lambda y_, A=A, b=b, last=last: torch_layer(A, b, y_, activation, last), y_prev
        )
        np.testing.assert_allclose(dy_db, ref_b.numpy(), **EXACT)
        np.testing.assert_allclose(dy_dyprev, ref_y.numpy(), **EXACT)
    np.testing.assert_array_equal(pairs[-1][0], np.eye(1))
    np.testing.assert_array_equal(pairs[-1][1], As[-1])
    for ell in range(L + 1):
        ref = torch.autograd.functional.jacobian(
            lambda y_, ell=ell: torch_forward_from(A_t, b_t, y_, ell, activation), y_t[ell]
        )
        assert J[ell].shape == (1, len(ys[ell]))
        np.testing.assert_allclose(J[ell], ref.numpy(), **EXACT)


def test_forward_matches_torch_and_l1_is_affine():
    As, bs, x = random_mlp([5, 4, 3], seed=1)
    ys = forward(As, bs, x, "softplus")
    ref = torch.tensor(x)
    for ell in range(1, 4):
        ref = torch_layer(*as_torch([As[ell - 1], bs[ell - 1]]), ref, "softplus", ell == 3)
        np.testing.assert_allclose(ys[ell], ref.numpy(), **EXACT)
    A, b, x = random_mlp([4], seed=2)
    grads_A, grads_b = mlp_gradients(A, b, x, "tanh", method="jacobian")
    np.testing.assert_allclose(grads_A[0], x[None, :])  # ∂y_1/∂A_1 = y_0ᵀ
    np.testing.assert_allclose(grads_b[0], [1.0])


@pytest.mark.parametrize("method", ["backprop", "jacobian"])
def test_callable_pair_activation(method):
    As, bs, x = random_mlp([4, 3, 3], seed=3)
    sin_pair = (np.sin, np.cos)
    grads = mlp_gradients(As, bs, x, sin_pair, method=method)
    numeric = finite_difference_gradients(As, bs, x, sin_pair)
    A_t, b_t = as_torch(As, grad=True), as_torch(bs, grad=True)
    y = torch.tensor(x)
    for ell, (A, b) in enumerate(zip(A_t, b_t, strict=True), start=1):
        y = A @ y + b if ell == 3 else torch.sin(A @ y + b)
    ref = torch.autograd.grad(y.sum(), A_t + b_t)
    for g, r, n in zip(grads[0] + grads[1], ref, numeric[0] + numeric[1], strict=True):
        np.testing.assert_allclose(g, r.numpy(), **EXACT)
        np.testing.assert_allclose(g, n, **FD)


def test_mlp_backprop_with_grad_output_matches_torch():
    rng = np.random.default_rng(5)
    sizes = [6, 5, 4]
    As = [rng.standard_normal((m, n)) for n, m in itertools.pairwise(sizes)]
    bs = [rng.standard_normal(m) for m in sizes[1:]]
    X, g = rng.standard_normal((3, 6)), rng.standard_normal((3, 4))
    grads_A, grads_b = mlp_backprop(As, bs, X, "tanh", g)
    A_t, b_t = as_torch(As, grad=True), as_torch(bs, grad=True)
    y = torch.tanh(torch.tensor(X) @ A_t[0].T + b_t[0]) @ A_t[1].T + b_t[1]
    ref = torch.autograd.grad(y, A_t + b_t, grad_outputs=torch.tensor(g))
    for mine, r in zip(grads_A + grads_b, ref, strict=True):
        np.testing.assert_allclose(mine, r.numpy(), **EXACT)
    one_A, _ = mlp_backprop(As, bs, X[0], "tanh", g[0])
    np.testing.assert_allclose(one_A[0], mlp_backprop(As, bs, X[:1], "tanh", g[:1])[0][0])


def test_softmax_cross_entropy_matches_torch():
    rng = np.random.default_rng(6)
    logits, labels = rng.standard_normal((5, 10)), rng.integers(0, 10, 5)
    loss, grad = softmax_cross_entropy(logits, labels)
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(labels))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), **EXACT)
