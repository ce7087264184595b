"""The course's models, trained and evaluated in shenjing and in PyTorch: samples/s, ratios, peak RSS.

    python benchmarks/run.py                     # every workload, 5 alternating repetitions
    python benchmarks/run.py --quick             # 3 repetitions, shorter runs
    python benchmarks/run.py --only lenet-b64    # one workload (repeat --only for more)
    python benchmarks/run.py --peer tinygrad     # tinygrad as a third column (pip install tinygrad;
                                                 # its CPU backend needs clang: apt-get install clang)
    python benchmarks/run.py --threads 1         # PyTorch and NumPy's BLAS on one thread each
    python benchmarks/run.py --runs              # also every run's samples/s (the spread) and each
                                                 # round's ratio

Every measurement is a fresh Python process (``--child LIB WORKLOAD``) that imports only its own
library, builds the model, warms up, times a fixed number of steps on pre-made batches and prints
one JSON line: samples/s and the process's peak RSS (``resource.getrusage``, which includes the
imported library itself) and the RSS the run added over the state after setup (``VmHWM - VmRSS``).
The libraries take turns (shenjing, torch, ... then torch, shenjing, ...) so that load from the
other users of a shared machine falls on both; the table shows medians, and the header the load
average before and after. PyTorch runs on ``--threads`` threads (``torch.set_num_threads``, default
2); NumPy's BLAS on its default (all cores) unless ``--threads`` is given, which then also sets
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` for every child. Read ratios, not absolute times: the
ratio is shenjing samples/s / PyTorch samples/s (above 1: shenjing is faster).

A training step is ``zero_grad(); loss = cross_entropy(model(x), y); loss.backward(); opt.step()``
with SGD (lr 0.01, momentum 0.9); inference is ``model(x)`` under ``no_grad`` with the model in
eval mode. Data: standard-normal images and uniform labels from a fixed seed, 8 batches cycled.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name: (description, model, batch, training?, steps timed, steps of warm-up, issue target ratio)
WORKLOADS: dict[str, tuple[str, str, int, bool, int, int, float]] = {
    "lenet-b64": ("LeNet-5 train, batch 64", "lenet", 64, True, 150, 10, 1.0),
    "cnn-b64": ("CourseCNN train, batch 64", "cnn", 64, True, 150, 10, 1.0),
    "mlp-b64": ("MLP 784-256-128-10 train, batch 64", "mlp", 64, True, 600, 30, 1.2),
    "lenet-b1": ("LeNet-5 train, batch 1", "lenet", 1, True, 1500, 100, 2.0),
    "lenet-infer-b256": ("LeNet-5 inference no_grad, b 256", "lenet", 256, False, 60, 5, 0.8),
}
QUICK_STEPS = 0.4  # --quick: this fraction of the steps
INPUT_SHAPES = {"lenet": (1, 28, 28), "cnn": (3, 32, 32), "mlp": (784,)}


# -- the workloads, one builder per library --------------------------------------------------------
# Each builder returns step() (one training step or one inference batch) for the given model and batch.

def _data(model: str, batch: int, count: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    shape = (batch,) + INPUT_SHAPES[model]
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64))
            for _ in range(count)]


def _torch_like_step(lib: Any, model: Any, data: list, training: bool) -> Callable[[], None]:
    """The step for libraries with PyTorch's API (shenjing and PyTorch)."""
    batches = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
    state = {"i": 0}
    if not training:
        model.eval()

        def infer() -> None:
            x, _ = batches[state["i"] % len(batches)]
            state["i"] += 1
            with lib.no_grad():
                model(x)
        return infer
    model.train()
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()

    def train() -> None:
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return train


def build_shenjing(model: str, data: list, training: bool) -> Callable[[], None]:
    import shenjing
    from shenjing.models import MLP, CourseCNN, LeNet5

    shenjing.manual_seed(0)
    net = {"lenet": LeNet5, "cnn": CourseCNN, "mlp": lambda: MLP([784, 256, 128, 10])}[model]()
    return _torch_like_step(shenjing, net, data, training)


def build_torch(model: str, data: list, training: bool) -> Callable[[], None]:
    import torch
    from torch import nn

    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    torch.manual_seed(0)

    class LeNet5(nn.Module):  # the same layers as shenjing.models.LeNet5
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.pool1 = nn.Conv2d(1, 6, 5, padding=2), nn.MaxPool2d(2)
            self.conv2, self.pool2 = nn.Conv2d(6, 16, 5), nn.MaxPool2d(2)
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)
            self.relu = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.pool1(self.relu(self.conv1(x)))
            x = self.pool2(self.relu(self.conv2(x))).flatten(1)
            return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))

    class CourseCNN(nn.Module):  # shenjing.models.CourseCNN
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.pool1 = nn.Conv2d(3, 6, 5), nn.MaxPool2d(2)
            self.conv2, self.pool2 = nn.Conv2d(6, 16, 5), nn.MaxPool2d(2)
            self.fc, self.nf = nn.Linear(400, 10), nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.pool1(self.nf(self.conv1(x)))
            return self.fc(self.pool2(self.nf(self.conv2(x))).flatten(1))

    def mlp() -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))

    net = {"lenet": LeNet5, "cnn": CourseCNN, "mlp": mlp}[model]()
    return _torch_like_step(torch, net, data, training)


def build_tinygrad(model: str, data: list, training: bool) -> Callable[[], None]:
    """The same models in tinygrad's own API, with its JIT (``TinyJit``) as tinygrad recommends."""
    os.environ.setdefault("DEV", "CPU")  # tinygrad >= 0.12; its CPU backend compiles C with clang
    from tinygrad import Context, Tensor, TinyJit, nn
    from tinygrad.nn.state import get_parameters

    Tensor.manual_seed(0)

    class LeNet5:
        def __init__(self) -> None:
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def __call__(self, x: Tensor) -> Tensor:
            x = self.conv1(x).relu().max_pool2d(2)
            x = self.conv2(x).relu().max_pool2d(2).flatten(1)
            return self.fc3(self.fc2(self.fc1(x).relu()).relu())

    class CourseCNN:
        def __init__(self) -> None:
            self.conv1, self.conv2, self.fc = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5), nn.Linear(400, 10)

        def __call__(self, x: Tensor) -> Tensor:
            x = self.conv1(x).relu().max_pool2d(2)
            return self.fc(self.conv2(x).relu().max_pool2d(2).flatten(1))

    class MLP:
        def __init__(self) -> None:
            self.l1, self.l2, self.l3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

        def __call__(self, x: Tensor) -> Tensor:
            return self.l3(self.l2(self.l1(x).relu()).relu())

    net = {"lenet": LeNet5, "cnn": CourseCNN, "mlp": MLP}[model]()
    batches = [(Tensor(x).realize(), Tensor(y.astype(np.int32)).realize()) for x, y in data]
    state = {"i": 0}
    if not training:
        @TinyJit
        def infer_jit(x: Tensor) -> Tensor:
            return net(x).realize()

        def infer() -> None:
            x, _ = batches[state["i"] % len(batches)]
            state["i"] += 1
            infer_jit(x).numpy()
        return infer
    opt = nn.optim.SGD(get_parameters(net), lr=0.01, momentum=0.9)

    @TinyJit
    def train_jit(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = net(x).sparse_categorical_crossentropy(y).backward()
        opt.step()
        return loss.realize()

    def train() -> None:
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        with Context(TRAINING=1):
            train_jit(x, y).numpy()
    return train


BUILDERS = {"shenjing": build_shenjing, "torch": build_torch, "tinygrad": build_tinygrad}


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(lib: str, workload: str, quick: bool) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    _, model, batch, training, steps, warmup, _ = WORKLOADS[workload]
    if quick:
        steps = max(10, int(steps * QUICK_STEPS))
    step = BUILDERS[lib](model, _data(model, batch), training)
    for _ in range(warmup):
        step()
    rss_before = _rss_kib("VmRSS")
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"samples_per_s": steps * batch / elapsed, "peak_rss_mib": peak / 1024,
                      "run_rss_mib": max(0, _rss_kib("VmHWM") - rss_before) / 1024}))


# -- the parent: alternate fresh processes, take medians, print the table --------------------------

def measure(lib: str, workload: str, quick: bool, threads: int | None) -> dict[str, float]:
    command = [sys.executable, os.path.abspath(__file__), "--child", lib, workload] + (["--quick"] if quick else [])
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["BENCH_TORCH_THREADS"] = str(threads or 2)
    if threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{lib} {workload} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for name in ("torch", "tinygrad"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:  # noqa: BLE001 - not installed
            pass
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repetitions of shorter runs")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per library (default 5, quick 3)")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), help="run only this workload")
    parser.add_argument("--peer", choices=["tinygrad"], action="append", default=[],
                        help="also measure this library (its own API)")
    parser.add_argument("--no-shenjing", action="store_true", help="peer table only: skip shenjing")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for PyTorch (default 2) and, if given, for NumPy's BLAS too")
    parser.add_argument("--runs", action="store_true", help="also print every run's samples/s")
    parser.add_argument("--child", nargs=2, metavar=("LIB", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.quick)
        return
    repeat = args.repeat or (3 if args.quick else 5)
    libs = ([] if args.no_shenjing else ["shenjing"]) + ["torch"] + args.peer
    print(f"# {machine()}")
    blas = f"NumPy's BLAS on {args.threads}" if args.threads else "NumPy's BLAS on its default"
    print(f"# median of {repeat} fresh processes per library, taking turns; torch on {args.threads or 2} threads, "
          f"{blas}{'; quick' if args.quick else ''}; load average before: {os.getloadavg()[0]:.2f}")
    header = f"| {'workload':36s} |" + "".join(f" {lib + ' samples/s':>18s} |" for lib in libs)
    header += "".join(f" {lib + '/torch':>14s} |" for lib in libs if lib != "torch")
    header += "".join(f" {lib + ' peak RSS':>18s} |" for lib in libs) + (" target |" if "shenjing" in libs else "")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    runs_by_lib: list[tuple[str, dict[str, list[float]]]] = []
    for name in args.only or list(WORKLOADS):
        results: dict[str, list[dict[str, float]]] = {lib: [] for lib in libs}
        for r in range(repeat):
            for lib in (libs if r % 2 == 0 else libs[::-1]):
                results[lib].append(measure(lib, name, args.quick, args.threads))
        speed = {lib: statistics.median(x["samples_per_s"] for x in runs) for lib, runs in results.items()}
        rss = {lib: statistics.median(x["peak_rss_mib"] for x in runs) for lib, runs in results.items()}
        grown = {lib: statistics.median(x["run_rss_mib"] for x in runs) for lib, runs in results.items()}
        row = f"| {WORKLOADS[name][0]:36s} |" + "".join(f" {speed[lib]:18.0f} |" for lib in libs)
        row += "".join(f" {speed[lib] / speed['torch']:13.2f}x |" for lib in libs if lib != "torch")
        row += "".join(f" {rss[lib]:7.0f} MiB (+{grown[lib]:3.0f}) |" for lib in libs)
        row += f" {WORKLOADS[name][6]:5.1f}x |" if "shenjing" in libs else ""
        print(row, flush=True)
        runs_by_lib.append((name, {lib: [x["samples_per_s"] for x in runs] for lib, runs in results.items()}))
    print("# peak RSS: the whole process (library included); (+N): MiB it grew while the timed steps ran")
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    if args.runs:  # every measurement, in the order taken: how far the runs spread on a shared machine
        for name, runs in runs_by_lib:
            for lib, values in runs.items():
                print(f"# {name} {lib}: " + ", ".join(f"{v:.0f}" for v in values))
            for lib in (lib for lib in runs if lib != "torch"):  # each round's two runs were taken back to
                # back, so their ratio is less exposed to a load spike than the ratio of the medians
                ratios = [ours / theirs for ours, theirs in zip(runs[lib], runs["torch"])]
                print(f"# {name} {lib}/torch round by round: " + ", ".join(f"{r:.2f}" for r in ratios)
                      + f" (median {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
