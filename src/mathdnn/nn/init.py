"""Initialisation: PyTorch's default for ``Linear`` and ``Conv2d`` weights and biases, the one place
it is written (``mathdnn.nn``'s layers, Problem 5's model and Problem 6's MLP draw from it), from a
generator that ``generator`` makes of the layer's ``rng`` argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def generator(fn: str, rng: Any) -> np.random.Generator:
    """``rng`` as a NumPy Generator: a Generator itself, or a seed (a non-negative int, or None
    for a fresh one) of ``np.random.default_rng``; ``fn`` names the caller in the error."""
    if isinstance(rng, bool | str | float):
        raise TypeError(f"{fn}: rng must be a numpy Generator, an int seed or None, got {rng!r}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{fn}: rng must be a numpy Generator, an int seed or None, got {rng!r:.80} ({err})"
        ) from None


def uniform_fan_in(
    rng: np.random.Generator, shape: int | tuple[int, ...], fan_in: int, dtype: Any = np.float32
) -> np.ndarray:
    """An array drawn from ``U(−1/√fan_in, 1/√fan_in)`` (``torch.nn.Linear``'s and ``Conv2d``'s
    default: kaiming-uniform with ``a = √5`` for the weight, the same bound for the bias).

    ``fan_in``: the inputs each output sums, ``in_features`` or ``(C_in/groups)·kh·kw``.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)
