"""Adafactor: Adam-like steps with a factored second moment (a row and a column average for a matrix)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import enable_grad, no_grad
from shenjing.optim.optimizer import Optimizer, check_foreach, next_step

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as PyTorch writes it. At step t, with g = grad (negated with
    ``maximize``), beta2_t = 1 - t^beta2_decay, rho_t = min(lr, 1 / sqrt(t)) and
    alpha_t = max(eps2, RMS(w)) rho_t:  w <- w (1 - lr weight_decay);  for a matrix (the last two dims),
    R <- lerp(R, mean of g^2 over the last dim, 1 - beta2_t), C likewise over the dim before, and
    V = R C / max(mean(R), eps1); for a vector, V <- lerp(V, g^2, 1 - beta2_t);
    U = g / sqrt(max(V, eps1^2)),  w <- w - alpha_t U / max(1, RMS(U) / d).
    eps1 None is the machine epsilon of the (first) parameter's dtype. State: 'step' and 'row_var' /
    'col_var' (matrices) or 'variance' (vectors and 0-d). ``foreach`` is accepted; both give the per-parameter update.

    >>> import shenjing
    >>> w = shenjing.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Adafactor([w])
    >>> (w * 3).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9900, -1.0100], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        lr, eps = options["lr"], options["eps"]
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= options["beta2_decay"]:
            raise ValueError(f"beta2_decay should be <= 0 but is: {options['beta2_decay']}")
        if not (isinstance(eps, (tuple, list)) and len(eps) == 2):
            raise ValueError(f"Invalid eps: {eps!r} (expected a pair (eps1 or None, eps2))")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= options["d"]:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {options['d']}")
        if not 0.0 <= options["weight_decay"]:
            raise ValueError(f"weight_decay should be >= 0 but is: {options['weight_decay']}")
        check_foreach(options)

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["step"] = Tensor._make(np.zeros((), np.float32))
        if param.ndim > 1:
            state["row_var"] = Tensor._make(np.zeros(param.shape[:-1] + (1,), param.dtype))
            state["col_var"] = Tensor._make(np.zeros(param.shape[:-2] + (1,) + param.shape[-1:], param.dtype))
        else:
            state["variance"] = Tensor._make(np.zeros_like(param))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (one update for ``foreach`` True or not)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            with_grad = [p for p in group["params"] if p.grad is not None]
            if not with_grad:
                continue
            eps1 = group["eps"][0]
            if eps1 is None:  # (PyTorch takes the epsilon of the group's first parameter's dtype for all)
                eps1 = float(np.finfo(with_grad[0]._data.dtype).eps)
            for p in with_grad:
                state = self.state[p]
                if not state:
                    self._init_state(state, p._data, group)
                self._update(p._data, p.grad._data, state, group, float(eps1))
                p._bump_version()
        return loss

    @staticmethod
    def _update(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any],
                eps1: float) -> None:
        lr, decay, weight_decay, d = (float(group[k]) for k in ("lr", "beta2_decay", "weight_decay", "d"))
        eps2 = float(group["eps"][1])
        if group["maximize"]:
            grad = -grad
        step = next_step(state)
        new_weight = step ** decay  # 1 - beta2_t
        rho = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, float(np.sqrt(np.sum(param * param))) / (param.size ** 0.5)) * rho
        if weight_decay != 0:
            param *= 1 - lr * weight_decay
        if grad.ndim > 1:
            row_var, col_var = state["row_var"]._data, state["col_var"]._data
            row_mean = np.sqrt(np.sum(grad * grad, axis=-1, keepdims=True)) ** 2 / grad.shape[-1]
            row_var += (row_mean - row_var) * new_weight
            col_mean = np.sqrt(np.sum(grad * grad, axis=-2, keepdims=True)) ** 2 / grad.shape[-2]
            col_var += (col_mean - col_var) * new_weight
            estimate = np.matmul(row_var, col_var)
            estimate /= np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]._data
            variance += (grad * grad - variance) * new_weight
            estimate = variance.copy()
        update = 1 / np.sqrt(np.maximum(estimate, eps1 * eps1))
        update *= grad
        denominator = max(1.0, float(np.sqrt(np.sum(update * update))) / ((update.size ** 0.5) * d))
        param -= alpha / denominator * update
