"""``mathdnn mlp``: the MNIST MLP classifier trained by hand-written backprop and by autodiff.

Both paths start from the same parameters and see the same batches; the command prints the test
accuracy of each and the largest parameter difference between them over all steps. Widths whose
estimated memory (``compare_training_bytes``) exceeds ``--max-memory`` or what the process can
get are refused before training starts.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

from mathdnn.cli import CommandError, add_mnist_dir, mnist_data
from mathdnn.cli.memory import DEFAULT_MAX_MEMORY_GIB, add_max_memory, check_memory
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4.p6_jacobians import compare_training, compare_training_bytes
from mathdnn.training import BATCH_SIZE, EPOCHS, LR, SEED, TrainingDiverged


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mlp",
        help="Problem 6: MNIST MLP trained by backprop (no autodiff) vs the engine's autodiff",
        description="Train a 784-hidden-10 MLP with softmax cross-entropy on MNIST (the bundled "
        "subset, or the full set from --mnist-dir or $MATHDNN_MNIST_DIR) twice in lockstep: "
        "gradients from mathdnn.hw4.p6_jacobians.mlp_backprop, and from the engine's autodiff. "
        "Prints both test accuracies and the max step-wise parameter difference.",
    )
    parser.add_argument("--hidden", default="64", help="hidden widths, comma-separated (64)")
    parser.add_argument("--activation", default="relu", help="σ (default relu)")
    for setting, default in ((EPOCHS, 1), (BATCH_SIZE, 64), (LR, 0.1), (SEED, 0)):
        setting.add_argument(parser, default=default)
    parser.add_argument("--float64", action="store_true", help="train in float64 (else float32)")
    add_mnist_dir(parser)
    add_max_memory(
        parser,
        DEFAULT_MAX_MEMORY_GIB,
        "--hidden widths whose training (both paths' parameters and gradients, the data as "
        "floats, the activations of a batch and of the test set)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    except ValueError:
        raise CommandError(f"--hidden must be comma-separated ints, got {args.hidden!r}") from None
    if min(hidden) < 1:
        raise CommandError(f"--hidden widths must be positive, got {args.hidden!r}")
    if args.activation not in ACTIVATIONS:
        raise CommandError(
            f"unknown --activation {args.activation!r}; valid: {', '.join(ACTIVATIONS)}"
        )
    for setting in (EPOCHS, BATCH_SIZE, LR, SEED):
        setting.validate(getattr(args, setting.name), setting.flag)
    data = mnist_data(args)
    dtype = np.float64 if args.float64 else np.float32
    need = compare_training_bytes(
        hidden, len(data.train_labels), len(data.test_labels), args.batch_size, args.epochs, dtype
    )
    check_memory(need, args.max_memory, f"--hidden {args.hidden}", "use narrower layers")
    steps = args.epochs * -(-len(data.train_labels) // args.batch_size)
    bar = tqdm(
        total=steps, desc="SGD steps", unit="step", leave=False, disable=not sys.stderr.isatty()
    )
    try:
        with bar:
            result = compare_training(
                hidden=hidden,
                activation=args.activation,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                dtype=dtype,
                data=data,
                progress=bar.update,
            )
    except TrainingDiverged as err:
        raise CommandError(f"training diverged: {err}; use a smaller --lr") from None
    except AssertionError as err:
        print(f"FAIL: {err}")
        return 1
    print(f"MLP {'-'.join(map(str, result.layers))}, σ = {result.activation}, {data!r}")
    print(f"{'path':<10} {'final loss':>10} {'test accuracy':>14}")
    for path, losses, acc in (
        ("backprop", result.losses_backprop, result.test_accuracy_backprop),
        ("autodiff", result.losses_autodiff, result.test_accuracy_autodiff),
    ):
        print(f"{path:<10} {losses[-1]:>10.4f} {acc:>14.3f}")
    print(
        f"{len(result.max_param_diff)} steps in {np.dtype(dtype).name}; max |θ_backprop − "
        f"θ_autodiff| over all steps: {result.max_param_diff.max():.2e}"
    )
    return 0
