"""Gradient clipping: rescale (``clip_grad_norm_``) or clamp (``clip_grad_value_``) the gradients of
parameters in place, after ``backward()`` and before ``optimizer.step()``, to tame exploding gradients
(e.g. in an RNN unrolled over many steps)."""

from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

TensorOrTensors = Union[Tensor, Iterable[Tensor]]


def _as_list(tensors: TensorOrTensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: TensorOrTensors) -> list[Tensor]:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The p-norm of all ``tensors`` taken together as one long vector:
    ``(sum_i ||t_i||_p^p)^(1/p)``, or ``max_i max|t_i|`` for ``norm_type=inf``.

    >>> import shenjing
    >>> get_total_norm([shenjing.tensor([3.0]), shenjing.tensor([4.0])])
    tensor(5.)
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.array(0.0, dtype=np.float32))
    arrays = [t._data.astype(np.float64, copy=False) for t in tensors]
    if math.isinf(norm_type):
        total = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrays)
    elif norm_type == 0:
        total = float(sum(np.count_nonzero(a) for a in arrays))
    else:
        total = float(sum(np.sum(np.abs(a) ** norm_type) for a in arrays)) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    dtype = np.result_type(*[t._data.dtype for t in tensors])
    return Tensor._make(np.array(total, dtype=dtype if dtype.kind == "f" else np.float32))


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor | float,
                          foreach: bool | None = None) -> None:
    """Multiply every gradient by ``min(1, max_norm / (total_norm + 1e-6))``, in place."""
    scale = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    with no_grad(), np.errstate(invalid="ignore"):  # an infinite norm gives inf * 0 = nan, as in PyTorch
        for grad in _grads(parameters):
            grad.mul_(scale)


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total norm is at most ``max_norm``.

    ``total = ||(g_1, ..., g_n)||_p`` over all gradients as one vector; every gradient is multiplied by
    ``min(1, max_norm / (total + 1e-6))``, so the direction of the step is kept. Returns ``total``
    (measured before clipping). Parameters without a gradient are skipped.

    >>> import shenjing
    >>> w = shenjing.nn.Parameter(shenjing.zeros(2))
    >>> w.grad = shenjing.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    >>> w.grad
    tensor([0.6000, 0.8000])
    """
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place.

    >>> import shenjing
    >>> w = shenjing.nn.Parameter(shenjing.zeros(3))
    >>> w.grad = shenjing.tensor([-2.0, 0.5, 9.0])
    >>> clip_grad_value_(w, 1.0)
    >>> w.grad
    tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    with no_grad():
        for grad in _grads(parameters):
            grad.clamp_(-clip_value, clip_value)
