"""The figures of Homework 4, drawn on matplotlib ``Figure`` objects (no pyplot).

Problems 1–3, each the problem's convolution on an image (``mathdnn edges``, ``gray``, ``pool``):

- ``edges_figure``: the greyscale image, both derivative maps and the gradient magnitude;
- ``grayscale_figure``: the image beside its luma;
- ``average_pool_figure``: the image beside its ``k×k`` average pool.

Problem 4 (``mathdnn hw4``), as PNG bytes:

- ``counterexamples_png``: σ on a ``1×2`` window ``[m, e]``, ``σ(ρ(X))`` against ``ρ(σ(X))``;
- ``rewrite_saving_png``: the seconds of a forward + backward before and after the rewrite.

Problem 5 (``mathdnn losses``), each as PNG bytes:

- ``curves_png``: test accuracy and both test objectives per epoch, mean over seeds with the
  min–max band, for the model trained on each loss;
- ``loss_functions_png``: ``ℓ(z, ±1) = 2σ(∓z)²`` against the logistic loss ``log(1 + e^{∓z})``;
- ``misclassified_png``: test digits a model gets wrong, with the true digit and which loss's
  model got it wrong.

Problem 6 (``mathdnn hw4``): ``layer_jacobians_png``, the layer Jacobians of a small MLP as heat
maps.

``figure_png`` renders any of the ``Figure`` objects to PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mathdnn.engine import Tensor, no_grad
from mathdnn.hw4.p1_finite_differences import finite_differences, gradient_magnitude
from mathdnn.hw4.p2_average_pooling import average_pool
from mathdnn.hw4.p3_grayscale import grayscale
from mathdnn.hw4.p4_maxpool_commutes import Elementwise
from mathdnn.hw4.p5_losses import (
    LOSS_TITLES,
    Comparison,
    logistic_loss,
    predict,
    sum_of_squares_loss,
)
from mathdnn.hw4.p6_jacobians import ActivationArg, layer_jacobians, output_jacobians
from mathdnn.images import from_batch, to_batch

COLORS = {"kl": "tab:blue", "sos": "tab:orange"}
# Inches per image panel, and the robust range of the signed maps (ignores the 0.5 % extremes).
_PANEL = 4.2
# A panel is at most this many times as tall as wide: a taller image is drawn smaller inside it.
# Without a bound a 10×1500 image asked for a canvas of 1008×75660 pixels (3.4 GB to draw).
_MAX_ASPECT = 3.0
_PERCENTILE = 99.5


# ---------------------------------------------------------------------------- Problems 1–3
def _rgb(image: np.ndarray) -> np.ndarray:
    """A grey image as three equal channels (its luma is itself, since the weights sum to 1)."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    with no_grad():
        return from_batch(grayscale(to_batch(image)).data)


def _show(ax: Any, image: np.ndarray, title: str, **kwargs: Any) -> Any:
    if image.ndim == 2:
        kwargs = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0, **kwargs}
    shown = ax.imshow(image, **kwargs)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return shown


def _figure(rows: int, columns: int, aspect: float) -> tuple[Figure, np.ndarray]:
    height = rows * _PANEL * min(aspect, _MAX_ASPECT) + 0.5
    figure = Figure(figsize=(columns * _PANEL, height), layout="constrained")
    axes = np.asarray(figure.subplots(rows, columns)).ravel()
    return figure, axes


def edges_figure(image: np.ndarray, name: str) -> Figure:
    """Problem 1 on ``image`` (``(H, W)`` or ``(H, W, 3)`` in [0, 1], greyscaled first): the grey
    image, ``∂/∂i``, ``∂/∂j`` and the gradient magnitude."""
    grey = _grey(image)
    with no_grad():
        y = finite_differences(grey[None, None])
        magnitude = gradient_magnitude(y).data[0]
    d_i, d_j = y.data[0]
    h, w = grey.shape
    limit = max(float(np.percentile(np.abs(y.data), _PERCENTILE)), 1e-12)
    figure, axes = _figure(2, 2, 0.87 * h / w)  # the colourbars take width, not height
    _show(axes[0], grey, f"{name} ({w}×{h}), greyscale")
    for ax, d, title in (
        (axes[1], d_i, "∂/∂i: X[i+1, j] − X[i, j]"),
        (axes[2], d_j, "∂/∂j: X[i, j+1] − X[i, j]"),
    ):
        shown = _show(ax, d, title, cmap="RdBu_r", vmin=-limit, vmax=limit)
        figure.colorbar(shown, ax=ax, shrink=0.8)
    top = max(float(np.percentile(magnitude, _PERCENTILE)), 1e-12)
    shown = _show(
        axes[3], magnitude, "gradient magnitude √(Y0² + Y1²)", cmap="magma", vmin=0, vmax=top
    )
    figure.colorbar(shown, ax=axes[3], shrink=0.8)
    figure.suptitle("Problem 1: finite differences as one 3×3 convolution (padding 1)")
    return figure


def grayscale_figure(image: np.ndarray, name: str) -> Figure:
    """Problem 3 on ``image``: the image beside ``0.299 R + 0.587 G + 0.114 B``."""
    with no_grad():
        grey = from_batch(grayscale(to_batch(_rgb(image))).data)
    h, w = grey.shape
    figure, axes = _figure(1, 2, h / w)
    _show(axes[0], image, f"{name} ({w}×{h})")
    _show(axes[1], grey, "0.299 R + 0.587 G + 0.114 B (1×1 convolution)")
    figure.suptitle("Problem 3: RGB to greyscale as a 1×1 convolution")
    return figure


def average_pool_figure(image: np.ndarray, name: str, k: int) -> Figure:
    """Problem 2 on ``image``: the image beside its ``k×k`` average pool, stride ``k``."""
    h, w = image.shape[:2]
    with no_grad():
        pooled = np.clip(from_batch(average_pool(to_batch(image), k).data), 0.0, 1.0)
    ph, pw = pooled.shape[:2]
    figure, axes = _figure(1, 2, h / w)
    _show(axes[0], image, f"{name} ({w}×{h})")
    # Shown at the input's size, nearest-neighbour, so each k×k block is one visible square.
    _show(axes[1], pooled, f"{k}×{k} average pool, stride {k} ({pw}×{ph})", interpolation="nearest")
    figure.suptitle(
        f"Problem 2: average pooling as a convolution with the {k}×{k} filter 1/{k * k}"
    )
    return figure


# --------------------------------------------------------------------------------- Problem 4
def counterexamples_png(windows: Mapping[str, tuple[Elementwise, tuple[float, float]]]) -> bytes:
    """One panel per ``σ``, two to a row: a ``1×2`` window ``[m, e]`` (``m`` its maximum), ``σ``
    drawn across it, and the two sides of Problem 4: ``σ(ρ(X)) = σ(m)`` and
    ``ρ(σ(X)) = max(σ(m), σ(e))``. They meet for a non-decreasing ``σ`` and part for the others.
    ``windows``: name → ``(σ, (m, e))``, ``σ`` acting elementwise on Tensors."""
    columns = min(len(windows), 2)
    rows = -(-len(windows) // columns)
    fig = Figure(figsize=(4.6 * columns, 3.7 * rows))
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
                fontsize=9,
            )
        same = pool_of_sigma == s_m
        verdict = "=" if same else "≠"
        ax.set_title(
            f"σ = {name}, window [{m:.3g}, {e:.3g}]\n"
            f"σ(ρ(X)) = {s_m:.3g} {verdict} ρ(σ(X)) = {pool_of_sigma:.3g}",
            fontsize=10,
            color="black" if same else "tab:red",
        )
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_png(fig)


def rewrite_saving_png(seconds: Mapping[str, tuple[float, float]], title: str) -> bytes:
    """Bars of the milliseconds of a forward + backward before (``σ → pool``) and after
    (``pool → σ``) the rewrite, one pair per activation, each labelled with the saving
    ``1 − after / before`` as measured. ``seconds``: activation → ``(before, after)``."""
    names = list(seconds)
    before = 1e3 * np.array([seconds[n][0] for n in names])
    after = 1e3 * np.array([seconds[n][1] for n in names])
    rows = np.arange(len(names))
    height = 0.7 * len(names) + 1.6
    fig = Figure(figsize=(8, height))
    ax = fig.subplots()
    ax.barh(rows - 0.2, before, 0.4, color="0.65", label="σ → max pool (as written)")
    ax.barh(rows + 0.2, after, 0.4, color="tab:blue", label="max pool → σ (rewritten)")
    for row, b, a in zip(rows, before, after, strict=True):
        saving = 1 - a / b
        text = f"saves {saving:.0%}" if saving >= 0 else f"{-saving:.0%} slower"
        ax.annotate(text, (max(a, b), row), xytext=(6, -4), textcoords="offset points", fontsize=9)
    ax.set_yticks(rows, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.18 * max(before.max(), after.max()))
    ax.set_xlabel("forward + backward, ms (median)")
    ax.set_title(title, fontsize=10)
    fig.legend(fontsize=8, loc="lower center", ncol=2)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))  # the legend below the axes
    return figure_png(fig)


# --------------------------------------------------------------------------------- Problem 5


def figure_png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes, 120 dpi."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def curves_png(comparison: Comparison) -> bytes:
    """Per epoch: test accuracy, test KL objective, test sum of squares; mean and min–max."""
    panels = (
        ("test_accuracy", "test accuracy"),
        ("test_kl_loss", "test KL loss  mean log(1+exp(−yz))"),
        ("test_sos_loss", "test sum-of-squares loss  mean 2σ(−yz)²"),
    )
    fig = Figure(figsize=(14, 4.2))
    axes = fig.subplots(1, 3)
    for ax, (key, title) in zip(axes, panels, strict=True):
        for name, runs in comparison.runs.items():
            values = np.array([run.history.metrics[key] for run in runs])
            epochs = np.arange(1, values.shape[1] + 1)
            ax.plot(
                epochs, values.mean(0), color=COLORS[name], label=f"trained on {LOSS_TITLES[name]}"
            )
            ax.fill_between(epochs, values.min(0), values.max(0), color=COLORS[name], alpha=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=9)
    n_seeds = len(next(iter(comparison.runs.values())))
    fig.suptitle(f"Problem 5: mean over {n_seeds} seeds, band = min–max over seeds")
    fig.tight_layout()
    return figure_png(fig)


def loss_functions_png() -> bytes:
    """``ℓ(z, +1)``, ``ℓ(z, −1)`` and the logistic loss for ``y = ±1``, over ``z ∈ [−6, 6]``."""
    z = np.linspace(-6, 6, 601)
    fig = Figure(figsize=(7, 4.2))
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
    ax.set_xlabel("score z = aᵀx + b")
    ax.set_ylabel("loss")
    ax.set_title("sum of squares is bounded by 2; the logistic loss grows linearly when wrong")
    ax.axhline(2, color="gray", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return figure_png(fig)


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
    cols = 10
    rows = max(1, -(-len(shown) // cols))
    fig = Figure(figsize=(cols * 1.25, rows * 1.5 + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown, strict=False):
        ax.imshow(images[i], cmap="gray_r")
        by = " & ".join(n.upper() for n in ("kl", "sos") if wrong[n][i])
        ax.set_title(f"true {digits[int(y_test[i] > 0)]}; {by}", fontsize=8)
    counts = ", ".join(f"{LOSS_TITLES[n]} {int(w.sum())}" for n, w in wrong.items())
    fig.suptitle(
        f"misclassified test digits, seed {seed_index} ({counts} of {len(y_test)} wrong; "
        f"showing {len(shown)} of {len(either)})\n"
        "title: true digit; the model(s) that got it wrong",
        fontsize=10,
    )
    fig.tight_layout()
    return figure_png(fig)


# --------------------------------------------------------------------------------- Problem 6
def layer_jacobians_png(
    As: list[np.ndarray], bs: list[np.ndarray], x: np.ndarray, activation: ActivationArg
) -> bytes:
    """Problem 6's matrices for one input ``x`` as heat maps, one column per layer ℓ: part (a)'s
    ``∂y_ℓ/∂b_ℓ = diag σ'(z_ℓ)`` and ``∂y_ℓ/∂y_{ℓ−1} = diag σ'(z_ℓ) A_ℓ``, and their product
    ``∂y_L/∂y_{ℓ−1}``, the row backprop carries. One colour scale for all, every entry written
    in its cell (meant for a small MLP)."""
    pairs = layer_jacobians(As, bs, x, activation)
    J = output_jacobians(As, bs, x, activation)
    L = len(pairs)
    rows = [
        [(f"∂y_{ell}/∂b_{ell}", db) for ell, (db, _) in enumerate(pairs, start=1)],
        [(f"∂y_{ell}/∂y_{ell - 1}", dy) for ell, (_, dy) in enumerate(pairs, start=1)],
        [(f"∂y_{L}/∂y_{ell - 1}", J[ell - 1]) for ell in range(1, L + 1)],
    ]
    limit = max(float(np.abs(m).max()) for row in rows for _, m in row) or 1.0
    # Every cell the same size: each panel spans the largest matrix of its row and column, and
    # draws its own in the top left corner.
    heights = [max(m.shape[0] for _, m in row) for row in rows]
    widths = [max(row[c][1].shape[1] for row in rows) for c in range(L)]
    fig = Figure(
        figsize=(0.38 * sum(widths) + 3.0, 0.38 * sum(heights) + 2.2), layout="constrained"
    )
    axes = np.asarray(
        fig.subplots(
            3, L, squeeze=False, gridspec_kw={"width_ratios": widths, "height_ratios": heights}
        )
    )
    shown = None
    for r, row in enumerate(rows):
        for c, (title, m) in enumerate(row):
            ax = axes[r, c]
            shown = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.add_patch(
                Rectangle((-0.5, -0.5), m.shape[1], m.shape[0], fill=False, lw=0.8, clip_on=False)
            )
            ax.set_xlim(-0.5, widths[c] - 0.5)
            ax.set_ylim(heights[r] - 0.5, -0.5)
            ax.set_axis_off()
            ax.set_title(f"{title}  ({m.shape[0]}×{m.shape[1]})", fontsize=9, loc="left")
            for (i, j), v in np.ndenumerate(m):
                light = abs(v) > 0.6 * limit
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if light else "black",
                )
    fig.colorbar(shown, ax=axes, shrink=0.6, label="entry")
    layers = "-".join(str(n) for n in (As[0].shape[1], *(A.shape[0] for A in As)))
    name = activation if isinstance(activation, str) else "σ"
    fig.suptitle(
        f"MLP {layers}, σ = {name}, one input. Rows: (a) ∂y_ℓ/∂b_ℓ = diag σ'(z_ℓ); "
        f"(a) ∂y_ℓ/∂y_ℓ−1 = diag σ'(z_ℓ) A_ℓ; (b) their product ∂y_L/∂y_ℓ−1",
        fontsize=10,
    )
    return figure_png(fig)
