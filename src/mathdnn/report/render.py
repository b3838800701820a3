"""The report as one self-contained HTML page: ``templates/index.html`` (autoescaped Jinja2) with
``templates/style.css`` inline, figures as ``data:`` URIs, formulas as MathML converted from their
LaTeX here, no script, no external font or link, so it opens from disk and reads the same when
shared.

``render(report)`` fills the template with the report's data: the summary, the contents, and per
section its question and answer, its blocks (``mathdnn.hw4.page``) and its checks. Prose is turned
into segments here (text, code, emphasis, MathML); the template writes every one, escaping all but
the MathML, which latex2mathml builds from LaTeX that never holds data.
"""

from __future__ import annotations

import base64
import math
import re
from functools import cache
from typing import Any

import jinja2
from latex2mathml.converter import convert
from markupsafe import Markup

from mathdnn.check import Check
from mathdnn.hw4.page import Cell
from mathdnn.report.build import Report, Section, tally

# Prose marks: ``code``, $math$, **emphasis**, and a backslash before a mark's character.
_PROSE = re.compile(r"``(?P<code>.+?)``|\$(?P<math>[^$]+)\$|\*\*(?P<strong>.+?)\*\*|\\(?P<char>.)")

STATUS_CLASS = {"pass": "pass", "skip": "skip", "xfail (as expected)": "xfail"}
STATUS_TEXT = {
    "pass": "✓ pass",
    "skip": "skipped",
    "xfail (as expected)": "✓ fails, as it must",
    "FAIL": "✗ FAIL",
    "FAIL (identity held)": "✗ FAIL: the identity held",
}


def mathml(latex: str, display: bool = False) -> Markup:
    """``latex`` typeset as MathML. The LaTeX is the problem modules', never data; ``<`` and ``>``
    are written ``\\lt`` and ``\\gt`` there, so the MathML holds no markup of its own."""
    if "<" in latex or ">" in latex:
        raise ValueError(f"mathml: write < and > as \\lt and \\gt in LaTeX, got {latex!r}")
    return Markup(convert(latex, display="block" if display else "inline"))


def prose(text: str) -> list[tuple[str, Any]]:
    """``text`` as ``(kind, value)`` segments: ``text``, ``code``, ``strong`` (strings the
    template escapes) and ``math`` (MathML)."""
    segments: list[tuple[str, Any]] = []
    position = 0
    for mark in _PROSE.finditer(text):
        segments.append(("text", text[position : mark.start()]))
        kind = mark.lastgroup
        value = mark.group(kind)
        if kind == "char":
            segments.append(("text", value))
        else:
            segments.append((kind, mathml(value) if kind == "math" else value))
        position = mark.end()
    segments.append(("text", text[position:]))
    return [s for s in segments if s[1]]


def _cell(cell: str | Cell) -> Cell:
    return cell if isinstance(cell, Cell) else Cell(cell)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _error(check: Check) -> str:
    if check.skipped or math.isnan(check.max_error):
        return "—"
    if math.isinf(check.max_error):
        return "∞"
    return "0" if check.max_error == 0 else f"{check.max_error:.2e}".replace("-", "−")


def _tolerance(value: float) -> str:
    return "0" if value == 0 else f"{value:.0e}".replace("-", "−")


def _anchor(section: Section) -> str:
    return "engine" if section.problem == "engine" else f"problem-{section.problem}"


def _heading(section: Section) -> str:
    title = section.title[:1].upper() + section.title[1:]
    return title if section.problem == "engine" else f"Problem {section.problem}: {title}"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mathdnn.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        prose=prose,
        mathml=mathml,
        cell=_cell,
        data_uri=_data_uri,
        error=_error,
        tolerance=_tolerance,
        anchor=_anchor,
        heading=_heading,
        tally=lambda checks: tally(list(checks)),
    )
    env.tests["cell"] = lambda value: isinstance(value, Cell)
    return env


def _block_kind(block: object) -> str:
    return type(block).__name__.lower()


def render(report: Report) -> str:
    """``index.html``: the whole report as one page that needs nothing but itself."""
    image, mnist = report.inputs["image"], report.inputs["mnist"]
    skipped_reasons = sorted({c.detail for c in report.checks if c.skipped})
    return (
        _environment()
        .get_template("index.html")
        .render(
            report=report,
            counts=report.counts(),
            image=image,
            mnist=mnist,
            versions=report.versions,
            skipped_reasons=skipped_reasons,
            kind=_block_kind,
            status_class=STATUS_CLASS,
            status_text=STATUS_TEXT,
        )
    )
