"""The checks of Homework 4, one list per problem: each result computed by its construction and by
an independent reference (the formula written directly, the loop oracle, Pillow on the 8-bit
default photograph, finite differences, the engine's autodiff, the hand count, PyTorch).
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np
from PIL import Image

import mathdnn.functional as F
from mathdnn import nn
from mathdnn.engine import Tensor, no_grad
from mathdnn.engine.gradcheck import gradcheck_error
from mathdnn.functional import reference
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4 import p1_finite_differences as p1
from mathdnn.hw4 import p2_average_pooling as p2
from mathdnn.hw4 import p3_grayscale as p3
from mathdnn.hw4 import p4_maxpool_commutes as p4
from mathdnn.hw4 import p5_losses as p5
from mathdnn.hw4 import p6_jacobians as p6
from mathdnn.hw4 import p7_lenet_c3 as p7
from mathdnn.images import default_photo_path, image_to_array, to_batch
from mathdnn.models import LeNet5
from mathdnn.nn.partial import MaskedConv2d, SubsetConv2d, connected_rows
from mathdnn.verify.check import EXACT, FD, ROUNDING, Check, max_abs_difference, pytorch_checks


@functools.cache
def _photo() -> tuple[Image.Image, np.ndarray]:
    """The default photograph as an 8-bit RGB image and as a batch ``(1, 3, H, W)`` in [0, 1]."""
    with Image.open(default_photo_path()) as photo:
        rgb = photo.convert("RGB")
    return rgb, to_batch(image_to_array(rgb))


def problem1(rng: np.random.Generator) -> list[Check]:
    """Finite differences: the convolution against Problem 1's formula and the loop oracle."""
    _, rgb = _photo()
    grey = p3.luma_formula(rgb)
    with no_grad():
        photo_error = max_abs_difference(
            p1.finite_differences(grey).data, p1.difference_formula(grey[:, 0])
        )
        errors, loop_errors = [], []
        for _ in range(3):
            x = rng.standard_normal((2, 1, *rng.integers(1, 12, 2)))
            y = p1.finite_differences(x).data
            errors.append(max_abs_difference(y, p1.difference_formula(x[:, 0])))
            w = p1.finite_difference_filter()
            loop = reference.conv2d(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
            loop_errors.append(max_abs_difference(y, loop))
    return [
        Check("1", "conv2d(X, w, padding=1) = differences, photo", "formula", photo_error, EXACT),
        Check("1", "conv2d(X, w, padding=1) = differences, random", "formula", max(errors), EXACT),
        Check("1", "conv2d(X, w, padding=1), random", "loop oracle", max(loop_errors), EXACT),
    ]


def problem2(rng: np.random.Generator) -> list[Check]:
    """The average pool as a strided convolution: against avg_pool2d, the dense filter, the loop
    oracle and Pillow's ``reduce``."""
    photo, rgb = _photo()
    k = 4
    x = rng.standard_normal((2, 3, 9, 7))
    with no_grad():
        depthwise = p2.average_pool(rgb, k).data
        dense = p2.average_pool(rgb, k, dense=True).data
        pooled = F.avg_pool2d(Tensor(rgb), k).data
        random = p2.average_pool(x, 3).data
    reduced = np.asarray(photo.reduce(k), dtype=np.float64).transpose(2, 0, 1)[None]
    loop = reference.avg_pool2d(x, (3, 3), (3, 3), (0, 0))
    name = f"depthwise conv (stride {k}, groups 3)"
    return [
        Check("2", f"{name}, photo", "avg_pool2d", max_abs_difference(depthwise, pooled), EXACT),
        Check(
            "2",
            "dense (C, C, k, k) conv, photo",
            "depthwise conv",
            max_abs_difference(dense, depthwise),
            EXACT,
        ),
        Check("2", "conv, random, k = 3", "loop oracle", max_abs_difference(random, loop), EXACT),
        Check(
            "2",
            f"conv × 255, 8-bit photo (grey levels), k = {k}",
            f"Pillow reduce({k})",
            max_abs_difference(255 * depthwise, reduced),
            0.5 + 1e-6,
            detail="Pillow rounds each block mean to the nearest grey level",
        ),
    ]


def problem3(rng: np.random.Generator) -> list[Check]:
    """RGB to grey as a 1×1 convolution: against the luma formula and Pillow's ``convert("L")``."""
    photo, rgb = _photo()
    x = rng.random((2, 3, 5, 6))
    with no_grad():
        conv_grey = p3.grayscale(rgb).data
        random = p3.grayscale(x).data
    pillow_grey = np.asarray(photo.convert("L"), dtype=np.float64)
    luma = "formula 0.299 R + 0.587 G + 0.114 B"
    return [
        Check(
            "3", "1×1 conv, photo", luma, max_abs_difference(conv_grey, p3.luma_formula(rgb)), EXACT
        ),
        Check("3", "1×1 conv, random", luma, max_abs_difference(random, p3.luma_formula(x)), EXACT),
        Check(
            "3",
            "1×1 conv × 255, 8-bit photo (grey levels)",
            'Pillow convert("L")',
            max_abs_difference(255 * conv_grey[0, 0], pillow_grey),
            1.0,
        ),
    ]


def problem4(rng: np.random.Generator) -> list[Check]:
    """``σ(ρ(X)) = ρ(σ(X))`` for every monotone activation of the registry, on hard inputs and
    three max pools; the counterexamples of three functions that are not monotone; and the
    rewrite ``pool_before_activation`` against the model it rewrites."""
    checks = []
    x = p4.stress_inputs(rng)
    both_sides = "ρ(σ(X)), stress inputs"
    for name, activation in ACTIVATIONS.items():
        results = [p4.check_commutes(activation.op, x, *pool) for pool in p4.POOL_CONFIGS]
        error = max(r.max_error for r in results)
        checks.append(
            Check(
                "4",
                f"σ(ρ(X)), σ = {name}{'' if activation.monotone else ' (not monotone)'}",
                both_sides,
                error,
                0.0,
                expected_failure=not activation.monotone,
            )
        )
    for name, sigma in p4.NON_MONOTONE_EXAMPLES.items():
        result = p4.check_commutes(sigma, x, 2)
        detail = f"counterexample: {result.counterexample}" if result.counterexample else ""
        checks.append(
            Check(
                "4",
                f"σ(ρ(X)), σ = {name} (not monotone)",
                both_sides,
                result.max_error,
                0.0,
                expected_failure=True,
                detail=detail,
            )
        )
    return checks + _rewrite_checks(rng)


def _rewrite_checks(rng: np.random.Generator) -> list[Check]:
    """``pool_before_activation`` on a small CNN: same outputs, same parameter gradients."""
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=rng, dtype=np.float64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, rng=rng, dtype=np.float64),
        nn.Tanh(),
        nn.MaxPool2d(3, 2, 1),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 3, rng=rng, dtype=np.float64),
    )
    rewritten = p4.pool_before_activation(model)
    x = rng.standard_normal((4, 1, 16, 16))
    outputs, grads = [], []
    for m in (model, rewritten):
        m.zero_grad()
        y = m(Tensor(x))
        (y * y).sum().backward()
        outputs.append(y.data)
        grads.append([p.grad for p in m.parameters()])
    grad_error = max(max_abs_difference(a, b) for a, b in zip(*grads, strict=True))
    original = "the CNN it rewrites"
    return [
        Check("4", "pool_before_activation: outputs", original, max_abs_difference(*outputs), 0.0),
        Check("4", "pool_before_activation: parameter gradients", original, grad_error, ROUNDING),
    ]


def problem5(rng: np.random.Generator) -> list[Check]:
    """The two losses: against the formulas of ``hw4.md`` (the long form of ℓ), their limits at
    ``|z| = 1e6``, finite differences, and PyTorch."""
    z = 4 * rng.standard_normal(64)
    y = rng.choice([-1.0, 1.0], 64)
    with no_grad():
        kl = p5.logistic_loss(z, y).item()
        sos = p5.sum_of_squares_loss(z, y).item()
    kl_formula = float(np.mean(np.log1p(np.exp(-y * z))))
    sos_formula = float(np.mean(p5.sum_of_squares_long_form(z, y)))
    # At |z| = 1e6: a right score costs 0, a wrong one |z| (KL) or 2 (sum of squares).
    z_far, y_far = np.array([1e6, -1e6, 1e6, -1e6]), np.array([1.0, -1.0, -1.0, 1.0])
    with no_grad():
        limits = [
            abs(p5.logistic_loss(z_far, y_far).item() - 2e6 / 4),
            abs(p5.sum_of_squares_loss(z_far, y_far).item() - 4 / 4),
        ]
    checks = [
        Check("5", "logistic_loss", "formula mean log(1 + exp(−yz))", abs(kl - kl_formula), EXACT),
        Check(
            "5",
            "sum_of_squares_loss = mean 2σ(−yz)²",
            "long form of ℓ",
            abs(sos - sos_formula),
            EXACT,
        ),
        Check("5", "both losses at |z| = 1e6", "limits 0, |z| and 0, 2", max(limits), EXACT),
    ]
    for loss in (p5.logistic_loss, p5.sum_of_squares_loss):
        error = gradcheck_error(lambda t, loss=loss: loss(t, y), [z])
        checks.append(Check("5", f"{loss.__name__} VJP", "finite differences", error, FD))

    def compute(torch: ModuleType) -> list[float]:
        zt, yt = torch.tensor(z, requires_grad=True), torch.from_numpy(y)
        errors = []
        for loss, theirs in (
            (p5.logistic_loss, lambda: torch.nn.functional.softplus(-yt * zt).mean()),
            (p5.sum_of_squares_loss, lambda: (2 * torch.sigmoid(-yt * zt) ** 2).mean()),
        ):
            ours = Tensor(z, requires_grad=True)
            value = loss(ours, y)
            value.backward()
            zt.grad = None
            reference_value = theirs()
            reference_value.backward()
            errors.append(
                max(
                    abs(value.item() - reference_value.item()),
                    max_abs_difference(ours.grad, zt.grad.numpy()),
                )
            )
        return errors

    names = ["logistic_loss and VJP", "sum_of_squares_loss and VJP"]
    return checks + pytorch_checks("5", names, ROUNDING, compute)


def problem6(rng: np.random.Generator) -> list[Check]:
    """Backprop, the explicit Jacobian products, the engine's autodiff and finite differences on a
    small MLP, for every activation of the registry; the classifier's gradients; PyTorch."""
    As, bs = p6.init_mlp((6, 5, 4, 1), seed=int(rng.integers(2**31)), dtype=np.float64)
    x = rng.standard_normal(6)
    references = {
        "explicit Jacobian products": (
            lambda name: p6.mlp_gradients(As, bs, x, name, method="jacobian"),
            ROUNDING,
        ),
        "engine autodiff": (lambda name: p6.autodiff_gradients(As, bs, x, name), ROUNDING),
        "finite differences": (lambda name: p6.finite_difference_gradients(As, bs, x, name), FD),
    }
    checks = []
    for against, (gradients, tolerance) in references.items():
        error = max(
            _gradients_differ(p6.mlp_gradients(As, bs, x, name), gradients(name))
            for name in ACTIVATIONS
        )
        name = f"backprop ∂y_L/∂A_ℓ, ∂y_L/∂b_ℓ, all {len(ACTIVATIONS)} activations"
        checks.append(Check("6", name, against, error, tolerance))
    # The classifier: n_L = 3 logits, softmax cross-entropy, a batch of 5.
    As_c, bs_c = p6.init_mlp((6, 4, 3), seed=int(rng.integers(2**31)), dtype=np.float64)
    X, labels = rng.standard_normal((5, 6)), rng.integers(0, 3, 5)
    logits = p6.forward(As_c, bs_c, X, "tanh")[-1]
    _, grad_output = p6.softmax_cross_entropy(logits, labels)
    ours = p6.mlp_backprop(As_c, bs_c, X, "tanh", grad_output)
    A_t = [Tensor(A, requires_grad=True) for A in As_c]
    b_t = [Tensor(b, requires_grad=True) for b in bs_c]
    F.cross_entropy(p6.tensor_mlp(A_t, b_t, Tensor(X), "tanh"), labels).backward()
    error = _gradients_differ(ours, ([A.grad for A in A_t], [b.grad for b in b_t]))
    checks.append(
        Check(
            "6",
            "mlp_backprop from (softmax − onehot)/N",
            "autodiff of cross_entropy",
            error,
            ROUNDING,
        )
    )

    def compute(torch: ModuleType) -> list[float]:
        A_t = [torch.tensor(A, requires_grad=True) for A in As]
        b_t = [torch.tensor(b, requires_grad=True) for b in bs]
        y = torch.tensor(x)
        for ell, (A, b) in enumerate(zip(A_t, b_t, strict=True), start=1):
            y = A @ y + b if ell == len(A_t) else torch.tanh(A @ y + b)
        theirs = [g.numpy() for g in torch.autograd.grad(y.sum(), A_t + b_t)]
        L = len(A_t)
        return [_gradients_differ(p6.mlp_gradients(As, bs, x, "tanh"), (theirs[:L], theirs[L:]))]

    return checks + pytorch_checks("6", ["backprop, tanh (torch.autograd)"], ROUNDING, compute)


def _gradients_differ(ours: tuple[list, list], theirs: tuple[list, list]) -> float:
    """``max |a − b|`` over two ``(grads_A, grads_b)``."""
    return max(
        max_abs_difference(a, b)
        for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1], strict=True)
    )


def problem7(rng: np.random.Generator) -> list[Check]:
    """C3: the parameter counts of the hand calculation against the models', and the hint form
    against the masked form (and PyTorch's convolution) forward and backward."""
    full = np.ones_like(p7.CONNECTIONS)
    checks = []
    for c3, c3_form, table in (
        ("full", None, full),
        ("original", "masked", p7.CONNECTIONS),
        ("original", "hint", p7.CONNECTIONS),
    ):
        model = LeNet5(c3=c3, c3_form=c3_form, rng=0)
        reported = sum(p.numel() for p in model.parameters())
        hand = p7.lenet5_parameter_count(table)
        form = c3 if c3_form is None else f"{c3}, {c3_form}"
        checks.append(
            Check(
                "7", f"LeNet5 ({form}) parameters = {hand:,}", "hand count", abs(reported - hand), 0
            )
        )
    hint = SubsetConv2d(p7.CONNECTIONS, rng=rng, dtype=np.float64)
    masked = MaskedConv2d.from_subsets(hint)
    x = rng.standard_normal((3, 6, 14, 14))
    g = rng.standard_normal((3, 16, 10, 10))
    outputs, input_grads = [], []
    for form in (hint, masked):
        xt = Tensor(x, requires_grad=True)
        y = form(xt)
        y.backward(g)
        outputs.append(y.data)
        input_grads.append(xt.grad)
    weight_grads = [connected_rows([c.weight.grad for c in hint.convs]), masked.weight.grad]
    bias_grads = [np.concatenate([c.bias.grad for c in hint.convs]), masked.bias.grad]
    pairs = (outputs, input_grads, weight_grads, bias_grads)
    error = max(max_abs_difference(*pair) for pair in pairs)
    checks.append(
        Check("7", "masked C3 forward and VJP", "hint form (16 convolutions)", error, ROUNDING)
    )

    def compute(torch: ModuleType) -> list[float]:
        xt = torch.tensor(x)
        theirs = torch.cat(
            [
                torch.nn.functional.conv2d(
                    xt[:, list(s)], torch.from_numpy(c.weight.data), torch.from_numpy(c.bias.data)
                )
                for c, s in zip(hint.convs, hint.subsets, strict=True)
            ],
            1,
        )
        return [max_abs_difference(outputs[1], theirs.numpy())]

    return checks + pytorch_checks(
        "7", ["masked C3 forward (torch conv2d per subset)"], ROUNDING, compute
    )


#: The checks of each problem, in the order ``mathdnn verify`` prints them.
PROBLEMS = {
    "1": problem1,
    "2": problem2,
    "3": problem3,
    "4": problem4,
    "5": problem5,
    "6": problem6,
    "7": problem7,
}
