"""mathdnn.hw4.figures, the figures of Problems 4 and 6: PNG images of the size their layout asks,
drawn from the library's own results (a counterexample, timings, the layer Jacobians)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4 import figures
from mathdnn.hw4.p4_maxpool_commutes import (
    FUNCTIONS,
    NON_MONOTONE_EXAMPLES,
    check_commutes,
    stress_inputs,
)
from mathdnn.hw4.p6_jacobians import init_mlp


def _image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_counterexamples_two_panels_to_a_row():
    x = stress_inputs(np.random.default_rng(0))
    windows = {}
    for name, function in NON_MONOTONE_EXAMPLES.items():
        sigma = FUNCTIONS[function]
        pair = check_commutes(sigma, x, 2).counterexample.pair[0]
        windows[name] = (sigma, (float(pair[0]), float(pair[1])))
    windows["tanh"] = (ACTIVATIONS["tanh"].op, windows["x²"][1])
    four = _image(figures.counterexamples_png(windows))
    three = _image(figures.counterexamples_png(dict(list(windows.items())[:3])))
    one = _image(figures.counterexamples_png({"tanh": windows["tanh"]}))
    assert four.size == three.size  # 2 × 2 panels, the fourth left empty
    assert one.width < four.width and one.height < four.height


def test_a_window_of_equal_values_still_draws():
    _image(figures.counterexamples_png({"relu": (ACTIVATIONS["relu"].op, (1.0, 1.0))}))


def test_rewrite_saving_one_bar_pair_per_activation():
    two = _image(figures.rewrite_saving_png({"ReLU": (0.01, 0.008), "Tanh": (0.01, 0.012)}, "t"))
    four = _image(
        figures.rewrite_saving_png({n: (0.01, 0.009) for n in ("a", "b", "c", "d")}, "title")
    )
    assert four.height > two.height and four.width == two.width


@pytest.mark.parametrize("activation", ["tanh", (np.tanh, lambda z: 1 - np.tanh(z) ** 2)])
def test_layer_jacobians_grow_with_the_network(activation):
    small = init_mlp((4, 3, 1), seed=0, dtype=np.float64)
    large = init_mlp((8, 6, 4, 1), seed=0, dtype=np.float64)
    x_small, x_large = np.ones(4), np.ones(8)
    a = _image(figures.layer_jacobians_png(*small, x_small, activation))
    b = _image(figures.layer_jacobians_png(*large, x_large, activation))
    assert b.width > a.width and b.height > a.height


def test_layer_jacobians_name_a_bad_network():
    As, bs = init_mlp((4, 3, 2), seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="layer_jacobians: the output must be a scalar"):
        figures.layer_jacobians_png(As, bs, np.ones(4), "tanh")


@pytest.mark.parametrize("draw", ["edges", "gray", "pool"])
def test_a_tall_thin_image_draws_on_a_bounded_canvas(draw):
    """Issue 22: a 10×1500 image asked for a figure 75,660 pixels tall (3.4 GB to draw). A panel
    is now at most three times as tall as wide; the image is drawn smaller inside it."""
    image = np.random.default_rng(0).random((1500, 10, 3))
    figure = {
        "edges": lambda: figures.edges_figure(image, "tall.png"),
        "gray": lambda: figures.grayscale_figure(image, "tall.png"),
        "pool": lambda: figures.average_pool_figure(image, "tall.png", 2),
    }[draw]()
    width, height = figure.get_size_inches()
    assert height <= 3 * width + 0.5
    assert _image(figures.figure_png(figure)).height < 4000
