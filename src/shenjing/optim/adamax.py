"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer, check_betas
from shenjing.optim.optimizer import check_foreach, check_non_negative, effective_grad, lerp_, next_step

__all__ = ["Adamax"]


class Adamax(FlaggedOptimizer):
    """m <- b1 m + (1 - b1) g;  u <- max(b2 u, |g| + eps);  w <- w - lr / (1 - b1^t) * m / u,
    g = grad + weight_decay w (Kingma & Ba, 2015, section 7). State: 'step', 'exp_avg' (m), 'exp_inf' (u).

    >>> import shenjing
    >>> w = shenjing.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Adamax([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9000, -1.1000], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("epsilon value", options["eps"])
        check_betas(options["betas"])
        check_non_negative("weight_decay value", options["weight_decay"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["exp_avg"] = Tensor._make(np.zeros_like(param))
        state["exp_inf"] = Tensor._make(np.zeros_like(param))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        if group["maximize"]:
            grad = -grad
        step = next_step(state)
        if weight_decay != 0:
            grad = grad + weight_decay * param
        exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
        lerp_(exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        np.maximum(exp_inf, np.abs(grad) + eps, out=exp_inf)
        step_size = lr / (1 - beta1 ** step)
        param -= step_size * exp_avg / exp_inf

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        maximize, work = group["maximize"], self._scratch.get
        for param, grad, state in zip(params, grads, states):
            step = next_step(state)
            if maximize or weight_decay != 0:
                grad = effective_grad(grad, param, weight_decay, maximize, work(2, param))
            s = work(0, param)
            exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
            lerp_(exp_avg, grad, 1 - beta1, s)
            exp_inf *= beta2
            np.abs(grad, out=s)
            s += eps
            np.maximum(exp_inf, s, out=exp_inf)
            np.multiply(exp_avg, lr / (1 - beta1 ** step), out=s)
            s /= exp_inf
            param -= s
