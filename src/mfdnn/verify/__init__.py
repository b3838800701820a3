"""The checks ``mfdnn verify`` runs: every identity of the engine and of Homework 4, each against
an independent reference.

``verify.check``: ``Check``, one row; ``verify.engine``: the engine's checks (fast paths, formula
paths, VJPs, PyTorch); ``verify.homework``: the checks of each problem. ``run_all(seed)`` runs them
all, each list with its own random generator, so the numbers of one list do not depend on how many
draws another makes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfdnn.verify.check import Check
from mfdnn.verify.engine import engine_checks
from mfdnn.verify.homework import PROBLEMS

#: Each list of checks by its problem ("engine" first), in the order they print.
SUITES: dict[str, Callable[[np.random.Generator], list[Check]]] = {
    "engine": engine_checks,
    **PROBLEMS,
}


def run_all(seed: int = 0) -> list[Check]:
    """Every check of every suite; suite ``k`` draws from ``default_rng((seed, k))``."""
    return [
        check
        for k, suite in enumerate(SUITES.values())
        for check in suite(np.random.default_rng((seed, k)))
    ]


__all__ = ["SUITES", "Check", "run_all"]
