"""The registry of problems and what each problem module offers: its statement (the docstring), its
construction under the names a solution file uses, and its checks as functions of that
construction, so that a wrong construction fails them."""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

from mathdnn.hw4 import registry
from mathdnn.hw4.registry import PROBLEMS, by_number, number, title
from mathdnn.nn.partial import SubsetConv2d

#: The construction each problem exposes, by the names (and the first parameters) a solution
#: file must use.
CONSTRUCTIONS = {
    "1": {"finite_difference_filter": []},
    "2": {"avg_pool_filter": ["k", "channels"]},
    "3": {"grayscale_filter": []},
    "4": {"maxpool_counterexample": ["activation"]},
    "5": {
        "logistic_loss": ["z", "y"],
        "sum_of_squares_loss": ["z", "y"],
        "sum_of_squares_grad": ["z", "y"],
    },
    "6": {"mlp_gradients": ["As", "bs", "x", "sigma", "sigma_prime"]},
    "7": {
        "c3_connections": [],
        "c3_parameter_count": ["table"],
        "lenet5_parameter_count": ["table"],
        "c3_forward": ["x", "weights", "bias"],
    },
}


def test_the_problems_in_order_with_their_titles():
    assert [number(p) for p in PROBLEMS] == ["1", "2", "3", "4", "5", "6", "7"]
    assert title(PROBLEMS[0]) == "finite differences as one 3×3 convolution (edge detection)"
    assert by_number("7") is PROBLEMS[6]
    with pytest.raises(ValueError, match="by_number: there is no problem '8'; the problems are 1,"):
        by_number("8")


def test_a_docstring_without_its_heading_is_refused():
    module = types.ModuleType("p8_nothing", "Something without a heading.")
    with pytest.raises(ValueError, match="p8_nothing: the docstring must open with 'Problem"):
        registry.number(module)


@pytest.mark.parametrize("problem", PROBLEMS, ids=number)
def test_each_problem_exposes_its_construction_and_checks_it(problem):
    expected = CONSTRUCTIONS[number(problem)]
    for name, parameters in expected.items():
        function = getattr(problem, name)
        assert list(inspect.signature(function).parameters)[: len(parameters)] == parameters
    checks = inspect.signature(problem.checks).parameters
    keyword = {n: p for n, p in checks.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(keyword) <= set(expected), "a construction the checks take but do not expose"
    for name, parameter in keyword.items():
        assert parameter.default is getattr(problem, name)
    rows = problem.checks(np.random.default_rng(0))
    assert rows and all(r.problem == number(problem) and r.passed for r in rows)


def _failed(problem, **construction) -> list[str]:
    return [
        c.name for c in problem.checks(np.random.default_rng(0), **construction) if not c.passed
    ]


def test_a_wrong_construction_fails_the_checks_of_its_problem():
    p1, p2, p3, p4, p5, p6, p7 = PROBLEMS

    def flipped():
        return -p1.finite_difference_filter()

    assert _failed(p1, finite_difference_filter=flipped) == [
        "conv2d(X, w, padding=1) = differences, photo",
        "conv2d(X, w, padding=1) = differences, random",
    ]
    assert _failed(p2, avg_pool_filter=lambda k, c: np.full((c, 1, k, k), 1 / k)) != []
    assert _failed(p3, grayscale_filter=lambda: p3.grayscale_filter()[:, ::-1].copy()) != []
    assert _failed(p4, maxpool_counterexample=lambda name: None) == [
        "σ(ρ(X)), σ = x² (not monotone)",
        "σ(ρ(X)), σ = sin (not monotone)",
        "σ(ρ(X)), σ = −x (not monotone)",
    ]

    def without_factor_2(z, y):
        return p5.sum_of_squares_loss(z, y) * 0.5

    assert "sum_of_squares_loss = mean 2σ(−yz)²" in _failed(
        p5, sum_of_squares_loss=without_factor_2
    )

    def wrong_side(As, bs, x, sigma, sigma_prime):
        grads_A, grads_b = p6.mlp_gradients(As, bs, x, sigma, sigma_prime)
        return [g.T.reshape(g.shape) for g in grads_A], grads_b

    assert len(_failed(p6, mlp_gradients=wrong_side)) >= 3

    def without_bias(table):
        return p7.lenet5_parameter_count(table) - 16

    assert len(_failed(p7, lenet5_parameter_count=without_bias)) == 3


def test_a_counterexample_for_every_function_that_is_not_monotone():
    p4 = by_number("4")
    for name in ("relu", "sigmoid", "tanh", "softplus", "leaky_relu", "exp"):
        assert p4.maxpool_counterexample(name) is None
    for name in ("square", "sin", "neg", "abs"):
        x = p4.maxpool_counterexample(name)
        assert x.shape == (1, 1, 2, 2) and np.isfinite(x).all()
        assert p4.counterexample_check(name).passed
    with pytest.raises(ValueError, match="maxpool_counterexample: activation must be one of relu"):
        p4.maxpool_counterexample("cube")


def test_the_constructions_of_problems_5_and_7_agree_with_the_library():
    p5, p7 = by_number("5"), by_number("7")
    z, y = np.linspace(-3, 3, 7), np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
    s = 1 / (1 + np.exp(y * z))
    np.testing.assert_allclose(p5.sum_of_squares_grad(z, y), -4 * y * s**2 * (1 - s) / 7)
    table = p7.c3_connections()
    assert table.shape == (6, 16) and table.dtype == bool and table.sum() == 60
    assert p7.c3_parameter_count(table) == 1516
    assert p7.c3_parameter_count(np.ones((6, 16), bool)) == 2416
    hint = SubsetConv2d(p7.CONNECTIONS, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 6, 14, 14))
    weights = [c.weight.data[0] for c in hint.convs]
    bias = np.concatenate([c.bias.data for c in hint.convs])
    ours = p7.c3_forward(x, weights, bias)
    assert ours.shape == (2, 16, 10, 10)
    np.testing.assert_allclose(ours, hint(x).data, atol=1e-12)
    with pytest.raises(ValueError, match=r"c3_forward: weights\[0\] must have shape \(3, 5, 5\)"):
        p7.c3_forward(x, [np.ones((6, 5, 5))] * 16, bias)
