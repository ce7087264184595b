"""Ten user-written models trained (and one evaluated) in shenjing and in PyTorch: samples/s, ratios, peak RSS.

    python benchmarks/run.py                        # every workload, 5 alternating repetitions
    python benchmarks/run.py --quick                # 3 repetitions, shorter runs
    python benchmarks/run.py --only lenet-seq-b64   # one workload (repeat --only for more)
    python benchmarks/run.py --runs                 # also every run's samples/s and each round's ratio
    python benchmarks/run.py --threads 1            # PyTorch and NumPy's BLAS on one thread each
    python benchmarks/run.py --compile              # also shenjing.compile(model), a third column
    python benchmarks/run.py --check                # numerics: 100 training steps in both libraries from
                                                    # the same weights and batches, losses compared
    python benchmarks/run.py --peer tinygrad        # tinygrad as a third column, for the LeNet-5, course
                                                    # CNN and MLP rows (pip install tinygrad; its CPU
                                                    # backend needs clang: apt-get install clang)

The models are written once, as a user writes them, in ``benchmarks/workloads.py``: each builder takes
the library module, so the same code runs on ``import torch`` and ``import shenjing`` (no class from
``shenjing.models``). Run it with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` where those are set
(they pin current NumPy to an old, slower kernel; a user's machine has neither).

Every measurement is a fresh Python process (``--child LIB WORKLOAD``) that imports only its own
library, builds the model (seed 0), warms up, times a fixed number of steps on 8 pre-made batches
(standard-normal images, uniform labels in 0..9, fixed seed) and prints one JSON line: samples/s, the
process's peak RSS (``resource.getrusage``, the imported library included) and the RSS the timed steps
added (``VmHWM - VmRSS``). The libraries take turns (shenjing, torch, then torch, shenjing, ...) so that
load from other users of a shared machine falls on both; the table shows medians, the header the load
average before and after. PyTorch runs on ``--threads`` threads (``torch.set_num_threads``, default 2);
NumPy's BLAS on its default (all cores) unless ``--threads`` is given, which then also sets
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` for every child. Read ratios, not absolute speeds: the
ratio is shenjing samples/s / PyTorch samples/s (above 1: shenjing is faster).

A training step is ``opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()`` with
the workload's optimiser and loss; inference is ``model(x)`` (and its loss) under ``no_grad`` in eval
mode.

``--check`` runs in this process with both libraries: PyTorch builds each model (seed 0), its initial
``state_dict`` is loaded into shenjing's model as NumPy arrays, and both train 100 steps at the
workload's full batch on the same 100 batches (a fresh one per step, so the random labels are not
memorised); dropout layers get p = 0 there (the libraries draw different masks). It prints the largest
relative difference of the losses in float32 and in float64, beside two measures of float32 noise on
that trajectory: PyTorch's float32 against its float64, and PyTorch against itself from initial weights
of which 1% were moved by one ulp (the largest of ``--perturb`` such runs, default 3). A training run
can be chaotic: one ReLU or max-pool decision flipped by a rounding grows, and Adam, which scales every
step to about ``lr``, makes that likely; there the second measure is the floor that shenjing is held to.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
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
sys.path.insert(0, HERE)

from workloads import WORKLOADS, Workload, make_batches, make_step, max_relative_difference, train_losses  # noqa: E402

QUICK_STEPS = 0.4  # --quick: this fraction of the steps
COMPILED = "shenjing-compiled"
# the targets of compiled shenjing over PyTorch eager (the issue "shenjing.compile"): 2.0x unless named
COMPILE_TARGETS = {"lenet-seq-b1": 3.0, "lstm-b64": 1.5, "lenet-seq-infer-b256": 1.0, "mlp-wide-adam-b64": 1.0}
CHECK_STEPS = 100


# -- one measurement, in a fresh process -----------------------------------------------------------

def build_torch_like(lib_name: str, workload: Workload, data: list) -> Callable[[], Any]:
    """The step for libraries with PyTorch's API (shenjing and PyTorch): the workload's own code;
    ``shenjing-compiled`` is shenjing with the model passed through ``shenjing.compile``."""
    compiled = lib_name.endswith("-compiled")
    lib = importlib.import_module(lib_name.removesuffix("-compiled"))
    if lib_name == "torch":
        lib.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    lib.manual_seed(0)
    model = workload.build(lib)
    return make_step(lib, workload, lib.compile(model) if compiled else model, data)


# The rows tinygrad can run: the same architectures in tinygrad's own API (its models cannot be written
# with PyTorch's nn), with its JIT (``TinyJit``) as tinygrad recommends; SGD lr 0.01, momentum 0.9.
TINYGRAD_MODELS = {"lenet-seq-b64": "lenet", "lenet-seq-b1": "lenet", "lenet-seq-infer-b256": "lenet",
                   "course-cnn-seq-b64": "cnn", "mlp-b64": "mlp"}


def build_tinygrad(workload_name: str, data: list) -> Callable[[], Any]:
    os.environ.setdefault("DEV", "CPU")  # tinygrad >= 0.12; its CPU backend compiles C with clang
    from tinygrad import Context, Tensor, TinyJit, nn
    from tinygrad.nn.state import get_parameters

    Tensor.manual_seed(0)
    training = WORKLOADS[workload_name].training

    class TinygradLeNet:
        def __init__(self) -> None:
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def __call__(self, x: Tensor) -> Tensor:
            x = self.conv1(x).relu().max_pool2d(2)
            x = self.conv2(x).relu().max_pool2d(2).flatten(1)
            return self.fc3(self.fc2(self.fc1(x).relu()).relu())

    class TinygradCourseCNN:
        def __init__(self) -> None:
            self.conv1, self.conv2, self.fc = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5), nn.Linear(400, 10)

        def __call__(self, x: Tensor) -> Tensor:
            x = self.conv1(x).relu().max_pool2d(2)
            return self.fc(self.conv2(x).relu().max_pool2d(2).flatten(1))

    class TinygradMLP:
        def __init__(self) -> None:
            self.l1, self.l2, self.l3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

        def __call__(self, x: Tensor) -> Tensor:
            return self.l3(self.l2(self.l1(x.flatten(1)).relu()).relu())

    net = {"lenet": TinygradLeNet, "cnn": TinygradCourseCNN, "mlp": TinygradMLP}[TINYGRAD_MODELS[workload_name]]()
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


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(lib: str, name: str, quick: bool) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    workload = WORKLOADS[name]
    steps = max(10, int(workload.steps * QUICK_STEPS)) if quick else workload.steps
    data = make_batches(workload)
    step = build_tinygrad(name, data) if lib == "tinygrad" else build_torch_like(lib, workload, data)
    first = time.perf_counter()
    step()  # (for a compiled model: the capture)
    step()  # (the capture's check against eager mode, then its first replay)
    first = time.perf_counter() - first
    for _ in range(workload.warmup - 1):
        step()
    rss_before = _rss_kib("VmRSS")
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"samples_per_s": steps * workload.batch / elapsed, "peak_rss_mib": peak / 1024,
                      "first_step_s": first,
                      "run_rss_mib": max(0, _rss_kib("VmHWM") - rss_before) / 1024}))


# -- the parent: alternate fresh processes, take medians, print the table --------------------------

def measure(lib: str, name: str, quick: bool, threads: int | None) -> dict[str, float]:
    command = [sys.executable, os.path.abspath(__file__), "--child", lib, name] + (["--quick"] if quick else [])
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["BENCH_TORCH_THREADS"] = str(threads or 2)
    if threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{lib} {name} failed:\n{done.stderr[-3000:]}")
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
    blas = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions) + (f"; set: {' '.join(blas)}" if blas else "")


def benchmark(names: list[str], libs: list[str], repeat: int, quick: bool, threads: int | None,
              show_runs: bool) -> None:
    print(f"# {machine()}")
    blas = f"NumPy's BLAS on {threads}" if threads else "NumPy's BLAS on its default"
    print(f"# median of {repeat} fresh processes per library, taking turns; torch on {threads or 2} threads, "
          f"{blas}{'; quick' if quick else ''}; load average before: {os.getloadavg()[0]:.2f}")
    ours = [lib for lib in libs if lib != "torch"]
    header = f"| {'workload':21s} | {'model':41s} |" + "".join(f" {lib + ' samples/s':>18s} |" for lib in libs)
    header += "".join(f" {lib + '/torch':>14s} |" for lib in ours)
    header += "".join(f" {lib + ' peak RSS':>18s} |" for lib in libs) + (" target |" if "shenjing" in libs else "")
    header += " compiled target | first 2 steps (compiled) |" if COMPILED in libs else ""
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    taken: list[tuple[str, dict[str, list[float]]]] = []
    for name in names:
        workload = WORKLOADS[name]
        here = [lib for lib in libs if lib != "tinygrad" or name in TINYGRAD_MODELS]
        results: dict[str, list[dict[str, float]]] = {lib: [] for lib in here}
        for r in range(repeat):
            for lib in (here if r % 2 == 0 else here[::-1]):
                results[lib].append(measure(lib, name, quick, threads))
        speed = {lib: statistics.median(x["samples_per_s"] for x in runs) for lib, runs in results.items()}
        rss = {lib: statistics.median(x["peak_rss_mib"] for x in runs) for lib, runs in results.items()}
        grown = {lib: statistics.median(x["run_rss_mib"] for x in runs) for lib, runs in results.items()}
        row = f"| {name:21s} | {workload.description:41s} |"
        row += "".join(f" {speed[lib]:18.0f} |" if lib in here else f" {'-':>18s} |" for lib in libs)
        row += "".join(f" {speed[lib] / speed['torch']:13.2f}x |" if lib in here else f" {'-':>14s} |" for lib in ours)
        row += "".join(f" {rss[lib]:7.0f} MiB (+{grown[lib]:3.0f}) |" if lib in here else f" {'-':>18s} |"
                       for lib in libs)
        row += f" {workload.target:5.1f}x |" if "shenjing" in libs else ""
        if COMPILED in libs:
            first = statistics.median(x["first_step_s"] for x in results[COMPILED])
            row += f" {COMPILE_TARGETS.get(name, 2.0):14.1f}x | {first:21.2f} s |"
        print(row, flush=True)
        taken.append((name, {lib: [x["samples_per_s"] for x in runs] for lib, runs in results.items()}))
    print("# peak RSS: the whole process (library included); (+N): MiB it grew while the timed steps ran")
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    if show_runs:  # every measurement, in the order taken: how far the runs spread on a shared machine
        for name, runs in taken:
            for lib, values in runs.items():
                print(f"# {name} {lib}: " + ", ".join(f"{v:.0f}" for v in values))
            for lib in (lib for lib in runs if lib != "torch"):  # each round's two runs were taken back to
                # back, so their ratio is less exposed to a load spike than the ratio of the medians
                ratios = [mine / theirs for mine, theirs in zip(runs[lib], runs["torch"])]
                print(f"# {name} {lib}/torch round by round: " + ", ".join(f"{r:.2f}" for r in ratios)
                      + f" (median {statistics.median(ratios):.2f}, spread {min(ratios):.2f}-{max(ratios):.2f})")


def one_ulp_moved(state: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """``state`` with 1% of its floating-point entries (chosen at random) moved up by one ulp."""
    rng = np.random.default_rng(seed)
    moved = {}
    for key, value in state.items():
        value = value.copy()
        if np.issubdtype(value.dtype, np.floating):
            chosen = rng.random(value.shape) < 0.01
            value[chosen] = np.nextafter(value[chosen], np.inf)
        moved[key] = value
    return moved


def check(names: list[str], threads: int | None, perturb: int) -> None:
    """100 training steps in both libraries from the same weights and batches: the losses compared."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    import torch

    import shenjing

    torch.set_num_threads(threads or 2)
    print(f"# {machine()}")
    print(f"# {CHECK_STEPS} steps at the full batch from PyTorch's initial weights, a fresh batch per step; "
          "largest relative difference of the losses")
    header = (f"| {'workload':21s} | {'shenjing vs torch, float32':>26s} | {'torch float32 vs float64':>24s} "
              f"| {'torch vs torch, 1 ulp moved':>27s} | {'shenjing vs torch, float64':>26s} "
              f"| {'final loss':>10s} | note |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for name in names:
        workload = WORKLOADS[name]
        steps = CHECK_STEPS
        single = make_batches(workload, count=steps)
        double = make_batches(workload, count=steps, dtype=np.float64)
        t32, state, dropped = train_losses(torch, workload, None, single, steps)
        s32, _, _ = train_losses(shenjing, workload, state, single, steps)
        t64, _, _ = train_losses(torch, workload, state, double, steps, np.float64)
        s64, _, _ = train_losses(shenjing, workload, state, double, steps, np.float64)
        moved = [train_losses(torch, workload, one_ulp_moved(state, seed), single, steps)[0]
                 for seed in range(perturb)]
        t32, s32, t64, s64 = map(np.array, (t32, s32, t64, s64))
        floor = max((max_relative_difference(t32, np.array(m)) for m in moved), default=float("nan"))
        note = f"{dropped} dropout layers at p = 0" if dropped else ("eval, no_grad" if not workload.training else "")
        print(f"| {name:21s} | {max_relative_difference(t32, s32):26.1e} | {max_relative_difference(t64, t32):24.1e} "
              f"| {floor:27.1e} | {max_relative_difference(t64, s64):26.1e} | {t32[-1]:10.3f} | {note} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repetitions of shorter runs")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per library (default 5, quick 3)")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), help="run only this workload")
    parser.add_argument("--peer", choices=["tinygrad"], action="append", default=[],
                        help="also measure this library (its own API; the rows it can run)")
    parser.add_argument("--no-shenjing", action="store_true", help="peer table only: skip shenjing")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for PyTorch (default 2) and, if given, for NumPy's BLAS too")
    parser.add_argument("--runs", action="store_true", help="also print every run's samples/s")
    parser.add_argument("--compile", action="store_true",
                        help="also measure shenjing with each model passed through shenjing.compile")
    parser.add_argument("--check", action="store_true",
                        help="compare 100 training steps' losses with PyTorch's instead of timing")
    parser.add_argument("--perturb", type=int, default=3,
                        help="--check: PyTorch runs from one-ulp-moved weights that measure float32 noise")
    parser.add_argument("--child", nargs=2, metavar=("LIB", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.quick)
        return
    names = args.only or list(WORKLOADS)
    if args.check:
        check(names, args.threads, args.perturb)
        return
    for peer in args.peer:
        if importlib.util.find_spec(peer) is None:
            parser.error(f"--peer {peer}: {peer} is not installed (pip install {peer}; its CPU backend needs clang)")
    libs = ([] if args.no_shenjing else ["shenjing"]) + ([COMPILED] if args.compile else []) + ["torch"] + args.peer
    benchmark(names, libs, args.repeat or (3 if args.quick else 5), args.quick, args.threads, args.runs)


if __name__ == "__main__":
    main()
