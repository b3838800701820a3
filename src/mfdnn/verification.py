"""Self-checks that ``mfdnn verify`` runs: every identity, computed two independent ways.

A suite is a function ``rng -> list[Check]``; ``SUITES`` lists them in the order they print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import mfdnn.functional as F
from mfdnn.engine import Tensor, no_grad
from mfdnn.engine.gradcheck import gradcheck_error
from mfdnn.functional import reference
from mfdnn.homework_checks import homework_checks


@dataclass(frozen=True)
class Check:
    """One verified identity: its largest error against the tolerance it must meet.

    ``expected_failure`` marks an identity that must *not* hold (a counterexample is the point);
    it passes when the error is above the tolerance.
    """

    problem: str
    name: str
    max_error: float
    tolerance: float
    expected_failure: bool = False
    detail: str = ""

    @property
    def holds(self) -> bool:
        return bool(self.max_error <= self.tolerance)

    @property
    def passed(self) -> bool:
        return self.holds != self.expected_failure

    @property
    def status(self) -> str:
        if self.expected_failure:
            return "xfail (as expected)" if self.passed else "FAIL (identity held)"
        return "pass" if self.passed else "FAIL"


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))


def engine_checks(rng: np.random.Generator) -> list[Check]:
    """The fast conv2d and pools against the loop reference, and every primitive against
    finite differences, on random float64 tensors."""
    checks = []
    # One case for each of conv2d's kernels: strided and grouped (unfold the batch), stride 1
    # (chunked unfold), depthwise (banded matrix products).
    kernels = [
        ("strided, grouped", (2, 4, 9, 8), (6, 2, 3, 3), (2, 1), (2, 2, 1, 1), (2, 1), 2),
        ("stride 1", (3, 3, 7, 8), (4, 3, 3, 2), (1, 1), (1, 1, 2, 2), (1, 2), 1),
        ("depthwise", (3, 4, 8, 7), (4, 1, 3, 3), (1, 1), (2, 2, 1, 1), (2, 1), 4),
    ]
    for name, x_shape, w_shape, stride, pads, dilation, groups in kernels:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        b = rng.standard_normal(w_shape[0])
        padding = (pads[0], pads[2])
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xt, wt, bt, stride, padding, dilation, groups)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        ref = reference.conv2d(x, w, b, stride, pads, dilation, groups)
        ref_grads = reference.conv2d_vjp(x, w, g, stride, pads, dilation, groups)
        checks.append(
            Check(
                "engine", f"conv2d ({name}) forward = loop reference", _max_abs(y.data, ref), 1e-10
            )
        )
        grad_error = max(
            _max_abs(a, r) for a, r in zip((xt.grad, wt.grad, bt.grad), ref_grads, strict=True)
        )
        checks.append(Check("engine", f"conv2d ({name}) VJP = loop reference", grad_error, 1e-10))

    xp = rng.standard_normal((2, 3, 9, 10))
    with no_grad():
        ours = F.max_pool2d(Tensor(xp), 3, 2, 1, 2).data
    theirs, _ = reference.max_pool2d(xp, (3, 3), (2, 2), (1, 1), (2, 2))
    checks.append(
        Check("engine", "max_pool2d forward = loop reference", _max_abs(ours, theirs), 0.0)
    )
    with no_grad():
        ours = F.avg_pool2d(Tensor(xp), 3, 2, 1).data
    theirs = reference.avg_pool2d(xp, (3, 3), (2, 2), (1, 1))
    checks.append(
        Check("engine", "avg_pool2d forward = loop reference", _max_abs(ours, theirs), 1e-12)
    )

    small = rng.standard_normal((2, 3, 6, 5))
    cases: list[tuple[str, Callable[..., Tensor], list[np.ndarray]]] = [
        (
            "conv2d",
            lambda a, k: F.conv2d(a, k, padding=1, stride=2),
            [small, rng.standard_normal((2, 3, 3, 3))],
        ),
        ("max_pool2d", lambda a: F.max_pool2d(a, 2, 1), [small]),
        ("avg_pool2d", lambda a: F.avg_pool2d(a, 3, 2, 1), [small]),
        (
            "linear",
            F.linear,
            [rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)],
        ),
        ("relu", F.relu, [small]),
        ("leaky_relu", F.leaky_relu, [small]),
        ("sigmoid", F.sigmoid, [small]),
        ("tanh", F.tanh, [small]),
        ("softplus", F.softplus, [small]),
        ("logsigmoid", F.logsigmoid, [small]),
        ("log_softmax", lambda a: F.log_softmax(a, 1), [small]),
        ("softmax", lambda a: F.softmax(a, 1), [small]),
        (
            "cross_entropy",
            lambda a: F.cross_entropy(a, np.array([0, 2, 1, 2])),
            [rng.standard_normal((4, 3))],
        ),
        ("mse_loss", F.mse_loss, [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    ]
    for name, f, inputs in cases:
        checks.append(
            Check("engine", f"{name} VJP = finite differences", gradcheck_error(f, inputs), 1e-6)
        )
    return checks


SUITES: list[Callable[[np.random.Generator], list[Check]]] = [engine_checks, homework_checks]


def run_all(seed: int = 0) -> list[Check]:
    """Every check of every suite, with one random generator seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    return [check for suite in SUITES for check in suite(rng)]
