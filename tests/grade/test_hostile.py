"""Hostile submissions: a hang, exit(), os._exit(), a huge allocation, a flood of output, a
crash, answers of the wrong type, dtype or shape or not finite, a fake verdict printed and sent
down the protocol's pipe. Each is the transcribed handwritten solution with one function
replaced; each fails only its own problem, with one clear reason, and the grader goes on."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import pytest
from grade_settings import SOLUTIONS, short

from mathdnn.cli import main
from mathdnn.grade import page
from mathdnn.grade.feedback import problem_text, text
from mathdnn.grade.run import FAILED, PASSED, grade_files

LIMIT = 4.0  # seconds per function: the endless loop costs this much


@dataclass(frozen=True)
class Hostile:
    name: str
    problem: str
    says: str
    source: str

    def file_text(self) -> str:
        seed = (SOLUTIONS / "seed.py").read_text()
        return f"{seed}\n\n# Hostile: {self.name}\nimport os\nimport sys\n\n{self.source.strip()}\n"


HOSTILE = (
    Hostile(
        "an endless loop",
        "3",
        f"no answer within {LIMIT:g} s while running grayscale_filter",
        "def grayscale_filter():\n    while True:\n        pass",
    ),
    Hostile(
        "sys.exit()",
        "2",
        "avg_pool_filter called exit()",
        "def avg_pool_filter(k, channels):\n    sys.exit(0)",
    ),
    Hostile(
        "os._exit()",
        "1",
        "the process ended (exit status 3) without answering",
        "def finite_difference_filter():\n    os._exit(3)",
    ),
    Hostile(
        "a huge allocation",
        "6",
        "mlp_gradients ran out of memory (the limit is 1 GiB)",
        "def mlp_gradients(As, bs, x, sigma, sigma_prime):\n    return np.ones((10**6, 10**6))",
    ),
    Hostile(
        "a flood of output",
        "4",
        "printed more than 1 MiB while running maxpool_counterexample",
        "def maxpool_counterexample(activation):\n    while True:\n        print('x' * 10000)",
    ),
    Hostile(
        "a segmentation fault",
        "5",
        "the process crashed (segmentation fault)",
        "def logistic_loss(z, y):\n    import ctypes\n\n    return ctypes.string_at(0)",
    ),
    Hostile(
        "os.abort()",
        "7",
        "the process aborted",
        "def c3_forward(x, weights, bias):\n    os.abort()",
    ),
    Hostile(
        "an integer filter",
        "1",
        "your answer: an array of dtype int64",
        "def finite_difference_filter():\n    return np.zeros((2, 1, 3, 3), dtype=int)",
    ),
    Hostile(
        "NaN in the filter",
        "3",
        "your answer: an array with [0, 1, 0, 0] = nan",
        "def grayscale_filter():\n    return np.array([0.299, np.nan, 0.114]).reshape(1, 3, 1, 1)",
    ),
    Hostile(
        "a dict, which the protocol does not carry",
        "2",
        "your answer: a dict",
        "def avg_pool_filter(k, channels):\n    return {'w': 1}",
    ),
    Hostile(
        "a list instead of an array",
        "7",
        "your answer: a list of 6 items",
        "def c3_connections():\n    return [[True] * 16] * 6",
    ),
    Hostile(
        "a fake verdict printed and written down every pipe",
        "1",
        "sent an answer the grader cannot read",
        """
def finite_difference_filter():
    import json
    import struct

    # A frame as mathdnn.grade.protocol writes one, built by hand (the child may not import it).
    text = json.dumps({"status": "passed", "verdict": "passed", "score": 7, "blobs": []}).encode()
    payload = struct.pack(">I", len(text)) + text
    fake = struct.pack(">Q", len(payload)) + payload
    print("Problem 1 · finite differences as a 3×3 convolution: passed")
    print("score 7 / 7 (100 %)")
    sys.stdout.flush()
    for fd in range(3, 64):
        try:
            os.write(fd, fake)
        except OSError:
            pass
    return np.zeros((2, 1, 3, 3))
""",
    ),
    Hostile(
        "killing the process that starts the submissions",
        "4",
        "the process ended without answering",
        """
def maxpool_counterexample(activation):
    import signal

    os.kill(os.getppid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
""",
    ),
    Hostile(
        "the project's own answer, imported",
        "2",
        "a solution uses NumPy only; it may not import mathdnn",
        """
def avg_pool_filter(k, channels):
    from mathdnn.hw4 import p2_average_pooling

    return p2_average_pooling.avg_pool_filter(k, channels)
""",
    ),
    Hostile(
        "PyTorch's answer, imported",
        "3",
        "a solution uses NumPy only; it may not import torch",
        """
def grayscale_filter():
    import torch

    return torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1).numpy()
""",
    ),
    Hostile(
        "an exception whose message is HTML",
        "5",
        "raised ValueError: <script>alert(1)</script>",
        "def sum_of_squares_grad(z, y):\n    raise ValueError('<script>alert(1)</script>')",
    ),
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    paths = []
    for k, hostile in enumerate(HOSTILE):
        path = folder / f"hostile{k:02d}.py"
        path.write_text(hostile.file_text())
        paths.append(path)
    return dict(zip(HOSTILE, grade_files(paths, short(LIMIT)), strict=True))


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_a_hostile_function_fails_its_problem_alone_with_one_reason(graded, hostile):
    result = graded[hostile]
    statuses = {p.problem: p.status for p in result.problems}
    assert statuses == {p: FAILED if p == hostile.problem else PASSED for p in statuses}
    (problem,) = (p for p in result.problems if p.problem == hostile.problem)
    failed = [t for t in problem.tasks if t.status == FAILED]
    assert len(failed) == 1
    feedback = problem_text(problem)
    assert hostile.says in feedback, feedback
    assert "Traceback" not in text(result)


def test_a_fake_verdict_stays_in_the_submission(graded, capsys):
    (fake,) = (h for h in HOSTILE if h.name.startswith("a fake verdict"))
    result = graded[fake]
    assert result.score == 6 and not result.passed
    assert "score 6 / 7" in text(result) and "score 7 / 7" not in text(result)


def test_a_file_that_does_not_load_fails_every_problem_with_its_reason(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy as np\n\ndef finite_difference_filter(:\n    pass\n")
    leaving = tmp_path / "leaving.py"
    leaving.write_text("import sys\n\nsys.exit(1)\n")
    results = grade_files([broken, leaving], short(LIMIT))
    for result, reason in zip(
        results,
        ("the file does not load: SyntaxError", "the file does not load: it calls exit()"),
        strict=True,
    ):
        assert {p.status for p in result.problems} == {FAILED}
        for task in (t for p in result.problems for t in p.tasks):
            assert task.reason.startswith(reason), task.reason
    assert "(line 3)" in results[0].problems[0].tasks[0].reason


def test_a_process_a_submission_starts_is_killed_with_it(tmp_path):
    pid_file = tmp_path / "pid"
    lingering = tmp_path / "lingering.py"
    lingering.write_text(
        (SOLUTIONS / "seed.py").read_text()
        + f"""

import subprocess


def grayscale_filter():
    child = subprocess.Popen(["sleep", "60"])
    with open({str(pid_file)!r}, "w") as f:
        f.write(str(child.pid))
    while True:
        pass
"""
    )
    (result,) = grade_files([lingering], short(2.0))
    assert [p.status for p in result.problems] == [PASSED, PASSED, FAILED, *[PASSED] * 4]
    pid = int(pid_file.read_text())
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)  # still there (or a zombie until init reaps it)
        except ProcessLookupError:
            break
        if _is_zombie(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the submission's own child outlived it")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_the_command_prints_no_traceback_for_a_hostile_file(tmp_path, capsys):
    hostile = tmp_path / "hw4_solution.py"
    hostile.write_text(HOSTILE[2].file_text())  # os._exit(3)
    assert main(["grade", str(hostile), "--time-limit", str(LIMIT)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "score 6 / 7" in out


def test_an_interrupted_grading_stops_the_children_at_once(tmp_path):
    hanging = tmp_path / "hanging.py"
    hanging.write_text("def finite_difference_filter():\n    while True:\n        pass\n")
    calls = []

    def interrupt():
        calls.append(1)
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        grade_files([hanging] * 3, short(60.0), jobs=2, done=interrupt)
    assert time.monotonic() - start < 30  # not the minute the endless loop may take
    assert len(calls) >= 1


def test_what_a_submission_says_is_escaped_on_the_page(graded):
    (html_message,) = (h for h in HOSTILE if h.name.startswith("an exception whose message"))
    html = page.render([graded[html_message]], short(LIMIT))
    assert "raised ValueError: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
