"""The ``mfdnn`` command line.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds an ``argparse`` parser whose ``run`` default is called with the parsed arguments.
Subcommands call the library; they never re-implement math.

Errors a user can cause (bad arguments, missing or corrupt files) are reported as one line on
stderr, ``mfdnn <command>: <message>``, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mfdnn import __version__

# Modules under mfdnn.cli that define a subcommand, in the order --help lists them.
SUBCOMMANDS: tuple[str, ...] = ("verify", "jacobians", "mlp", "images", "losses")


class CommandError(Exception):
    """A user-facing failure of a subcommand: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mfdnn",
        description="The mathematics of deep neural networks, executable.",
    )
    parser.add_argument("--version", action="version", version=f"mfdnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"mfdnn.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except (CommandError, ValueError, TypeError, OSError) as err:
        message = str(err) or type(err).__name__
        print(f"mfdnn {args.command}: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mfdnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
