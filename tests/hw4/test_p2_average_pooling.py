"""Problem 2: the average pool as a strided convolution, against avg_pool2d and Pillow's reduce."""

import numpy as np
import pytest

import mathdnn.functional as F
from mathdnn.engine import Tensor
from mathdnn.hw4.p2_average_pooling import average_pool, avg_pool_filter
from mathdnn.images import image_to_array, to_batch


@pytest.mark.parametrize("k, channels, shape", [(2, 3, (8, 6)), (3, 1, (9, 10)), (1, 2, (3, 3))])
def test_average_pool_conv_equals_avg_pool2d(k, channels, shape):
    x = np.random.default_rng(k).standard_normal((2, channels, *shape))
    expected = F.avg_pool2d(Tensor(x), k).data
    w = avg_pool_filter(k, channels)
    assert w.shape == (channels, 1, k, k)
    np.testing.assert_allclose(F.conv2d(x, w, stride=k, groups=channels).data, expected, atol=1e-14)
    dense = avg_pool_filter(k, channels, dense=True)
    assert dense.shape == (channels, channels, k, k)
    np.testing.assert_allclose(F.conv2d(x, dense, stride=k).data, expected, atol=1e-14)
    np.testing.assert_allclose(average_pool(x, k).data, expected, atol=1e-14)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_average_pool_matches_pillow_reduce_on_the_photo(photo, k):
    h, w = photo.height // k * k, photo.width // k * k
    cropped = photo.crop((0, 0, w, h))
    ours = 255 * average_pool(to_batch(image_to_array(cropped)), k).data
    theirs = np.asarray(cropped.reduce(k), dtype=np.float64).transpose(2, 0, 1)[None]
    assert np.max(np.abs(ours - theirs)) <= 0.5 + 1e-9
