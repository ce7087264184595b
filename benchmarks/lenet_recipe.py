"""`shenjing train lenet`'s recipe in shenjing and in PyTorch 2.13: test accuracy, wall time, peak memory.

    python benchmarks/lenet_recipe.py            # both, each in a fresh process
    python benchmarks/lenet_recipe.py --epochs 3
    python benchmarks/lenet_recipe.py --model mlp --data-dir DIR   # another digit recipe, other IDX files

Both read the same batches from shenjing's data pipeline (the bundled 4,000 training digits with the
same random affine augmentation and the same seed), train LeNet-5 written as a user writes it (the
``nn.Sequential`` of ``benchmarks/workloads.py``, one definition for both libraries) with SGD (Nesterov momentum 0.9,
weight decay 5e-4) under a one-cycle schedule peaking at lr 0.05, batch 64, and test on the 1,000
bundled test digits. PyTorch runs on 2 threads. Peak memory is the child process's maximum RSS.

``--model mlp`` / ``--model course-cnn`` train those recipes instead (Adam at the recipe's learning rate
under the same one-cycle schedule, the digits as 3x32x32 for the CNN), and ``--data-dir`` reads MNIST-format
IDX files from a folder (``benchmarks/full_mnist.py`` uses both for its PyTorch side).
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
from workloads import build_course_cnn, build_lenet, build_mlp  # noqa: E402  (the models as a user writes them)

BUILDERS = {"lenet": build_lenet, "mlp": build_mlp, "course-cnn": build_course_cnn}


def run(library: str, epochs: int | None = None, model_name: str = "lenet", data_dir: str | None = None) -> dict:
    """Train ``model_name``'s recipe in ``library`` (its default epochs unless ``epochs``) and test it."""
    import numpy as np

    import shenjing
    from shenjing.recipes import RECIPES, TrainOptions, digit_loaders
    from shenjing.registry import MODELS

    recipe = RECIPES[model_name]
    epochs = epochs or recipe.epochs
    channels, size = MODELS[model_name].image
    shenjing.manual_seed(0)
    train_loader, test_loader = digit_loaders(TrainOptions(seed=0, data_dir=data_dir), batch_size=recipe.batch_size,
                                              channels=channels, size=size)
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
    model = BUILDERS[model_name](lib)
    if recipe.optimizer == "sgd":
        optimizer = lib.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    else:
        optimizer = lib.optim.Adam(model.parameters(), lr=recipe.lr)
    schedule = lib.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=epochs * len(train_loader))
    loss_fn = lib.nn.CrossEntropyLoss()
    epoch_seconds = []
    for _ in range(epochs):
        epoch_started = time.perf_counter()
        model.train()
        for x, y in train_loader:
            loss = loss_fn(model(convert(x)), convert(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        epoch_seconds.append(time.perf_counter() - epoch_started)
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
            "epoch_seconds": epoch_seconds, "model": model_name, "epochs": epochs,
            "final_loss": float(np.asarray(loss.detach().numpy()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="default: the recipe's (14 for lenet, 10 for mlp and course-cnn)")
    parser.add_argument("--model", choices=sorted(BUILDERS), default="lenet")
    parser.add_argument("--data-dir", help="a folder with MNIST-format IDX files (default: the bundled sample)")
    parser.add_argument("--child", choices=["shenjing", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.epochs, args.model, args.data_dir)))
        return
    print(f"{'library':10s} {'test accuracy':>14s} {'wall time':>10s} {'peak RSS':>10s}")
    # the children import this checkout's shenjing, installed or not (as benchmarks/run.py does)
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=source + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for library in ("shenjing", "torch"):
        command = [sys.executable, __file__, "--child", library, "--model", args.model]
        command += ["--epochs", str(args.epochs)] if args.epochs else []
        command += ["--data-dir", args.data_dir] if args.data_dir else []
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode:
            sys.exit(f"the {library} run failed:\n{done.stderr.strip()}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{library:10s} {result['accuracy']:14.2%} {result['seconds']:9.1f}s {result['peak_rss_mb']:8.0f}MB")


if __name__ == "__main__":
    main()
