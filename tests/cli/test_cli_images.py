"""The ``edges``, ``gray``, ``pool`` commands, run in-process."""

import pytest
from PIL import Image

from mathdnn.cli import main


def _png(path):
    with Image.open(path) as image:
        image.verify()
        return image.format


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
    assert len(lines) == 1 and lines[0].startswith(f"mathdnn {argv[0]}: ")
    assert message in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []
    assert not (tmp_path / "x.jpg").exists()
