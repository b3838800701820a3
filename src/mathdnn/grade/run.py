"""Grading: each problem of a submission in its own child process, its verdicts computed here.

``grade_files(paths)`` grades files on every problem of the registry
(``mathdnn.hw4.registry.PROBLEMS``: a problem module's ``EXERCISE`` lists the functions a student
writes and how each is graded), ``jobs`` problems at a time (the work is in the children; a
thread waits for its child).

A function is graded in two steps. First its ``EXERCISE`` search looks for the smallest input on
which it is wrong. If there is none, the problem's own checks (``checks(rng, **construction)``,
the rows ``mathdnn verify`` prints) run with the student's function in place of the module's,
when ``checks`` takes it: a failing row fails the function too. The result is ``passed``,
``failed`` (with the counterexample, the failing row, or the reason the process broke) or
``not implemented``. A problem passes when all its functions do; its score is the fraction of
them that pass; a submission's score is the sum over problems.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mathdnn.check import Check
from mathdnn.exercise import (
    ActivationRef,
    Broke,
    Counterexample,
    Exercise,
    NotImplementedBySubmission,
    Raised,
    Search,
    Task,
    WrongAnswer,
    fmt,
)
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.grade.sandbox import Limits, Sandbox
from mathdnn.hw4.registry import PROBLEMS

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


# The activations' functions travel by name: a problem's checks pass σ and σ′ themselves.
_BY_FUNCTION = {
    id(getattr(activation, part)): ActivationRef(name, part)
    for name, activation in ACTIVATIONS.items()
    for part in ("value", "slope")
}


class _Student:
    """``student(*args)``: the submission's function ``name`` called in the sandbox."""

    def __init__(self, sandbox: Sandbox, name: str, deadline: float) -> None:
        self.sandbox, self.name, self.deadline = sandbox, name, deadline
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        args = tuple(_BY_FUNCTION.get(id(a), a) if callable(a) else a for a in args)
        try:
            return self.sandbox.call(self.name, args, self.deadline)
        except NotImplementedBySubmission:
            if self.calls == 1:
                raise
            # It answered before: NotImplementedError for this input is a wrong answer.
            raise Raised("NotImplementedError") from None


def _verdict(
    name: str, attempt: Callable[[], Counterexample | None], tried: int, start: float
) -> TaskResult:
    """The result of ``attempt()``, a search or a check of the student's function ``name``,
    with what the student's code did on the way turned into a verdict."""
    call = f"{name}()"
    try:
        found = attempt()
    except NotImplementedBySubmission as err:
        return TaskResult(name, NOT_IMPLEMENTED, None, str(err), 0, time.monotonic() - start)
    except WrongAnswer as err:
        m = err.mismatch
        found = Counterexample(call, (), f"your answer: {m.got}", m.expected, m.identity)
    except Raised as err:
        found = Counterexample(call, (), f"raised {err}")
    except Broke as err:
        return TaskResult(name, FAILED, err.case, str(err), tried, time.monotonic() - start)
    status = PASSED if found is None else FAILED
    return TaskResult(name, status, found, "", tried, time.monotonic() - start)


def _search(
    task: Task, sandbox: Sandbox, settings: Settings, rng: np.random.Generator
) -> TaskResult:
    """Step 1: the task's search for the smallest input on which the student is wrong."""
    start = time.monotonic()
    limit = settings.limits.time
    examples = None if task.examples is None else max(1, round(task.examples * settings.scale))
    search = Search(rng, examples, start + SEARCH_SHARE * limit)
    student = _Student(sandbox, task.name, start + limit)
    result = _verdict(task.name, lambda: task.check(student, search), 0, start)
    return replace(result, tried=search.tried)


def _failed_row(row: Check, name: str) -> Counterexample:
    expected = (
        "it must fail (a counterexample is the point)"
        if row.expected_failure
        else f"an error of at most {fmt(row.tolerance)}"
    )
    return Counterexample(
        f"the problem's own check, with your {name}",
        (),
        f"{row.name}: error {fmt(row.max_error)} against {row.reference}",
        expected,
        row.detail,
    )


def _run_checks(
    checks: Callable[..., list[Check]],
    names: Sequence[str],
    sandbox: Sandbox,
    settings: Settings,
    seed: Sequence[int],
) -> Counterexample | None:
    """The problem's checks with the student's functions ``names`` in place of the module's:
    the first failing row (``None`` if every row passes)."""
    deadline = time.monotonic() + settings.limits.time
    students = {name: _Student(sandbox, name, deadline) for name in names}
    try:
        rows = checks(np.random.default_rng(seed), **students)
    except (Raised, Broke, NotImplementedBySubmission):
        raise
    except Exception as err:  # what the student returned broke the check itself
        return Counterexample(
            f"the problem's own check, with your {', '.join(names)}",
            (),
            f"the check could not use your answer: {type(err).__name__}: {err}",
        )
    failed = [row for row in rows if not row.passed]
    return _failed_row(failed[0], ", ".join(names)) if failed else None


def _checked(
    problem: ModuleType,
    results: list[TaskResult],
    sandbox: Sandbox,
    settings: Settings,
    seed: Sequence[int],
) -> list[TaskResult]:
    """Step 2: the problem's own checks (``checks(rng, **construction)``) with the student's
    functions that passed their search in place of the module's. They run once with all of
    them; only when a row fails do they run again with one function at a time, to say whose."""
    checks = getattr(problem, "checks", None)
    if checks is None:
        return results
    taken = inspect.signature(checks).parameters
    names = [r.name for r in results if r.status == PASSED and r.name in taken]
    if not names:
        return results
    together = _verdict(
        "checks", lambda: _run_checks(checks, names, sandbox, settings, seed), 0, time.monotonic()
    )
    if together.status == PASSED:
        return results
    out = []
    for result in results:
        if result.name not in names:
            out.append(result)
            continue
        start = time.monotonic()
        alone = _verdict(
            result.name,
            lambda name=result.name: _run_checks(checks, [name], sandbox, settings, seed),
            result.tried,
            start,
        )
        out.append(replace(alone, seconds=result.seconds + alone.seconds))
    return out


def exercises(problems: Sequence[ModuleType] = PROBLEMS) -> list[Exercise]:
    """The ``EXERCISE`` of every problem that has one, in the registry's order."""
    return [problem.EXERCISE for problem in problems if hasattr(problem, "EXERCISE")]


def grade_problem(
    path: str | os.PathLike[str],
    problem: ModuleType,
    settings: Settings,
    index: int,
    cancelled: threading.Event | None = None,
) -> ProblemResult:
    """Grade one problem of the submission at ``path`` in its own child process; ``index`` is
    the problem's place in the registry (it seeds the cases). Setting ``cancelled`` ends the
    wait for the child (the problem fails, "interrupted")."""
    exercise = problem.EXERCISE
    with Sandbox(path, settings.limits, cancelled) as sandbox:
        results = [
            _search(task, sandbox, settings, np.random.default_rng([settings.seed, index, k]))
            for k, task in enumerate(exercise.tasks)
        ]
        results = _checked(problem, results, sandbox, settings, [settings.seed, index, 1 << 16])
    return ProblemResult(exercise.problem, exercise.title, tuple(results))


def grade_files(
    paths: Sequence[str | os.PathLike[str]],
    settings: Settings = Settings(),
    jobs: int | None = None,
    done: Callable[[], None] = lambda: None,
    problems: Sequence[ModuleType] = PROBLEMS,
) -> list[SubmissionResult]:
    """Grade every file of ``paths`` on every problem that has an ``EXERCISE``, ``jobs``
    problems at a time (default: the number of processors); ``done()`` is called as each
    problem is graded. A submission's ``seconds`` run from its first problem's start to its
    last one's end. An exception here (Ctrl-C) stops the children at once before it goes on."""
    jobs = jobs or os.cpu_count() or 1
    graded = [p for p in problems if hasattr(p, "EXERCISE")]
    spans: dict[int, list[float]] = {}
    cancelled = threading.Event()

    def one(i: int, k: int) -> ProblemResult:
        start = time.monotonic()
        result = grade_problem(paths[i], graded[k], settings, k, cancelled)
        span = spans.setdefault(i, [start, start])
        span[0], span[1] = min(span[0], start), max(span[1], time.monotonic())
        done()
        return result

    with ThreadPoolExecutor(jobs) as pool:
        futures = {
            pool.submit(one, i, k): (i, k) for i in range(len(paths)) for k in range(len(graded))
        }
        done_problems: dict[tuple[int, int], ProblemResult] = {}
        try:
            for future in as_completed(futures):
                done_problems[futures[future]] = future.result()
        except BaseException:
            cancelled.set()
            pool.shutdown(cancel_futures=True)
            raise
    rows = [tuple(done_problems[i, k] for k in range(len(graded))) for i in range(len(paths))]
    return [
        SubmissionResult(str(path), row, spans[i][1] - spans[i][0])
        for i, (path, row) in enumerate(zip(paths, rows, strict=True))
    ]
