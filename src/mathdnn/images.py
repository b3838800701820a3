"""Images in and out: any PNG/JPEG as a float array in [0, 1], the default photograph, and
pictures written atomically.

``load_image`` returns ``(H, W)`` for a grey image and ``(H, W, 3)`` for a colour one (alpha is
composited over white); ``to_batch`` turns either into the ``(1, C, H, W)`` layout of ``conv2d``.
The default photograph is matplotlib's sample ``grace_hopper.jpg``, so the commands work offline
on a fresh install.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from mathdnn.io import as_path, atomic_write

# Pillow modes read as grey / as colour; anything else (e.g. "F", "LAB", "HSV") is refused.
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"}
_COLOUR_MODES = {"P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
_INTEGER_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
_MAX_16_BIT = 65535
_NOT_AN_IMAGE = "{path}: not an image Pillow can read (expected PNG or JPEG)"


def default_photo_path() -> Path:
    """The path of matplotlib's sample photograph ``grace_hopper.jpg`` (600×512 RGB, 8 bit)."""
    import matplotlib.cbook

    try:
        return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except (OSError, ValueError) as err:  # pragma: no cover - a broken matplotlib install
        raise OSError(
            f"default_photo_path: matplotlib's sample photograph is missing: {err}"
        ) from err


@dataclass(frozen=True)
class ImageHeader:
    """What an image file declares before it is decoded: its size and its Pillow mode."""

    width: int
    height: int
    mode: str

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def channels(self) -> int:
        """The channels of ``load_image``'s array: 1 for a grey mode, 3 for a colour one."""
        return 1 if self.mode in _GREY_MODES else 3


def image_header(path: str | os.PathLike[str]) -> ImageHeader:
    """The size and mode of the image at ``path``, read from its header without decoding it.

    Lets a caller refuse an image too large to process before it takes the memory. An image
    beyond Pillow's decompression-bomb limit, or of a mode ``load_image`` does not read, raises
    ``ValueError`` naming the file.
    """
    path = _existing_file(as_path("image_header", "path", path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the caller decides
        try:
            with Image.open(path) as image:
                header = ImageHeader(*image.size, image.mode)
        except UnidentifiedImageError:
            raise ValueError(_NOT_AN_IMAGE.format(path=path)) from None
        except Image.DecompressionBombError:
            raise ValueError(
                f"{path}: more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, Pillow's limit "
                "against decompression bombs"
            ) from None
        except (OSError, SyntaxError) as err:
            raise ValueError(f"{path}: corrupt or truncated image ({err})") from None
    _check_mode(path, header.mode)
    return header


def _existing_file(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not an image")
    return path


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and decode ``path`` with Pillow, raising ``OSError``/``ValueError`` naming the file."""
    path = _existing_file(as_path("open_image", "path", path))
    try:
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError:
        raise ValueError(_NOT_AN_IMAGE.format(path=path)) from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: corrupt or truncated image ({err})") from None
    _check_mode(path, image.mode)
    return image


def _check_mode(path: Path, mode: str) -> None:
    if mode not in _GREY_MODES | _COLOUR_MODES:
        raise ValueError(
            f"{path}: unsupported image mode {mode!r} (supported: grey, palette, RGB, "
            f"RGBA, CMYK, 8 or 16 bit)"
        )


def image_to_array(image: Image.Image, name: str = "image") -> np.ndarray:
    """Pixel values scaled to [0, 1]: 8-bit by 1/255, 16-bit (and 32-bit "I") by 1/65535.

    Grey modes give ``(H, W)``, colour modes ``(H, W, 3)``; an alpha channel ``α`` (or a
    transparent colour) is composited over white, ``v·α + (1 − α)``.

    The float64 result is the only full-size float array made: the pixels are converted once and
    scaled in place, so the peak is about the result plus Pillow's own copy of the pixels.
    """
    mode = image.mode
    if mode in _INTEGER_MODES:
        values = np.asarray(image).astype(np.float64)
        if values.min(initial=0) < 0 or values.max(initial=0) > _MAX_16_BIT:
            raise ValueError(
                f"{name}: 32-bit integer pixels outside the 16-bit range 0..65535 are not supported"
            )
        values /= _MAX_16_BIT
        return values
    if mode in {"1", "L"}:
        return _scaled(np.asarray(image.convert("L")))
    if mode in {"LA", "La"}:
        grey_alpha = np.asarray(image.convert("LA"))
        return _over_white(grey_alpha[..., 0], grey_alpha[..., 1])
    if image.has_transparency_data:  # an alpha channel, palette alpha or a transparent colour
        rgba = np.asarray(image.convert("RGBA"))
        return _over_white(rgba[..., :3], rgba[..., 3:])
    return _scaled(np.asarray(image.convert("RGB")))


def _scaled(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels as floats ``v / 255``, divided in place."""
    values = pixels.astype(np.float64)
    values /= 255.0
    return values


def _over_white(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``v·α + (1 − α)`` of 8-bit ``pixels`` and ``alpha``, each scaled by 1/255 first."""
    alpha = _scaled(alpha)
    values = _scaled(pixels)
    values *= alpha
    values += 1.0 - alpha
    return values


def load_image(path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """The image at ``path`` (default: ``default_photo_path()``) as floats in [0, 1].

    Returns ``(H, W)`` for grey images, ``(H, W, 3)`` for colour ones. A missing file raises
    ``FileNotFoundError``; a file that is not a readable image or has an unsupported mode raises
    ``ValueError``; both messages name the file.
    """
    path = default_photo_path() if path is None else as_path("load_image", "path", path)
    with open_image(path) as image:
        return image_to_array(image, str(path))


def to_batch(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, C)`` → the ``(1, C, H, W)`` layout of ``conv2d``."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image[None, None]
    if image.ndim == 3:
        return image.transpose(2, 0, 1)[None]
    raise ValueError(f"to_batch: image must have shape (H, W) or (H, W, C), got {image.shape}")


def from_batch(x: Any) -> np.ndarray:
    """``(1, C, H, W)`` → ``(H, W)`` if ``C = 1``, else ``(H, W, C)`` (inverse of ``to_batch``)."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"from_batch: x must have shape (1, C, H, W), got {x.shape}")
    return x[0, 0] if x.shape[1] == 1 else x[0].transpose(1, 2, 0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``round(255·clip(v, 0, 1))`` as 8-bit pixels."""
    return np.round(255.0 * np.clip(image, 0.0, 1.0)).astype(np.uint8)


def save_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write a [0, 1] image ``(H, W)`` or ``(H, W, 3)`` as an 8-bit PNG, atomically."""
    picture = Image.fromarray(to_uint8(image))
    return atomic_write(path, lambda f: picture.save(f, format="PNG"))


def save_figure(path: str | os.PathLike[str], figure: Any, dpi: int = 120) -> Path:
    """Render a matplotlib figure to PNG in memory, then write it atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
