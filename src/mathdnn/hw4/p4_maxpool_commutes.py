"""Problem 4: max pooling commutes with non-decreasing activations.

For a non-decreasing ``σ: R → R`` applied elementwise and any max pool ``ρ`` (any kernel, stride,
padding, dilation), is ``σ(ρ(X)) = ρ(σ(X))``?

Answer: Yes, exactly, even in floating point: in each window the largest element stays largest
after ``σ``, so both sides are ``σ`` of the same number. For a ``σ`` that is not monotone
(``x²``, ``sin``, ``−x``) it fails, and a ``1×2`` window ``[m, e]`` shows it. In practice
``σ → max pool`` can be rewritten ``max pool → σ``, which evaluates ``σ`` and its VJP on ``k²``
times fewer elements.

``check_commutes`` tests the identity on hard inputs (ties, ±∞, plateaus) and returns a
counterexample where it fails; ``maxpool_counterexample`` gives one for a function by its name.
``pool_before_activation`` rewrites a model; ``activation_evaluations`` counts what it saves on
``small_cnn`` and ``rewrite_timing`` times it (``mathdnn hw4``,
``benchmarks/bench_pool_first.py``).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure

import mathdnn.functional as F
from mathdnn import exercise as grading
from mathdnn.check import ROUNDING, Check, max_abs_difference
from mathdnn.engine import Tensor, no_grad
from mathdnn.exercise import (
    Case,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    WrongAnswer,
    describe,
    float_array,
    fmt,
    literal,
)
from mathdnn.functional._checks import float_tensor
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Table, Text, plain
from mathdnn.nn import (
    Activation,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softplus,
    Tanh,
)
from mathdnn.windows import PoolGeometry, window

Elementwise = Callable[[Tensor], Tensor]

#: The functions ``maxpool_counterexample`` answers for, by name: non-decreasing ones, for which
#: ``σ(ρ(X)) = ρ(σ(X))``, and functions that are not monotone on R, for which it fails.
FUNCTIONS: dict[str, Elementwise] = {
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softplus": F.softplus,
    "leaky_relu": F.leaky_relu,
    "exp": lambda x: x.exp(),
    "square": lambda x: x * x,
    "sin": lambda x: x.sin(),
    "neg": lambda x: -x,
    "abs": lambda x: x.abs(),
}

# The activations of mathdnn.functional.activation.ACTIVATIONS flagged monotone are the ones for
# which σ(ρ(X)) = ρ(σ(X)); these functions are not monotone on R, and the identity fails. By the
# symbol the report writes, the name in FUNCTIONS.
NON_MONOTONE_EXAMPLES: dict[str, str] = {"x²": "square", "sin": "sin", "−x": "neg"}

# The max pools the identity is checked on: (kernel_size, stride, padding, dilation).
POOL_CONFIGS = (
    (2, None, 0, 1),
    (3, 2, 1, 1),
    ((2, 3), 1, 0, 2),
)


@dataclass(frozen=True)
class Counterexample:
    """One max-pool window where ``σ(ρ(X)) ≠ ρ(σ(X))``.

    ``position``: the output index ``(n, c, i, j)``; ``window``: the ``kh×kw`` input values the
    pool reads there (``−∞`` for padding); ``pair``: a ``1×2`` window ``[m, e]`` that fails on its
    own, ``m`` the window's maximum and ``e`` the element whose ``σ(e)`` is largest.
    """

    position: tuple[int, ...]
    window: np.ndarray
    sigma_of_pool: float
    pool_of_sigma: float
    pair: np.ndarray

    def __str__(self) -> str:
        m, e = self.pair[0]
        return (
            f"window [{m:.4g}, {e:.4g}]: σ(ρ(X)) = σ({m:.4g}) = {self.sigma_of_pool:.4g} but "
            f"ρ(σ(X)) = σ({e:.4g}) = {self.pool_of_sigma:.4g}"
        )


@dataclass(frozen=True)
class CommuteResult:
    """The outcome of ``check_commutes``: ``holds`` iff ``max_error ≤ atol`` everywhere."""

    holds: bool
    max_error: float
    counterexample: Counterexample | None


def stress_inputs(rng: np.random.Generator, shape: tuple[int, int, int] = (2, 8, 9)) -> np.ndarray:
    """A batch ``(6, C, H, W)`` of hard inputs for Problem 4, one kind per sample.

    Gaussian noise; small integers (many ties); ±∞ sprinkled in; plateaus (constant 3×3 blocks,
    some at ±∞); values and their negatives side by side (where x² and |x| tie); a wide range.
    """
    c, h, w = shape
    noise = rng.standard_normal(shape)
    ties = rng.integers(-2, 3, shape).astype(np.float64)
    infinite = rng.standard_normal(shape)
    infinite[rng.random(shape) < 0.15] = np.inf
    infinite[rng.random(shape) < 0.15] = -np.inf
    blocks = rng.choice([-np.inf, -1.5, 0.0, 0.25, 2.0, np.inf], (c, -(-h // 3), -(-w // 3)))
    plateau = np.kron(blocks, np.ones((3, 3)))[:, :h, :w]
    mirrored = rng.standard_normal(shape)
    mirrored[..., 1::2] = -mirrored[..., ::2][..., : w // 2]
    wide = rng.uniform(-10.0, 10.0, shape)
    return np.stack([noise, ties, infinite, plateau, mirrored, wide])


def _differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a − b|``, with 0 where the two are equal (also equal infinities, or both NaN) and ∞
    where only one is NaN."""
    with np.errstate(invalid="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        return np.where(same, 0.0, np.nan_to_num(np.abs(a - b), nan=np.inf, posinf=np.inf))


def check_commutes(
    sigma: Elementwise,
    x: Tensor | np.ndarray | None = None,
    kernel_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    atol: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> CommuteResult:
    """Test ``σ(ρ(X)) = ρ(σ(X))`` for ``ρ = max_pool2d(·, kernel_size, stride, padding, dilation)``.

    ``sigma`` maps a Tensor to a Tensor elementwise; ``x`` is ``(N, C, H, W)``, by default
    ``stress_inputs(rng)``. For non-decreasing ``σ`` the identity is exact in floating point (both
    sides are ``σ`` of the same maximum), so ``atol`` defaults to 0. When it fails, the result
    carries the window with the largest error.
    """
    if not callable(sigma):
        raise TypeError(f"check_commutes: sigma must be callable, got {type(sigma).__name__}")
    if x is None:
        x = stress_inputs(np.random.default_rng(rng))
    x = float_tensor("check_commutes", "x", x)
    if x.ndim != 4:
        raise ValueError(f"check_commutes: x must have shape (N, C, H, W), got {x.shape}")
    pool_args = (kernel_size, stride, padding, dilation)
    with no_grad(), np.errstate(all="ignore"):
        sigma_of_pool = sigma(F.max_pool2d(x, *pool_args)).data
        pool_of_sigma = F.max_pool2d(sigma(x), *pool_args).data
    errors = _differences(sigma_of_pool, pool_of_sigma)
    max_error = float(np.max(errors, initial=0.0))
    if max_error <= atol:
        return CommuteResult(True, max_error, None)
    # Show the worst window with a finite error if there is one: it reads better than ∞ − ∞.
    finite_errors = np.where(np.isfinite(errors), errors, -1.0)
    worst = np.argmax(finite_errors if finite_errors.max() > atol else errors)
    position = tuple(int(p) for p in np.unravel_index(int(worst), errors.shape))
    geo = PoolGeometry("check_commutes", x, *pool_args, ceil_mode=False)
    window, real = _window(x.data, position, geo)
    values = window[real]
    with no_grad(), np.errstate(all="ignore"):
        sigma_values = sigma(Tensor(values)).data
    largest_sigma = values[int(np.argmax(np.where(np.isnan(sigma_values), np.inf, sigma_values)))]
    return CommuteResult(
        False,
        max_error,
        Counterexample(
            position,
            window,
            float(sigma_of_pool[position]),
            float(pool_of_sigma[position]),
            np.array([[values.max(), largest_sigma]], dtype=x.dtype),
        ),
    )


def _window(
    x: np.ndarray, position: tuple[int, ...], geo: PoolGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """The ``kh×kw`` values ``X'[n, c, s·i + d·a, s·j + d·b]`` that output ``position`` reads
    (``−∞`` for padding), and the mask of those that are real pixels, not padding."""
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel, geo.stride, geo.dilation
    n, c, i, j = position
    rows, cols = window(i, kh, sh, dh), window(j, kw, sw, dw)
    padded = geo.pad(x[n, c], -np.inf)
    real = geo.pad(np.ones(x.shape[2:], dtype=bool), False)
    return padded[rows, cols], real[rows, cols]


def maxpool_counterexample(activation: str) -> np.ndarray | None:
    """Problem 4's answer for the function named ``activation`` (a key of ``FUNCTIONS``): ``None``
    if ``σ(maxpool(X)) = maxpool(σ(X))`` for every ``X``, else an input ``X`` of shape
    ``(1, 1, 2, 2)`` on which the two differ for a ``2×2`` max pool with stride 2.

    The identity is tested on the hard inputs ``stress_inputs`` (``check_commutes``): for a
    non-decreasing ``σ`` it holds, as Problem 4 proves, and the answer is ``None``; otherwise the
    failing window ``[m, e]`` it finds (``m`` the window's maximum, ``σ(e) > σ(m)``) becomes
    ``X = [[m, e], [e, e]]``, whose pool is ``m`` while ``max σ(X) = σ(e)``.
    """
    if activation not in FUNCTIONS:
        raise ValueError(
            f"maxpool_counterexample: activation must be one of {', '.join(FUNCTIONS)}, got "
            f"{activation!r}"
        )
    found = check_commutes(FUNCTIONS[activation], stress_inputs(np.random.default_rng(0)), 2)
    if found.counterexample is None:
        return None
    m, e = found.counterexample.pair[0]
    return np.array([[[[m, e], [e, e]]]])


def pool_before_activation(model: Sequential) -> Sequential:
    """Rewrite ``σ → MaxPool2d`` into ``MaxPool2d → σ`` wherever ``σ`` is non-decreasing.

    By Problem 4, ``ρ(σ(X)) = σ(ρ(X))``, and the right side evaluates ``σ`` (and its VJP) on
    ``k²`` times fewer elements. A max pool moves in front of a whole run of non-decreasing
    activations (their composition is non-decreasing); an activation with ``monotone = False``
    stays where it is. Nested ``Sequential`` models are rewritten too. The new model holds the
    same layer objects, so it shares the parameter tensors of ``model``.
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"pool_before_activation: model must be a Sequential, got {type(model).__name__}"
        )
    layers: list[Module] = []
    for layer in model:
        if isinstance(layer, Sequential):
            layer = pool_before_activation(layer)
        position = len(layers)
        if isinstance(layer, MaxPool2d):
            while (
                position > 0
                and isinstance(layers[position - 1], Activation)
                and layers[position - 1].monotone
            ):
                position -= 1
        layers.insert(position, layer)
    return Sequential(*layers)


# ------------------------------------------------------------------------ the rewrite's saving
def small_cnn(activation: type[Activation], rng: np.random.Generator) -> Sequential:
    """conv → σ → maxpool, twice, then a linear layer, on ``(N, 1, 28, 28)`` images (float32):
    the model whose cost ``activation_evaluations`` counts and ``rewrite_timing`` times, before and
    after the rewrite."""
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=rng),
        activation(),
        MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1, rng=rng),
        activation(),
        MaxPool2d(2),
        Flatten(),
        Linear(32 * 7 * 7, 10, rng=rng),
    )


def _layers(model: Sequential) -> list[Module]:
    """The layers of ``model`` in order, nested ``Sequential`` models opened."""
    out: list[Module] = []
    for layer in model:
        out += _layers(layer) if isinstance(layer, Sequential) else [layer]
    return out


def activation_evaluations(model: Sequential, x: np.ndarray) -> int:
    """How many elements the activations of ``model`` see in one forward on ``x``: the sizes of
    the inputs of its ``Activation`` layers. The backward evaluates ``σ'`` on as many. A ``k×k``
    pool moved in front of ``σ`` makes that count ``k²`` times smaller, whatever the machine."""
    count = 0
    y = Tensor(x)
    with no_grad():
        for layer in _layers(model):
            if isinstance(layer, Activation):
                count += y.numel()
            y = layer(y)
    return count


def forward_backward_seconds(model: Module, x: np.ndarray) -> float:
    """The seconds of one forward + backward of ``sum(model(x)²)``."""
    model.zero_grad()
    start = time.perf_counter()
    y = model(Tensor(x))
    (y * y).sum().backward()
    return time.perf_counter() - start


@dataclass(frozen=True)
class RewriteTiming:
    """One forward + backward timed before and after the rewrite, ``repeats`` times in pairs
    (``before[i]`` and ``after[i]`` run back to back, in alternating order).

    A timing on a shared machine is its best run plus noise, so each side is its best run; the
    saving ``1 − best_after / best_before`` is told only when its sign is not noise: when the
    pairs agree on which side is faster, by a two-sided sign test (``p_value < 0.05``).
    """

    before: tuple[float, ...]
    after: tuple[float, ...]

    @property
    def best_before(self) -> float:
        return min(self.before)

    @property
    def best_after(self) -> float:
        return min(self.after)

    @property
    def saving(self) -> float:
        return 1 - self.best_after / self.best_before

    @property
    def faster(self) -> int:
        """The pairs in which the rewritten model was faster."""
        return sum(a < b for a, b in zip(self.after, self.before, strict=True))

    @property
    def p_value(self) -> float:
        """The sign test: how likely so lopsided a split of the pairs is if neither side is
        faster (``scipy.stats.binomtest``, two-sided)."""
        from scipy.stats import binomtest

        ties = sum(a == b for a, b in zip(self.after, self.before, strict=True))
        n = len(self.before) - ties
        return float(binomtest(self.faster, n, 0.5).pvalue) if n else 1.0

    @property
    def decisive(self) -> bool:
        return self.p_value < 0.05


def rewrite_timing(model: Sequential, x: np.ndarray, repeats: int = 15) -> RewriteTiming:
    """Time a forward + backward of ``model`` and of ``pool_before_activation(model)`` on ``x``,
    ``repeats`` pairs after one warm-up run each; the two sides alternate which runs first, so a
    change in the machine's load hits both alike."""
    rewritten = pool_before_activation(model)
    forward_backward_seconds(model, x)
    forward_backward_seconds(rewritten, x)
    before, after = [], []
    for i in range(repeats):
        if i % 2:
            after.append(forward_backward_seconds(rewritten, x))
            before.append(forward_backward_seconds(model, x))
        else:
            before.append(forward_backward_seconds(model, x))
            after.append(forward_backward_seconds(rewritten, x))
    return RewriteTiming(tuple(before), tuple(after))


# -------------------------------------------------------------------------------- the figures
def counterexamples_png(windows: Mapping[str, tuple[Elementwise, tuple[float, float]]]) -> bytes:
    """One panel per ``σ``, two to a row: a ``1×2`` window ``[m, e]`` (``m`` its maximum), ``σ``
    drawn across it, and the two sides of Problem 4: ``σ(ρ(X)) = σ(m)`` and
    ``ρ(σ(X)) = max(σ(m), σ(e))``. They meet for a non-decreasing ``σ`` and part for the others.
    ``windows``: name → ``(σ, (m, e))``, ``σ`` acting elementwise on Tensors."""
    columns = min(len(windows), 2)
    rows = -(-len(windows) // columns)
    fig = PlotFigure(figsize=(4.6 * columns, 3.7 * rows))
    axes = np.asarray(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes[len(windows) :]:
        ax.set_axis_off()
    for ax, (name, (sigma, (m, e))) in zip(axes, windows.items(), strict=False):
        lo, hi = min(m, e), max(m, e)
        pad = 0.2 * (hi - lo) or 1.0
        x = np.linspace(lo - pad, hi + pad, 400)
        with no_grad():
            curve, (s_m, s_e) = (sigma(Tensor(v)).data for v in (x, np.array([m, e])))
        pool_of_sigma = max(s_m, s_e)
        ax.plot(x, curve, color="0.3", lw=1.2)
        ax.plot([m], [s_m], "o", color="tab:blue", ms=7, label=f"σ(ρ(X)) = σ(m) = {s_m:.3g}")
        ax.plot([e], [s_e], "s", color="tab:orange", ms=6, label=f"σ(e) = {s_e:.3g}")
        ax.axhline(
            pool_of_sigma, color="tab:orange", ls=":", lw=1, label=f"ρ(σ(X)) = {pool_of_sigma:.3g}"
        )
        for v, text in ((m, "m"), (e, "e")):
            ax.axvline(v, color="0.8", lw=0.8, zorder=0)
            ax.annotate(
                text,
                (v, 0),
                xycoords=("data", "axes fraction"),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=figures.SMALL,
            )
        same = pool_of_sigma == s_m
        verdict = "=" if same else "≠"
        ax.set_title(
            f"σ = {name}, window [{m:.3g}, {e:.3g}]\n"
            f"σ(ρ(X)) = {s_m:.3g} {verdict} ρ(σ(X)) = {pool_of_sigma:.3g}",
            fontsize=figures.TEXT,
            color="black" if same else "tab:red",
        )
        ax.legend(fontsize=figures.SMALL, loc="best")
        ax.tick_params(labelsize=figures.SMALL)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return figures.figure_png(fig)


def _saving_label(timing: RewriteTiming) -> str:
    """The saving, told only when the pairs agree on its sign."""
    if not timing.decisive:
        return "no clear difference"
    if timing.saving >= 0:
        return f"saves {timing.saving:.0%}"
    return f"{-timing.saving:.0%} slower"


def rewrite_png(evaluations: tuple[int, int], timings: Mapping[str, RewriteTiming]) -> bytes:
    """Left, what is certain: the elements the activations see per image, before and after the
    rewrite. Right, what was measured: per activation, the best forward + backward before and
    after (bars) and every timed run (dots), labelled with the saving only where its sign is not
    noise. ``evaluations``: ``(before, after)`` per image; ``timings``: activation → timing."""
    names = list(timings)
    fig = PlotFigure(figsize=(10, 1.0 * len(names) + 2.4))
    count_ax, time_ax = fig.subplots(1, 2, width_ratios=(1, 2))
    before, after = evaluations
    count_ax.bar([0, 1], [before, after], color=["0.65", "tab:blue"], width=0.6)
    count_ax.set_xticks([0, 1], ["σ → pool", "pool → σ"], fontsize=figures.TEXT)
    for x, n in ((0, before), (1, after)):
        count_ax.annotate(
            f"{n:,}",
            (x, n),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=figures.TEXT,
        )
    count_ax.set_ylim(0, 1.2 * before)
    count_ax.set_title(
        f"σ evaluations per image:\n{before / after:g}× fewer", fontsize=figures.TEXT
    )
    count_ax.tick_params(labelsize=figures.SMALL)
    rows = np.arange(len(names))
    scale = 1e3
    for offset, side, colour, label in (
        (-0.2, "before", "0.65", "σ → max pool (as written)"),
        (0.2, "after", "tab:blue", "max pool → σ (rewritten)"),
    ):
        best = [scale * min(getattr(timings[n], side)) for n in names]
        time_ax.barh(rows + offset, best, 0.4, color=colour, label=label)
        for row, n in zip(rows, names, strict=True):
            runs = scale * np.asarray(getattr(timings[n], side))
            time_ax.plot(
                runs, np.full(runs.shape, row + offset), "|", color="black", ms=9, alpha=0.6
            )
    slowest = max(scale * max(max(t.before), max(t.after)) for t in timings.values())
    # The saving goes under each activation's name, the pairs' verdict under it.
    labels = [
        f"{name}\n{_saving_label(t)}\n{t.faster} of {len(t.before)} pairs faster"
        for name, t in timings.items()
    ]
    time_ax.set_yticks(rows, labels, fontsize=figures.SMALL)
    time_ax.invert_yaxis()
    time_ax.set_xlim(0, 1.05 * slowest)
    time_ax.set_xlabel(
        "forward + backward, ms: bar = best run, ticks = every run", fontsize=figures.TEXT
    )
    time_ax.tick_params(labelsize=figures.SMALL)
    time_ax.grid(alpha=0.3, axis="x")
    time_ax.legend(fontsize=figures.SMALL, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=1)
    fig.tight_layout()
    return figures.figure_png(fig)


# ------------------------------------------------------------------------------ the experiment
@dataclass(frozen=True)
class Timing:
    """How the rewrite is timed at a scale: the activations of ``small_cnn``, the batch, and the
    pairs of interleaved runs."""

    activations: tuple[type[Activation], ...]
    batch: int
    repeats: int


TIMING = {
    "full": Timing((ReLU, Tanh, Sigmoid, Softplus), 64, 15),
    "quick": Timing((ReLU, Tanh), 64, 9),
}


@dataclass(frozen=True)
class Commuting:
    """Problem 4 in the report: the counterexample of each function of ``NON_MONOTONE_EXAMPLES``
    (by its symbol), and the rewrite of ``small_cnn``: the activation evaluations it saves per
    image, counted, and its time before and after, measured."""

    counterexamples: dict[str, Counterexample]
    model: str
    batch: int
    evaluations: tuple[int, int]
    timings: dict[str, RewriteTiming]

    def numbers(self) -> dict[str, Any]:
        before, after = self.evaluations
        return {
            "monotone_activations": [n for n, a in ACTIVATIONS.items() if a.monotone],
            "not_monotone_activations": [n for n, a in ACTIVATIONS.items() if not a.monotone],
            "counterexamples": {
                symbol: {
                    "window": [float(v) for v in found.pair[0]],
                    "sigma_of_pool": found.sigma_of_pool,
                    "pool_of_sigma": found.pool_of_sigma,
                }
                for symbol, found in self.counterexamples.items()
            },
            "rewrite": {
                "model": self.model,
                "batch": self.batch,
                "evaluations_per_image": {
                    "before": before,
                    "after": after,
                    "ratio": before / after,
                },
                "repeats": len(next(iter(self.timings.values())).before),
                "seconds": {
                    name: {
                        "before": list(t.before),
                        "after": list(t.after),
                        "best_before": t.best_before,
                        "best_after": t.best_after,
                        "saving": t.saving,
                        "pairs_faster": t.faster,
                        "p_value": t.p_value,
                        "decisive": t.decisive,
                    }
                    for name, t in self.timings.items()
                },
            },
        }

    def figures(self) -> dict[str, bytes]:
        windows: dict[str, tuple[Elementwise, tuple[float, float]]] = {
            symbol: (
                FUNCTIONS[NON_MONOTONE_EXAMPLES[symbol]],
                tuple(float(v) for v in found.pair[0]),
            )
            for symbol, found in self.counterexamples.items()
        }
        if windows:  # the first window again under a non-decreasing σ, where both sides agree
            windows["tanh"] = (FUNCTIONS["tanh"], next(iter(windows.values()))[1])
        return {
            "p4_counterexamples.png": counterexamples_png(windows),
            "p4_pool_first.png": rewrite_png(self.evaluations, self.timings),
        }

    def page(self) -> list[Block]:
        numbers = self.numbers()
        monotone = ", ".join(f"``{a}``" for a in numbers["monotone_activations"])
        not_monotone = ", ".join(
            [*(f"``{a}``" for a in numbers["not_monotone_activations"]), "x², sin, −x"]
        )
        before, after = self.evaluations
        timing_rows = tuple(
            (
                plain(name),
                _ms(t.best_before),
                _ms(t.best_after),
                f"{_ms(max(t.before))}, {_ms(max(t.after))}",
                f"{t.faster} of {len(t.before)}",
                _saving_label(t),
            )
            for name, t in self.timings.items()
        )
        counter_rows = tuple(
            (
                plain(symbol),
                f"[{_number(found.pair[0][0])}, {_number(found.pair[0][1])}]",
                _number(found.sigma_of_pool),
                _number(found.pool_of_sigma),
            )
            for symbol, found in self.counterexamples.items()
        )
        repeats = len(next(iter(self.timings.values())).before)
        return [
            Heading("Construction"),
            Formula(
                (
                    r"\rho(X)[i, j] = \max_{W_{ij}} X, \qquad \sigma \text{ non-decreasing}"
                    r" \;\Rightarrow\; \sigma(\max W) = \max \sigma(W)",
                    r"\text{counterexample, } \sigma \text{ not monotone: a window } [m, e]"
                    r" \text{ with } m \gt e \text{ but } \sigma(e) \gt \sigma(m)",
                )
            ),
            Text(
                "Checked for every activation of the registry flagged non-decreasing "
                f"({monotone}) on hard inputs (ties, ±∞, plateaus) and three max pools; functions "
                f"that are not ({not_monotone}) must fail, on the input "
                "``maxpool_counterexample`` gives. The rewrite is "
                "``mathdnn.hw4.p4_maxpool_commutes.pool_before_activation(model)``; it shares "
                "the model's parameters."
            ),
            Figure(
                "p4_counterexamples.png",
                "The counterexample window [m, e] of each function that is not monotone: "
                "σ(ρ(X)) = σ(m) (blue) is not ρ(σ(X)) = max(σ(m), σ(e)) (orange line). Bottom "
                "right: the first window under tanh, non-decreasing, where the two sides agree. "
                "The checks below test the same windows.",
                "Counterexamples to the identity for x squared, sine and minus x",
            ),
            Table(
                "The counterexamples",
                ("σ", "window [m, e]", "σ(ρ(X)) = σ(m)", "ρ(σ(X))"),
                counter_rows,
            ),
            Heading("What the rewrite saves"),
            Text(
                f"In {plain(self.model)}, the activations see **{before:,} elements per image "
                f"as written and {after:,} after the rewrite: {before / after:g} times fewer**, "
                "k² for the 2×2 pool, and their VJPs as many (counted in the model, the same "
                "on every machine). What that is worth in time depends on the machine: timed in "
                f"this run, batch {self.batch}×1×28×28 (float32), {repeats} pairs of runs "
                "interleaved; each side's best run, and the saving only where the pairs agree on "
                "its sign (a sign test, p < 0.05)."
            ),
            Figure(
                "p4_pool_first.png",
                "Left: the activation evaluations per image, counted. Right: one forward + "
                "backward before and after ``pool_before_activation``, the best run as a bar and "
                "every run as a tick; a saving is written only where its sign is not noise.",
                "Bar charts of the activation evaluations and of the forward and backward times "
                "before and after the rewrite",
            ),
            Table(
                "One forward + backward, timed in this run",
                (
                    "σ",
                    "best, σ → max pool",
                    "best, max pool → σ",
                    "slowest runs",
                    "pairs faster",
                    "saving",
                ),
                timing_rows,
            ),
        ]


def _number(v: float) -> str:
    return f"{v:.3g}".replace("-", "−")


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms"


def run(inputs: Inputs, progress: Progress) -> Commuting:
    """Problem 4 in the report: a counterexample for each function of ``NON_MONOTONE_EXAMPLES``,
    and the rewrite's cost counted and timed at the scale of ``inputs``."""
    counterexamples = {}
    for symbol, name in NON_MONOTONE_EXAMPLES.items():
        x = maxpool_counterexample(name)
        if x is not None:  # else the identity held after all; the checks say so
            found = check_commutes(FUNCTIONS[name], x, 2).counterexample
            assert found is not None
            counterexamples[symbol] = found
    scale = TIMING[inputs.scale]
    rng = np.random.default_rng(0)
    batch = rng.random((scale.batch, 1, 28, 28), dtype=np.float32)
    timings = {}
    for activation in scale.activations:
        progress.note(f"timing the rewrite, σ = {activation.__name__}")
        model = small_cnn(activation, rng)
        timings[activation.__name__] = rewrite_timing(model, batch, scale.repeats)
    evaluations = (
        activation_evaluations(model, batch[:1]),
        activation_evaluations(pool_before_activation(model), batch[:1]),
    )
    layers = " → ".join("σ" if isinstance(m, Activation) else type(m).__name__ for m in model)
    return Commuting(counterexamples, layers, scale.batch, evaluations, timings)


# ---------------------------------------------------------------------------------- the checks
def checks(
    rng: np.random.Generator,
    *,
    maxpool_counterexample: Callable[[str], np.ndarray | None] = maxpool_counterexample,
) -> list[Check]:
    """Problem 4's rows of ``mathdnn verify``: ``σ(ρ(X)) = ρ(σ(X))`` for every activation of the
    registry, on the hard inputs and three max pools (those not flagged monotone must fail); for
    x², sin and −x, the counterexample ``maxpool_counterexample`` gives, which must break the
    identity (``counterexample_check``); and the rewrite ``pool_before_activation`` against the
    model it rewrites. ``maxpool_counterexample`` is the construction under test (default: this
    module's)."""
    rows = []
    x = stress_inputs(rng)
    both_sides = "ρ(σ(X)), stress inputs"
    for name, activation in ACTIVATIONS.items():
        results = [check_commutes(activation.op, x, *pool) for pool in POOL_CONFIGS]
        error = max(r.max_error for r in results)
        rows.append(
            Check(
                "4",
                f"σ(ρ(X)), σ = {name}{'' if activation.monotone else ' (not monotone)'}",
                both_sides,
                error,
                0.0,
                expected_failure=not activation.monotone,
            )
        )
    for symbol, name in NON_MONOTONE_EXAMPLES.items():
        rows.append(counterexample_check(name, maxpool_counterexample, symbol))
    return rows + _rewrite_checks(rng)


def counterexample_check(
    name: str,
    maxpool_counterexample: Callable[[str], np.ndarray | None] = maxpool_counterexample,
    symbol: str | None = None,
) -> Check:
    """The row for a function ``FUNCTIONS[name]`` that is not monotone: the input
    ``X = maxpool_counterexample(name)`` must break ``σ(ρ(X)) = ρ(σ(X))`` for the ``2×2`` max pool
    with stride 2 (an expected failure: the row passes when the two sides differ). ``None``, or
    an ``X`` where they agree, fails it. ``symbol`` names ``σ`` in the row (default ``name``)."""
    sigma = FUNCTIONS[name]
    title = f"σ(ρ(X)), σ = {symbol or name} (not monotone)"
    reference = "ρ(σ(X)), maxpool_counterexample"
    found = maxpool_counterexample(name)
    if found is None:
        detail = f"maxpool_counterexample({name!r}) returned None"
        return Check("4", title, reference, 0.0, 0.0, expected_failure=True, detail=detail)
    result = check_commutes(sigma, np.asarray(found, dtype=np.float64), 2)
    detail = f"counterexample: {result.counterexample}" if result.counterexample else ""
    return Check("4", title, reference, result.max_error, 0.0, expected_failure=True, detail=detail)


def _rewrite_checks(rng: np.random.Generator) -> list[Check]:
    """``pool_before_activation`` on a small CNN: same outputs, same parameter gradients."""
    model = Sequential(
        Conv2d(1, 4, 3, padding=1, rng=rng, dtype=np.float64),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, 3, padding=1, rng=rng, dtype=np.float64),
        Tanh(),
        MaxPool2d(3, 2, 1),
        Flatten(),
        Linear(6 * 4 * 4, 3, rng=rng, dtype=np.float64),
    )
    rewritten = pool_before_activation(model)
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


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's maxpool_counterexample(activation) for every function of FUNCTIONS,
# None where this module's answer is None (σ non-decreasing), else an input that check_commutes
# finds failing.
_IDENTITY = "σ(maxpool(X)) = maxpool(σ(X)) for every X exactly when σ is non-decreasing"


def _value(name: str, x: float) -> float:
    with no_grad(), np.errstate(all="ignore"):
        return float(FUNCTIONS[name](Tensor(np.array(x))).data)


def _not_monotone(name: str) -> str:
    """The smallest integers ``a < b`` with ``σ(a) > σ(b)``: why ``σ`` is not non-decreasing."""
    pairs = sorted(
        ((a, b) for a in range(-3, 4) for b in range(a + 1, 4)),
        key=lambda pair: (max(map(abs, pair)), pair),
    )
    for a, b in pairs:
        if _value(name, a) > _value(name, b):
            return (
                f"{name}({fmt(a)}) = {fmt(_value(name, a))} > {name}({fmt(b)}) = "
                f"{fmt(_value(name, b))} although {fmt(a)} < {fmt(b)}"
            )
    raise AssertionError(f"{name} is non-decreasing on the integers −3..3")


def _sigma_of_pool(name: str, X: np.ndarray) -> np.ndarray:
    """``σ(maxpool(X))`` (2×2, stride 2) of a ``(1, 1, H, W)`` input, as ``(H/2, W/2)``."""
    with no_grad(), np.errstate(all="ignore"):
        return FUNCTIONS[name](F.max_pool2d(Tensor(X), 2)).data[0, 0]


def grade_maxpool_counterexample(student: Student, search: Search) -> grading.Counterexample | None:
    """The first function of ``FUNCTIONS`` for which the student's answer is wrong: an input
    for a non-decreasing ``σ``, ``None`` for one that is not, or an input on which the identity
    holds."""

    def holds(case: Case) -> Mismatch | None:
        name = case["activation"]
        answer = student(name)
        if maxpool_counterexample(name) is None:  # σ is non-decreasing
            if answer is None:
                return None
            sides = ""
            if isinstance(answer, np.ndarray) and answer.ndim == 4 and answer.dtype.kind in "fiu":
                both = _sigma_of_pool(name, answer.astype(np.float64))
                sides = f"; on your X both sides are {literal(both)}"
            return Mismatch(
                f"your answer: {describe(answer)}",
                f"None: {name} is non-decreasing, so no X breaks the identity{sides}",
                _IDENTITY,
            )
        if answer is None:
            return Mismatch(
                "your answer: None",
                f"an X with σ(maxpool(X)) ≠ maxpool(σ(X)), σ = {name}: {_not_monotone(name)}",
                _IDENTITY,
            )
        X = float_array(answer, (1, 1, None, None), "an input X", accept_integers=True)
        if min(X.shape[2:]) < 2:
            raise WrongAnswer(
                Mismatch(
                    f"an input of shape {X.shape}: no 2×2 window fits in it",
                    "an input X of shape (1, 1, H, W) with H, W ≥ 2",
                )
            )
        X = X.astype(np.float64)
        if not check_commutes(FUNCTIONS[name], X, 2).holds:
            return None
        return Mismatch(
            f"on your X, σ(maxpool(X)) = maxpool(σ(X)) = {literal(_sigma_of_pool(name, X))}",
            f"an X with σ(maxpool(X)) ≠ maxpool(σ(X)), σ = {name} (maxpool: 2×2, stride 2)",
            _IDENTITY,
        )

    return search.find(
        ({"activation": name} for name in FUNCTIONS),
        holds,
        lambda case: (f"maxpool_counterexample({case['activation']!r})", ()),
    )


EXERCISE = Exercise(
    "4",
    "max pooling and activations",
    (
        Task(
            "maxpool_counterexample",
            "(activation: str) -> np.ndarray | None",
            """\
Problem 4: max pooling commutes with non-decreasing activations.

Let maxpool be the 2×2 max pool with stride 2 and σ a function applied elementwise, named by
`activation`, one of
"""
            + textwrap.fill(", ".join(f'"{name}"' for name in FUNCTIONS), 92)
            + """
(leaky_relu with slope 0.01, square x², neg −x, abs |x|):

- if σ(maxpool(X)) = maxpool(σ(X)) for every X, return None;
- otherwise return an input X, a float array of shape (1, 1, H, W) with H, W ≥ 2, on which
  σ(maxpool(X)) ≠ maxpool(σ(X)).
""",
            grade_maxpool_counterexample,
            examples=None,
        ),
    ),
)
