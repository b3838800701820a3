"""Whole networks built from ``mathdnn.nn`` layers: ``LeNet5``, the course's LeNet-5, with the full
or the original (partially connected) C3 of Homework 4, Problem 7.

``MODELS`` lists them by class name: a checkpoint (``mathdnn.checkpoint``) names its model's class
and ``config()``, and ``mathdnn.checkpoint.load_model(path)`` rebuilds the model from the file
alone.
"""

from __future__ import annotations

from mathdnn.models.lenet import C3_CHOICES, LeNet5
from mathdnn.nn import Module

__all__ = ["C3_CHOICES", "MODELS", "LeNet5"]

#: The models a checkpoint can hold, by class name; each has ``config()``, the keyword arguments
#: that rebuild it.
MODELS: dict[str, type[Module]] = {"LeNet5": LeNet5}
