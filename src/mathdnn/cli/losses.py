"""``mathdnn losses``: Problem 5, KL versus sum of squares for logistic regression on two digits.

Trains both objectives for each seed (the two runs of a seed share the initial weights and the
batches), prints each seed's test accuracies and their difference, the mean paired difference with
its 95 % confidence interval and the verdict, and writes ``results.json`` and three PNGs to the
output directory. Every argument is checked and the data loaded before any training; the files
are written only at the end, each atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from mathdnn.cli import CommandError, add_mnist_dir, mnist_data, positive_int
from mathdnn.data import binary_digits
from mathdnn.hw4.p5_losses import (
    CONFIDENCE,
    LOSS_TITLES,
    Comparison,
    compare,
    curves_png,
    loss_functions_png,
    misclassified_png,
)
from mathdnn.io import atomic_write, check_writable, write_json
from mathdnn.training import BATCH_SIZE, EPOCHS, LR, TrainingDiverged

OUTPUT_FILES = ("results.json", "curves.png", "loss_functions.png", "misclassified.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "losses",
        help="Problem 5: train logistic regression with KL and with sum of squares, compare",
        description="Train f(x) = (σ(−z), σ(z)), z = aᵀx + b, on two MNIST digits with the KL "
        "objective and with the sum of squares (minibatch SGD), for several seeds; print the "
        "test accuracies seed by seed, the mean paired difference with its 95 % confidence "
        "interval, and which objective is better only if that interval excludes 0; write "
        "results.json and plots to OUTDIR.",
    )
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
    parser.set_defaults(run=run)


def _check_args(args: argparse.Namespace) -> None:
    neg, pos = args.digits
    for name, d in (("NEG", neg), ("POS", pos)):
        if not 0 <= d <= 9:
            raise CommandError(f"--digits: {name} must be a digit 0..9, got {d}")
    if neg == pos:
        raise CommandError(f"--digits: the two digits must differ, got {neg} {pos}")
    for setting in (EPOCHS, LR, BATCH_SIZE):
        setting.validate(getattr(args, setting.name), setting.flag)
    positive_int("--seeds", args.seeds)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CommandError(f"-o: {out} exists and is not a directory")
    for name in OUTPUT_FILES:
        check_writable(out / name, file=True)


def results_document(comparison: Comparison, config: dict, data: dict) -> dict:
    """The content of ``results.json``: configuration, data, per-loss runs, summary."""
    return {"config": config, "data": data, **comparison.results()}


def run(args: argparse.Namespace) -> int:
    _check_args(args)
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
