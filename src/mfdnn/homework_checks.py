"""The ``mfdnn verify`` rows of Problems 1–4: each identity as a convolution, against the direct
formula and an independent reference (the loop kernels of ``mfdnn.functional.reference``, and
Pillow on the 8-bit default photograph).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

import mfdnn.functional as F
from mfdnn import filters, nn
from mfdnn.engine import Tensor, no_grad
from mfdnn.functional import reference
from mfdnn.images import default_photo_path, image_to_array, to_batch

if TYPE_CHECKING:
    from mfdnn.verification import Check

EXACT = 1e-12  # float64 rounding of a few additions
POOL_CONFIGS = (  # (kernel_size, stride, padding, dilation) of the Problem 4 max pools
    (2, None, 0, 1),
    (3, 2, 1, 1),
    ((2, 3), 1, 0, 2),
)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))


def _diff_formula(x: np.ndarray) -> np.ndarray:
    """``Y0 = X[i+1, j] − X[i, j]``, ``Y1 = X[i, j+1] − X[i, j]``, a zero row/column appended."""
    return np.stack([np.diff(x, axis=-2, append=0.0), np.diff(x, axis=-1, append=0.0)], axis=-3)


def homework_checks(rng: np.random.Generator) -> list[Check]:
    """Problems 1–4 on the default photograph and on random tensors."""
    from mfdnn.verification import Check  # imported here: verification imports this module

    checks: list[Check] = []
    with Image.open(default_photo_path()) as photo:
        photo_rgb = photo.convert("RGB")
    rgb = to_batch(image_to_array(photo_rgb))  # (1, 3, H, W) in [0, 1]
    with no_grad():
        # Problem 1
        grey = np.einsum("nchw,c->nhw", rgb, filters.GRAYSCALE_WEIGHTS)[:, None]
        error = _max_abs(filters.finite_differences(grey).data, _diff_formula(grey[:, 0]))
        checks.append(Check("1", "conv2d(X, w, padding=1) = np.diff formula, photo", error, EXACT))
        errors, loop_errors = [], []
        for _ in range(3):
            x = rng.standard_normal((2, 1, *rng.integers(1, 12, 2)))
            y = filters.finite_differences(x).data
            errors.append(_max_abs(y, _diff_formula(x[:, 0])))
            w = filters.finite_difference_filter()
            loop = reference.conv2d(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
            loop_errors.append(_max_abs(y, loop))
        checks.append(Check("1", "conv2d = np.diff formula, random sizes", max(errors), EXACT))
        checks.append(Check("1", "conv2d = loop reference conv, random", max(loop_errors), EXACT))

        # Problem 2
        k = 4
        depthwise = filters.average_pool(rgb, k).data
        checks.append(
            Check(
                "2",
                f"depthwise conv (stride {k}, groups 3) = avg_pool2d, photo",
                _max_abs(depthwise, F.avg_pool2d(Tensor(rgb), k).data),
                EXACT,
            )
        )
        dense = filters.average_pool(rgb, k, dense=True).data
        checks.append(
            Check(
                "2", "dense (C, C, k, k) conv = depthwise, photo", _max_abs(dense, depthwise), EXACT
            )
        )
        x = rng.standard_normal((2, 3, 9, 7))
        checks.append(
            Check(
                "2",
                "conv = loop reference avg_pool2d, random k=3",
                _max_abs(
                    filters.average_pool(x, 3).data, reference.avg_pool2d(x, (3, 3), (3, 3), (0, 0))
                ),
                EXACT,
            )
        )
        reduced = np.asarray(photo_rgb.reduce(k), dtype=np.float64).transpose(2, 0, 1)[None]
        checks.append(
            Check(
                "2",
                f"conv × 255 vs Pillow reduce({k}), 8-bit photo (grey levels)",
                _max_abs(255 * depthwise, reduced),
                0.5 + 1e-6,
                detail="Pillow rounds each block mean to the nearest grey level",
            )
        )

        # Problem 3
        conv_grey = filters.grayscale(rgb).data
        checks.append(
            Check(
                "3",
                "1×1 conv = 0.299 R + 0.587 G + 0.114 B, photo",
                _max_abs(conv_grey, grey),
                EXACT,
            )
        )
        x = rng.random((2, 3, 5, 6))
        formula = np.einsum("nchw,c->nhw", x, filters.GRAYSCALE_WEIGHTS)[:, None]
        checks.append(
            Check(
                "3",
                "1×1 conv = formula, random",
                _max_abs(filters.grayscale(x).data, formula),
                EXACT,
            )
        )
        pillow_grey = np.asarray(photo_rgb.convert("L"), dtype=np.float64)
        checks.append(
            Check(
                "3",
                'conv × 255 vs Pillow convert("L"), 8-bit photo (grey levels)',
                _max_abs(255 * conv_grey[0, 0], pillow_grey),
                1.0,
            )
        )

    # Problem 4
    x = filters.stress_inputs(rng)
    for name, sigma in filters.MONOTONE_ACTIVATIONS.items():
        results = [filters.check_commutes(sigma, x, *config) for config in POOL_CONFIGS]
        error = max(r.max_error for r in results)
        checks.append(Check("4", f"σ(ρ(X)) = ρ(σ(X)), σ = {name}", error, 0.0))
    for name, sigma in filters.NON_MONOTONE_EXAMPLES.items():
        result = filters.check_commutes(sigma, x, 2)
        detail = f"counterexample: {result.counterexample}" if result.counterexample else ""
        checks.append(
            Check(
                "4",
                f"σ(ρ(X)) = ρ(σ(X)), σ = {name} (not monotone)",
                result.max_error,
                0.0,
                True,
                detail,
            )
        )
    checks.extend(_rewrite_checks(rng))
    return checks


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
    rewritten = filters.pool_before_activation(model)
    x = rng.standard_normal((4, 1, 16, 16))
    outputs, grads = [], []
    for m in (model, rewritten):
        m.zero_grad()
        y = m(Tensor(x))
        (y * y).sum().backward()
        outputs.append(y.data)
        grads.append([p.grad for p in m.parameters()])
    grad_error = max(_max_abs(a, b) for a, b in zip(*grads, strict=True))
    from mfdnn.verification import Check

    return [
        Check("4", "pool_before_activation: outputs equal (CNN)", _max_abs(*outputs), 0.0),
        Check("4", "pool_before_activation: parameter gradients agree", grad_error, 1e-10),
    ]
