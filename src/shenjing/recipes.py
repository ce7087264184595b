"""Training recipes behind ``shenjing train MODEL``: the data, the model, the optimiser and schedule
that train each of the course's models well on a laptop CPU, and the model file they write.

A model file is a ``shenjing.save`` checkpoint: ``{"format": "shenjing-model", "model": name,
"config": {...}, "state_dict": {...}, "metrics": {...}}``; ``load_model`` rebuilds the model from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import shenjing
from shenjing import nn
from shenjing.models import MLP, CourseCNN, ElmanRNN, LeNet5, Perceptron, XorNet
from shenjing.train import EarlyStopping, evaluate, fit

__all__ = ["TrainOptions", "RECIPES", "load_model", "build_model", "save_model", "load_digit_image", "digit_loaders",
           "MODEL_FORMAT", "ModelFileError"]

MODEL_FORMAT = "shenjing-model"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class ModelFileError(ValueError):
    """A file that is not a shenjing model file."""


@dataclass
class TrainOptions:
    """Command-line options; ``None`` means the recipe's default."""

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    seed: int = 0
    out: str | None = None
    data_dir: str | None = None
    download: bool = False
    progress: bool = True
    hidden: int | None = None


@dataclass
class Recipe:
    train: Callable[[TrainOptions], dict[str, Any]]
    description: str


# -- models from their names -----------------------------------------------------------------------

def build_model(name: str, config: dict[str, Any]) -> nn.Module:
    """The model named ``name`` (as in ``shenjing train NAME``) with ``config``."""
    builders = {"lenet": lambda c: LeNet5(**c), "mlp": lambda c: MLP(**c), "course-cnn": lambda c: CourseCNN(**c),
                "xo": lambda c: _xo_net(**c), "rnn": lambda c: ElmanRNN(**c), "xor": lambda c: XorNet(**c),
                "perceptron": lambda c: Perceptron(**c)}
    if name not in builders:
        raise ModelFileError(f"unknown model '{name}'; known models: {', '.join(builders)}")
    return builders[name](config)


def save_model(path: str, name: str, config: dict[str, Any], model: nn.Module, metrics: dict[str, float]) -> None:
    shenjing.save({"format": MODEL_FORMAT, "model": name, "config": config, "state_dict": model.state_dict(),
                   "metrics": metrics}, path)


def load_model(path: str) -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, the whole model file) from a file written by ``shenjing train``."""
    contents = shenjing.load(path)
    if not isinstance(contents, dict) or contents.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is a shenjing checkpoint but not a model file written by `shenjing train`")
    model = build_model(contents["model"], dict(contents["config"]))
    model.load_state_dict(contents["state_dict"])
    model.eval()
    return model, contents


# -- data ------------------------------------------------------------------------------------------

def digit_transform(channels: int = 1, size: int = 28, augment: bool = False) -> Any:
    """A digit (PIL image or uint8 array) -> normalised tensor (channels, size, size), with small random
    shifts, rotations and scalings when ``augment``. Works without pillow (tensor transforms only)."""
    from shenjing.vision import transforms as T

    steps: list[Any] = [T.ToTensor()]
    if augment:
        steps.append(T.RandomAffine(degrees=8, translate=(0.08, 0.08), scale=(0.95, 1.05)))
    if size != 28:
        steps.append(T.Pad((size - 28) // 2))
    if channels == 3:
        steps.append(T.Lambda(_grey_to_rgb))
    steps.append(T.Normalize((MNIST_MEAN,) * channels, (MNIST_STD,) * channels))
    return T.Compose(steps)


def _grey_to_rgb(image: shenjing.Tensor) -> shenjing.Tensor:
    """The grey value in all three channels: what ``Image.convert('RGB')`` does to a greyscale digit."""
    return image.repeat(3, 1, 1)


def digit_loaders(options: TrainOptions, batch_size: int, channels: int = 1, size: int = 28,
                  augment: bool = True) -> tuple[Any, Any]:
    """Training and test DataLoaders of handwritten digits (the bundled sample unless ``--data-dir``)."""
    from shenjing.utils.data import DataLoader
    from shenjing.vision.datasets import MNIST

    root = options.data_dir
    train = MNIST(root, train=True, download=options.download,
                  transform=digit_transform(channels, size, augment))
    test = MNIST(root, train=False, download=options.download, transform=digit_transform(channels, size))
    generator = shenjing.Generator().manual_seed(options.seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(test, batch_size=500))


def load_digit_image(path: str, channels: int = 1, size: int = 28) -> shenjing.Tensor:
    """An image file of one digit, prepared like an MNIST digit: greyscale, light ink on a dark
    background (inverted if the paper is light), the ink's bounding box scaled into 20x20 and centred
    in 28x28, then padded to ``size`` and normalised. Returns (channels, size, size)."""
    from shenjing.vision._pil import require_pil

    Image = require_pil("reading an image file")
    with Image.open(path) as opened:
        image = opened.convert("L")
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.mean() > 127:
        pixels = 255 - pixels
    ink = np.argwhere(pixels > 0.3 * pixels.max()) if pixels.max() > 0 else np.zeros((0, 2))
    if len(ink):
        (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
        pixels = pixels[top:bottom, left:right]
    height, width = pixels.shape
    scale = 20.0 / max(height, width)
    box = Image.fromarray(pixels.astype(np.uint8)).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    canvas = np.zeros((28, 28), np.uint8)
    top, left = (28 - box.height) // 2, (28 - box.width) // 2
    canvas[top:top + box.height, left:left + box.width] = np.asarray(box)
    return digit_transform(channels, size)(canvas)


def _optimizer(options: TrainOptions, model: nn.Module, default: str, lr: float) -> Any:
    name = (options.optimizer or default).lower()
    lr = options.lr if options.lr is not None else lr
    if name == "sgd":
        return shenjing.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    if name == "adam":
        return shenjing.optim.Adam(model.parameters(), lr=lr)
    if name == "adamw":
        return shenjing.optim.AdamW(model.parameters(), lr=lr)
    raise ValueError(f"unknown optimizer '{name}'; expected sgd, adam or adamw")


def _train_classifier(name: str, config: dict[str, Any], options: TrainOptions, *, epochs: int,
                      batch_size: int, lr: float, optimizer: str, channels: int = 1, size: int = 28) -> dict[str, Any]:
    shenjing.manual_seed(options.seed)
    model = build_model(name, config)
    batch_size = options.batch_size or batch_size
    epochs = options.epochs or epochs
    train_loader, test_loader = digit_loaders(options, batch_size, channels, size)
    opt = _optimizer(options, model, optimizer, lr)
    schedule = shenjing.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"],
                                                       total_steps=epochs * len(train_loader))
    loss = nn.CrossEntropyLoss()
    history = fit(model, train_loader, loss, opt, epochs, scheduler=schedule, progress=options.progress)
    metrics = evaluate(model, test_loader, loss)
    metrics["train_loss"] = history["loss"][-1]
    out = options.out or f"{name}.shenjing"
    save_model(out, name, config, model, metrics)
    return {"model": model, "metrics": metrics, "history": history, "out": out}


# -- the recipes -----------------------------------------------------------------------------------

def train_lenet(options: TrainOptions) -> dict[str, Any]:
    """LeNet-5 on the digits: SGD with Nesterov momentum and a one-cycle schedule, small random affine
    augmentation; 14 epochs over the 4,000 bundled training digits (97.6-98.2% on the 1,000 test digits
    across seeds)."""
    return _train_classifier("lenet", {}, options, epochs=14, batch_size=64, lr=0.05, optimizer="sgd")


def train_mlp(options: TrainOptions) -> dict[str, Any]:
    """A 784-256-128-10 ReLU perceptron network on the digits."""
    config = {"sizes": [784, options.hidden or 256, 128, 10]}
    return _train_classifier("mlp", config, options, epochs=10, batch_size=64, lr=2e-3, optimizer="adam")


def train_course_cnn(options: TrainOptions) -> dict[str, Any]:
    """Seed 000's CNN: the digits as 3x32x32 RGB images (padded, the grey value in all three channels)."""
    return _train_classifier("course-cnn", {}, options, epochs=10, batch_size=64, lr=3e-3, optimizer="adam",
                             channels=3, size=32)


def _xo_net(hidden: int = 8) -> nn.Module:
    """The X-vs-O network of seed 003: three 3x3 feature detectors, pooling, a fully connected layer."""
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 3 * 3, hidden),
                         nn.ReLU(), nn.Linear(hidden, 2))


def train_xo(options: TrainOptions) -> dict[str, Any]:
    """Tell X from O on noisy, shifted 9x9 images (seed 003)."""
    from shenjing.data import xo_images

    return _train_on_tensors("xo", {"hidden": options.hidden or 8}, options, xo_images(400, seed=options.seed),
                             xo_images(200, seed=options.seed + 1), nn.CrossEntropyLoss(), epochs=15,
                             batch_size=32, lr=1e-2)


def _train_on_tensors(name: str, config: dict[str, Any], options: TrainOptions, train: tuple, test: tuple,
                      loss: Any, *, epochs: int, batch_size: int, lr: float, metrics: tuple = ("accuracy",),
                      validation: tuple | None = None, early_stopping: EarlyStopping | None = None) -> dict[str, Any]:
    """Train the model ``name`` with Adam on in-memory ``(inputs, targets)`` (early stopping on
    ``validation`` if given); test, save, report."""
    from shenjing.utils.data import DataLoader, TensorDataset

    shenjing.manual_seed(options.seed)
    model = build_model(name, config)
    generator = shenjing.Generator().manual_seed(options.seed)
    train_loader = DataLoader(TensorDataset(*train), batch_size=options.batch_size or batch_size, shuffle=True,
                              generator=generator)
    test_loader = DataLoader(TensorDataset(*test), batch_size=len(test[1]))
    val_loader = DataLoader(TensorDataset(*validation), batch_size=len(validation[1])) if validation else None
    opt = _optimizer(options, model, "adam", lr)
    history = fit(model, train_loader, loss, opt, options.epochs or epochs, val_data=val_loader, metrics=metrics,
                  early_stopping=early_stopping, progress=options.progress)
    metrics_now = evaluate(model, test_loader, loss, metrics=metrics)
    out = options.out or f"{name}.shenjing"
    save_model(out, name, config, model, metrics_now)
    return {"model": model, "metrics": metrics_now, "history": history, "out": out}


def sine_windows(n: int, steps: int = 20, seed: int = 0) -> tuple[shenjing.Tensor, shenjing.Tensor]:
    """Windows of a sine wave with random phase and frequency: inputs (n, steps, 1), next values (n, 1)."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * math.pi, (n, 1))
    frequency = rng.uniform(0.1, 0.3, (n, 1))
    t = np.arange(steps + 1)[None, :]
    wave = np.sin(frequency * t + phase).astype(np.float32)
    return shenjing.tensor(wave[:, :steps, None]), shenjing.tensor(wave[:, steps:])


def train_rnn(options: TrainOptions) -> dict[str, Any]:
    """The Elman RNN as a sine-wave predictor: 20 past values -> the next one (mean squared error),
    stopping early when the held-out error stops falling."""
    return _train_on_tensors("rnn", {"hidden_size": options.hidden or 32}, options,
                             sine_windows(2000, seed=options.seed), sine_windows(500, seed=options.seed + 1),
                             nn.MSELoss(), epochs=15, batch_size=64, lr=1e-2, metrics=(),
                             validation=sine_windows(500, seed=options.seed + 2),
                             early_stopping=EarlyStopping(patience=4))


def train_perceptron(options: TrainOptions) -> dict[str, Any]:
    """The perceptron rule on AND, OR, NOT and XOR: it converges on the first three, never on XOR."""
    from shenjing.data import logic_gate

    results = {}
    for gate in ("and", "or", "not", "xor"):
        x, y = logic_gate(gate)
        model = Perceptron(x.shape[1])
        history = model.fit(x, y, lr=options.lr or 1.0, epochs=options.epochs or 100)
        results[gate] = {"converged": history.converged, "epochs": history.epochs,
                         "weights": model.weight.tolist(), "bias": model.bias.item(),
                         "accuracy": float((model(x) == y).float().mean().item())}
    return {"gates": results}


def train_xor(options: TrainOptions) -> dict[str, Any]:
    """A sigmoid network learning XOR by backpropagation, written with tensors only."""
    from shenjing.examples.xor import train_xor as run

    result = run(epochs=options.epochs or 3000, lr=options.lr or 2.0, hidden=options.hidden or 4, seed=options.seed,
                 progress=options.progress)
    return {"xor": result}


RECIPES: dict[str, Recipe] = {
    "lenet": Recipe(train_lenet, "LeNet-5 on handwritten digits (the main job)"),
    "mlp": Recipe(train_mlp, "a multi-layer perceptron on handwritten digits"),
    "course-cnn": Recipe(train_course_cnn, "seed 000's CNN on the digits as 3x32x32 images"),
    "xo": Recipe(train_xo, "seed 003's X-vs-O recogniser"),
    "rnn": Recipe(train_rnn, "an Elman RNN predicting a sine wave"),
    "perceptron": Recipe(train_perceptron, "the perceptron rule on AND, OR, NOT and XOR"),
    "xor": Recipe(train_xor, "a sigmoid network learning XOR by backpropagation"),
}
