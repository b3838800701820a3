"""Images in and out: every mode read as floats in [0, 1], alpha over white, with no float copy
beyond the result; the header read without decoding; errors naming the file; the PNG round
trip."""

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from mathdnn.images import (
    ImageHeader,
    default_photo_path,
    image_header,
    image_to_array,
    load_image,
    save_png,
)


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


def composited_formula(image: Image.Image) -> np.ndarray:
    """The definition, written plainly: pixels ``/ 255`` (16-bit: ``/ 65535``), alpha ``α`` of the
    RGBA (or LA) conversion composited over white as ``v·α + (1 − α)``."""
    if image.mode in {"I", "I;16"}:
        return np.asarray(image, dtype=np.float64) / 65535
    if image.mode in {"1", "L"}:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    if image.mode in {"LA", "La"}:
        grey_alpha = np.asarray(image.convert("LA"), dtype=np.float64) / 255.0
        v, alpha = grey_alpha[..., 0], grey_alpha[..., 1]
    else:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
        v, alpha = rgba[..., :3], rgba[..., 3:]
    return v * alpha + (1.0 - alpha)


def test_every_mode_is_read_as_the_formula_says_bit_for_bit():
    rng = np.random.default_rng(1)
    rgba = Image.fromarray(rng.integers(0, 256, (13, 17, 4), dtype=np.uint8), "RGBA")
    grey16 = Image.fromarray(rng.integers(0, 65536, (13, 17), dtype=np.uint16))
    keyed = rgba.convert("RGB")
    keyed.info["transparency"] = tuple(int(v) for v in np.asarray(keyed)[0, 0])
    indexed = rgba.convert("RGB").convert("P")
    indexed.info["transparency"] = 3
    modes = ("1", "L", "LA", "La", "P", "PA", "I", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr")
    cases = {mode: rgba.convert(mode) for mode in modes}
    cases["I;16"] = grey16
    cases["RGB with a transparent colour"] = keyed
    cases["P with a transparent index"] = indexed
    cases["P with palette alpha"] = rgba.convert("P")
    for name, image in cases.items():
        np.testing.assert_array_equal(image_to_array(image), composited_formula(image), name)
    assert image_to_array(keyed)[0, 0].tolist() == [1.0, 1.0, 1.0]  # keyed out: white


@pytest.mark.parametrize(("mode", "most"), [("L", 1.2), ("RGB", 1.2), ("RGBA", 2.0)])
def test_loading_makes_no_float_copy_beyond_the_result(tmp_path, mode, most):
    """Issue 22: a 3400×3400 PNG ran out of memory in load_image, which held the RGBA pixels as
    floats twice besides the result (88 bytes a pixel). Now the result is the one full-size float
    array, and alpha (a plane of its own) is the only other."""
    channels = len(mode)
    pixels = np.random.default_rng(0).integers(0, 256, (600, 700, channels), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(path)
    tracemalloc.start()
    try:
        image = load_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.shape == ((600, 700) if channels == 1 else (600, 700, 3))
    assert peak < most * image.nbytes


def test_the_header_is_read_without_decoding(tmp_path, images):
    huge = tmp_path / "huge.png"
    Image.new("RGB", (9000, 9000)).save(huge)  # 243 MB of 8-bit pixels
    tracemalloc.start()
    try:
        header = image_header(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert header == ImageHeader(9000, 9000, "RGB") and header.pixels == 81_000_000
    assert peak < 2**20
    assert (header.channels, image_header(images["grey16"]).channels) == (3, 1)
    assert image_header(images["palette"]).channels == 3
    with pytest.raises(ValueError, match=r"float\.tiff: unsupported image mode 'F'"):
        image_header(images["float"])
    with pytest.raises(ValueError, match=r"text\.png: not an image"):
        image_header(images["text"])
