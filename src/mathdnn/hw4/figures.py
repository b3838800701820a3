"""What the figures of Homework 4 share: matplotlib ``Figure`` objects (no pyplot), drawn so that
their text stays legible on the report's page, and rendered to PNG bytes.

Each problem draws its own figures (``edges_figure`` in Problem 1, ``curves_png`` in Problem 5,
…). A figure up to ``PAGE_PX`` pixels wide at ``DPI`` is shown on the page at its own size;
``TEXT`` and ``SMALL`` points at that resolution are 16.7 and 15 pixels. ``figure_png`` records the
smallest text a figure holds, in pixels, in the PNG itself (``SMALLEST_TEXT``), so the report's
test can check it as displayed.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

#: Dots per inch of every PNG.
DPI = 120
#: The width of the report's column, pixels (``report/style.css``: ``main`` is 1040 pixels wide
#: with 28 pixels of padding on each side).
PAGE_PX = 984
#: Font sizes, points: titles and labels; ticks, legends and annotations.
TEXT, SMALL = 10, 9
#: The PNG text key under which ``figure_png`` records the smallest text, in pixels.
SMALLEST_TEXT = "smallest text px"
# Inches per image panel, and the robust range of the signed maps (ignores the 0.5 % extremes).
PANEL = 4.2
# A panel is at most this many times as tall as wide: a taller image is drawn smaller inside it.
# Without a bound a 10×1500 image asked for a canvas of 1008×75660 pixels (3.4 GB to draw).
MAX_ASPECT = 3.0
PERCENTILE = 99.5


def show(ax: Any, image: np.ndarray, title: str, **kwargs: Any) -> Any:
    """``image`` on ``ax`` without axes, grey ``(H, W)`` in [0, 1] as grey, under ``title``."""
    if image.ndim == 2:
        kwargs = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0, **kwargs}
    shown = ax.imshow(image, **kwargs)
    ax.set_title(title, fontsize=TEXT)
    ax.set_axis_off()
    return shown


def image_grid(rows: int, columns: int, aspect: float) -> tuple[Figure, np.ndarray]:
    """A figure of ``rows × columns`` image panels of height / width ``aspect`` (at most
    ``MAX_ASPECT``), and its axes."""
    height = rows * PANEL * min(aspect, MAX_ASPECT) + 0.5
    figure = Figure(figsize=(columns * PANEL, height), layout="constrained")
    axes = np.asarray(figure.subplots(rows, columns)).ravel()
    return figure, axes


def smallest_text_px(fig: Figure) -> float:
    """The size of the smallest visible text of ``fig``, in pixels at ``DPI``."""
    fig.draw_without_rendering()  # tick labels have their text only once the figure is laid out
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
    ]
    return min(sizes, default=float("inf")) * DPI / 72


def figure_png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes at ``DPI``, its smallest text recorded under ``SMALLEST_TEXT``."""
    smallest = smallest_text_px(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={SMALLEST_TEXT: f"{smallest:.2f}"})
    return buffer.getvalue()
