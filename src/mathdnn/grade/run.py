"""Grading: each problem of a submission in its own child process, its verdicts computed here.

``grade_file(path, exercises)`` grades one file, ``grade_files(paths, exercises)`` many, in
parallel on ``jobs`` threads (the work is in the children; a thread waits for its child). For
every function of every problem the result is ``passed``, ``failed`` (with the counterexample,
or the reason the process broke) or ``not implemented``. A problem passes when all its functions
do; its score is the fraction of them that pass; a submission's score is the sum over problems.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mathdnn.grade.exercise import (
    Broke,
    Counterexample,
    Exercise,
    NotImplementedBySubmission,
    Raised,
    Search,
    Task,
    WrongAnswer,
)
from mathdnn.grade.sandbox import Limits, Sandbox

PASSED, FAILED, NOT_IMPLEMENTED = "passed", "failed", "not implemented"
# The search stops trying new cases (and shrinking) after this share of a function's time limit,
# so a correct solution that is merely slow passes on fewer cases instead of running out of time.
SEARCH_SHARE = 0.6


@dataclass(frozen=True)
class TaskResult:
    """The verdict on one function: ``status``, the ``counterexample`` of a failure (when there
    is an input to show), the ``reason`` a process broke or a function is not implemented, how
    many cases were ``tried`` and the ``seconds`` it took."""

    name: str
    status: str
    counterexample: Counterexample | None = None
    reason: str = ""
    tried: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.name,
            "status": self.status,
            "reason": self.reason,
            "counterexample": self.counterexample.to_json() if self.counterexample else None,
            "cases_tried": self.tried,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ProblemResult:
    problem: str
    title: str
    tasks: tuple[TaskResult, ...]

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.tasks}
        if statuses == {PASSED}:
            return PASSED
        return NOT_IMPLEMENTED if statuses == {NOT_IMPLEMENTED} else FAILED

    @property
    def score(self) -> float:
        """The fraction of the problem's functions that pass."""
        return sum(t.status == PASSED for t in self.tasks) / len(self.tasks)

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "title": self.title,
            "status": self.status,
            "score": self.score,
            "functions": [t.to_json() for t in self.tasks],
        }


@dataclass(frozen=True)
class SubmissionResult:
    path: str
    problems: tuple[ProblemResult, ...]
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def score(self) -> float:
        """Problems solved, a function's share of a problem counted as a fraction of it."""
        return sum(p.score for p in self.problems)

    @property
    def passed(self) -> bool:
        return all(p.status == PASSED for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "submission": self.path,
            "score": round(self.score, 6),
            "out_of": len(self.problems),
            "percent": round(100 * self.score / len(self.problems), 2),
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True)
class Settings:
    """How to grade: the ``limits`` of each child process, the ``seed`` of the cases, and
    ``scale``, a factor on every function's number of cases (tests use fewer)."""

    limits: Limits = field(default_factory=Limits)
    seed: int = 0
    scale: float = 1.0


class _Student:
    """``student(*args)``: the submission's function ``name`` called in the sandbox."""

    def __init__(self, sandbox: Sandbox, name: str, deadline: float) -> None:
        self.sandbox, self.name, self.deadline = sandbox, name, deadline
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        try:
            return self.sandbox.call(self.name, args, self.deadline)
        except NotImplementedBySubmission:
            if self.calls == 1:
                raise
            # It answered before: NotImplementedError for this input is a wrong answer.
            raise Raised("NotImplementedError") from None


def _grade_task(
    task: Task, sandbox: Sandbox, settings: Settings, rng: np.random.Generator
) -> TaskResult:
    start = time.monotonic()
    limit = settings.limits.time
    examples = None if task.examples is None else max(1, round(task.examples * settings.scale))
    search = Search(rng, examples, start + SEARCH_SHARE * limit)
    student = _Student(sandbox, task.name, start + limit)
    call = f"{task.name}()"
    try:
        found = task.check(student, search)
    except NotImplementedBySubmission as err:
        return TaskResult(task.name, NOT_IMPLEMENTED, None, str(err), 0, time.monotonic() - start)
    except WrongAnswer as err:
        m = err.mismatch
        found = Counterexample(call, (), f"your answer: {m.got}", m.expected, m.identity)
    except Raised as err:
        found = Counterexample(call, (), f"raised {err}")
    except Broke as err:
        return TaskResult(
            task.name, FAILED, err.case, str(err), search.tried, time.monotonic() - start
        )
    seconds = time.monotonic() - start
    if found is None:
        return TaskResult(task.name, PASSED, None, "", search.tried, seconds)
    return TaskResult(task.name, FAILED, found, "", search.tried, seconds)


def grade_problem(
    path: str | os.PathLike[str], exercise: Exercise, settings: Settings, index: int
) -> ProblemResult:
    """Grade one problem of the submission at ``path`` in its own child process; ``index`` is
    the problem's place in the registry (it seeds the cases)."""
    with Sandbox(path, settings.limits) as sandbox:
        tasks = tuple(
            _grade_task(task, sandbox, settings, np.random.default_rng([settings.seed, index, k]))
            for k, task in enumerate(exercise.tasks)
        )
    return ProblemResult(exercise.problem, exercise.title, tasks)


def grade_files(
    paths: Sequence[str | os.PathLike[str]],
    exercises: Sequence[Exercise],
    settings: Settings = Settings(),
    jobs: int | None = None,
    done: Callable[[], None] = lambda: None,
) -> list[SubmissionResult]:
    """Grade every file of ``paths`` on every exercise, ``jobs`` problems at a time (default:
    the number of processors); ``done()`` is called as each problem is graded."""
    jobs = jobs or os.cpu_count() or 1
    starts: dict[int, float] = {}

    def one(i: int, k: int) -> ProblemResult:
        starts.setdefault(i, time.monotonic())
        result = grade_problem(paths[i], exercises[k], settings, k)
        done()
        return result

    with ThreadPoolExecutor(jobs) as pool:
        futures = [
            [pool.submit(one, i, k) for k in range(len(exercises))] for i in range(len(paths))
        ]
        results = []
        for i, row in enumerate(futures):
            problems = tuple(f.result() for f in row)
            results.append(SubmissionResult(str(paths[i]), problems, time.monotonic() - starts[i]))
    return results


def grade_file(
    path: str | os.PathLike[str],
    exercises: Sequence[Exercise],
    settings: Settings = Settings(),
    jobs: int | None = None,
) -> SubmissionResult:
    """Grade one file (its problems in parallel on ``jobs`` threads)."""
    return grade_files([path], exercises, settings, jobs)[0]
