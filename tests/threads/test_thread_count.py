"""Results do not depend on the number of threads: a LeNet-5 step has the same bits on 1, 2 or 3
threads, and ``mathdnn train`` resumed with another ``MATHDNN_NUM_THREADS`` ends with the tensors of
a run that never stopped, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import mathdnn
import mathdnn.functional as F
import mathdnn.optim
from mathdnn.models import LeNet5


def lenet_steps(c3: str, threads: int) -> list[bytes]:
    """Two SGD steps of LeNet-5 on random digits (batch 100: conv2d runs in several chunks) on
    ``threads`` threads; the bytes of the loss and of every parameter and gradient."""
    previous = mathdnn.get_num_threads()
    mathdnn.set_num_threads(threads)
    try:
        model = LeNet5(c3, rng=3)
        optimizer = mathdnn.optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(3)
        out = []
        for _ in range(2):
            x = mathdnn.from_numpy(rng.random((100, 1, 28, 28), dtype=np.float32))
            loss = F.cross_entropy(model(x), rng.integers(0, 10, 100))
            optimizer.zero_grad()
            loss.backward()
            out += [loss.data.tobytes()] + [p.grad.tobytes() for p in model.parameters()]
            optimizer.step()
        return out + [p.data.tobytes() for p in model.parameters()]
    finally:
        mathdnn.set_num_threads(previous)


@pytest.mark.parametrize("c3", ["full", "original"])
def test_a_lenet_step_has_the_same_bits_on_any_number_of_threads(c3):
    one = lenet_steps(c3, 1)
    assert lenet_steps(c3, 2) == one
    assert lenet_steps(c3, 3) == one


def train(out: Path, epochs: int, threads: int, *args: str) -> None:
    env = {**os.environ, "MATHDNN_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "mathdnn.cli", "train", "lenet", "-o", str(out)]
    result = subprocess.run(
        [*command, "--epochs", str(epochs), "--quiet", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr


def test_train_resumed_with_another_thread_count_is_byte_identical(tmp_path):
    """On the bundled digits (batch 100): two epochs on one thread, against one epoch on three
    threads resumed for the second on one."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(whole, 2, 1)
    train(parts, 1, 3)
    train(parts, 2, 1, "--resume")
    a = load_file(whole / "checkpoint.safetensors")
    b = load_file(parts / "checkpoint.safetensors")
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name
