"""Views given by strides: ``as_strided`` and ``Tensor.unfold``; ``empty_strided`` / ``empty_permuted``.

shenjing's tensors are NumPy arrays, not (storage, offset, strides) triples, so ``as_strided`` reads the
tensor's elements in row-major order as its "storage": for a contiguous tensor (the usual case) that is
PyTorch's storage and the result is a view sharing memory; for a non-contiguous one PyTorch reads the
underlying storage in memory order while shenjing reads a row-major copy (and returns no view). Strides
and ``storage_offset`` count elements, as PyTorch's do.

Both ops are differentiable the same way: the view picks flat positions (``positions = view(arange(n))``),
so the gradient adds the upstream gradient back at those positions; overlapping windows accumulate.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import check_tensor, normalize_dim
from shenjing._ops.index import IndexAddInto
from shenjing._ops.shape import reshape
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["as_strided", "unfold", "empty_strided", "empty_permuted"]


def _check_geometry(numel: int, size: Sequence[int], stride: Sequence[int], offset: int, name: str) -> None:
    if len(size) != len(stride):
        raise RuntimeError(f"{name}: mismatch in length of strides and shape ({len(size)} sizes, {len(stride)} "
                           f"strides)")
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise RuntimeError(f"{name}: sizes and strides must be non-negative, got size {list(size)} and stride "
                           f"{list(stride)}")
    if offset < 0:
        raise RuntimeError(f"{name}: Tensor: invalid storage offset {offset}")
    if all(size):
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= numel:
            raise RuntimeError(f"{name}: setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
                               f"{offset} require a storage of {last + 1} elements; this tensor has {numel} "
                               f"(out of bounds for storage of size {numel})")


def _strided_view(flat: np.ndarray, size: tuple, stride: tuple, offset: int) -> np.ndarray:
    start = flat[offset:] if flat.size > offset else flat[:0]
    overlapping = len(set(_element_offsets(size, stride))) < int(np.prod(size, dtype=np.int64))
    return np.lib.stride_tricks.as_strided(start, size, tuple(s * flat.itemsize for s in stride),
                                           writeable=not overlapping and flat.flags.writeable)


def _element_offsets(size: tuple, stride: tuple) -> list[int]:
    grids = np.indices(size, dtype=np.int64) if size else np.zeros((0,), np.int64)
    return np.tensordot(np.asarray(stride, np.int64), grids, axes=1).reshape(-1).tolist() if size else [0]


def strided_positions(numel: int, size: Sequence[int], stride: Sequence[int], storage_offset: int | None,
                      name: str) -> np.ndarray:
    """The flat positions (in row-major order) that ``as_strided(size, stride, storage_offset)`` reads."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = int(storage_offset or 0)
    _check_geometry(numel, size, stride, offset, name)
    return _strided_view(np.arange(numel, dtype=np.int64), size, stride, offset).copy()


class PositionView(Op):
    """A view that picks elements by position; backward adds ``gy`` back at the picked positions."""

    returns_view = True

    def pick(self, array: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x):
        self.input_shape = x.shape
        return self.pick(x)

    def backward(self, gy):
        numel = int(np.prod(self.input_shape, dtype=np.int64))
        positions = self.pick(np.arange(numel).reshape(self.input_shape))
        flat = IndexAddInto((numel,), (positions.reshape(-1),), True)
        return reshape(flat(reshape(gy, (-1,))), self.input_shape)


def _as_view(op: PositionView, input: Tensor) -> Tensor:
    """Run ``op``; a result that shares the input's memory is recorded as its view (NumPy's stride tricks
    hide the base that ``Op`` looks for), so that in-place writes reach the input's history."""
    result = op(input)
    if result._base is None and np.shares_memory(result._data, input._data):
        result._become_view_of(input, op)
    return result


class AsStrided(PositionView):
    def __init__(self, size: tuple, stride: tuple, offset: int) -> None:
        self.size, self.stride, self.offset = size, stride, offset

    def name(self) -> str:
        return "AsStridedBackward0"

    def pick(self, array):
        flat = array.reshape(-1)  # a view when the array is contiguous
        return _strided_view(flat, self.size, self.stride, self.offset)


def as_strided(input: Tensor, size: Sequence[int], stride: Sequence[int], storage_offset: int | None = None) -> Tensor:
    """The view with the given ``size``, ``stride`` and ``storage_offset`` (in elements) of the input's
    elements in row-major order; overlapping views (a stride 0, windows) are read-only.

    >>> import shenjing
    >>> shenjing.arange(6.).as_strided((2, 3), (1, 2))   # columns of the 3x2 row-major matrix
    tensor([[0., 2., 4.],
            [1., 3., 5.]])
    """
    check_tensor(input)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = int(storage_offset or 0)
    _check_geometry(input._data.size, size, stride, offset, "as_strided")
    return _as_view(AsStrided(size, stride, offset), input)


class Unfold(PositionView):
    def __init__(self, dim: int, size: int, step: int) -> None:
        self.dim, self.size, self.step = dim, size, step

    def name(self) -> str:
        return "UnfoldBackward0"

    def pick(self, array):
        if array.ndim == 0:
            return array.reshape(1)
        windows = np.lib.stride_tricks.sliding_window_view(array, self.size, axis=self.dim,
                                                           writeable=self.size <= self.step and array.flags.writeable)
        return windows[(slice(None),) * self.dim + (slice(None, None, self.step),)]


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows of length ``size`` along ``dimension``, every ``step`` elements, as a new last dim (a view).

    Shapes: (..., n, ...) -> (..., (n - size) // step + 1, ..., size).

    >>> import shenjing
    >>> shenjing.arange(5.).unfold(0, 2, 2)
    tensor([[0., 1.],
            [2., 3.]])
    """
    check_tensor(input)
    dim = normalize_dim(dimension, input._data.ndim)
    length = input._data.shape[dim] if input._data.ndim else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    return _as_view(Unfold(dim, int(size), int(step)), input)


def empty_strided(size: Sequence[int], stride: Sequence[int], *, dtype: Any = None, layout: Any = None,
                  device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised (here: zero) tensor of ``size`` whose ``stride()`` is ``stride`` (a view of a buffer
    just large enough)."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    np_dtype = (_dtype.as_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy
    needed = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    _check_geometry(needed, size, stride, 0, "empty_strided")
    buffer = np.zeros(needed, dtype=np_dtype)
    array = np.lib.stride_tricks.as_strided(buffer, size, tuple(s * buffer.itemsize for s in stride))
    tensor = Tensor._make(array)
    tensor.requires_grad = requires_grad
    return tensor


def empty_permuted(size: Sequence[int], physical_layout: Sequence[int], *, dtype: Any = None, layout: Any = None,
                   device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised (here: zero) tensor of ``size`` laid out in memory in the dim order
    ``physical_layout`` (``(0, 2, 3, 1)`` gives channels-last strides for NCHW)."""
    size, order = tuple(int(s) for s in size), tuple(int(d) for d in physical_layout)
    if sorted(order) != list(range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {list(order)} must be a permutation of the "
                           f"{len(size)} dims")
    np_dtype = (_dtype.as_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy
    physical = np.zeros([size[d] for d in order], dtype=np_dtype)
    tensor = Tensor._make(physical.transpose(np.argsort(order)))
    tensor.requires_grad = requires_grad
    return tensor
