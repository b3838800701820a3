"""``mathdnn train lenet``: train the course's LeNet-5 on MNIST (with the full or the original
C3), with a checkpoint after every epoch that ``--resume`` continues bit for bit.

Writes to the output directory ``checkpoint.safetensors`` (after each epoch, atomically),
``results.json`` and ``learning_curve.png`` (at the end); prints the test accuracy after each
epoch and the homework's table of LeNet-5 (``mathdnn.hw4.registry.TRAIN_LENET``, a
``TrainingNote``). Every argument is checked, the data loaded and the checkpoint read before any
training, so a bad input writes nothing. The loop is ``mathdnn.training``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mathdnn.command import Command, CommandError, add_mnist_dir, mnist_data
from mathdnn.data import MNIST
from mathdnn.hw4.registry import TRAIN_LENET as NOTE
from mathdnn.io import atomic_write, check_writable, write_json
from mathdnn.threads import get_num_threads
from mathdnn.training import (
    EPOCHS,
    SETTINGS,
    Run,
    Settings,
    TrainingDiverged,
    fit,
    learning_curve_png,
    resume,
    save,
    start,
)

CHECKPOINT = "checkpoint.safetensors"
OUTPUT_FILES = (CHECKPOINT, "results.json", "learning_curve.png")


def arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    lenet = models.add_parser(
        "lenet",
        help=NOTE.help,
        description="Train the course's LeNet-5 (tanh, average pooling, cross-entropy) on MNIST "
        "with minibatch SGD (lr 0.1, batch 100) or Adam; print the test accuracy after each "
        f"epoch and {NOTE.title}; write checkpoint.safetensors (after every "
        "epoch), results.json and learning_curve.png to OUTDIR. --resume continues the run in "
        "OUTDIR with its own settings, exactly as if it had never stopped.",
    )
    add_mnist_dir(lenet)
    EPOCHS.add_argument(lenet, EPOCHS.default, "in all, counting those of a resumed run")
    for setting in SETTINGS:  # not given: a new run's default, a resumed run's own
        setting.add_argument(lenet)
    lenet.add_argument(
        "-o", "--output", default="lenet-out", metavar="OUTDIR", help="default lenet-out"
    )
    lenet.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the run saved in OUTDIR/{CHECKPOINT} (its settings; --epochs in all)",
    )
    lenet.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_args(args: argparse.Namespace) -> Path:
    """Check the numbers and the output directory; returns the checkpoint's path."""
    EPOCHS.validate(args.epochs, EPOCHS.flag)
    for setting in SETTINGS:
        if getattr(args, setting.name) is not None:
            setting.validate(getattr(args, setting.name), setting.flag)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CommandError(f"-o: {out} exists and is not a directory")
    for name in OUTPUT_FILES:
        check_writable(out / name, file=True)
    return out / CHECKPOINT


def _resumed(args: argparse.Namespace, path: Path, mnist: MNIST) -> Run:
    """The run saved at ``path``, checked against the flags given."""
    if not os.path.lexists(path):  # anything else there, load_checkpoint says what it is
        raise CommandError(f"--resume: there is no checkpoint {path} to resume")
    run = resume(path, mnist)
    for setting in SETTINGS:
        given, saved = getattr(args, setting.name), getattr(run.settings, setting.name)
        if given is not None and given != saved:
            raise CommandError(
                f"--resume: {setting.flag} {given} differs from the checkpoint's {saved} "
                f"({path}); a resumed run keeps the settings it started with"
            )
    if args.epochs < run.epoch:
        raise CommandError(
            f"--epochs {args.epochs}: the checkpoint {path} has done {run.epoch} epochs "
            f"already; give --epochs {run.epoch} to finish its outputs, or more to train on"
        )
    return run


def results_document(
    run: Run, epochs: int, resumed_from: int | None, seconds: float, stopped: str | None = None
) -> dict:
    """The content of ``results.json``: configuration, data, per-epoch history, timing, the
    homework's table (``NOTE``), and why training stopped early (None if it did not)."""
    history = run.history
    training_seconds = sum(history.seconds)
    return {
        "config": {
            "model": {"class": type(run.model).__name__, **run.model.config()},
            "optimizer": run.settings.optimizer,
            "lr": run.settings.lr,
            "batch_size": run.settings.batch_size,
            "seed": run.settings.seed,
            "epochs": epochs,
            "loss": "cross-entropy",
            "init": "PyTorch's default initialisation, seeded",
        },
        "data": {k: run.data[k] for k in ("source", "n_train", "n_test")},
        "per_epoch": {
            "epoch": list(range(1, len(history) + 1)),
            "train_loss": history.train_loss,
            "test_loss": history.test_loss,
            "test_accuracy": history.test_accuracy,
            "seconds": history.seconds,
        },
        "final": {
            "epoch": len(history),
            "test_loss": history.test_loss[-1],
            "test_accuracy": history.test_accuracy[-1],
        },
        "timing": {
            "training_seconds": training_seconds,
            "images_per_second": run.data["n_train"] * len(history) / training_seconds,
            "this_invocation_seconds": seconds,
            "resumed_from_epoch": resumed_from,
            "threads": get_num_threads(),
        },
        NOTE.key: NOTE.numbers(),
        "checkpoint": CHECKPOINT,
        "stopped_early": stopped,
    }


def _write_results(
    out: Path,
    run: Run,
    epochs: int,
    resumed_from: int | None,
    began: float,
    stopped: str | None = None,
) -> None:
    s = run.settings
    title = (
        f"LeNet-5, {s.c3} C3: {s.optimizer} lr {s.lr:g}, batch {s.batch_size}, seed {s.seed}\n"
        f"{run.data['source']}: {run.data['n_train']:,} training / {run.data['n_test']:,} test "
        f"images"
    )
    picture = learning_curve_png(run.history, title)
    write_json(
        out / "results.json",
        results_document(run, epochs, resumed_from, time.perf_counter() - began, stopped),
    )
    atomic_write(out / "learning_curve.png", lambda f: f.write(picture))


def _make_directory(out: Path) -> bool:
    """Create ``out`` before training, so a place nobody may write fails now; True if created."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(f"cannot write {out / CHECKPOINT}: {err.strerror or err}") from None
    return created


def _train(args: argparse.Namespace, training: Run, checkpoint: Path, began: float) -> None:
    """``fit`` with a progress bar, a checkpoint and a printed line after each epoch."""
    epochs, n_train = args.epochs, training.data["n_train"]
    resumed_from = training.epoch or None
    with tqdm(
        total=n_train * (epochs - training.epoch),
        desc=f"epoch {training.epoch + 1}/{epochs}",
        unit=" img",
        unit_scale=True,
        disable=args.quiet or not sys.stderr.isatty(),
        leave=False,
    ) as bar:

        def on_batch(loss: float, x: Any, y: Any) -> None:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update(len(y))

        def on_epoch(run: Run) -> None:
            save(run, checkpoint)
            h, e = run.history, run.epoch
            tqdm.write(
                f"epoch {e:>3}/{epochs}  train loss {h.train_loss[-1]:.4f}  test loss "
                f"{h.test_loss[-1]:.4f}  test accuracy {h.test_accuracy[-1]:.2%}  "
                f"({h.seconds[-1]:.1f} s, {n_train / h.seconds[-1]:,.0f} images/s)",
                file=sys.stdout,
            )
            bar.set_description(f"epoch {min(e + 1, epochs)}/{epochs}")

        try:
            fit(training, epochs, on_batch, on_epoch)
        except TrainingDiverged as err:
            bar.close()
            if training.epoch == 0:
                raise CommandError(
                    f"training diverged: {err}; no epoch finished, so no checkpoint was written; "
                    f"try a smaller --lr"
                ) from None
            stopped = f"training diverged: {err}; try a smaller --lr"
            _write_results(checkpoint.parent, training, epochs, resumed_from, began, stopped)
            raise CommandError(
                f"{stopped}; the last good checkpoint (epoch {training.epoch}) is kept in "
                f"{checkpoint}"
            ) from None
    _write_results(checkpoint.parent, training, epochs, resumed_from, began)


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    checkpoint = _check_args(args)
    out = checkpoint.parent
    mnist = mnist_data(args)
    if args.resume:
        training = _resumed(args, checkpoint, mnist)
    else:
        given = {s.name: getattr(args, s.name) for s in SETTINGS}
        training = start(mnist, Settings(**{k: v for k, v in given.items() if v is not None}))
        if checkpoint.exists():
            print(f"note: starting a new run; it replaces {checkpoint}", file=sys.stderr)
    s = training.settings
    complete = training.epoch == args.epochs  # resumed after its last epoch: finish its outputs
    created = _make_directory(out)
    try:
        print(
            f"LeNet-5 with the {s.c3} C3 ({sum(p.numel() for p in training.model.parameters()):,}"
            f" parameters), {s.optimizer} lr {s.lr:g}, batch {s.batch_size}, seed {s.seed}; "
            f"{mnist.source}: {training.data['n_train']:,} training / "
            f"{training.data['n_test']:,} test images"
            + (f"; resuming after epoch {training.epoch}" if args.resume and not complete else "")
            + (f"; its {training.epoch} epochs are done, writing its results" if complete else "")
        )
        sys.stdout.flush()  # a reader gone already shows up now, before any training
        if complete:
            _write_results(out, training, args.epochs, training.epoch, began)
        else:
            _train(args, training, checkpoint, began)
    finally:
        if created and training.epoch == 0:  # stopped before the first checkpoint
            with contextlib.suppress(OSError):
                out.rmdir()

    print(NOTE.text(NOTE.numbers()))
    h = training.history
    print(
        f"test accuracy after {training.epoch} epochs: {h.test_accuracy[-1]:.2%} (test loss "
        f"{h.test_loss[-1]:.4f}); {sum(h.seconds):.1f} s of training in all"
    )
    print(f"wrote {', '.join(str(out / name) for name in OUTPUT_FILES)}")
    return 0


COMMAND = Command(
    "train",
    help="train a network on MNIST with checkpoints (mathdnn train lenet)",
    description="Train a network on MNIST, saving a checkpoint after every epoch.",
    arguments=arguments,
    run=run,
)
