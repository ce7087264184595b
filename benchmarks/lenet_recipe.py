"""`shenjing train lenet`'s recipe in shenjing and in PyTorch 2.13: test accuracy, wall time, peak memory.

    python benchmarks/lenet_recipe.py            # both, each in a fresh process
    python benchmarks/lenet_recipe.py --epochs 3

Both read the same batches from shenjing's data pipeline (the bundled 4,000 training digits with the
same random affine augmentation and the same seed), train LeNet-5 written as a user writes it (the
``nn.Sequential`` of ``benchmarks/workloads.py``, one definition for both libraries) with SGD (Nesterov momentum 0.9,
weight decay 5e-4) under a one-cycle schedule peaking at lr 0.05, batch 64, and test on the 1,000
bundled test digits. PyTorch runs on 2 threads. Peak memory is the child process's maximum RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import build_lenet  # noqa: E402  (the model as a user writes it)


def run(library: str, epochs: int) -> dict:
    import numpy as np

    import shenjing
    from shenjing.recipes import TrainOptions, digit_loaders

    shenjing.manual_seed(0)
    train_loader, test_loader = digit_loaders(TrainOptions(seed=0), batch_size=64)
    started = time.perf_counter()
    if library == "shenjing":
        lib = shenjing
        convert = lambda batch: batch  # noqa: E731
    else:
        import torch

        torch.set_num_threads(2)
        torch.manual_seed(0)
        lib = torch
        convert = lambda batch: torch.from_numpy(batch.numpy())  # noqa: E731
    model = build_lenet(lib)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = lib.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=epochs * len(train_loader))
    loss_fn = lib.nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = loss_fn(model(convert(x)), convert(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    correct = total = 0
    with lib.no_grad():
        for x, y in test_loader:
            predicted = model(convert(x)).argmax(1).numpy()
            correct += int((predicted == y.numpy()).sum())
            total += len(y)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"library": library, "accuracy": correct / total, "seconds": seconds, "peak_rss_mb": peak_mb,
            "final_loss": float(np.asarray(loss.detach().numpy()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--child", choices=["shenjing", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.epochs)))
        return
    print(f"{'library':10s} {'test accuracy':>14s} {'wall time':>10s} {'peak RSS':>10s}")
    # the children import this checkout's shenjing, installed or not (as benchmarks/run.py does)
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=source + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for library in ("shenjing", "torch"):
        done = subprocess.run([sys.executable, __file__, "--child", library, "--epochs", str(args.epochs)],
                              capture_output=True, text=True, env=env)
        if done.returncode:
            sys.exit(f"the {library} run failed:\n{done.stderr.strip()}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{library:10s} {result['accuracy']:14.2%} {result['seconds']:9.1f}s {result['peak_rss_mb']:8.0f}MB")


if __name__ == "__main__":
    main()
