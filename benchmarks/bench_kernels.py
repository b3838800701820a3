"""What each conv2d fast path earns: every kernel of ``mathdnn.kernels`` on every benchmark layer,
on one thread, on NumPy's own BLAS threads, and in chunks on mathdnn's threads, measured in one run.

    python benchmarks/bench_kernels.py [--repeats 12] [--quick]

Forward + backward (the gradients each layer needs in LeNet-5 training, all of them elsewhere),
float32, the kernels called directly through ``conv2d``'s contract, timed alternately
(``timing.py``). "1 thread": the kernel on the whole batch with BLAS on one thread (as mathdnn runs
it inside a call); "BLAS threads": the same with OpenBLAS on its own threads (the simpler means of
using two cores, timed after the others: OpenBLAS's threads keep spinning for a while after each
product, taking a core from what runs next); "mathdnn threads": in chunks on mathdnn's pool
(``kernels/chunks.py``). A fast path
stays in mathdnn only if it makes some case at least 1.25 times as fast as the formula; the last
column is the gain of the path ``mathdnn.kernels``' rule picks (in chunks on mathdnn's threads,
as it runs) over the formula on one thread, then over the formula in chunks on mathdnn's threads.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
from collections.abc import Callable

import numpy as np
from timing import time_alternately

import mathdnn
from mathdnn import kernels
from mathdnn.functional.conv import conv2d_formula
from mathdnn.kernels.chunks import conv2d_chunked
from mathdnn.kernels.conv_banded import conv2d_banded
from mathdnn.kernels.conv_rows import conv2d_rows
from mathdnn.kernels.conv_unfold import conv2d_unfold
from mathdnn.threads import single_threaded_blas
from mathdnn.windows import ConvGeometry

# name, x shape, weight shape, padding, groups, whether the input's gradient is needed
LAYERS = [
    ("LeNet C1 (training)", (100, 1, 28, 28), (6, 1, 5, 5), 2, 1, False),
    ("LeNet C3 (training)", (100, 6, 14, 14), (16, 6, 5, 5), 0, 1, True),
    ("LeNet C1, all grads", (128, 1, 28, 28), (6, 1, 5, 5), 2, 1, True),
    ("LeNet C3, b128", (128, 6, 14, 14), (16, 6, 5, 5), 0, 1, True),
    ("ResNet 3x3", (64, 32, 32, 32), (32, 32, 3, 3), 1, 1, True),
    ("finite differences", (1, 1, 512, 512), (2, 1, 3, 3), 1, 1, True),
    ("depthwise 3x3", (64, 32, 32, 32), (32, 1, 3, 3), 1, 32, True),
]
KERNELS = {
    "formula": conv2d_formula,
    "rows": conv2d_rows,
    "banded": conv2d_banded,
    "unfold": conv2d_unfold,
}


def step(
    kernel: Callable, x, w, b, geo, g, need_x: bool, blas_threads: bool = False
) -> Callable[[], object]:
    def run() -> object:
        with contextlib.nullcontext() if blas_threads else single_threaded_blas():
            _, vjp = kernel(x, w, b, geo, (need_x, True))
            return vjp(g)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12, help="timed steps of each")
    parser.add_argument("--quick", action="store_true", help="2 repeats: a smoke test")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    print(
        f"mathdnn {mathdnn.__version__}, {mathdnn.get_num_threads()} threads; "
        "ms per forward + backward"
    )
    ways = ("1 thread", "BLAS threads", "mathdnn threads")
    print(f"{'layer':<22} {'kernel':<8}" + "".join(f"{w:>14}" for w in ways) + "   rule's pick")
    for name, x_shape, w_shape, p, groups, need_x in LAYERS:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        b = rng.standard_normal(w_shape[0], dtype=np.float32)
        out = (x_shape[2] + 2 * p - w_shape[2] + 1, x_shape[3] + 2 * p - w_shape[3] + 1)
        geo = ConvGeometry(w_shape[2:], (1, 1), (p,) * 4, (1, 1), groups, out)
        g = rng.standard_normal((x_shape[0], w_shape[0], *out), dtype=np.float32)
        ours, blas = {}, {}
        for kname, kernel in KERNELS.items():
            if kname in ("rows", "unfold") and groups != 1:
                continue
            args = (x, w, b, geo, g, need_x)
            ours[(kname, ways[0])] = step(kernel, *args)
            ours[(kname, ways[2])] = step(conv2d_chunked(kernel), *args)
            blas[(kname, ways[1])] = step(kernel, *args, blas_threads=True)
        # Apart: OpenBLAS's threads spin for a while after each product, and would take a core
        # from whatever runs next.
        t = time_alternately(ours, repeats) | time_alternately(blas, repeats)
        pick = inspect.unwrap(kernels.conv2d_kernel(conv2d_formula, x, w, geo))
        one, chunked = t[("formula", ways[0])], t[("formula", ways[2])]
        for kname, kernel in KERNELS.items():
            if (kname, ways[0]) not in t:
                continue
            cells = "".join(f"{t[(kname, way)] * 1e3:>14.2f}" for way in ways)
            mine = t[(kname, ways[2])]
            note = f"   picked: {one / mine:.2f}x, {chunked / mine:.2f}x" if kernel is pick else ""
            print(f"{name:<22} {kname:<8}{cells}{note}", flush=True)


if __name__ == "__main__":
    main()
