"""Optimizers, with the names, arguments and ``state_dict`` layout of ``torch.optim``.

``optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)``, then per minibatch
``optimizer.zero_grad(); loss.backward(); optimizer.step()``. Each class's docstring states its
update rule in the notation of PyTorch's documentation, and its ``_update`` is that rule for one
parameter, line by line.
"""

from mathdnn.optim.adam import Adam
from mathdnn.optim.optimizer import Optimizer
from mathdnn.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
