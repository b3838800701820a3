"""Run a submission's functions in a child process, never in the grader's.

A ``Sandbox(path, limits)`` gets its child from the zygote (``mathdnn.grade.child``), a process
started once with an empty environment that has imported NumPy and forks a fresh child per
sandbox, so a child starts in milliseconds. The child is a session of its own in an empty
temporary folder, with its stdin closed, two pipes of its own for the protocol
(``mathdnn.grade.protocol``: requests in, replies out), and its stdout and stderr going to a
third pipe that the grader drains and counts but never parses.

``call(name, args, deadline)`` sends one request and waits for the reply until ``deadline``
(``time.monotonic()``), reading the child's output meanwhile, or until the event ``cancelled``
is set (Ctrl-C in the grader). What can go wrong becomes one of
``mathdnn.exercise``'s errors, in words for the student:

- the function raised ``NotImplementedError`` or does not exist: ``NotImplementedBySubmission``;
- it raised another exception: ``Raised`` (type, message, line of the file);
- no reply before the deadline; the process died (a signal, ``os._exit``, the CPU limit); it
  called ``exit()``; it ran out of memory; it printed more than ``limits.output`` bytes; its reply
  is larger than ``limits.answer`` or malformed; the file does not load: ``Broke``. The process
  group is killed and the next call starts a fresh child.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mathdnn.exercise import Broke, NotImplementedBySubmission, Raised
from mathdnn.grade import protocol

# The child imports mathdnn from the same place as the grader (python -I ignores PYTHONPATH).
SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from mathdnn.grade.child import zygote; zygote(int(sys.argv[2]))"
)
# One BLAS thread: a folder is graded on all cores, one submission per core.
ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SIGNALS = {
    signal.SIGXCPU: "used up its processor time",
    signal.SIGXFSZ: "wrote a file larger than the limit",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGABRT: "aborted",
    signal.SIGKILL: "was killed (SIGKILL; out of memory?)",
}


@dataclass(frozen=True)
class Limits:
    """What a submission may use. ``time``: seconds for each function it writes (all calls of
    that function's check together, the file's loading included); ``memory``: bytes of address
    space; ``output``: bytes it may print; ``answer``: bytes of one reply; ``file_size``: bytes of
    one file it writes; ``numpy_only``: it may not import mathdnn or PyTorch, which hold the
    answers (off only to grade the project's own answers as a solution file)."""

    time: float = 10.0
    memory: int = 2**30
    output: int = 2**20
    answer: int = 16 * 2**20
    file_size: int = 16 * 2**20
    numpy_only: bool = True


class _Zygote:
    """The grader's end of the zygote: ``start`` a child, ask a child's exit ``status``."""

    def __init__(self) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", BOOT, SOURCE_ROOT, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                cwd=tempfile.gettempdir(),
                env=ENVIRONMENT,
                start_new_session=True,
            )
        self.lock = threading.Lock()
        self.dead = False

    def ask(self, request: dict[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        """The zygote's reply to ``request``; ``OSError`` if it has ended (a submission may
        kill it: it runs as the same user)."""
        with self.lock:
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
                reply = self.sock.recv(1 << 16)
            except OSError:
                reply = b""
        if not reply:
            self.dead = True
            raise OSError("mathdnn grade: the process that starts the submissions has ended")
        return json.loads(reply)

    def close(self) -> None:
        self.sock.close()
        self.process.wait()


_zygote: _Zygote | None = None
_zygote_lock = threading.Lock()


def _the_zygote() -> _Zygote:
    """The zygote of this process, started on first use (again if it ended)."""
    global _zygote
    with _zygote_lock:
        if _zygote is None or _zygote.dead or _zygote.process.poll() is not None:
            _zygote = _Zygote()
            atexit.register(_zygote.close)
        return _zygote


def _size(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


class Sandbox:
    """The child process of one submission, started on the first call, restarted after it
    broke. Use as a context manager: leaving it ends the child and removes its folder."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        limits: Limits = Limits(),
        cancelled: threading.Event | None = None,
    ) -> None:
        self.path = str(Path(path).resolve())
        self.limits = limits
        self.cancelled = cancelled or threading.Event()
        self.pid: int | None = None
        self._zygote: _Zygote | None = None
        self._exit_status: int | None = None
        self.printed = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------- the process
    def _spawn(self, request: dict[str, Any]) -> None:
        """Ask the zygote for a child on three new pipes; keep the grader's ends."""
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        output_read, output_write = os.pipe()
        try:
            self._zygote = _the_zygote()
            self.pid = self._zygote.ask(request, (request_read, reply_write, output_write))["pid"]
        except BaseException:
            for fd in (request_write, reply_read, output_read):
                os.close(fd)
            raise
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        self._request, self._reply, self._output = request_write, reply_read, output_read

    def _start(self, deadline: float) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="mathdnn-grade-")
        request = {
            "op": "start",
            "path": self.path,
            "cwd": self._folder.name,
            "memory": self.limits.memory,
            "cpu": int(self.limits.time) + 5,  # a backstop: the grader's deadline comes first
            "file_size": self.limits.file_size,
            "numpy_only": self.limits.numpy_only,
        }
        try:
            self._spawn(request)
        except OSError:
            # A submission ended the zygote. Ask a fresh one, on new pipes: a child the old one
            # may have forked before it died holds the old ones, and finds them closed.
            self._spawn(request)
        for fd in (self._request, self._reply, self._output):
            os.set_blocking(fd, False)
        self.printed = 0
        self._exit_status = None
        header, _ = self._exchange(b"", deadline, "loading the file")
        if header.get("status") != "ready":
            self.close()
            raise Broke(f"the file does not load: {_load_error(header)}")

    def _status(self, timeout: float) -> int | None:
        """The child's exit status (``-n`` for signal ``n``), once the zygote has reaped it
        (it forgets it then: asked once)."""
        assert self.pid is not None and self._zygote is not None
        end = time.monotonic() + timeout
        while self._exit_status is None and time.monotonic() < end:
            try:
                self._exit_status = self._zygote.ask({"op": "status", "pid": self.pid})["status"]
            except OSError:
                return None  # the zygote that reaped it has ended: the status is lost
            if self._exit_status is None:
                time.sleep(0.005)
        return self._exit_status

    def close(self) -> None:
        """End the child (its whole process group) and remove its folder."""
        if self.pid is not None:
            for fd in (self._request, self._reply, self._output):
                os.close(fd)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._status(timeout=5)  # so that the zygote forgets it
            self.pid = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _broke(self, reason: str) -> Broke:
        self.close()
        return Broke(reason)

    def _ended(self) -> Broke:
        """The child ended without replying: say how."""
        code = self._status(timeout=2)
        if code is None:
            return self._broke("the process ended without answering (how, the grader cannot tell)")
        if code < 0:
            try:
                name = signal.Signals(-code)
                reason = SIGNALS.get(name, f"was killed by {name.name}")
            except ValueError:
                reason = f"was killed by signal {-code}"
            return self._broke(f"the process {reason}")
        return self._broke(
            f"the process ended (exit status {code}) without answering: did it call exit() "
            "or os._exit()?"
        )

    # ---------------------------------------------------------------------------- one call
    def _exchange(self, request: bytes, deadline: float, what: str) -> tuple[dict, list[bytes]]:
        """Send ``request``, read one reply frame, draining the child's output meanwhile."""
        selector = selectors.DefaultSelector()
        selector.register(self._reply, selectors.EVENT_READ, "reply")
        selector.register(self._output, selectors.EVENT_READ, "output")
        pending = memoryview(request)
        if pending:
            selector.register(self._request, selectors.EVENT_WRITE, "request")
        received = bytearray()
        need = protocol.FRAME.size
        try:
            while True:
                if self.cancelled.is_set():
                    raise self._broke("the grading was interrupted")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._broke(
                        f"no answer within {self.limits.time:g} s while {what} (an endless "
                        "loop, or much too slow?)"
                    )
                for key, _ in selector.select(min(left, 0.1)):
                    try:
                        if key.data == "request":
                            pending = pending[os.write(self._request, pending) :]
                            if not pending:
                                selector.unregister(self._request)
                            continue
                        wanted = 1 << 16 if key.data == "output" else need - len(received)
                        data = os.read(key.fd, wanted)
                    except BlockingIOError:  # the pipe was not ready after all
                        continue
                    except BrokenPipeError:
                        raise self._ended() from None
                    if key.data == "output":
                        if not data:
                            selector.unregister(self._output)
                        self.printed += len(data)
                        if self.printed > self.limits.output:
                            raise self._broke(
                                f"printed more than {_size(self.limits.output)} while {what}"
                            )
                    else:
                        if not data:
                            raise self._ended()
                        received += data
                        if len(received) == protocol.FRAME.size == need:
                            (size,) = protocol.FRAME.unpack(received)
                            if size > self.limits.answer:
                                raise self._broke(
                                    f"sent an answer of {_size(size)}, more than the limit of "
                                    f"{_size(self.limits.answer)}, while {what}"
                                )
                            need += size
                        if len(received) == need:
                            try:
                                return protocol.unpack(
                                    bytes(received[protocol.FRAME.size :]), protocol.Limits()
                                )
                            except protocol.ProtocolError as err:
                                raise self._broke(
                                    f"sent an answer the grader cannot read: {err}"
                                ) from None
        finally:
            selector.close()

    def call(self, name: str, args: tuple[Any, ...], deadline: float) -> Any:
        """The value the submission's ``name(*args)`` returns (see the module's docstring for
        what it raises instead)."""
        if self.pid is None:
            self._start(deadline)
        what = f"running {name}"
        header, blobs = self._exchange(
            protocol.message({"call": name}, args=list(args)), deadline, what
        )
        status = header.get("status")
        if status == "ok":
            try:
                return protocol.decode_value(header.get("value"), blobs, protocol.Limits())
            except protocol.ProtocolError as err:
                raise self._broke(f"sent an answer the grader cannot read: {err}") from None
        if status == "not_implemented":
            raise NotImplementedBySubmission("it raises NotImplementedError")
        if status == "missing":
            raise NotImplementedBySubmission(f"the file has no function {name}()")
        if status == "raised":
            raise Raised(_raised(header))
        if status == "exit":
            raise self._broke(f"{name} called exit() ({header.get('code', '')!s:.40})")
        if status == "memory":
            raise self._broke(
                f"{name} ran out of memory (the limit is {_size(self.limits.memory)})"
            )
        raise self._broke(f"sent an answer the grader cannot read (status {str(status)[:40]!r})")


def _raised(header: dict[str, Any]) -> str:
    kind, message, line = header.get("type"), header.get("message"), header.get("line")
    text = f"{str(kind)[:80]}: {str(message)[:300]}" if message else str(kind)[:80]
    return text + (f" (line {line})" if isinstance(line, int) else "")


def _load_error(header: dict[str, Any]) -> str:
    what = header.get("what")
    if what == "exit":
        return "it calls exit() when it is loaded"
    if what == "memory":
        return "it runs out of memory when it is loaded"
    if what == "not_implemented":
        return "it raises NotImplementedError when it is loaded"
    return _raised(header)
