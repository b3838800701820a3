"""Adam and its AMSGrad variant (``torch.optim.Adam``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mathdnn.engine import Tensor
from mathdnn.optim.optimizer import Optimizer, ParamGroup


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), optionally AMSGrad (Reddi et al., 2018), as ``torch.optim.Adam``.

    PyTorch's algorithm, for each parameter θ (``t`` counts the steps at which θ had a
    gradient)::

        input: γ (lr), β_1, β_2 (betas), θ_0 (params), f(θ) (objective),
               λ (weight_decay), amsgrad, maximize, ε (eps)
        initialize: m_0 ← 0 (first moment), v_0 ← 0 (second moment), v_0^max ← 0
        for t = 1, 2, ...:
            g_t ← −∇_θ f_t(θ_{t−1})  if maximize,  else  ∇_θ f_t(θ_{t−1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t−1}
            m_t ← β_1 m_{t−1} + (1 − β_1) g_t
            v_t ← β_2 v_{t−1} + (1 − β_2) g_t²
            m̂_t ← m_t / (1 − β_1^t)
            if amsgrad:
                v_t^max ← max(v_{t−1}^max, v_t)
                v̂_t ← v_t^max / (1 − β_2^t)
            else:
                v̂_t ← v_t / (1 − β_2^t)
            θ_t ← θ_{t−1} − γ m̂_t / (√v̂_t + ε)

    The state of θ: ``step`` = ``t``, ``exp_avg`` = ``m_t``, ``exp_avg_sq`` = ``v_t`` and, with
    amsgrad, ``max_exp_avg_sq`` = ``v_t^max``. Weight decay is the L2 penalty added to the
    gradient (Adam's, not AdamW's decoupled decay).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: ParamGroup, where: str) -> None:
        for name in ("lr", "eps", "weight_decay"):
            options[name] = self._real(name, options[name], where, low=0)
        betas = options["betas"]
        # A sequence: a set has no first and second, and a dict's would be its keys.
        sequence = isinstance(betas, Sequence | np.ndarray) and not isinstance(betas, str)
        if not sequence or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (β_1, β_2), got {betas!r:.80}{where}")
        options["betas"] = tuple(
            self._real(f"betas[{k}]", beta, where, low=0, high=1) for k, beta in enumerate(betas)
        )
        for name in ("amsgrad", "maximize"):
            options[name] = self._flag(name, options[name], where)
        if options.get("decoupled_weight_decay"):  # set in PyTorch's state_dicts of AdamW
            raise ValueError(f"Adam: decoupled_weight_decay (AdamW) is not supported{where}")

    def _state_keys(self, group: ParamGroup) -> set[str]:
        keys = {"step", "exp_avg", "exp_avg_sq"}
        return keys | {"max_exp_avg_sq"} if group["amsgrad"] else keys

    def _update(
        self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        gamma, lam, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            g = -g
        if lam != 0:
            g = g + lam * theta
        if not state:  # t = 0
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(theta)
            state["exp_avg_sq"] = np.zeros_like(theta)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(theta)
        t = state["step"] = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            v_max[...] = np.maximum(v_max, v)
            v_hat = v_max / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t)
        theta -= gamma * m_hat / (np.sqrt(v_hat) + eps)
