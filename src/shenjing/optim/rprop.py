"""Rprop: resilient backpropagation, a step size per weight adapted to the sign of the gradient."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim._checks import FlaggedOptimizer
from shenjing.optim.optimizer import check_foreach, check_non_negative, next_step

__all__ = ["Rprop"]


class Rprop(FlaggedOptimizer):
    """Per weight: where g * g_prev > 0 the step size grows by etaplus, where < 0 it shrinks by etaminus
    (and g is taken as 0, so the weight stays and the next step does not count the sign change again),
    clipped to ``step_sizes`` = (min, max); w <- w - sign(g) * step_size; g_prev <- g (Riedmiller & Braun,
    1993). The step sizes start at lr. State: 'step', 'prev' (g_prev), 'step_size'.

    >>> import shenjing
    >>> w = shenjing.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Rprop([w], lr=0.1)
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9000, -1.1000], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        etas, step_sizes = options["etas"], options["step_sizes"]
        if not (isinstance(etas, (tuple, list)) and len(etas) == 2):
            raise ValueError(f"Invalid etas: {etas!r} (expected a pair (etaminus, etaplus))")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        if not (isinstance(step_sizes, (tuple, list)) and len(step_sizes) == 2):
            raise ValueError(f"Invalid step_sizes: {step_sizes!r} (expected a pair (min, max))")
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        state["prev"] = Tensor._make(np.zeros_like(param))
        state["step_size"] = Tensor._make(np.full_like(param, group["lr"]))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        etaminus, etaplus = (float(eta) for eta in group["etas"])
        smallest, largest = (float(size) for size in group["step_sizes"])
        if group["maximize"]:
            grad = -grad
        next_step(state)
        prev, step_size = state["prev"]._data, state["step_size"]._data
        agreement = np.sign(grad * prev)
        factor = np.where(agreement > 0, etaplus, np.where(agreement < 0, etaminus, 1.0)).astype(param.dtype)
        step_size *= factor
        np.clip(step_size, smallest, largest, out=step_size)
        grad = np.where(agreement < 0, 0, grad).astype(param.dtype)
        param -= np.sign(grad) * step_size
        prev[...] = grad

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        etaminus, etaplus = (float(eta) for eta in group["etas"])
        smallest, largest = (float(size) for size in group["step_sizes"])
        maximize, work = group["maximize"], self._scratch.get
        for param, grad, state in zip(params, grads, states):
            next_step(state)
            prev, step_size = state["prev"]._data, state["step_size"]._data
            agreement, factor = work(0, param), work(1, param)
            np.multiply(grad, prev, out=agreement)
            if maximize:
                np.negative(agreement, out=agreement)  # (-g) * p is -(g * p), to the bit
            np.sign(agreement, out=agreement)
            factor.fill(1.0)
            factor[agreement > 0] = etaplus
            factor[agreement < 0] = etaminus
            step_size *= factor
            np.clip(step_size, smallest, largest, out=step_size)
            if maximize:
                np.negative(grad, out=prev)
            else:
                prev[...] = grad
            prev[agreement < 0] = 0
            np.sign(prev, out=factor)
            factor *= step_size
            param -= factor
