"""optimizer.step() alone, and whole training steps, for shenjing and PyTorch (the optimiser workloads
of issue 15), in alternating fresh processes.

    python benchmarks/optim_step.py --src . [--src OTHER_TREE]... [--rounds 5] [--only WORKLOAD:MODE]...
    python benchmarks/optim_step.py --child sj|torch WORKLOAD MODE     (one measurement, one JSON line)

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

WORKLOADS = {
    # name: (model, batch, optimizer, options)
    "mlp512-adam": ("mlp512", 64, "Adam", dict(lr=1e-3)),
    "mnist-adadelta": ("mnist", 64, "Adadelta", dict(lr=1.0)),
    "lstm-adam": ("lstm", 64, "Adam", dict(lr=1e-3)),
    "bncnn-adam": ("bncnn", 64, "Adam", dict(lr=1e-3)),
    "lenet-b1-sgdm": ("lenet", 1, "SGD", dict(lr=0.01, momentum=0.9)),
    "mlp256-sgdm": ("mlp256", 64, "SGD", dict(lr=0.01, momentum=0.9)),
}
SHAPES = {"mlp512": (784,), "mlp256": (784,), "mnist": (1, 28, 28), "lstm": (28, 28), "bncnn": (3, 32, 32),
          "lenet": (1, 28, 28)}


def build(lib, model):
    nn = lib.nn
    F = nn.functional
    if model == "mlp512":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10))
    if model == "mlp256":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if model == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                             nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    if model == "bncnn":
        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        return nn.Sequential(*block(3, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 64),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    if model == "mnist":
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 32, 3, 1)
                self.conv2 = nn.Conv2d(32, 64, 3, 1)
                self.dropout1 = nn.Dropout(0.25)
                self.dropout2 = nn.Dropout(0.5)
                self.fc1 = nn.Linear(9216, 128)
                self.fc2 = nn.Linear(128, 10)

            def forward(self, x):
                x = F.relu(self.conv1(x))
                x = F.relu(self.conv2(x))
                x = F.max_pool2d(x, 2)
                x = self.dropout1(x)
                x = lib.flatten(x, 1)
                x = F.relu(self.fc1(x))
                x = self.dropout2(x)
                return F.log_softmax(self.fc2(x), dim=1)
        return Net()
    if model == "lstm":
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(28, 64, batch_first=True)
                self.fc = nn.Linear(64, 10)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out[:, -1])
        return Net()
    raise ValueError(model)


def child(libname, workload, mode):
    if libname == "torch":
        import torch as lib
        lib.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    else:
        import shenjing as lib
    model_name, batch, opt_name, options = WORKLOADS[workload]
    lib.manual_seed(0)
    model = build(lib, model_name)
    opt = getattr(lib.optim, opt_name)(model.parameters(), **options)
    rng = np.random.default_rng(0)
    data = [(lib.tensor(rng.standard_normal((batch,) + SHAPES[model_name]).astype(np.float32)),
             lib.tensor(rng.integers(0, 10, batch).astype(np.int64))) for _ in range(4)]
    F = lib.nn.functional
    loss_fn = F.nll_loss if model_name == "mnist" else F.cross_entropy

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
        inner = 10 if model_name in ("mnist",) else 20
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
