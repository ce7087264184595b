"""Muon: momentum SGD for 2-D weights, the update orthogonalised by a Newton-Schulz iteration."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.optim.optimizer import Optimizer, lerp_

__all__ = ["Muon"]


class Muon(Optimizer):
    """Muon (Jordan et al., 2024): b <- lerp(b, g, 1 - momentum);  u = lerp(g, b, momentum) with
    ``nesterov`` (else b);  O = NS(u), the orthogonalisation of u by ``ns_steps`` Newton-Schulz steps
    X <- a X + (b A + c A^2) X, A = X X^T, X_0 = u / max(|u|_F, eps) (transposed when tall);
    w <- w (1 - lr weight_decay) - lr' O, lr' = lr sqrt(max(1, A / B)) ("original", the default) or
    0.2 lr sqrt(max(A, B)) ("match_rms_adamw") for an A x B weight. 2-D parameters only.
    PyTorch runs the iteration in bfloat16; shenjing emulates it (each product rounded to bfloat16, in
    float32), so the update agrees with PyTorch's to bfloat16 precision. State: 'momentum_buffer'.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p._data.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"torch.Size({list(p._data.shape)})")

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        if not 0.0 <= options["lr"]:
            raise ValueError(f"Learning rate should be >= 0 but is: {options['lr']}")
        if not 0.0 <= options["momentum"]:
            raise ValueError(f"momentum should be >= 0 but is: {options['momentum']}")
        if not 0.0 <= options["weight_decay"]:
            raise ValueError(f"weight decay should be >= 0 but is: {options['weight_decay']}")
        if options["adjust_lr_fn"] is not None and options["adjust_lr_fn"] not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {options['adjust_lr_fn']} is not supported")

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        state["momentum_buffer"] = Tensor._make(np.zeros_like(param))

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        lr, momentum, weight_decay = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        buffer = state["momentum_buffer"]._data
        lerp_(buffer, grad, 1 - momentum)
        if group["nesterov"]:
            update = grad.copy()
            lerp_(update, buffer, momentum)
        else:
            update = buffer
        orthogonal = newton_schulz(update, group["ns_coefficients"], group["ns_steps"], float(group["eps"]))
        rows, columns = param.shape
        if group["adjust_lr_fn"] in (None, "original"):
            adjusted_lr = lr * math.sqrt(max(1, rows / columns))
        else:
            adjusted_lr = lr * 0.2 * math.sqrt(max(rows, columns))
        param *= 1 - lr * weight_decay
        param -= (adjusted_lr * orthogonal).astype(param.dtype)

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        for param, grad, state in zip(params, grads, states):
            self._single_tensor(param, grad, state, group)


def newton_schulz(matrix: np.ndarray, coefficients: tuple[float, float, float], steps: int,
                  eps: float) -> np.ndarray:
    """The Newton-Schulz orthogonalisation of a 2-D ``matrix`` (about U V^T of its SVD), in emulated
    bfloat16: a float32 array whose every intermediate is rounded to bfloat16."""
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if matrix.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    x = to_bfloat16(matrix.astype(np.float32))
    tall = matrix.shape[0] > matrix.shape[1]
    if tall:
        x = x.T
    norm = to_bfloat16(np.sqrt(np.sum(x * x, dtype=np.float32)))
    x = to_bfloat16(x / max(norm, to_bfloat16(np.float32(eps))))
    for _ in range(steps):
        gram = to_bfloat16(x @ x.T)
        gram_update = to_bfloat16(b * gram + c * (gram @ gram))
        x = to_bfloat16(a * x + gram_update @ x)
    return x.T if tall else x


def to_bfloat16(values: Any) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    values = np.asarray(values, np.float32)
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return np.where(np.isnan(values), values, rounded.view(np.float32))
