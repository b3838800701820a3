"""Checkpoints: a training run in one safetensors file, enough to rebuild the model from the file
alone and to go on training exactly where the run stopped.

A safetensors file is a JSON header, which names each array with its dtype, shape and place, and
then the arrays' raw bytes; the header may carry ``metadata``, a dict of strings. It holds no
code, so reading one never runs pickle. A checkpoint lays out a run as

arrays (name → array)::

    model.<name>                 the model's state_dict(), PyTorch's names (c1.weight, …)
    optimizer.state.<k>.<name>   the optimizer's arrays for its parameter k (momentum_buffer,
                                 exp_avg, …: the names of PyTorch's optimizer state_dict)

metadata (name → string; JSON, but for format)::

    format           "mathdnn.checkpoint"
    format_version   "1"
    model            {"class": "LeNet5", "config": {…}}; LeNet5(**config) rebuilds it
    optimizer        {"class": "SGD", "param_groups": […], "state": {"k": {"step": 3}}} (the
                     options and the scalars of the optimizer's state_dict), or null
    epoch            the epochs done
    loader           DataLoader.state_dict() (the shuffling generator's state), or null
    extra            the caller's own dict (mathdnn.training: settings, data, history)
    sha256           of all the above and every array

so a flipped byte anywhere is an error, not a silently different model.

``save_checkpoint`` writes atomically (``mathdnn.io.atomic_write``): killed at any moment, it
leaves the previous checkpoint whole. ``load_checkpoint`` checks everything it reads and raises
one ``CheckpointError`` naming the file and what is wrong; ``load_model(path)`` is its model.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from mathdnn.io import as_path, atomic_write
from mathdnn.models import MODELS
from mathdnn.nn import Module
from mathdnn.optim import SGD, Adam, Optimizer

FORMAT = "mathdnn.checkpoint"
FORMAT_VERSION = 1

#: The optimizers a checkpoint can hold, by class name.
OPTIMIZERS: dict[str, type[Optimizer]] = {cls.__name__: cls for cls in (SGD, Adam)}

_MODEL, _OPTIMIZER = "model.", "optimizer.state."
_METADATA_KEYS = {"format", "format_version", "model", "optimizer", "epoch", "loader", "extra"}


class CheckpointError(ValueError):
    """A file that is not a checkpoint this mathdnn can read, or one that does not fit: the message
    names the file and what is wrong with it."""


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read: the model rebuilt with its saved weights, the optimizer
    rebuilt over that model's parameters (None if none was saved), the epochs done, the data
    loader's state (for ``DataLoader.load_state_dict``; None if none was saved) and ``extra``."""

    path: Path
    model: Module
    optimizer: Optimizer | None
    epoch: int
    loader_state: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)


def digest(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> str:
    """The sha256 a checkpoint carries: of its metadata (all but ``sha256``) as sorted JSON, then
    of each array in name order (its name, dtype, shape and bytes)."""
    h = hashlib.sha256()
    h.update(
        json.dumps({k: v for k, v in metadata.items() if k != "sha256"}, sort_keys=True).encode()
    )
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        h.update(json.dumps([name, array.dtype.str, list(array.shape)]).encode())
        h.update(array.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------- saving
def _json(fn: str, name: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{fn}: {name} must be JSON-able (no NaN or inf), got {err}") from None


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Module,
    optimizer: Optimizer | None = None,
    epoch: int = 0,
    loader_state: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` (a class of ``mathdnn.models.MODELS``, with ``config()``), ``optimizer``
    (an ``SGD`` or ``Adam`` over ``model.parameters()``, in that order), ``epoch`` (the epochs
    done), ``loader_state`` (``DataLoader.state_dict()``) and ``extra`` (any JSON-able dict) to
    the safetensors file ``path``, atomically. Returns ``path``."""
    fn = "save_checkpoint"
    path = as_path(fn, "path", path)
    name = type(model).__name__
    if MODELS.get(name) is not type(model):
        raise TypeError(
            f"{fn}: model must be one of mathdnn.models ({', '.join(MODELS)}), so that "
            f"load_checkpoint can rebuild it; got {name}"
        )
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f"{fn}: epoch must be a non-negative int, got {epoch!r}")
    tensors = {_MODEL + key: array for key, array in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model": _json(fn, "model.config()", {"class": name, "config": model.config()}),
        "optimizer": "null",
        "epoch": str(int(epoch)),
        "loader": _json(fn, "loader_state", None if loader_state is None else dict(loader_state)),
        "extra": _json(fn, "extra", {} if extra is None else dict(extra)),
    }
    if optimizer is not None:
        if OPTIMIZERS.get(type(optimizer).__name__) is not type(optimizer):
            raise TypeError(
                f"{fn}: optimizer must be one of {', '.join(OPTIMIZERS)} or None, got "
                f"{type(optimizer).__name__}"
            )
        optimized = [p for group in optimizer.param_groups for p in group["params"]]
        if [id(p) for p in optimized] != [id(p) for p in model.parameters()]:
            raise ValueError(
                f"{fn}: optimizer must optimize model.parameters(), in that order (so that "
                f"load_checkpoint can give them back to it)"
            )
        state_dict = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for k, state in state_dict["state"].items():
            for key, value in state.items():
                if isinstance(value, np.ndarray):
                    tensors[f"{_OPTIMIZER}{k}.{key}"] = value
                else:
                    scalars.setdefault(str(k), {})[key] = value
        metadata["optimizer"] = _json(
            fn,
            "the optimizer's options",
            {
                "class": type(optimizer).__name__,
                "param_groups": state_dict["param_groups"],
                "state": scalars,
            },
        )
    metadata["sha256"] = digest(tensors, metadata)
    content = safetensors.numpy.save(tensors, metadata=metadata)
    return atomic_write(path, lambda f: f.write(content))


# ------------------------------------------------------------------------------------ loading
def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read the checkpoint ``path`` written by ``save_checkpoint``: rebuild its model from the
    class and ``config()`` it names, load the weights, rebuild its optimizer over that model's
    parameters and load its state.

    Raises ``FileNotFoundError`` if there is no such file, and ``CheckpointError`` (a
    ``ValueError``) naming the file for anything else: not a safetensors file or cut short, not
    an mathdnn checkpoint or of another format version, contents that do not match their digest,
    a model class mathdnn does not have, missing, extra or misshapen weights or optimizer state.
    """
    path = as_path("load_checkpoint", "path", path)
    if not path.exists():
        raise FileNotFoundError(f"load_checkpoint: there is no checkpoint {path}")
    if path.is_dir():
        raise CheckpointError(f"load_checkpoint: {path} is a directory, not a checkpoint file")

    def fail(message: str) -> CheckpointError:
        return CheckpointError(f"load_checkpoint: {path}: {message}")

    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {key: np.array(f.get_tensor(key)) for key in f.keys()}
    except safetensors.SafetensorError as err:
        raise fail(f"not a safetensors file, or cut short ({err})") from None
    if metadata.get("format") != FORMAT:
        raise fail(
            f"not an mathdnn checkpoint (its metadata's format is {metadata.get('format')!r}, "
            f"not {FORMAT!r})"
        )
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise fail(
            f"checkpoint format version {metadata.get('format_version')!r}; this mathdnn reads "
            f"version {FORMAT_VERSION}"
        )
    if metadata.get("sha256") != digest(tensors, metadata):
        raise fail("corrupt: its contents do not match the sha256 digest saved with them")
    missing = sorted(_METADATA_KEYS - set(metadata))
    if missing:
        raise fail(f"its metadata lacks {', '.join(missing)}")
    try:
        info = {key: json.loads(metadata[key]) for key in _METADATA_KEYS - {"format"}}
    except json.JSONDecodeError as err:
        raise fail(f"its metadata is not JSON ({err})") from None

    model = _rebuild_model(fail, info["model"], tensors)
    optimizer = _rebuild_optimizer(fail, info["optimizer"], model, tensors)
    epoch, loader_state, extra = info["epoch"], info["loader"], info["extra"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise fail(f"epoch must be a non-negative int, got {epoch!r}")
    if loader_state is not None and not isinstance(loader_state, dict):
        raise fail(f"the data loader's state must be a dict or null, got {loader_state!r:.80}")
    if not isinstance(extra, dict):
        raise fail(f"extra must be a dict, got {extra!r:.80}")
    stray = [key for key in tensors if not key.startswith((_MODEL, _OPTIMIZER))]
    if stray:
        raise fail(f"unexpected array(s) {', '.join(stray)}")
    return Checkpoint(path, model, optimizer, epoch, loader_state, extra)


def load_model(path: str | os.PathLike[str]) -> Module:
    """The model saved in the checkpoint ``path`` (``save_checkpoint``), rebuilt from its class and
    ``config()`` with its weights; errors as ``load_checkpoint``."""
    return load_checkpoint(path).model


def _one_line(err: Exception) -> str:
    """An error message of the model or optimizer, which may list problems on several lines."""
    return str(err).replace(":\n\t", ": ").replace("\n\t", "; ")


def _rebuild_model(fail: Any, info: Any, tensors: dict[str, np.ndarray]) -> Module:
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise fail(f"model must be {{'class': ..., 'config': {{...}}}}, got {info!r:.80}")
    name = info.get("class")
    if name not in MODELS:
        raise fail(
            f"it holds a model of class {name!r}, which mathdnn.models does not have (it has "
            f"{', '.join(MODELS)})"
        )
    try:
        model = MODELS[name](**info["config"])
    except (TypeError, ValueError) as err:
        raise fail(f"its model config {info['config']} does not build a {name}: {err}") from None
    weights = {k.removeprefix(_MODEL): v for k, v in tensors.items() if k.startswith(_MODEL)}
    for key, p in model.named_parameters():
        if key in weights and weights[key].dtype != p.dtype:
            raise fail(
                f"weight {key!r} is {weights[key].dtype}, the {name} of its config has {p.dtype}"
            )
    try:
        model.load_state_dict(weights)
    except ValueError as err:
        raise fail(f"its weights do not fit {name}({info['config']}): {_one_line(err)}") from None
    return model


def _rebuild_optimizer(
    fail: Any, info: Any, model: Module, tensors: dict[str, np.ndarray]
) -> Optimizer | None:
    if info is None:
        if any(k.startswith(_OPTIMIZER) for k in tensors):
            raise fail("it has optimizer arrays but no optimizer")
        return None
    if (
        not isinstance(info, dict)
        or not isinstance(info.get("param_groups"), list)
        or not isinstance(info.get("state"), dict)
    ):
        raise fail(f"optimizer must be {{'class', 'param_groups', 'state'}}, got {info!r:.80}")
    name = info.get("class")
    if name not in OPTIMIZERS:
        raise fail(f"its optimizer {name!r} is not one of {', '.join(OPTIMIZERS)}")
    params = list(model.parameters())
    groups = info["param_groups"]
    # save_checkpoint stored an optimizer over model.parameters() in order: 0, 1, …, n − 1.
    if not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups):
        raise fail(
            f"its optimizer's param groups must be dicts with a 'params' list: {groups!r:.80}"
        )
    indices = [k for g in groups for k in g["params"]]
    if indices != list(range(len(params))):
        raise fail(
            f"its optimizer's param groups list the parameters {indices!r:.80}, not the "
            f"{len(params)} parameters of the model in order"
        )
    rebuilt, start = [], 0
    for g in groups:
        rebuilt.append({"params": params[start : start + len(g["params"])]})
        start += len(g["params"])
    state: dict[int, dict[str, Any]] = {}
    for key, array in tensors.items():
        if key.startswith(_OPTIMIZER):
            k, _, entry = key.removeprefix(_OPTIMIZER).partition(".")
            if not (k.isdigit() and entry):
                raise fail(f"unexpected array {key!r}")
            state.setdefault(int(k), {})[entry] = array
    for k, scalars in info["state"].items():
        if not (k.isdigit() and isinstance(scalars, dict)):
            raise fail(f"unexpected optimizer state {k!r}: {scalars!r:.80}")
        state.setdefault(int(k), {}).update(scalars)
    try:
        optimizer = OPTIMIZERS[name](rebuilt)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (TypeError, ValueError) as err:
        raise fail(f"its optimizer state does not fit the model: {_one_line(err)}") from None
    return optimizer
