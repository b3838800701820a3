"""mathdnn.hw4.figures, what the figures share: a PNG records the smallest text it holds, in
pixels, which the report's browser test checks as displayed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from mathdnn.hw4 import figures
from mathdnn.hw4.p1_finite_differences import edges_figure
from mathdnn.hw4.p2_average_pooling import average_pool_figure
from mathdnn.hw4.p3_grayscale import grayscale_figure


def test_a_png_records_its_smallest_text():
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title", fontsize=12)
    ax.tick_params(labelsize=7)
    assert figures.smallest_text_px(fig) == 7 * figures.DPI / 72
    with Image.open(io.BytesIO(figures.figure_png(fig))) as png:
        assert png.size == (4 * figures.DPI, 3 * figures.DPI)
        assert float(png.text[figures.SMALLEST_TEXT]) == round(7 * figures.DPI / 72, 2)


def test_hidden_and_empty_text_does_not_count():
    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "shown", fontsize=11)
    ax.text(0.5, 0.2, "hidden", fontsize=3, visible=False)
    ax.text(0.5, 0.1, "  ", fontsize=2)
    assert figures.smallest_text_px(fig) == 11 * figures.DPI / 72


def test_an_image_grid_has_its_panels():
    fig, axes = figures.image_grid(2, 3, 0.5)
    assert axes.shape == (6,) and list(fig.get_size_inches()) == [
        3 * figures.PANEL,
        2 * figures.PANEL * 0.5 + 0.5,
    ]
    figures.show(axes[0], np.zeros((4, 5)), "grey")
    assert axes[0].get_title() == "grey"


@pytest.mark.parametrize("draw", ["edges", "gray", "pool"])
def test_a_tall_thin_image_draws_on_a_bounded_canvas(draw):
    """Issue 22: a 10×1500 image asked for a figure 75,660 pixels tall (3.4 GB to draw). A panel
    is now at most three times as tall as wide; the image is drawn smaller inside it."""
    image = np.random.default_rng(0).random((1500, 10, 3))
    figure = {
        "edges": lambda: edges_figure(image, "tall.png"),
        "gray": lambda: grayscale_figure(image, "tall.png"),
        "pool": lambda: average_pool_figure(image, "tall.png", 2),
    }[draw]()
    width, height = figure.get_size_inches()
    assert height <= 3 * width + 0.5
    with Image.open(io.BytesIO(figures.figure_png(figure))) as png:
        assert png.height < 4000
