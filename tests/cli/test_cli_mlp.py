"""``mathdnn mlp``'s memory: widths whose training would need more than --max-memory, or than
the process can get, are refused before anything is allocated."""

import tracemalloc

import numpy as np
from limited import run_limited

from mathdnn.cli import main
from mathdnn.hw4.p6_jacobians import compare_training_bytes


def test_widths_over_max_memory_are_refused_before_allocating(capsys):
    """Issue 22: `mlp --hidden 100000000` tried to allocate 584 GiB and raised MemoryError."""
    need = compare_training_bytes((100_000_000,), 4000, 1000, 64, 1, np.float32)
    tracemalloc.start()
    try:
        assert main(["mlp", "--hidden", "100000000"]) == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err == (
        f"mathdnn mlp: --hidden 100000000 needs about {need / 2**30:,.0f} GiB of memory, more "
        "than --max-memory 2 GiB; use narrower layers or raise --max-memory\n"
    )
    assert peak < 64 * 2**20  # the bundled digits, nothing of the network


def test_max_memory_is_the_cap(capsys):
    need = compare_training_bytes((32,), 4000, 1000, 64, 1, np.float32) / 2**30
    assert main(["mlp", "--hidden", "32", "--max-memory", f"{0.99 * need:.6g}"]) == 2
    assert "needs about" in capsys.readouterr().err
    assert main(["mlp", "--hidden", "32", "--max-memory", "nan"]) == 2
    assert "--max-memory must be a positive number of GiB, got nan" in capsys.readouterr().err
    assert main(["mlp", "--hidden", "32", "--max-memory", f"{1.01 * need:.6g}"]) == 0


def test_widths_the_process_cannot_get_are_refused():
    process = run_limited(["mlp", "--hidden", "100000000", "--max-memory", "1e9"], 2**30)
    assert process.returncode == 2 and process.stdout == "" and "Traceback" not in process.stderr
    assert process.stderr.startswith("mathdnn mlp: --hidden 100000000 needs about ")
    assert " GiB of memory, more than the " in process.stderr  # 1 GiB less the data loaded
    assert process.stderr.endswith(
        " GiB this process may still allocate (ulimit -v); use narrower layers\n"
    )
