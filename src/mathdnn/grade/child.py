"""The processes that run a submission: a zygote that forks one child per problem, and the
child, which loads the file and answers the grader's calls.

``mathdnn.grade.sandbox`` starts the zygote once, as ``python -I -B -c BOOT SRC SOCKET_FD`` with
an empty environment (BLAS on one thread). It imports NumPy and the protocol, never a
submission, then forks a child for each ``start`` request (the request names the file, the
child's folder and its limits, and passes its three pipes), and reaps the children, reporting an
exit status on a ``status`` request.

A child first makes itself a session of its own (the grader kills it as a process group), points
stdout and stderr at the output pipe, closes every other file, moves into its temporary folder
and lowers its limits for good (soft = hard, so the submission cannot raise them): address space,
processor seconds, size of a file written, no core dumps. Only then does it load the file as the
module ``hw4_solution`` (its top-level code runs here, never in the grader; it may not import
mathdnn or PyTorch, which hold the answers), say ``ready`` (or
why it could not load), and answer each request ``{"call": name, "args": [...]}`` with the
function's return value, or with what went wrong: ``not_implemented``, ``missing``, ``raised``
(type, message, line), ``exit``, ``memory``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import resource
import select
import socket
import sys
import traceback
from types import ModuleType
from typing import Any

MODULE_NAME = "hw4_solution"
#: What a solution may not import: the answers it is graded against, and PyTorch's functional,
#: which computes them too. A solution writes NumPy.
FORBIDDEN = ("mathdnn", "torch")


class _NumPyOnly(importlib.abc.MetaPathFinder):
    """Refuses every module of ``FORBIDDEN``, so that ``import mathdnn`` in a solution is an
    ``ImportError`` that says why. It stops a solution from handing in the project's answers by
    accident or by design, not a submission set on getting round it (the README says so)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in FORBIDDEN:
            raise ImportError(f"a solution uses NumPy only; it may not import {name}")
        return None


def _numpy_only() -> None:
    """From here on, this process imports no module of ``FORBIDDEN``, and forgets those it has
    (the child's own code keeps what it bound before)."""
    for name in [m for m in sys.modules if m.partition(".")[0] in FORBIDDEN]:
        del sys.modules[name]
    sys.meta_path.insert(0, _NumPyOnly())


def _limit(which: int, value: int) -> None:
    resource.setrlimit(which, (value, value))


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write(fd: int, frame: bytes) -> None:
    view = memoryview(frame)
    while view:
        view = view[os.write(fd, view) :]


def _line(err: BaseException, path: str) -> int | None:
    """The line of the submission nearest to where ``err`` was raised."""
    if isinstance(err, SyntaxError) and err.filename == path:
        return err.lineno
    lines = [
        line
        for frame, line in traceback.walk_tb(err.__traceback__)
        if frame.f_code.co_filename == path
    ]
    return lines[-1] if lines else None


def _text(err: BaseException) -> str:
    try:
        return str(err)[:300]
    except Exception:  # a submission's exception whose __str__ fails
        return ""


def _failure(err: BaseException, path: str) -> dict[str, Any]:
    if isinstance(err, NotImplementedError):
        return {"status": "not_implemented"}
    if isinstance(err, SystemExit):
        return {"status": "exit", "code": _text(err)}
    if isinstance(err, MemoryError):
        return {"status": "memory"}
    return {
        "status": "raised",
        "type": type(err).__name__[:80],
        "message": _text(err),
        "line": _line(err, path),
    }


def _load(path: str) -> tuple[ModuleType | None, dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        return None, {
            "status": "load_error",
            "type": "ImportError",
            "message": "not a Python file",
            "line": None,
        }
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:
        failure = _failure(err, path)
        return None, {**failure, "status": "load_error", "what": failure["status"]}
    return module, {"status": "ready"}


def serve(path: str, request_fd: int, reply_fd: int, numpy_only: bool = True) -> None:
    """Load the submission (refusing mathdnn and PyTorch to it if ``numpy_only``), say whether
    it loaded, then answer requests until the grader closes the request pipe."""
    from mathdnn.functional.activation import ACTIVATIONS
    from mathdnn.grade import protocol

    def activation(name: str, part: str) -> Any:  # the σ or σ′ an ActivationRef names
        return getattr(ACTIVATIONS[name], part)

    limits = protocol.Limits()
    if numpy_only:
        _numpy_only()
    module, status = _load(path)
    _write(reply_fd, protocol.pack(status, []))
    while True:
        size = _read_exactly(request_fd, protocol.FRAME.size)
        if size is None:
            return  # the grader is done
        payload = _read_exactly(request_fd, protocol.FRAME.unpack(size)[0])
        if payload is None:
            return
        header, blobs = protocol.unpack(payload, limits)
        args = protocol.decode_value(header["args"], blobs, limits, activation)
        function = getattr(module, header["call"], None)
        if not callable(function):
            _write(reply_fd, protocol.pack({"status": "missing"}, []))
            continue
        try:
            reply = protocol.message({"status": "ok"}, value=function(*args))
        except BaseException as err:  # raised by the function, or by what it returned
            reply = protocol.pack(_failure(err, path), [])
        _write(reply_fd, reply)


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In a freshly forked child: its own session, stdout and stderr to the output pipe, no
    other file open but the two protocol pipes, its folder, its limits; then ``serve``."""
    os.setsid()  # its own process group, which the grader kills as a whole
    request_fd, reply_fd, output_fd = fds
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    keep = {0, 1, 2, request_fd, reply_fd}
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own descriptor, already closed
    os.chdir(request["cwd"])
    _limit(resource.RLIMIT_AS, int(request["memory"]))
    _limit(resource.RLIMIT_CPU, int(request["cpu"]))
    _limit(resource.RLIMIT_FSIZE, int(request["file_size"]))
    _limit(resource.RLIMIT_CORE, 0)
    serve(request["path"], request_fd, reply_fd, bool(request["numpy_only"]))


def _reap(exited: dict[int, int]) -> None:
    """Collect the exit status of every child that ended (``-n`` for signal ``n``)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited[pid] = os.waitstatus_to_exitcode(status)


def zygote(sock_fd: int) -> None:
    """Fork a child for each ``start`` request from the grader (with the child's three pipes
    passed along), and report exit statuses on ``status`` requests. NumPy and the protocol are
    imported once here, so a child starts in milliseconds; the submission is only ever loaded
    in a child."""
    import mathdnn.functional.activation  # noqa: F401 - the σ an ActivationRef names, once
    from mathdnn.grade import protocol  # noqa: F401 - and NumPy with it

    sock = socket.socket(fileno=sock_fd)
    exited: dict[int, int] = {}
    while True:
        ready, _, _ = select.select([sock], [], [], 0.05)
        _reap(exited)
        if not ready:
            continue
        data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        if not data:
            return  # the grader is gone
        request = json.loads(data)
        if request["op"] == "start":
            pid = os.fork()
            if pid == 0:
                try:
                    sock.close()
                    _child(request, fds)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
        else:
            _reap(exited)
            sock.send(json.dumps({"status": exited.pop(request["pid"], None)}).encode())
