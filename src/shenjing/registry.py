"""The course's models by name: one table that ``shenjing train``, ``evaluate``, ``predict``, ``summary``,
``graph``, ``gradcheck``, ``featuremaps`` and ``curves`` all read, and the model file ``shenjing train``
writes.

Each entry says how to build the model from its saved configuration, what one input looks like (without
the batch dimension), how many classes it tells apart (``None`` for a regression output), which flags of
``shenjing train`` it uses, and how to say its test results in words.

A model file is a ``shenjing.save`` checkpoint: ``{"format": "shenjing-model", "model": name,
"config": {...}, "state_dict": {...}, "metrics": {...}, "history": History.to_dict()}``.

>>> entry = MODELS["course-cnn"]
>>> entry.input_size, entry.classes
((3, 32, 32), 10)
>>> entry.describe({"accuracy": 0.979, "loss": 0.0712})
'test accuracy 97.90%, loss 0.0712'
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import shenjing
from shenjing import nn

__all__ = ["ModelEntry", "MODELS", "MODEL_FORMAT", "ModelFileError", "build_model", "save_model", "load_model",
           "TRAIN_FLAGS"]

MODEL_FORMAT = "shenjing-model"

# the flags of `shenjing train` that change what is trained (argparse's names); --quiet goes with every model
TRAIN_FLAGS = ("epochs", "batch_size", "lr", "optimizer", "hidden", "seed", "out", "data_dir", "download", "resume")
_FIT = frozenset({"epochs", "batch_size", "lr", "optimizer", "seed", "out", "resume"})
_DIGIT_DATA = frozenset({"data_dir", "download"})


class ModelFileError(ValueError):
    """A file that is not a model file written by ``shenjing train``."""


def _accuracy_and_loss(metrics: dict[str, float]) -> str:
    parts = []
    if "accuracy" in metrics:
        parts.append(f"test accuracy {metrics['accuracy']:.2%}")
    if "loss" in metrics:
        parts.append(f"loss {metrics['loss']:.4f}")
    return ", ".join(parts) or "no test metrics saved"


def _mean_squared_error(metrics: dict[str, float]) -> str:
    return f"test mean squared error {metrics['loss']:.4f}" if "loss" in metrics else "no test metrics saved"


@dataclass(frozen=True)
class ModelEntry:
    """One model of the course: how to build it, its input and output, and what ``train`` may change."""

    name: str
    description: str
    build: Callable[..., nn.Module]
    input_size: tuple[int, ...]
    classes: int | None
    train_flags: frozenset[str]
    default_config: dict[str, Any] = field(default_factory=dict)
    image: tuple[int, int] | None = None  # (channels, size) of a digit model's images
    describe: Callable[[dict[str, float]], str] = _accuracy_and_loss
    saved: bool = True  # whether `shenjing train` writes a model file

    def make(self, config: dict[str, Any] | None = None) -> nn.Module:
        """A fresh model with ``config`` (default: the entry's default configuration)."""
        return self.build(**{**self.default_config, **(config or {})})


def xo_net(hidden: int = 8) -> nn.Module:
    """The X-vs-O network of seed 003: three 3x3 feature detectors, pooling, a fully connected layer."""
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 3 * 3, hidden),
                         nn.ReLU(), nn.Linear(hidden, 2))


def xor_net(hidden: int = 4) -> nn.Module:
    """Seed 004's XOR network trained by backpropagation: 2 -> ``hidden`` sigmoid -> 1 sigmoid, every
    weight and bias drawn uniformly from [-1, 1] (the notes' 2-2-1 net gets stuck for some starting
    weights; four hidden units converge from every seed tried)."""
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, hidden)), ("sigmoid1", nn.Sigmoid()),
                                       ("output", nn.Linear(hidden, 1)), ("sigmoid2", nn.Sigmoid())]))
    with shenjing.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-1.0, 1.0)
    return model


def _models() -> dict[str, ModelEntry]:
    from shenjing.models import MLP, CourseCNN, ElmanRNN, LeNet5, Perceptron

    entries = [
        ModelEntry("lenet", "LeNet-5 on handwritten digits (the main job)", LeNet5, (1, 28, 28), 10,
                   _FIT | _DIGIT_DATA, image=(1, 28)),
        ModelEntry("mlp", "a 784-256-128-10 ReLU network on handwritten digits", MLP, (1, 28, 28), 10,
                   _FIT | _DIGIT_DATA | {"hidden"}, {"sizes": [784, 256, 128, 10]}, image=(1, 28)),
        ModelEntry("course-cnn", "seed 000's CNN on the digits as 3x32x32 images", CourseCNN, (3, 32, 32), 10,
                   _FIT | _DIGIT_DATA, image=(3, 32)),
        ModelEntry("xo", "seed 003's X-vs-O recogniser on noisy 9x9 images", xo_net, (1, 9, 9), 2,
                   _FIT | {"hidden"}),
        ModelEntry("rnn", "an Elman RNN predicting the next value of a sine wave", ElmanRNN, (20, 1), None,
                   _FIT | {"hidden"}, describe=_mean_squared_error),
        ModelEntry("perceptron", "the perceptron rule on AND, OR, NOT and XOR", Perceptron, (2,), None,
                   frozenset({"epochs", "lr"}), {"in_features": 2}, saved=False),
        ModelEntry("xor", "seed 004's 2-4-1 sigmoid network learning XOR by backpropagation", xor_net, (2,), None,
                   frozenset({"epochs", "lr", "hidden", "seed", "out"})),
    ]
    return {entry.name: entry for entry in entries}


MODELS: dict[str, ModelEntry] = _models()


def build_model(name: str, config: dict[str, Any]) -> nn.Module:
    """The model named ``name`` (as in ``shenjing train NAME``) with ``config``."""
    if name not in MODELS:
        raise ModelFileError(f"unknown model '{name}'; known models: {', '.join(MODELS)}")
    return MODELS[name].make(config)


def save_model(path: str, name: str, config: dict[str, Any], model: nn.Module, metrics: dict[str, float],
               history: dict[str, Any] | None = None) -> None:
    """Write a model file (atomically: an existing file is replaced only once the new one is complete)."""
    contents: dict[str, Any] = {"format": MODEL_FORMAT, "model": name, "config": config,
                                "state_dict": model.state_dict(), "metrics": metrics}
    if history is not None:
        contents["history"] = history
    shenjing.save(contents, path)


def load_model(path: str) -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, the whole model file) from a file written by ``shenjing train``."""
    contents = shenjing.load(path)
    if not isinstance(contents, dict) or contents.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is a shenjing checkpoint but not a model file written by `shenjing train`")
    model = build_model(contents["model"], dict(contents["config"]))
    model.load_state_dict(contents["state_dict"])
    model.eval()
    return model, contents
