"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """w <- w - lr * g, where g = grad + weight_decay * w, or with momentum
    b <- momentum * b + (1 - dampening) * g and g <- b (or g + momentum * b with ``nesterov``).

    >>> import shenjing
    >>> w = shenjing.tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([0.7000], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        # in place, without temporaries of the parameter's size beyond one reused scratch array
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                buffer = self._buffer(state, "momentum_buffer", param)
                buffer[...] = grad
            else:
                buffer = state["momentum_buffer"]._data
                buffer *= momentum
                if group["dampening"]:
                    buffer += (1.0 - group["dampening"]) * grad
                else:
                    buffer += grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        step = self._scratch(param)
        np.multiply(grad, -group["lr"], out=step)
        param += step
