"""Questions about a tensor and index bookkeeping: ``argwhere``, ``nonzero_static``, ``unravel_index``,
``is_nonzero``, ``is_same_size``, ``is_signed``, ``split_with_sizes`` and the ``unsafe_*`` splits.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.index import nonzero
from shenjing._ops.shape import chunk, split
from shenjing._tensor import Tensor

__all__ = ["argwhere", "nonzero_static", "unravel_index", "is_nonzero", "is_same_size", "is_signed",
           "split_with_sizes", "unsafe_split", "unsafe_chunk", "unsafe_split_with_sizes"]


def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero elements, one row per element: (count, ndim) int64 (``nonzero``).

    >>> import shenjing
    >>> shenjing.argwhere(shenjing.tensor([[0, 1], [2, 0]]))
    tensor([[0, 1],
            [1, 0]])
    """
    check_tensor(input)
    return nonzero(input)


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero`` with a fixed number of rows: the first ``size`` indices, padded with ``fill_value``.

    >>> import shenjing
    >>> shenjing.nonzero_static(shenjing.tensor([0, 3, 4]), size=3)
    tensor([[ 1],
            [ 2],
            [-1]])
    """
    check_tensor(input)
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    found = np.stack(np.nonzero(input._data), axis=1).astype(np.int64) if input._data.ndim else \
        np.zeros((int(bool(input._data)), 0), np.int64)
    result = np.full((size, input._data.ndim), fill_value, dtype=np.int64)
    result[:min(size, len(found))] = found[:size]
    return Tensor._make(result)


def unravel_index(indices: Tensor, shape: int | Sequence[int]) -> tuple[Tensor, ...]:
    """The coordinates in a tensor of ``shape`` of the flat (row-major) ``indices``: one int64 tensor per
    dim, each of ``indices``' shape.

    >>> import shenjing
    >>> shenjing.unravel_index(shenjing.tensor([4, 1]), (2, 3))
    (tensor([1, 0]), tensor([1, 1]))
    """
    indices = check_tensor(indices, "unravel_index(): indices")
    if indices._data.dtype.kind not in "iu" or indices._data.dtype == np.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    dims = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(d < 0 for d in dims):
        raise ValueError("'shape' cannot have negative values, but got " + str(list(dims)))
    total = int(np.prod(dims, dtype=np.int64))
    flat = indices._data.astype(np.int64)
    if flat.size and (flat.min() < -total or flat.max() >= total):
        raise RuntimeError(f"expected 'indices' to be in range [{-total}, {total}) for shape {list(dims)}")
    flat = np.where(flat < 0, flat + total, flat)
    if not dims:
        return ()
    return tuple(Tensor._make(c.astype(np.int64)) for c in np.unravel_index(flat, dims))


def is_nonzero(input: Tensor) -> bool:
    """Whether a one-element tensor is not zero (``bool(input)``, refusing other sizes)."""
    check_tensor(input)
    if input.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(()).item() != 0)


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have the same shape."""
    check_tensor(input)
    check_tensor(other, "is_same_size(): other")
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input: Tensor) -> bool:
    """Whether the dtype holds negative numbers (everything but uint8 and bool)."""
    check_tensor(input)
    return input.dtype.is_signed


def split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    """Cut along ``dim`` into pieces of the given sizes (which must add up to the dim's size)."""
    check_tensor(input)
    if isinstance(split_sizes, int):
        raise TypeError("split_with_sizes(): argument 'split_sizes' must be a sequence of ints, not int")
    return split(input, list(split_sizes), dim)


def unsafe_split(input: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """``split`` (PyTorch's unsafe form only skips view tracking; shenjing's pieces are ordinary views)."""
    return split(input, split_size_or_sections, dim)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """``chunk`` (see ``unsafe_split``)."""
    return chunk(input, chunks, dim)


def unsafe_split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    """``split_with_sizes`` (see ``unsafe_split``)."""
    return split_with_sizes(input, split_sizes, dim)
