"""The figures of Homework 4 (matplotlib ``Figure`` objects, no pyplot); each returns PNG bytes.

Problem 5:

- ``curves_png``: test accuracy and both test objectives per epoch, mean over seeds with the
  min–max band, for the model trained on each loss;
- ``loss_functions_png``: ``ℓ(z, ±1) = 2σ(∓z)²`` against the logistic loss ``log(1 + e^{∓z})``;
- ``misclassified_png``: test digits a model gets wrong, with the true digit and which loss's
  model got it wrong.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from mfdnn.hw4.p5_losses import LOSS_TITLES, Comparison, logistic_loss, predict, sum_of_squares_loss

COLORS = {"kl": "tab:blue", "sos": "tab:orange"}


def _png(fig: Figure) -> bytes:
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
            values = np.array([getattr(h, key) for h in runs])
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
    return _png(fig)


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
    return _png(fig)


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
        name: predict(runs[seed_index].test_scores) != y_test
        for name, runs in comparison.runs.items()
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
    return _png(fig)
