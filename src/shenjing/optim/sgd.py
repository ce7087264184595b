"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer, check_fused
from shenjing.optim.optimizer import (check_foreach, check_non_negative, check_real, effective_grad,
                                     scalars)

__all__ = ["SGD"]


class SGD(FlaggedOptimizer):
    """w <- w - lr g, where g = grad + weight_decay w (negated first with ``maximize``); with momentum,
    b <- momentum b + (1 - dampening) g (b = g on the first step) and g <- b, or g + momentum b with
    ``nesterov``. State: 'momentum_buffer' (only with momentum, as in PyTorch).

    >>> import shenjing
    >>> w = shenjing.tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([0.7000], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None) -> None:
        check_fused(fused, foreach, differentiable)
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("momentum value", options["momentum"])
        check_real("dampening value", options["dampening"])
        check_non_negative("weight_decay value", options["weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_foreach(options)

    def _uses_state(self, group: dict[str, Any]) -> bool:
        return group["momentum"] != 0

    _buffered_before: set | None = None  # during a step of a group with a parameter twice (see step)

    def step(self, closure: Any = None) -> Any:
        """One update. A parameter given twice is updated twice, as in PyTorch, which decides whether to
        start its momentum buffer from the state before the step: both copies start one on the first step."""
        if not self._has_duplicates:
            return super().step(closure)
        self._buffered_before = {id(s) for s in self.state.values() if s.get("momentum_buffer") is not None}
        try:
            return super().step(closure)
        finally:
            self._buffered_before = None

    def _starts_buffer(self, state: dict[str, Any]) -> bool:
        if self._buffered_before is not None:
            return id(state) not in self._buffered_before
        return state.get("momentum_buffer") is None

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            if self._starts_buffer(state):
                state["momentum_buffer"] = Tensor._make(np.array(grad))  # (a copy, an array even for a 0-d grad)
                buffer = state["momentum_buffer"]._data
            else:
                buffer = state["momentum_buffer"]._data
                buffer *= momentum
                buffer += (1 - dampening) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param -= lr * grad

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[Any],
                      group: dict[str, Any]) -> None:
        lr, momentum, undamped, weight_decay = scalars(params[0].dtype, group["lr"], group["momentum"],
                                                       1 - float(group["dampening"]), group["weight_decay"])
        maximize, regularize = group["maximize"], group["maximize"] or group["weight_decay"] != 0
        uses_momentum, damped, nesterov = group["momentum"] != 0, group["dampening"] != 0, group["nesterov"]
        work = self._scratch.get
        for param, grad, state in zip(params, grads, states):
            step = work(1, param)
            if regularize:
                grad = effective_grad(grad, param, weight_decay, maximize, work(0, param))
            if uses_momentum:
                buffer = state.get("momentum_buffer")
                if buffer is None or self._buffered_before is not None and self._starts_buffer(state):
                    state["momentum_buffer"] = Tensor._make(np.array(grad))  # (a copy, an array even for a 0-d grad)
                    buffer = state["momentum_buffer"]._data
                else:
                    buffer = buffer._data
                    np.multiply(buffer, momentum, buffer)
                    if damped:
                        buffer += np.multiply(grad, undamped, step)
                    else:
                        np.add(buffer, grad, buffer)  # (1 - 0) * grad is grad, to the bit
                if nesterov:
                    grad = np.add(grad, np.multiply(buffer, momentum, step), step)
                else:
                    grad = buffer
            np.subtract(param, np.multiply(grad, lr, step), param)
