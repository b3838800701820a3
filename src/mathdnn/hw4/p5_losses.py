"""Problem 5: the sum of squares instead of KL for logistic regression (MNIST 4 vs 9).

The model ``f_{a,b}(x) = (σ(−z), σ(z))``, with the score ``z = aᵀx + b`` (``a ∈ R^784``,
``b ∈ R``), is compared with the one-hot ``P(y)``, ``P(−1) = (1, 0)``, ``P(+1) = (0, 1)``, in two
ways: by KL, ``D_KL(P(y) ‖ f(x)) = log(1 + exp(−y z))`` (logistic regression), or by the sum of
squares, ``‖P(y) − f(x)‖² = ℓ(z, y) = 2 σ(−y z)²``. Trained with minibatch SGD on each objective
to tell MNIST's 4s (``y = −1``) from its 9s (``y = +1``), which gives the better test accuracy?

Answer: It is measured, not derived. The sum of squares is bounded by 2, so a confidently wrong
example costs it at most 2 while the logistic loss grows without bound; the course's official
solution says only that the sum of squares "seems to lead to better results". Within a seed both
objectives start from the same ``a, b`` and see the same batches, so the answer rests on the
per-seed differences of the final test accuracies: their mean, its 95 % confidence interval
(Student's t) and the sign count. One objective is better only when the interval excludes 0;
with one seed, or when the interval contains 0, the runs cannot tell them apart.

``compare`` trains both objectives over seeds and ``summarize`` draws the verdict; ``mathdnn
losses`` prints the table and the interval, ``mathdnn hw4`` shows them, and ``mathdnn losses
--mnist-dir DIR`` runs the same comparison on full MNIST.

Both objectives are primitives: one forward and its VJP side by side, averaged over the batch,
written with the stable ``σ`` and softplus of ``mathdnn.functional.numerics``, so they stay finite,
with finite gradients, for ``|z|`` up to 1e6 in float32 and float64. Each SGD step is two
primitives, the score ``z = F.linear(X, a, b)`` (a 1-D weight, as PyTorch allows) and the loss,

    a ← a − lr · ∂L_B/∂a,   b ← b − lr · ∂L_B/∂b,   L_B = (1/|B|) Σ_{i∈B} loss(z_i, y_i),

so the framework adds little to each step (``benchmarks/bench_losses_epoch.py`` measures it).
Initialisation (seeded): ``a_j, b ~ U(−1/√d, 1/√d)``, as ``torch.nn.Linear``. The seed also draws
each epoch's shuffling, which is what pairs the two runs of a seed.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure
from scipy import stats

import mathdnn.functional as F
from mathdnn.check import EXACT, FD, ROUNDING, Check, max_abs_difference, pytorch_checks
from mathdnn.command import Command, CommandError, add_mnist_dir, mnist_data
from mathdnn.command import positive_int as positive_flag
from mathdnn.data import DataLoader, binary_digits
from mathdnn.engine import Tensor, as_tensor, no_grad
from mathdnn.engine.gradcheck import central_differences, gradcheck_error
from mathdnn.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    example_array,
    float_array,
    fmt,
    mismatch,
    number,
    replaced,
    show,
    simpler_values,
    smaller_ints,
)
from mathdnn.functional import numerics
from mathdnn.functional._checks import float_tensor, positive_int
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Option, Progress
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Table, Text
from mathdnn.io import atomic_write, check_writable, write_json
from mathdnn.nn import Module
from mathdnn.nn.init import uniform_fan_in
from mathdnn.optim import SGD
from mathdnn.training import BATCH_SIZE, EPOCHS, LR, SEED, Run, TrainingDiverged, fit

__all__ = [
    "CONFIDENCE",
    "LOSSES",
    "LOSS_TITLES",
    "Comparison",
    "Model",
    "Summary",
    "checks",
    "compare",
    "held_out_metrics",
    "logistic_loss",
    "minibatch_means",
    "predict",
    "sum_of_squares_grad",
    "sum_of_squares_long_form",
    "sum_of_squares_loss",
    "summarize",
    "train",
]


# ------------------------------------------------------------------------------ the two losses
def _margin(fn: str, z: Any, y: Any) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Check the arguments; return ``z`` as a tensor, ``y`` in its dtype and ``u = −y z``."""
    z = float_tensor(fn, "z", z)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if y.shape != z.shape:
        raise ValueError(f"{fn}: y must have the shape of z {z.shape}, got {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: y must hold the numbers -1 or +1, got dtype {y.dtype}")
    bad = np.abs(y) != 1
    if bad.any():
        raise ValueError(f"{fn}: y must hold labels -1 or +1, got {np.unique(y[bad])[:5].tolist()}")
    y = y.astype(z.dtype, copy=False)
    return z, y, -y * z.data


def logistic_loss(z: Any, y: Any) -> Tensor:
    """``L = (1/N) Σ_i log(1 + exp(−y_i z_i))``, the KL objective ``(1/N) Σ D_KL(P(y_i) ‖ f(x_i))``.

    With ``u = −y z``: ``log(1 + e^u) = softplus(u)``.
    VJP: ``∂L/∂z_i = g · (−y_i σ(−y_i z_i)) / N``.
    """
    z, y, u = _margin("logistic_loss", z, y)
    n = max(u.size, 1)
    value = np.asarray(numerics.softplus(u).sum() / n, dtype=z.dtype)
    s = numerics.sigmoid(u)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return ((g / n) * -y * s,)

    return Tensor._make(value, (z,), vjp, "logistic_loss")


def sum_of_squares_loss(z: Any, y: Any) -> Tensor:
    """``L = (1/N) Σ_i ℓ(z_i, y_i)``, ``ℓ(z, y) = ‖P(y) − f(x)‖² = 2 σ(−y z)²`` (Problem 5).

    ``ℓ`` is bounded by 2: a confidently wrong score costs at most 2. With ``s = σ(−y z)`` and
    ``σ' = σ(1 − σ)``: VJP ``∂L/∂z_i = g · (−4 y_i s_i² (1 − s_i)) / N``, ``1 − s_i = σ(y_i z_i)``.
    """
    z, y, u = _margin("sum_of_squares_loss", z, y)
    n = max(u.size, 1)
    s, one_minus_s = numerics.sigmoid(u), numerics.sigmoid(-u)  # 1 − s without cancellation
    s2 = s * s
    value = np.asarray(2 * s2.sum() / n, dtype=z.dtype)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return ((g / n) * -4 * y * s2 * one_minus_s,)

    return Tensor._make(value, (z,), vjp, "sum_of_squares_loss")


def sum_of_squares_grad(z: Any, y: Any) -> np.ndarray:
    """``∂L/∂z_i = −4 y_i σ(−y_i z_i)² σ(y_i z_i) / N`` for ``L = sum_of_squares_loss(z, y)``: the
    primitive's VJP with ``g = 1``, as an array of the shape of ``z``."""
    z = Tensor(float_tensor("sum_of_squares_grad", "z", z).data, requires_grad=True)
    sum_of_squares_loss(z, y).backward()
    return z.grad


def sum_of_squares_long_form(z: Any, y: Any) -> np.ndarray:
    """``ℓ(z, y) = ½(1−y)[(1−σ(−z))² + σ(z)²] + ½(1+y)[σ(−z)² + (1−σ(z))²]`` per item (NumPy).

    The formula of ``hw4.md`` before simplifying with ``σ(−z) = 1 − σ(z)``; it equals
    ``2 σ(−y z)²`` for ``y = ±1``: the reference the simplified loss is checked against (the tests,
    ``mathdnn verify``); no gradient.
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s_pos, s_neg = numerics.sigmoid(z), numerics.sigmoid(-z)
    wrong_if_neg = (1 - s_neg) ** 2 + s_pos**2
    wrong_if_pos = s_neg**2 + (1 - s_pos) ** 2
    return 0.5 * (1 - y) * wrong_if_neg + 0.5 * (1 + y) * wrong_if_pos


def predict(z: Any) -> np.ndarray:
    """The label ``f`` favours: ``+1`` where ``σ(z) ≥ σ(−z)``, i.e. ``z ≥ 0``, else ``−1``."""
    z = as_tensor(z).data
    return np.where(z >= 0, 1.0, -1.0).astype(np.float32)


# ------------------------------------------------------------------ the model and its training
#: The two objectives of Problem 5, by the names used in results and on the command line.
LOSSES: dict[str, Callable[[Any, Any], Tensor]] = {
    "kl": logistic_loss,
    "sos": sum_of_squares_loss,
}
LOSS_TITLES = {"kl": "KL (logistic)", "sos": "sum of squares"}


class Model(Module):
    """``f_{a,b}(x) = (σ(−z), σ(z))``: calling it gives the scores ``z = X a + b``, one per row
    of ``X``; ``a`` of shape (d,), ``b`` of shape ()."""

    def __init__(self, a: Tensor, b: Tensor) -> None:
        super().__init__()
        self.a, self.b = a, b

    @classmethod
    def init(cls, dim: int, rng: np.random.Generator) -> Model:
        """``a_j, b ~ U(−1/√d, 1/√d)`` in float32 (``torch.nn.Linear``'s default)."""
        a = uniform_fan_in(rng, dim, dim, np.float32)
        b = uniform_fan_in(rng, (), dim, np.float32)
        return cls(Tensor(a, requires_grad=True), Tensor(b, requires_grad=True))

    def forward(self, X: Tensor) -> Tensor:
        return F.linear(X, self.a, self.b)


def _check_data(fn: str, name: str, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.dtype.kind != "f" or len(X) == 0:
        raise ValueError(
            f"{fn}: {name} must be a non-empty float array (n, d), got {X.dtype} {X.shape}"
        )
    if y.shape != (len(X),):
        raise ValueError(f"{fn}: labels for {name} must have shape ({len(X)},), got {y.shape}")
    if not np.all(np.abs(y) == 1):
        raise ValueError(f"{fn}: labels for {name} must be -1 or +1")
    return X, y.astype(X.dtype)


def held_out_metrics(
    X_test: np.ndarray, y_test: np.ndarray
) -> Callable[[Module], dict[str, float]]:
    """The evaluation after each epoch: the test accuracy and both test objectives."""
    X_t = Tensor(X_test)

    def evaluation(model: Module) -> dict[str, float]:
        with no_grad():
            z = model(X_t)
            return {
                "test_accuracy": float(np.mean(predict(z) == y_test)),
                "test_kl_loss": float(logistic_loss(z, y_test).data),
                "test_sos_loss": float(sum_of_squares_loss(z, y_test).data),
            }

    return evaluation


def train(
    X: np.ndarray,
    y: np.ndarray,
    loss: str = "kl",
    lr: float = 0.01,
    batch_size: int = 64,
    epochs: int = 20,
    seed: int = 0,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    progress: Callable[[], object] | None = None,
) -> Run:
    """Train ``f_{a,b}`` on ``(X, y)`` (``y ∈ {−1, +1}``) with minibatch SGD on ``LOSSES[loss]``
    (``mathdnn.training.fit``); returns the run, its model and its history.

    The seed draws ``a, b``, then each epoch's order. If a test set is given, each epoch ends
    with the test accuracy and both test objectives (``held_out_metrics``); ``progress()`` is called
    once per epoch.
    """
    fn = "train"
    if loss not in LOSSES:
        raise ValueError(f"{fn}: loss must be one of {sorted(LOSSES)}, got {loss!r}")
    lr = LR.validate(lr, f"{fn}: lr")
    batch_size = BATCH_SIZE.validate(batch_size, f"{fn}: batch_size")
    epochs = EPOCHS.validate(epochs, f"{fn}: epochs")
    seed = SEED.validate(seed, f"{fn}: seed")
    X, y = _check_data(fn, "X", X, y)
    if (X_test is None) != (y_test is None):
        raise ValueError(f"{fn}: give both X_test and y_test, or neither")
    evaluation = None
    if X_test is not None:
        X_test, y_test = _check_data(fn, "X_test", X_test, y_test)
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(f"{fn}: X_test has {X_test.shape[1]} features, X has {X.shape[1]}")
        evaluation = held_out_metrics(X_test, y_test)
    rng = np.random.default_rng(seed)
    model = Model.init(X.shape[1], rng)
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=True, generator=rng)
    run = Run(model, LOSSES[loss], SGD(model.parameters(), lr=lr), loader, evaluation)
    try:
        fit(run, epochs, on_epoch=None if progress is None else lambda run: progress())
    except TrainingDiverged as err:
        raise TrainingDiverged(
            f"{fn}: the {LOSS_TITLES[loss]} run with seed {seed} diverged ({err}): lr={lr:g} is "
            "too large"
        ) from None
    return run


def minibatch_means(run: Run) -> list[float]:
    """Per epoch, the mean of its minibatch losses (the training curve ``results()`` reports),
    summed in order."""
    steps, means = len(run.loader), []
    for first in range(0, len(run.history.step_loss), steps):
        total = 0.0
        for value in run.history.step_loss[first : first + steps]:
            total += value
        means.append(total / steps)
    return means


#: The confidence level of the paired interval.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """The final test accuracies over seeds, compared seed by seed.

    Within a seed both objectives start from the same ``a, b`` and see the same batches, so the
    comparison is paired: per seed ``d_i = acc_sos,i − acc_kl,i``, and over the ``n`` seeds the
    mean ``d̄``, its 95 % confidence interval ``d̄ ± t_{0.975, n−1} s_d / √n`` (Student's t;
    ``scipy.stats.ttest_rel``, which also gives ``t = d̄ / (s_d / √n)`` and its two-sided p
    value) and the sign count. One objective is better only when the interval excludes 0.
    ``interval``, ``t`` and ``p_value`` are None where they are undefined: with one seed, or
    (``t``, ``p_value``) when every seed gives the same difference.
    """

    #: Per loss (``"kl"``, ``"sos"``): each seed's final test accuracy, their mean and sample std.
    accuracy: dict[str, list[float]]
    mean: dict[str, float]
    std: dict[str, float]
    #: ``d_i = acc_sos,i − acc_kl,i`` per seed, their mean ``d̄`` and sample std ``s_d``.
    differences: list[float]
    difference: float
    paired_std: float | None
    interval: tuple[float, float] | None
    t: float | None
    p_value: float | None
    #: Seeds on which each loss's model is more accurate: keys ``"kl"``, ``"sos"``, ``"tie"``.
    wins: dict[str, int]

    @property
    def seeds(self) -> int:
        return len(self.differences)

    @property
    def better(self) -> str | None:
        """``"sos"`` or ``"kl"`` if the interval lies above or below 0, else None."""
        if self.interval is None or self.interval[0] <= 0 <= self.interval[1]:
            return None
        return "sos" if self.interval[0] > 0 else "kl"

    def verdict(self) -> str:
        """The answer in words, with the numbers it rests on."""
        ahead = (
            f"sum of squares ahead on {self.wins['sos']}, KL on {self.wins['kl']}, tied on "
            f"{self.wins['tie']} of {self.seeds} seeds"
        )
        if self.interval is None:
            return (
                f"one seed cannot tell them apart: its difference (sum of squares − KL) of "
                f"{_points(self.difference)} points has no confidence interval, as it takes two "
                "or more seeds to see how much the difference varies from seed to seed"
            )
        lo, hi = self.interval
        stated = (
            f"the mean paired difference (sum of squares − KL) is {_points(self.difference)} "
            f"points, {100 * CONFIDENCE:g} % confidence interval [{_points(lo)}, {_points(hi)}]"
        )
        if self.better is None:
            return f"the runs cannot tell them apart: {stated}, which contains 0; {ahead}"
        return f"{LOSS_TITLES[self.better]} is better: {stated}, which excludes 0; {ahead}"

    def paired_table(self) -> list[dict[str, float | int]]:
        """One row per seed: ``seed``, both accuracies and ``difference`` (sos − kl)."""
        return [
            {"seed": i, "kl": kl, "sos": sos, "difference": d}
            for i, (kl, sos, d) in enumerate(
                zip(self.accuracy["kl"], self.accuracy["sos"], self.differences, strict=True)
            )
        ]


def _points(fraction: float) -> str:
    """A difference of accuracies in percentage points, signed."""
    return f"{100 * fraction:+.2f}"


def summarize(accuracies: dict[str, Sequence[float]]) -> Summary:
    """The paired comparison of the final test accuracies ``accuracies[loss][i]`` of seed ``i``
    (``"kl"`` and ``"sos"``, the same seeds in the same order)."""
    acc = {k: np.asarray(accuracies[k], dtype=np.float64) for k in ("kl", "sos")}
    n = len(acc["kl"])
    if n == 0 or len(acc["sos"]) != n:
        raise ValueError(
            f"summarize: both losses need the same seeds, one accuracy each, got "
            f"{len(acc['kl'])} and {len(acc['sos'])}"
        )
    d = acc["sos"] - acc["kl"]
    interval = t = p_value = paired_std = None
    if n > 1:
        paired_std = float(d.std(ddof=1))
        with warnings.catch_warnings():
            # Equal differences on every seed: s_d = 0, t is ±inf or undefined (0 / 0).
            warnings.simplefilter("ignore", RuntimeWarning)
            test = stats.ttest_rel(acc["sos"], acc["kl"])
            lo, hi = test.confidence_interval(CONFIDENCE)
        interval = (float(lo), float(hi))
        if math.isfinite(test.statistic):
            t, p_value = float(test.statistic), float(test.pvalue)
    return Summary(
        accuracy={k: v.tolist() for k, v in acc.items()},
        mean={k: float(v.mean()) for k, v in acc.items()},
        std={k: float(v.std(ddof=1)) if n > 1 else 0.0 for k, v in acc.items()},
        differences=d.tolist(),
        difference=float(d.mean()),
        paired_std=paired_std,
        interval=interval,
        t=t,
        p_value=p_value,
        wins={"kl": int(np.sum(d < 0)), "sos": int(np.sum(d > 0)), "tie": int(np.sum(d == 0))},
    )


@dataclass
class Comparison:
    """Both objectives trained for each seed: ``runs[loss][i]`` is the run with seed ``i``, and
    ``test_scores[loss][i]`` its model's test scores ``z`` after training."""

    runs: dict[str, list[Run]]
    test_scores: dict[str, list[np.ndarray]]

    @property
    def test_accuracy(self) -> dict[str, list[float]]:
        """Final test accuracy per loss, one value per seed."""
        return {
            k: [r.history.metrics["test_accuracy"][-1] for r in runs]
            for k, runs in self.runs.items()
        }

    def summary(self) -> Summary:
        return summarize(self.test_accuracy)

    def results(self) -> dict[str, Any]:
        """Every number of the comparison, ready for JSON: per loss its title, each seed's final
        test accuracy and per-epoch curves; then the summary and its verdict."""
        doc: dict[str, Any] = {}
        for name, runs in self.runs.items():
            metrics = [r.history.metrics for r in runs]
            doc[name] = {
                "title": LOSS_TITLES[name],
                "test_accuracy": [m["test_accuracy"][-1] for m in metrics],
                "per_epoch": {
                    "test_accuracy": [m["test_accuracy"] for m in metrics],
                    "test_loss": [m[f"test_{name}_loss"] for m in metrics],
                    "test_kl_loss": [m["test_kl_loss"] for m in metrics],
                    "test_sos_loss": [m["test_sos_loss"] for m in metrics],
                    "train_loss": [minibatch_means(r) for r in runs],
                },
            }
        summary = self.summary()
        doc["summary"] = {
            "mean": summary.mean,
            "std": summary.std,
            "paired": summary.paired_table(),
            "difference_sos_minus_kl": summary.difference,
            "paired_std": summary.paired_std,
            "confidence": CONFIDENCE,
            "interval": None if summary.interval is None else list(summary.interval),
            "t": summary.t,
            "p_value": summary.p_value,
            "better": summary.better,
            "seeds_sos_better": summary.wins["sos"],
            "seeds_kl_better": summary.wins["kl"],
            "seeds_tied": summary.wins["tie"],
            "verdict": summary.verdict(),
        }
        return doc


def compare(
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    seeds: int = 5,
    lr: float = 0.01,
    batch_size: int = 64,
    epochs: int = 20,
    progress: bool = False,
) -> Comparison:
    """Train both objectives with seeds ``0 .. seeds−1``; a tqdm bar over seeds × losses × epochs
    if ``progress``."""
    seeds = positive_int("compare", "seeds", seeds)
    from tqdm import tqdm

    runs: dict[str, list[Run]] = {k: [] for k in LOSSES}
    scores: dict[str, list[np.ndarray]] = {k: [] for k in LOSSES}
    X_t = Tensor(np.asarray(X_test))
    with tqdm(
        total=seeds * len(LOSSES) * epochs, desc="training", unit="epoch", disable=not progress
    ) as bar:
        for seed in range(seeds):
            for name in LOSSES:
                bar.set_postfix(seed=seed, loss=name)
                run = train(X, y, name, lr, batch_size, epochs, seed, X_test, y_test, bar.update)
                runs[name].append(run)
                with no_grad():
                    scores[name].append(run.model(X_t).data)
    return Comparison(runs, scores)


# -------------------------------------------------------------------------------- the figures
COLORS = {"kl": "tab:blue", "sos": "tab:orange"}


def curves_png(comparison: Comparison) -> bytes:
    """Per epoch: test accuracy, test KL objective, test sum of squares; mean and min–max."""
    panels = (
        ("test_accuracy", "test accuracy"),
        ("test_kl_loss", "test KL loss\nmean log(1 + exp(−yz))"),
        ("test_sos_loss", "test sum-of-squares loss\nmean 2σ(−yz)²"),
    )
    fig = PlotFigure(figsize=(8.2, 3.6))
    axes = fig.subplots(1, 3)
    for ax, (key, title) in zip(axes, panels, strict=True):
        for name, runs in comparison.runs.items():
            values = np.array([run.history.metrics[key] for run in runs])
            epochs = np.arange(1, values.shape[1] + 1)
            ax.plot(
                epochs, values.mean(0), color=COLORS[name], label=f"trained on {LOSS_TITLES[name]}"
            )
            ax.fill_between(epochs, values.min(0), values.max(0), color=COLORS[name], alpha=0.2)
        ax.set_title(title, fontsize=figures.TEXT)
        ax.set_xlabel("epoch", fontsize=figures.TEXT)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(labelsize=figures.SMALL)
        ax.grid(alpha=0.3)
    n_seeds = len(next(iter(comparison.runs.values())))
    fig.suptitle(
        f"Problem 5: mean over {n_seeds} seeds, band = min–max over seeds", fontsize=figures.TEXT
    )
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=figures.SMALL
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # the legend below the panels
    return figures.figure_png(fig)


def loss_functions_png() -> bytes:
    """``ℓ(z, +1)``, ``ℓ(z, −1)`` and the logistic loss for ``y = ±1``, over ``z ∈ [−6, 6]``."""
    z = np.linspace(-6, 6, 601)
    fig = PlotFigure(figsize=(7, 4.2))
    ax = fig.subplots()
    for y, style in ((1, "-"), (-1, "--")):
        # The batch mean over one item is that item's loss.
        sos = [sum_of_squares_loss(np.array([v]), np.array([y])).item() for v in z]
        kl = [logistic_loss(np.array([v]), np.array([y])).item() for v in z]
        minus_yz = "−z" if y > 0 else "z"
        ax.plot(z, sos, style, color=COLORS["sos"], label=f"ℓ(z, {y:+d}) = 2σ({minus_yz})²")
        ax.plot(
            z, kl, style, color=COLORS["kl"], label=f"log(1 + exp({minus_yz}))  (KL, y = {y:+d})"
        )
    ax.set_ylim(0, 6.5)
    ax.set_xlabel("score z = aᵀx + b", fontsize=figures.TEXT)
    ax.set_ylabel("loss", fontsize=figures.TEXT)
    ax.set_title(
        "sum of squares is bounded by 2; the logistic loss grows linearly when wrong",
        fontsize=figures.TEXT,
    )
    ax.axhline(2, color="gray", lw=0.8, ls=":")
    ax.tick_params(labelsize=figures.SMALL)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=figures.SMALL)
    fig.tight_layout()
    return figures.figure_png(fig)


def misclassified_png(
    comparison: Comparison,
    images: np.ndarray,
    y_test: np.ndarray,
    digits: tuple[int, int],
    seed_index: int = 0,
    limit: int = 40,
) -> bytes:
    """Test images that the seed-``seed_index`` model of either loss gets wrong (up to ``limit``).

    ``images`` are the test images (m, 28, 28) in the order of ``y_test``; ``digits`` are the
    digits labelled −1 and +1.
    """
    wrong = {
        name: predict(scores[seed_index]) != y_test
        for name, scores in comparison.test_scores.items()
    }
    either = np.flatnonzero(wrong["kl"] | wrong["sos"])
    shown = either[:limit]
    cols = 8
    rows = max(1, -(-len(shown) // cols))
    fig = PlotFigure(figsize=(8.2, rows * 1.25 + 0.9))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown, strict=False):
        ax.imshow(images[i], cmap="gray_r")
        by = " & ".join(n.upper() for n in ("kl", "sos") if wrong[n][i])
        ax.set_title(f"{digits[int(y_test[i] > 0)]}: {by}", fontsize=figures.SMALL)
    counts = ", ".join(f"{LOSS_TITLES[n]} {int(w.sum())}" for n, w in wrong.items())
    fig.suptitle(
        f"misclassified test digits, seed {seed_index}: {counts} of {len(y_test)} wrong; "
        f"showing {len(shown)} of {len(either)}\n"
        "above each: the true digit, and the model(s) that got it wrong",
        fontsize=figures.TEXT,
    )
    fig.tight_layout()
    return figures.figure_png(fig)


# ------------------------------------------------------------------------------ the experiment
#: Problem 5's data and SGD, as in the homework: digits 4 (y = −1) and 9 (y = +1), lr, batch.
DIGITS = (4, 9)
SGD_LR, SGD_BATCH_SIZE = 0.01, 64
#: The epochs of each run at each scale.
SCALE_EPOCHS = {"full": 20, "quick": 5}
OPTIONS = (Option("seeds", "seeds of Problem 5's comparison", full=5, quick=2),)


def check_inputs(inputs: Inputs) -> None:
    """Both digits in both sets of ``inputs.mnist``, or a ``ValueError`` naming what is missing."""
    m = inputs.mnist
    for split, labels in (("training", m.train_labels), ("test", m.test_labels)):
        missing = [d for d in DIGITS if not np.any(labels == d)]
        if missing:
            raise ValueError(
                f"the {split} set of {m.source} has no images of digit "
                f"{' or '.join(map(str, missing))}; Problem 5 needs digits "
                f"{' and '.join(map(str, DIGITS))}"
            )


@dataclass(frozen=True)
class LossComparison:
    """Problem 5 in the report: both objectives trained for each seed, the test images (for the
    misclassified digits), their labels, the epochs and the seconds the training took."""

    comparison: Comparison
    test_images: np.ndarray
    y_test: np.ndarray
    n_train: int
    epochs: int
    seconds: float

    def numbers(self) -> dict[str, Any]:
        return {
            "config": {
                "digits": {"-1": DIGITS[0], "+1": DIGITS[1]},
                "n_train": self.n_train,
                "n_test": len(self.y_test),
                "seeds": len(self.comparison.runs["kl"]),
                "epochs": self.epochs,
                "lr": SGD_LR,
                "batch_size": SGD_BATCH_SIZE,
                "training_seconds": self.seconds,
            },
            **self.comparison.results(),
        }

    def figures(self) -> dict[str, bytes]:
        c = self.comparison
        return {
            "p5_curves.png": curves_png(c),
            "p5_loss_functions.png": loss_functions_png(),
            "p5_misclassified.png": misclassified_png(c, self.test_images, self.y_test, DIGITS),
        }

    def page(self) -> list[Block]:
        n = self.numbers()
        config, summary = n["config"], n["summary"]
        seeds = config["seeds"]

        def percent(x: float) -> str:
            return f"{100 * x:.2f} %"

        rows = tuple(
            (str(row["seed"]), percent(row["kl"]), percent(row["sos"]), _points(row["difference"]))
            for row in summary["paired"]
        )
        spread = "" if summary["paired_std"] is None else f" ± {100 * summary['paired_std']:.2f}"
        mean_row = (
            "mean ± std",
            f"{percent(summary['mean']['kl'])} ± {percent(summary['std']['kl'])}",
            f"{percent(summary['mean']['sos'])} ± {percent(summary['std']['sos'])}",
            _points(summary["difference_sos_minus_kl"]) + spread,
        )
        if summary["interval"] is None:
            statistics = "With one seed there is no confidence interval."
        else:
            lo, hi = summary["interval"]
            tested = (
                ""
                if summary["t"] is None
                else f", t = {summary['t']:.2f}, p = {summary['p_value']:.2g}"
            )
            statistics = (
                f"Mean paired difference {_points(summary['difference_sos_minus_kl'])} points, "
                f"{100 * summary['confidence']:g} % confidence interval [{_points(lo)}, "
                f"{_points(hi)}] (Student's t, n − 1 = {seeds - 1} degrees of freedom{tested})."
            )
        return [
            Text(f"**Measured in this run, over {seeds} paired seeds:** {summary['verdict']}."),
            Heading("Construction"),
            Formula(
                (
                    r"\text{KL:}\quad L(a, b) = \frac{1}{N} \sum_i"
                    r" \log\left(1 + e^{-y_i z_i}\right)",
                    r"\text{sum of squares:}\quad L(a, b) = \frac{1}{N} \sum_i \ell(z_i, y_i),"
                    r" \qquad \ell(z, y) = \| P(y) - f(x) \|^2 = 2\, \sigma(-y z)^2 \le 2",
                    r"\text{SGD:}\quad a \leftarrow a - \mathrm{lr}\, \partial L_B / \partial a,"
                    r" \quad b \leftarrow b - \mathrm{lr}\, \partial L_B / \partial b"
                    r" \quad \text{over minibatches } B",
                    r"\text{paired:}\quad d_i = \mathrm{acc}_{\mathrm{sos}, i}"
                    r" - \mathrm{acc}_{\mathrm{KL}, i}, \qquad"
                    r" \bar d \pm t_{0.975,\, n-1}\, s_d / \sqrt{n}",
                )
            ),
            Text(
                f"{config['n_train']:,} training and {config['n_test']:,} test images; "
                f"{config['epochs']} epochs, lr {config['lr']:g}, batch {config['batch_size']}; "
                r"$a, b \sim U(\pm 1/\sqrt{784})$, seeded; for each seed both objectives start "
                "from the same a, b and see the same batches. Training took "
                f"{_duration(config['training_seconds'])}. Code: "
                "``mathdnn.hw4.p5_losses.compare``."
            ),
            Table(
                "Final test accuracy per seed, and the paired difference sum of squares − KL",
                ("seed", n["kl"]["title"], n["sos"]["title"], "difference (points)"),
                (*rows, mean_row),
            ),
            Text(
                f"{statistics} Sum of squares ahead on {summary['seeds_sos_better']}, KL on "
                f"{summary['seeds_kl_better']}, tied on {summary['seeds_tied']} of {seeds} seeds."
            ),
            Figure(
                "p5_curves.png",
                f"Test accuracy and both test objectives after each epoch: the mean over {seeds} "
                "seeds, the band from the lowest to the highest seed.",
                "Learning curves of both objectives with their seed bands",
            ),
            Figure(
                "p5_loss_functions.png",
                "The two losses of one example: the sum of squares saturates at 2 for a "
                "confidently wrong score, the logistic loss grows linearly.",
                "The sum-of-squares and logistic losses as functions of the score",
            ),
            Figure(
                "p5_misclassified.png",
                "Test digits the seed-0 models get wrong, and which model got each wrong.",
                "Misclassified test digits",
            ),
        ]


def _duration(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def run(inputs: Inputs, progress: Progress) -> LossComparison:
    """Problem 5 in the report: ``compare`` on the digits of ``DIGITS`` in ``inputs.mnist``, over
    the seeds of the ``seeds`` option."""
    m, (neg, pos) = inputs.mnist, DIGITS
    X, y = binary_digits(m.train_images, m.train_labels, neg, pos)
    X_test, y_test = binary_digits(m.test_images, m.test_labels, neg, pos)
    seeds, epochs = inputs.options["seeds"], SCALE_EPOCHS[inputs.scale]
    progress.note(f"training 2 losses × {seeds} seeds × {epochs} epochs")
    began = time.perf_counter()
    comparison = compare(X, y, X_test, y_test, seeds, SGD_LR, SGD_BATCH_SIZE, epochs)
    seconds = time.perf_counter() - began
    test_images = m.test_images[(m.test_labels == neg) | (m.test_labels == pos)]
    return LossComparison(comparison, test_images, y_test, len(y), epochs, seconds)


# ------------------------------------------------------------------------------ the command
#: What ``mathdnn losses`` writes to its output directory.
OUTPUT_FILES = ("results.json", "curves.png", "loss_functions.png", "misclassified.png")


def _losses_arguments(parser: argparse.ArgumentParser) -> None:
    add_mnist_dir(parser)
    parser.add_argument(
        "--digits",
        nargs=2,
        type=int,
        default=(4, 9),
        metavar=("NEG", "POS"),
        help="the digits labelled −1 and +1 (default 4 9)",
    )
    EPOCHS.add_argument(parser, 20, "of each run")
    parser.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="number of seeds, 0..S−1 (default 5); a verdict needs two or more",
    )
    LR.add_argument(parser, default=0.01)
    BATCH_SIZE.add_argument(parser, default=64)
    parser.add_argument(
        "-o", "--output", default="losses-out", metavar="OUTDIR", help="default losses-out"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_losses_args(args: argparse.Namespace) -> None:
    neg, pos = args.digits
    for name, d in (("NEG", neg), ("POS", pos)):
        if not 0 <= d <= 9:
            raise CommandError(f"--digits: {name} must be a digit 0..9, got {d}")
    if neg == pos:
        raise CommandError(f"--digits: the two digits must differ, got {neg} {pos}")
    for setting in (EPOCHS, LR, BATCH_SIZE):
        setting.validate(getattr(args, setting.name), setting.flag)
    positive_flag("--seeds", args.seeds)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CommandError(f"-o: {out} exists and is not a directory")
    for name in OUTPUT_FILES:
        check_writable(out / name, file=True)


def results_document(comparison: Comparison, config: dict, data: dict) -> dict:
    """The content of ``mathdnn losses``'s ``results.json``: configuration, data, per-loss runs,
    summary."""
    return {"config": config, "data": data, **comparison.results()}


def _run_losses(args: argparse.Namespace) -> int:
    _check_losses_args(args)
    mnist = mnist_data(args)
    neg, pos = args.digits
    X, y = binary_digits(mnist.train_images, mnist.train_labels, neg, pos)
    X_test, y_test = binary_digits(mnist.test_images, mnist.test_labels, neg, pos)
    for split, labels in (("training", y), ("test", y_test)):
        missing = [d for d, label in ((neg, -1), (pos, 1)) if not np.any(labels == label)]
        if missing:
            raise CommandError(
                f"the {split} set in {mnist.source} (--mnist-dir) has no images of digit "
                f"{' or '.join(map(str, missing))}; --digits {neg} {pos} needs both"
            )
    test_images = mnist.test_images[(mnist.test_labels == neg) | (mnist.test_labels == pos)]

    start = time.perf_counter()
    progress = not args.quiet and sys.stderr.isatty()
    try:
        comparison = compare(
            X, y, X_test, y_test, args.seeds, args.lr, args.batch_size, args.epochs, progress
        )
    except TrainingDiverged as err:
        raise CommandError(f"training diverged: {err}; use a smaller --lr") from None
    seconds = time.perf_counter() - start
    summary = comparison.summary()

    config = {
        "epochs": args.epochs,
        "seeds": list(range(args.seeds)),
        "lr": args.lr,
        "batch_size": args.batch_size,
        "init": "a_j, b ~ U(-1/sqrt(d), 1/sqrt(d)), seeded",
        "training_seconds": seconds,
    }
    data = {
        "source": mnist.source,
        "digits": {"-1": neg, "+1": pos},
        "n_train": len(y),
        "n_test": len(y_test),
    }
    document = results_document(comparison, config, data)
    pictures = {
        "curves.png": curves_png(comparison),
        "loss_functions.png": loss_functions_png(),
        "misclassified.png": misclassified_png(comparison, test_images, y_test, (neg, pos)),
    }
    out = Path(args.output)
    write_json(out / "results.json", document)
    for name, content in pictures.items():
        atomic_write(out / name, lambda f, content=content: f.write(content))

    print(
        f"data: {mnist.source}, digits {neg} (−1) vs {pos} (+1), {len(y)} train / "
        f"{len(y_test)} test; {args.seeds} seeds x {args.epochs} epochs, lr {args.lr}, "
        f"batch {args.batch_size}; {seconds:.1f} s"
    )
    kl, sos = LOSS_TITLES["kl"], LOSS_TITLES["sos"]
    print(f"final test accuracy per seed\n{'seed':>4} {kl:>16} {sos:>16} {'difference':>11}")
    for row in summary.paired_table():
        print(
            f"{row['seed']:>4} {row['kl']:>16.2%} {row['sos']:>16.2%} "
            f"{100 * row['difference']:>+11.2f}"
        )
    print(
        f"{'mean':>4} {summary.mean['kl']:>16.2%} {summary.mean['sos']:>16.2%} "
        f"{100 * summary.difference:>+11.2f}"
    )
    if summary.interval is not None:
        lo, hi = summary.interval
        tested = "" if summary.t is None else f"; t = {summary.t:.2f}, p = {summary.p_value:.2g}"
        print(
            f"paired difference (sum of squares − KL, points): {100 * summary.difference:+.2f}, "
            f"{100 * CONFIDENCE:g} % confidence interval [{100 * lo:+.2f}, {100 * hi:+.2f}] "
            f"(Student's t, n − 1 = {args.seeds - 1} degrees of freedom{tested})"
        )
    print(f"verdict: {summary.verdict()}")
    print(f"wrote {', '.join(str(out / n) for n in OUTPUT_FILES)}")
    return 0


COMMANDS = (
    Command(
        "losses",
        help="Problem 5: train logistic regression with KL and with sum of squares, compare",
        description="Train f(x) = (σ(−z), σ(z)), z = aᵀx + b, on two MNIST digits with the KL "
        "objective and with the sum of squares (minibatch SGD), for several seeds; print the "
        "test accuracies seed by seed, the mean paired difference with its 95 % confidence "
        "interval, and which objective is better only if that interval excludes 0; write "
        "results.json and plots to OUTDIR.",
        arguments=_losses_arguments,
        run=_run_losses,
    ),
)


# ---------------------------------------------------------------------------------- the checks
LossFunction = Callable[[Any, Any], Any]


def checks(
    rng: np.random.Generator,
    *,
    logistic_loss: LossFunction = logistic_loss,
    sum_of_squares_loss: LossFunction = sum_of_squares_loss,
    sum_of_squares_grad: Callable[[Any, Any], Any] = sum_of_squares_grad,
) -> list[Check]:
    """Problem 5's rows of ``mathdnn verify``: the two losses against the formulas of ``hw4.md``
    (``sum_of_squares_long_form``) and their limits at ``|z| = 1e6``; ``sum_of_squares_grad``
    against finite differences of ``sum_of_squares_loss``; the engine's VJP of the logistic
    primitive against finite differences; and both, value and gradient, against PyTorch.
    ``logistic_loss``, ``sum_of_squares_loss`` (the mean loss over the items of ``z``) and
    ``sum_of_squares_grad`` (``∂L/∂z``) are the construction under test (default: this
    module's)."""

    def mean(loss: LossFunction, z: np.ndarray, y: np.ndarray) -> float:
        with no_grad():
            value = loss(z, y)
        return float(value.item() if isinstance(value, Tensor) else value)

    z = 4 * rng.standard_normal(64)
    y = rng.choice([-1.0, 1.0], 64)
    kl, sos = mean(logistic_loss, z, y), mean(sum_of_squares_loss, z, y)
    kl_formula = float(np.mean(np.log1p(np.exp(-y * z))))
    sos_formula = float(np.mean(sum_of_squares_long_form(z, y)))
    # At |z| = 1e6: a right score costs 0, a wrong one |z| (KL) or 2 (sum of squares).
    z_far, y_far = np.array([1e6, -1e6, 1e6, -1e6]), np.array([1.0, -1.0, -1.0, 1.0])
    limits = [
        abs(mean(logistic_loss, z_far, y_far) - 2e6 / 4),
        abs(mean(sum_of_squares_loss, z_far, y_far) - 4 / 4),
    ]
    rows = [
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
    # The engine's VJP of the logistic primitive (the library's, whatever the construction).
    error = gradcheck_error(lambda t: LOSSES["kl"](t, y), [z])
    rows.append(Check("5", "logistic_loss VJP", "finite differences", error, FD))
    grad = np.asarray(sum_of_squares_grad(z, y), dtype=np.float64)
    z_moved = z.copy()
    numerical = central_differences(lambda: mean(sum_of_squares_loss, z_moved, y), z_moved)
    rows.append(
        Check(
            "5",
            "sum_of_squares_grad = ∂L/∂z",
            "finite differences of sum_of_squares_loss",
            max_abs_difference(grad, numerical),
            FD,
        )
    )

    def compute(torch: ModuleType) -> list[float]:
        zt, yt = torch.tensor(z, requires_grad=True), torch.from_numpy(y)
        kl_t = torch.nn.functional.softplus(-yt * zt).mean()
        (kl_grad,) = torch.autograd.grad(kl_t, zt)
        ours = Tensor(z, requires_grad=True)
        value = LOSSES["kl"](ours, y)
        value.backward()
        sos_t = (2 * torch.sigmoid(-yt * zt) ** 2).mean()
        (sos_grad,) = torch.autograd.grad(sos_t, zt)
        return [
            max(abs(value.item() - kl_t.item()), max_abs_difference(ours.grad, kl_grad.numpy())),
            max(abs(sos - sos_t.item()), max_abs_difference(grad, sos_grad.numpy())),
        ]

    names = ["logistic_loss and VJP", "sum_of_squares_loss and sum_of_squares_grad"]
    return rows + pytorch_checks("5", names, ROUNDING, compute)


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's logistic_loss, sum_of_squares_loss and sum_of_squares_grad against
# this module's, on scores z and labels y shrunk to the smallest that fail.
_LOGISTIC = "L(z, y) = (1/N) Σ_i log(1 + exp(−y_i z_i))"
_SUM_OF_SQUARES = (
    "L(z, y) = (1/N) Σ_i ℓ(z_i, y_i), ℓ(z, y) = ‖P(y) − (σ(−z), σ(z))‖² = "
    "½(1−y)[(1−σ(−z))² + σ(z)²] + ½(1+y)[σ(−z)² + (1−σ(z))²] = 2σ(−yz)²"
)
_GRADIENT = "∂L/∂z_i = −4 y_i σ(−y_i z_i)² σ(y_i z_i) / N, the derivative of " + _SUM_OF_SQUARES


def _cases(search: Search) -> Iterator[Case]:
    for k in itertools.count():
        n = int(search.rng.integers(1, 7))
        z = example_array(search.rng, (n,), k) * (1 if k % 2 == 0 else 3)
        yield {"z": z, "y": search.rng.choice([-1.0, 1.0], n)}


def _shrink(case: Case) -> Iterator[Case]:
    z, y = case["z"], case["y"]
    for n in smaller_ints(len(z), 1):
        yield replaced(case, z=z[:n], y=y[:n])
    if len(z) > 1:
        yield replaced(case, z=z[1:], y=y[1:])
    for simpler in simpler_values(z):
        yield replaced(case, z=simpler)
    for i in np.flatnonzero(y < 0):
        yield replaced(case, y=np.where(np.arange(len(y)) == i, 1.0, y))


def _describe(name: str) -> Callable[[Case], tuple[str, tuple[str, ...]]]:
    return lambda case: (f"{name}(z, y)", (show("z", case["z"]), show("y", case["y"])))


def _terms(case: Case, term: Callable[[float, float], str]) -> str:
    z, y = case["z"], case["y"]
    return f"(1/{len(z)})·(" + " + ".join(term(zi, yi) for zi, yi in zip(z, y, strict=True)) + ")"


def _grade_loss(
    name: str, loss: Callable[..., Tensor], identity: str, term: Callable[[float, float], str]
) -> Callable[[Student, Search], Counterexample | None]:
    def grade(student: Student, search: Search) -> Counterexample | None:
        def holds(case: Case) -> Mismatch | None:
            got = number(student(case["z"], case["y"]), "the mean loss")
            expected = loss(case["z"], case["y"]).item()
            if mismatch(np.float64(got), np.float64(expected)) is None:
                return None
            return Mismatch(
                f"your {name}(z, y) = {fmt(got)}",
                f"{fmt(expected)} = {_terms(case, term)}",
                identity,
            )

        return search.find(_cases(search), holds, _describe(name), _shrink)

    grade.__doc__ = f"The smallest ``(z, y)`` on which the student's {name} is not this module's."
    return grade


grade_logistic_loss = _grade_loss(
    "logistic_loss", logistic_loss, _LOGISTIC, lambda z, y: f"log(1 + exp({fmt(-y * z)}))"
)
grade_sum_of_squares_loss = _grade_loss(
    "sum_of_squares_loss", sum_of_squares_loss, _SUM_OF_SQUARES, lambda z, y: f"2σ({fmt(-y * z)})²"
)


def grade_sum_of_squares_grad(student: Student, search: Search) -> Counterexample | None:
    """The smallest ``(z, y)`` on which the student's ``∂L/∂z`` is not ``sum_of_squares_grad``."""

    def holds(case: Case) -> Mismatch | None:
        z, y = case["z"], case["y"]
        got = float_array(student(z, y), z.shape, "∂L/∂z")
        expected = sum_of_squares_grad(z, y)
        index = mismatch(got, expected, got.dtype)
        if index is None:
            return None
        (i,) = index
        return Mismatch(
            f"your ∂L/∂z[{i}] = {fmt(got[i])}",
            f"{fmt(expected[i])} = −4·({fmt(y[i])})·σ({fmt(-y[i] * z[i])})²·"
            f"σ({fmt(y[i] * z[i])}) / {len(z)}",
            _GRADIENT,
        )

    return search.find(_cases(search), holds, _describe("sum_of_squares_grad"), _shrink)


_CONVENTION = """\
The model f(x) = (σ(−z), σ(z)), with the score z = aᵀx + b and σ the sigmoid, is compared
with P(y) for labels y ∈ {−1, +1}: P(−1) = (1, 0), P(+1) = (0, 1). z and y are float arrays
of shape (N,); the losses must stay finite for scores as large as |z| = 1e6.
"""

EXERCISE = Exercise(
    "5",
    "KL and sum-of-squares losses",
    (
        Task(
            "logistic_loss",
            "(z: np.ndarray, y: np.ndarray) -> float",
            "Problem 5: the KL objective of logistic regression.\n\n"
            + _CONVENTION
            + """
Return the KL objective, the mean logistic loss

    L(z, y) = (1/N) Σ_i D_KL(P(y_i) ‖ f(x_i)) = (1/N) Σ_i log(1 + exp(−y_i z_i)).
""",
            grade_logistic_loss,
        ),
        Task(
            "sum_of_squares_loss",
            "(z: np.ndarray, y: np.ndarray) -> float",
            "Problem 5: the sum-of-squares objective.\n\n"
            + _CONVENTION
            + """
Return the mean sum-of-squares loss

    L(z, y) = (1/N) Σ_i ‖P(y_i) − f(x_i)‖².
""",
            grade_sum_of_squares_loss,
        ),
        Task(
            "sum_of_squares_grad",
            "(z: np.ndarray, y: np.ndarray) -> np.ndarray",
            "Problem 5: the gradient of the sum-of-squares objective.\n\n"
            + _CONVENTION
            + """
Return ∂L/∂z, the gradient of the mean sum-of-squares loss L(z, y) with respect to the
scores, a float array of shape (N,).
""",
            grade_sum_of_squares_grad,
        ),
    ),
)
