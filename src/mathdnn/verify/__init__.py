"""The checks ``mathdnn verify`` runs: every identity of the engine and of Homework 4, each against
an independent reference.

``verify.engine``: the engine's checks (fast paths, formula paths, VJPs, PyTorch); each problem of
``mathdnn.hw4.registry.PROBLEMS`` brings its own (its ``checks(rng)``). ``run_all(seed)`` runs them
all (``mathdnn verify``), ``run_suite(name, seed)`` one of them (``mathdnn hw4``, problem by
problem), each list with its own random generator, so the numbers of one list do not depend on how
many draws another makes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mathdnn.check import Check
from mathdnn.hw4.registry import PROBLEMS, number
from mathdnn.verify.engine import engine_checks

#: Each list of checks by its name ("engine", then each problem's number), in the order they
#: print.
SUITES: dict[str, Callable[[np.random.Generator], list[Check]]] = {
    "engine": engine_checks,
    **{number(problem): problem.checks for problem in PROBLEMS},
}


def run_suite(name: str, seed: int = 0) -> list[Check]:
    """The checks of one suite (``"engine"``, ``"1"`` … ``"7"``), the same numbers ``run_all``
    gives for it: suite ``k`` of ``SUITES`` draws from ``default_rng((seed, k))``."""
    if name not in SUITES:
        raise ValueError(f"run_suite: problem must be one of {', '.join(SUITES)}, got {name!r}")
    k = list(SUITES).index(name)
    return SUITES[name](np.random.default_rng((seed, k)))


def run_all(seed: int = 0) -> list[Check]:
    """Every check of every suite, in the order of ``SUITES``."""
    return [check for name in SUITES for check in run_suite(name, seed)]


__all__ = ["SUITES", "Check", "run_all", "run_suite"]
