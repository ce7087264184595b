"""Flatten parameters into one vector and back (for optimisers or analyses that work on a single vector)."""

from __future__ import annotations

from typing import Iterable

from shenjing._ops.shape import cat
from shenjing._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable), in order.

    >>> import shenjing
    >>> parameters_to_vector([shenjing.ones(2, 2), shenjing.zeros(1)])
    tensor([1., 1., 1., 1., 0.])
    """
    return cat([param.reshape(-1) for param in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (the inverse of
    ``parameters_to_vector``). Each parameter's data becomes a view of ``vec``, as in PyTorch.

    >>> import shenjing
    >>> a, b = shenjing.zeros(2, 2), shenjing.zeros(1)
    >>> vector_to_parameters(shenjing.arange(5.0), [a, b])
    >>> a, b
    (tensor([[0., 1.],
            [2., 3.]]), tensor([4.]))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a shenjing Tensor, but got: {type(vec).__name__}")
    if vec.dim() != 1:
        raise ValueError(f"vector_to_parameters expects a 1-D vector, got shape {list(vec.shape)}")
    parameters = list(parameters)
    needed = sum(param.numel() for param in parameters)
    if vec.numel() != needed:
        raise ValueError(f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters "
                         f"have {needed} in total")
    offset = 0
    for param in parameters:
        count = param.numel()
        param.data = Tensor._make(vec._data[offset:offset + count].reshape(tuple(param.shape)))
        offset += count
