"""Triangles and diagonals of matrices: tril, triu, diagonal, diag_embed, diag, diagflat, trace, and the
index helpers tril_indices / triu_indices.

Each op is linear, so its backward is the adjoint op on the gradient: tril's is tril, diagonal's writes
the gradient back onto the diagonal of zeros (``diag_embed`` with the same dims), and diag_embed's reads
it off again (``diagonal``). ``diagonal`` returns a new tensor (PyTorch returns a view).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor, normalize_dim
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["tril", "triu", "diagonal", "diag_embed", "diag", "diagflat", "trace", "tril_indices", "triu_indices"]


def _check_matrix(name: str, x: Tensor, ndim: int = 2) -> None:
    if x._data.ndim < ndim:
        raise RuntimeError(f"{name}: input tensor must have at least {ndim} dimensions, got {x._data.ndim}")


class Triangle(Op):
    """y = x where j - i <= k (lower) or j - i >= k (upper) on the last two dims, else 0; dx = the same of dy."""

    def __init__(self, upper: bool, k: int) -> None:
        self.upper, self.k = upper, k

    def name(self) -> str:
        return "TriuBackward0" if self.upper else "TrilBackward0"

    def forward(self, x):
        return np.triu(x, self.k) if self.upper else np.tril(x, self.k)

    def backward(self, gy):
        return Triangle(self.upper, self.k)(gy)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (entries with j - i <= ``diagonal``); the rest 0.

    >>> import shenjing
    >>> shenjing.tril(shenjing.ones(3, 3))
    tensor([[1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 1.]])
    """
    check_tensor(input)
    _check_matrix("tril", input)
    return Triangle(False, int(diagonal))(input)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (entries with j - i >= ``diagonal``); the rest 0."""
    check_tensor(input)
    _check_matrix("triu", input)
    return Triangle(True, int(diagonal))(input)


def _diagonal_dims(ndim: int, dim1: int, dim2: int) -> tuple[int, int]:
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


class Diagonal(Op):
    """y[..., t] = x[..., i_t, ..., j_t, ...] along the ``offset`` diagonal of dims (dim1, dim2), moved last."""

    def __init__(self, offset: int, dim1: int, dim2: int) -> None:
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def name(self) -> str:
        return "DiagonalBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        return np.diagonal(x, self.offset, self.dim1, self.dim2).copy()

    def backward(self, gy):
        return DiagonalScatter(self.input_shape, self.offset, self.dim1, self.dim2)(gy)


class DiagonalScatter(Op):
    """Zeros of ``shape`` with x written along the ``offset`` diagonal of (dim1, dim2); dx = that diagonal of dy."""

    def __init__(self, shape: tuple[int, ...], offset: int, dim1: int, dim2: int) -> None:
        self.shape, self.offset, self.dim1, self.dim2 = tuple(shape), offset, dim1, dim2

    def name(self) -> str:
        return "DiagEmbedBackward0"

    def forward(self, x):
        out = np.zeros(self.shape, x.dtype)
        _writable_diagonal(out, self.offset, self.dim1, self.dim2)[...] = x
        return out

    def backward(self, gy):
        return Diagonal(self.offset, self.dim1, self.dim2)(gy)


def _writable_diagonal(out: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    """A writable view of ``np.diagonal(out, offset, dim1, dim2)`` of a C-contiguous ``out``."""
    shape, strides = list(out.shape), list(out.strides)
    n1, n2, s1, s2 = shape[dim1], shape[dim2], strides[dim1], strides[dim2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    start = offset * s2 if offset >= 0 else -offset * s1
    rest = [d for d in range(out.ndim) if d not in (dim1, dim2)]
    flat = out.reshape(-1)[start // out.itemsize:] if length else out.reshape(-1)
    return np.lib.stride_tricks.as_strided(flat, [shape[d] for d in rest] + [length],
                                           [strides[d] for d in rest] + [s1 + s2])


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset`` diagonal of dims ``dim1`` and ``dim2`` (above the main one for offset > 0), as the
    last dim of the result. A new tensor (PyTorch returns a view).

    Shapes: (2, 3, 4) with dim1=1, dim2=2 -> (2, 3).
    """
    check_tensor(input)
    _check_matrix("diagonal", input)
    d1, d2 = _diagonal_dims(input._data.ndim, dim1, dim2)
    return Diagonal(int(offset), d1, d2)(input)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices whose ``offset`` diagonals (in dims ``dim1``, ``dim2`` of the result) hold the last dim of
    ``input``; zeros elsewhere. Shapes: (B, n) -> (B, n + |offset|, n + |offset|)."""
    check_tensor(input)
    ndim = input._data.ndim + 1
    d1, d2 = _diagonal_dims(ndim, dim1, dim2)
    n = input._data.shape[-1] + abs(int(offset)) if input._data.ndim else 1 + abs(int(offset))
    rest = list(input._data.shape[:-1])
    shape = []
    for d in range(ndim):
        shape.append(n if d in (d1, d2) else rest.pop(0))
    x = input if input._data.ndim else input.reshape(1)
    return DiagonalScatter(tuple(shape), int(offset), d1, d2)(x)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input: the square matrix with it on the ``diagonal``-th diagonal. A 2-D input: that diagonal."""
    check_tensor(input)
    if input._data.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input._data.ndim == 2:
        return Diagonal(int(diagonal), 0, 1)(input)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """``diag`` of the flattened input: a square matrix with its elements on the ``offset`` diagonal."""
    check_tensor(input)
    return diag_embed(input.reshape(-1), offset, 0, 1)


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix."""
    check_tensor(input)
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return shown_as(Diagonal(0, 0, 1)(input).sum(), "TraceBackward0")


def _triangle_indices(row: int, col: int, offset: int, upper: bool, dtype: Any) -> Tensor:
    from shenjing import _dtype

    i, j = np.indices((int(row), int(col)))
    keep = (j - i >= offset) if upper else (j - i <= offset)
    numpy_dtype = np.int64 if dtype is None else _dtype.as_dtype(dtype).numpy
    return Tensor._make(np.stack([i[keep], j[keep]]).astype(numpy_dtype))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a row x col matrix, row by row."""
    return _triangle_indices(row, col, offset, False, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle of a row x col matrix, row by row."""
    return _triangle_indices(row, col, offset, True, dtype)
