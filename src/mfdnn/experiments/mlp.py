"""Problem 6 in use: an MNIST MLP classifier trained by hand-written backprop and by autodiff.

The network is the MLP of ``mfdnn.jacobians`` with ``n_L = 10`` logits and softmax cross-entropy
on top, ``loss = −(1/N) Σ_n log softmax(y_L^{(n)})[label_n]``. Two paths train it with the same
minibatch SGD, ``A_ℓ ← A_ℓ − lr · ∂loss/∂A_ℓ``, ``b_ℓ ← b_ℓ − lr · ∂loss/∂b_ℓ``:

- **backprop**: ``mlp_backprop`` started from the output cotangent
  ``g = ∂loss/∂y_L = (softmax(y_L) − onehot) / N`` (the scalar-output formulas of part (b) with
  ``g`` in place of ``1``); no autodiff anywhere.
- **autodiff**: the same network built from ``mfdnn.Tensor`` and ``functional.linear`` /
  activation / ``cross_entropy``, differentiated by ``loss.backward()``.

Both start from the same initialisation (``A_ℓ, b_ℓ ~ U(−1/√n_{ℓ−1}, 1/√n_{ℓ−1})``, as
``torch.nn.Linear``) and see the same batches (one seeded shuffle per epoch), so their parameters
must agree after every step up to floating-point rounding; :func:`compare_training` checks that.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import mfdnn.functional as F
from mfdnn.data import MNIST, flatten_scale, load_mnist
from mfdnn.engine import Tensor
from mfdnn.experiments import TrainingDiverged
from mfdnn.jacobians import ACTIVATIONS, forward, mlp_backprop, softmax_cross_entropy

__all__ = [
    "TENSOR_ACTIVATIONS",
    "MLPComparison",
    "autodiff_gradients",
    "compare_training",
    "init_mlp",
    "tensor_mlp",
]

#: The engine's primitive for each activation name of ``mfdnn.jacobians.ACTIVATIONS``.
TENSOR_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "relu": F.relu,
    "softplus": F.softplus,
    "leaky_relu": F.leaky_relu,
}


def _tensor_activation(fn: str, activation: str) -> Callable[[Tensor], Tensor]:
    if not isinstance(activation, str) or activation not in TENSOR_ACTIVATIONS:
        raise ValueError(
            f"{fn}: activation must be one of {', '.join(ACTIVATIONS)} (the autodiff path needs a "
            f"name), got {activation!r}"
        )
    return TENSOR_ACTIVATIONS[activation]


def tensor_mlp(As: Sequence[Tensor], bs: Sequence[Tensor], x: Tensor, activation: str) -> Tensor:
    """``y_L`` built from the engine's primitives: ``linear`` then the activation, L times."""
    sigma = _tensor_activation("tensor_mlp", activation)
    y = x
    for ell, (A, b) in enumerate(zip(As, bs, strict=True), start=1):
        y = F.linear(y, A, b)
        if ell < len(As):
            y = sigma(y)
    return y


def autodiff_gradients(
    As: Sequence[Any], bs: Sequence[Any], x: Any, activation: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``∂(Σ y_L)/∂A_ℓ``, ``∂(Σ y_L)/∂b_ℓ`` by the engine's reverse mode, in float64.

    For one input with ``n_L = 1`` these are ``mlp_gradients``' quantities.
    """
    A_t = [Tensor(np.asarray(A, dtype=np.float64), requires_grad=True) for A in As]
    b_t = [Tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in bs]
    tensor_mlp(A_t, b_t, Tensor(np.asarray(x, dtype=np.float64)), activation).sum().backward()
    return [A.grad for A in A_t], [b.grad for b in b_t]


def init_mlp(
    layers: Sequence[int], seed: int = 0, dtype: Any = np.float32
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``A_ℓ, b_ℓ ~ U(−1/√n_{ℓ−1}, 1/√n_{ℓ−1})`` for ``layers = (n_0, …, n_L)``."""
    rng = np.random.default_rng(seed)
    As, bs = [], []
    for n_prev, n in itertools.pairwise(layers):
        bound = 1 / np.sqrt(n_prev)
        As.append(rng.uniform(-bound, bound, (n, n_prev)).astype(dtype))
        bs.append(rng.uniform(-bound, bound, n).astype(dtype))
    return As, bs


@dataclass(frozen=True)
class MLPComparison:
    """Both training runs, step by step.

    ``losses_backprop[k]``, ``losses_autodiff[k]``: minibatch loss at step k (before the update);
    ``max_param_diff[k]``: ``max_ℓ max |θ_backprop − θ_autodiff|`` over all parameters after step k.
    """

    layers: tuple[int, ...]
    activation: str
    losses_backprop: np.ndarray
    losses_autodiff: np.ndarray
    max_param_diff: np.ndarray
    test_accuracy_backprop: float
    test_accuracy_autodiff: float


def _accuracy(
    As: list[np.ndarray], bs: list[np.ndarray], X: np.ndarray, labels: np.ndarray, activation: str
) -> float:
    return float(np.mean(forward(As, bs, X, activation)[-1].argmax(axis=1) == labels))


def compare_training(
    hidden: Sequence[int] = (64,),
    activation: str = "relu",
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 0.1,
    seed: int = 0,
    dtype: Any = np.float32,
    tolerance: float | None = None,
    data: MNIST | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> MLPComparison:
    """Train the 784-hidden-10 classifier by backprop and by autodiff, in lockstep.

    Raises ``AssertionError`` if the parameters of the two paths ever differ by more than
    ``tolerance`` (default 1e-5 for float32, 1e-10 for float64) times ``max(1, |parameter|)``:
    the two sum their products in different orders, whose rounding grows with the parameters.
    ``data`` defaults to ``load_mnist()`` (the bundled subset); ``progress`` wraps the step
    iterator (e.g. ``tqdm``).
    """
    fn = "compare_training"
    _tensor_activation(fn, activation)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{fn}: lr must be a positive number, got {lr!r}")
    if any(not isinstance(n, int) or n < 1 for n in hidden):
        raise ValueError(f"{fn}: hidden must be positive ints, got {tuple(hidden)!r}")
    dtype = np.dtype(dtype)
    if tolerance is None:
        tolerance = 1e-5 if dtype == np.float32 else 1e-10
    data = load_mnist() if data is None else data
    if len(data.train_labels) == 0 or len(data.test_labels) == 0:
        raise ValueError(
            f"{fn}: the data from {data.source} has {len(data.train_labels)} training and "
            f"{len(data.test_labels)} test images; both sets must be non-empty"
        )
    X_train = flatten_scale(data.train_images).astype(dtype)
    X_test = flatten_scale(data.test_images).astype(dtype)
    layers = (X_train.shape[1], *hidden, 10)

    As_bp, bs_bp = init_mlp(layers, seed, dtype)
    As_ad, bs_ad = [A.copy() for A in As_bp], [b.copy() for b in bs_bp]
    rng = np.random.default_rng(seed + 1)
    n = len(X_train)
    batches = [
        order[i : i + batch_size]
        for order in (rng.permutation(n) for _ in range(epochs))
        for i in range(0, n, batch_size)
    ]
    losses_bp, losses_ad, diffs = [], [], []
    for step, idx in enumerate(progress(batches) if progress else batches):
        X, labels = X_train[idx], data.train_labels[idx]
        # A step that diverges overflows somewhere; it is reported by the check below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = forward(As_bp, bs_bp, X, activation)[-1]
            loss, grad_output = softmax_cross_entropy(logits, labels)
            grads_A, grads_b = mlp_backprop(As_bp, bs_bp, X, activation, grad_output)
            for p, g in zip(As_bp + bs_bp, grads_A + grads_b, strict=True):
                p -= dtype.type(lr) * g
            losses_bp.append(loss)

            A_t = [Tensor(A, requires_grad=True) for A in As_ad]
            b_t = [Tensor(b, requires_grad=True) for b in bs_ad]
            loss_t = F.cross_entropy(tensor_mlp(A_t, b_t, Tensor(X), activation), labels)
            loss_t.backward()
            for p, t in zip(As_ad + bs_ad, A_t + b_t, strict=True):
                p -= dtype.type(lr) * t.grad
            losses_ad.append(loss_t.item())

        params = As_bp + bs_bp + As_ad + bs_ad
        if not (
            np.isfinite([loss, loss_t.item()]).all() and all(np.isfinite(p).all() for p in params)
        ):
            raise TrainingDiverged(
                f"{fn}: at step {step} the loss ({loss:g}) or the updated parameters are not "
                f"finite: lr={lr:g} is too large"
            )
        pairs = zip(As_bp + bs_bp, As_ad + bs_ad, strict=True)
        diff = max(float(np.max(np.abs(p - q) / np.maximum(1, np.abs(q)))) for p, q in pairs)
        diffs.append(diff)
        if not diff <= tolerance:
            raise AssertionError(
                f"{fn}: backprop and autodiff parameters differ by {diff:.3e} > {tolerance:.1e} "
                f"after step {step}"
            )
    return MLPComparison(
        layers=layers,
        activation=activation,
        losses_backprop=np.array(losses_bp),
        losses_autodiff=np.array(losses_ad),
        max_param_diff=np.array(diffs),
        test_accuracy_backprop=_accuracy(As_bp, bs_bp, X_test, data.test_labels, activation),
        test_accuracy_autodiff=_accuracy(As_ad, bs_ad, X_test, data.test_labels, activation),
    )
