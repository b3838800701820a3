"""Images in and out: every mode read as floats in [0, 1], alpha over white, errors naming the
file, the PNG round trip."""

import numpy as np
import pytest
from PIL import Image

from mathdnn.images import default_photo_path, load_image, save_png


def test_load_image_modes(images):
    grey16 = load_image(images["grey16"])
    with Image.open(images["grey16"]) as raw:
        np.testing.assert_allclose(grey16, np.asarray(raw, dtype=np.float64) / 65535)
    assert grey16.shape == (20, 24) and 0 <= grey16.min() and grey16.max() <= 1
    assert load_image(images["grey8"]).shape == (20, 24)
    for name in ("rgba", "palette", "jpeg"):
        image = load_image(images[name])
        assert image.shape == (16, 18, 3) and 0 <= image.min() and image.max() <= 1
    assert load_image().shape == (600, 512, 3)
    assert default_photo_path().name == "grace_hopper.jpg"


def test_rgba_is_composited_over_white(tmp_path):
    Image.new("RGBA", (2, 2), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    np.testing.assert_array_equal(load_image(tmp_path / "clear.png"), np.ones((2, 2, 3)))


def test_load_errors_name_the_file(images, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match=r"text\.png: not an image"):
        load_image(images["text"])
    with pytest.raises(ValueError, match="unsupported image mode 'F'"):
        load_image(images["float"])


def test_save_png_roundtrip(tmp_path):
    image = np.linspace(0, 1, 12).reshape(3, 4)
    save_png(tmp_path / "out.png", image)
    np.testing.assert_allclose(load_image(tmp_path / "out.png"), image, atol=0.5 / 255)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
