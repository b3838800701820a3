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
import math
import numbers
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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
        h.update(array.reshape(-1).view(np.uint8))  # the bytes, without copying them
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
#: The largest header read (its JSON: the arrays' table and the metadata), the deepest nesting
#: of lists and objects in it or in a metadata value, and the most dimensions of an array. A
#: checkpoint of mathdnn.training holds a few hundred KB at most, nested four deep.
MAX_HEADER_BYTES = 16 * 2**20
MAX_DEPTH = 32
MAX_DIMS = 8
#: The arrays a checkpoint holds: a model's weights and its optimizer's state, float32 or float64.
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
#: safetensors' other dtypes, by the names it writes, to name them when refused.
OTHER_DTYPES = {
    "BF16": "bfloat16",
    "F16": "float16",
    "F8_E4M3": "float8 e4m3",
    "F8_E5M2": "float8 e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")  # a parameter's number, as save_checkpoint writes it


@dataclass(frozen=True)
class _Entry:
    """One array of the header: its dtype, shape, and place in the data that follows it."""

    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read the checkpoint ``path`` written by ``save_checkpoint``: rebuild its model from the
    class and ``config()`` it names, load the weights, rebuild its optimizer over that model's
    parameters and load its state.

    The file is hostile until checked, and anyone can recompute its digest: so it must be a
    regular file (a FIFO, a device, a directory are refused, never opened for reading), its
    header at most ``MAX_HEADER_BYTES`` and within the file, its JSON nested at most
    ``MAX_DEPTH`` deep, and every array it declares must be one the model (rebuilt from the
    metadata first) and its optimizer have, with their dtype and shape, inside the file, before
    any array is read; each is then read once, straight into its own array.

    Raises ``FileNotFoundError`` if there is no such file, an ``OSError`` naming the file if it
    cannot be opened (no permission, a loop of links), and ``CheckpointError`` (a ``ValueError``)
    naming the file for anything else: not a regular file, not a safetensors file or cut short,
    not an mathdnn checkpoint or of another format version, contents that do not match their
    digest, a model class mathdnn does not have, missing, extra or misshapen weights or
    optimizer state, or arrays of another dtype (``BF16``, …).
    """
    path = as_path("load_checkpoint", "path", path)

    def fail(message: str) -> CheckpointError:
        return CheckpointError(f"load_checkpoint: {path}: {message}")

    with _open_regular_file(path, fail) as f:
        size = os.fstat(f.fileno()).st_size
        table, metadata, data_start = _read_header(fail, f, size)
        info = _parse_metadata(fail, metadata)
        model = _build_model(fail, info["model"])
        _check_table(fail, table, model, info["optimizer"], size - data_start)
        tensors = {name: _read_array(fail, f, data_start, e) for name, e in table.items()}
    if metadata.get("sha256") != digest(tensors, metadata):
        raise fail("corrupt: its contents do not match the sha256 digest saved with them")
    _load_weights(fail, model, info["model"], tensors)
    optimizer = _rebuild_optimizer(fail, info["optimizer"], model, tensors)
    epoch, loader_state, extra = info["epoch"], info["loader"], info["extra"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise fail(f"epoch must be a non-negative int, got {epoch!r:.80}")
    if loader_state is not None and not isinstance(loader_state, dict):
        raise fail(f"the data loader's state must be a dict or null, got {loader_state!r:.80}")
    if not isinstance(extra, dict):
        raise fail(f"extra must be a dict, got {extra!r:.80}")
    return Checkpoint(path, model, optimizer, epoch, loader_state, extra)


def load_model(path: str | os.PathLike[str]) -> Module:
    """The model saved in the checkpoint ``path`` (``save_checkpoint``), rebuilt from its class and
    ``config()`` with its weights; errors as ``load_checkpoint``."""
    return load_checkpoint(path).model


def _open_regular_file(path: Path, fail: Any) -> Any:
    """``path`` opened for reading, unbuffered, if it is a regular file. Opened without
    blocking (a FIFO without a writer would wait forever) and then checked on the open file
    itself, so a link to ``/dev/urandom`` is refused as the device it is."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        link = " (a symbolic link to nothing)" if path.is_symlink() else ""
        raise FileNotFoundError(f"load_checkpoint: there is no checkpoint {path}{link}") from None
    except OSError as err:
        raise type(err)(f"load_checkpoint: cannot read {path}: {err.strerror or err}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise fail(f"it is {kind}, not a checkpoint file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=0)


def _read_exactly(fail: Any, f: Any, offset: int, buffer: memoryview) -> None:
    """Fill ``buffer`` from ``f`` at ``offset``; a file that ends first is cut short."""
    f.seek(offset)
    done = 0
    while done < len(buffer):
        n = f.readinto(buffer[done:])
        if not n:
            raise fail(
                f"not a safetensors file, or cut short: it ends at byte {offset + done:,}, "
                f"{len(buffer):,} bytes expected"
            )
        done += n


def _read_header(fail: Any, f: Any, size: int) -> tuple[dict[str, _Entry], dict[str, str], int]:
    """The array table and the metadata of the safetensors header, checked for form; and where
    the data starts. A safetensors file is ``N`` (8 bytes, little-endian), a JSON header of
    ``N`` bytes, ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
    {str: str}}``, then the data, the offsets counted from its start."""
    not_safetensors = "not a safetensors file, or cut short"
    if size < 8:
        raise fail(f"{not_safetensors} ({size} bytes)")
    prefix = bytearray(8)
    _read_exactly(fail, f, 0, memoryview(prefix))
    n = int.from_bytes(prefix, "little")
    if n > min(size - 8, MAX_HEADER_BYTES):
        raise fail(
            f"{not_safetensors}: its header would be {n:,} bytes, more than "
            + (f"the {size - 8:,} after its size" if n > size - 8 else f"{MAX_HEADER_BYTES:,}")
        )
    raw = bytearray(n)
    _read_exactly(fail, f, 8, memoryview(raw))
    header = _json_loads(fail, raw, f"{not_safetensors}: its header")
    if not isinstance(header, dict):
        raise fail(f"{not_safetensors}: its header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise fail(f"{not_safetensors}: its __metadata__ must map names to strings")
    table = {name: _entry(fail, name, value) for name, value in header.items()}
    return table, metadata, 8 + n


def _entry(fail: Any, name: str, value: Any) -> _Entry:
    """One array's entry of the header, checked for form (its fit to the model comes later)."""
    if not (isinstance(value, dict) and set(value) == {"dtype", "shape", "data_offsets"}):
        raise fail(f"array {name!r:.80}: its entry must hold dtype, shape and data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPES:
        known = f" ({OTHER_DTYPES[dtype]})" if dtype in OTHER_DTYPES else ""
        raise fail(
            f"array {name!r:.80} has dtype {dtype!r:.20}{known}; a checkpoint's arrays are "
            f"{' or '.join(DTYPES)} (float32 or float64), which this mathdnn reads"
        )
    counts = [*shape, *offsets] if isinstance(shape, list) and isinstance(offsets, list) else None
    if (
        counts is None
        or len(offsets) != 2
        or len(shape) > MAX_DIMS
        or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 2**63 for k in counts
        )
    ):
        raise fail(
            f"array {name!r:.80}: shape (at most {MAX_DIMS} sizes) and data_offsets must be lists "
            f"of ints in [0, 2**63), got {shape!r:.40} and {offsets!r:.40}"
        )
    begin, end = offsets
    if end - begin != math.prod(shape) * DTYPES[dtype].itemsize:
        raise fail(
            f"array {name!r:.80}: {dtype} {tuple(shape)!r:.60} takes "
            f"{math.prod(shape) * DTYPES[dtype].itemsize:,} bytes, its data_offsets "
            f"[{begin}, {end}] {end - begin:,}"
        )
    return _Entry(DTYPES[dtype], tuple(shape), begin, end)


def _json_loads(fail: Any, text: bytes | bytearray | str, what: str) -> Any:
    """Strict JSON (no NaN or Infinity), nested at most ``MAX_DEPTH`` deep. (Python's parser
    recurses, and stops with ``RecursionError`` about a thousand levels down.)"""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise fail(f"{what} is nested deeper than {MAX_DEPTH}") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, too many digits, ...
        raise fail(f"{what} is not JSON ({err})") from None
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise fail(f"{what} is nested deeper than {MAX_DEPTH}")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number of strict JSON")


def _parse_metadata(fail: Any, metadata: dict[str, str]) -> dict[str, Any]:
    """The checkpoint's metadata: its format and version checked, its values parsed."""
    if metadata.get("format") != FORMAT:
        raise fail(
            f"not an mathdnn checkpoint (its metadata's format is {metadata.get('format')!r:.80}, "
            f"not {FORMAT!r})"
        )
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise fail(
            f"checkpoint format version {metadata.get('format_version')!r:.80}; this mathdnn "
            f"reads version {FORMAT_VERSION}"
        )
    missing = sorted(_METADATA_KEYS - set(metadata))
    if missing:
        raise fail(f"its metadata lacks {', '.join(missing)}")
    return {
        key: _json_loads(fail, metadata[key], f"its metadata's {key}")
        for key in sorted(_METADATA_KEYS - {"format"})
    }


def _one_line(err: Exception) -> str:
    """An error message of the model or optimizer, which may list problems on several lines."""
    return str(err).replace(":\n\t", ": ").replace("\n\t", "; ")


def _build_model(fail: Any, info: Any) -> Module:
    """The model the metadata names, as its class builds it (its weights come later)."""
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise fail(f"model must be {{'class': ..., 'config': {{...}}}}, got {info!r:.80}")
    name = info.get("class")
    if name not in MODELS:
        raise fail(
            f"it holds a model of class {name!r:.80}, which mathdnn.models does not have (it has "
            f"{', '.join(MODELS)})"
        )
    try:
        return MODELS[name](**info["config"])
    except (TypeError, ValueError, OverflowError) as err:
        raise fail(
            f"its model config {info['config']!r:.200} does not build a {name}: {err}"
        ) from None


def _check_table(
    fail: Any, table: dict[str, _Entry], model: Module, optimizer: Any, data_size: int
) -> None:
    """Every array the header declares is one of the model's weights or of its optimizer's state,
    of that parameter's dtype and shape, and lies inside the file's data, apart from the others:
    checked before any is read, so a forged header costs no more memory than the model."""
    weights = model.state_dict()
    params = list(model.parameters())
    name = type(model).__name__
    for key, e in table.items():
        if key.startswith(_MODEL):
            weight = key.removeprefix(_MODEL)
            if weight not in weights:
                raise fail(
                    f"its weights do not fit {name}: unexpected key(s) in state_dict: "
                    f"{weight!r:.80}"
                )
            like, what = weights[weight], f"weight {weight!r}"
            mismatch = f"its weights do not fit {name}: size mismatch for {weight!r}"
        elif key.startswith(_OPTIMIZER):
            k, _, entry = key.removeprefix(_OPTIMIZER).partition(".")
            if optimizer is None:
                raise fail("it has optimizer arrays but no optimizer")
            if not (_INDEX.fullmatch(k) and int(k) < len(params) and entry.isidentifier()):
                raise fail(
                    f"unexpected array {key!r:.80}: the {name}'s parameters are numbered 0 to "
                    f"{len(params) - 1}"
                )
            like, what = params[int(k)].data, f"{entry} of parameter {k}"
            mismatch = f"its optimizer state does not fit the model: {what}"
        else:
            raise fail(f"unexpected array(s) {key:.80}")
        if e.shape != like.shape:
            raise fail(f"{mismatch}: the checkpoint has {e.shape!r:.60}, the model {like.shape}")
        if e.dtype != like.dtype:
            raise fail(f"{what} is {e.dtype.name}, the {name} of its config has {like.dtype}")
    previous_end, previous = 0, None
    for key, e in sorted(table.items(), key=lambda item: (item[1].begin, item[1].end)):
        if e.end > data_size:
            raise fail(
                f"not a safetensors file, or cut short: array {key!r} lies at bytes "
                f"[{e.begin:,}, {e.end:,}) of the data, which has {data_size:,}"
            )
        if e.begin < previous_end:
            raise fail(f"arrays {previous!r} and {key!r} overlap")
        previous_end, previous = e.end, key


def _read_array(fail: Any, f: Any, data_start: int, e: _Entry) -> np.ndarray:
    """The array of entry ``e``, read into its own memory (no other copy)."""
    array = np.empty(e.shape, e.dtype)
    if array.nbytes:
        _read_exactly(fail, f, data_start + e.begin, memoryview(array).cast("B"))
    return array.astype(e.dtype.newbyteorder("="), copy=False)


def _load_weights(fail: Any, model: Module, info: dict, tensors: dict[str, np.ndarray]) -> None:
    weights = {k.removeprefix(_MODEL): v for k, v in tensors.items() if k.startswith(_MODEL)}
    try:
        model.load_state_dict(weights)
    except ValueError as err:
        name = type(model).__name__
        raise fail(f"its weights do not fit {name}({info['config']}): {_one_line(err)}") from None


def _rebuild_optimizer(
    fail: Any, info: Any, model: Module, tensors: dict[str, np.ndarray]
) -> Optimizer | None:
    if info is None:
        return None  # _check_table refused optimizer arrays without an optimizer
    if (
        not isinstance(info, dict)
        or not isinstance(info.get("param_groups"), list)
        or not isinstance(info.get("state"), dict)
    ):
        raise fail(f"optimizer must be {{'class', 'param_groups', 'state'}}, got {info!r:.80}")
    name = info.get("class")
    if name not in OPTIMIZERS:
        raise fail(f"its optimizer {name!r:.80} is not one of {', '.join(OPTIMIZERS)}")
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
            state.setdefault(int(k), {})[entry] = array  # _check_table checked k and entry
    for k, scalars in info["state"].items():
        if not (_INDEX.fullmatch(k) and int(k) < len(params) and isinstance(scalars, dict)):
            raise fail(
                f"unexpected optimizer state {k!r:.40}: {scalars!r:.80} (the model's parameters "
                f"are numbered 0 to {len(params) - 1})"
            )
        state.setdefault(int(k), {}).update(scalars)
    try:
        optimizer = OPTIMIZERS[name](rebuilt)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (TypeError, ValueError, OverflowError) as err:
        raise fail(f"its optimizer state does not fit the model: {_one_line(err)}") from None
    return optimizer
