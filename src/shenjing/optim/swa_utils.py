"""Weight averaging (Izmailov et al., 2018, "Averaging Weights Leads to Wider Optima"): a running average
of a model's weights (SWA: the equal-weight mean; EMA: an exponential moving average), the SWALR
schedule that anneals to a constant SWA learning rate, and ``update_bn`` to recompute the BatchNorm
statistics of the averaged weights.

>>> import shenjing
>>> model = shenjing.nn.Linear(2, 1)
>>> swa_model = AveragedModel(model)
>>> for _ in range(3):
...     with shenjing.no_grad():
...         model.weight += 1.0
...     swa_model.update_parameters(model)
>>> int(swa_model.n_averaged)
3
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import shenjing
from shenjing._tensor import Tensor
from shenjing.nn.modules.module import Module
from shenjing.nn.modules.normalization import _BatchNorm
from shenjing.optim._lr_base import LRScheduler, per_group
from shenjing.optim.optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]

ParamList = Sequence[Tensor]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[ParamList, ParamList, Any], None]:
    """An in-place EMA update of a list of averages: a <- a + (1 - decay) (w - a) (a lerp)."""
    _check_decay(decay)

    def ema_update(ema_params: ParamList, current_params: ParamList, _: Any) -> None:
        for average, current in zip(ema_params, current_params):
            if np.issubdtype(average._data.dtype, np.floating):
                _lerp_into(average._data, current._data, 1 - decay)
            else:
                average._data[...] = average._data * decay + current._data * (1 - decay)
            average._bump_version()

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[ParamList, ParamList, Any], None]:
    """An in-place equal-weight update of a list of averages over n models: a <- a + (w - a) / (n + 1)
    (a lerp). Integer tensors are refused, as PyTorch's (whose integer division there is an error)."""

    def swa_update(averaged_params: ParamList, current_params: ParamList, num_averaged: Any) -> None:
        count = float(num_averaged)
        for average, current in zip(averaged_params, current_params):
            if not np.issubdtype(average._data.dtype, np.floating):
                raise RuntimeError(f"get_swa_multi_avg_fn: cannot average a tensor of dtype {average.dtype} (an "
                                   f"integer buffer such as BatchNorm's num_batches_tracked, with use_buffers=True): "
                                   f"integer division is not supported, as in PyTorch")
            _lerp_into(average._data, current._data, 1 / (count + 1))
            average._bump_version()

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The EMA of one parameter: decay * a + (1 - decay) * w (a new tensor)."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with shenjing.no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The equal-weight average of one parameter over n + 1 models: a + (w - a) / (n + 1) (a new tensor)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with shenjing.no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def _lerp_into(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start <- lerp(start, end, weight), as PyTorch's lerp computes it (from the nearer end)."""
    difference = end - start
    if abs(weight) < 0.5:
        start += weight * difference
    else:
        start[...] = end - difference * (1 - weight)


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are the running average
    of the weights passed to ``update_parameters``: the equal-weight mean by default, or ``avg_fn``
    (one tensor at a time, returning the new average) / ``multi_avg_fn`` (in place, a list at a time).
    ``n_averaged`` counts the models averaged; calling the averaged model runs the copy."""

    def __init__(self, model: Module, device: Any = None,
                 avg_fn: Callable[[Tensor, Tensor, Any], Tensor] | None = None,
                 multi_avg_fn: Callable[[ParamList, ParamList, Any], None] | None = None,
                 use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", shenjing.tensor(0, dtype=shenjing.long))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        if self.use_buffers:
            averages = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            currents = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            averages, currents = list(self.parameters()), list(model.parameters())
        pairs = [(average.detach(), current.detach()) for average, current in zip(averages, currents)]
        count = int(self.n_averaged.item())
        if count == 0:
            for average, current in pairs:
                average._data[...] = current._data
                average._bump_version()
        else:
            if self.multi_avg_fn is not None:  # called once per dtype, as PyTorch groups the tensors
                by_dtype: dict[np.dtype, tuple[list[Tensor], list[Tensor]]] = {}
                for average, current in pairs:
                    run = by_dtype.setdefault(average._data.dtype, ([], []))
                    run[0].append(average)
                    run[1].append(current)
                for run_averaged, run_latest in by_dtype.values():
                    self.multi_avg_fn(run_averaged, run_latest, self.n_averaged)
            elif self.avg_fn is None:  # the equal-weight mean, a + (w - a) / (n + 1), as PyTorch's on a CPU
                for average, current in pairs:
                    average._data[...] = average._data + (current._data - average._data) / (count + 1)
                    average._bump_version()
            else:
                for average, current in pairs:
                    average._data[...] = self.avg_fn(average, current, self.n_averaged)._data
                    average._bump_version()
        if not self.use_buffers:
            for own, theirs in zip(self.module.buffers(), model.buffers()):
                own._data[...] = theirs._data
                own._bump_version()
        self.n_averaged._data[...] = count + 1
        self.n_averaged._bump_version()


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the running mean and variance of every BatchNorm layer of ``model`` over one pass of
    ``loader`` (the cumulative average over its batches; a batch that is a list or tuple gives its first
    element), as the averaged weights need; the layers' momenta and the model's mode are restored."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with shenjing.no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` epochs (cosine or linear), then hold it:
    lr_t = swa_lr * alpha_t + lr_0 * (1 - alpha_t), alpha_t = anneal(t / anneal_epochs).

    >>> import shenjing
    >>> opt = shenjing.optim.SGD([shenjing.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> scheduler = SWALR(opt, swa_lr=0.1, anneal_epochs=3, anneal_strategy="linear")
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(round(scheduler.get_last_lr()[0], 4)); opt.step(); scheduler.step()
    >>> lrs
    [1.0, 0.7, 0.4, 0.1, 0.1, 0.1]
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list[float], anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for value, group in zip(per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        """The weight of swa_lr at the fraction ``t`` of the annealing."""
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The lr_0 that gave ``lr`` at weight ``alpha`` (so the schedule is chainable)."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        previous_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        initial = [self._get_initial_lr(group["lr"], group["swa_lr"], previous_alpha) for group in groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(groups, initial)]
