"""Training and evaluation loops: ``fit`` and ``evaluate``.

``fit`` runs epochs of mini-batch training with a progress bar, validation, metrics, a learning-rate
schedule, early stopping (seed 004's 早停: stop when the validation loss has not improved for
``patience`` epochs, and restore the best weights) and a checkpoint written after every epoch, from
which ``fit(..., resume=True)`` continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

from shenjing import _random
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.compiler import compile as compile_model
from shenjing.nn.modules.module import Module

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "accuracy"]


def accuracy(outputs: Tensor, targets: Tensor) -> float:
    """Fraction of correct predictions: argmax over classes, or ``output > 0`` for one logit per sample."""
    if outputs.ndim >= 2 and outputs.shape[1] > 1:
        predicted = outputs.argmax(1)
    else:
        predicted = (outputs.reshape(targets.shape) > 0).long()
    return float((predicted == targets.long()).float().mean().item())


METRICS: dict[str, Callable[[Tensor, Tensor], float]] = {"accuracy": accuracy}


@dataclass
class History:
    """One dict per epoch (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``).

    ``history['val_loss']`` lists one value per epoch.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    def __getitem__(self, key: str) -> list[float]:
        return [entry[key] for entry in self.epochs if key in entry]

    def __len__(self) -> int:
        return len(self.epochs)

    def __str__(self) -> str:
        """A short table: every column of the first three and the last two epochs.

        >>> print(History([{"epoch": 1, "loss": 0.6931, "lr": 0.1}, {"epoch": 2, "loss": 0.5, "lr": 0.1}]))
        History of 2 epochs
        epoch    loss   lr
            1  0.6931  0.1
            2     0.5  0.1
        """
        notes = [f"stopped early, best epoch {self.best_epoch}" if self.stopped_early else "",
                 f"best epoch {self.best_epoch}" if self.best_epoch is not None and not self.stopped_early else ""]
        note = "; ".join(n for n in notes if n)
        title = f"History of {len(self.epochs)} epoch{'s' * (len(self.epochs) != 1)}" + (f" ({note})" if note else "")
        if not self.epochs:
            return title
        columns = list(dict.fromkeys(key for entry in self.epochs for key in entry))
        shown: list[dict[str, Any] | None] = list(self.epochs)
        if len(shown) > 6:
            shown = shown[:3] + [None] + shown[-2:]
        cells = [[_cell(entry.get(c)) if entry is not None else "..." for c in columns] for entry in shown]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        lines = [title, "  ".join(c.rjust(w) for c, w in zip(columns, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "stopped_early": self.stopped_early, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        return cls([dict(e) for e in data["epochs"]], bool(data["stopped_early"]), data["best_epoch"])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` the model gets back the weights of its best epoch when training stops.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, monitor: str = "val_loss", mode: str = "min",
                 restore_best: bool = True) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta, self.monitor, self.mode = patience, min_delta, monitor, mode
        self.restore_best = restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.waited = 0

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, value: float, model: Module) -> bool:
        """Record this epoch's value; True when training should stop."""
        if self.improved(value):
            self.best, self.best_epoch, self.waited = value, epoch, 0
            if self.restore_best:
                self.best_state = {k: v.clone() for k, v in model.state_dict().items()}
            return False
        self.waited += 1
        return self.waited > self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "waited": self.waited,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.waited = float(state["best"]), state["best_epoch"], int(state["waited"])
        self.best_state = state["best_state"]


def _metric_functions(metrics: Sequence[Any]) -> dict[str, Callable]:
    functions = {}
    for metric in metrics:
        if callable(metric):
            functions[getattr(metric, "__name__", "metric")] = metric
        elif metric in METRICS:
            functions[metric] = METRICS[metric]
        else:
            raise ValueError(f"unknown metric {metric!r}; give a callable or one of {', '.join(METRICS)}")
    return functions


def _batches(data: Any) -> Iterable:
    if hasattr(data, "__iter__"):
        return data
    raise TypeError(f"expected a DataLoader or an iterable of (inputs, targets) batches, got {type(data).__name__}")


def evaluate(model: Module, data: Any, loss: Callable | None = None,
             metrics: Sequence[Any] = ("accuracy",), progress: bool = False) -> dict[str, float]:
    """Average loss and metrics over ``data`` in eval mode without recording gradients."""
    functions = _metric_functions(metrics)
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    with no_grad():
        for inputs, targets in tqdm(_batches(data), desc="evaluate", disable=not progress, leave=False):
            outputs = model(inputs)
            size = len(targets)
            if loss is not None:
                totals["loss"] = totals.get("loss", 0.0) + float(loss(outputs, targets).item()) * size
            for name, function in functions.items():
                totals[name] = totals.get(name, 0.0) + function(outputs, targets) * size
            count += size
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the data gave no batches")
    return {name: total / count for name, total in totals.items()}


_GENERATOR_HOLDERS = ("generator", "sampler", "batch_sampler")


def data_generators(data: Any) -> dict[str, _random.Generator]:
    """Every ``Generator`` reachable from a DataLoader, by where it sits: the loader's own
    (``"generator"``), its sampler's (``"sampler.generator"``), its batch sampler's and that one's sampler's
    (``"batch_sampler.sampler.generator"``), ... Resuming restores each, so shuffling continues exactly.
    """
    found: dict[str, _random.Generator] = {}

    def visit(holder: Any, where: str, depth: int) -> None:
        for name in _GENERATOR_HOLDERS:
            value = getattr(holder, name, None)
            if value is None or isinstance(value, (str, bytes, int, float)):
                continue
            path = f"{where}{name}"
            if isinstance(value, _random.Generator):
                found[path] = value
            elif depth < 4:
                visit(value, path + ".", depth + 1)

    visit(data, "", 0)
    return found


def _save_checkpoint(path: str, model: Module, optimizer: Any, scheduler: Any, epoch: int, history: History,
                     early_stopping: EarlyStopping | None, generators: dict[str, Any]) -> None:
    from shenjing.serialization import save

    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "optimizer_type": type(optimizer).__name__,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scheduler_type": type(scheduler).__name__ if scheduler is not None else None,
        "history": history.to_dict(),
        "early_stopping": early_stopping.state_dict() if early_stopping is not None else None,
        "rng_state": _random.get_rng_state(),
        "data_rng_states": {where: generator.get_state() for where, generator in generators.items()},
    }
    save(state, path)


def fit(model: Module, train_data: Any, loss: Callable, optimizer: Any, epochs: int, val_data: Any = None,
        scheduler: Any = None, metrics: Sequence[Any] = ("accuracy",), early_stopping: EarlyStopping | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
        compile: bool = False) -> History:
    """Train ``model`` for ``epochs`` epochs and return the ``History``.

    ``train_data`` and ``val_data`` are DataLoaders (or any iterables of ``(inputs, targets)``).
    ``scheduler`` steps once per epoch (``OneCycleLR``: once per batch; ``ReduceLROnPlateau``: with the
    validation loss, or the training loss without validation). ``checkpoint`` is a file written
    atomically after every epoch (model, optimiser, scheduler, epoch, history, and the state of the default
    generator and of every generator reachable from ``train_data``: the loader's, its sampler's, its batch
    sampler's); with ``resume=True`` and an existing checkpoint, training continues after its last epoch,
    bit-exactly as an uninterrupted run. A file that is not a ``fit()`` checkpoint (a plain state_dict), or
    one written with another kind of optimiser or scheduler, raises ``CheckpointError`` saying so.
    ``compile=True`` runs the training steps through ``shenjing.compile(model)`` (the same numbers).
    """
    from shenjing.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau

    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    functions = _metric_functions(metrics)
    per_batch_schedule = isinstance(scheduler, OneCycleLR)
    run = compile_model(model) if compile else model
    generators = data_generators(train_data)
    history = History()
    first_epoch = 1
    if resume and checkpoint is not None and os.path.exists(checkpoint):
        first_epoch = _resume(checkpoint, model, optimizer, scheduler, early_stopping, generators, history)
    for epoch in range(first_epoch, epochs + 1):
        started = time.perf_counter()
        model.train()
        sampler = getattr(train_data, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # a DistributedSampler: this epoch's order, the same on every rank
            sampler.set_epoch(epoch)
        totals = {name: 0.0 for name in ["loss", *functions]}
        count = 0
        bar = tqdm(_batches(train_data), desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=True,
                   unit="batch", dynamic_ncols=True)
        for inputs, targets in bar:
            outputs = run(inputs)
            batch_loss = loss(outputs, targets)
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            if per_batch_schedule:
                scheduler.step()
            size = len(targets)
            count += size
            totals["loss"] += float(batch_loss.item()) * size
            for name, function in functions.items():
                totals[name] += function(outputs.detach(), targets) * size
            bar.set_postfix({name: f"{total / count:.4f}" for name, total in totals.items()}, refresh=False)
        if count == 0:
            raise ValueError("fit: the training data gave no batches")
        entry = {"epoch": epoch, **{name: total / count for name, total in totals.items()},
                 "lr": optimizer.param_groups[0]["lr"]}
        if val_data is not None:
            entry.update({f"val_{k}": v for k, v in evaluate(model, val_data, loss, metrics).items()})
        if scheduler is not None and not per_batch_schedule:
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(entry.get("val_loss", entry["loss"]))
            else:
                scheduler.step()
        entry["seconds"] = time.perf_counter() - started
        history.epochs.append(entry)
        if progress:
            bar.write("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()))
        stop = False
        if early_stopping is not None:
            if early_stopping.monitor not in entry:
                raise ValueError(f"early stopping monitors '{early_stopping.monitor}', which this run does not "
                                 f"compute (available: {', '.join(entry)}); pass val_data for val_loss")
            stop = early_stopping.update(epoch, entry[early_stopping.monitor], model)
            history.best_epoch = early_stopping.best_epoch
        if checkpoint is not None:
            _save_checkpoint(os.fspath(checkpoint), model, optimizer, scheduler, epoch, history, early_stopping,
                             generators)
        if stop:
            history.stopped_early = True
            break
    if early_stopping is not None and early_stopping.restore_best and early_stopping.best_state is not None:
        model.load_state_dict(early_stopping.best_state)
    return history


_TRAINING_KEYS = ("epoch", "model", "optimizer", "history", "rng_state")


def _check_training_checkpoint(path: Any, state: Any, optimizer: Any, scheduler: Any) -> None:
    """A clear error when the file is not a fit() checkpoint or was written for another optimiser/scheduler."""
    from shenjing.serialization import CheckpointError

    name = f"'{os.fspath(path)}'"
    if not isinstance(state, dict) or any(key not in state for key in _TRAINING_KEYS):
        keys = list(state)[:6] if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"fit(resume=True): {name} is not a training checkpoint written by fit() (expected the keys "
            f"{', '.join(_TRAINING_KEYS)}; found {keys}). A model's state_dict is loaded with "
            f"model.load_state_dict(shenjing.load(path)); to start training afresh, pass resume=False or "
            f"another checkpoint path")
    saved = state.get("optimizer_type")
    if saved is not None and saved != type(optimizer).__name__:
        raise CheckpointError(f"fit(resume=True): {name} holds the state of a {saved} optimiser, but this run "
                              f"uses {type(optimizer).__name__}; resume with a {saved}, or start afresh with "
                              f"resume=False or another checkpoint path")
    saved = state.get("scheduler_type")
    if saved is not None and scheduler is not None and saved != type(scheduler).__name__:
        raise CheckpointError(f"fit(resume=True): {name} holds the state of a {saved} scheduler, but this run "
                              f"uses {type(scheduler).__name__}; resume with a {saved}, or start afresh")


def _resume(path: Any, model: Module, optimizer: Any, scheduler: Any, early_stopping: EarlyStopping | None,
            generators: dict[str, Any], history: History) -> int:
    """Restore everything a checkpoint holds; returns the first epoch still to run."""
    from shenjing.serialization import load

    state = load(path)
    _check_training_checkpoint(path, state, optimizer, scheduler)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if early_stopping is not None and state.get("early_stopping") is not None:
        early_stopping.load_state_dict(copy.deepcopy(state["early_stopping"]))
    _random.set_rng_state(state["rng_state"])
    saved_states = state.get("data_rng_states")
    if saved_states is None and state.get("loader_rng_state") is not None:  # checkpoints of older versions
        saved_states = {"generator": state["loader_rng_state"]}
    saved_states = saved_states or {}
    for where, generator in generators.items():
        if where in saved_states:
            generator.set_state(saved_states[where])
    missing = sorted(set(generators) - set(saved_states))
    if missing:
        warnings.warn(f"fit(resume=True): the checkpoint {os.fspath(path)!r} has no state for the data's "
                      f"random generator(s) {', '.join(missing)} (it was written with another DataLoader "
                      f"setup); shuffling will not continue exactly", stacklevel=3)
    restored = History.from_dict(state["history"])
    history.epochs, history.stopped_early, history.best_epoch = restored.epochs, restored.stopped_early, \
        restored.best_epoch
    return int(state["epoch"]) + 1
