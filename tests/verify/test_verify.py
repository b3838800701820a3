"""``mathdnn.verify``: every check passes, each names its reference, and the PyTorch rows are listed
as skipped when PyTorch cannot be imported."""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

from mathdnn import kernels
from mathdnn.hw4.p4_maxpool_commutes import checks as problem4
from mathdnn.hw4.p5_losses import checks as problem5
from mathdnn.verify import SUITES, Check, run_all, run_suite
from mathdnn.windows import ConvGeometry


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


def test_run_suite_gives_the_rows_of_run_all(checks):
    """The report draws each problem's checks from ``run_suite``: the same rows ``mathdnn verify``
    prints, no second copy."""
    for problem in SUITES:
        ours = [c for c in checks if c.problem == problem]
        suite = run_suite(problem, 0)
        assert [(c.name, c.reference, c.tolerance) for c in suite] == [
            (c.name, c.reference, c.tolerance) for c in ours
        ]
        assert [c.passed for c in suite] == [c.passed for c in ours]
    with pytest.raises(ValueError, match=r"run_suite: problem must be one of engine, 1, .*'8'"):
        run_suite("8")


def test_the_engine_checks_cover_every_path(checks):
    references = {c.reference for c in checks if c.problem == "engine"}
    assert {"formula path", "loop oracle", "finite differences"} <= references
    fast = [c.name for c in checks if c.reference == "formula path"]
    for path in ("kernel rows", "banded depthwise", "formula in chunks", "tiles"):
        assert any(path in n for n in fast), path


def test_the_fast_conv_cases_take_the_kernels_they_name():
    """Each conv2d fast-path row runs the kernel its name says, on more than one chunk."""
    from mathdnn.functional.conv import conv2d_formula, conv_padding
    from mathdnn.kernels.chunks import batch_chunks
    from mathdnn.kernels.conv_banded import conv2d_banded
    from mathdnn.kernels.conv_rows import conv2d_rows
    from mathdnn.verify.engine import FAST_CONV_CASES
    from mathdnn.windows import output_size

    expected = {"kernel rows": conv2d_rows, "banded depthwise": conv2d_banded}
    for name, x_shape, w_shape, stride, padding, dilation, groups in FAST_CONV_CASES:
        stride = (stride, stride) if isinstance(stride, int) else stride
        kernel = w_shape[2:]
        pads = conv_padding("test", padding, kernel, stride, (dilation, dilation))
        out = tuple(
            output_size("test", n, p + q, k, s, dilation, "kernel")
            for n, p, q, k, s in zip(
                x_shape[2:], pads[::2], pads[1::2], kernel, stride, strict=True
            )
        )
        geo = ConvGeometry(kernel, stride, pads, (dilation, dilation), groups, out)
        x, w = np.ones(x_shape), np.ones(w_shape)
        picked = inspect.unwrap(kernels.conv2d_kernel(conv2d_formula, x, w, geo))
        assert picked is expected.get(name, conv2d_formula)
        per_image = x_shape[1] * kernel[0] * kernel[1] * out[0] * out[1] * 8
        assert len(batch_chunks(x_shape[0], per_image)) > 1, name


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
    from mathdnn.functional.activation import ACTIVATIONS

    names = [c.name for c in problem4(np.random.default_rng(0))]
    assert all(any(f"σ = {a}" in n for n in names) for a in ACTIVATIONS)
