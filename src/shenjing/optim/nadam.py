"""NAdam: Adam with Nesterov momentum and a momentum schedule (Dozat, 2016)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer, check_betas
from shenjing.optim.optimizer import check_foreach, check_non_negative, effective_grad, lerp_, next_step

__all__ = ["NAdam"]


class NAdam(FlaggedOptimizer):
    """mu_t = b1 (1 - 0.96^(t psi) / 2) (psi = momentum_decay), P_t = mu_1 ... mu_t;
    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,  d = sqrt(v / (1 - b2^t)) + eps,
    w <- w - lr (1 - mu_t) / (1 - P_t) g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) m / d.
    g = grad + weight_decay w, or with ``decoupled_weight_decay`` w <- w (1 - lr weight_decay) first.
    State: 'step', 'mu_product' (P_t, a 0-d float32 tensor as PyTorch keeps it), 'exp_avg', 'exp_avg_sq'.

    >>> import shenjing
    >>> w = shenjing.tensor([1.0], requires_grad=True)
    >>> opt = NAdam([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([0.8944], requires_grad=True)
    """

    _scalar_state = ("mu_product",)

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("epsilon value", options["eps"])
        check_betas(options["betas"])
        check_non_negative("weight_decay value", options["weight_decay"])
        check_non_negative("momentum_decay value", options["momentum_decay"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["mu_product"] = Tensor._make(np.ones((), np.float32))
        state["exp_avg"] = Tensor._make(np.zeros_like(param))
        state["exp_avg_sq"] = Tensor._make(np.zeros_like(param))

    @staticmethod
    def _momenta(group: dict[str, Any], step: float) -> tuple[float, float]:
        """(mu_t, mu_{t+1}) of the momentum schedule."""
        beta1, decay = float(group["betas"][0]), float(group["momentum_decay"])
        return (beta1 * (1.0 - 0.5 * 0.96 ** (step * decay)), beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay)))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        if group["maximize"]:
            grad = -grad
        step = next_step(state)
        correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        mu, mu_next = self._momenta(group, step)
        mu_product = state["mu_product"]._data
        mu_product *= mu
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        denominator = np.sqrt(exp_avg_sq / correction2) + eps
        product = float(mu_product)
        param += -lr * (1.0 - mu) / (1.0 - product) * grad / denominator
        param += -lr * mu_next / (1.0 - product * mu_next) * exp_avg / denominator

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        decoupled = weight_decay != 0 and group["decoupled_weight_decay"]
        l2_decay = 0.0 if decoupled else weight_decay
        maximize, work = group["maximize"], self._scratch.get
        for param, grad, state in zip(params, grads, states):
            step = next_step(state)
            correction2 = 1 - beta2 ** step
            if decoupled:
                param *= 1 - lr * weight_decay
            if maximize or l2_decay != 0:
                grad = effective_grad(grad, param, l2_decay, maximize, work(2, param))
            mu, mu_next = self._momenta(group, step)
            mu_product = state["mu_product"]._data
            mu_product *= mu
            s, t = work(0, param), work(1, param)
            exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
            lerp_(exp_avg, grad, 1 - beta1, s)
            exp_avg_sq *= beta2
            np.multiply(grad, 1 - beta2, out=s)
            s *= grad
            exp_avg_sq += s
            np.divide(exp_avg_sq, correction2, out=s)
            np.sqrt(s, out=s)
            s += eps
            product = float(mu_product)
            np.multiply(grad, -lr * (1.0 - mu) / (1.0 - product), out=t)
            t /= s
            param += t
            np.multiply(exp_avg, -lr * mu_next / (1.0 - product * mu_next), out=t)
            t /= s
            param += t
