"""Data-parallel training speed: samples/s of LeNet-5 and the MLP on 1 and 2 processes, and the share of a
step that the gradient allreduce takes.

    python benchmarks/distributed.py                 # every configuration, each in fresh processes

runs, for each model, (a) one process with NumPy's default threads, (b) one process on 1 thread, (c) two
processes on 1 thread each under ``python -m shenjing.distributed.run --nproc-per-node 2``. The global
batch is 64 in every case (two processes: 32 samples each per step), so all three do the same training;
samples/s = 64 x steps / seconds. For (c) it also reports the time spent in DistributedDataParallel's
reduction (starting the bucket allreduces, waiting for them, writing the averages) per step, and the time
of one allreduce of all the gradients alone. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the
environment of every run. The models and the optimiser are the ones users write (benchmarks/workloads.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from workloads import WORKLOADS, cross_entropy, make_batches, sgd_momentum  # noqa: E402

MODELS = {"lenet": "lenet-seq-b64", "mlp": "mlp-b64"}
GLOBAL_BATCH = 64


def measure(model_name: str, steps: int, warmup: int, repeats: int) -> dict | None:
    """One configuration, in this process (one rank of it when launched on several)."""
    import shenjing
    import shenjing.distributed as dist
    from shenjing.nn.parallel import DistributedDataParallel

    workload = WORKLOADS[MODELS[model_name]]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("mpi")
    rank = dist.get_rank() if world > 1 else 0
    shenjing.manual_seed(0)
    model = workload.build(shenjing)
    batches = make_batches(workload, batch=GLOBAL_BATCH, count=8)
    share = GLOBAL_BATCH // world
    data = [(shenjing.tensor(x[rank * share:(rank + 1) * share]), shenjing.tensor(y[rank * share:(rank + 1) * share]))
            for x, y in batches]
    reduction = [0.0]
    if world > 1:
        model = DistributedDataParallel(model)
        timed(model, "_launch_ready_buckets", reduction)
        timed(model, "_finish_reduction", reduction)
    optimizer = sgd_momentum(shenjing, model.parameters())

    def step(i: int) -> None:
        x, y = data[i % len(data)]
        optimizer.zero_grad()
        cross_entropy(shenjing, model(x), y).backward()
        optimizer.step()

    for i in range(warmup):
        step(i)
    rates, shares = [], []
    for _ in range(repeats):
        if world > 1:
            dist.barrier()
        reduction[0] = 0.0
        started = time.perf_counter()
        for i in range(steps):
            step(i)
        seconds = time.perf_counter() - started
        rates.append(GLOBAL_BATCH * steps / seconds)
        shares.append(reduction[0] / seconds)
    result = {"model": model_name, "processes": world, "threads": os.environ.get("OMP_NUM_THREADS", "default"),
              "samples_per_s": statistics.median(rates), "all_samples_per_s": rates}
    if world > 1:
        result["reduction_share_of_step"] = statistics.median(shares)
        result["step_ms"] = 1000 * GLOBAL_BATCH / result["samples_per_s"]
        result["allreduce_alone_ms"] = allreduce_alone(model, dist)
    return result if rank == 0 else None


def timed(model, method: str, total: list) -> None:
    """Add the time spent in ``model.method`` to ``total[0]`` (the benchmark's instrument, not the library's)."""
    original = getattr(model, method)

    def wrapper(*args):
        started = time.perf_counter()
        try:
            return original(*args)
        finally:
            total[0] += time.perf_counter() - started
    setattr(model, method, wrapper)


def allreduce_alone(model, dist) -> float:
    """Milliseconds of one allreduce of a flat buffer of all the gradients (median of 50)."""
    import shenjing

    count = sum(p.numel() for p in model.parameters())
    flat = shenjing.zeros(count)
    times = []
    for _ in range(50):
        dist.barrier()
        started = time.perf_counter()
        dist.all_reduce(flat)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def run_configuration(model: str, processes: int, threads: int | None, steps: int, warmup: int,
                      repeats: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = os.path.join(ROOT, "src")
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    worker = [os.path.abspath(__file__), "--worker", model, "--steps", str(steps), "--warmup", str(warmup),
              "--repeats", str(repeats)]
    if processes == 1:
        command = [sys.executable, *worker]
    else:
        command = [sys.executable, "-m", "shenjing.distributed.run", "--nproc-per-node", str(processes), *worker]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=None, help="timed steps per repeat (lenet 60, mlp 200)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    if options.worker:
        result = measure(options.worker, options.steps, options.warmup, options.repeats)
        if result is not None:
            print(json.dumps(result), flush=True)
        return
    for model in options.models:
        steps = options.steps or {"lenet": 60, "mlp": 200}[model]
        for processes, threads in [(1, None), (1, 1), (2, 1)]:
            result = run_configuration(model, processes, threads, steps, options.warmup, options.repeats)
            line = (f"{model:6s} {processes} process(es) x {str(threads or 'default'):7s} threads: "
                    f"{result['samples_per_s']:8.0f} samples/s")
            if processes > 1:
                line += (f"   (step {result['step_ms']:.1f} ms; DDP reduction {100 * result['reduction_share_of_step']:.1f}% "
                         f"of it; one allreduce of all gradients alone {result['allreduce_alone_ms']:.3f} ms)")
            print(line, flush=True)


if __name__ == "__main__":
    main()
