"""``mfdnn.verify``: every check passes, each names its reference, and the PyTorch rows are listed
as skipped when PyTorch cannot be imported."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mfdnn.verify import SUITES, Check, run_all
from mfdnn.verify.homework import problem4, problem5


@pytest.fixture(scope="module")
def checks() -> list[Check]:
    return run_all(0)


def test_every_check_passes_and_names_its_reference(checks):
    failed = [(c.problem, c.name, c.reference, c.max_error) for c in checks if not c.passed]
    assert failed == []
    assert all(c.reference and c.name for c in checks)
    assert [c.problem for c in checks] == sorted(
        (c.problem for c in checks), key=list(SUITES).index
    )
    assert {c.problem for c in checks} == {"engine", "1", "2", "3", "4", "5", "6", "7"}


def test_the_engine_checks_cover_every_path(checks):
    references = {c.reference for c in checks if c.problem == "engine"}
    assert {"formula path", "loop oracle", "finite differences"} <= references
    fast = [c.name for c in checks if c.reference == "formula path"]
    assert any("banded" in n for n in fast) and any("chunked" in n for n in fast)
    assert any("tiles" in n for n in fast)


def test_counterexamples_are_expected_failures(checks):
    failures = [c for c in checks if c.expected_failure]
    assert len(failures) == 3 and all(c.problem == "4" for c in failures)
    assert all(c.status == "xfail (as expected)" for c in failures)
    assert all("counterexample" in c.detail for c in failures)


def test_a_seed_gives_the_same_numbers():
    first, second = problem5(np.random.default_rng(3)), problem5(np.random.default_rng(3))
    assert [c.max_error for c in first] == [c.max_error for c in second]


def test_pytorch_rows_are_skipped_without_pytorch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    checks = problem5(np.random.default_rng(0))
    skipped = [c for c in checks if c.skipped]
    assert skipped and all(c.reference == "PyTorch" for c in skipped)
    assert all(c.passed and c.status == "skip" and "not installed" in c.detail for c in skipped)
    assert all(not c.skipped for c in checks if c.reference != "PyTorch")


def test_status_of_a_check():
    assert Check("4", "x", "formula", 0.0, 0.0).status == "pass"
    assert Check("4", "x", "formula", 1.0, 0.0).status == "FAIL"
    assert Check("4", "x", "formula", 1.0, 0.0, expected_failure=True).passed
    held = Check("4", "x", "formula", 0.0, 0.0, expected_failure=True)
    assert not held.passed and held.status == "FAIL (identity held)"


def test_problem4_checks_the_registrys_monotone_activations():
    from mfdnn.functional.activation import ACTIVATIONS

    names = [c.name for c in problem4(np.random.default_rng(0))]
    assert all(any(f"σ = {a}" in n for n in names) for a in ACTIVATIONS)
