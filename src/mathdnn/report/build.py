"""Run every problem of Homework 4 and collect what the report shows: for each, its question and
answer (its docstring), its numbers, its figures (PNG bytes), its page section and its checks.

A loop over ``mathdnn.hw4.registry.PROBLEMS``: each problem's ``run`` does its experiment, the
result gives its ``numbers``, ``figures`` and ``page``, and ``mathdnn.verify.run_suite`` its
checks (the same rows ``mathdnn verify`` prints). What is timed is timed here, in this run, and
reported as measured.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mathdnn import __version__
from mathdnn.check import Check
from mathdnn.data import MNIST, load_mnist
from mathdnn.hw4.inputs import SCALES, Inputs, Option
from mathdnn.hw4.inputs import Progress as ProblemProgress
from mathdnn.hw4.page import Block, Text
from mathdnn.hw4.registry import PROBLEMS, number, title
from mathdnn.images import default_photo_path, load_image
from mathdnn.threads import get_num_threads
from mathdnn.verify import run_suite

__all__ = [
    "ENGINE",
    "SECTIONS",
    "Progress",
    "Report",
    "Section",
    "build",
    "describe",
    "options",
    "prepare",
    "statement",
    "tally",
]


def options() -> list[Option]:
    """The settings the registered problems declare (``OPTIONS``), each under its own name."""
    declared: dict[str, Option] = {}
    for problem in PROBLEMS:
        for option in getattr(problem, "OPTIONS", ()):
            if option.name in declared:
                raise ValueError(f"options: two problems declare the option {option.name!r}")
            declared[option.name] = option
    return list(declared.values())


def prepare(
    image: str | os.PathLike[str] | None = None,
    mnist: MNIST | None = None,
    quick: bool = False,
    **settings: int | None,
) -> Inputs:
    """Load and check every input before any work: the image (default: the sample photograph),
    MNIST (default: ``load_mnist()``, the bundled subset), and each declared option
    (``settings``; None: its default at the scale); then each problem's own ``check_inputs``. Raises
    ``FileNotFoundError``/``ValueError`` naming the input that is wrong."""
    scale = SCALES[1] if quick else SCALES[0]
    values = {}
    declared = {option.name: option for option in options()}
    for name in settings:
        if name not in declared:
            raise ValueError(f"prepare: no problem declares the option {name!r}")
    for name, option in declared.items():
        value = settings.get(name)
        value = option.default(scale) if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"prepare: {name} must be a positive integer, got {value!r}")
        values[name] = value
    path = default_photo_path() if image is None else Path(image)
    mnist = load_mnist() if mnist is None else mnist
    inputs = Inputs(load_image(path), path, mnist, scale, values)
    for problem in PROBLEMS:
        check = getattr(problem, "check_inputs", None)
        if check is not None:
            check(inputs)
    return inputs


def describe(inputs: Inputs) -> dict[str, Any]:
    """What the report ran on, for ``results.json``: the image and MNIST."""
    h, w = inputs.image.shape[:2]
    m: MNIST = inputs.mnist
    return {
        "image": {
            "name": inputs.image_name,
            "default": inputs.image_path == default_photo_path(),
            "width": w,
            "height": h,
            "channels": 1 if inputs.image.ndim == 2 else 3,
        },
        "mnist": {"source": m.source, "n_train": len(m.train_labels), "n_test": len(m.test_labels)},
    }


def statement(problem: ModuleType) -> tuple[str, str]:
    """``(question, answer)`` from a problem's docstring: after its heading, the paragraphs up to
    the one that opens ``Answer:``, and that one (without ``Answer:``)."""
    paragraphs = [" ".join(p.split()) for p in (problem.__doc__ or "").split("\n\n")[1:]]
    for k, paragraph in enumerate(paragraphs):
        if paragraph.startswith("Answer: "):
            return " ".join(paragraphs[:k]), paragraph.removeprefix("Answer: ")
    raise ValueError(f"{problem.__name__}: the docstring has no paragraph opening 'Answer: '")


@dataclass
class Section:
    """One part of the report (``problem``: ``"1"`` … ``"7"``, or ``"engine"``): its title, its
    question and answer, the blocks of its page, the numbers it shows, its figures by file name,
    its checks, and the seconds it took to compute."""

    problem: str
    title: str
    question: str = ""
    answer: str = ""
    blocks: list[Block] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0


#: The engine's part of the report: its checks, and what they are.
ENGINE = Section(
    "engine",
    "the engine under every problem",
    blocks=[
        Text(
            "Every problem above runs on mathdnn's engine. These checks compare its fast paths "
            "with its formula path, the formula path with plain loops (the loop oracle), every "
            "primitive's vector-Jacobian product with finite differences, and the primitives "
            "with PyTorch when it is installed."
        )
    ],
)


class Progress(ProblemProgress):
    """What ``build`` tells while it runs: ``step`` as a section starts (the ``number``-th of
    ``total``), ``note`` within a long one, ``done`` when it is complete. This one says nothing;
    ``mathdnn hw4`` shows it."""

    def step(self, title: str, number: int, total: int) -> None:
        pass

    def done(self, section: Section) -> None:
        pass


# ---------------------------------------------------------------------------------- the report
@dataclass
class Report:
    """Every section, the time the whole run took, and what it ran on."""

    sections: list[Section]
    seconds: float
    inputs: dict[str, Any]
    options: dict[str, Any]
    versions: dict[str, str]
    created: str

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.checks]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def figures(self) -> dict[str, bytes]:
        return {name: png for s in self.sections for name, png in s.figures.items()}

    def counts(self) -> dict[str, int]:
        return tally(self.checks)

    def document(self) -> dict[str, Any]:
        """``results.json``: every number the page shows (strict JSON once written: an infinite
        error of an expected failure is the string ``"inf"``, an unmeasured one ``null``)."""
        return {
            "report": "mathdnn hw4",
            "created": self.created,
            "seconds": self.seconds,
            "options": self.options,
            "inputs": self.inputs,
            "versions": self.versions,
            "summary": self.counts(),
            "figures": sorted(self.figures),
            "problems": {
                s.problem: {
                    "title": s.title,
                    "seconds": s.seconds,
                    **s.numbers,
                    "checks": [check_record(c) for c in s.checks],
                }
                for s in self.sections
            },
        }


def tally(checks: list[Check]) -> dict[str, int]:
    """How many ``checks`` there are, and how many passed, failed and were skipped (a skipped
    check, PyTorch's without PyTorch, neither passes nor fails)."""
    skipped = sum(c.skipped for c in checks)
    failed = sum(not c.passed for c in checks)
    return {
        "checks": len(checks),
        "passed": len(checks) - failed - skipped,
        "failed": failed,
        "skipped": skipped,
    }


def check_record(check: Check) -> dict[str, Any]:
    """A check as JSON: its fields, its status, its error as a number where it is finite."""
    error: float | str | None = check.max_error
    if math.isnan(check.max_error):
        error = None
    elif math.isinf(check.max_error):
        error = "inf" if check.max_error > 0 else "-inf"
    return {
        "problem": check.problem,
        "name": check.name,
        "reference": check.reference,
        "max_error": error,
        "tolerance": check.tolerance,
        "expected_failure": check.expected_failure,
        "skipped": check.skipped,
        "passed": check.passed,
        "status": check.status,
        "detail": check.detail,
    }


def versions() -> dict[str, str]:
    """The software the run used: Python, mathdnn and its libraries, PyTorch if installed (the
    reference of some checks), the platform and the threads mathdnn's kernels use."""
    found = {"python": platform.python_version(), "mathdnn": __version__}
    for package in ("numpy", "matplotlib", "pillow", "tqdm", "threadpoolctl", "torch"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["platform"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    found["mathdnn threads"] = str(get_num_threads())
    return found


def _problem_section(problem: ModuleType, inputs: Inputs, progress: Progress) -> Section:
    result = problem.run(inputs, progress)
    question, answer = statement(problem)
    return Section(
        number(problem),
        title(problem),
        question,
        answer,
        result.page(),
        result.numbers(),
        result.figures(),
    )


#: What the report runs, in order: every problem of the registry, then the engine's checks.
SECTIONS: tuple[ModuleType | Section, ...] = (*PROBLEMS, ENGINE)


def build(inputs: Inputs, progress: Progress | None = None, seed: int = 0) -> Report:
    """Run every part of ``SECTIONS`` on ``inputs``; each one's checks are
    ``run_suite(number, seed)``."""
    progress = Progress() if progress is None else progress
    began = time.perf_counter()
    created = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    sections = []
    for k, part in enumerate(SECTIONS, start=1):
        start = time.perf_counter()
        if isinstance(part, Section):
            progress.step(part.title, k, len(SECTIONS))
            section = Section(part.problem, part.title, blocks=part.blocks)
        else:
            progress.step(f"Problem {number(part)}: {title(part)}", k, len(SECTIONS))
            section = _problem_section(part, inputs, progress)
        progress.note("checking")
        section.checks = run_suite(section.problem, seed)
        section.seconds = time.perf_counter() - start
        sections.append(section)
        progress.done(section)
    return Report(
        sections=sections,
        seconds=time.perf_counter() - began,
        inputs=describe(inputs),
        options={"quick": inputs.quick, **inputs.options, "check_seed": seed},
        versions=versions(),
        created=created,
    )
