"""Running a command under a real memory limit: a child process whose address space
(``RLIMIT_AS``, what ``ulimit -v`` sets) is capped at its size after start-up plus a headroom."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mathdnn

SRC = str(Path(mathdnn.__file__).resolve().parents[1])

LIMITED = """
import resource, sys
from mathdnn.cli import build_parser, main
import mathdnn.command.memory

build_parser()  # every subcommand imported: the limit is left for the work itself
if sys.argv[2] == "blind":  # the estimate does not see the limit; the allocation meets it
    mathdnn.command.memory.memory_available = lambda: None
with open("/proc/self/status") as status:
    size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[1]), hard))
sys.exit(main(sys.argv[3:]))
"""


def run_limited(argv: list[str], headroom: int, blind: bool = False) -> subprocess.CompletedProcess:
    """``mathdnn argv`` in a child process that may allocate ``headroom`` bytes beyond its
    start-up; with ``blind`` the commands' estimates do not know of the limit. Returns the
    finished process (text output captured)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs Linux's /proc/self/status to set the limit above the start-up size")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    code = [sys.executable, "-c", LIMITED, str(headroom), "blind" if blind else "-", *argv]
    return subprocess.run(code, env=env, capture_output=True, text=True, timeout=300)
