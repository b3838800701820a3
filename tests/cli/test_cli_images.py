"""Image loading and the ``edges``, ``gray``, ``pool`` commands, run in-process."""

import numpy as np
import pytest
from PIL import Image

from mfdnn.cli import main
from mfdnn.images import default_photo_path, load_image, save_png


def _png(path):
    with Image.open(path) as image:
        image.verify()
        return image.format


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = {}
    grey16 = (rng.random((20, 24)) * 65535).astype(np.uint16)
    Image.fromarray(grey16).save(paths.setdefault("grey16", tmp_path / "grey16.png"))
    Image.fromarray((rng.random((20, 24)) * 255).astype(np.uint8)).save(
        paths.setdefault("grey8", tmp_path / "grey8.png")
    )
    rgba = (rng.random((16, 18, 4)) * 255).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(paths.setdefault("rgba", tmp_path / "rgba.png"))
    Image.fromarray(rgba[..., :3]).convert("P").save(
        paths.setdefault("palette", tmp_path / "p.png")
    )
    Image.fromarray(rgba[..., :3]).save(paths.setdefault("jpeg", tmp_path / "photo.jpg"))
    (tmp_path / "text.png").write_text("not an image")
    paths["text"] = tmp_path / "text.png"
    Image.fromarray(rng.random((5, 5)).astype(np.float32), "F").save(tmp_path / "float.tiff")
    paths["float"] = tmp_path / "float.tiff"
    return paths


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


@pytest.mark.parametrize(
    "argv",
    [
        ["edges"],
        ["gray"],
        ["pool", "-k", "8"],
        ["edges", "grey16"],
        ["gray", "grey8"],
        ["pool", "rgba", "-k", "3"],
        ["edges", "jpeg"],
        ["gray", "palette"],
    ],
)
def test_commands_write_a_png(argv, images, tmp_path, capsys):
    args = [str(images.get(a, a)) for a in argv]
    out = tmp_path / "out" / "figure.png"
    assert main([*args, "-o", str(out)]) == 0
    assert _png(out) == "PNG"
    assert capsys.readouterr().out.strip() == f"wrote {out}"


def test_default_output_in_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["pool", "-k", "16"]) == 0
    assert (tmp_path / "pool.png").is_file()
    assert "wrote pool.png" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["edges", "missing.png"], "no such file"),
        (["gray", "text"], "not an image"),
        (["pool", "float"], "unsupported image mode"),
        (["pool", "-k", "0"], "-k must be a positive integer, got '0'"),
        (["pool", "-k", "2.5"], "-k must be a positive integer, got '2.5'"),
        (["pool", "-k", "abc"], "-k must be a positive integer"),
        (["pool", "grey8", "-k", "21"], "-k 21 is larger than the image grey8.png (24×20"),
        (["edges", "-o", "x.jpg"], "must end in .png"),
    ],
)
def test_bad_input_one_line_nonzero_nothing_written(argv, message, images, tmp_path, capsys):
    out_dir = tmp_path / "outputs"
    out_dir.mkdir()
    args = [str(images.get(a, tmp_path / a if a.endswith(".png") else a)) for a in argv]
    if "-o" not in args:
        args += ["-o", str(out_dir / "figure.png")]
    assert main(args) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mfdnn {argv[0]}: ")
    assert message in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []
    assert not (tmp_path / "x.jpg").exists()
