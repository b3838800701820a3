"""The commands of Problems 1–3 on images, ``edges``, ``gray``, ``pool``: run in-process, and under
a real memory limit against the estimate of their memory."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from limited import run_limited
from PIL import Image

from mathdnn.cli import main
from mathdnn.images import image_header

REPO = Path(__file__).resolve().parents[2]


def _measurement():
    """``scripts/image_memory.py``, which measures the peak memory the estimate is made from."""
    spec = importlib.util.spec_from_file_location("image_memory", REPO / "scripts/image_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Each command's estimate of its memory, as the measuring script compares them.
estimated_bytes = _measurement().estimated_bytes


def _png(path):
    with Image.open(path) as image:
        image.verify()
        return image.format


@pytest.mark.parametrize(
    "argv",
    [
        ["edges"],
        ["gray"],
        ["pool", "-k", "8"],
        ["edges", "grey16"],
        ["gray", "grey8"],
        ["pool", "rgba", "-k", "3"],
        ["edges", "jpeg"],
        ["gray", "palette"],
    ],
)
def test_commands_write_a_png(argv, images, tmp_path, capsys):
    args = [str(images.get(a, a)) for a in argv]
    out = tmp_path / "out" / "figure.png"
    assert main([*args, "-o", str(out)]) == 0
    assert _png(out) == "PNG"
    assert capsys.readouterr().out.strip() == f"wrote {out}"


def test_default_output_in_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["pool", "-k", "16"]) == 0
    assert (tmp_path / "pool.png").is_file()
    assert "wrote pool.png" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["edges", "missing.png"], "no such file"),
        (["gray", "text"], "not an image"),
        (["pool", "float"], "unsupported image mode"),
        (["pool", "-k", "0"], "-k must be a positive integer, got '0'"),
        (["pool", "-k", "2.5"], "-k must be a positive integer, got '2.5'"),
        (["pool", "-k", "abc"], "-k must be a positive integer"),
        (["pool", "grey8", "-k", "21"], "-k 21 is larger than the image grey8.png (24×20"),
        (["edges", "-o", "x.jpg"], "must end in .png"),
    ],
)
def test_bad_input_one_line_nonzero_nothing_written(argv, message, images, tmp_path, capsys):
    out_dir = tmp_path / "outputs"
    out_dir.mkdir()
    args = [str(images.get(a, tmp_path / a if a.endswith(".png") else a)) for a in argv]
    if "-o" not in args:
        args += ["-o", str(out_dir / "figure.png")]
    assert main(args) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mathdnn {argv[0]}: ")
    assert message in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []
    assert not (tmp_path / "x.jpg").exists()


# ----------------------------------------------------------------------------------- memory
def one_line(process, command: str) -> str:
    """The one stderr line of a command that failed with status 2 and wrote nothing to stdout."""
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr and process.stdout == ""
    lines = process.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mathdnn {command}: "), process.stderr
    return lines[0]


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory):
    """Issue 22's picture: a 3400×3400 colour PNG, 41 KB on disk, under --max-pixels."""
    path = tmp_path_factory.mktemp("big") / "big.png"
    Image.new("RGB", (3400, 3400), (10, 200, 30)).save(path)
    return path


@pytest.mark.parametrize("command", ["edges", "gray", "pool"])
def test_under_a_memory_limit_the_estimate_refuses_from_the_header(command, big_photo, tmp_path):
    """Issue 22: `gray` on this image ended in a MemoryError traceback under a 1 GiB limit. Now
    the command estimates its memory from the header and refuses before decoding."""
    out = tmp_path / "figure.png"
    header = image_header(big_photo)
    need = estimated_bytes(command, header, k=4) / 2**30  # pool's default window
    process = run_limited([command, str(big_photo), "-o", str(out)], 600 * 2**20)
    line = one_line(process, command)
    assert line.startswith(
        f"mathdnn {command}: big.png (3400×3400, colour) needs about {need:.3g} GiB of memory, "
        "more than the "
    )
    assert line.endswith(" GiB this process may still allocate (ulimit -v); use a smaller image")
    assert not out.exists()


def test_a_memory_error_the_estimate_missed_is_one_line(big_photo, tmp_path):
    """The second line of defence: the estimate blind to the limit, the allocation fails."""
    out = tmp_path / "figure.png"
    process = run_limited(["gray", str(big_photo), "-o", str(out)], 200 * 2**20, blind=True)
    line = one_line(process, "gray")
    assert line.startswith("mathdnn gray: out of memory (") and line.endswith(
        "; try a smaller input"
    )
    assert not out.exists()


def test_max_memory_is_the_cap(images, tmp_path, capsys):
    out = tmp_path / "figure.png"
    header = image_header(images["rgba"])  # 18×16, colour
    need = estimated_bytes("pool", header, 3)
    assert main(["pool", str(images["rgba"]), "-k", "3", "-o", str(out), "--max-memory",
                 f"{0.99 * need / 2**30:.6g}"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith(f"mathdnn pool: rgba.png (18×16, colour) needs about {need / 2**30:.3g}")
    assert err.endswith("GiB; use a smaller image or raise --max-memory\n")
    for bad in ("0", "-1", "nan", "inf"):
        assert main(["gray", str(images["grey8"]), "-o", str(out), "--max-memory", bad]) == 2
        assert "--max-memory must be a positive number of GiB" in capsys.readouterr().err
    assert not out.exists()
    assert main(["pool", str(images["rgba"]), "-k", "3", "-o", str(out), "--max-memory",
                 f"{1.01 * need / 2**30:.6g}"]) == 0  # fmt: skip
    assert out.exists()


@pytest.mark.parametrize(
    ("command", "mode"), [("edges", "L"), ("edges", "RGB"), ("gray", "RGB"), ("pool", "RGB")]
)
def test_the_estimate_bounds_the_peak_memory(command, mode, tmp_path):
    """The estimate against the peak resident memory measured in a fresh process (pool with
    k = 1, its largest): never below it, and within twice it."""
    pixels = np.random.default_rng(0).integers(0, 256, (1000, 1500, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels).save(path)
    extra = ["-k", "1"] if command == "pool" else []
    measured = _measurement().peak_growth(command, path, tuple(extra), tmp_path / "figure.png")
    estimate = estimated_bytes(command, image_header(path), 1)
    assert measured <= estimate <= 2 * measured
