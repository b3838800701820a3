"""Training: the one loop every network here is trained by, its history, the settings of a
LeNet-5 run declared once, and checkpoints that resume a run bit for bit.

The loop (``fit``), for any model, objective, optimizer and minibatches::

    for each epoch:
        for each minibatch (x, y), in the loader's order:
            L(θ) = loss(model_θ(x), y)          (a scalar: the batch's mean)
            θ ← optimizer step with ∇_θ L
        evaluate the model (the run's ``evaluation``: test loss, accuracy, …)

It trains Problem 5's logistic regressions (``mathdnn.hw4.p5_losses``), Problem 6's MLP
(``mathdnn.hw4.p6_jacobians``) and Problem 7's LeNet-5s (``train_lenet``, ``mathdnn train
lenet``), and writes what it measured into one ``History``. A loss, weight or evaluation that
becomes NaN or infinite stops it with ``TrainingDiverged`` before the epoch is recorded.

A LeNet-5 run follows the course's recipe: the cross-entropy of the logits, minibatch SGD with
lr 0.1 and batch 100 (or Adam), the test loss and accuracy after each epoch. Its ``Settings``
are declared once, in ``SETTINGS`` (each one's choices or check, its help text and where a
checkpoint keeps it), and the command line, the checkpoint and the report read them there. One
NumPy ``Generator``, seeded by ``Settings.seed``, draws the initial weights (PyTorch's default
initialisation, ``LeNet5``) and then each epoch's order (``DataLoader``). A checkpoint
(``mathdnn.checkpoint``) after an epoch holds the weights, the optimizer's state, the generator's
state, the settings and the history so far, so ``resume`` + ``fit`` compute exactly what one
uninterrupted ``fit`` would. ``train_lenet(mnist, epochs)`` does it all in one call;
``start``/``resume``, ``fit`` and ``save`` are its steps, for a caller that checkpoints.
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

import mathdnn.functional as F
from mathdnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mathdnn.data import MNIST, DataLoader, nchw_scale
from mathdnn.engine import Tensor, from_numpy, no_grad
from mathdnn.models import C3_CHOICES, LeNet5
from mathdnn.nn import Module
from mathdnn.optim import SGD, Adam, Optimizer

__all__ = [
    "BATCH_SIZE",
    "C3",
    "DEFAULT_LR",
    "EPOCHS",
    "LR",
    "OPTIMIZER",
    "OPTIMIZERS",
    "SEED",
    "SETTINGS",
    "History",
    "Run",
    "Setting",
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


class TrainingDiverged(ValueError):
    """Training produced a non-finite loss or parameter (NaN or ±inf): the learning rate is too
    large for the problem. Raised as soon as it is seen, before any result is reported."""


#: The optimizers, by the names of ``Settings.optimizer``, and their default learning rates:
#: the course's 0.1 for SGD, PyTorch's default 1e-3 for Adam.
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3}

#: Called after each minibatch's step with its loss and the minibatch ``(x, y)`` itself.
OnBatch = Callable[[float, np.ndarray, np.ndarray], object]


# ------------------------------------------------------------------- the settings, declared once
def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be {' or '.join(map(repr, choices))}, got {value!r}")
        return value

    return check


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a positive finite number, got {value!r}")
    return float(value)


def _int_from(low: int, word: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"must be {word}, got {value}")
        return int(value)

    return check


@dataclass(frozen=True)
class Setting:
    """One setting of a training run, declared once: its ``name`` (the flag is ``--name`` with
    dashes), the ``type`` a flag's text is read as, what it means (``help``), its ``check`` (which
    returns the value, normalised, or raises ``ValueError``/``TypeError`` saying what it must
    be), its ``default`` (``default_text`` says it in words where it depends on another setting),
    its ``choices`` if it has a few, and ``kept_by``: how a checkpoint's model and optimizer
    already hold it (None: the checkpoint stores it among the run's settings)."""

    name: str
    type: type
    help: str
    check: Callable[[Any], Any]
    default: Any = None
    default_text: str = ""
    choices: tuple[str, ...] | None = None
    kept_by: Callable[[Module, Optimizer], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any, where: str) -> Any:
        """``check(value)``, its error prefixed by ``where`` (``"Settings: lr"``, ``"--lr"``)."""
        try:
            return self.check(value)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where} {err}") from None

    def add_argument(self, parser: Any, default: Any = None, note: str = "") -> None:
        """Add the flag to an ``argparse`` parser; ``default`` is the flag's own (None: not
        given, so that a caller can tell; --help then states the setting's default), ``note``
        what the command adds to the help."""
        shown = default if default is not None else self.default_text or self.default
        parser.add_argument(
            self.flag,
            type=self.type,
            choices=self.choices,
            default=default,
            help=f"{' '.join(filter(None, (self.help, note)))} (default {shown})",
        )


C3 = Setting(
    "c3",
    str,
    "C3 connected to all 6 input maps, or by the 1998 paper's table",
    _choice(C3_CHOICES),
    default=C3_CHOICES[0],
    choices=C3_CHOICES,
    kept_by=lambda model, optimizer: model.config()["c3"],
)
OPTIMIZER = Setting(
    "optimizer",
    str,
    "the update rule",
    _choice(tuple(OPTIMIZERS)),
    default="sgd",
    choices=tuple(OPTIMIZERS),
    kept_by=lambda model, optimizer: {v: k for k, v in OPTIMIZERS.items()}[type(optimizer)],
)
LR = Setting(
    "lr",
    float,
    "learning rate",
    _positive_number,
    default_text=", ".join(f"{lr:g} for {name}" for name, lr in DEFAULT_LR.items()),
    kept_by=lambda model, optimizer: optimizer.param_groups[0]["lr"],
)
POSITIVE = _int_from(1, "a positive integer")
BATCH_SIZE = Setting("batch_size", int, "minibatch size", POSITIVE, default=100)
SEED = Setting(
    "seed",
    int,
    "seed of the initial weights and of the batches' order",
    _int_from(0, "a non-negative integer"),
    default=0,
)
#: The number of epochs to train: not a setting of the run (a resumed run goes on to more),
#: but declared alike for the commands that take it.
EPOCHS = Setting("epochs", int, "epochs", POSITIVE, default=30)

#: The settings of a LeNet-5 run, the fields of ``Settings`` in order.
SETTINGS: tuple[Setting, ...] = (C3, OPTIMIZER, LR, BATCH_SIZE, SEED)


@dataclass(frozen=True)
class Settings:
    """What a LeNet-5 run trains and how, each field checked by its declaration in
    ``SETTINGS``: ``c3`` (``"full"`` or ``"original"``), ``optimizer`` (``"sgd"`` or
    ``"adam"``), ``lr`` (None: ``DEFAULT_LR[optimizer]``), ``batch_size`` and ``seed`` (of the
    initial weights and the batches' order)."""

    c3: str = C3.default
    optimizer: str = OPTIMIZER.default
    lr: float | None = None
    batch_size: int = BATCH_SIZE.default
    seed: int = SEED.default

    def __post_init__(self) -> None:
        if self.lr is None and self.optimizer in DEFAULT_LR:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        for setting in SETTINGS:
            value = setting.validate(getattr(self, setting.name), f"Settings: {setting.name}")
            object.__setattr__(self, setting.name, value)

    def as_dict(self) -> dict[str, Any]:
        return {setting.name: getattr(self, setting.name) for setting in SETTINGS}


# --------------------------------------------------------------------------------- the history
def _is_finite_float(x: Any) -> bool:
    """Whether JSON's ``x`` is a number a float holds finitely (10**400 is not)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


@dataclass
class History:
    """What a run measured. Per epoch (index ``e`` = after epoch ``e + 1``): ``train_loss``, the
    mean loss over the epoch's training examples as the weights moved; ``seconds``, the time its
    training took (without the evaluation); and ``metrics[name]``, each number of the run's
    evaluation after it (a LeNet-5 run's: ``test_loss`` and ``test_accuracy``). Per minibatch,
    over the whole run: ``step_loss``, the loss its step descended."""

    train_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    step_loss: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def test_loss(self) -> list[float]:
        return self.metrics["test_loss"]

    @property
    def test_accuracy(self) -> list[float]:
        return self.metrics["test_accuracy"]

    def per_epoch(self) -> dict[str, list[float]]:
        """The per-epoch lists by name: ``train_loss``, each metric, ``seconds``."""
        return {"train_loss": self.train_loss, **self.metrics, "seconds": self.seconds}

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-able (for a checkpoint; ``from_dict`` reads it back)."""
        return {
            "train_loss": self.train_loss,
            "seconds": self.seconds,
            "metrics": self.metrics,
            "step_loss": self.step_loss,
        }

    @classmethod
    def from_dict(cls, fn: str, values: Any) -> History:
        """A history from ``as_dict()``, checked: lists of finite numbers, one entry per epoch
        in ``train_loss``, ``seconds`` and each metric."""
        names = ("train_loss", "seconds", "metrics", "step_loss")
        if not isinstance(values, Mapping) or sorted(values) != sorted(names):
            raise ValueError(f"{fn}: a history must be a dict of {', '.join(names)}")
        metrics = values["metrics"]
        if not isinstance(metrics, Mapping) or not all(isinstance(k, str) for k in metrics):
            raise ValueError(f"{fn}: the history's metrics must be a dict of lists by name")
        lists = {
            "train_loss": values["train_loss"],
            "seconds": values["seconds"],
            **{f"metric {k}": v for k, v in metrics.items()},
            "step_loss": values["step_loss"],
        }
        for name, v in lists.items():
            if not (isinstance(v, list) and all(_is_finite_float(x) for x in v)):
                raise ValueError(f"{fn}: the history's {name} must be a list of finite numbers")
        epochs = {len(v) for name, v in lists.items() if name != "step_loss"}
        if len(epochs) != 1:
            raise ValueError(f"{fn}: the history's per-epoch lists must have one length")
        floats = {name: [float(x) for x in v] for name, v in lists.items()}
        return cls(
            floats["train_loss"],
            floats["seconds"],
            {k: floats[f"metric {k}"] for k in metrics},
            floats["step_loss"],
        )


# ------------------------------------------------------------------------------------ the loop
@dataclass
class Run:
    """A training run: the ``model``, the objective ``loss(model(x), y)`` (a scalar tensor), the
    ``optimizer`` over the model's parameters, the ``loader`` of minibatches, the
    ``evaluation`` after each epoch (``model → {name: number}``, or None) and the ``history`` so
    far. A LeNet-5 run of ``start``/``resume`` also has its ``settings`` and ``data``
    (``describe_data``)."""

    model: Module
    loss: Callable[[Tensor, np.ndarray], Tensor]
    optimizer: Optimizer
    loader: DataLoader
    evaluation: Callable[[Module], Mapping[str, float]] | None = None
    history: History = field(default_factory=History)
    settings: Settings | None = None
    data: dict[str, Any] | None = None

    @property
    def epoch(self) -> int:
        """The number of epochs done."""
        return len(self.history)


def train_epoch(
    model: Module,
    loss: Callable[[Tensor, np.ndarray], Tensor],
    optimizer: Optimizer,
    loader: DataLoader,
    on_batch: OnBatch | None = None,
) -> tuple[float, list[float]]:
    """One pass over ``loader``: per minibatch ``(x, y)``, ``L = loss(model(x), y)``, its
    gradient, one optimizer step. Returns the mean of ``L`` over the examples and the list of
    the minibatches' ``L``.

    Raises ``TrainingDiverged`` at the first minibatch whose loss is NaN or infinite, before its
    step."""
    total, count, losses = 0.0, 0, []
    # A diverging run overflows (inf, then inf − inf = NaN): the check of the loss reports it.
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            objective = loss(model(from_numpy(x)), y)
            value = float(objective.data)
            if not math.isfinite(value):
                raise TrainingDiverged(f"train_epoch: the loss is {value} at minibatch {k + 1}")
            objective.backward()
            optimizer.step()
            total += value * len(y)
            count += len(y)
            losses.append(value)
            if on_batch is not None:
                on_batch(value, x, y)
    if count == 0:
        raise ValueError("train_epoch: the loader gave no minibatches")
    return total / count, losses


def fit(
    run: Run,
    epochs: int,
    on_batch: OnBatch | None = None,
    on_epoch: Callable[[Run], object] | None = None,
) -> History:
    """Train ``run`` until it has done ``epochs`` epochs in all, evaluating it after each;
    ``on_batch(loss, x, y)`` after each minibatch's step, ``on_epoch(run)`` after each epoch is
    recorded (to save a checkpoint, print a line). Returns ``run.history``.

    Raises ``TrainingDiverged`` if a loss, a weight or a number of the evaluation becomes NaN or
    infinite; that epoch is not recorded, so ``on_epoch`` has seen only good ones.
    """
    fn = "fit"
    if not isinstance(run, Run):
        raise TypeError(f"{fn}: run must be a Run, got {type(run).__name__}")
    EPOCHS.validate(epochs, f"{fn}: epochs")
    if epochs <= run.epoch:
        raise ValueError(
            f"{fn}: epochs is the total to reach and must exceed the {run.epoch} epochs done, "
            f"got {epochs}"
        )
    history = run.history
    while run.epoch < epochs:
        epoch = run.epoch + 1
        began = time.perf_counter()
        try:
            train_loss, step_loss = train_epoch(
                run.model, run.loss, run.optimizer, run.loader, on_batch
            )
        except TrainingDiverged as err:
            raise TrainingDiverged(f"{fn}: epoch {epoch}: {err}") from None
        seconds = time.perf_counter() - began
        metrics = {} if run.evaluation is None else dict(run.evaluation(run.model))
        finite = all(np.isfinite(p.data).all() for p in run.model.parameters())
        if not (finite and all(math.isfinite(v) for v in metrics.values())):
            raise TrainingDiverged(
                f"{fn}: epoch {epoch}: the weights or the evaluation ({metrics}) are not finite"
            )
        history.train_loss.append(train_loss)
        history.seconds.append(seconds)
        for name, value in metrics.items():
            history.metrics.setdefault(name, []).append(value)
        history.step_loss.extend(step_loss)
        if on_epoch is not None:
            on_epoch(run)
    return history


# --------------------------------------------------------------------------- LeNet-5 on MNIST
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


def _lenet_run(
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
    test_images, test_labels = nchw_scale(mnist.test_images), mnist.test_labels

    def evaluation(model: Module) -> dict[str, float]:
        test_loss, accuracy = evaluate(model, test_images, test_labels)
        return {"test_loss": test_loss, "test_accuracy": accuracy}

    return Run(
        model,
        F.cross_entropy,
        optimizer,
        loader,
        evaluation,
        settings=settings,
        data=describe_data(mnist),
    )


def start(mnist: MNIST, settings: Settings | None = None) -> Run:
    """A new LeNet-5 run on ``mnist`` (``mathdnn.data.load_mnist()``): the model's initial
    weights, then the loader's orders, drawn from one generator seeded by ``settings.seed``."""
    _check_mnist("start", mnist)
    settings = Settings() if settings is None else settings
    if not isinstance(settings, Settings):
        raise TypeError(f"start: settings must be a Settings, got {type(settings).__name__}")
    rng = np.random.default_rng(settings.seed)
    model = LeNet5(c3=settings.c3, rng=rng)
    optimizer = OPTIMIZERS[settings.optimizer](model.parameters(), lr=settings.lr)
    return _lenet_run(settings, mnist, model, optimizer, rng)


def save(run: Run, path: str | os.PathLike[str]) -> Path:
    """Write the LeNet-5 run ``run`` (after its last epoch) as the checkpoint ``path``,
    atomically. Each setting is stored once: those the model and the optimizer hold
    (``Setting.kept_by``) only there, the others in ``extra["settings"]``."""
    if not isinstance(run, Run) or run.settings is None or run.data is None:
        raise TypeError("save: run must be a LeNet-5 Run of start or resume (with its settings)")
    stored = {s.name: getattr(run.settings, s.name) for s in SETTINGS if s.kept_by is None}
    return save_checkpoint(
        path,
        run.model,
        run.optimizer,
        run.epoch,
        run.loader.state_dict(),
        {"settings": stored, "data": run.data, "history": run.history.as_dict()},
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
    model, optimizer = checkpoint.model, checkpoint.optimizer
    if not isinstance(model, LeNet5):
        raise fail(f"it holds a {type(model).__name__}, not a LeNet5")
    if optimizer is None or type(optimizer) not in OPTIMIZERS.values():
        has = "no optimizer" if optimizer is None else f"a {type(optimizer).__name__} optimizer"
        raise fail(f"it has {has}, not one of {', '.join(OPTIMIZERS)}")
    if len(optimizer.param_groups) != 1:
        raise fail(f"its optimizer has {len(optimizer.param_groups)} param groups, not one")
    stored = extra["settings"]
    expected = sorted(s.name for s in SETTINGS if s.kept_by is None)
    if not isinstance(stored, dict) or sorted(stored) != expected:
        raise fail(
            f"its training settings must be {{{', '.join(expected)}}} (the others are the "
            f"model's and the optimizer's), got {stored!r:.80}"
        )
    values = {
        s.name: stored[s.name] if s.kept_by is None else s.kept_by(model, optimizer)
        for s in SETTINGS
    }
    try:
        settings = Settings(**values)
        history = History.from_dict("resume", extra["history"])
    except (TypeError, ValueError) as err:
        raise fail(f"its training settings or history are invalid: {err}") from None
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
    run = _lenet_run(settings, mnist, model, optimizer, None)
    try:
        run.loader.load_state_dict(checkpoint.loader_state)
    except ValueError as err:
        raise fail(f"its data loader state does not fit: {err}") from None
    if run.loader.state_dict()["next_batch"] != 0:
        raise fail("it was saved in the middle of an epoch; resume needs one saved after an epoch")
    run.history = history
    return run


def train_lenet(
    mnist: MNIST,
    epochs: int,
    settings: Settings | None = None,
    on_batch: OnBatch | None = None,
    on_epoch: Callable[[Run], object] | None = None,
) -> History:
    """Train a new ``LeNet5`` on ``mnist`` for ``epochs`` epochs: ``fit(start(mnist, settings),
    epochs, on_batch, on_epoch)``. Returns the history; ``on_epoch`` sees the run (its model,
    optimizer, ...)."""
    return fit(start(mnist, settings), epochs, on_batch, on_epoch)


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
