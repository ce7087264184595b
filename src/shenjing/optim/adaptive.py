"""Per-parameter adaptive learning rates: RMSprop, Adagrad, Adadelta."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing.optim.optimizer import Optimizer

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


def _check(name: str, value: float) -> None:
    if value < 0.0:
        raise ValueError(f"Invalid {name}: {value}")


class RMSprop(Optimizer):
    """s <- alpha s + (1 - alpha) g^2;  w <- w - lr g / (sqrt(s) + eps).

    ``centered`` divides by the estimated variance sqrt(s - mean(g)^2) instead; ``momentum`` keeps
    b <- momentum b + g / (sqrt(s) + eps) and steps by lr * b.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        for name, value in [("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)]:
            _check(name, value)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        alpha = group["alpha"]
        self._next_step(state)
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        square_avg = self._buffer(state, "square_avg", param)
        square_avg *= alpha
        square_avg += (1.0 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = self._buffer(state, "grad_avg", param)
            grad_avg += (1.0 - alpha) * (grad - grad_avg)
            denominator = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            denominator = np.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buffer = self._buffer(state, "momentum_buffer", param)
            buffer *= group["momentum"]
            buffer += grad / denominator
            param -= group["lr"] * buffer
        else:
            param -= group["lr"] * grad / denominator


class Adagrad(Optimizer):
    """s <- s + g^2;  w <- w - lr_t g / (sqrt(s) + eps), lr_t = lr / (1 + (t - 1) lr_decay)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        for name, value in [("learning rate", lr), ("lr_decay value", lr_decay), ("epsilon value", eps),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value)]:
            _check(name, value)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        step = self._next_step(state)
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        total = self._buffer(state, "sum", param, group["initial_accumulator_value"])
        total += grad * grad
        lr = group["lr"] / (1.0 + (step - 1.0) * group["lr_decay"])
        param -= lr * grad / (np.sqrt(total) + group["eps"])


class Adadelta(Optimizer):
    """s <- rho s + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(s + eps) * g;
    u <- rho u + (1 - rho) d^2;  w <- w - lr d.  No learning rate to tune (lr=1 by default)."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        for name, value in [("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay)]:
            _check(name, value)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        rho, eps = group["rho"], group["eps"]
        self._next_step(state)
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        square_avg = self._buffer(state, "square_avg", param)
        acc_delta = self._buffer(state, "acc_delta", param)
        square_avg *= rho
        square_avg += (1.0 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1.0 - rho) * delta * delta
        param -= group["lr"] * delta
