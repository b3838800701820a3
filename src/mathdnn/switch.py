"""The kernel switch: every primitive runs its formula ("reference") or a fast path ("fast").

The formula path is the code in ``mathdnn.functional``: the formula of the docstring, written so a
reader can put the two side by side. A fast path computes the same thing another way (by chunks
on threads, or as banded matrix products); it lives in ``mathdnn.kernels``, one module per idea.
Both keep one contract, that of a *kernel*: it takes the call's arrays (and its geometry,
``mathdnn.windows``) and returns the outputs and, last, the VJP ``vjp(∂L/∂Y)``, which returns one
cotangent per differentiable input (None where none is needed), the engine's ``VJP``. A fast path
gives the same outputs (to floating-point rounding, with NaN and ±∞ in exactly the same places) and
the same errors; the formula path is the oracle every fast path is tested against.

A primitive asks for its kernel in one way, ``kernel(primitive, formula, *args)``: under
``"reference"`` that is the formula itself; under ``"fast"``, the *rule* a fast path registered
for the primitive (``register``) picks one for these arguments, the formula included. The rules
live in ``mathdnn.kernels``, which registers them when imported (``mathdnn.functional`` imports
it); this module never imports them.

One switch chooses for every primitive::

    with mathdnn.kernels.use("reference"):
        y = F.conv2d(x, w)              # the formula path, whatever the default

    mathdnn.kernels.use("reference")      # from now on, in this process
    MATHDNN_KERNELS=reference mathdnn verify

The default is ``"fast"``. The switch is process-wide (like ``torch.set_num_threads``), not
per thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

MODES = ("reference", "fast")
ENV = "MATHDNN_KERNELS"

K = TypeVar("K", bound=Callable[..., Any])
#: A fast path's rule: ``rule(formula, *args)``, the kernel for one call with these arguments.
Rule = Callable[..., Callable[..., Any]]

_mode: str | None = None  # None until first asked for: then $MATHDNN_KERNELS, else "fast"
_rules: dict[str, Rule] = {}


def _check(fn: str, name: str, value: object) -> str:
    if value not in MODES:
        raise ValueError(f"{fn}: {name} must be 'reference' or 'fast', got {value!r}")
    return str(value)


def mode() -> str:
    """The kernels in use: ``"reference"`` (the formulas) or ``"fast"``."""
    global _mode
    if _mode is None:
        _mode = _check("mathdnn.kernels", f"${ENV}", os.environ.get(ENV, "fast") or "fast")
    return _mode


def fast() -> bool:
    """Whether the primitives may take their fast paths."""
    return mode() == "fast"


class use:  # lower case: called like a function too, as torch.set_grad_enabled
    """Switch every primitive to ``"reference"`` or ``"fast"`` kernels.

    Takes effect at once; used as a context manager, it restores the previous choice on exit.
    """

    def __init__(self, mode: str) -> None:
        global _mode
        new = _check("mathdnn.kernels.use", "mode", mode)
        self.previous = globals()["mode"]()
        _mode = new

    def __enter__(self) -> use:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _mode
        _mode = self.previous


def register(primitive: str, rule: Rule) -> None:
    """Make ``rule(formula, *args)`` pick the kernel of ``primitive`` when the fast paths are on."""
    _rules[primitive] = rule


def kernel(primitive: str, formula: K, *args: Any) -> K:
    """The kernel for one call of ``primitive``: ``formula`` under ``"reference"``, else the one the
    registered rule picks for ``args`` (``formula`` if no fast path is registered)."""
    rule = _rules.get(primitive) if fast() else None
    return formula if rule is None else rule(formula, *args)


__all__ = ["ENV", "MODES", "fast", "kernel", "mode", "register", "use"]
