"""mathdnn.io: atomic writes of a file or a folder (whole or absent, replaced only by a rename),
errors naming the user's path, strict JSON, and paths checked up front."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator, Mapping

import pytest

from mathdnn.io import as_path, atomic_write, check_writable, write_folder, write_json


class Midway(Exception):
    """The failure a test raises inside a writer, after part of the content."""


def _fail_midway(f):
    f.write(b"partial")
    f.flush()
    raise Midway


def test_writes_the_content_with_the_mode_of_a_plain_open(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    assert atomic_write(target, lambda f: f.write(b"hello")) == target
    assert target.read_bytes() == b"hello"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("failure", [Midway, KeyboardInterrupt])
def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path, failure):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"new, but only half")
        f.flush()
        raise failure

    with pytest.raises(failure):
        atomic_write(target, write)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_a_failing_writer_creates_no_file(tmp_path):
    with pytest.raises(Midway):
        atomic_write(tmp_path / "new.bin", _fail_midway)
    assert list(tmp_path.iterdir()) == []


def test_the_target_never_holds_partial_content(tmp_path):
    old, new = tmp_path / "old.bin", tmp_path / "new.bin"
    old.write_bytes(b"old")
    seen = []

    def write(f, target):
        f.write(b"first half ")
        f.flush()
        seen.append(target.read_bytes() if target.exists() else None)
        f.write(b"second half")

    atomic_write(old, lambda f: write(f, old))
    atomic_write(new, lambda f: write(f, new))
    assert seen == [b"old", None]  # while writing: the old content, or no file at all
    assert old.read_bytes() == new.read_bytes() == b"first half second half"


def test_an_existing_target_is_replaced_by_a_rename_not_overwritten(tmp_path):
    """A rename gives the name a new file: a hard link to the old one keeps the old bytes.
    Writing into the old file (directly, or by copying a temporary over it) changes both."""
    target, link = tmp_path / "out.bin", tmp_path / "link.bin"
    target.write_bytes(b"old")
    os.link(target, link)
    inode = target.stat().st_ino
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"
    assert link.read_bytes() == b"old"
    assert target.stat().st_ino != inode


def test_a_parent_that_is_a_file_names_the_path_and_writes_nothing(tmp_path):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "sub" / "out.png"
    with pytest.raises(NotADirectoryError) as info:
        atomic_write(target, lambda f: f.write(b"x"))
    assert (
        str(info.value) == f"cannot write {target}: {tmp_path / 'afile'} is a file, not a directory"
    )
    assert (tmp_path / "afile").read_text() == "x"


def test_a_read_only_file_system_names_the_path_not_the_temporary(tmp_path, monkeypatch):
    def read_only(prefix, suffix, dir):
        name = os.path.join(dir, f"{prefix}abc{suffix}")
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), name)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    target = tmp_path / "out.png"
    with pytest.raises(OSError) as info:
        atomic_write(target, lambda f: f.write(b"x"))
    assert str(info.value) == f"cannot write {target}: Read-only file system"
    assert list(tmp_path.iterdir()) == []


def test_a_failing_rename_names_the_path_and_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", cross_device)
    with pytest.raises(OSError, match=rf"^cannot write {target}: Invalid cross-device link$"):
        atomic_write(target, lambda f: f.write(b"x"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs /sys, a file system nobody writes")
def test_a_real_unwritable_directory_names_the_path():
    with pytest.raises(OSError) as info:
        atomic_write("/sys/mathdnn-test.png", lambda f: f.write(b"x"))
    assert str(info.value).startswith("cannot write /sys/mathdnn-test.png: ")
    assert ".tmp" not in str(info.value)


def test_check_writable_reports_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert check_writable(tmp_path / "new" / "deeper" / "out.json") == (
        tmp_path / "new" / "deeper" / "out.json"
    )
    with pytest.raises(NotADirectoryError, match=r"afile is a file, not a directory"):
        check_writable(tmp_path / "afile" / "out.json")
    (tmp_path / "adir").mkdir()
    assert check_writable(tmp_path / "adir") == tmp_path / "adir"  # a folder to write into
    with pytest.raises(IsADirectoryError, match=r"cannot write .*adir: it is a directory"):
        check_writable(tmp_path / "adir", file=True)
    with pytest.raises(IsADirectoryError, match=r"adir: it is a directory"):
        atomic_write(tmp_path / "adir", lambda f: f.write(b"x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]


def test_write_json_is_strict(tmp_path):
    target = tmp_path / "results.json"
    write_json(target, {"accuracy": [0.5, 1.0], "n": 3, "name": "kl"})

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    assert json.loads(target.read_text(), parse_constant=refuse) == {
        "accuracy": [0.5, 1.0],
        "n": 3,
        "name": "kl",
    }


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_write_json_refuses_non_finite_numbers_and_writes_nothing(tmp_path, bad):
    target = tmp_path / "results.json"
    target.write_text("{}\n")
    with pytest.raises(ValueError, match=rf"cannot write {target}: .*NaN or infinity"):
        write_json(target, {"summary": {"mean": [0.5, bad]}})
    assert target.read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


@pytest.mark.parametrize("bad", [123, None, 1.5, b"bytes"])
def test_paths_that_are_not_paths_name_the_function(bad):
    with pytest.raises(TypeError, match=r"^atomic_write: path must be a path .*got"):
        atomic_write(bad, lambda f: None)
    with pytest.raises(TypeError, match=r"^load: file must be a path"):
        as_path("load", "file", bad)


# ------------------------------------------------------------------------------- write_folder
class FailingFiles(Mapping):
    """Files whose third one cannot be produced: ``failure`` is raised as it is read."""

    def __init__(self, failure: type[BaseException]) -> None:
        self.failure = failure
        self.names = ["a.txt", "b.txt", "c.txt", "d.txt"]

    def __getitem__(self, name: str) -> bytes:
        if name == "c.txt":
            raise self.failure
        return name.encode()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def test_write_folder_writes_every_file_with_plain_modes(tmp_path):
    target = tmp_path / "deeper" / "report"
    assert write_folder(target, {"index.html": b"<p>", "results.json": b"{}"}) == target
    assert sorted(p.name for p in target.iterdir()) == ["index.html", "results.json"]
    assert (target / "index.html").read_bytes() == b"<p>"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["report"]  # no temporary left


def test_write_folder_replaces_an_old_folder_whole(tmp_path):
    target = tmp_path / "report"
    write_folder(target, {"old.png": b"old", "index.html": b"old"})
    write_folder(target, {"index.html": b"new"})
    assert [p.name for p in target.iterdir()] == ["index.html"]
    assert (target / "index.html").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


@pytest.mark.parametrize("failure", [Midway, KeyboardInterrupt])
@pytest.mark.parametrize("earlier", [True, False])
def test_an_interrupted_folder_leaves_the_old_one_and_no_temporary(tmp_path, failure, earlier):
    target = tmp_path / "report"
    if earlier:
        write_folder(target, {"index.html": b"old"})
    with pytest.raises(failure):
        write_folder(target, FailingFiles(failure))
    if earlier:
        assert [p.name for p in target.iterdir()] == ["index.html"]
        assert (target / "index.html").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == (["report"] if earlier else [])


def test_a_failing_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "report"
    write_folder(target, {"index.html": b"old"})
    rename = os.rename

    def fail_the_second(src, dst):
        if str(src).endswith(".tmp"):  # the new folder into place
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", fail_the_second)
    with pytest.raises(OSError, match=rf"^cannot write {target}: Input/output error$"):
        write_folder(target, {"index.html": b"new"})
    assert (target / "index.html").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_write_folder_refuses_names_that_are_not_plain_and_writes_nothing(tmp_path):
    for name in ("../escape.txt", "sub/file.txt", "", ".hidden"):
        with pytest.raises(ValueError, match="write_folder: file names must be plain names"):
            write_folder(tmp_path / "report", {name: b"x"})
    assert list(tmp_path.iterdir()) == []


def test_write_folder_under_a_file_names_the_path(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a directory"):
        write_folder(tmp_path / "afile" / "report", {"a": b"x"})
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]
