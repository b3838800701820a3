"""``mathdnn hw4``'s command line: bad input is one line, exit status 2 and nothing written; a
failing check is exit status 1, named on stderr and red on the page; an earlier report is
replaced whole, any other folder left alone; Ctrl-C leaves no partial report; --open, --seeds
and the progress bar. The whole run is tested in tests/report/test_report_page.py; here the
report is cut down to Problem 1, so each run takes a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from limited import run_limited

import mathdnn
import mathdnn.report.build as report_build
from mathdnn import verify
from mathdnn.check import Check
from mathdnn.cli import main
from mathdnn.data import load_mnist
from mathdnn.hw4.p7_lenet_c3 import lenet_epochs
from mathdnn.report.build import prepare

SRC = str(Path(mathdnn.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def bundled_mnist(monkeypatch):
    monkeypatch.delenv("MATHDNN_MNIST_DIR", raising=False)


@pytest.fixture
def problem_1_only(monkeypatch):
    """The report with its first section only (the page and the folder are the same code)."""
    monkeypatch.setattr(report_build, "SECTIONS", report_build.SECTIONS[:1])


def hw4(*args: str) -> int:
    try:
        return main(["hw4", *args])
    except SystemExit as stop:  # argparse's own errors
        return stop.code


def one_line_error(capsys, *fragments: str) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mathdnn hw4: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert captured.out == ""
    return lines[0]


def _idx(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return head + np.ascontiguousarray(array).tobytes()


def _mnist_without_nines(directory: Path) -> Path:
    m = load_mnist()
    keep_train, keep_test = m.train_labels[:300] != 9, m.test_labels[:100] != 9
    for name, array in (
        ("train-images-idx3-ubyte", m.train_images[:300][keep_train]),
        ("train-labels-idx1-ubyte", m.train_labels[:300][keep_train].astype(np.uint8)),
        ("t10k-images-idx3-ubyte", m.test_images[:100][keep_test]),
        ("t10k-labels-idx1-ubyte", m.test_labels[:100][keep_test].astype(np.uint8)),
    ):
        (directory / name).write_bytes(_idx(array))
    return directory


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--seeds", "0"], ["--seeds must be a positive integer, got 0"]),
        (["--seeds", "-3"], ["--seeds must be a positive integer, got -3"]),
        (["--seeds", "two"], ["argument --seeds", "'two'"]),
        (["--image", "{missing}"], ["no such file"]),
        (["--image", "{text}"], ["not an image Pillow can read"]),
        (["--image", "{folder}"], ["is a directory"]),
        (["--mnist-dir", "{missing}"], ["does not exist"]),
        (["--mnist-dir", "{folder}"], ["no complete MNIST set"]),
        (["--mnist-dir", "{no_nines}"], ["has no images of digit 9", "Problem 5 needs"]),
        (["-o", "{text}"], ["-o:", "exists and is not a directory"]),
        (["-o", "{text}/report"], ["is a file, not a directory"]),
        (["-o", "{other}"], ["-o:", "not", "mathdnn hw4 report"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, fragments):
    places = {
        "missing": tmp_path / "missing.png",
        "text": tmp_path / "notes.txt",
        "folder": tmp_path / "empty",
        "no_nines": tmp_path / "mnist",
        "other": tmp_path / "other",
    }
    places["text"].write_text("not an image")
    places["folder"].mkdir()
    places["no_nines"].mkdir()
    _mnist_without_nines(places["no_nines"])
    places["other"].mkdir()
    (places["other"] / "thesis.tex").write_text("mine")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = ["-o", str(tmp_path / "report")] if "-o" not in args else []
    argv = [a.format(**places) for a in args] + out
    assert hw4(*argv, "--quick") == 2
    one_line_error(capsys, *fragments)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (places["other"] / "thesis.tex").read_text() == "mine"


def test_an_image_too_large_is_refused_from_its_header(tmp_path, capsys, monkeypatch, images):
    monkeypatch.setattr("mathdnn.cli.hw4.DEFAULT_MAX_PIXELS", 100)
    assert hw4("--image", str(images["grey8"]), "-o", str(tmp_path / "report")) == 2
    one_line_error(capsys, "--image", "24×20 = 480 pixels, more than 100")
    assert not (tmp_path / "report").exists()


# ------------------------------------------------------------------------ what it writes
def test_a_failing_check_is_exit_1_named_on_stderr_and_red(
    tmp_path, capsys, monkeypatch, problem_1_only
):
    failing = Check("1", "an identity that broke", "formula", 0.25, 1e-12)
    monkeypatch.setitem(verify.SUITES, "1", lambda rng: [failing])
    out = tmp_path / "report"
    assert hw4("--quick", "-o", str(out)) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "mathdnn hw4: check failed: Problem 1: an identity that broke (against formula: max "
        "error 0.25, tolerance 1e-12, FAIL)"
    ]
    assert "1 checks: 0 passed, 1 failed" in captured.out
    page = (out / "index.html").read_text()
    assert '<tr class="fail"><td>an identity that broke</td>' in page
    assert "✗ 1 of 1 checks FAILED" in page
    doc = json.loads((out / "results.json").read_text())
    assert doc["summary"]["failed"] == 1 and doc["problems"]["1"]["checks"][0]["passed"] is False


def test_an_earlier_report_is_replaced_whole(tmp_path, capsys, problem_1_only):
    out = tmp_path / "report"
    assert hw4("--quick", "-o", str(out)) == 0
    (out / "stale.png").write_bytes(b"from an older version")
    first = json.loads((out / "results.json").read_text())["created"]
    assert hw4("--quick", "-o", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "p1_edges.png", "results.json"]
    assert json.loads((out / "results.json").read_text())["created"] >= first
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary, no old copy
    assert "wrote" in capsys.readouterr().out


def test_an_empty_folder_is_used(tmp_path, problem_1_only):
    out = tmp_path / "report"
    out.mkdir()
    assert hw4("--quick", "-o", str(out)) == 0
    assert (out / "index.html").is_file()


def test_open_shows_the_page_in_the_browser(tmp_path, monkeypatch, problem_1_only):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    out = tmp_path / "report"
    assert hw4("--quick", "--open", "-o", str(out)) == 0
    assert opened == [(out / "index.html").resolve().as_uri()]


def test_the_progress_bar_shows_on_a_terminal(tmp_path, capsys, monkeypatch, problem_1_only):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert hw4("--quick", "-o", str(tmp_path / "report")) == 0
    captured = capsys.readouterr()
    assert "Problem 1: 0/1" in captured.err
    assert captured.out.startswith("Problem 1  3/3 checks passed")


def test_a_grey_image_of_its_own(tmp_path, monkeypatch, images):
    """Problems 1–3 on a small 16-bit grey image: its figures, its size in the summary."""
    monkeypatch.setattr(report_build, "SECTIONS", report_build.SECTIONS[:3])
    out = tmp_path / "report"
    assert hw4("--quick", "--image", str(images["grey16"]), "-o", str(out)) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["inputs"]["image"] == {
        "name": "grey16.png",
        "default": False,
        "width": 24,
        "height": 20,
        "channels": 1,
    }
    assert doc["problems"]["2"]["k"] == 1  # a window that fits an image of 20 rows
    page = (out / "index.html").read_text()
    assert (
        "grey16.png (24×20, grey) (the checks that compare with Pillow use the sample photograph)"
        in page
    )
    assert sorted(p.name for p in out.glob("*.png")) == [
        "p1_edges.png",
        "p2_average_pool.png",
        "p3_grayscale.png",
    ]


def test_options_and_scale():
    """--seeds is the option Problem 5 declares: its default follows the scale."""
    assert prepare(quick=True).options == {"seeds": 2}
    assert prepare().options == {"seeds": 5}
    assert prepare(quick=True, seeds=3).options == {"seeds": 3}
    assert lenet_epochs("full", 4000) == 30
    assert lenet_epochs("full", 60000) == 2  # the full MNIST keeps the run's time
    assert lenet_epochs("quick", 10**6) == 1
    with pytest.raises(ValueError, match="prepare: seeds must be a positive integer, got 0"):
        prepare(seeds=0)
    with pytest.raises(ValueError, match="prepare: no problem declares the option 'epochs'"):
        prepare(epochs=3)


def test_the_help_lists_the_options_problems_declare(capsys):
    assert hw4("--help") == 0
    assert "--seeds N seeds of Problem 5's comparison (default 5, or 2 with --quick)" in (
        " ".join(capsys.readouterr().out.split())
    )


# ------------------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_leaves_no_partial_report(tmp_path):
    """SIGINT while the problems run: status 130, one line, the earlier report untouched and
    nothing else left beside it."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"report": "mathdnn hw4"}))
    (out / "index.html").write_text("the earlier report")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MATHDNN_MNIST_DIR", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "mathdnn.cli", "hw4", "--quick", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = child.stdout.readline()  # Problem 1 is done: the run is under way
        assert first.startswith("Problem 1"), first
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130
    assert err.strip().splitlines()[-1] == "mathdnn hw4: interrupted"
    assert "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "results.json"]
    assert (out / "index.html").read_text() == "the earlier report"


# ------------------------------------------------------------------------------ --image memory
def test_an_image_whose_figures_the_process_cannot_hold_is_refused(tmp_path):
    """Issue 22's 3400×3400 PNG as --image under a limit: refused from its header, with the
    estimate of the largest of Problems 1–3's figures (`pool` with k = 1, as `mathdnn pool`)."""
    from PIL import Image

    from mathdnn.hw4 import p1_finite_differences, p2_average_pooling, p3_grayscale
    from mathdnn.images import image_header

    big = tmp_path / "big.png"
    Image.new("RGB", (3400, 3400), (10, 200, 30)).save(big)
    drawn = (p1_finite_differences, p2_average_pooling, p3_grayscale)
    need = max(problem.image_bytes(image_header(big)) for problem in drawn) / 2**30
    process = run_limited(["hw4", "--image", str(big), "-o", str(tmp_path / "report")], 2**29)
    assert process.returncode == 2 and process.stdout == "" and "Traceback" not in process.stderr
    assert process.stderr.startswith(
        f"mathdnn hw4: --image big.png (3400×3400, colour) needs about {need:.3g} GiB of memory, "
        "more than the "
    )
    assert process.stderr.endswith("(ulimit -v); give a smaller image\n")
    assert not (tmp_path / "report").exists()


def test_max_memory_caps_the_image(tmp_path, capsys, images):
    out = str(tmp_path / "report")
    assert hw4("--image", str(images["grey8"]), "--max-memory", "1e-6", "-o", out) == 2
    one_line_error(
        capsys,
        "--image grey8.png (24×20, grey) needs about ",
        "more than --max-memory 1e-06 GiB; give a smaller image or raise --max-memory",
    )
    assert hw4("--max-memory", "-2", "-o", out) == 2
    one_line_error(capsys, "--max-memory must be a positive number of GiB, got -2.0")
    assert not (tmp_path / "report").exists()
