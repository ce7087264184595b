"""conv2d forward + backward: shenjing versus PyTorch at LeNet's shapes, in one process.

    python benchmarks/conv.py            # LeNet shapes, batch 64
    python benchmarks/conv.py --quick    # fewer repetitions

Both libraries run the same conv2d (input, weight and bias gradients) on the same data, alternating
between them; the report is the median time per step and the ratio shenjing / PyTorch (above 1 means
shenjing is slower). PyTorch runs on 2 threads (``torch.set_num_threads(2)``); NumPy's BLAS uses its
own default thread count. The machine is shared and noisy: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np

import shenjing
import shenjing.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError as error:  # pragma: no cover - the benchmark needs the oracle
    raise SystemExit("benchmarks/conv.py compares with PyTorch: pip install torch==2.13.0") from error

# (name, input shape, weight shape, padding): the two convolutions of LeNet-5 at batch 64
SHAPES = [
    ("conv1 64x1x28x28, 6@5x5, pad 2", (64, 1, 28, 28), (6, 1, 5, 5), 2),
    ("conv2 64x6x14x14, 16@5x5", (64, 6, 14, 14), (16, 6, 5, 5), 0),
]


def _step(lib: Any, conv: Callable, x_np: np.ndarray, w_np: np.ndarray, b_np: np.ndarray, padding: int,
          gy_np: np.ndarray) -> Callable[[], None]:
    x = lib.tensor(x_np, requires_grad=True)
    w = lib.tensor(w_np, requires_grad=True)
    b = lib.tensor(b_np, requires_grad=True)
    gy = lib.tensor(gy_np)

    def step() -> None:
        x.grad = w.grad = b.grad = None
        conv(x, w, b, padding=padding).backward(gy)
    return step


def _time(fn: Callable[[], None], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    rounds, calls = (5, 5) if args.quick else (11, 20)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    print(f"conv2d forward + backward, median of {rounds} alternating rounds of {calls} calls; torch threads: 2")
    print(f"{'workload':34s} {'shenjing ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for name, x_shape, w_shape, padding in SHAPES:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        out = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=padding)
        gy = rng.standard_normal(tuple(out.shape)).astype(np.float32)
        steps = {"shenjing": _step(shenjing, F.conv2d, x, w, b, padding, gy),
                 "torch": _step(torch, TF.conv2d, x, w, b, padding, gy)}
        for step in steps.values():  # warm up
            step()
        times: dict[str, list[float]] = {lib: [] for lib in steps}
        for _ in range(rounds):
            for lib, step in steps.items():
                times[lib].append(_time(step, calls))
        ours, theirs = statistics.median(times["shenjing"]), statistics.median(times["torch"])
        print(f"{name:34s} {ours * 1e3:12.3f} {theirs * 1e3:10.3f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
