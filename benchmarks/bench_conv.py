"""conv2d and pooling, forward + backward: mfdnn time / PyTorch CPU time, measured in one run.

    python benchmarks/bench_conv.py [--repeats 16]

Each case computes the output and the gradients of every input (x, weight, bias) for the
cotangent 1, in float32. Both frameworks wrap the same NumPy arrays without copying them
(``mfdnn.from_numpy``, ``torch.from_numpy``), the cotangent too: it is made once, like the inputs,
so that neither step times the allocation of an array that is not part of the layer. The two
are timed alternately, so load from elsewhere on a shared machine hits both alike; the median of
each is reported. Before timing, the outputs and gradients of the two are compared, so the
benchmark never times a wrong answer.

``--keep-memory`` asks glibc to keep the memory the two free instead of handing it back to the
system. Without it, whether a step page-faults on its new arrays depends on what both frameworks
allocated before (one process, one heap): PyTorch's ResNet step took 19-36 ms here, and 15.5 ms
with the memory kept; its C3 step 2.0-2.9 ms, and 2.0 ms kept.

They alternate in blocks of a few steps, the first of which is not counted, because a step right
after the other framework's is distorted. NumPy's OpenBLAS keeps its worker threads
spinning for a while after each matrix product, and on a 2-core machine they take a core from
PyTorch's next step (measured here: a ResNet layer's step took PyTorch 50-85 ms right after an
mfdnn step, against 20-37 ms alone). Within a block each framework runs as it would in a loop.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

import mfdnn
import mfdnn.functional as F


@dataclass
class Case:
    name: str
    op: str  # "conv2d", "max_pool2d" or "avg_pool2d"
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...] | None = None
    kwargs: dict = field(default_factory=dict)


CASES = [
    Case("LeNet C1", "conv2d", (128, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),
    Case("LeNet C3", "conv2d", (128, 6, 14, 14), (16, 6, 5, 5)),
    Case("ResNet 3x3", "conv2d", (64, 32, 32, 32), (32, 32, 3, 3), {"padding": 1}),
    Case("finite differences", "conv2d", (1, 1, 512, 512), (2, 1, 3, 3), {"padding": 1}),
    Case("depthwise 3x3", "conv2d", (64, 32, 32, 32), (32, 1, 3, 3), {"padding": 1, "groups": 32}),
    Case("max_pool2d 2x2", "max_pool2d", (128, 6, 28, 28), None, {"kernel_size": 2}),
    Case("avg_pool2d 2x2", "avg_pool2d", (128, 6, 28, 28), None, {"kernel_size": 2}),
]


def make_steps(case: Case, rng: np.random.Generator):
    """Return (mfdnn_step, torch_step), each computing the output and all gradients."""
    arrays = [rng.standard_normal(case.x_shape, dtype=np.float32)]
    if case.w_shape is not None:
        arrays += [
            rng.standard_normal(case.w_shape, dtype=np.float32),
            rng.standard_normal(case.w_shape[0], dtype=np.float32),
        ]
    ours = getattr(F, case.op)
    theirs = getattr(torch.nn.functional, case.op)
    ones = np.ones(ours(*[mfdnn.from_numpy(a) for a in arrays], **case.kwargs).shape, np.float32)

    def mfdnn_step() -> list[np.ndarray]:
        inputs = [mfdnn.from_numpy(a).requires_grad_() for a in arrays]
        y = ours(*inputs, **case.kwargs)
        y.backward(ones)
        return [y.data] + [t.grad for t in inputs]

    def torch_step() -> list[np.ndarray]:
        inputs = [torch.from_numpy(a).requires_grad_() for a in arrays]
        y = theirs(*inputs, **case.kwargs)
        y.backward(torch.from_numpy(ones))
        return [y.detach().numpy()] + [t.grad.numpy() for t in inputs]

    return mfdnn_step, torch_step


def relative_error(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    return max(
        float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30))
        for a, b in zip(ours, theirs, strict=True)
    )


def time_alternately(
    steps: tuple[Callable[[], object], Callable[[], object]], repeats: int, block: int = 4
) -> tuple[float, float]:
    """Median seconds per step of each, from alternating blocks of ``block`` + 1 steps."""
    times: tuple[list[float], list[float]] = ([], [])
    rounds = -(-repeats // block)
    for _ in range(rounds):
        for step, record in zip(steps, times, strict=True):
            step()  # the first step after a switch is not counted
            for _ in range(block):
                start = time.perf_counter()
                step()
                record.append(time.perf_counter() - start)
    return float(np.median(times[0])), float(np.median(times[1]))


# glibc's mallopt parameters
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Ask glibc (mallopt) to keep freed memory for reuse instead of returning it to the system:
    blocks up to 32 MB from the heap, which it never trims. False where that is not possible."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        settings = [
            (M_MMAP_THRESHOLD, 1 << 25),
            (M_TRIM_THRESHOLD, 2**31 - 1),
            (M_TOP_PAD, 1 << 26),
        ]
        return all(libc.mallopt(option, value) == 1 for option, value in settings)
    except (OSError, AttributeError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=16, help="timed steps of each")
    parser.add_argument(
        "--keep-memory", action="store_true", help="glibc keeps freed memory (no page faults)"
    )
    args = parser.parse_args()
    if args.keep_memory and not keep_freed_memory():
        sys.exit("bench_conv.py: --keep-memory needs glibc's mallopt, which this system lacks")
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    if args.keep_memory:
        print("freed memory kept by glibc (--keep-memory)")
    print(f"{'case':<20} {'shapes':<34} {'mfdnn ms':>9} {'torch ms':>9} {'ratio':>6}  rel.err")
    ratios = []
    for case in CASES:
        steps = make_steps(case, rng)
        error = relative_error(steps[0](), steps[1]())
        ours, theirs = time_alternately(steps, args.repeats)
        ratios.append(ours / theirs)
        shapes = f"{case.x_shape}" + (f" * {case.w_shape}" if case.w_shape else "")
        print(
            f"{case.name:<20} {shapes:<34} {ours * 1e3:>9.2f} {theirs * 1e3:>9.2f} "
            f"{ours / theirs:>6.2f}  {error:.1e}"
        )
    conv = ratios[: sum(c.op == "conv2d" for c in CASES)]
    print(f"geometric mean ratio, conv2d cases: {math.exp(np.mean(np.log(conv))):.2f}")
    print(f"geometric mean ratio, all cases:    {math.exp(np.mean(np.log(ratios))):.2f}")
    print(f"worst ratio: {max(ratios):.2f}")


if __name__ == "__main__":
    main()
