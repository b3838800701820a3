"""Whole networks built from ``mfdnn.nn`` layers: ``LeNet5``, the course's LeNet-5, with the full or
the original (partially connected) C3 of Homework 4, Problem 7."""

from mfdnn.models.lenet import LeNet5

__all__ = ["LeNet5"]
