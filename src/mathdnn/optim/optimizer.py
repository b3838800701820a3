"""``Optimizer``: the bookkeeping every update rule shares, with ``torch.optim.Optimizer``'s API.

An optimizer holds ``param_groups``, a list of dicts, each with its ``"params"`` (``Tensor``
leaves) and its own options (``lr``, ...; the ones a group does not give come from
``defaults``), and ``state``, a dict ``parameter -> {name: value}`` of what the rule remembers
between steps (a momentum buffer, moment estimates, the step count). ``step()`` applies the rule
to every parameter whose ``.grad`` is not None, in place on ``.data``; a subclass writes the rule
for one parameter, ``_update(theta, g, state, group)``, and checks its options in
``_check_options``.

``state_dict()`` has PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{...,
"params": [indices]}]}``, the parameters numbered in the order the groups list them. The state
holds NumPy arrays shaped like their parameter and the integer ``step``; the groups hold floats
and bools. So it flattens into a file of arrays plus a little JSON, and loads into
``torch.optim`` (after ``torch.from_numpy``) and back.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np

from mathdnn.engine import Tensor

ParamGroup = dict[str, Any]


class Optimizer:
    """Base class: ``param_groups``, ``defaults``, ``state``, ``step``, ``zero_grad``,
    ``state_dict`` / ``load_state_dict``, ``add_param_group``, as ``torch.optim.Optimizer``.

    ``params`` is an iterable of parameters (``Tensor`` leaves with ``requires_grad=True``) or
    of dicts, each a param group ``{"params": [...], option: value, ...}``.
    """

    def __init__(
        self, params: Iterable[Tensor] | Iterable[ParamGroup], defaults: ParamGroup
    ) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._check_options(self.defaults, "")
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[ParamGroup] = []
        if isinstance(params, Tensor | dict):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (param groups), "
                f"got {type(params).__name__}"
            )
        groups = _ordered(name, params, "")
        if not groups:
            raise ValueError(f"{name}: params is empty; give it the parameters to optimize")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ what a subclass writes
    def _check_options(self, options: ParamGroup, where: str) -> None:
        """Check the options of a group (or the defaults) in place: turn them into floats and
        bools, raise ``ValueError``/``TypeError`` naming the class and the option."""
        raise NotImplementedError(f"{type(self).__name__}._check_options is not defined")

    def _update(
        self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        """One step of the rule for one parameter: ``theta`` (its ``.data``, updated in place),
        ``g`` its gradient, ``state`` what the rule keeps for it (empty at the first step; its
        arrays, updated in place too, stay arrays of θ's dtype even when θ is 0-d)."""
        raise NotImplementedError(f"{type(self).__name__}._update is not defined")

    def _state_keys(self, group: ParamGroup) -> set[str]:
        """The names in a parameter's state after a step with the options of ``group``."""
        raise NotImplementedError(f"{type(self).__name__}._state_keys is not defined")

    # ------------------------------------------------------------------------- the shared API
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; one with ``.grad is None`` is skipped
        (its state and step count stay as they are), as in PyTorch.

        ``closure``, if given, re-evaluates the model and returns the loss; it is called first
        and its value returned.
        """
        loss = closure() if closure is not None else None
        # Every gradient is checked first, so that a bad one leaves all parameters unchanged.
        for i, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                if p.grad is not None:
                    self._check_grad(p, f"parameter {j} of param group {i}")
        # IEEE arithmetic, as PyTorch: a NaN or inf gradient makes NaN or inf parameters, silently.
        with np.errstate(all="ignore"):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p, {})
                    self._update(p.data, p.grad, state, group)
                    if state:  # a rule without memory (SGD without momentum) keeps no entry
                        self.state[p] = state
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def add_param_group(self, param_group: ParamGroup) -> None:
        """Append a group ``{"params": ..., option: value}``; missing options come from
        ``defaults``. A parameter may belong to one group only."""
        name, where = type(self).__name__, f" in param group {len(self.param_groups)}"
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(
                f"{name}: a param group must be a dict with a 'params' entry, got {param_group!r}"
            )
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else _ordered(name, params, where)
        for j, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: parameter {j}{where} must be a Tensor, got {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {j}{where} is not a leaf (it was computed from other "
                    f"tensors); optimize the tensors it was computed from"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: parameter {j}{where} has requires_grad=False, so it never gets a "
                    f"gradient; call requires_grad_() on it or leave it out"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice{where}")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one param group")
        group = {**self.defaults, **param_group, "params": params}
        self._check_options(group, where)
        self.param_groups.append(group)

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered 0, 1, ... in the order the groups list them, as in PyTorch.
        The arrays are copies (PyTorch's share memory with the optimizer's state), so the
        dict stays a snapshot while training goes on.
        """
        index = {id(p): k for k, p in enumerate(self._all_params())}
        param_groups = [
            {k: v for k, v in group.items() if k != "params"}
            | {"params": [index[id(p)] for p in group["params"]]}
            for group in self.param_groups
        ]
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items()
            if s
        }
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Take the state and the group options of ``state_dict`` (from ``state_dict()`` of an
        optimizer of the same class over parameters of the same shapes, or PyTorch's with its
        tensors as arrays); the parameters stay this optimizer's own.

        Everything is checked before anything changes: the number and sizes of the groups, the
        options of this class, the names of the state (another optimizer's state is refused),
        array shapes (each that of its parameter; copied, cast to its dtype) and ``step``
        counts.
        """
        fn = f"{type(self).__name__}.load_state_dict"
        if (
            not isinstance(state_dict, Mapping)
            or not {"state", "param_groups"} <= set(state_dict)
            or not isinstance(state_dict["state"], Mapping)
        ):
            raise TypeError(
                f"{fn}: state_dict must be a dict with 'state' (a dict) and 'param_groups', got "
                f"{state_dict!r:.200}"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, Sequence) or isinstance(saved_groups, str):
            raise TypeError(
                f"{fn}: the state_dict's param_groups must be a list, got {saved_groups!r:.80}"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{fn}: state_dict has {len(saved_groups)} param groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            where = f" in param group {i} of the state_dict"
            if not isinstance(saved, Mapping) or "params" not in saved:
                raise TypeError(f"{fn}: param group {i} of the state_dict has no 'params' list")
            indices = saved["params"]
            if not isinstance(indices, Sequence) or isinstance(indices, str):
                raise TypeError(
                    f"{fn}: 'params' of param group {i} of the state_dict must be a list of "
                    f"parameter indices, got {indices!r:.80}"
                )
            if not all(isinstance(k, int) and not isinstance(k, bool) for k in indices):
                raise TypeError(
                    f"{fn}: 'params' of param group {i} of the state_dict must hold ints (the "
                    f"parameters' indices), got {indices!r:.80}"
                )
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{fn}: param group {i} of the state_dict has {len(saved['params'])} "
                    f"parameters, this optimizer's has {len(group['params'])}"
                )
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(
                    f"{fn}: param group {i} of the state_dict lacks the options {missing} of "
                    f"{type(self).__name__} (is it the state of another optimizer?)"
                )
            options = {k: v for k, v in saved.items() if k != "params"}
            self._check_options(options, where)
            groups.append({**options, "params": group["params"]})
        saved_ids = [k for saved in saved_groups for k in saved["params"]]
        if len(set(saved_ids)) != len(saved_ids):
            raise ValueError(f"{fn}: the state_dict's param groups list a parameter twice")
        param_of = dict(zip(saved_ids, self._all_params(), strict=True))
        group_of = {id(p): g for g in groups for p in g["params"]}
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for k, saved in state_dict["state"].items():
            if not saved:  # an empty state is no state (PyTorch's defaultdict can hold some)
                continue
            if k not in param_of:
                raise ValueError(
                    f"{fn}: the state_dict has state for parameter {k!r}, which no group lists"
                )
            p = param_of[k]
            state[p] = self._load_param_state(fn, k, saved, p, group_of[id(p)])
        self.param_groups, self.state = groups, state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join([*lines, ")"])

    # -------------------------------------------------------------------------------- helpers
    def _all_params(self) -> list[Tensor]:
        return list(chain.from_iterable(group["params"] for group in self.param_groups))

    def _check_grad(self, p: Tensor, what: str) -> None:
        g = p.grad
        if not isinstance(g, np.ndarray) or g.shape != p.shape or g.dtype != p.dtype:
            got = f"{g.dtype} {g.shape}" if isinstance(g, np.ndarray) else type(g).__name__
            raise ValueError(
                f"{type(self).__name__}.step: the .grad of {what} must be an array of the "
                f"parameter's dtype and shape, {p.dtype} {p.shape}; got {got}"
            )

    def _load_param_state(
        self, fn: str, k: Any, saved: Mapping[str, Any], p: Tensor, group: ParamGroup
    ) -> dict[str, Any]:
        """Parameter ``k``'s saved state, checked: the names this class keeps, ``step`` a count,
        every other entry an array of the parameter's shape (copied to its dtype)."""
        expected = self._state_keys(group)
        if set(saved) != expected:
            raise ValueError(
                f"{fn}: the state of parameter {k} has {sorted(saved)}, {type(self).__name__} "
                f"keeps {sorted(expected)} (is it the state of another optimizer?)"
            )
        state: dict[str, Any] = {}
        for name, value in saved.items():
            array = np.asarray(value)
            if name == "step":
                # PyTorch keeps the count as a float tensor; any integral value >= 0 will do.
                if (
                    array.shape != ()
                    or array.dtype.kind not in "iuf"
                    or not (np.isfinite(array) and array >= 0 and array == np.floor(array))
                ):
                    raise ValueError(f"{fn}: step of parameter {k} must be a count, got {value!r}")
                state[name] = int(array)
            elif array.shape != p.shape or array.dtype.kind not in "iuf":
                raise ValueError(
                    f"{fn}: {name} of parameter {k} must be an array of the parameter's shape "
                    f"{p.shape}, got {array.dtype} {array.shape}"
                )
            else:
                state[name] = array.astype(p.dtype)
        return state

    def _real(
        self, name: str, value: Any, where: str, low: float = -math.inf, high: float = math.inf
    ) -> float:
        """``value`` of option ``name``, a finite number in ``[low, high)``, as a float."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{type(self).__name__}: {name} must be a real number, got {value!r:.80}{where}"
            )
        try:
            number = float(value)
        except OverflowError:  # an int such as 10**400
            number = math.inf
        if not (math.isfinite(number) and low <= number < high):
            raise ValueError(
                f"{type(self).__name__}: {name} must be a finite number in [{low:g}, {high:g}), "
                f"got {value!r:.80}{where}"
            )
        return number

    def _flag(self, name: str, value: Any, where: str) -> bool:
        """``value`` of option ``name``, True or False."""
        if not isinstance(value, bool | np.bool_):
            raise TypeError(
                f"{type(self).__name__}: {name} must be True or False, got {value!r}{where}"
            )
        return bool(value)


def _ordered(owner: str, params: Iterable[Any], where: str) -> list[Any]:
    """``params`` as a list; a set is refused, as its order (and so the numbering of the
    parameters in ``state_dict``) may change from one run to the next."""
    if not isinstance(params, Iterable):
        raise TypeError(f"{owner}: params must be an iterable, got {type(params).__name__}{where}")
    if isinstance(params, set | frozenset):
        raise TypeError(
            f"{owner}: params must be an ordered collection, not a set (its order, and so the "
            f"state_dict's numbering, would change between runs){where}"
        )
    return list(params)
