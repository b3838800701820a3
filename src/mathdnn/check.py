"""``Check``: one identity, verified against an independent reference. The rows ``mathdnn verify``
prints and the report shows are ``Check`` objects, made by the engine's checks
(``mathdnn.verify.engine``) and by each problem of ``mathdnn.hw4``; this module imports nothing of
mathdnn's, so any layer can make them."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

# The tolerances of the checks in float64.
EXACT = 1e-12  # a few additions, rounded
ROUNDING = 1e-10  # sums of many products, added in another order
FD = 1e-6  # central finite differences with ε = 1e-6


@dataclass(frozen=True)
class Check:
    """One verified identity: its largest error against the reference, and the tolerance it must
    meet.

    ``problem``: ``"engine"`` or the homework's problem, ``"1"`` … ``"7"``; ``name``: the identity
    checked; ``reference``: what it is checked against, computed independently of the code under
    test ("loop oracle", "formula path", "finite differences", "formula", "Pillow", "PyTorch",
    "hand count", …). ``expected_failure`` marks an identity that must *not* hold (a
    counterexample is the point): it passes when the error is above the tolerance. ``skipped``:
    the check could not run (``detail`` says why, e.g. PyTorch is not installed); it does not
    fail.
    """

    problem: str
    name: str
    reference: str
    max_error: float
    tolerance: float
    expected_failure: bool = False
    detail: str = ""
    skipped: bool = False

    @property
    def holds(self) -> bool:
        return bool(self.max_error <= self.tolerance)

    @property
    def passed(self) -> bool:
        return self.skipped or self.holds != self.expected_failure

    @property
    def status(self) -> str:
        if self.skipped:
            return "skip"
        if self.expected_failure:
            return "xfail (as expected)" if self.passed else "FAIL (identity held)"
        return "pass" if self.passed else "FAIL"


def max_abs_difference(a: Any, b: Any) -> float:
    """``max |a − b|`` over all entries (0 for empty arrays)."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))


def pytorch_checks(
    problem: str,
    names: list[str],
    tolerance: float,
    compute: Callable[[ModuleType], list[float]],
) -> list[Check]:
    """Checks against PyTorch: ``compute(torch)`` returns the max error of each named identity.

    Without PyTorch the rows are listed as skipped, so the table shows what was not checked.
    ``compute`` runs with PyTorch on one thread: the references are tiny arrays, and its threads
    would only contend with the caller's (``mathdnn grade`` checks problems in parallel).
    """
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        note = (
            "PyTorch is not installed (pip install '.[test]' in the mathdnn checkout "
            "to run this check)"
        )
        return [
            Check(problem, n, "PyTorch", math.nan, tolerance, detail=note, skipped=True)
            for n in names
        ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        errors = compute(torch)
    finally:
        torch.set_num_threads(threads)
    return [Check(problem, n, "PyTorch", e, tolerance) for n, e in zip(names, errors, strict=True)]
