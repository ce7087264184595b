"""ASGD: stochastic gradient descent with a decaying step and a running (Polyak) average of the weights."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer
from shenjing.optim.optimizer import check_foreach, check_non_negative, effective_grad, next_step

__all__ = ["ASGD"]


class ASGD(FlaggedOptimizer):
    """w <- w (1 - lambd eta) - eta g (g = grad + weight_decay w);  ax <- ax + mu (w - ax) (ax = w while
    mu is 1); then eta <- lr / (1 + lambd lr t)^alpha and mu <- 1 / max(1, t - t0), so averaging starts
    after t0 steps (Polyak & Juditsky, 1992). ``ax`` is the averaged weight. State: 'step', 'eta', 'mu'
    (0-d float32 tensors, as PyTorch keeps them), 'ax'.

    >>> import shenjing
    >>> w = shenjing.tensor([1.0], requires_grad=True)
    >>> opt = ASGD([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([0.7000], requires_grad=True)
    """

    _scalar_state = ("eta", "mu")

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("weight_decay value", options["weight_decay"])
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["eta"] = Tensor._make(np.array(group["lr"], np.float32))
        state["mu"] = Tensor._make(np.ones((), np.float32))
        state["ax"] = Tensor._make(np.zeros_like(param))

    @staticmethod
    def _next_eta_mu(state: dict[str, Any], group: dict[str, Any], step: float) -> None:
        lr, lambd, alpha, t0 = (float(group[k]) for k in ("lr", "lambd", "alpha", "t0"))
        state["eta"]._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
        state["mu"]._data[...] = 1 / max(1, step - t0)

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lambd, weight_decay = float(group["lambd"]), float(group["weight_decay"])
        if group["maximize"]:
            grad = -grad
        step = next_step(state)
        if weight_decay != 0:
            grad = grad + weight_decay * param
        eta, mu, ax = float(state["eta"]._data), state["mu"]._data, state["ax"]._data
        param *= 1 - lambd * eta
        param -= eta * grad
        if mu != 1:
            ax += (param - ax) * mu
        else:
            ax[...] = param
        self._next_eta_mu(state, group, step)

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        lambd, weight_decay = float(group["lambd"]), float(group["weight_decay"])
        maximize, work = group["maximize"], self._scratch.get
        for param, grad, state in zip(params, grads, states):
            step = next_step(state)
            if maximize or weight_decay != 0:
                grad = effective_grad(grad, param, weight_decay, maximize, work(1, param))
            eta, mu, ax = float(state["eta"]._data), state["mu"]._data, state["ax"]._data
            s = work(0, param)
            param *= 1 - lambd * eta
            np.multiply(grad, eta, out=s)
            param -= s
            if mu != 1:
                np.subtract(param, ax, out=s)
                s *= mu
                ax += s
            else:
                ax[...] = param
            self._next_eta_mu(state, group, step)
