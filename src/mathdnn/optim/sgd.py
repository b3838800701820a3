"""Stochastic gradient descent, with momentum and Nesterov momentum (``torch.optim.SGD``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from mathdnn.engine import Tensor
from mathdnn.optim.optimizer import Optimizer, ParamGroup


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    PyTorch's algorithm, for each parameter θ (``t`` counts the steps at which θ had a
    gradient)::

        input: γ (lr), θ_0 (params), f(θ) (objective), λ (weight_decay),
               μ (momentum), τ (dampening), nesterov, maximize
        for t = 1, 2, ...:
            g_t ← −∇_θ f_t(θ_{t−1})  if maximize,  else  ∇_θ f_t(θ_{t−1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t−1}
            if μ ≠ 0:
                if t > 1:   b_t ← μ b_{t−1} + (1 − τ) g_t
                else:       b_t ← g_t
                if nesterov:  g_t ← g_t + μ b_t
                else:         g_t ← b_t
            θ_t ← θ_{t−1} − γ g_t

    The state of θ is ``momentum_buffer`` = ``b_t`` (none when μ = 0). Like PyTorch (and
    unlike Sutskever et al.) the velocity is not scaled by γ, and the first ``b_1 = g_1`` is not
    damped.

    ``nesterov=True`` needs ``momentum > 0`` and ``dampening = 0``.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: ParamGroup, where: str) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            options[name] = self._real(name, options[name], where, low=0)
        options["dampening"] = self._real("dampening", options["dampening"], where)
        for name in ("nesterov", "maximize"):
            options[name] = self._flag(name, options[name], where)
        if options["nesterov"] and (options["momentum"] == 0 or options["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum="
                f"{options['momentum']}, dampening={options['dampening']}{where}"
            )

    def _state_keys(self, group: ParamGroup) -> set[str]:
        return {"momentum_buffer"} if group["momentum"] != 0 else set()

    def _update(
        self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        gamma, lam = group["lr"], group["weight_decay"]
        mu, tau = group["momentum"], group["dampening"]
        if group["maximize"]:
            g = -g
        if lam != 0:
            g = g + lam * theta
        if mu != 0:
            if "momentum_buffer" in state:
                b = state["momentum_buffer"]
                b[...] = mu * b + (1 - tau) * g
            else:  # t = 1; a copy, as g may be the parameter's .grad itself
                b = state["momentum_buffer"] = np.array(g)
            g = g + mu * b if group["nesterov"] else b
        theta -= gamma * g
