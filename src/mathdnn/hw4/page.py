"""A problem's section of the report, as data: the blocks the page shows after the question and
the answer (which are the problem's docstring). ``mathdnn.report`` renders them; nothing here is
HTML.

Prose (a ``Text``, a caption, a table cell) is plain text with three marks: ``code`` between
double backquotes, ``$…$`` for LaTeX typeset as a formula, and ``**…**`` for emphasis; a backslash
before a mark's character makes it plain (``plain``). A ``Formula`` is LaTeX, one displayed line
per entry; ``matrix`` writes one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Heading:
    """A sub-heading within the section."""

    text: str


@dataclass(frozen=True)
class Text:
    """A paragraph of prose."""

    prose: str


@dataclass(frozen=True)
class Formula:
    """Displayed formulas, LaTeX, one line each."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class Cell:
    """A table cell with a role: ``header`` (a row's label) or ``marked`` (highlighted)."""

    prose: str
    header: bool = False
    marked: bool = False


@dataclass(frozen=True)
class Table:
    """A table of prose cells under a header row; ``grid`` centres short entries (a table of
    marks rather than of numbers)."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str | Cell, ...], ...]
    grid: bool = False


@dataclass(frozen=True)
class Figure:
    """One of the problem's figures, by its file name, with its caption and its alternative
    text; ``narrow`` keeps a photograph from filling the page."""

    file: str
    caption: str
    alt: str
    narrow: bool = False


Block = Heading | Text | Formula | Table | Figure


def matrix(rows: Any) -> str:
    """LaTeX for a matrix between brackets: numbers written shortest (``:g``), strings as they
    are (LaTeX of their own, e.g. ``\\tfrac{1}{64}``)."""
    body = r" \\ ".join(
        " & ".join(entry if isinstance(entry, str) else f"{entry:g}" for entry in row)
        for row in rows
    )
    return rf"\left[\begin{{matrix}} {body} \end{{matrix}}\right]"


def plain(text: str) -> str:
    """``text`` as prose that means itself: a backslash before each mark (````…````, ``$``,
    ``**``), for names that come from data, such as a file's."""
    return re.sub(r"([\\`$*])", r"\\\1", text)
