"""The solution template a student fills in: ``hw4_solution.py``, one stub per function of every
problem, each raising ``NotImplementedError`` under the problem's statement. Written from the
exercises alone; nothing of a submission is read."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

from mathdnn.exercise import Exercise
from mathdnn.io import as_path, atomic_write

FILE_NAME = "hw4_solution.py"

HEADER = '''\
"""Homework 4 of "Mathematical Foundations of Deep Neural Networks": your solution.

Write each function below with NumPy only (import numpy as np, and nothing else). A function
you have not written yet keeps its `raise NotImplementedError`. Do not change the names or the
parameters: the grader calls the functions by them. Grade the file with

    mathdnn grade hw4_solution.py                       (add --html feedback.html for a page)

The grader runs the file in a separate process and calls each function on many inputs. It checks
what comes back (its type, its shape, its dtype, that it is finite), then the problem's identity;
a mistake comes back as the smallest input on which it fails: your value, the expected one and
the formula it comes from. A function gets 10 seconds and 1 GiB of memory.

Conventions (those of PyTorch and of the course's notes):
- arrays are NumPy arrays; the grader passes float64 arrays, and a returned array must be a
  float array (float64 or float32) unless the statement says otherwise; indices are 0-based;
- images are (N, C, H, W), or (C, H, W) for one image; a filter bank is (C_out, C_in / groups,
  kh, kw);
- conv2d(X, w, stride=s, padding=p, groups=g) is torch.nn.functional.conv2d, a
  cross-correlation:

      Y[n, l, i, j] = Σ_{c, a, b} w[l, c, a, b] · X'[n, c, s·i + a, s·j + b]

  with X' the input padded with p zeros on every side; with groups = C each output channel
  sees only its own input channel. To try a filter, mathdnn.functional.conv2d (or PyTorch's)
  computes it.
"""

from collections.abc import Callable

import numpy as np
'''


def template_text(exercises: Sequence[Exercise]) -> str:
    """The whole file: the header, then each problem's functions."""
    parts = [HEADER.rstrip("\n")]
    for exercise in exercises:
        parts.append(f"\n\n\n# Problem {exercise.problem}: {exercise.title}")
        for k, task in enumerate(exercise.tasks):
            statement = textwrap.indent(task.statement.rstrip("\n"), "    ")
            parts.append(
                ("\n\n\n" if k else "\n")
                + f"def {task.name}{task.signature}:\n"
                + f'    """{statement.lstrip()}\n    """\n'
                + "    raise NotImplementedError"
            )
    parts.append("\n")
    return "".join(parts)


def write_template(folder: str | os.PathLike[str], exercises: Sequence[Exercise]) -> Path:
    """Write ``folder/hw4_solution.py``; a ``FileExistsError`` if it is there already (it may
    hold a student's work)."""
    path = as_path("write_template", "folder", folder) / FILE_NAME
    if path.exists():
        raise FileExistsError(
            f"{path} exists already; it may hold your work, so it is left alone (move it, or "
            "give another folder)"
        )
    text = template_text(exercises)
    return atomic_write(path, lambda f: f.write(text.encode()))
