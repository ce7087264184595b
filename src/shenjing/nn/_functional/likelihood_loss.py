"""Negative log-likelihood losses: ``gaussian_nll_loss`` (a predicted mean and variance),
``poisson_nll_loss`` (a predicted rate), both composed of differentiable ops, and ``ctc_loss``
(label sequences under per-step class probabilities; the op is in ``shenjing._ops.ctc``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.ctc import CtcLoss
from shenjing._ops.elementwise import exp, log, where
from shenjing._tensor import Tensor
from shenjing.nn._functional.distance import clamped_below
from shenjing.nn._functional.loss import _check_reduction, _legacy_reduction, _reduce

__all__ = ["gaussian_nll_loss", "poisson_nll_loss", "ctc_loss"]


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


def _lengths(name: str, lengths: Any, batch: int) -> list[int]:
    values = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths).reshape(-1)
    if values.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: {name} must be integers, got {values.dtype}")
    if values.size != batch:
        raise RuntimeError(f"ctc_loss: expected {name} to have {batch} values (one per sample), got {values.size}")
    return [int(v) for v in values]


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss: -log of the total probability of every alignment of
    each target sequence to its input (repeats merged, blanks removed).

    Shapes: log_probs (T, N, C) (log_softmax outputs; or unbatched (T, C)); targets (N, S) padded, or the
    concatenation of all targets (sum(target_lengths),); input_lengths, target_lengths (N,) (tensors or
    sequences). 'mean' divides each loss by its target length, then averages over the batch.
    ``zero_infinity`` turns the infinite losses of impossible alignments (and their gradients) into 0.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> log_probs = shenjing.full((2, 1, 2), 0.5).log()        # T=2, C=2 (blank 0): 1/4 per path
    >>> F.ctc_loss(log_probs, shenjing.tensor([[1]]), [2], [1], reduction='sum')  # 3 paths: -log(3/4)
    tensor(0.2877)
    """
    check_tensor(log_probs, "ctc_loss(): log_probs")
    check_tensor(targets, "ctc_loss(): targets")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not log_probs.is_floating_point():
        raise RuntimeError(f"ctc_loss: expected log_probs to be floating point, got {log_probs.dtype}")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), got {list(log_probs.shape)}")
    steps, batch, classes = log_probs.shape
    if not 0 <= blank < classes:
        raise RuntimeError(f"blank must be in label range (got blank={blank}, {classes} classes)")
    in_lengths = _lengths("input_lengths", input_lengths, batch)
    out_lengths = _lengths("target_lengths", target_lengths, batch)
    for length in in_lengths:
        if not 0 <= length <= steps:
            raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but got value {length} (while "
                               f"checking arguments for ctc_loss_cpu)")
    labels = np.asarray(targets._data)
    if unbatched and labels.ndim == 1:
        labels = labels[None]
    if labels.ndim == 2 and not (unbatched and labels.shape[0] != 1):
        if labels.shape[0] != batch or labels.shape[1] < max(out_lengths, default=0):
            raise RuntimeError(f"Expected tensor to have size at least {max(out_lengths, default=0)} at dimension 1, "
                               f"but got size {labels.shape[1]} for argument #2 'targets' (while checking arguments "
                               f"for ctc_loss_cpu)")
        sequences = [labels[n, :length] for n, length in enumerate(out_lengths)]
    else:
        flat = labels.reshape(-1)
        if flat.size < sum(out_lengths):
            raise RuntimeError(f"ctc_loss: targets has {flat.size} labels, but target_lengths add up to "
                               f"{sum(out_lengths)}")
        starts = np.concatenate([[0], np.cumsum(out_lengths)[:-1]]).astype(int)
        sequences = [flat[start:start + length] for start, length in zip(starts, out_lengths)]
    sequences = [np.asarray(sequence, dtype=np.int64) for sequence in sequences]
    losses = CtcLoss(sequences, in_lengths, blank, zero_infinity)(log_probs)
    if reduction == "mean":
        divisors = np.maximum(np.asarray(out_lengths, dtype=log_probs._data.dtype), 1)
        return (losses / Tensor._make(divisors)).mean()
    if reduction == "sum":
        return losses.sum()
    return losses.reshape(()) if unbatched else losses
