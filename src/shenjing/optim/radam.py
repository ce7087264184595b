"""RAdam: Adam with the variance of the adaptive learning rate rectified (Liu et al., 2020)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer, check_betas
from shenjing.optim.adam import adam_moments
from shenjing.optim.optimizer import check_foreach, check_non_negative, effective_grad, lerp_, next_step

__all__ = ["RAdam"]


class RAdam(FlaggedOptimizer):
    """m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,  m^ = m / (1 - b1^t);
    rho_inf = 2 / (1 - b2) - 1,  rho_t = rho_inf - 2 t b2^t / (1 - b2^t);
    if rho_t > 5: w <- w - lr m^ r_t sqrt(1 - b2^t) / (sqrt(v) + eps), with
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)); else w <- w - lr m^.
    g = grad + weight_decay w, or with ``decoupled_weight_decay`` w <- w (1 - lr weight_decay) first.
    State: 'step', 'exp_avg', 'exp_avg_sq'.

    >>> import shenjing
    >>> w = shenjing.tensor([1.0], requires_grad=True)
    >>> opt = RAdam([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()   # the first steps are plain momentum (rho_t <= 5)
    >>> w
    tensor([0.7000], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

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
        state["exp_avg_sq"] = Tensor._make(np.zeros_like(param))

    @staticmethod
    def _rectification(beta2: float, step: float) -> float | None:
        """r_t, or None while the variance is intractable (rho_t <= 5)."""
        correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / correction2
        if rho_t <= 5.0:
            return None
        return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        beta1, beta2, step = adam_moments(param, grad, state, group)
        lr, eps = float(group["lr"]), float(group["eps"])
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        corrected = exp_avg / (1 - beta1 ** step)
        rectification = self._rectification(beta2, step)
        if rectification is None:
            param -= corrected * lr
        else:
            adaptive = (1 - beta2 ** step) ** 0.5 / (np.sqrt(exp_avg_sq) + eps)
            param -= corrected * lr * adaptive * rectification

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        decoupled = weight_decay != 0 and group["decoupled_weight_decay"]
        l2_decay = 0.0 if decoupled else weight_decay
        maximize, work = group["maximize"], self._scratch.get
        for param, grad, state in zip(params, grads, states):
            step = next_step(state)
            if decoupled:
                param *= 1 - lr * weight_decay
            if maximize or l2_decay != 0:
                grad = effective_grad(grad, param, l2_decay, maximize, work(2, param))
            s, t = work(0, param), work(1, param)
            exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
            lerp_(exp_avg, grad, 1 - beta1, s)
            exp_avg_sq *= beta2
            np.multiply(grad, 1 - beta2, out=s)
            s *= grad
            exp_avg_sq += s
            np.divide(exp_avg, 1 - beta1 ** step, out=t)
            t *= lr
            rectification = self._rectification(beta2, step)
            if rectification is not None:
                np.sqrt(exp_avg_sq, out=s)
                s += eps
                np.divide((1 - beta2 ** step) ** 0.5, s, out=s)
                t *= s
                t *= rectification
            param -= t
