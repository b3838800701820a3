"""Whole solution files: the project's own constructions and the transcribed handwritten solution
score 100 %; the template, graded as it is, scores 0 with every function not implemented."""

from __future__ import annotations

import dataclasses

from grade_settings import FAST, SOLUTIONS

from mathdnn.grade.run import NOT_IMPLEMENTED, PASSED, exercises, grade_files
from mathdnn.grade.template import template_text

# The project's answers import the project, which a student's solution may not.
PROJECT = dataclasses.replace(FAST, limits=dataclasses.replace(FAST.limits, numpy_only=False))


def test_the_project_and_the_handwritten_solution_score_100_percent_and_the_template_0(tmp_path):
    template = tmp_path / "hw4_solution.py"
    template.write_text(template_text(exercises()))
    (project,) = grade_files([SOLUTIONS / "project.py"], PROJECT)
    seed, stubs = grade_files([SOLUTIONS / "seed.py", template], FAST)
    for result in (project, seed):
        assert result.passed, [t for p in result.problems for t in p.tasks if t.status != PASSED]
        assert result.score == len(exercises())
        assert all(
            t.tried > 0 for p in result.problems for t in p.tasks if t.name != "c3_connections"
        )
    assert stubs.score == 0
    assert {p.status for p in stubs.problems} == {NOT_IMPLEMENTED}
    tasks = [t for p in stubs.problems for t in p.tasks]
    assert len(tasks) == sum(len(e.tasks) for e in exercises())
    assert {(t.status, t.reason) for t in tasks} == {
        (NOT_IMPLEMENTED, "it raises NotImplementedError")
    }
