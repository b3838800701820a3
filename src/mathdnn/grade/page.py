"""The feedback as one self-contained page in the report's style: ``render(results, settings)``
fills the autoescaped Jinja2 template ``templates/grade.html``, which includes the report's own
stylesheet (``mathdnn.report``'s ``templates/style.css``) and the few rules of
``templates/grade.css`` (no script, no outside resource). With several submissions the page
opens with the teacher's table, each row linking to its feedback."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import jinja2

from mathdnn import __version__
from mathdnn.grade import feedback
from mathdnn.grade.run import Settings, SubmissionResult


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("mathdnn.grade", "templates"),
                jinja2.PackageLoader("mathdnn.report", "templates"),  # its style.css
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(results: Sequence[SubmissionResult], settings: Settings) -> str:
    """The page of ``results``: the table (with more than one submission), then each
    submission's feedback, problem by problem."""
    return (
        _environment()
        .get_template("grade.html")
        .render(
            results=results,
            table=feedback.table_rows(results) if len(results) > 1 else None,
            score=feedback.score_text,
            cell=feedback.cell,
            mark=feedback.MARK,
            settings=settings,
            version=__version__,
        )
    )
