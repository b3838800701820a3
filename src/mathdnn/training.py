"""Training LeNet-5 on MNIST (Homework 4, Problem 7's networks), with checkpoints that resume a run
bit for bit.

The course's recipe: the cross-entropy of the logits, minibatch SGD with lr 0.1 and batch 100
(or Adam), the test loss and accuracy after each epoch::

    for each epoch:
        for each minibatch (x, y), in a new random order:
            L(θ) = (1/|B|) Σ_{n∈B} −log softmax(f_θ(x_n))[y_n]
            θ ← optimizer step with ∇_θ L
        test loss (the same L over the test set) and accuracy (argmax f_θ(x) = y)

One NumPy ``Generator``, seeded by ``Settings.seed``, draws the initial weights (PyTorch's
default initialisation, ``LeNet5``) and then each epoch's order (``DataLoader``). A checkpoint
(``mathdnn.checkpoint``) after an epoch holds the weights, the optimizer's state, the generator's
state, the settings and the history so far, so ``resume`` + ``fit`` compute exactly what one
uninterrupted ``fit`` would.

``train_lenet(mnist, epochs)`` does it all in one call; ``start``/``resume``, ``fit`` and
``save`` are its steps, for a caller that checkpoints (``mathdnn train lenet``). A loss or weight
that becomes NaN or infinite stops training with ``TrainingDiverged`` before the epoch is
recorded, so the last checkpoint written stays the last good one.
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

import mathdnn.functional as F
from mathdnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mathdnn.data import MNIST, DataLoader, nchw_scale
from mathdnn.engine import from_numpy, no_grad
from mathdnn.hw4 import TrainingDiverged
from mathdnn.models import LeNet5
from mathdnn.nn import Module
from mathdnn.optim import SGD, Adam, Optimizer

__all__ = [
    "DEFAULT_LR",
    "OPTIMIZERS",
    "History",
    "Run",
    "Settings",
    "TrainingDiverged",
    "describe_data",
    "evaluate",
    "fit",
    "learning_curve_figure",
    "learning_curve_png",
    "log_ticks",
    "resume",
    "save",
    "start",
    "train_epoch",
    "train_lenet",
]

#: The optimizers, by the names of ``Settings.optimizer``, and their default learning rates:
#: the course's 0.1 for SGD, PyTorch's default 1e-3 for Adam.
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3}

#: A progress callback: called after each minibatch with its loss and its number of images.
OnBatch = Callable[[float, int], object]


@dataclass(frozen=True)
class Settings:
    """What a run trains and how: ``c3`` (``"full"`` or ``"original"``), ``optimizer``
    (``"sgd"`` or ``"adam"``), ``lr`` (None: ``DEFAULT_LR[optimizer]``), ``batch_size`` and
    ``seed`` (of the initial weights and the batches' order)."""

    c3: str = "full"
    optimizer: str = "sgd"
    lr: float | None = None
    batch_size: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        fn = "Settings"
        if self.c3 not in ("full", "original"):
            raise ValueError(f"{fn}: c3 must be 'full' or 'original', got {self.c3!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"{fn}: optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        lr = DEFAULT_LR[self.optimizer] if self.lr is None else self.lr
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"{fn}: lr must be a number, got {lr!r}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"{fn}: lr must be a positive finite number, got {lr!r}")
        object.__setattr__(self, "lr", float(lr))
        for name in ("batch_size", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{fn}: {name} must be an int, got {value!r}")
        if self.batch_size < 1:
            raise ValueError(f"{fn}: batch_size must be positive, got {self.batch_size}")
        if self.seed < 0:
            raise ValueError(f"{fn}: seed must be non-negative, got {self.seed}")


@dataclass
class History:
    """Per epoch (index ``e`` = after epoch ``e + 1``): the mean training loss over the epoch's
    minibatches (as the weights moved), the test loss and accuracy at its end, and the seconds
    its training took (without the evaluation)."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)

    @classmethod
    def from_dict(cls, fn: str, values: Any) -> History:
        """A history from ``as_dict()``, checked: the four lists, of one length, of finite
        numbers."""
        names = [f.name for f in cls.__dataclass_fields__.values()]
        if not isinstance(values, Mapping) or sorted(values) != sorted(names):
            raise ValueError(f"{fn}: a history must be a dict of the lists {names}")
        lists = {name: values[name] for name in names}
        lengths = {len(v) if isinstance(v, list) else -1 for v in lists.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError(f"{fn}: the history's lists must have one length, got {lists!r:.120}")
        for name, v in lists.items():
            if not all(isinstance(x, int | float) and math.isfinite(x) for x in v):
                raise ValueError(f"{fn}: the history's {name} must be finite numbers")
        return cls(**{name: [float(x) for x in v] for name, v in lists.items()})


@dataclass
class Run:
    """A training run: its settings, the model, optimizer and loader, the test set (float32
    ``(N, 1, 28, 28)`` images and labels), a description of its data (``describe_data``) and
    the history of the epochs done."""

    settings: Settings
    model: LeNet5
    optimizer: Optimizer
    loader: DataLoader
    test_images: np.ndarray
    test_labels: np.ndarray
    data: dict[str, Any]
    history: History

    @property
    def epoch(self) -> int:
        """The number of epochs done."""
        return len(self.history)


def describe_data(mnist: MNIST) -> dict[str, Any]:
    """Where the data came from, its sizes and a sha256 of its arrays (to check that a run is
    resumed on the data it started on)."""
    h = hashlib.sha256()
    for array in (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels):
        h.update(np.ascontiguousarray(array).tobytes())
    return {
        "source": mnist.source,
        "n_train": len(mnist.train_labels),
        "n_test": len(mnist.test_labels),
        "sha256": h.hexdigest(),
    }


def _check_mnist(fn: str, mnist: Any) -> None:
    if not isinstance(mnist, MNIST):
        raise TypeError(f"{fn}: mnist must be an mathdnn.data.MNIST, got {type(mnist).__name__}")
    if len(mnist.train_labels) == 0 or len(mnist.test_labels) == 0:
        raise ValueError(
            f"{fn}: mnist must have training and test images, got {len(mnist.train_labels)} and "
            f"{len(mnist.test_labels)}"
        )


def _run(
    settings: Settings,
    mnist: MNIST,
    model: LeNet5,
    optimizer: Optimizer,
    rng: np.random.Generator | None,
) -> Run:
    loader = DataLoader(
        nchw_scale(mnist.train_images),
        mnist.train_labels,
        batch_size=settings.batch_size,
        shuffle=True,
        generator=rng,
    )
    return Run(
        settings,
        model,
        optimizer,
        loader,
        nchw_scale(mnist.test_images),
        mnist.test_labels,
        describe_data(mnist),
        History(),
    )


def start(mnist: MNIST, settings: Settings | None = None) -> Run:
    """A new run on ``mnist`` (``mathdnn.data.load_mnist()``): the model's initial weights, then
    the loader's orders, drawn from one generator seeded by ``settings.seed``."""
    _check_mnist("start", mnist)
    settings = Settings() if settings is None else settings
    if not isinstance(settings, Settings):
        raise TypeError(f"start: settings must be a Settings, got {type(settings).__name__}")
    rng = np.random.default_rng(settings.seed)
    model = LeNet5(c3=settings.c3, rng=rng)
    optimizer = OPTIMIZERS[settings.optimizer](model.parameters(), lr=settings.lr)
    return _run(settings, mnist, model, optimizer, rng)


def save(run: Run, path: str | os.PathLike[str]) -> Path:
    """Write ``run`` (after its last epoch) as the checkpoint ``path``, atomically."""
    return save_checkpoint(
        path,
        run.model,
        run.optimizer,
        run.epoch,
        run.loader.state_dict(),
        {"settings": asdict(run.settings), "data": run.data, "history": run.history.as_dict()},
    )


def resume(path: str | os.PathLike[str], mnist: MNIST) -> Run:
    """The run saved by ``save`` in the checkpoint ``path``, to go on training on ``mnist``
    (the data it started on, checked by its sha256).

    Raises ``CheckpointError`` naming the file if it is not a checkpoint of this module (see
    ``load_checkpoint`` for the rest), or ``mnist`` is other data than the run's.
    """
    _check_mnist("resume", mnist)
    checkpoint = load_checkpoint(path)

    def fail(message: str) -> CheckpointError:
        return CheckpointError(f"resume: {checkpoint.path}: {message}")

    extra = checkpoint.extra
    if sorted(extra) != ["data", "history", "settings"]:
        raise fail("not a checkpoint of mathdnn.training (it has no training settings and history)")
    try:
        settings = Settings(**extra["settings"])
        history = History.from_dict("resume", extra["history"])
    except (TypeError, ValueError) as err:
        raise fail(f"its training settings or history are invalid: {err}") from None
    model, optimizer = checkpoint.model, checkpoint.optimizer
    if not isinstance(model, LeNet5) or model.config()["c3"] != settings.c3:
        raise fail(
            f"it holds {type(model).__name__}({model.config()}), not the LeNet5 with "
            f"c3={settings.c3!r} of its settings"
        )
    if type(optimizer) is not OPTIMIZERS[settings.optimizer]:
        has = "no optimizer" if optimizer is None else f"a {type(optimizer).__name__} optimizer"
        raise fail(f"it has {has}, not the {settings.optimizer} of its settings")
    if len(history) != checkpoint.epoch or checkpoint.loader_state is None:
        raise fail(
            f"it holds {len(history)} epochs of history for epoch {checkpoint.epoch}, and "
            f"{'no' if checkpoint.loader_state is None else 'a'} data loader state"
        )
    data = describe_data(mnist)
    saved = extra["data"] if isinstance(extra["data"], dict) else {}
    if saved.get("sha256") != data["sha256"]:
        raise fail(
            f"it was trained on other data, {saved.get('source', '?')} ({saved.get('n_train', '?')}"
            f" training / {saved.get('n_test', '?')} test images), not on {data['source']} "
            f"({data['n_train']} / {data['n_test']})"
        )
    run = _run(settings, mnist, model, optimizer, None)
    try:
        run.loader.load_state_dict(checkpoint.loader_state)
    except ValueError as err:
        raise fail(f"its data loader state does not fit: {err}") from None
    if run.loader.state_dict()["next_batch"] != 0:
        raise fail("it was saved in the middle of an epoch; resume needs one saved after an epoch")
    run.history = history
    return run


# ------------------------------------------------------------------------------ the loop
def train_epoch(
    model: Module, optimizer: Optimizer, loader: DataLoader, on_batch: OnBatch | None = None
) -> float:
    """One pass over ``loader``: per minibatch ``(x, y)``, ``L = cross_entropy(model(x), y)``,
    its gradient, one optimizer step. Returns the mean of ``L`` over the images.

    Raises ``TrainingDiverged`` at the first minibatch whose loss is NaN or infinite, before its
    step."""
    total, count = 0.0, 0
    # A diverging run overflows (inf, then inf − inf = NaN): the check of the loss reports it.
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(from_numpy(x)), y)
            value = float(loss.data)
            if not math.isfinite(value):
                raise TrainingDiverged(f"train_epoch: the loss is {value} at minibatch {k + 1}")
            loss.backward()
            optimizer.step()
            total += value * len(y)
            count += len(y)
            if on_batch is not None:
                on_batch(value, len(y))
    return total / count


def evaluate(
    model: Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000
) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``(images, labels)``, without
    gradients, ``batch_size`` images at a time; accuracy is the fraction with
    ``argmax model(x) = y``."""
    if len(labels) == 0:
        raise ValueError("evaluate: there are no images to evaluate on")
    loss_sum, correct = 0.0, 0
    with no_grad(), np.errstate(over="ignore", invalid="ignore"):  # fit checks the result
        for first in range(0, len(labels), batch_size):
            x, y = images[first : first + batch_size], labels[first : first + batch_size]
            logits = model(from_numpy(x))
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum").data)
            correct += int(np.sum(logits.data.argmax(axis=1) == y))
    return loss_sum / len(labels), correct / len(labels)


def fit(
    run: Run,
    epochs: int,
    on_batch: OnBatch | None = None,
    on_epoch: Callable[[Run], object] | None = None,
) -> History:
    """Train ``run`` until it has done ``epochs`` epochs in all, evaluating on its test set after
    each; ``on_batch(loss, n_images)`` after each minibatch, ``on_epoch(run)`` after each epoch
    is recorded (to save a checkpoint, print a line). Returns ``run.history``.

    Raises ``TrainingDiverged`` if a loss, the test loss or a weight becomes NaN or infinite;
    that epoch is not recorded, so ``on_epoch`` has seen only good ones.
    """
    fn = "fit"
    if not isinstance(run, Run):
        raise TypeError(f"{fn}: run must be a Run (from start or resume), got {type(run).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise TypeError(f"{fn}: epochs must be an int, got {epochs!r}")
    if epochs <= run.epoch:
        raise ValueError(
            f"{fn}: epochs is the total to reach and must exceed the {run.epoch} epochs done, "
            f"got {epochs}"
        )
    while run.epoch < epochs:
        epoch = run.epoch + 1
        began = time.perf_counter()
        try:
            train_loss = train_epoch(run.model, run.optimizer, run.loader, on_batch)
        except TrainingDiverged as err:
            raise TrainingDiverged(f"{fn}: epoch {epoch}: {err}") from None
        seconds = time.perf_counter() - began
        test_loss, accuracy = evaluate(run.model, run.test_images, run.test_labels)
        finite = all(np.isfinite(p.data).all() for p in run.model.parameters())
        if not (finite and math.isfinite(test_loss)):
            raise TrainingDiverged(
                f"{fn}: epoch {epoch}: the weights or the test loss ({test_loss}) are not finite"
            )
        for name, value in (
            ("train_loss", train_loss),
            ("test_loss", test_loss),
            ("test_accuracy", accuracy),
            ("seconds", seconds),
        ):
            getattr(run.history, name).append(value)
        if on_epoch is not None:
            on_epoch(run)
    return run.history


def train_lenet(
    mnist: MNIST,
    epochs: int,
    settings: Settings | None = None,
    on_batch: OnBatch | None = None,
    on_epoch: Callable[[Run], object] | None = None,
) -> History:
    """Train a new ``LeNet5`` on ``mnist`` for ``epochs`` epochs: ``fit(start(mnist, settings),
    epochs, on_batch, on_epoch)``. Returns the per-epoch history; ``on_epoch`` sees the run (its
    model, optimizer, ...)."""
    return fit(start(mnist, settings), epochs, on_batch, on_epoch)


# -------------------------------------------------------------------- Problem 7's counts
# ---------------------------------------------------------------------------- the figure
def log_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Ticks for a log axis that shows ``low`` to ``high``, written as plain numbers: ``1, 2, 3,
    5, 7`` times the powers of ten in the range, thinned to ``1, 2, 5`` and then to the powers
    alone when there would be more than ``most``, and the nearest one beyond each end, so that
    both ends of the axis are labelled."""
    for digits in ((1, 2, 3, 5, 7), (1, 2, 5), (1,)):
        ticks = [
            d * 10.0**k
            for k in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
            for d in digits
        ]
        inside = [t for t in ticks if low <= t <= high]
        if len(inside) <= most:
            break
    below = [t for t in ticks if t < low][-1:]
    above = [t for t in ticks if t > high][:1]
    return below + inside + above


def learning_curve_figure(history: History | Mapping[str, History], title: str) -> Figure:
    """Two panels per epoch: the training and test cross-entropy (log scale), and the test
    accuracy. ``history`` is one run's, or several runs' by their labels, drawn one colour per
    run (training dashed, test solid) to compare them; each run's final accuracy is in the
    legend, so no label lies on a curve."""
    runs = {"": history} if isinstance(history, History) else dict(history)
    if not runs or any(len(h) == 0 for h in runs.values()):
        raise ValueError("learning_curve_png: the history has no epochs")
    fig = Figure(figsize=(11, 4.2))
    loss_ax, accuracy_ax = fig.subplots(1, 2)
    for k, (label, h) in enumerate(runs.items()):
        epochs = np.arange(1, len(h) + 1)
        if label:  # several runs: a colour per run
            colours = (f"C{k}", f"C{k}", f"C{k}")
            names = (f"{label}: training", f"{label}: test")
        else:
            colours = ("C0", "C1", "tab:green")
            names = ("training (mean over the epoch)", "test (after the epoch)")
        train_style = "o--" if label else "o-"
        loss_ax.plot(epochs, h.train_loss, train_style, ms=3, color=colours[0], label=names[0])
        loss_ax.plot(epochs, h.test_loss, "o-", ms=3, color=colours[1], label=names[1])
        percent = 100 * np.asarray(h.test_accuracy)
        final = f"final {percent[-1]:.1f} %"
        accuracy_ax.plot(
            epochs,
            percent,
            "o-",
            ms=3,
            color=colours[2],
            label=f"{label}, {final}" if label else final,
        )
    loss_ax.set_yscale("log")
    losses = [v for h in runs.values() for v in (*h.train_loss, *h.test_loss) if v > 0]
    ticks = log_ticks(min(losses), max(losses))
    loss_ax.set_ylim(ticks[0], ticks[-1])
    loss_ax.yaxis.set_major_locator(FixedLocator(ticks))
    loss_ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    loss_ax.yaxis.set_minor_formatter(NullFormatter())
    loss_ax.set_ylabel("cross-entropy")
    loss_ax.set_title("loss")
    loss_ax.legend(fontsize=9)
    accuracy_ax.set_ylabel("test accuracy (%)")
    accuracy_ax.set_title("test accuracy")
    accuracy_ax.legend(fontsize=9, loc="lower right")
    for ax in (loss_ax, accuracy_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def learning_curve_png(history: History | Mapping[str, History], title: str) -> bytes:
    """``learning_curve_figure`` as PNG bytes, 120 dpi."""
    buffer = io.BytesIO()
    learning_curve_figure(history, title).savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()
