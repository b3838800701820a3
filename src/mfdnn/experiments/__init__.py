"""Experiments: the homework's questions answered by training models on the engine.

- ``mfdnn.experiments.losses``: Problem 5, logistic regression on two MNIST digits trained with
  the KL objective or with the sum of squares, compared over several seeds.
- ``mfdnn.experiments.mlp``: Problem 6, an MNIST MLP trained with gradients from the layer
  Jacobians (``mfdnn.jacobians``, no autodiff) and with the engine's autodiff, step for step.
"""

from __future__ import annotations


class TrainingDiverged(ValueError):
    """Training produced a non-finite loss or parameter (NaN or ±inf): the learning rate is too
    large for the problem. Raised as soon as it is seen, before any result is reported."""
