"""A graded submission as text a student reads, as CSV a teacher opens, as strict JSON.

``text(result)``: one block per problem, each function ``passed``, ``FAILED`` (with its
counterexample: the call and its input, what came back, what was expected, the identity it
breaks; or the reason the process broke) or ``not implemented``, then the score.
``table_rows(results)``: one row per submission, one column per problem, for ``grades.csv`` and
the page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from mathdnn.grade.run import FAILED, NOT_IMPLEMENTED, PASSED, ProblemResult, SubmissionResult

MARK = {PASSED: "✓", FAILED: "✗", NOT_IMPLEMENTED: "·"}


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def problem_text(problem: ProblemResult) -> str:
    status = problem.status.upper() if problem.status == FAILED else problem.status
    lines = [f"Problem {problem.problem} · {problem.title}: {status}"]
    for task in problem.tasks:
        head = f"  {MARK[task.status]} {task.name}: {task.status}"
        if task.status == PASSED:
            lines.append(head + (f" ({task.tried} cases)" if task.tried else ""))
            continue
        if task.reason:
            head += f": {task.reason}"
        lines.append(head)
        c = task.counterexample
        if c is None:
            continue
        lines.append(f"      {c.call}" + (" on" if c.inputs else ""))
        lines += [_indent(line, "        ") for line in c.inputs]
        if task.reason:
            continue
        lines.append(f"      {c.got}")
        if c.expected:
            lines.append(f"      expected {c.expected}")
        if c.identity:
            lines.append(f"      identity: {c.identity}")
    return "\n".join(lines)


def score_text(result: SubmissionResult) -> str:
    n = len(result.problems)
    return f"score {result.score:.3g} / {n} ({100 * result.score / n:.0f} %)"


def text(result: SubmissionResult) -> str:
    """The whole feedback on one submission."""
    blocks = [f"mathdnn grade: {result.name}", *map(problem_text, result.problems)]
    return "\n\n".join(blocks) + "\n\n" + score_text(result) + "\n"


def cell(problem: ProblemResult) -> str:
    """A problem's verdict in the table: passed, not implemented, or failed with its share."""
    if problem.status != FAILED or len(problem.tasks) == 1:
        return problem.status
    passed = sum(t.status == PASSED for t in problem.tasks)
    return f"failed ({passed}/{len(problem.tasks)})"


def table_rows(results: Sequence[SubmissionResult]) -> list[list[str]]:
    """The teacher's table: a header, then one row per submission."""
    if not results:
        return [["submission", "score", "percent"]]
    header = ["submission", "score", "percent"] + [
        f"problem {p.problem}" for p in results[0].problems
    ]
    rows = [header]
    for r in results:
        n = len(r.problems)
        rows.append(
            [r.name, f"{r.score:.3g}", f"{100 * r.score / n:.0f}", *(cell(p) for p in r.problems)]
        )
    return rows


def _spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: a file name may start with ``=``."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_text(results: Sequence[SubmissionResult]) -> str:
    """``table_rows`` as CSV (a submission's name that looks like a formula is quoted)."""
    buffer = io.StringIO()
    rows = [[_spreadsheet_safe(value) for value in row] for row in table_rows(results)]
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def table_text(results: Sequence[SubmissionResult]) -> str:
    """``table_rows`` aligned in columns, for the terminal."""
    rows = table_rows(results)
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return "".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )
