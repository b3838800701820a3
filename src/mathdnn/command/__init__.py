"""What a command of the ``mathdnn`` command line is, and what every command shares.

A command is declared, not built: a ``Command`` names it and holds its help, its description, a
function that adds its arguments and a function that runs it. ``mathdnn.cli`` declares the
command line's own commands and each problem of Homework 4 declares its commands in its
``COMMANDS`` (gathered by ``mathdnn.hw4.registry.commands()``); the command line registers them all
the same way. This package sits below the homework, so the problems and the command line share
one home for these parts:

- ``CommandError``, a user's mistake, which ``mathdnn`` prints as one line, exit status 2;
- the checks of numbers (``positive_int``, ``seed``) and the MNIST options (``add_mnist_dir``,
  ``mnist_data``);
- ``command.memory``, the memory budget (``--max-memory``) of the commands that estimate their
  needs;
- ``command.images``, the options and the steps of the commands that draw a figure of an image.

Importing this package imports nothing heavy (the command line imports it before NumPy).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mathdnn.data import MNIST


class CommandError(Exception):
    """A user-facing failure of a command: printed as one line, exit status 2."""


@dataclass(frozen=True)
class Command:
    """``mathdnn NAME``: its one-line ``help`` (in ``mathdnn --help``), its ``description`` (in
    ``mathdnn NAME --help``), ``arguments(parser)``, which adds its arguments, and ``run(args)``,
    which does the work and returns the exit status."""

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def register(self, subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
        """Add the command to ``subparsers``; the parser's ``run`` default is ``self.run``."""
        parser = subparsers.add_parser(self.name, help=self.help, description=self.description)
        self.arguments(parser)
        parser.set_defaults(run=self.run)
        return parser


@dataclass(frozen=True)
class TrainingNote:
    """What a problem adds to ``mathdnn train MODEL``, the library's training command, about the
    model it studies: the subcommand's line in ``mathdnn train --help``, and a table, the
    ``title`` of which its description names, that every run prints at its end
    (``text(numbers())``) and stores in its results.json under ``key``."""

    help: str
    title: str
    key: str
    numbers: Callable[[], Any]
    text: Callable[[Any], str]


def positive_int(flag: str, value: int) -> int:
    if value < 1:
        raise CommandError(f"{flag} must be a positive integer, got {value}")
    return value


def seed(flag: str, value: int) -> int:
    """A seed of NumPy's generators: a non-negative integer."""
    if value < 0:
        raise CommandError(f"{flag} must be a non-negative integer, got {value}")
    return value


def add_mnist_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--mnist-dir DIR`` and ``--max-images N`` options of the commands that use MNIST
    (read by ``mnist_data``)."""
    from mathdnn.data.mnist import DEFAULT_MAX_IMAGES

    parser.add_argument(
        "--mnist-dir",
        metavar="DIR",
        help="directory with the four MNIST IDX files (default: $MATHDNN_MNIST_DIR, else the "
        "bundled 5,000-digit subset)",
    )
    parser.add_argument(
        "--max-images",
        type=int,
        default=DEFAULT_MAX_IMAGES,
        metavar="N",
        help="refuse an MNIST file whose header claims more than N images, before any data is "
        f"read or decompressed (default {DEFAULT_MAX_IMAGES:,}; MNIST has 60,000)",
    )


def mnist_data(args: argparse.Namespace) -> MNIST:
    """MNIST from the directory ``--mnist-dir`` names, else ``$MATHDNN_MNIST_DIR``'s, else the
    bundled subset; no file may claim more than ``--max-images`` images."""
    from mathdnn.data import load_mnist, mnist_dir_from_env

    directory = args.mnist_dir if args.mnist_dir is not None else mnist_dir_from_env()
    return load_mnist(directory, max_images=positive_int("--max-images", args.max_images))
