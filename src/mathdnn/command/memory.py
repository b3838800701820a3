"""The memory budget of the commands.

A command that can be asked for more memory than a machine has (``jacobians``, ``mlp``, the
image commands, ``hw4 --image``) estimates what it will need from its arguments and the headers
of its input files, and refuses before it allocates when the estimate exceeds ``--max-memory`` or
what this process can get: the machine's memory, or the address-space limit (``ulimit -v``)
less what the process already uses. Refusing beats a ``MemoryError`` half-way through, or the
kernel's out-of-memory killer, which ends the process without a word.
"""

from __future__ import annotations

import argparse
import math
import os

try:
    import resource
except ImportError:  # Windows: no address-space limits to read
    resource = None  # type: ignore[assignment]

from mathdnn.command import CommandError

GIB = 2**30
#: ``--max-memory`` unless a command says otherwise: a 4000×3000 photograph passes every image
#: command, the full MNIST passes ``mlp`` with its default widths.
DEFAULT_MAX_MEMORY_GIB = 2.0


def add_max_memory(parser: argparse.ArgumentParser, default_gib: float, what: str) -> None:
    """The ``--max-memory GIB`` option: refuse when the estimate of ``what`` exceeds it."""
    parser.add_argument(
        "--max-memory",
        type=float,
        default=default_gib,
        metavar="GIB",
        help=f"refuse {what} would need more than this many GiB of memory, estimated before "
        f"anything is allocated (default {default_gib:g})",
    )


def check_max_memory(max_gib: float) -> float:
    """``--max-memory``: a positive number of GiB."""
    if not (math.isfinite(max_gib) and max_gib > 0):
        raise CommandError(f"--max-memory must be a positive number of GiB, got {max_gib}")
    return max_gib


def check_memory(need: int, max_gib: float, what: str, instead: str) -> None:
    """Refuse ``what``, estimated to need ``need`` bytes, if that is more than ``--max-memory``
    (``max_gib``) or than this process can get; ``instead`` says what the user can do."""
    check_max_memory(max_gib)
    needs = f"{what} needs about {_gib(need)} of memory"
    if need > max_gib * GIB:
        raise CommandError(
            f"{needs}, more than --max-memory {max_gib:g} GiB; {instead} or raise --max-memory"
        )
    available = memory_available()
    if available is not None and need > available[0]:
        have, source = available
        raise CommandError(f"{needs}, more than the {_gib(have)} {source}; {instead}")


def _gib(size: int) -> str:
    """``53.7 GiB``, ``0.0123 GiB``, ``3,390 GiB``."""
    gib = size / GIB
    return f"{gib:,.0f} GiB" if gib >= 1000 else f"{gib:.3g} GiB"


def memory_available() -> tuple[int, str] | None:
    """``(bytes, where the bound comes from)``: the most memory this process can still get, or
    ``None`` where the system does not say.

    The smallest of the machine's physical memory and, for each address-space limit that is set
    (``RLIMIT_AS``, ``ulimit -v``; ``RLIMIT_DATA``, ``ulimit -d``), the limit less what the
    process already uses of it.
    """
    bounds = []
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        physical = -1
    if physical > 0:
        bounds.append((physical, "of memory this machine has"))
    if resource is not None:
        for limit, field, flag in (
            (resource.RLIMIT_AS, "VmSize", "-v"),
            (resource.RLIMIT_DATA, "VmData", "-d"),
        ):
            soft, _ = resource.getrlimit(limit)
            if soft != resource.RLIM_INFINITY:
                left = max(0, soft - _process_status(field))
                bounds.append((left, f"this process may still allocate (ulimit {flag})"))
    return min(bounds, default=None)


def _process_status(field: str) -> int:
    """A size in bytes from ``/proc/self/status`` (Linux), or 0 where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    return 0
