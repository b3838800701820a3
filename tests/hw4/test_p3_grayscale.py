"""Problem 3: greyscale as a 1×1 convolution, against the luma formula and Pillow's convert("L")."""

import numpy as np

import mathdnn.functional as F
from mathdnn.hw4.p3_grayscale import grayscale, grayscale_filter
from mathdnn.images import image_to_array, to_batch


def test_grayscale_filter_and_formula():
    w = grayscale_filter()
    assert w.shape == (1, 3, 1, 1)
    x = np.random.default_rng(0).random((2, 3, 5, 4))
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    np.testing.assert_allclose(F.conv2d(x, w).data[:, 0], expected, atol=1e-15)
    np.testing.assert_allclose(grayscale(x).data[:, 0], expected, atol=1e-15)


def test_grayscale_matches_pillow_convert_l_within_one_level(photo):
    ours = 255 * grayscale(to_batch(image_to_array(photo))).data[0, 0]
    theirs = np.asarray(photo.convert("L"), dtype=np.float64)
    assert np.max(np.abs(ours - theirs)) <= 1.0
