"""File output that is whole or absent: atomic writes of a file or of a folder, strict JSON, and
paths checked up front."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any


def as_path(fn: str, name: str, value: Any) -> Path:
    """``value`` as a ``Path``; a ``TypeError`` naming ``fn`` and ``name`` unless it is a str or
    an ``os.PathLike``."""
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise TypeError(
        f"{fn}: {name} must be a path (str or os.PathLike), got {type(value).__name__} {value!r}"
    )


def check_writable(path: str | os.PathLike[str], file: bool = False) -> Path:
    """Raise the ``OSError`` that writing ``path`` would, as far as it shows without writing.

    A parent that is a file raises ``NotADirectoryError``, a nearest existing directory without
    write permission ``PermissionError``, and with ``file`` (``path`` is to be a file) a directory
    at ``path`` ``IsADirectoryError``; each names ``path``. Commands call it before their work,
    so a bad ``-o`` is reported at once, not after the computation.
    """
    path = as_path("check_writable", "path", path)
    if file and path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    existing = Path(path.anchor or ".")
    for parent in reversed(path.parents):
        if not parent.exists():
            break  # atomic_write creates the rest
        if not parent.is_dir():
            raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a directory")
        existing = parent
    if not os.access(existing, os.W_OK):
        raise PermissionError(f"cannot write {path}: {existing} is not writable")
    return path


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it into place.

    The rename is atomic on POSIX, so readers never see a half-written file, and a failure
    inside ``write`` leaves no file behind (nor a stale temporary); an existing file at ``path``
    stays as it was until the rename replaces it. An ``OSError`` (a missing permission, a
    read-only file system, a parent that is a file) names ``path``, not the temporary.
    """
    path = check_writable(as_path("atomic_write", "path", path), file=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise type(err)(f"cannot write {path}: {err.strerror or err}") from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise type(err)(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike[str], document: Any) -> Path:
    """Write ``document`` as strict JSON (RFC 8259: no ``NaN`` or ``Infinity``), atomically.

    A document holding a non-finite float raises ``ValueError`` naming ``path``, and nothing is
    written: Python's ``json`` would otherwise write ``NaN``, which JSON readers reject.
    """
    path = as_path("write_json", "path", path)
    try:
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    except ValueError as err:
        raise ValueError(
            f"cannot write {path}: the results hold NaN or infinity, which JSON cannot "
            f"represent ({err})"
        ) from None
    return atomic_write(path, lambda f: f.write(text.encode()))


def write_folder(path: str | os.PathLike[str], files: Mapping[str, bytes]) -> Path:
    """Write the folder ``path`` holding ``files`` (name → content), whole or not at all.

    The files are written into a temporary folder beside ``path``, which is then renamed onto
    ``path``. A folder already at ``path`` is replaced only once the new one is complete: it is
    renamed aside, the new one renamed into place, the old one deleted (between the two renames,
    a few microseconds, ``path`` does not exist). A failure or an interruption (Ctrl-C) anywhere
    removes the temporary folder and leaves ``path`` as it was. The caller decides whether an
    existing folder may be replaced; an ``OSError`` names ``path``.
    """
    path = check_writable(as_path("write_folder", "path", path))
    for name in files:
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"write_folder: file names must be plain names, got {name!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as err:
        raise type(err)(f"cannot write {path}: {err.strerror or err}") from None
    old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
    moved_aside = False
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes the folder private
        for name, content in files.items():
            with open(tmp / name, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
        if path.exists():
            os.rename(path, old)
            moved_aside = True
        os.rename(tmp, path)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if moved_aside and not path.exists():
            with contextlib.suppress(OSError):  # the error to report is the first one
                os.rename(old, path)
        if isinstance(err, OSError):
            raise type(err)(f"cannot write {path}: {err.strerror or err}") from None
        raise
    if moved_aside:
        shutil.rmtree(old, ignore_errors=True)
    return path
