"""The ``mathdnn`` command line.

Every command is a ``mathdnn.command.Command``: the command line's own, one per module of this
package (``hw4``, ``verify``, ``train``, ``export``, ``grade``, each module's ``COMMAND``), and
the problems' own, which the registry of Homework 4 lists (``mathdnn.hw4.registry.commands()``).
This package names no problem. Commands call the library; they never re-implement math.

Errors a user can cause (bad arguments, missing or corrupt files) are reported as one line on
stderr, ``mathdnn <command>: <message>``, with exit status 2 and no traceback. Ctrl-C, even during
start-up, prints one line and exits 130: this module imports nothing heavy, and ``main`` imports
the commands (NumPy, matplotlib) inside its ``try``. A reader that goes away (``mathdnn verify |
head -1``) ends the command quietly with the status of a program killed by SIGPIPE (141).

Asking for more memory than there is counts as a user's error too: the commands that can estimate
their needs refuse first (``mathdnn.command.memory``), and a ``MemoryError`` that gets through
anyway is reported the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
from collections.abc import Sequence
from typing import NoReturn

from mathdnn import __version__
from mathdnn.command import Command, CommandError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``mathdnn <command>: <message>``, status 2.

    Parsing leaves the innermost (sub)command's parser in the namespace as ``_parser``, so that
    an argument no parser knew is reported by the command it was given to."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, "_parser"):  # a subcommand's parser, inside, sets it first
            namespace._parser = self
        return namespace, extras


def commands() -> list[Command]:
    """Every command, in the order ``mathdnn --help`` lists them: the report and the checks, the
    problems' commands, then training, export and grading (imports NumPy and matplotlib)."""
    from mathdnn.cli import export, grade, hw4, train, verify
    from mathdnn.hw4.registry import commands as problem_commands

    return [
        hw4.COMMAND,
        verify.COMMAND,
        *problem_commands(),
        train.COMMAND,
        export.COMMAND,
        grade.COMMAND,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mathdnn",
        description="The mathematics of deep neural networks, executable.",
    )
    parser.add_argument("--version", action="version", version=f"mathdnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands():
        command.register(subparsers)
    return parser


def _stdout_gone() -> bool:
    """Whether standard output is closed, or a pipe whose reader has gone (poll's POLLERR)."""
    if sys.stdout is None:
        return True
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # replaced by a stream without a file (a test's capture)
        return False
    try:
        os.fstat(fd)
    except OSError:
        return True
    if not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are reported whatever the mask
    return any(events & select.POLLERR for _, events in poller.poll(0))


def main(argv: Sequence[str] | None = None) -> int:
    command = "mathdnn"
    if _stdout_gone():
        return 141  # as if the first write had met SIGPIPE: nothing done, nothing written
    try:
        parser = build_parser()
        try:
            args, extras = parser.parse_known_args(argv)
            if extras:
                args._parser.error(f"unrecognized arguments: {' '.join(extras)}")
        except SystemExit:  # --help, --version, or an argument error, already printed
            sys.stdout.flush()  # --help's text meets a closed pipe here, not at the exit
            raise
        if args.command is None:
            parser.print_usage(sys.stderr)
            return 2
        command = f"mathdnn {args.command}"
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the status of a program that signal ended
    except (CommandError, ValueError, TypeError, OSError) as err:
        message = str(err) or type(err).__name__
        print(f"{command}: {message}", file=sys.stderr)
        return 2
    except MemoryError as err:  # the estimates refuse most of these before they happen
        detail = f" ({err})" if str(err) else ""
        print(f"{command}: out of memory{detail}; try a smaller input", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
