"""The optional packages the bridges need, imported only when a bridge is used."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(fn: str, package: str, install: str) -> ModuleType:
    """``import package`` for ``fn``, or an error that names ``fn`` and how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ModuleNotFoundError(
            f"{fn}: needs the optional package {package!r}, which is not installed "
            f"({install}): {err}",
            name=package,
        ) from err
