"""Regularisation penalties R(W), differentiable, to add to the data loss (course, lecture 2):

    L(W) = (1/N) sum_i L_i(f(x_i, W), y_i)  +  lambda * R(W)

    L1:           R(W) = sum |w|
    L2:           R(W) = sum w^2
    elastic net:  R(W) = l1_ratio * sum |w| + (1 - l1_ratio) * sum w^2

The sums run over every element of every given parameter (pass ``model.parameters()``, or only the
weights: biases are usually not penalised). Usage::

    loss = criterion(model(x), y) + lam * nn.utils.l2_penalty(w for n, w in model.named_parameters()
                                                               if n.endswith("weight"))

Relation to ``weight_decay``: the optimisers' ``weight_decay=lambda`` adds ``lambda * w`` to each
gradient, which is the gradient of ``(lambda / 2) * ||w||^2``, i.e. of ``(lambda / 2) * l2_penalty``.
So ``lambda * l2_penalty`` in the loss equals ``weight_decay = 2 * lambda`` (for plain SGD; Adam's
adaptive scaling makes them differ, which is why AdamW exists).

The course writes the elastic net as ``sum beta * w^2 + |w|``; that is ``(1 + beta) * R`` with
``l1_ratio = 1 / (1 + beta)``.
"""

from __future__ import annotations

from typing import Callable, Iterable, Union

import numpy as np

from shenjing._tensor import Tensor

__all__ = ["l1_penalty", "l2_penalty", "elastic_net_penalty"]

TensorOrTensors = Union[Tensor, Iterable[Tensor]]


def _total(parameters: TensorOrTensors, term: Callable[[Tensor], Tensor]) -> Tensor:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = None
    for param in params:
        value = term(param).sum()
        total = value if total is None else total + value
    return total if total is not None else Tensor._make(np.array(0.0, dtype=np.float32))


def l1_penalty(parameters: TensorOrTensors) -> Tensor:
    """``R(W) = sum |w|`` over all given parameters (its gradient is ``sign(w)``: pushes weights to exactly 0).

    >>> import shenjing
    >>> l1_penalty([shenjing.tensor([1.0, -2.0]), shenjing.tensor([[0.5]])])
    tensor(3.5000)
    """
    return _total(parameters, lambda w: w.abs())


def l2_penalty(parameters: TensorOrTensors) -> Tensor:
    """``R(W) = sum w^2`` over all given parameters (the squared Euclidean norm, no 1/2, no square root;
    its gradient is ``2 w``: shrinks large weights most). See the module docstring for ``weight_decay``.

    >>> import shenjing
    >>> l2_penalty([shenjing.tensor([1.0, -2.0]), shenjing.tensor([[0.5]])])
    tensor(5.2500)
    """
    return _total(parameters, lambda w: w * w)


def elastic_net_penalty(parameters: TensorOrTensors, l1_ratio: float = 0.5) -> Tensor:
    """``R(W) = l1_ratio * sum |w| + (1 - l1_ratio) * sum w^2``: L1's sparsity with L2's stability.

    ``l1_ratio=1`` is ``l1_penalty``, ``l1_ratio=0`` is ``l2_penalty``.

    >>> import shenjing
    >>> elastic_net_penalty([shenjing.tensor([1.0, -2.0])], l1_ratio=0.25)
    tensor(4.5000)
    """
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"elastic_net_penalty: l1_ratio must be in [0, 1], got {l1_ratio}")
    return _total(parameters, lambda w: l1_ratio * w.abs() + (1.0 - l1_ratio) * (w * w))
