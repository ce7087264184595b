"""Per-op overhead and large-tensor throughput: shenjing versus PyTorch, in one process.

    python benchmarks/ops.py            # the full table
    python benchmarks/ops.py --quick    # fewer repetitions

Each workload runs forward + backward on the same data in both libraries, alternating between them,
and reports the median time per call and the ratio shenjing / PyTorch (below 1 means shenjing is
faster). The machine is shared and noisy: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np

import shenjing

try:
    import torch
except ImportError as error:  # pragma: no cover - the benchmark needs the oracle
    raise SystemExit("benchmarks/ops.py compares with PyTorch: pip install torch==2.13.0") from error


def _time(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _workloads(small: int, large: int) -> dict[str, Callable[[Any], Callable[[], Any]]]:
    rng = np.random.default_rng(0)
    a_small = rng.standard_normal((small, small)).astype(np.float32)
    b_small = rng.standard_normal((small, small)).astype(np.float32)
    a_large = rng.standard_normal((large, large)).astype(np.float32)
    b_large = rng.standard_normal((large, large)).astype(np.float32)

    def binary(op: str, a_np: np.ndarray, b_np: np.ndarray) -> Callable[[Any], Callable[[], Any]]:
        def build(lib: Any) -> Callable[[], Any]:
            a = lib.tensor(a_np, requires_grad=True)
            b = lib.tensor(b_np, requires_grad=True)

            def step() -> None:
                a.grad = b.grad = None
                if op == "add":
                    out = a + b
                elif op == "mul":
                    out = a * b
                else:
                    out = a @ b
                out.sum().backward()
            return step
        return build

    def mlp_layer(lib: Any) -> Callable[[], Any]:
        x = lib.tensor(rng.standard_normal((64, 784)).astype(np.float32))
        w = lib.tensor(rng.standard_normal((784, 128)).astype(np.float32) * 0.05, requires_grad=True)
        bias = lib.tensor(np.zeros(128, np.float32), requires_grad=True)

        def step() -> None:
            w.grad = bias.grad = None
            (x @ w + bias).relu().softmax(1).log().mean().backward()
        return step

    return {
        f"add {small}x{small} fwd+bwd": binary("add", a_small, b_small),
        f"mul {small}x{small} fwd+bwd": binary("mul", a_small, b_small),
        f"matmul {small}x{small} fwd+bwd": binary("matmul", a_small, b_small),
        f"add {large}x{large} fwd+bwd": binary("add", a_large, b_large),
        f"mul {large}x{large} fwd+bwd": binary("mul", a_large, b_large),
        f"matmul {large}x{large} fwd+bwd": binary("matmul", a_large, b_large),
        "linear+relu+softmax 64x784x128 fwd+bwd": mlp_layer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds = 3 if args.quick else 7
    print(f"shenjing {shenjing.__version__} vs torch {torch.__version__} ({args.threads} threads), "
          f"median of {rounds} alternating rounds")
    print(f"{'workload':42s} {'shenjing':>12s} {'torch':>12s} {'ratio':>7s}")
    for name, build in _workloads(small=8, large=1024).items():
        steps = {"shenjing": build(shenjing), "torch": build(torch)}
        calls = 5 if "1024" in name else 2000
        if "784" in name:
            calls = 200
        for step in steps.values():
            _time(step, max(1, calls // 10))  # warm up
        samples: dict[str, list[float]] = {"shenjing": [], "torch": []}
        for _ in range(rounds):
            for lib, step in steps.items():
                samples[lib].append(_time(step, calls))
        ours, theirs = statistics.median(samples["shenjing"]), statistics.median(samples["torch"])
        print(f"{name:42s} {ours * 1e6:10.1f}us {theirs * 1e6:10.1f}us {ours / theirs:6.2f}x")


if __name__ == "__main__":
    main()
