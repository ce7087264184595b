"""optimizer.step() alone, and whole training steps, for shenjing and PyTorch (the optimiser workloads
of issue 15), in alternating fresh processes.

    python benchmarks/optim_step.py --src . [--src OTHER_TREE]... [--rounds 5] [--only WORKLOAD:MODE]...
    python benchmarks/optim_step.py --child sj|torch WORKLOAD MODE     (one measurement, one JSON line)

WORKLOAD is one of benchmarks/workloads.py's (the models written once, as users write them).

MODE is 'step' (optimizer.step() alone, after five training steps) or 'train' (zero_grad, forward,
loss, backward, step). Each --src TREE adds a column: shenjing from TREE/src. A row gives each column's
median time and its ratio to PyTorch (above 1: faster than PyTorch), with the range of the per-round
ratios. Environment: BENCH_SECONDS (time per child, default 1.5), BENCH_MIN=1 (each child reports its
fastest repetition instead of its median), BENCH_TORCH_THREADS (default 2). Run it with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as the other benchmarks.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS as MODELS  # noqa: E402  (the models as users write them, one definition)

WORKLOADS = ["mlp-wide-adam-b64", "mnist-example-b64", "lstm-b64", "bn-cnn-b64", "lenet-seq-b1", "mlp-b64"]


def child(libname, workload, mode):
    if libname == "torch":
        import torch as lib
        lib.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    else:
        import shenjing as lib
    spec = MODELS[workload]
    lib.manual_seed(0)
    model = spec.build(lib)
    opt = spec.optimizer(lib, model.parameters())
    rng = np.random.default_rng(0)
    data = [(lib.tensor(rng.standard_normal((spec.batch,) + spec.input_shape).astype(np.float32)),
             lib.tensor(rng.integers(0, 10, spec.batch).astype(np.int64))) for _ in range(4)]

    def loss_fn(output, target):
        return spec.loss(lib, output, target)

    def train(i):
        x, y = data[i % 4]
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for i in range(5):
        train(i)
    if mode == "step":
        fn = opt.step
        inner = 50
    else:
        counter = [0]

        def fn():
            counter[0] += 1
            train(counter[0])
        inner = 10 if workload == "mnist-example-b64" else 20
    times = []
    deadline = time.perf_counter() + float(os.environ.get("BENCH_SECONDS", "1.5"))
    while time.perf_counter() < deadline or len(times) < 7:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    print(json.dumps({"us": statistics.median(times) * 1e6, "min_us": min(times) * 1e6}))


def measure(lib, src, workload, mode):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if src:
        env["PYTHONPATH"] = os.path.join(src, "src")
    out = subprocess.run([sys.executable, __file__, "--child", lib, workload, mode], env=env,
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["min_us"] if os.environ.get("BENCH_MIN") else result["us"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--src", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", action="append")
    a = ap.parse_args()
    if a.child:
        return child(*a.child)
    jobs = a.only or [f"{w}:step" for w in WORKLOADS]
    print(f"load {os.getloadavg()[0]:.2f}")
    for job in jobs:
        workload, mode = job.split(":")
        columns = [("torch", None)] + [("sj", s) for s in a.src]
        results = {i: [] for i in range(len(columns))}
        for r in range(a.rounds):
            order = list(range(len(columns)))
            if r % 2:
                order.reverse()
            for i in order:
                results[i].append(measure(columns[i][0], columns[i][1], workload, mode))
        med = [statistics.median(results[i]) for i in range(len(columns))]
        cells = [f"torch {med[0]:8.1f}us"] + [
            f"{os.path.basename(s.rstrip('/'))} {m:8.1f}us ({med[0] / m:.2f}x, runs {min(t / x for t, x in zip(results[0], results[i + 1])):.2f}-{max(t / x for t, x in zip(results[0], results[i + 1])):.2f})"
            for i, (s, m) in enumerate(zip(a.src, med[1:]))]
        print(f"{job:22s} " + " | ".join(cells), flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
