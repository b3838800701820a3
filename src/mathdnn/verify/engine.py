"""The engine's checks: each fast path against the formula path, the formula path against the loop
oracle (``mathdnn.functional.reference``), every primitive's VJP against finite differences, and
the primitives against PyTorch when it is installed. The paths are chosen with the public switch
``mathdnn.kernels.use``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn import kernels
from mathdnn.check import FD, ROUNDING, Check, max_abs_difference, pytorch_checks
from mathdnn.engine import Tensor
from mathdnn.engine.gradcheck import gradcheck_error
from mathdnn.functional import reference

# conv2d cases: (name, x shape, weight shape, stride, (top, bottom, left, right), dilation, groups)
CONV_CASES = (
    ("strided, grouped", (2, 4, 9, 8), (6, 2, 3, 3), (2, 1), (2, 2, 1, 1), (2, 1), 2),
    ("stride 1", (3, 3, 7, 8), (4, 3, 3, 2), (1, 1), (1, 1, 2, 2), (1, 2), 1),
    ("depthwise", (3, 4, 8, 7), (4, 1, 3, 3), (1, 1), (2, 2, 1, 1), (2, 1), 4),
)
# conv2d cases of each branch of mathdnn.kernels.conv2d_kernel's rule, batches large enough to be
# split into chunks: stride 1, groups 1, C·kh ≥ 8 (kernel rows); stride 1, depthwise (banded
# products); anything else (the formula).
FAST_CONV_CASES = (
    ("kernel rows", (40, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, 1),
    ("banded depthwise", (40, 8, 16, 16), (8, 1, 3, 3), 1, 1, 1, 8),
    ("formula in chunks", (96, 4, 24, 20), (6, 2, 3, 3), (2, 1), 1, 1, 2),
)


def _forward_and_vjp(
    f: Callable[..., Tensor], inputs: list[np.ndarray], g: np.ndarray
) -> list[np.ndarray]:
    """``[f(inputs), ∂⟨g, f⟩/∂input for each input]`` by the engine."""
    tensors = [Tensor(a, requires_grad=True) for a in inputs]
    y = f(*tensors)
    y.backward(g)
    return [y.data, *(t.grad for t in tensors)]


def _paths_differ(
    f: Callable[..., Tensor], inputs: list[np.ndarray], rng: np.random.Generator
) -> float:
    """``max |fast − formula|`` over the output and every input's gradient."""
    with kernels.use("reference"):
        shape = f(*(Tensor(a) for a in inputs)).shape
        g = rng.standard_normal(shape)
        formula = _forward_and_vjp(f, inputs, g)
    with kernels.use("fast"):
        fast = _forward_and_vjp(f, inputs, g)
    return max(max_abs_difference(a, b) for a, b in zip(fast, formula, strict=True))


def fast_paths(rng: np.random.Generator) -> list[Check]:
    """Each fast path of ``mathdnn.kernels`` against the formula path, forward and VJP."""
    checks = []
    for name, x_shape, w_shape, *args in FAST_CONV_CASES:
        inputs = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
        inputs.append(rng.standard_normal(w_shape[0]))
        error = _paths_differ(lambda *t, args=args: F.conv2d(*t, *args), inputs, rng)
        checks.append(
            Check("engine", f"conv2d ({name}) fast path", "formula path", error, ROUNDING)
        )
    x = [rng.standard_normal((3, 4, 12, 10))]
    for name, pool in (("max_pool2d", F.max_pool2d), ("avg_pool2d", F.avg_pool2d)):
        error = _paths_differ(lambda t, pool=pool: pool(t, 2), x, rng)
        checks.append(
            Check("engine", f"{name} (2×2 tiles) fast path", "formula path", error, ROUNDING)
        )
    return checks


def formula_paths(rng: np.random.Generator) -> list[Check]:
    """The formula paths of conv2d and the pools against the loop oracle, forward and VJP."""
    checks = []
    with kernels.use("reference"):
        for name, x_shape, w_shape, stride, pads, dilation, groups in CONV_CASES:
            x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
            b = rng.standard_normal(w_shape[0])
            loop_y = reference.conv2d(x, w, b, stride, pads, dilation, groups)
            g = rng.standard_normal(loop_y.shape)
            loops = [loop_y, *reference.conv2d_vjp(x, w, g, stride, pads, dilation, groups)]
            args = (stride, (pads[0], pads[2]), dilation, groups)
            ours = _forward_and_vjp(lambda *t, args=args: F.conv2d(*t, *args), [x, w, b], g)
            checks.append(_oracle_check(f"conv2d ({name})", ours, loops))

        x = rng.standard_normal((2, 3, 9, 10))
        pools: list[tuple[str, Callable[[Tensor], Tensor], Callable[..., Any], Any, tuple]] = [
            (
                "max_pool2d (3, 2, 1, dilation 2)",
                lambda t: F.max_pool2d(t, 3, 2, 1, 2),
                lambda a: reference.max_pool2d(a, (3, 3), (2, 2), (1, 1), (2, 2))[0],
                reference.max_pool2d_vjp,
                ((3, 3), (2, 2), (1, 1), (2, 2)),
            ),
            (
                "avg_pool2d (3, 2, 1)",
                lambda t: F.avg_pool2d(t, 3, 2, 1),
                lambda a: reference.avg_pool2d(a, (3, 3), (2, 2), (1, 1)),
                reference.avg_pool2d_vjp,
                ((3, 3), (2, 2), (1, 1)),
            ),
            (
                "adaptive_avg_pool2d (4, 3)",
                lambda t: F.adaptive_avg_pool2d(t, (4, 3)),
                lambda a: reference.adaptive_avg_pool2d(a, (4, 3)),
                reference.adaptive_avg_pool2d_vjp,
                ((4, 3),),
            ),
        ]
        for name, pool, loop, loop_vjp, args in pools:
            g = rng.standard_normal(loop(x).shape)
            y, grad = _forward_and_vjp(pool, [x], g)
            checks.append(_oracle_check(name, [y, grad], [loop(x), loop_vjp(x, g, *args)]))
    return checks


def _oracle_check(name: str, ours: list[np.ndarray], loops: list[np.ndarray]) -> Check:
    error = max(max_abs_difference(a, b) for a, b in zip(ours, loops, strict=True))
    return Check("engine", f"{name} forward and VJP", "loop oracle", error, ROUNDING)


def vjps(rng: np.random.Generator) -> list[Check]:
    """Every primitive's VJP against central finite differences, on random float64 tensors."""
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
    return [
        Check("engine", f"{name} VJP", "finite differences", gradcheck_error(f, inputs), FD)
        for name, f, inputs in cases
    ]


def against_pytorch(rng: np.random.Generator) -> list[Check]:
    """conv2d, the pools and cross_entropy, forward and VJP, against ``torch.nn.functional``.

    Each case is written once for both frameworks: ``op(functional, as_tensor, *inputs)``, where
    ``as_tensor`` turns a NumPy array without gradient (the labels) into the framework's own.
    """
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3)), rng.random(6)
    logits, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    conv = {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 2}
    pool = {"kernel_size": 3, "stride": 2, "padding": 1}
    cases: list[tuple[str, Callable[..., Any], list[np.ndarray]]] = [
        ("conv2d", lambda f, _, *t: f.conv2d(*t, **conv), [x, w, b]),
        ("max_pool2d", lambda f, _, t: f.max_pool2d(t, **pool), [x]),
        ("avg_pool2d", lambda f, _, t: f.avg_pool2d(t, **pool), [x]),
        ("cross_entropy", lambda f, as_tensor, t: f.cross_entropy(t, as_tensor(labels)), [logits]),
    ]

    def compute(torch: ModuleType) -> list[float]:
        errors = []
        for _, op, inputs in cases:
            ours = [Tensor(a, requires_grad=True) for a in inputs]
            y = op(F, np.asarray, *ours)
            g = np.asarray(rng.standard_normal(y.shape))
            y.backward(g)
            theirs = [torch.tensor(a, requires_grad=True) for a in inputs]
            y_torch = op(torch.nn.functional, torch.from_numpy, *theirs)
            y_torch.backward(torch.from_numpy(g))
            pairs = [(y.data, y_torch.detach().numpy())]
            pairs += [(a.grad, t.grad.numpy()) for a, t in zip(ours, theirs, strict=True)]
            errors.append(max(max_abs_difference(a, b) for a, b in pairs))
        return errors

    names = [f"{name} forward and VJP" for name, *_ in cases]
    return pytorch_checks("engine", names, ROUNDING, compute)


def engine_checks(rng: np.random.Generator) -> list[Check]:
    """Every check of the engine, in the order ``mathdnn verify`` prints them."""
    return [*fast_paths(rng), *formula_paths(rng), *vjps(rng), *against_pytorch(rng)]
