"""A seeded ``mathdnn hw4 --quick`` writes the numbers of the stored run ``quick_run.json``: every
number but what is measured on the machine (seconds, memory, the date, the software), every
check with its reference, error and verdict. A change that moves one of them shows here; if it
is meant, the stored run changes in the same commit, and the commit says why.

The stored run is the report of the code before "one home per problem", with the changes made
on purpose since: Problem 4's counterexample rows test ``maxpool_counterexample``'s input, and
its rewrite is counted and timed in interleaved pairs; Problem 5's sum-of-squares rows test
``sum_of_squares_grad``, and its summary is the paired comparison (the per-seed table, the 95 %
interval, the verdict from it); Problem 7's PyTorch row tests ``c3_forward``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

STORED = Path(__file__).with_name("quick_run.json")
#: What a run measures on its machine, left out of the comparison.
MEASURED = {"created", "seconds", "training_seconds", "versions", "peak", "working"}


def deterministic(document: Any, inside: str = "") -> Any:
    """``document`` without what is measured: the keys of ``MEASURED`` and the timings of
    Problem 4's rewrite (only which activations were timed stays)."""
    if isinstance(document, dict):
        if inside == "rewrite":
            return {
                k: sorted(v) if k == "seconds" else deterministic(v, k) for k, v in document.items()
            }
        return {k: deterministic(v, k) for k, v in document.items() if k not in MEASURED}
    if isinstance(document, list):
        return [deterministic(v, inside) for v in document]
    return document


def differences(stored: Any, run: Any, path: str = "") -> list[str]:
    """Where ``run`` differs from ``stored``: floats equal to rounding (1e-9 relative, 1e-12
    absolute: another BLAS may add in another order), everything else exactly."""
    if isinstance(stored, dict) and isinstance(run, dict):
        if sorted(stored) != sorted(run):
            return [f"{path}: keys {sorted(stored)} != {sorted(run)}"]
        return [d for k in stored for d in differences(stored[k], run[k], f"{path}/{k}")]
    if isinstance(stored, list) and isinstance(run, list):
        if len(stored) != len(run):
            return [f"{path}: {len(stored)} items != {len(run)}"]
        return [
            d
            for k, (a, b) in enumerate(zip(stored, run, strict=True))
            for d in differences(a, b, f"{path}[{k}]")
        ]
    if isinstance(stored, float) and isinstance(run, float):
        if math.isclose(stored, run, rel_tol=1e-9, abs_tol=1e-12):
            return []
    elif stored == run and type(stored) is type(run):
        return []
    return [f"{path}: {stored!r} != {run!r}"]


def test_the_comparison_sees_a_changed_number_and_ignores_a_timing():
    stored = {"a": [1.0, {"seconds": 3.0, "b": 2}], "rewrite": {"seconds": {"ReLU": [1.0]}}}
    same = {"a": [1.0 + 1e-13, {"seconds": 9.0, "b": 2}], "rewrite": {"seconds": {"ReLU": [2.0]}}}
    moved = {"a": [1.001, {"seconds": 3.0, "b": 2}], "rewrite": {"seconds": {"Tanh": [1.0]}}}
    assert differences(deterministic(stored), deterministic(same)) == []
    assert differences(deterministic(stored), deterministic(moved)) == [
        "/a[0]: 1.0 != 1.001",
        "/rewrite/seconds[0]: 'ReLU' != 'Tanh'",
    ]


def _without_pytorch(document: dict[str, Any]) -> dict[str, Any]:
    """The run's numbers but PyTorch's rows, which are skipped where PyTorch is missing."""
    for problem in document["problems"].values():
        problem["checks"] = [c for c in problem["checks"] if c["reference"] != "PyTorch"]
    del document["summary"]
    return document


def test_a_seeded_quick_run_writes_the_numbers_of_the_stored_run(quick):
    run = json.loads((quick["out"] / "results.json").read_text())
    stored = json.loads(STORED.read_text())
    if run["versions"]["torch"] == "not installed":
        run, stored = _without_pytorch(run), _without_pytorch(stored)
    assert differences(deterministic(stored), deterministic(run)) == []
