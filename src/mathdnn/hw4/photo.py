"""The sample photograph the checks of Problems 1–3 compare with Pillow: Pillow's references
(``Image.reduce``, ``convert("L")``) need its 8-bit pixels, whatever image the report shows."""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from mathdnn.images import default_photo_path, image_to_array, to_batch


@functools.cache
def sample_photo() -> tuple[Image.Image, np.ndarray]:
    """The default photograph as an 8-bit RGB image and as a batch ``(1, 3, H, W)`` in [0, 1]."""
    with Image.open(default_photo_path()) as photo:
        rgb = photo.convert("RGB")
    return rgb, to_batch(image_to_array(rgb))
