"""Run the seven problems of Homework 4 and collect what the report shows: for each problem its
numbers, its figures (PNG bytes) and its checks.

Every computation is the library's: the constructions and experiments of ``mathdnn.hw4``, the
training loop of ``mathdnn.training``, the figures of ``mathdnn.hw4.figures`` and the checks of
``mathdnn.verify`` (``run_suite``, the same rows ``mathdnn verify`` prints). What is timed is timed
here, in this run, and reported as measured.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mathdnn import __version__, nn
from mathdnn.data import MNIST, binary_digits, load_mnist
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4 import figures
from mathdnn.hw4 import p1_finite_differences as p1
from mathdnn.hw4 import p2_average_pooling as p2
from mathdnn.hw4 import p3_grayscale as p3
from mathdnn.hw4 import p4_maxpool_commutes as p4
from mathdnn.hw4 import p5_losses as p5
from mathdnn.hw4 import p6_jacobians as p6
from mathdnn.hw4 import p7_lenet_c3 as p7
from mathdnn.hw4.p7_lenet_c3 import parameter_counts
from mathdnn.images import default_photo_path, load_image
from mathdnn.threads import get_num_threads
from mathdnn.training import C3, Settings, learning_curve_png, train_lenet
from mathdnn.verify import Check, run_suite

__all__ = [
    "FULL",
    "QUICK",
    "Inputs",
    "Progress",
    "Report",
    "Scale",
    "Section",
    "build",
    "prepare",
    "tally",
]


@dataclass(frozen=True)
class Scale:
    """How much each experiment does."""

    #: Problem 4: the activations of the timed CNN, its batch, the runs per timing.
    pool_first_activations: tuple[type[nn.Activation], ...]
    pool_first_batch: int
    pool_first_repeats: int
    #: Problem 5: seeds (unless given) and epochs of each run.
    p5_seeds: int
    p5_epochs: int
    #: Problem 6: the widths n of the MLP n-n-n-n-1 whose gradients are timed, runs per timing;
    #: epochs of the MNIST classifier trained by backprop and by autodiff.
    p6_widths: tuple[int, ...]
    p6_repeats: int
    mlp_epochs: int
    #: Problem 7: epochs of each LeNet-5, at most, and the images each sees in all (fewer epochs
    #: on a larger training set, so the run keeps its time).
    lenet_epochs: int
    lenet_images: int


FULL = Scale(
    pool_first_activations=(nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Softplus),
    pool_first_batch=64,
    pool_first_repeats=15,
    p5_seeds=5,
    p5_epochs=20,
    p6_widths=(32, 64, 128, 256, 512, 1024),
    p6_repeats=5,
    mlp_epochs=1,
    lenet_epochs=30,
    lenet_images=120_000,
)
QUICK = Scale(
    pool_first_activations=(nn.ReLU, nn.Tanh),
    pool_first_batch=64,
    pool_first_repeats=9,
    p5_seeds=2,
    p5_epochs=5,
    p6_widths=(32, 64, 128, 256),
    p6_repeats=2,
    mlp_epochs=1,
    lenet_epochs=3,
    lenet_images=12_000,
)

# Problem 5's digits (labels −1, +1) and its SGD, as in the homework.
P5_DIGITS = (4, 9)
P5_LR, P5_BATCH = 0.01, 64
# Problem 6: the MLP drawn as heat maps, and the MNIST classifier's hidden layer.
P6_HEATMAP_LAYERS, P6_ACTIVATION = (8, 6, 4, 1), "tanh"
MLP_HIDDEN = (64,)
# The largest pool window of Problem 2's figure: blocks of 8×8 pixels stay visible on the page.
P2_MAX_K = 8


@dataclass(frozen=True)
class Inputs:
    """What the report runs on, loaded and checked: the photograph (floats in [0, 1], ``(H, W)``
    or ``(H, W, 3)``), MNIST, the seeds of Problem 5, and the scale."""

    image: np.ndarray
    image_path: Path
    mnist: MNIST
    seeds: int
    scale: Scale
    quick: bool

    @property
    def image_name(self) -> str:
        return self.image_path.name

    def describe(self) -> dict[str, Any]:
        h, w = self.image.shape[:2]
        m = self.mnist
        return {
            "image": {
                "name": self.image_name,
                "default": self.image_path == default_photo_path(),
                "width": w,
                "height": h,
                "channels": 1 if self.image.ndim == 2 else 3,
            },
            "mnist": {
                "source": m.source,
                "n_train": len(m.train_labels),
                "n_test": len(m.test_labels),
            },
        }


def prepare(
    image: str | os.PathLike[str] | None = None,
    mnist: MNIST | None = None,
    seeds: int | None = None,
    quick: bool = False,
) -> Inputs:
    """Load and check every input before any work: the image (default: the sample photograph),
    MNIST (default: ``load_mnist()``, the bundled subset), ``seeds`` (default: the scale's). Raises
    ``FileNotFoundError``/``ValueError`` naming the input that is wrong."""
    scale = QUICK if quick else FULL
    seeds = scale.p5_seeds if seeds is None else seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"prepare: seeds must be a positive integer, got {seeds!r}")
    path = default_photo_path() if image is None else Path(image)
    pixels = load_image(path)
    mnist = load_mnist() if mnist is None else mnist
    for split, labels in (("training", mnist.train_labels), ("test", mnist.test_labels)):
        missing = [d for d in P5_DIGITS if not np.any(labels == d)]
        if missing:
            raise ValueError(
                f"the {split} set of {mnist.source} has no images of digit "
                f"{' or '.join(map(str, missing))}; Problem 5 needs digits 4 and 9"
            )
    return Inputs(pixels, path, mnist, seeds, scale, quick)


@dataclass
class Section:
    """One problem's part of the report (``problem``: ``"1"`` … ``"7"``, or ``"engine"``):
    its title, the numbers it shows, its figures by file name, its checks, and the seconds it
    took to compute."""

    problem: str
    title: str
    numbers: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0


class Progress:
    """What ``build`` tells while it runs: ``step`` as a problem starts (the ``number``-th of
    ``total``), ``note`` within a long one, ``done`` when its section is complete. This one says
    nothing; ``mathdnn hw4`` shows it."""

    def step(self, title: str, number: int, total: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def done(self, section: Section) -> None:
        pass


# ------------------------------------------------------------------------------ the problems
def problem1(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """The finite-difference filter and its edge maps on the photograph."""
    return {
        "numbers": {"filter": p1.finite_difference_filter().tolist(), "padding": 1},
        "figures": {
            "p1_edges.png": figures.figure_png(
                figures.edges_figure(inputs.image, inputs.image_name)
            )
        },
    }


def pool_size(image: np.ndarray) -> int:
    """The window of Problem 2's figure: ``P2_MAX_K``, or less for a small image (at least 1)."""
    return max(1, min(P2_MAX_K, min(image.shape[:2]) // 16))


def problem2(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """The average pool as a strided depthwise convolution, on the photograph."""
    k = pool_size(inputs.image)
    h, w = inputs.image.shape[:2]
    figure = figures.average_pool_figure(inputs.image, inputs.image_name, k)
    return {
        "numbers": {
            "k": k,
            "filter_entry": 1 / k**2,
            "channels": 1 if inputs.image.ndim == 2 else 3,
            "input_size": [w, h],
            "output_size": [w // k, h // k],
        },
        "figures": {"p2_average_pool.png": figures.figure_png(figure)},
    }


def problem3(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """The 1×1 luma filter, on the photograph."""
    figure = figures.grayscale_figure(inputs.image, inputs.image_name)
    return {
        "numbers": {"weights": p3.grayscale_filter()[0, :, 0, 0].tolist()},
        "figures": {"p3_grayscale.png": figures.figure_png(figure)},
    }


def problem4(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """A counterexample window for each function that is not monotone (the one ``check_commutes``
    finds on the hard inputs), and the rewrite's saving, timed here."""
    x = p4.stress_inputs(np.random.default_rng(0))
    windows: dict[str, tuple[p4.Elementwise, tuple[float, float]]] = {}
    counterexamples = {}
    for name, function in p4.NON_MONOTONE_EXAMPLES.items():
        sigma = p4.FUNCTIONS[function]
        found = p4.check_commutes(sigma, x, 2).counterexample
        if found is None:  # the identity held here after all; the checks say so
            continue
        m, e = (float(v) for v in found.pair[0])
        windows[name] = (sigma, (m, e))
        counterexamples[name] = {
            "window": [m, e],
            "sigma_of_pool": found.sigma_of_pool,
            "pool_of_sigma": found.pool_of_sigma,
        }
    if windows:  # the first window again under a non-decreasing σ, where both sides agree
        windows["tanh"] = (ACTIVATIONS["tanh"].op, next(iter(windows.values()))[1])
    scale = inputs.scale
    rng = np.random.default_rng(0)
    batch = rng.random((scale.pool_first_batch, 1, 28, 28), dtype=np.float32)
    seconds = {}
    for activation in scale.pool_first_activations:
        progress.note(f"timing the rewrite, σ = {activation.__name__}")
        model = p4.small_cnn(activation, rng)
        seconds[activation.__name__] = p4.rewrite_seconds(model, batch, scale.pool_first_repeats)
    layers = " → ".join("σ" if isinstance(m, nn.Activation) else type(m).__name__ for m in model)
    title = (
        f"{layers}\nbatch {scale.pool_first_batch}×1×28×28, float32; median of "
        f"{scale.pool_first_repeats} runs"
    )
    return {
        "numbers": {
            "monotone_activations": [n for n, a in ACTIVATIONS.items() if a.monotone],
            "not_monotone_activations": [n for n, a in ACTIVATIONS.items() if not a.monotone],
            "counterexamples": counterexamples,
            "rewrite": {
                "model": layers,
                "batch": scale.pool_first_batch,
                "repeats": scale.pool_first_repeats,
                "seconds": {
                    name: {"before": before, "after": after, "saving": 1 - after / before}
                    for name, (before, after) in seconds.items()
                },
            },
        },
        "figures": {
            "p4_counterexamples.png": figures.counterexamples_png(windows),
            "p4_pool_first.png": figures.rewrite_saving_png(seconds, title),
        },
    }


def problem5(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """Logistic regression on two digits, trained on KL and on the sum of squares, per seed."""
    m, (neg, pos), scale = inputs.mnist, P5_DIGITS, inputs.scale
    X, y = binary_digits(m.train_images, m.train_labels, neg, pos)
    X_test, y_test = binary_digits(m.test_images, m.test_labels, neg, pos)
    progress.note(f"training 2 losses × {inputs.seeds} seeds × {scale.p5_epochs} epochs")
    began = time.perf_counter()
    comparison = p5.compare(X, y, X_test, y_test, inputs.seeds, P5_LR, P5_BATCH, scale.p5_epochs)
    seconds = time.perf_counter() - began
    test_images = m.test_images[(m.test_labels == neg) | (m.test_labels == pos)]
    return {
        "numbers": {
            "config": {
                "digits": {"-1": neg, "+1": pos},
                "n_train": len(y),
                "n_test": len(y_test),
                "seeds": inputs.seeds,
                "epochs": scale.p5_epochs,
                "lr": P5_LR,
                "batch_size": P5_BATCH,
                "training_seconds": seconds,
            },
            **comparison.results(),
        },
        "figures": {
            "p5_curves.png": figures.curves_png(comparison),
            "p5_loss_functions.png": figures.loss_functions_png(),
            "p5_misclassified.png": figures.misclassified_png(
                comparison, test_images, y_test, (neg, pos)
            ),
        },
    }


def problem6(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """The layer Jacobians of a small MLP, the cost of the explicit products against backprop as
    the width grows, and an MNIST classifier trained by backprop and by autodiff in lockstep."""
    As, bs = p6.init_mlp(P6_HEATMAP_LAYERS, seed=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal(P6_HEATMAP_LAYERS[0])
    scale = inputs.scale
    costs = []
    for n in scale.p6_widths:
        progress.note(f"timing the gradients of an MLP of width {n}")
        jacobian = p6.gradient_cost(n, "jacobian", repeats=scale.p6_repeats)
        backprop = p6.gradient_cost(n, "backprop", repeats=scale.p6_repeats)
        costs.append(
            {
                "n": n,
                "jacobian": dataclasses.asdict(jacobian),
                "backprop": dataclasses.asdict(backprop),
            }
        )
    progress.note(f"training 784-{'-'.join(map(str, MLP_HIDDEN))}-10 by backprop and by autodiff")
    # The lockstep's tolerance is the report's to show, not to stop on: the comparison is a
    # measurement here (the checks of Problem 6 are mathdnn.verify's).
    began = time.perf_counter()
    mlp = p6.compare_training(
        hidden=MLP_HIDDEN,
        activation="relu",
        epochs=scale.mlp_epochs,
        data=inputs.mnist,
        tolerance=math.inf,
    )
    mlp_seconds = time.perf_counter() - began
    return {
        "numbers": {
            "heatmap_mlp": {"layers": list(P6_HEATMAP_LAYERS), "activation": P6_ACTIVATION},
            "costs": {"depth": 4, "activation": "tanh", "dtype": "float64", "rows": costs},
            "mnist_mlp": {
                "layers": list(mlp.layers),
                "activation": mlp.activation,
                "epochs": scale.mlp_epochs,
                "steps": len(mlp.max_param_diff),
                "max_param_difference": float(mlp.max_param_diff.max()),
                "final_loss_backprop": float(mlp.losses_backprop[-1]),
                "final_loss_autodiff": float(mlp.losses_autodiff[-1]),
                "test_accuracy_backprop": mlp.test_accuracy_backprop,
                "test_accuracy_autodiff": mlp.test_accuracy_autodiff,
                "seconds": mlp_seconds,
            },
        },
        "figures": {"p6_jacobians.png": figures.layer_jacobians_png(As, bs, x, P6_ACTIVATION)},
    }


def lenet_epochs(scale: Scale, n_train: int) -> int:
    """Epochs of each LeNet-5: ``scale.lenet_images`` images in all, at most
    ``scale.lenet_epochs`` epochs, at least one."""
    return max(1, min(scale.lenet_epochs, -(-scale.lenet_images // max(n_train, 1))))


def problem7(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """The connection table, the parameter counts, and both LeNet-5s trained alike."""
    m = inputs.mnist
    epochs = lenet_epochs(inputs.scale, len(m.train_labels))
    histories, runs = {}, {}
    for c3 in C3.choices:
        settings = Settings(c3=c3)

        def on_epoch(run: Any, c3: str = c3) -> None:
            progress.note(f"training LeNet-5 with the {c3} C3, epoch {run.epoch}/{epochs}")

        began = time.perf_counter()
        history = train_lenet(m, epochs, settings, on_epoch=on_epoch)
        seconds = time.perf_counter() - began
        histories[f"{c3} C3"] = history
        runs[c3] = {
            "settings": settings.as_dict(),
            "epochs": epochs,
            "per_epoch": history.per_epoch(),
            "final_test_accuracy": history.test_accuracy[-1],
            "final_test_loss": history.test_loss[-1],
            "training_seconds": sum(history.seconds),
            "seconds": seconds,
        }
    lr, batch = Settings().lr, Settings().batch_size
    title = (
        f"LeNet-5, full vs original C3: SGD lr {lr:g}, batch {batch}, seed 0; {m.source}, "
        f"{len(m.train_labels):,} training / {len(m.test_labels):,} test images"
    )
    return {
        "numbers": {
            "connections": p7.CONNECTIONS.tolist(),
            "parameters": parameter_counts(),
            "training": runs,
        },
        "figures": {"p7_learning_curves.png": learning_curve_png(histories, title)},
    }


def engine(inputs: Inputs, progress: Progress) -> dict[str, Any]:
    """The engine under the problems: its checks only."""
    return {}


def _title(module: Any) -> str:
    """A problem's title: the first paragraph of its module's docstring, without ``Problem k:``."""
    first = " ".join(module.__doc__.split("\n\n")[0].split())
    return first.partition(": ")[2].rstrip(".")


#: The report's sections in order: (problem, title, what runs). The checks of each are
#: ``run_suite(problem)``.
STEPS: tuple[tuple[str, str, Callable[[Inputs, Progress], dict[str, Any]]], ...] = (
    ("1", _title(p1), problem1),
    ("2", _title(p2), problem2),
    ("3", _title(p3), problem3),
    ("4", _title(p4), problem4),
    ("5", _title(p5), problem5),
    ("6", _title(p6), problem6),
    ("7", _title(p7), problem7),
    ("engine", "the engine under every problem", engine),
)


# ---------------------------------------------------------------------------------- the report
@dataclass
class Report:
    """Every section, the time the whole run took, and what it ran on."""

    sections: list[Section]
    seconds: float
    inputs: dict[str, Any]
    options: dict[str, Any]
    versions: dict[str, str]
    created: str

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.checks]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def figures(self) -> dict[str, bytes]:
        return {name: png for s in self.sections for name, png in s.figures.items()}

    def counts(self) -> dict[str, int]:
        return tally(self.checks)

    def document(self) -> dict[str, Any]:
        """``results.json``: every number the page shows (strict JSON once written: an infinite
        error of an expected failure is the string ``"inf"``, an unmeasured one ``null``)."""
        return {
            "report": "mathdnn hw4",
            "created": self.created,
            "seconds": self.seconds,
            "options": self.options,
            "inputs": self.inputs,
            "versions": self.versions,
            "summary": self.counts(),
            "figures": sorted(self.figures),
            "problems": {
                s.problem: {
                    "title": s.title,
                    "seconds": s.seconds,
                    **s.numbers,
                    "checks": [check_record(c) for c in s.checks],
                }
                for s in self.sections
            },
        }


def tally(checks: list[Check]) -> dict[str, int]:
    """How many ``checks`` there are, and how many passed, failed and were skipped (a skipped
    check, PyTorch's without PyTorch, neither passes nor fails)."""
    skipped = sum(c.skipped for c in checks)
    failed = sum(not c.passed for c in checks)
    return {
        "checks": len(checks),
        "passed": len(checks) - failed - skipped,
        "failed": failed,
        "skipped": skipped,
    }


def check_record(check: Check) -> dict[str, Any]:
    """A check as JSON: its fields, its status, its error as a number where it is finite."""
    error: float | str | None = check.max_error
    if math.isnan(check.max_error):
        error = None
    elif math.isinf(check.max_error):
        error = "inf" if check.max_error > 0 else "-inf"
    return {
        "problem": check.problem,
        "name": check.name,
        "reference": check.reference,
        "max_error": error,
        "tolerance": check.tolerance,
        "expected_failure": check.expected_failure,
        "skipped": check.skipped,
        "passed": check.passed,
        "status": check.status,
        "detail": check.detail,
    }


def versions() -> dict[str, str]:
    """The software the run used: Python, mathdnn and its libraries, PyTorch if installed (the
    reference of some checks), the platform and the threads mathdnn's kernels use."""
    found = {"python": platform.python_version(), "mathdnn": __version__}
    for package in ("numpy", "matplotlib", "pillow", "tqdm", "threadpoolctl", "torch"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["platform"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    found["mathdnn threads"] = str(get_num_threads())
    return found


def build(inputs: Inputs, progress: Progress | None = None, seed: int = 0) -> Report:
    """Run every problem on ``inputs`` and its checks (``run_suite(problem, seed)``)."""
    progress = Progress() if progress is None else progress
    began = time.perf_counter()
    created = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    sections = []
    for number, (problem, title, run) in enumerate(STEPS, start=1):
        heading = title if problem == "engine" else f"Problem {problem}: {title}"
        progress.step(heading, number, len(STEPS))
        start = time.perf_counter()
        parts = run(inputs, progress)
        progress.note("checking")
        section = Section(problem, title, checks=run_suite(problem, seed), **parts)
        section.seconds = time.perf_counter() - start
        sections.append(section)
        progress.done(section)
    return Report(
        sections=sections,
        seconds=time.perf_counter() - began,
        inputs=inputs.describe(),
        options={
            "quick": inputs.quick,
            "seeds": inputs.seeds,
            "check_seed": seed,
        },
        versions=versions(),
        created=created,
    )
