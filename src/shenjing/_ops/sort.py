"""sort, argsort and topk. Values are gathered from the input, so they carry its gradient."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from shenjing._ops._util import normalize_dim
from shenjing._ops.index import gather
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["argsort", "sort", "topk"]

sort_result = collections.namedtuple("return_types", ["values", "indices"])


def _order(array: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Stable ascending or descending order of ``array`` along ``dim`` (ties keep their order). NaN counts
    as larger than every number, as in PyTorch: last ascending (NumPy's order too), first descending."""
    if not descending:
        return np.argsort(array, axis=dim, kind="stable")
    if array.dtype.kind in "iub":
        return np.argsort(~array, axis=dim, kind="stable")  # ~x = -x - 1: decreasing, and no overflow at the minimum
    nan = np.isnan(array)
    if nan.any():  # sort by (not NaN, -x): NaN first, then the numbers in descending order
        keys = (np.moveaxis(-array, dim, -1), np.moveaxis(~nan, dim, -1))
        return np.moveaxis(np.lexsort(keys, axis=-1), -1, dim)
    return np.argsort(-array, axis=dim, kind="stable")


class Order(Op):
    """The int64 indices that sort the input along ``dim`` (stable; ``_order``), the first ``k`` of them when
    ``k`` is given (``topk``); never differentiable."""

    def __init__(self, dim: int, descending: bool, k: int | None = None) -> None:
        self.dim, self.descending, self.k = dim, descending, k

    def forward(self, x):
        order = _order(x, self.dim, self.descending)
        if self.k is not None:
            order = np.take(order, np.arange(self.k), axis=self.dim)
        return order.astype(np.int64)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort ``input`` along ``dim``."""
    if input._data.ndim == 0:
        return Tensor._make(np.zeros((), np.int64))
    return Order(normalize_dim(dim, input._data.ndim), descending)(input)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) of ``input`` sorted along ``dim``; always stable here."""
    if input._data.ndim == 0:
        return sort_result(input, Tensor._make(np.zeros((), np.int64)))
    dim = normalize_dim(dim, input._data.ndim)
    indices = Order(dim, descending)(input)
    return sort_result(shown_as(gather(input, dim, indices), "SortBackward0"), indices)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """(values, indices) of the ``k`` largest (or smallest) entries along ``dim``, best first."""
    if input._data.ndim == 0:
        if k > 1:
            raise RuntimeError("selected index k out of range")
        return sort_result(input, Tensor._make(np.zeros((), np.int64)))
    dim = normalize_dim(dim, input._data.ndim)
    if not 0 <= k <= input._data.shape[dim]:
        raise RuntimeError(f"topk: selected index k={k} out of range for dimension {dim} of size "
                           f"{input._data.shape[dim]}")
    indices = Order(dim, largest, k)(input)
    return sort_result(shown_as(gather(input, dim, indices), "TopkBackward0"), indices)
