"""Training recipes behind ``shenjing train MODEL``: the data, the model, the optimiser and schedule
that train each of the course's models well on a laptop CPU, and the model file they write (with the
training history, for ``shenjing curves MODEL_FILE``).

While it trains, a recipe keeps a checkpoint after every epoch (``resume_path``); when training is
interrupted (Ctrl-C) that checkpoint, with the run's settings, is what ``shenjing train MODEL --resume
FILE`` continues from, exactly as the uninterrupted run would have gone on. A loss that stops being a
finite number stops training with ``NonFiniteLoss`` and writes nothing.
"""

from __future__ import annotations

import inspect
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import shenjing
from shenjing import nn
from shenjing.digit_data import MNIST_MEAN, MNIST_STD, NoDigitError, digit_loaders, digit_transform, load_digit_image
from shenjing.registry import MODEL_FORMAT, MODELS, ModelFileError, build_model, load_model, save_model, xor_net
from shenjing.train import EarlyStopping, History, evaluate, fit

__all__ = ["TrainOptions", "Recipe", "RECIPES", "NonFiniteLoss", "TrainingInterrupted", "CHECKPOINT_FORMAT",
           "resume_path", "read_resume_file", "learning_rate", "load_model", "build_model", "save_model",
           "load_digit_image", "digit_loaders", "digit_transform", "sine_windows", "MODEL_FORMAT", "ModelFileError",
           "NoDigitError", "MNIST_MEAN", "MNIST_STD"]

CHECKPOINT_FORMAT = "shenjing-train-checkpoint"
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}


@dataclass
class TrainOptions:
    """Command-line options; ``None`` means the recipe's default. ``resume`` is a checkpoint to continue."""

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
    resume: str | None = None
    compile: bool = True  # shenjing.compile the model (same numbers as eager: not a setting of the run)

    nproc: int = 1  # processes training together (``--nproc``; this is one of them)

    def settings(self) -> dict[str, Any]:
        """What decides the training run (everything but ``progress``, ``resume``, ``compile``, ``nproc``)."""
        return {k: v for k, v in asdict(self).items() if k not in ("progress", "resume", "compile", "nproc")}


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite."""


class TrainingInterrupted(Exception):
    """Ctrl-C during training; ``checkpoint`` is the file to resume from (None if no epoch finished)."""

    def __init__(self, checkpoint: str | None, epochs_done: int) -> None:
        super().__init__(checkpoint)
        self.checkpoint, self.epochs_done = checkpoint, epochs_done


@dataclass(frozen=True)
class Recipe:
    """How ``shenjing train NAME`` trains: the function, and its defaults (shown, and overridable by flags)."""

    train: Callable[[TrainOptions], dict[str, Any]]
    epochs: int
    lr: float
    optimizer: str | None = None  # None: not trained by a shenjing.optim optimiser of the user's choice
    batch_size: int | None = None
    hidden: int | None = None


def learning_rate(options: TrainOptions, recipe: Recipe) -> tuple[float, str]:
    """(learning rate, where it comes from): ``--lr``, else the recipe's own tuned rate for its own
    optimiser, else the chosen optimiser's usual default (PyTorch's: Adam and AdamW 1e-3, SGD 1e-3)."""
    if options.lr is not None:
        return options.lr, "--lr"
    name = options.optimizer or recipe.optimizer
    if name is None or name == recipe.optimizer:
        return recipe.lr, "the recipe's"
    default = inspect.signature(getattr(shenjing.optim, OPTIMIZERS[name])).parameters["lr"].default
    return float(default), f"{OPTIMIZERS[name]}'s default"


def resume_path(out: str) -> str:
    """The checkpoint kept while training towards ``out``: ``lenet.shenjing`` -> ``lenet.checkpoint``."""
    path = Path(out).with_suffix(".checkpoint")
    return str(path) if str(path) != out else out + ".checkpoint"


def read_resume_file(path: str) -> dict[str, Any]:
    """The checkpoint of an interrupted ``shenjing train``: ``fit``'s checkpoint with ``format`` and ``run``
    (the model's name, its config and the run's settings); ModelFileError if ``path`` is something else."""
    state = shenjing.load(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path} is not the checkpoint of an interrupted `shenjing train` run")
    return state


# -- what every recipe shares --------------------------------------------------------------------------

class _FiniteLoss:
    """``loss`` that raises NonFiniteLoss as soon as its value is NaN or infinite."""

    def __init__(self, loss: Callable) -> None:
        self.loss = loss

    def __call__(self, outputs: shenjing.Tensor, targets: shenjing.Tensor) -> shenjing.Tensor:
        value = self.loss(outputs, targets)
        number = float(value.item())
        if not math.isfinite(number):
            raise NonFiniteLoss(f"the loss became {number} (not a finite number)")
        return value


def _optimizer(options: TrainOptions, recipe: Recipe, model: nn.Module) -> Any:
    name = options.optimizer or recipe.optimizer
    lr, _ = learning_rate(options, recipe)
    if name == "sgd":
        return shenjing.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    if name == "adam":
        return shenjing.optim.Adam(model.parameters(), lr=lr)
    if name == "adamw":
        return shenjing.optim.AdamW(model.parameters(), lr=lr)
    raise ValueError(f"unknown optimizer '{name}'; expected sgd, adam or adamw")


def _fit_and_save(name: str, config: dict[str, Any], options: TrainOptions, model: nn.Module, train_loader: Any,
                  test_loader: Any, loss: Callable, optimizer: Any, epochs: int, *, scheduler: Any = None,
                  val_loader: Any = None, metrics: tuple = ("accuracy",),
                  early_stopping: EarlyStopping | None = None) -> dict[str, Any]:
    """fit with a checkpoint after every epoch, test, save the model with its history; on Ctrl-C mark the
    checkpoint resumable and raise TrainingInterrupted; on a non-finite loss remove this run's checkpoint."""
    out = options.out or f"{name}.shenjing"
    module = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    leader = not shenjing.distributed.is_initialized() or shenjing.distributed.get_rank() == 0  # saves the files
    checkpoint = (options.resume or resume_path(out)) if leader else None
    started = time.time()
    guarded = _FiniteLoss(loss)
    try:
        history = fit(model, train_loader, guarded, optimizer, epochs, val_data=val_loader, scheduler=scheduler,
                      metrics=metrics, early_stopping=early_stopping, checkpoint=checkpoint,
                      resume=options.resume is not None, progress=options.progress,
                      compile=options.compile and options.nproc == 1)  # (DDP's forward talks to the other ranks)
    except KeyboardInterrupt:
        ours = checkpoint is not None and os.path.exists(checkpoint) and (options.resume is not None or os.path.getmtime(checkpoint) >= started)
        if not ours:
            raise TrainingInterrupted(None, 0) from None
        state = shenjing.load(checkpoint)
        state.update({"format": CHECKPOINT_FORMAT, "run": {"model": name, "config": config,
                                                          "settings": options.settings()}})
        shenjing.save(state, checkpoint)
        raise TrainingInterrupted(checkpoint, int(state["epoch"])) from None
    except NonFiniteLoss:
        if options.resume is None and checkpoint is not None and os.path.exists(checkpoint) and os.path.getmtime(checkpoint) >= started:
            os.remove(checkpoint)
        raise
    results = evaluate(module, test_loader, guarded, metrics=metrics)
    results["train_loss"] = history["loss"][-1]
    if leader:
        save_model(out, name, config, module, results, history.to_dict())
    if checkpoint is not None and os.path.exists(checkpoint):
        os.remove(checkpoint)
    return {"model": module, "metrics": results, "history": history, "out": out}


def _train_classifier(name: str, config: dict[str, Any], options: TrainOptions, recipe: Recipe) -> dict[str, Any]:
    shenjing.manual_seed(options.seed)
    model = build_model(name, config)
    channels, size = MODELS[name].image
    epochs = options.epochs or recipe.epochs
    train_loader, test_loader = digit_loaders(options, options.batch_size or recipe.batch_size, channels, size)
    if options.nproc > 1:
        model, train_loader = _data_parallel(model, train_loader, options)
    optimizer = _optimizer(options, recipe, model)
    schedule = shenjing.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=optimizer.param_groups[0]["lr"],
                                                       total_steps=epochs * len(train_loader))
    return _fit_and_save(name, config, options, model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer,
                         epochs, scheduler=schedule)


def _data_parallel(model: nn.Module, train_loader: Any, options: TrainOptions) -> tuple[nn.Module, Any]:
    """One of ``options.nproc`` processes (``shenjing train --nproc N``): the model under DistributedDataParallel,
    and a loader of this rank's 1/N share of every batch (the same global batch as one process)."""
    from shenjing.utils.data import DataLoader, DistributedSampler

    if not shenjing.distributed.is_initialized():
        shenjing.distributed.init_process_group("mpi")
    sampler = DistributedSampler(train_loader.dataset, shuffle=True, seed=options.seed)
    loader = DataLoader(train_loader.dataset, batch_size=train_loader.batch_size // options.nproc, sampler=sampler)
    return nn.parallel.DistributedDataParallel(model), loader


def _train_on_tensors(name: str, config: dict[str, Any], options: TrainOptions, recipe: Recipe, train: tuple,
                      test: tuple, loss: Any, *, metrics: tuple = ("accuracy",), validation: tuple | None = None,
                      early_stopping: EarlyStopping | None = None) -> dict[str, Any]:
    """Train the model ``name`` on in-memory ``(inputs, targets)`` (early stopping on ``validation`` if
    given); test, save, report."""
    from shenjing.utils.data import DataLoader, TensorDataset

    shenjing.manual_seed(options.seed)
    model = build_model(name, config)
    generator = shenjing.Generator().manual_seed(options.seed)
    train_loader = DataLoader(TensorDataset(*train), batch_size=options.batch_size or recipe.batch_size,
                              shuffle=True, generator=generator)
    test_loader = DataLoader(TensorDataset(*test), batch_size=len(test[1]))
    val_loader = DataLoader(TensorDataset(*validation), batch_size=len(validation[1])) if validation else None
    return _fit_and_save(name, config, options, model, train_loader, test_loader, loss,
                         _optimizer(options, recipe, model), options.epochs or recipe.epochs, val_loader=val_loader,
                         metrics=metrics, early_stopping=early_stopping)


# -- the recipes -----------------------------------------------------------------------------------

def train_lenet(options: TrainOptions) -> dict[str, Any]:
    """LeNet-5 on the digits: SGD with Nesterov momentum and a one-cycle schedule, small random affine
    augmentation; 14 epochs over the 4,000 bundled training digits (97.5-98.2% on the 1,000 test digits
    for seeds 0-4)."""
    return _train_classifier("lenet", {}, options, RECIPES["lenet"])


def train_mlp(options: TrainOptions) -> dict[str, Any]:
    """A 784-256-128-10 ReLU perceptron network on the digits (``--hidden`` sets the first hidden layer)."""
    config = {"sizes": [784, options.hidden or 256, 128, 10]}
    return _train_classifier("mlp", config, options, RECIPES["mlp"])


def train_course_cnn(options: TrainOptions) -> dict[str, Any]:
    """Seed 000's CNN: the digits as 3x32x32 RGB images (padded, the grey value in all three channels)."""
    return _train_classifier("course-cnn", {}, options, RECIPES["course-cnn"])


def train_xo(options: TrainOptions) -> dict[str, Any]:
    """Tell X from O on noisy, shifted 9x9 images (seed 003)."""
    from shenjing.data import xo_images

    recipe = RECIPES["xo"]
    return _train_on_tensors("xo", {"hidden": options.hidden or recipe.hidden}, options, recipe,
                             xo_images(400, seed=options.seed), xo_images(200, seed=options.seed + 1),
                             nn.CrossEntropyLoss())


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
    recipe = RECIPES["rnn"]
    return _train_on_tensors("rnn", {"hidden_size": options.hidden or recipe.hidden}, options, recipe,
                             sine_windows(2000, seed=options.seed), sine_windows(500, seed=options.seed + 1),
                             nn.MSELoss(), metrics=(), validation=sine_windows(500, seed=options.seed + 2),
                             early_stopping=EarlyStopping(patience=4))


def train_perceptron(options: TrainOptions) -> dict[str, Any]:
    """The perceptron rule on AND, OR, NOT and XOR, each until an epoch without mistakes or ``epochs``:
    it converges on the first three; XOR is not linearly separable, so it never can."""
    from shenjing.data import logic_gate
    from shenjing.models import Perceptron

    recipe = RECIPES["perceptron"]
    epochs = options.epochs or recipe.epochs
    results = {}
    for gate in ("and", "or", "not", "xor"):
        x, y = logic_gate(gate)
        model = Perceptron(x.shape[1])
        history = model.fit(x, y, lr=options.lr or recipe.lr, epochs=epochs)
        results[gate] = {"converged": history.converged, "epochs": history.epochs,
                         "weights": model.weight.tolist(), "bias": model.bias.item(),
                         "accuracy": float((model(x) == y).float().mean().item())}
    return {"gates": results, "epochs": epochs}


def train_xor(options: TrainOptions) -> dict[str, Any]:
    """Seed 004's XOR network (``registry.xor_net``) by backpropagation: full-batch gradient descent on the
    accumulated error E = 1/2 sum((y - t)^2) over the four patterns, w <- w - lr dE/dw."""
    from tqdm import tqdm

    from shenjing.examples.xor import INPUTS, TARGETS

    recipe = RECIPES["xor"]
    epochs, lr = options.epochs or recipe.epochs, options.lr or recipe.lr
    config = {"hidden": options.hidden or recipe.hidden}
    shenjing.manual_seed(options.seed)
    model = xor_net(**config)
    x, t = shenjing.tensor(INPUTS), shenjing.tensor(TARGETS)
    optimizer = shenjing.optim.SGD(model.parameters(), lr=lr)
    error = _FiniteLoss(lambda y, target: ((y - target) ** 2).sum() / 2)
    history, every = History(), max(1, epochs // 100)
    for epoch in tqdm(range(1, epochs + 1), desc="xor", disable=not options.progress, leave=False):
        y = model(x)
        loss = error(y, t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % every == 0 or epoch in (1, epochs):
            correct = ((y.detach() > 0.5) == (t > 0.5)).float().mean().item()
            history.epochs.append({"epoch": epoch, "loss": loss.item(), "accuracy": correct, "lr": lr})
    model.eval()
    with shenjing.no_grad():
        predictions = model(x).reshape(-1).tolist()
        final = error(model(x), t).item()
    accuracy = sum((p > 0.5) == (target[0] > 0.5) for p, target in zip(predictions, TARGETS)) / len(TARGETS)
    out = options.out or "xor.shenjing"
    save_model(out, "xor", config, model, {"loss": final, "accuracy": accuracy}, history.to_dict())
    return {"model": model, "history": history, "predictions": predictions, "inputs": INPUTS,
            "metrics": {"loss": final, "accuracy": accuracy}, "first_loss": history.epochs[0]["loss"], "out": out}


RECIPES: dict[str, Recipe] = {
    "lenet": Recipe(train_lenet, epochs=14, lr=0.05, optimizer="sgd", batch_size=64),
    "mlp": Recipe(train_mlp, epochs=10, lr=2e-3, optimizer="adam", batch_size=64, hidden=256),
    "course-cnn": Recipe(train_course_cnn, epochs=10, lr=3e-3, optimizer="adam", batch_size=64),
    "xo": Recipe(train_xo, epochs=15, lr=1e-2, optimizer="adam", batch_size=32, hidden=8),
    "rnn": Recipe(train_rnn, epochs=15, lr=1e-2, optimizer="adam", batch_size=64, hidden=32),
    "perceptron": Recipe(train_perceptron, epochs=100, lr=1.0),
    "xor": Recipe(train_xor, epochs=3000, lr=2.0, hidden=4),
}
