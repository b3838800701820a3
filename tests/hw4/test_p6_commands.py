"""Problem 6's commands, ``mathdnn jacobians`` and ``mathdnn mlp``: the table, one-line errors
with exit status 2, and the memory: widths whose work would need more than --max-memory, or than
the process can get, are refused before anything is allocated."""

import re
import tracemalloc

import numpy as np
import pytest
from limited import run_limited

from mathdnn.cli import main
from mathdnn.hw4.p6_jacobians import compare_training_bytes, jacobians_bytes


def test_jacobians_prints_the_table(capsys):
    assert main(["jacobians", "--layers", "6,5,4,1", "--activation", "tanh", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "jac−backprop" in out and "formula−autodiff" in out and "formula−FD" in out
    for ell in (1, 2, 3):
        assert f"∂y_L/∂A_{ell}" in out and f"∂y_L/∂b_{ell}" in out
    assert "(5, 6)" in out and "6 passed, 0 failed" in out


def test_jacobians_default_samples_finite_differences_on_big_layers(capsys):
    assert main(["jacobians"]) == 0
    out = capsys.readouterr().out
    assert "200/50176" in out and "random entries" in out


def test_jacobians_show_prints_small_matrices(capsys):
    assert main(["jacobians", "--layers", "3,2,1", "--activation", "relu", "--show"]) == 0
    assert "∂y_1/∂b_1 =\n[[" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "4,x,1"], "--layers must be comma-separated positive ints"),
        (["--layers", "4"], "at least two positive widths"),
        (["--layers", "4,0,1"], "at least two positive widths"),
        (["--layers", "4,3,2"], "must end with 1"),
        (["--activation", "gelu"], "valid: sigmoid, tanh, relu, softplus, leaky_relu"),
    ],
)
def test_jacobians_bad_input(capsys, args, message):
    assert main(["jacobians", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mathdnn jacobians: ") and message in err
    assert err.count("\n") == 1


def test_mlp_command(capsys):
    assert main(["mlp", "--hidden", "16", "--float64"]) == 0
    out = capsys.readouterr().out
    assert "backprop" in out and "autodiff" in out and "max |θ_backprop − θ_autodiff|" in out
    assert main(["mlp", "--activation", "gelu"]) == 2
    assert capsys.readouterr().err.startswith("mathdnn mlp: unknown --activation 'gelu'")


def test_jacobians_refuses_what_the_process_cannot_get_even_under_max_memory():
    """Issue 22: `--layers 10,60000,1 --max-memory 1000` raised a MemoryError traceback. The
    estimate (53.7 GiB) is within --max-memory 1000 but not within the process's limit."""
    need = jacobians_bytes((10, 60000, 1)) / 2**30
    process = run_limited(["jacobians", "--layers", "10,60000,1", "--max-memory", "1000"], 2**30)
    assert process.returncode == 2 and process.stdout == "" and "Traceback" not in process.stderr
    # The child may allocate 1 GiB beyond its start-up; what it maps after that (its imports)
    # leaves a little less, so the room it reports is printed as "1" or as "0.99x".
    said = re.fullmatch(
        f"mathdnn jacobians: --layers 10,60000,1 needs about {need:.3g} GiB of memory, more than "
        r"the ([0-9.]+) GiB this process may still allocate \(ulimit -v\); use narrower layers "
        r"\(the explicit n_ℓ × n_ℓ Jacobians take most of it\)\n",
        process.stderr,
    )
    assert said is not None, process.stderr
    assert 0.9 <= float(said[1]) <= 1
    assert process.stderr.count("\n") == 1


def test_mlp_widths_over_max_memory_are_refused_before_allocating(capsys):
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


def test_mlp_max_memory_is_the_cap(capsys):
    need = compare_training_bytes((32,), 4000, 1000, 64, 1, np.float32) / 2**30
    assert main(["mlp", "--hidden", "32", "--max-memory", f"{0.99 * need:.6g}"]) == 2
    assert "needs about" in capsys.readouterr().err
    assert main(["mlp", "--hidden", "32", "--max-memory", "nan"]) == 2
    assert "--max-memory must be a positive number of GiB, got nan" in capsys.readouterr().err
    assert main(["mlp", "--hidden", "32", "--max-memory", f"{1.01 * need:.6g}"]) == 0


def test_mlp_widths_the_process_cannot_get_are_refused():
    process = run_limited(["mlp", "--hidden", "100000000", "--max-memory", "1e9"], 2**30)
    assert process.returncode == 2 and process.stdout == "" and "Traceback" not in process.stderr
    assert process.stderr.startswith("mathdnn mlp: --hidden 100000000 needs about ")
    assert " GiB of memory, more than the " in process.stderr  # 1 GiB less the data loaded
    assert process.stderr.endswith(
        " GiB this process may still allocate (ulimit -v); use narrower layers\n"
    )
