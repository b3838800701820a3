"""Whole networks built from ``mathdnn.nn`` layers: ``LeNet5``, the course's LeNet-5, with the full
or
the original (partially connected) C3 of Homework 4, Problem 7.

``MODELS`` lists them by class name: a checkpoint (``mathdnn.checkpoint``) names its model's class
and ``config()``, and ``load(path)`` rebuilds the model from the file alone.
"""

from __future__ import annotations

import os

from mathdnn.models.lenet import C3_CHOICES, LeNet5
from mathdnn.nn import Module

__all__ = ["C3_CHOICES", "MODELS", "LeNet5", "load"]

#: The models a checkpoint can hold, by class name; each has ``config()``, the keyword arguments
#: that rebuild it.
MODELS: dict[str, type[Module]] = {"LeNet5": LeNet5}


def load(path: str | os.PathLike[str]) -> Module:
    """The model saved in the checkpoint ``path`` (``mathdnn.checkpoint.save_checkpoint``), rebuilt
    from its class and ``config()`` with its weights; errors as ``load_checkpoint``."""
    from mathdnn.checkpoint import load_checkpoint  # mathdnn.checkpoint imports MODELS from here

    return load_checkpoint(path).model
