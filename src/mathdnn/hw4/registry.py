"""The problems of Homework 4, in order: one module each (what a problem module holds is in
``mathdnn.hw4``'s docstring). ``mathdnn verify``, ``mathdnn hw4`` and ``mathdnn grade`` loop over
``PROBLEMS``, and the command line over ``commands()``; none of them names a problem. A new problem
is a new module and its line in ``PROBLEMS``: its commands, if it brings any, follow from it."""

from __future__ import annotations

from types import ModuleType

from mathdnn.command import Command, TrainingNote
from mathdnn.hw4 import (
    p1_finite_differences,
    p2_average_pooling,
    p3_grayscale,
    p4_maxpool_commutes,
    p5_losses,
    p6_jacobians,
    p7_lenet_c3,
)

PROBLEMS: tuple[ModuleType, ...] = (
    p1_finite_differences,
    p2_average_pooling,
    p3_grayscale,
    p4_maxpool_commutes,
    p5_losses,
    p6_jacobians,
    p7_lenet_c3,
)


def commands() -> tuple[Command, ...]:
    """The commands the problems bring (each one's ``COMMANDS``), in the problems' order: the
    order ``mathdnn --help`` lists them in, after ``hw4`` and ``verify``."""
    return tuple(command for problem in PROBLEMS for command in getattr(problem, "COMMANDS", ()))


#: What ``mathdnn train lenet`` says of the homework: Problem 7's help and parameter table.
TRAIN_LENET: TrainingNote = p7_lenet_c3.TRAIN_LENET


def _heading(problem: ModuleType) -> tuple[str, str]:
    """``("1", "finite differences as …")`` from the docstring's first paragraph,
    ``Problem 1: finite differences as ….``"""
    first = " ".join((problem.__doc__ or "").split("\n\n")[0].split())
    label, _, title = first.partition(": ")
    if not label.startswith("Problem ") or not title:
        raise ValueError(
            f"{problem.__name__}: the docstring must open with 'Problem <number>: <title>.'"
        )
    return label.removeprefix("Problem "), title.rstrip(".")


def number(problem: ModuleType) -> str:
    """The problem's number, ``"1"`` …, as its docstring opens: ``Problem 1: …``."""
    return _heading(problem)[0]


def title(problem: ModuleType) -> str:
    """The problem's title: the first paragraph of its docstring, without ``Problem k:``."""
    return _heading(problem)[1]


def by_number(wanted: str) -> ModuleType:
    """The problem numbered ``wanted``; ``ValueError`` naming the numbers there are."""
    for problem in PROBLEMS:
        if number(problem) == wanted:
            return problem
    numbers = ", ".join(number(p) for p in PROBLEMS)
    raise ValueError(f"by_number: there is no problem {wanted!r}; the problems are {numbers}")
