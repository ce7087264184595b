"""Negative log-likelihood losses of two distributions: ``gaussian_nll_loss`` (a predicted mean and
variance) and ``poisson_nll_loss`` (a predicted rate). Composed of differentiable ops."""

from __future__ import annotations

import math

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import exp, log, where
from shenjing._tensor import Tensor
from shenjing.nn._functional.distance import clamped_below
from shenjing.nn._functional.loss import _check_reduction, _legacy_reduction, _reduce

__all__ = ["gaussian_nll_loss", "poisson_nll_loss"]


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) if ``full``).

    ``var`` has input's shape, or one dim fewer (or a single mismatched dim of size 1: one variance
    shared by that dim), or is a float. The clamp at ``eps`` does not stop var's gradient (as in PyTorch).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.gaussian_nll_loss(shenjing.tensor([1.]), shenjing.tensor([3.]), shenjing.tensor([2.]))
    tensor(1.3466)
    """
    check_tensor(input)
    check_tensor(target, "gaussian_nll_loss(): target")
    input = float_input(input)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = Tensor._make(np.full(input._data.shape, var, dtype=input._data.dtype))
    else:
        check_tensor(var, "gaussian_nll_loss(): var")
        if bool((var._data < 0).any()):
            raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = clamped_below(float_input(var), eps)
    difference = input - target
    loss = 0.5 * (log(var) + difference * difference / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood of ``target`` counts under the predicted rate.

    log_input=True (input = log rate): exp(input) - target * input; otherwise (input = rate):
    input - target * log(input + eps). ``full`` adds Stirling's approximation of log(target!),
    target log(target) - target + 0.5 log(2 pi target), where target > 1.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.poisson_nll_loss(shenjing.tensor([0.]), shenjing.tensor([2.]))
    tensor(1.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    check_tensor(input)
    check_tensor(target, "poisson_nll_loss(): target")
    input = float_input(input)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        counted = target > 1
        safe = where(counted, target, 2.0)
        stirling = safe * log(safe) - safe + 0.5 * log(2 * math.pi * safe)
        loss = loss + where(counted, stirling, 0.0)
    return _reduce(loss, reduction)
