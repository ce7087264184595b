"""The learning-rate scheduler base class, in PyTorch's chainable form.

A scheduler's ``get_lr()`` computes the next rates from the rates now in the groups (the chainable form,
so that two schedulers can act on one optimiser one after the other); where a closed form exists,
``_get_closed_form_lr()`` computes them from ``base_lrs`` and the epoch alone (used by the deprecated
``step(epoch)``). The constructor records each group's 'initial_lr' and takes a first step (epoch 0),
during which ``_is_initial`` is True. ``state_dict()`` holds every attribute but the optimiser, as
PyTorch's does.
"""

from __future__ import annotations

import copy
import functools
import warnings
import weakref
from typing import Any

from shenjing.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "EPOCH_DEPRECATION_WARNING"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. "
    "Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from "
    "None, the closed form is used instead of the new chainable form, where available. Please open an issue if "
    "you are unable to replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose."
)


class LRScheduler:
    """Base class: remembers each group's initial lr (``base_lrs``) and sets ``group['lr']`` on every
    ``step()``; subclasses define ``get_lr()``. Call ``scheduler.step()`` after ``optimizer.step()``
    (PyTorch's warning says so when the order is reversed)."""

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming scheduler with "
                        f"last_epoch >= 0.\nThis typically happens when:\n1. You're trying to resume training from a "
                        f"checkpoint but haven't properly loaded the optimizer state\n2. You're using last_epoch >= 0 "
                        f"for a fresh training run (not recommended)")
        self.base_lrs: list[float] = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the first step (epoch ``last_epoch + 1``)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The next learning rate of every group (inside ``step``; use ``get_last_lr`` to read them)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per group."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (``epoch``, deprecated: jump to that epoch, by the closed form where there is one)."""
        if self._step_count == 1:
            if not getattr(self.optimizer.step, "_wrapped_by_lr_sched", False):
                warnings.warn("Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                              "initialization. Please, make sure to call `optimizer.step()` before "
                              "`lr_scheduler.step()`. See more details at "
                              "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                              UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 "
                              "and later, you should call them in the opposite order: `optimizer.step()` before "
                              "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first "
                              "value of the learning rate schedule. See more details at "
                              "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                              UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        set_group_values(self.optimizer, "lr", values)
        self._last_lr = group_values(self.optimizer, "lr")

    def _warn_if_called_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=3)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimiser."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by ``state_dict()``."""
        self.__dict__.update(state_dict)


def group_values(optimizer: Optimizer, key: str) -> list[Any]:
    """``group[key]`` of every group (KeyError where a group has none)."""
    return [group[key] for group in optimizer.param_groups]


def set_group_values(optimizer: Optimizer, key: str, values: list[Any]) -> None:
    groups = optimizer.param_groups
    if len(values) != len(groups):
        raise ValueError(f"expected {len(groups)} values of {key!r}, one per parameter group, got {len(values)}")
    for group, value in zip(groups, values):
        group[key] = value


def per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """``value`` for every group: a list or tuple as given (one per group), anything else repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. {name} has {len(value)} "
                             f"values, param_groups has {len(optimizer.param_groups)}.")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _track_optimizer_steps(optimizer: Optimizer) -> None:
    """Make ``optimizer.step`` record that it ran (``optimizer._opt_called``), for the warning about
    stepping the scheduler first. (hack!) As PyTorch does, this replaces the step method of this one
    optimiser object, whatever its class, by a wrapper (``_StepTracker``)."""
    if getattr(optimizer.step, "_wrapped_by_lr_sched", False):
        return
    optimizer.step = _StepTracker(optimizer, optimizer.step.__func__)  # type: ignore[method-assign]


class _StepTracker:
    """An optimiser's step method that sets ``_opt_called`` first. It holds the optimiser weakly, and a
    deep copy of the optimiser gets a tracker of its own (not one that steps the original)."""

    _wrapped_by_lr_sched = True

    def __init__(self, optimizer: Optimizer, method: Any) -> None:
        self._optimizer_ref = weakref.ref(optimizer)
        self._method = method
        functools.update_wrapper(self, method)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        owner = self._optimizer_ref()
        owner._opt_called = True
        return self._method(owner, *args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> "_StepTracker":
        return _StepTracker(copy.deepcopy(self._optimizer_ref(), memo), self._method)
