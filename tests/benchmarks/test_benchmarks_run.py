"""The benchmarks run and print what the README quotes (``pytest -m slow``; skipped by default).

Each script runs in a smoke-test size; what is checked is that it finishes, compares its results
with PyTorch where it times PyTorch, and prints its ratio lines. Timings are never asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bench_conv():
    pytest.importorskip("torch")
    out = run("bench_conv.py", "--quick")
    for case in ("LeNet C1", "LeNet C3", "ResNet 3x3", "depthwise 3x3", "avg_pool2d 2x2"):
        assert case in out
    assert "geometric mean, conv2d: fast/torch" in out


def test_bench_lenet():
    pytest.importorskip("torch")
    out = run("bench_lenet.py", "--quick")
    for c3 in ("full", "original"):
        assert f"C3 {c3} (parameters after one epoch agree" in out
    assert out.count("ratio mathdnn / PyTorch") == 2
    assert out.count("ratio mathdnn, no workspace / PyTorch") == 2
    assert out.count("faults per epoch") == 2 and out.count("where an epoch goes") == 2
    assert out.count("the old way") == 2


def test_bench_train():
    pytest.importorskip("torch")
    assert "ratio" in run("bench_train.py", "--quick")


def test_bench_overhead():
    pytest.importorskip("torch")
    assert "mathdnn/torch" in run("bench_overhead.py", "--quick")


def test_bench_losses_epoch():
    pytest.importorskip("torch")
    assert "mathdnn/torch" in run("bench_losses_epoch.py", "--repeats", "3")


def test_bench_jacobians():
    assert "growth exponents" in run("bench_jacobians.py", "--quick")


def test_bench_kernels():
    assert "picked" in run("bench_kernels.py", "--quick")


def test_bench_pool_first():
    assert "saved" in run("bench_pool_first.py", "--repeats", "3", "--batch", "8")


def test_bench_fresh_layer():
    out = run("bench_fresh_layer.py", "--quick")
    assert "unfold (the rule's)" in out and "formula" in out
