"""Every planted bug fails exactly the problem it breaks, and its feedback points at the wrong
entry (the bugs: ``planted_bugs.BUGS``, each the transcribed handwritten solution with one
function replaced)."""

from __future__ import annotations

import pytest
from grade_settings import FAST
from planted_bugs import BUGS

from mathdnn.grade.feedback import problem_text
from mathdnn.grade.run import FAILED, PASSED, exercises, grade_files


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bugs")
    paths = []
    for k, bug in enumerate(BUGS):
        path = folder / f"bug{k:02d}.py"
        path.write_text(bug.file_text())
        paths.append(path)
    return dict(zip(BUGS, grade_files(paths, FAST), strict=True))


def test_there_are_at_least_25_planted_bugs_in_every_problem():
    assert len(BUGS) >= 25
    assert {bug.problem for bug in BUGS} == {e.problem for e in exercises()}


@pytest.mark.parametrize("bug", BUGS, ids=[bug.name for bug in BUGS])
def test_a_planted_bug_fails_its_problem_alone_and_says_where(graded, bug):
    result = graded[bug]
    statuses = {p.problem: p.status for p in result.problems}
    assert statuses == {p: FAILED if p == bug.problem else PASSED for p in statuses}
    (problem,) = (p for p in result.problems if p.problem == bug.problem)
    (task,) = (t for t in problem.tasks if t.name == bug.function)
    assert task.status == FAILED and task.counterexample is not None
    text = problem_text(problem)
    for words in bug.says:
        assert words in text, text
