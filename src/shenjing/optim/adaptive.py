"""Per-parameter adaptive learning rates: RMSprop, Adagrad, Adadelta."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer, check_fused
from shenjing.optim.optimizer import (check_foreach, check_in_range, check_non_negative, effective_grad,
                                     lerp_, next_step, scalars)

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


class RMSprop(FlaggedOptimizer):
    """s <- alpha s + (1 - alpha) g^2;  w <- w - lr g / (sqrt(s) + eps), g = grad + weight_decay w.

    ``centered`` divides by an estimate of the standard deviation, sqrt(s - a^2) with
    a <- alpha a + (1 - alpha) g; ``momentum`` keeps b <- momentum b + g / (sqrt(s) + eps) and steps by
    lr b. State: 'step', 'square_avg', and 'momentum_buffer' / 'grad_avg' where used.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("epsilon value", options["eps"])
        check_non_negative("momentum value", options["momentum"])
        check_non_negative("weight_decay value", options["weight_decay"])
        check_non_negative("alpha value", options["alpha"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["square_avg"] = Tensor._make(np.zeros_like(param))
        if group["momentum"] > 0:
            state["momentum_buffer"] = Tensor._make(np.zeros_like(param))
        if group["centered"]:
            state["grad_avg"] = Tensor._make(np.zeros_like(param))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        if group["maximize"]:
            grad = -grad
        next_step(state)
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            lerp_(grad_avg, grad, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buffer = state["momentum_buffer"]._data
            buffer *= momentum
            buffer += grad / avg
            param -= lr * buffer
        else:
            param -= lr * grad / avg

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        new = 1 - float(group["alpha"])  # the weight of the new gradient in the averages
        lr, alpha, average, eps, weight_decay, momentum = scalars(
            params[0].dtype, group["lr"], group["alpha"], new, group["eps"], group["weight_decay"], group["momentum"])
        maximize, centered, work = group["maximize"], group["centered"], self._scratch.get
        regularize, uses_momentum = maximize or group["weight_decay"] != 0, group["momentum"] > 0
        for param, grad, state in zip(params, grads, states):
            next_step(state)
            if regularize:
                grad = effective_grad(grad, param, weight_decay, maximize, work(2, param))
            s = work(0, param)
            square_avg = state["square_avg"]._data
            square_avg *= alpha
            np.multiply(grad, average, out=s)
            s *= grad
            square_avg += s
            if centered:
                grad_avg = state["grad_avg"]._data
                lerp_(grad_avg, grad, new, s)
                np.multiply(grad_avg, grad_avg, out=s)
                np.subtract(square_avg, s, out=s)
                np.sqrt(s, out=s)
            else:
                np.sqrt(square_avg, out=s)
            s += eps
            if uses_momentum:
                buffer = state["momentum_buffer"]._data
                buffer *= momentum
                np.divide(grad, s, out=s)
                buffer += s
                np.multiply(buffer, lr, out=s)
                param -= s
            else:
                t = np.multiply(grad, lr, out=work(1, param))
                t /= s
                param -= t


class Adagrad(FlaggedOptimizer):
    """s <- s + g^2;  w <- w - lr_t g / (sqrt(s) + eps), lr_t = lr / (1 + (t - 1) lr_decay),
    g = grad + weight_decay w. State: 'step', 'sum' (made for every parameter at construction, as in
    PyTorch, starting at ``initial_accumulator_value``)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        check_fused(fused, foreach, differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p._data, group)

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("lr_decay value", options["lr_decay"])
        check_non_negative("weight_decay value", options["weight_decay"])
        check_non_negative("initial_accumulator_value value", options["initial_accumulator_value"])
        check_non_negative("epsilon value", options["eps"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["sum"] = Tensor._make(np.full_like(param, group["initial_accumulator_value"]))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, lr_decay, eps, weight_decay = (float(group[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
        step = next_step(state)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * param
        step_lr = lr / (1 + (step - 1) * lr_decay)
        total = state["sum"]._data
        total += grad * grad
        std = np.sqrt(total) + eps
        param -= step_lr * grad / std

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lr, lr_decay, dtype = float(group["lr"]), float(group["lr_decay"]), params[0].dtype
        eps, weight_decay = scalars(dtype, group["eps"], group["weight_decay"])
        maximize, work = group["maximize"], self._scratch.get
        regularize = maximize or group["weight_decay"] != 0
        last_step = step_lr = None
        for param, grad, state in zip(params, grads, states):
            step = next_step(state)
            if step != last_step:
                last_step, (step_lr,) = step, scalars(dtype, lr / (1 + (step - 1) * lr_decay))
            if regularize:
                grad = effective_grad(grad, param, weight_decay, maximize, work(2, param))
            s, t = work(0, param), work(1, param)
            total = state["sum"]._data
            np.multiply(grad, grad, out=s)
            total += s
            np.sqrt(total, out=s)
            s += eps
            np.multiply(grad, step_lr, out=t)
            t /= s
            param -= t


class Adadelta(FlaggedOptimizer):
    """s <- rho s + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(s + eps) * g;
    u <- rho u + (1 - rho) d^2;  w <- w - lr d, g = grad + weight_decay w. No learning rate to tune
    (lr=1 by default). State: 'step', 'square_avg' (s), 'acc_delta' (u)."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_in_range("rho value", options["rho"], 0.0, 1.0, high_included=True)
        check_non_negative("epsilon value", options["eps"])
        check_non_negative("weight_decay value", options["weight_decay"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["square_avg"] = Tensor._make(np.zeros_like(param))
        state["acc_delta"] = Tensor._make(np.zeros_like(param))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, rho, eps, weight_decay = (float(group[k]) for k in ("lr", "rho", "eps", "weight_decay"))
        next_step(state)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        std = np.sqrt(square_avg + eps)
        delta = np.sqrt(acc_delta + eps) / std * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= lr * delta

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lr, rho, average, eps, weight_decay = scalars(params[0].dtype, group["lr"], group["rho"],
                                                      1 - float(group["rho"]), group["eps"], group["weight_decay"])
        maximize, work = group["maximize"], self._scratch.get
        regularize = maximize or group["weight_decay"] != 0
        for param, grad, state in zip(params, grads, states):
            next_step(state)
            if regularize:
                grad = effective_grad(grad, param, weight_decay, maximize, work(2, param))
            std, delta = work(0, param), work(1, param)
            square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
            square_avg *= rho
            np.multiply(grad, average, out=std)
            std *= grad
            square_avg += std
            np.add(square_avg, eps, out=std)
            np.sqrt(std, out=std)
            np.add(acc_delta, eps, out=delta)
            np.sqrt(delta, out=delta)
            delta /= std
            delta *= grad
            acc_delta *= rho
            np.multiply(delta, average, out=std)
            std *= delta
            acc_delta += std
            if lr == 1:  # (the default: delta * 1 is delta, to the bit)
                param -= delta
            else:
                np.multiply(delta, lr, out=std)
                param -= std
