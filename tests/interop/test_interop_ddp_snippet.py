"""The "Training on, under PyTorch" snippet of mathdnn.interop's docstring runs as written, under
torchrun (one process, the gloo backend), and the model it brings back to mathdnn has learnt."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import mathdnn.interop  # noqa: E402

SRC = Path(mathdnn.interop.__file__).resolve().parents[2]


def snippet() -> str:
    """The indented block after the docstring's "Training on, under PyTorch" heading."""
    section = mathdnn.interop.__doc__.split("Training on, under PyTorch", 1)[1]
    block = section.split("::\n\n", 1)[1]
    return textwrap.dedent(block)


def test_the_snippet_trains_under_torchrun(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(snippet())
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",  # one process on a shared machine: no oversubscription
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    done = subprocess.run(
        [*command, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", done.stdout).group(1))
    assert accuracy > 0.5  # ten classes: chance is 0.1
