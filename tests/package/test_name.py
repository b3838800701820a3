"""The project's name is ``mathdnn`` everywhere: its old name belongs to an unrelated package on
PyPI, so no text, module, variable or command of this tree may carry it, and nothing tells a user
to ``pip install`` a name from the index."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD = "mf" + "dnn"  # spelled in two halves, so that this file does not find itself


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = []
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file() and b"\0" not in path.read_bytes()[:8192]:
            files.append(path)
    return files


def test_no_file_or_text_carries_the_old_name():
    hits = [str(p.relative_to(ROOT)) for p in tracked_text_files() if OLD in str(p).lower()]
    hits += [
        f"{p.relative_to(ROOT)}:{n}"
        for p in tracked_text_files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if OLD in line.lower()
    ]
    assert hits == []


def test_no_text_sends_a_user_to_a_package_on_the_index():
    # An extra comes from the checkout (pip install '.[onnx]'); a bare name would fetch whatever
    # the index holds under it (for torch, the multi-GB CUDA build).
    pattern = re.compile(r"pip install +(?:-\S+ +)*['\"]?([A-Za-z][\w.-]*)")
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in tracked_text_files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        for m in pattern.finditer(line)
        if p.name != "test_name.py"
    ]
    assert hits == []


def test_the_distribution_the_import_package_and_the_command_are_mathdnn():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "mathdnn"$', text, re.M)
    assert re.search(r'^mathdnn = "mathdnn\.cli:main"$', text, re.M)
    assert (ROOT / "src" / "mathdnn" / "__init__.py").is_file()
    assert not (ROOT / "src" / OLD).exists()
