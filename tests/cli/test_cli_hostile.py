"""The command line against a hostile user: every bad case ends with one line on stderr
(``mathdnn <command>: <message>``), a non-zero status, no traceback and nothing written."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mathdnn
from mathdnn.cli import main
from mathdnn.hw4.p6_jacobians import jacobians_bytes

SRC = str(Path(mathdnn.__file__).resolve().parents[1])


def one_line_error(capsys, command: str, *fragments: str) -> str:
    """The single stderr line of a failed command; nothing on stdout."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"mathdnn {command}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert captured.out == ""
    return lines[0]


def run_child(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -c code args`` with this mathdnn on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, text=True, timeout=120, **kwargs
    )


# ------------------------------------------------------------------------ the command itself
def test_no_subcommand_prints_the_usage_to_stderr_and_exits_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("usage: mathdnn")


def test_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["jacobians", "--seed", "abc"])
    assert info.value.code == 2
    one_line_error(capsys, "jacobians", "argument --seed", "'abc'")


@pytest.mark.parametrize("command", [["jacobians"], ["verify"], ["mlp"]])
def test_a_negative_seed_names_seed(capsys, command):
    assert main([*command, "--seed", "-1"]) == 2
    one_line_error(capsys, command[0], "--seed must be a non-negative integer, got -1")


INTERRUPT_NUMPY_IMPORT = """
import sys

class InterruptNumpy:  # Ctrl-C pressed while NumPy is being imported
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            raise KeyboardInterrupt

sys.meta_path.insert(0, InterruptNumpy())
from mathdnn.cli import main  # what the installed `mathdnn` script does
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["verify", "jacobians", "edges"])
def test_ctrl_c_during_start_up_is_one_line_and_130(command):
    child = run_child(INTERRUPT_NUMPY_IMPORT, command, capture_output=True)
    assert child.returncode == 130
    assert child.stderr == "mathdnn: interrupted\n"
    assert child.stdout == ""


def test_a_memory_error_is_one_line(capsys, monkeypatch):
    """Issue 22: the commands estimate their memory first; a MemoryError that gets through
    anyway (here: numpy's, raised where the image is loaded) is one line too, exit status 2."""

    def out_of_memory(*args, **kwargs):
        return np.empty((2**40, 2**10))  # 8 PiB: no machine has it

    monkeypatch.setattr("mathdnn.command.images.load_image", out_of_memory)
    assert main(["gray"]) == 2
    one_line_error(capsys, "gray", "out of memory (Unable to allocate", "; try a smaller input")


def test_importing_the_command_line_imports_nothing_heavy():
    code = (
        "import sys, mathdnn, mathdnn.cli\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'matplotlib', 'PIL', 'tqdm', 'threadpoolctl'}))"
    )
    assert run_child(code, capture_output=True).stdout == "[]\n"


def test_lazy_attributes_of_the_package():
    assert mathdnn.tensor is mathdnn.engine.tensor
    assert mathdnn.functional.relu(mathdnn.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert {"tensor", "functional", "set_num_threads"} <= set(dir(mathdnn))
    with pytest.raises(AttributeError, match="no attribute 'tensr'"):
        mathdnn.tensr  # noqa: B018


@pytest.mark.parametrize(
    ("args", "command", "extra"),
    [
        (["edges", "a.png", "a.png"], "edges", "a.png"),
        (["edges", "--frobnicate"], "edges", "--frobnicate"),
        (["train", "lenet", "extra"], "train lenet", "extra"),
        (["losses", "--seeds", "2", "--frobnicate", "x"], "losses", "--frobnicate x"),
    ],
)
def test_unknown_arguments_are_reported_by_their_command(capsys, args, command, extra):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    line = one_line_error(capsys, command, f"unrecognized arguments: {extra}")
    assert line.endswith(f"(see mathdnn {command} --help)")


MAIN = "import sys; from mathdnn.cli import main; sys.exit(main(sys.argv[1:]))"


def without_stdout(how: str) -> tuple[dict, int | None]:
    """``run_child``'s arguments for a child whose stdout is closed, or a pipe whose reader has
    gone; and the pipe's end to close after it."""
    if how == "closed":
        return {"preexec_fn": lambda: os.close(1)}, None
    read_end, write_end = os.pipe()
    os.close(read_end)
    return {"stdout": write_end}, write_end


@pytest.mark.parametrize("how", ["closed", "a pipe without reader"])
@pytest.mark.parametrize("args", [["--help"], ["train", "lenet", "--help"], ["verify"]])
def test_without_stdout_a_command_exits_141_at_once(how, args):
    kwargs, pipe = without_stdout(how)
    try:
        child = run_child(MAIN, *args, stderr=subprocess.PIPE, **kwargs)
    finally:
        if pipe is not None:
            os.close(pipe)
    assert (child.returncode, child.stderr) == (141, "")


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status():
    """``mathdnn verify | head -1``: the reader is gone before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        child = run_child(
            "import sys; from mathdnn.cli import main; sys.exit(main(sys.argv[1:]))",
            "verify",
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    assert child.returncode == 141
    assert child.stderr == ""


# ------------------------------------------------------------------------------- jacobians
@pytest.mark.parametrize("layers", ["100000,100000,1", "20000,20000,1", "20,30000,1"])
def test_jacobians_refuses_layers_over_the_memory_budget_before_allocating(capsys, layers):
    tracemalloc.start()
    try:
        assert main(["jacobians", "--layers", layers]) == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    widths = tuple(map(int, layers.split(",")))
    need = f"{jacobians_bytes(widths) / 2**30:.3g} GiB"
    one_line_error(capsys, "jacobians", f"--layers {layers} needs about {need}", "--max-memory 1")
    assert peak < 2**20  # nothing of the estimated size was allocated


def test_jacobians_max_memory_changes_the_budget(capsys):
    assert main(["jacobians", "--layers", "40,30,1", "--max-memory", "1e-5"]) == 2
    one_line_error(capsys, "jacobians", "more than --max-memory 1e-05 GiB")
    assert main(["jacobians", "--layers", "40,30,1", "--max-memory", "0"]) == 2
    one_line_error(capsys, "jacobians", "--max-memory must be a positive number")
    assert main(["jacobians", "--layers", "40,30,1", "--max-memory", "0.01"]) == 0


def test_jacobians_memory_estimate_bounds_the_measured_peak(capsys):
    layers = (700, 500, 1)
    tracemalloc.start()
    try:
        assert main(["jacobians", "--layers", ",".join(map(str, layers))]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    capsys.readouterr()
    assert 0.5 * jacobians_bytes(layers) < peak < 1.1 * jacobians_bytes(layers)


# ------------------------------------------------------------------------ learning rates
@pytest.mark.parametrize("command", ["mlp", "losses"])
@pytest.mark.parametrize("lr", ["nan", "inf", "-0.1", "0"])
def test_learning_rates_must_be_positive_and_finite(capsys, tmp_path, command, lr):
    extra = ["-o", str(tmp_path / "out"), "--quiet"] if command == "losses" else []
    assert main([command, "--lr", lr, *extra]) == 2
    one_line_error(capsys, command, "--lr must be a positive finite number")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--batch-size", "-1"], "--batch-size must be a positive integer, got -1"),
        (["--hidden", "16,0"], "--hidden widths must be positive"),
    ],
)
def test_mlp_bad_sizes(capsys, args, message):
    assert main(["mlp", *args]) == 2
    one_line_error(capsys, "mlp", message)


def test_mlp_divergence_is_reported_as_divergence(capsys, monkeypatch):
    monkeypatch.delenv("MATHDNN_MNIST_DIR", raising=False)
    assert main(["mlp", "--lr", "1e6"]) == 2
    one_line_error(capsys, "mlp", "training diverged", "lr=1e+06", "use a smaller --lr")


def test_losses_divergence_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("MATHDNN_MNIST_DIR", raising=False)
    out = tmp_path / "out"
    assert main(["losses", "--lr", "1e300", "--epochs", "1", "--seeds", "1", "-o", str(out)]) == 2
    one_line_error(capsys, "losses", "training diverged", "use a smaller --lr")
    assert not out.exists()


# ----------------------------------------------------------------------------- --mnist-dir
def write_mnist(directory: Path, train_labels, test_labels) -> Path:
    """The four IDX files, images blank, with the given labels."""
    directory.mkdir()
    for prefix, labels in (("train", train_labels), ("t10k", test_labels)):
        labels = np.asarray(labels, np.uint8)
        for kind, array in (
            ("images", np.zeros((len(labels), 28, 28), np.uint8)),
            ("labels", labels),
        ):
            head = bytes([0, 0, 0x08, array.ndim]) + b"".join(
                n.to_bytes(4, "big") for n in array.shape
            )
            (directory / f"{prefix}-{kind}-idx{array.ndim}-ubyte").write_bytes(
                head + array.tobytes()
            )
    return directory


ALL_DIGITS = list(range(10)) * 3


@pytest.mark.parametrize(
    "train, test, missing",
    [
        ([], [], "the training set in {dir} (--mnist-dir) has no images of digit 4 or 9"),
        (ALL_DIGITS, [], "the test set in {dir} (--mnist-dir) has no images of digit 4 or 9"),
        ([0, 1, 2, 3] * 5, ALL_DIGITS, "the training set in {dir} (--mnist-dir)"),
        ([4, 4, 0, 1], ALL_DIGITS, "has no images of digit 9; --digits 4 9 needs both"),
        (ALL_DIGITS, [9, 9, 1], "the test set in {dir} (--mnist-dir) has no images of digit 4;"),
    ],
)
def test_mnist_dir_without_both_digits_is_refused(capsys, tmp_path, train, test, missing):
    directory = write_mnist(tmp_path / "mnist", train, test)
    out = tmp_path / "out"
    argv = ["losses", "--mnist-dir", str(directory), "--digits", "4", "9", "-o", str(out)]
    assert main(argv) == 2
    one_line_error(capsys, "losses", missing.format(dir=directory), "--digits 4 9")
    assert not out.exists()


def test_mlp_with_an_empty_mnist_dir_is_refused(capsys, tmp_path, monkeypatch):
    directory = write_mnist(tmp_path / "mnist", [], [])
    monkeypatch.setenv("MATHDNN_MNIST_DIR", str(directory))
    assert main(["mlp"]) == 2
    one_line_error(capsys, "mlp", "0 training and 0 test images")


@pytest.mark.parametrize("command", ["mlp", "losses", "train", "hw4"])
def test_every_mnist_command_refuses_a_forged_count_from_the_header(capsys, tmp_path, command):
    """Issue 22: a small .gz claiming 2³² − 1 images was decompressed until memory ran out. Each
    command that reads MNIST has --max-images; the claim is refused before any data is read."""
    directory = write_mnist(tmp_path / "mnist", ALL_DIGITS, ALL_DIGITS)
    claimed = 2**32 - 1
    for name, shape in (("train-images-idx3-ubyte", (claimed, 28, 28)),
                        ("train-labels-idx1-ubyte", (claimed,))):  # fmt: skip
        (directory / name).unlink()
        head = bytes([0, 0, 0x08, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
        (directory / f"{name}.gz").write_bytes(gzip.compress(head + bytes(8 << 20), 1))
    out = tmp_path / "out"
    argv = {
        "mlp": ["mlp"],
        "losses": ["losses", "-o", str(out)],
        "train": ["train", "lenet", "-o", str(out)],
        "hw4": ["hw4", "-o", str(out)],
    }[command] + ["--mnist-dir", str(directory)]
    tracemalloc.start()
    try:
        assert main(argv) == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_line_error(
        capsys,
        command,
        "train-images-idx3-ubyte.gz claims 4,294,967,295 images, more than max_images=250,000",
    )
    assert peak < 16 * 2**20  # the 8 MiB of data were never decompressed
    assert not out.exists()


def test_max_images_sets_the_limit(capsys, tmp_path):
    directory = write_mnist(tmp_path / "mnist", ALL_DIGITS, ALL_DIGITS)
    argv = ["mlp", "--mnist-dir", str(directory), "--hidden", "4"]
    assert main([*argv, "--max-images", "29"]) == 2
    one_line_error(capsys, "mlp", "claims 30 images, more than max_images=29")
    assert main([*argv, "--max-images", "0"]) == 2
    one_line_error(capsys, "mlp", "--max-images must be a positive integer, got 0")
    assert main([*argv, "--max-images", "30"]) == 0
    assert "MNIST(train=30, test=30" in capsys.readouterr().out


# ---------------------------------------------------------------------------------- images
@pytest.mark.parametrize("command", ["edges", "gray", "pool"])
def test_images_with_too_many_pixels_are_refused_from_the_header(capsys, tmp_path, command):
    huge = tmp_path / "huge.png"
    Image.new("L", (9000, 9000)).save(huge)  # 79 KB on disk, 81 megapixels
    out = tmp_path / "out.png"
    tracemalloc.start()
    try:
        assert main([command, str(huge), "-o", str(out)]) == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_line_error(
        capsys, command, "huge.png is 9000×9000 = 81,000,000 pixels", "--max-pixels 12,000,000"
    )
    assert peak < 8 * 2**20  # never decoded (81 MB as 8-bit pixels)
    assert not out.exists()


def test_max_pixels_changes_the_cap(capsys, tmp_path):
    small = tmp_path / "small.png"
    Image.new("RGB", (30, 20)).save(small)
    out = tmp_path / "out.png"
    assert main(["gray", str(small), "-o", str(out), "--max-pixels", "599"]) == 2
    one_line_error(capsys, "gray", "30×20 = 600 pixels, more than --max-pixels 599")
    assert main(["gray", str(small), "-o", str(out), "--max-pixels", "0"]) == 2
    one_line_error(capsys, "gray", "--max-pixels must be a positive integer, got 0")
    assert not out.exists()
    assert main(["gray", str(small), "-o", str(out), "--max-pixels", "600"]) == 0
    assert out.exists()


# ---------------------------------------------------------------------------- output paths
@pytest.mark.parametrize(
    "command, output",
    [
        (["edges"], "afile/edges.png"),
        (["gray"], "afile/deeper/gray.png"),
        (["pool", "-k", "8"], "afile/pool.png"),
        (["losses", "--epochs", "1", "--seeds", "1", "--quiet"], "afile/out"),
    ],
)
def test_an_output_under_a_file_names_the_output_path(capsys, tmp_path, command, output):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / output
    assert main([*command, "-o", str(target)]) == 2
    line = one_line_error(capsys, command[0], f"cannot write {target}", "is a file")
    assert ".tmp" not in line
    assert (tmp_path / "afile").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_read_only_output_names_the_output_path(capsys, tmp_path, monkeypatch):
    import errno
    import tempfile

    def read_only(prefix, suffix, dir):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}x{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    target = tmp_path / "gray.png"
    assert main(["gray", "-o", str(target)]) == 2
    one_line_error(capsys, "gray", f"cannot write {target}: Read-only file system")
    assert list(tmp_path.iterdir()) == []
