"""The checks ``mathdnn verify`` runs: every identity of the engine and of Homework 4, each against
an independent reference.

``verify.check``: ``Check``, one row; ``verify.engine``: the engine's checks (fast paths, formula
paths, VJPs, PyTorch); ``verify.homework``: the checks of each problem. ``run_all(seed)`` runs them
all (``mathdnn verify``), ``run_suite(problem, seed)`` one of them (``mathdnn hw4``, problem by
problem), each list with its own random generator, so the numbers of one list do not depend on how
many draws another makes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mathdnn.verify.check import Check
from mathdnn.verify.engine import engine_checks
from mathdnn.verify.homework import PROBLEMS

#: Each list of checks by its problem ("engine" first), in the order they print.
SUITES: dict[str, Callable[[np.random.Generator], list[Check]]] = {
    "engine": engine_checks,
    **PROBLEMS,
}


def run_suite(problem: str, seed: int = 0) -> list[Check]:
    """The checks of one suite (``"engine"``, ``"1"`` … ``"7"``), the same numbers ``run_all``
    gives for it: suite ``k`` of ``SUITES`` draws from ``default_rng((seed, k))``."""
    if problem not in SUITES:
        raise ValueError(f"run_suite: problem must be one of {', '.join(SUITES)}, got {problem!r}")
    k = list(SUITES).index(problem)
    return SUITES[problem](np.random.default_rng((seed, k)))


def run_all(seed: int = 0) -> list[Check]:
    """Every check of every suite, in the order of ``SUITES``."""
    return [check for problem in SUITES for check in run_suite(problem, seed)]


__all__ = ["SUITES", "Check", "run_all", "run_suite"]
