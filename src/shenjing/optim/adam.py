"""Adam and AdamW: moving averages of the gradient and its square, with bias correction.

m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
w <- w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
Adam adds ``weight_decay * w`` to g (L2); AdamW (or ``decoupled_weight_decay=True``) instead shrinks w by
(1 - lr * weight_decay) (decoupled).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer, check_fused
from shenjing.optim.optimizer import (check_foreach, check_in_range, check_non_negative, effective_grad,
                                     lerp_, next_step, scalars)

__all__ = ["Adam", "AdamW"]


class Adam(FlaggedOptimizer):
    """Adam (Kingma & Ba, 2015), with optional AMSGrad (divide by the largest v seen). State: 'step',
    'exp_avg' (m), 'exp_avg_sq' (v) and, with ``amsgrad``, 'max_exp_avg_sq'.

    >>> import shenjing
    >>> w = shenjing.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()   # the first step moves each weight by about lr
    >>> w
    tensor([ 0.9000, -1.1000], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        check_fused(fused, foreach, differentiable)
        super().__init__(params, dict(lr=lr, betas=_pair(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("epsilon value", options["eps"])
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)):
            raise TypeError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
        if len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
        for i, beta in enumerate(betas):
            check_in_range(f"beta parameter at index {i}", beta, 0.0, 1.0, high_included=False)
        check_non_negative("weight_decay value", options["weight_decay"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["exp_avg"] = Tensor._make(np.zeros_like(param))
        state["exp_avg_sq"] = Tensor._make(np.zeros_like(param))
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = Tensor._make(np.zeros_like(param))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        beta1, beta2, step = adam_moments(param, grad, state, group)
        lr, eps = float(group["lr"]), float(group["eps"])
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]._data
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            exp_avg_sq = max_exp_avg_sq
        step_size = lr / (1 - beta1 ** step)
        denominator = np.sqrt(exp_avg_sq) / (1 - beta2 ** step) ** 0.5 + eps
        param -= step_size * exp_avg / denominator

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        dtype = params[0].dtype
        decoupled = weight_decay != 0 and group["decoupled_weight_decay"]
        l2 = weight_decay != 0 and not decoupled
        maximize, amsgrad, work = group["maximize"], group["amsgrad"], self._scratch.get
        regularize = maximize or l2
        l2_decay, decay, old, new, eps = scalars(dtype, weight_decay if l2 else 0.0, 1 - lr * weight_decay,
                                                    beta2, 1 - beta2, group["eps"])
        last_step = step_size = correction2 = None
        for param, grad, state in zip(params, grads, states):
            step = next_step(state)
            if step != last_step:  # (the parameters of a group usually share their step count)
                last_step = step
                step_size, correction2 = scalars(dtype, lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5)
            if regularize:
                grad = effective_grad(grad, param, l2_decay, maximize, work(2, param))
            if decoupled:
                param *= decay
            s, t = work(0, param), work(1, param)
            exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
            lerp_(exp_avg, grad, 1 - beta1, s)
            exp_avg_sq *= old
            np.multiply(grad, new, out=s)
            s *= grad
            exp_avg_sq += s
            if amsgrad:
                max_exp_avg_sq = state["max_exp_avg_sq"]._data
                np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                exp_avg_sq = max_exp_avg_sq
            np.sqrt(exp_avg_sq, out=s)
            s /= correction2
            s += eps
            np.multiply(exp_avg, step_size, out=t)
            t /= s
            param -= t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): w <- w (1 - lr wd) before the Adam step."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


def adam_moments(param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                 group: dict[str, Any]) -> tuple[float, float, int]:
    """The first half of an Adam-family step on one parameter (its specification): the gradient negated with
    ``maximize``, the step counted, weight decay (decoupled: param *= 1 - lr wd; else grad += wd param), then
    m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2 in place. Returns (beta1, beta2, step)."""
    lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
    beta1, beta2 = (float(beta) for beta in group["betas"])
    if group["maximize"]:
        grad = -grad
    step = next_step(state)
    if weight_decay != 0:
        if group["decoupled_weight_decay"]:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
    lerp_(exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    return beta1, beta2, step


def _pair(betas: Any) -> Any:
    return tuple(betas) if isinstance(betas, (tuple, list)) else betas
