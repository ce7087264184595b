"""Writing into chosen positions, out of place: index_fill / index_copy / index_put, masked_scatter, put,
scatter_reduce / index_reduce, and the ``*_scatter`` ops (diagonal, select, slice, as_strided), the
out-of-place forms of writing through a view.

Most are indexing written as ``IndexPut`` / ``IndexAccumulate`` of ``shenjing._ops.index`` (so they have
the gradients of indexing, of every order). ``scatter_reduce`` is one op, ``ScatterReduce``:

    out[p] = reduce(input[p] (if include_self), src[j] for every j scattered to p)

with reduce in sum, prod, mean, amax, amin; positions nothing is scattered to keep ``input[p]``.
Its gradient: sum -> gy[p]; mean -> gy[p] / count[p]; amax/amin -> gy[p] shared equally between the
values that equal the result; prod -> gy[p] times the product of the other factors at p.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._ops._util import as_operand, cast_to, check_tensor, normalize_dim
from shenjing._ops.index import (Index, IndexAccumulate, IndexPut, _along, _check_bounds, _check_index,
                                 _normalize_index)
from shenjing._ops.shape import reshape
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["index_fill", "index_copy", "index_put", "index_reduce", "masked_scatter", "put", "scatter_reduce",
           "diagonal_scatter", "select_scatter", "slice_scatter", "as_strided_scatter"]


def _positions(input: Tensor) -> np.ndarray:
    """Each element's flat (row-major) position, in the input's shape."""
    return np.arange(input._data.size).reshape(input._data.shape)


def _write_at(input: Tensor, positions: np.ndarray, src: Any, name: str) -> Tensor:
    """A copy of ``input`` with ``src`` (the shape of ``positions``) written at the flat ``positions``."""
    src = as_operand(src)
    if isinstance(src, Tensor) and tuple(src.shape) != positions.shape:
        raise RuntimeError(f"{name}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(positions.shape)}")
    flat_src = reshape(cast_to(src, input.dtype), (-1,)) if isinstance(src, Tensor) else src
    written = IndexPut((positions.reshape(-1),))(reshape(input, (-1,)), flat_src)
    return reshape(written, input._data.shape)


def _dim_index(input: Tensor, dim: int, index: Any, name: str) -> tuple[int, np.ndarray]:
    """``dim`` normalised and a 1-D int64 ``index`` along it checked (negative entries counted from the end)."""
    dim = normalize_dim(dim, input._data.ndim)
    index = check_tensor(index, f"{name}(): index")
    if index._data.dtype.kind not in "iu":
        raise IndexError(f"{name}(): Expected a long tensor for index, but got {index.dtype}")
    if index._data.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector, got shape {list(index.shape)}")
    size = input._data.shape[dim] if input._data.ndim else 1
    array = index._data.reshape(-1).astype(np.int64)
    _check_bounds(np.where(array < 0, array + size, array), size, dim, name)
    return dim, np.where(array < 0, array + size, array)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """A copy of ``input`` with every entry at ``index`` along ``dim`` set to ``value`` (a number or 0-d tensor).

    >>> import shenjing
    >>> shenjing.zeros(2, 3).index_fill(1, shenjing.tensor([0, 2]), 5.0)
    tensor([[5., 0., 5.],
            [5., 0., 5.]])
    """
    check_tensor(input)
    if input._data.ndim == 0:
        return reshape(index_fill(reshape(input, (1,)), dim, index, value), ())
    dim, array = _dim_index(input, dim, index, "index_fill")
    if isinstance(value, Tensor) and value._data.ndim:
        raise IndexError(f"index_fill_(): Expected dim of the value tensor to be 0, but got {value._data.ndim} "
                         f"dimension(s)")
    positions = (slice(None),) * dim + (np.unique(array),)
    value = cast_to(value, input.dtype) if isinstance(value, Tensor) else value
    return IndexPut(positions)(input, value)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with ``out[..., index[i], ...] = source[..., i, ...]`` along ``dim``."""
    check_tensor(input)
    check_tensor(source, "index_copy(): source")
    dim, array = _dim_index(input, dim, index, "index_copy")
    expected = list(input.shape)
    if input._data.ndim:
        expected[dim] = len(array)
    if list(source.shape) != expected and not (input._data.ndim == 0 and source.numel() == len(array)):
        raise IndexError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
                         f"slice shape: {expected} at dimension {dim} and source slice shape: {list(source.shape)}")
    if input._data.ndim == 0:
        return reshape(IndexPut((array,))(reshape(input, (1,)), reshape(cast_to(source, input.dtype), (-1,))), ())
    return IndexPut((slice(None),) * dim + (array,))(input, cast_to(source, input.dtype))


def index_put(input: Tensor, indices: Sequence[Any], values: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``out[indices] = values`` (``+=`` with ``accumulate``, where repeated
    indices add up); ``indices`` is a tuple of index tensors, one per leading dim (None for a whole dim).

    >>> import shenjing
    >>> shenjing.zeros(3).index_put((shenjing.tensor([0, 0, 2]),), shenjing.tensor(1.0), accumulate=True)
    tensor([2., 0., 1.])
    """
    check_tensor(input)
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): indices must be a tuple of tensors, got {type(indices).__name__}")
    normalized, _ = _normalize_index(tuple(slice(None) if i is None else i for i in indices))
    values = cast_to(as_operand(values), input.dtype)
    if accumulate:
        if not isinstance(values, Tensor):
            values = Tensor._make(np.asarray(values, dtype=input._data.dtype))
        target_shape = input._data[normalized].shape
        values = values.expand(target_shape) if tuple(values.shape) != target_shape else values
        return IndexAccumulate(normalized)(input, values)
    return IndexPut(normalized)(input, values)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` where the positions of True in ``mask`` (broadcast to ``input``) take the first
    elements of ``source`` in row-major order.

    >>> import shenjing
    >>> shenjing.zeros(4).masked_scatter(shenjing.tensor([True, False, True, False]), shenjing.tensor([1., 2., 3.]))
    tensor([1., 0., 2., 0.])
    """
    check_tensor(input)
    mask = check_tensor(mask, "masked_scatter(): mask")
    source = check_tensor(source, "masked_scatter(): source")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {input.dtype} "
                           f"and {source.dtype}")
    try:
        full_mask = np.broadcast_to(mask._data, input._data.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter: the mask of shape {list(mask.shape)} does not broadcast to the input's "
                           f"shape {list(input.shape)}") from None
    count = int(full_mask.sum())
    if count > source.numel():
        raise RuntimeError(f"masked_scatter: expected source to have at least {count} elements (the number of True "
                           f"values in the mask), got {source.numel()}")
    taken = reshape(source, (-1,))[:count]
    return IndexPut(np.nonzero(full_mask))(input, taken)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``out.flatten()[index] = source`` (``+=`` with ``accumulate``); negative
    indices count from the end.

    >>> import shenjing
    >>> shenjing.zeros(2, 2).put(shenjing.tensor([0, -1]), shenjing.tensor([7., 8.]))
    tensor([[7., 0.],
            [0., 8.]])
    """
    check_tensor(input)
    index = check_tensor(index, "put(): index")
    source = check_tensor(source, "put(): source")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"put(): Expected a long tensor for index, but got {index.dtype}")
    if index.numel() != source.numel():
        raise RuntimeError(f"put(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    size = input.numel()
    flat_index = index._data.reshape(-1).astype(np.int64)
    if flat_index.size and (flat_index.min() < -size or flat_index.max() >= size):
        bad = int(flat_index.min() if flat_index.min() < -size else flat_index.max())
        raise IndexError(f"put(): index {bad} is out of bounds for a tensor of {size} elements")
    flat_index = np.where(flat_index < 0, flat_index + size, flat_index)
    values = reshape(cast_to(source, input.dtype), (-1,))
    op = IndexAccumulate((flat_index,)) if accumulate else IndexPut((flat_index,))
    return reshape(op(reshape(input, (-1,)), values), input._data.shape)


# -- scatter_reduce / index_reduce -----------------------------------------------------------------

_REDUCE_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


class ScatterReduce(Op):
    """out[p] = reduce(input[p] if include_self, src[j] scattered to p); see the module docstring."""

    def __init__(self, positions: tuple, reduce: str, include_self: bool) -> None:
        self.positions, self.reduce, self.include_self = positions, reduce, include_self

    def name(self) -> str:
        return "ScatterReduceBackward0"

    def forward(self, x, src):
        ufunc = _REDUCE_UFUNCS[self.reduce]
        touched = np.zeros(x.shape, dtype=bool)
        touched[self.positions] = True
        counts = np.zeros(x.shape, dtype=np.int64)
        np.add.at(counts, self.positions, 1)
        out = x.copy()
        if not self.include_self:
            out[touched] = ufunc.identity if ufunc.identity is not None else (
                _lowest(x.dtype) if self.reduce == "amax" else _highest(x.dtype))
        ufunc.at(out, self.positions, src)
        if self.reduce == "mean":
            divisor = np.where(touched, counts + (1 if self.include_self else 0), 1)
            out = out / divisor if out.dtype.kind == "f" else out // divisor
            self.divisor = divisor.astype(x.dtype)
        self.touched = touched
        self.save_for_backward(x, src, out)
        return out.astype(x.dtype, copy=False)

    def backward(self, gy):
        x, src, out = (t._data for t in self.saved_tensors)
        untouched_or_self = (~self.touched) | self.include_self
        if self.reduce == "sum":
            gx = gy * Tensor._make(untouched_or_self.astype(gy._data.dtype))
            return gx, Index(self.positions, True)(gy)
        if self.reduce == "mean":
            scaled = gy / Tensor._make(self.divisor)
            gx = scaled * Tensor._make(untouched_or_self.astype(gy._data.dtype))
            return gx, Index(self.positions, True)(scaled)
        if self.reduce in ("amax", "amin"):
            self_wins = ((x == out) & untouched_or_self) | ~self.touched
            src_wins = src == out[self.positions]
            winners = self_wins.astype(x.dtype)
            np.add.at(winners, self.positions, src_wins.astype(x.dtype))
            shared = gy / Tensor._make(winners)
            gx = shared * Tensor._make(self_wins.astype(x.dtype))
            return gx, Index(self.positions, True)(shared) * Tensor._make(src_wins.astype(x.dtype))
        return self._prod_backward(gy, x, src)

    def _prod_backward(self, gy, x, src):
        """d out[p] / d factor = the product of the other factors at p, computed without dividing by a zero
        factor: the product of the non-zero factors and the count of zeros at each p."""
        factors_self = np.where(self.touched & ~np.bool_(self.include_self), 1, x)
        nonzero_product = np.where(factors_self == 0, 1, factors_self).astype(x.dtype)
        zeros = (factors_self == 0).astype(np.int64)
        np.multiply.at(nonzero_product, self.positions, np.where(src == 0, 1, src))
        np.add.at(zeros, self.positions, (src == 0).astype(np.int64))

        def others(value: np.ndarray, at: Any) -> np.ndarray:
            product, zero_count = nonzero_product[at], zeros[at]
            safe = np.where(value == 0, 1, value)
            return np.where(zero_count == 0, product / safe,
                            np.where((zero_count == 1) & (value == 0), product, 0)).astype(x.dtype)

        gx_factor = np.where(self.touched & ~np.bool_(self.include_self), 0, others(x, Ellipsis))
        gx = gy * Tensor._make(gx_factor.astype(x.dtype))
        gsrc = Index(self.positions, True)(gy) * Tensor._make(others(src, self.positions))
        return gx, gsrc


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> Any:
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _check_reduce(reduce: str, name: str, choices: tuple) -> None:
    if reduce not in choices:
        raise RuntimeError(f"{name}(): reduce argument must be one of {', '.join(choices)}, got {reduce!r}")


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Reduce ``src`` into a copy of ``input`` at ``out[i][index[i][j]]`` (dim=1) with ``reduce`` one of
    'sum', 'prod', 'mean', 'amax', 'amin'; ``include_self=False`` leaves ``input``'s own value out where
    something is scattered.

    >>> import shenjing
    >>> x = shenjing.tensor([1., 2., 3.])
    >>> x.scatter_reduce(0, shenjing.tensor([0, 0, 2]), shenjing.tensor([5., 4., 1.]), "amax")
    tensor([5., 2., 3.])
    """
    check_tensor(input)
    src = check_tensor(src, "scatter_reduce(): src")
    _check_reduce(reduce, "scatter_reduce", ("sum", "prod", "mean", "amax", "amin"))
    dim = normalize_dim(dim, input._data.ndim)
    array = _check_index(index, input, dim, "scatter_reduce")
    if src.dtype != input.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, got {input.dtype} "
                           f"and {src.dtype}")
    if any(i > s for i, s in zip(array.shape, src.shape)):
        raise RuntimeError(f"scatter_reduce(): Expected index {list(array.shape)} to be smaller than src "
                           f"{list(src.shape)} in every dimension")
    part = src[tuple(slice(0, n) for n in array.shape)] if tuple(array.shape) != tuple(src.shape) else src
    return ScatterReduce(_along(dim, array), reduce, bool(include_self))(input, part)


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """Reduce the slices of ``source`` into a copy of ``input`` at ``index`` (1-D) along ``dim``, with
    ``reduce`` one of 'prod', 'mean', 'amax', 'amin' (``scatter_reduce`` with the index spread over the
    slice)."""
    check_tensor(input)
    source = check_tensor(source, "index_reduce(): source")
    _check_reduce(reduce, "index_reduce", ("prod", "mean", "amax", "amin"))
    dim, array = _dim_index(input, dim, index, "index_reduce")
    if source._data.ndim != input._data.ndim or (input._data.ndim and source.shape[dim] != len(array)):
        raise IndexError(f"index_reduce_(): Source/destination tensor must have the same slice shapes, and source "
                         f"must have {len(array)} entries along dim {dim}: source shape {list(source.shape)}, "
                         f"input shape {list(input.shape)}")
    shape = [1] * source._data.ndim
    if source._data.ndim:
        shape[dim] = len(array)
    spread = np.broadcast_to(array.reshape(shape), source._data.shape).copy()
    if source.dtype != input.dtype:
        raise RuntimeError(f"index_reduce_(): self ({input.dtype}) and source ({source.dtype}) must have the same "
                           f"scalar type")
    return ScatterReduce(_along(dim, spread), reduce, bool(include_self))(input, source)


# -- the out-of-place writes through a view --------------------------------------------------------

def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written on its ``offset`` diagonal of (dim1, dim2).

    >>> import shenjing
    >>> shenjing.zeros(2, 2).diagonal_scatter(shenjing.ones(2))
    tensor([[1., 0.],
            [0., 1.]])
    """
    check_tensor(input)
    d1, d2 = normalize_dim(dim1, input._data.ndim), normalize_dim(dim2, input._data.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _write_at(input, np.diagonal(_positions(input), offset, d1, d2), src, "diagonal_scatter")


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input`` with ``src`` written at ``index`` along ``dim`` (``out.select(dim, index) = src``)."""
    check_tensor(input)
    dim = normalize_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select_scatter(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return _write_at(input, _positions(input)[(slice(None),) * dim + (index,)], src, "select_scatter")


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written at ``start:end:step`` along ``dim``."""
    check_tensor(input)
    dim = normalize_dim(dim, input._data.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    region = _positions(input)[(slice(None),) * dim + (slice(start, end, step),)]
    return _write_at(input, region, src, "slice_scatter")


def as_strided_scatter(input: Tensor, src: Tensor, size: Sequence[int], stride: Sequence[int],
                       storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` written where ``input.as_strided(size, stride, storage_offset)``
    would read (the elements counted in row-major order; see ``as_strided``)."""
    from shenjing._ops.strided import strided_positions

    check_tensor(input)
    positions = strided_positions(input._data.size, size, stride, storage_offset, "as_strided_scatter")
    return _write_at(input, positions, src, "as_strided_scatter")
