"""The registry of problems and what each problem module offers: its statement (the docstring), its
construction under the names a solution file uses, its checks as functions of that construction,
so that a wrong construction fails them, and its commands; and that a new problem is its module
and its line in the registry."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import mathdnn
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


# ------------------------------------------------------------------------- the commands
def test_the_registry_lists_every_command_of_every_problem_once():
    declared = [c for problem in PROBLEMS for c in getattr(problem, "COMMANDS", ())]
    assert registry.commands() == tuple(declared)  # in the problems' order, each once
    for problem in PROBLEMS:  # each command's line in --help says whose it is
        for command in getattr(problem, "COMMANDS", ()):
            assert command.help.startswith(f"Problem {number(problem)}: "), command.name


# ---------------------------------------------------------------------- a problem added
#: A Problem 8 as its own module: its statement, its construction, its experiment, its checks,
#: its section of the page and a command.
PROBLEM_8 = '''
"""Problem 8: the identity as one 1×1 convolution.

Is ``X ↦ X`` a convolution?

Answer: Yes, ``conv2d(X, w)`` with the ``(1, 1, 1, 1)`` filter ``w = 1`` (``identity_filter``).
"""

import numpy as np

import mathdnn.functional as F
from mathdnn.check import EXACT, Check, max_abs_difference
from mathdnn.command import Command
from mathdnn.hw4.page import Text


def identity_filter():
    return np.ones((1, 1, 1, 1))


class Identity:
    def numbers(self):
        return {"filter": identity_filter().tolist()}

    def figures(self):
        return {}

    def page(self):
        return [Text("``conv2d(X, w)`` with ``w = 1`` gives back ``X``.")]


def run(inputs, progress):
    return Identity()


def checks(rng, *, identity_filter=identity_filter):
    x = rng.standard_normal((2, 1, 5, 4))
    y = F.conv2d(x, identity_filter()).data
    return [Check("8", "conv2d(X, w) = X", "X itself", max_abs_difference(y, x), EXACT)]


def _identity_arguments(parser):
    parser.add_argument("--size", type=int, default=3, help="the side of X (default 3)")


def _run_identity(args):
    x = np.arange(args.size**2, dtype=float).reshape(1, 1, args.size, args.size)
    print(f"max |conv2d(X, 1) − X| = {np.abs(F.conv2d(x, identity_filter()).data - x).max()}")
    return 0


COMMANDS = (
    Command(
        "identity",
        help="Problem 8: the identity by one 1×1 convolution",
        description="Convolve a square X with the 1×1 filter 1 of Problem 8.",
        arguments=_identity_arguments,
        run=_run_identity,
    ),
)
'''

#: The registry with Problem 8 in it (its line in ``PROBLEMS``), then the
#: command line. ``alone``: Problem 8 is the only problem, so that ``verify`` and ``hw4`` run
#: quickly.
WITH_PROBLEM_8 = """
import sys

import p8_identity
from mathdnn.hw4 import registry

problems = () if sys.argv[1] == "alone" else registry.PROBLEMS
registry.PROBLEMS = (*problems, p8_identity)

from mathdnn.cli import main

sys.exit(main(sys.argv[2:]))
"""


def test_a_new_problem_is_its_module_and_its_line_in_the_registry(tmp_path):
    """Issue 20: Problem 8, one module and its line in the registry, is in ``mathdnn --help``,
    runs as its command, has its rows in ``mathdnn verify`` and its section on the page."""
    (tmp_path / "p8_identity.py").write_text(PROBLEM_8)
    src = Path(mathdnn.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(src)])}
    env.pop("MATHDNN_MNIST_DIR", None)

    def mathdnn_with_problem_8(registry: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", WITH_PROBLEM_8, registry, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )

    helped = mathdnn_with_problem_8("added", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "Problem 8: the identity by one 1×1 convolution" in helped.stdout
    listed = [line.split()[0] for line in helped.stdout.splitlines() if line.startswith("    ")]
    assert listed.index("losses") < listed.index("identity") < listed.index("train")

    ran = mathdnn_with_problem_8("added", "identity", "--size", "4")
    assert (ran.returncode, ran.stdout) == (0, "max |conv2d(X, 1) − X| = 0.0\n"), ran.stderr

    verified = mathdnn_with_problem_8("alone", "verify")
    assert verified.returncode == 0, verified.stderr
    # A row starts at the margin; an indented line under it says why the row skipped.
    rows = [line.split() for line in verified.stdout.splitlines() if line[:1].strip()]
    assert ["8", "conv2d(X,", "w)", "=", "X", "X", "itself"] in [row[:7] for row in rows]
    assert {row[0] for row in rows[1:-1]} <= {"8", "engine"}

    out = tmp_path / "report"
    reported = mathdnn_with_problem_8("alone", "hw4", "--quick", "-o", str(out))
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.splitlines()[0].startswith("Problem 8  1/1 checks passed")
    page = (out / "index.html").read_text()
    assert "Problem 8: The identity as one 1×1 convolution" in page
    assert "gives back" in page and "<td>conv2d(X, w) = X</td>" in page
    document = json.loads((out / "results.json").read_text())
    assert list(document["problems"]) == ["8", "engine"]
    assert document["problems"]["8"]["filter"] == [[[[1.0]]]]
