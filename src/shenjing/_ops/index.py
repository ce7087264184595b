"""Indexing: ``x[...]``, ``x[...] = v``, gather/scatter, index_select/index_add, masked_fill.

Every read is ``Index`` (NumPy indexing) and its gradient ``IndexAddInto`` (zeros, then the upstream
gradient added at the same positions: repeated indices accumulate). The two are each other's
backward, so indexing has gradients of every order. gather/scatter/index_* are written as indexing
with an explicit tuple of index arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import as_operand, cast_to, check_tensor, normalize_dim
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, shown_as


__all__ = ["getitem", "setitem", "narrow", "select", "gather", "scatter", "scatter_add", "index_select",
           "index_add", "masked_fill", "masked_select", "nonzero", "take_along_dim"]

def _normalize_index(index: Any) -> tuple[Any, bool]:
    """NumPy's form of a PyTorch index, and whether it holds integer arrays (so may repeat)."""
    items = index if isinstance(index, tuple) else (index,)
    normalized, repeats = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item._data
        elif isinstance(item, (list, np.ndarray)):
            item = np.asarray(item)
        if isinstance(item, np.ndarray):
            if item.dtype.kind in "iu" and item.ndim == 0:
                item = int(item)
            elif item.dtype.kind in "iu":
                repeats = True
            elif item.dtype != np.bool_:
                raise IndexError(f"tensors used as indices must be long, int or bool tensors, got {item.dtype}")
        normalized.append(item)
    return tuple(normalized), repeats


class Index(Op):
    returns_view = True

    def __init__(self, index: tuple, repeats: bool, kind: str | None = None) -> None:
        self.index, self.repeats, self.kind = index, repeats, kind

    def name(self) -> str:
        if self.kind is None:  # PyTorch's names: advanced indexing is Index, basic the kind of its last step
            basic = not any(isinstance(i, np.ndarray) for i in self.index)
            self.kind = _last_basic_step(self.index, self.input_shape) if basic else "Index"
        return f"{self.kind}Backward0"

    def forward(self, x):
        self.input_shape = x.shape
        result = x[self.index]
        if type(result) is not np.ndarray:  # one integer per dim: NumPy gives a scalar copy, PyTorch a 0-d view
            result = x[self.index + (Ellipsis,)]
        return result

    def backward(self, gy):
        return IndexAddInto(self.input_shape, self.index, self.repeats)(gy)


def _last_basic_step(index: tuple, shape: tuple) -> str:
    """PyTorch applies a basic index item by item, skipping slices that keep a whole dim: its last step
    (Select for an integer, Slice, Unsqueeze for None; Alias when every step was skipped) names the node."""
    kind, dim = "Alias", 0
    consumed = sum(1 for item in index if item is not None and item is not Ellipsis)
    for item in index:
        if item is Ellipsis:
            dim += len(shape) - consumed
        elif item is None:
            kind = "Unsqueeze"
        elif isinstance(item, slice):
            if item.indices(shape[dim]) != (0, shape[dim], 1):
                kind = "Slice"
            dim += 1
        else:
            kind = "Select"
            dim += 1
    return kind


class IndexAddInto(Op):
    """zeros(shape) with ``values`` added at ``index``: the gradient of ``x[index]``."""

    def __init__(self, shape: tuple, index: tuple, repeats: bool) -> None:
        self.shape, self.index, self.repeats = shape, index, repeats

    def name(self) -> str:
        return "IndexBackwardBackward0"

    def forward(self, values):
        result = np.zeros(self.shape, dtype=values.dtype)
        if self.repeats:
            np.add.at(result, self.index, values)
        else:
            result[self.index] = values
        return result

    def backward(self, gy):
        return Index(self.index, self.repeats)(gy)


class IndexPut(Op):
    """A copy of ``x`` with ``values`` written at ``index`` (``x[index] = values`` out of place)."""

    def __init__(self, index: tuple) -> None:
        self.index = index

    def forward(self, x, values):
        result = x.copy()
        result[self.index] = values
        return result

    def backward(self, gy):
        gx = IndexPut(self.index)(gy, 0.0) if self.needs_input_grad[0] else None
        gvalues = Index(self.index, False)(gy) if self.needs_input_grad[1] else None
        return gx, gvalues


class IndexAccumulate(Op):
    """A copy of ``x`` with ``values`` added at ``index`` (repeats accumulate): scatter_add, index_add."""

    def __init__(self, index: tuple) -> None:
        self.index = index

    def forward(self, x, values):
        result = x.copy()
        np.add.at(result, self.index, values)
        return result

    def backward(self, gy):
        gvalues = Index(self.index, True)(gy) if self.needs_input_grad[1] else None
        return gy, gvalues


def getitem(input: Tensor, index: Any) -> Tensor:
    """``input[index]`` with PyTorch's (= NumPy's) rules: ints, slices, None, ..., int and bool tensors."""
    normalized, repeats = _normalize_index(index)
    return Index(normalized, repeats)(input)


def setitem(input: Tensor, index: Any, value: Any) -> None:
    """``input[index] = value``: in place; differentiable for non-leaf tensors and for ``value``."""
    normalized, _ = _normalize_index(index)
    value = as_operand(value)
    records = _GradState.enabled and (input.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if not records:
        input._check_inplace()
        try:
            input._data[normalized] = value._data if isinstance(value, Tensor) else value
        except ValueError as error:
            raise RuntimeError(f"setitem: cannot assign a value of shape {list(np.shape(value))} to "
                               f"tensor[{index!r}] of a tensor of shape {list(input.shape)}: {error}") from None
        except IndexError as error:
            message = str(error).replace("axis", "dimension")
            raise IndexError(f"{message} (tensor of shape {list(input.shape)})") from None
        input._bump_version()
        return
    if input._base is not None:
        input._check_view_write()
    written = IndexPut(normalized)(input, cast_to(value, input.dtype))
    input._adopt(shown_as(written, "CopySlices"))  # (PyTorch's node for a write into a tensor, as it prints)
    if input._base is not None and input._data.flags.writeable:
        input._rebase_after_view_write()


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """Elements ``start .. start+length-1`` along ``dim`` (a view)."""
    dim = normalize_dim(dim, input._data.ndim)
    if start < 0:
        start += input._data.shape[dim]
    return getitem(input, (slice(None),) * dim + (slice(start, start + length),))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, without that dim."""
    dim = normalize_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return getitem(input, (slice(None),) * dim + (index,))


def _along(dim: int, index: np.ndarray) -> tuple:
    """Index arrays that pick ``out[i][j][k] = x[i][index[i][j][k]][k]`` (for dim == 1)."""
    grids = np.ogrid[tuple(slice(0, n) for n in index.shape)]
    return tuple(index if d == dim else grids[d] for d in range(index.ndim))


def _check_index(index: Any, input: Tensor, dim: int, name: str) -> np.ndarray:
    index = check_tensor(index, f"{name}(): index")
    if index._data.dtype != np.int64 and index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {index.dtype}")
    if index._data.ndim != input._data.ndim and input._data.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor "
                           f"({name}: index shape {list(index.shape)}, input shape {list(input.shape)})")
    array = index._data
    size = input._data.shape[dim] if input._data.ndim else 1
    _check_bounds(array, size, dim, name)
    return array


class IndexOutOfBoundsError(IndexError, RuntimeError):
    """An index outside [0, size) given to gather, scatter, index_select, index_add or take_along_dim.
    Both an IndexError and a RuntimeError: PyTorch raises one or the other for the same mistake,
    depending on the op, the dim and the layout."""


def _check_bounds(array: np.ndarray, size: int, dim: int, name: str) -> None:
    """Indices must lie in [0, size): gather, scatter, index_select and index_add take no negative
    index (PyTorch raises; NumPy would wrap -1 round to the last entry)."""
    if array.size:
        low, high = array.min(), array.max()
        if low < 0 or high >= size:
            bad = int(low if low < 0 else high)
            raise IndexOutOfBoundsError(f"{name}(): index {bad} is out of bounds for dimension {dim} with size "
                                        f"{size} (indices must be in [0, {size}))")


class GatherAlong(Op):
    """out = input gathered along ``dim`` at ``index`` (its last input, data: integers of the output's shape),
    out[i][j] = input[i][index[i][j]] for dim = 1; the gradient adds gy back at those positions."""

    data_inputs = 1

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def name(self) -> str:
        return "GatherBackward0"

    def forward(self, x, index):
        self.input_shape, self.positions = x.shape, _along(self.dim, index)  # (for backward)
        return x[self.positions] if x.ndim else x[(Ellipsis,)]

    def backward(self, gy):
        return IndexAddInto(self.input_shape, self.positions, True)(gy)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j] = input[i][index[i][j]]`` for dim=1; ``index`` has the same number of dims."""
    dim = normalize_dim(dim, input._data.ndim)
    _check_index(index, input, dim, "gather")
    return GatherAlong(dim)(input, index)


def scatter(input: Tensor, dim: int, index: Tensor, src: Any, reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``out[i][index[i][j]] = src[i][j]`` (dim=1); ``src`` may be a number."""
    dim = normalize_dim(dim, input._data.ndim)
    array = _check_index(index, input, dim, "scatter")
    positions = _along(dim, array)
    if isinstance(src, Tensor):
        src = src[tuple(slice(0, n) for n in array.shape)]
    if reduce == "add":
        return shown_as(IndexAccumulate(positions)(input, cast_to(_broadcast_value(src, array.shape, input),
                                                                   input.dtype)), "ScatterAddBackward0")
    if reduce == "multiply":
        factors = scatter(input.new_ones(input.shape), dim, index, src)
        return input * factors
    if reduce is not None:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    overload = 0 if isinstance(src, Tensor) else 1  # PyTorch's scatter of a tensor, of a number
    return shown_as(IndexPut(positions)(input, cast_to(as_operand(src), input.dtype)), f"ScatterBackward{overload}")


def _broadcast_value(src: Any, shape: tuple, like: Tensor) -> Tensor:
    if isinstance(src, Tensor):
        return src
    return Tensor._make(np.full(shape, src, dtype=like._data.dtype))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``out[i][index[i][j]] += src[i][j]`` (dim=1); repeats accumulate."""
    return scatter(input, dim, index, src, reduce="add")


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries at ``index`` (1-D) along ``dim``."""
    dim = normalize_dim(dim, input._data.ndim)
    index = check_tensor(index, "index_select(): index")
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    _check_bounds(index._data, input._data.shape[dim] if input._data.ndim else 1, dim, "index_select")
    return shown_as(getitem(input, (slice(None),) * dim + (index._data.reshape(-1),)), "IndexSelectBackward0")


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """A copy of ``input`` with ``source`` (times alpha) added at the entries ``index`` along ``dim``."""
    dim = normalize_dim(dim, input._data.ndim)
    index = check_tensor(index, "index_add(): index")
    _check_bounds(index._data, input._data.shape[dim] if input._data.ndim else 1, dim, "index_add")
    positions = (slice(None),) * dim + (index._data.reshape(-1),)
    if alpha != 1:
        source = source * alpha
    return shown_as(IndexAccumulate(positions)(input, cast_to(source, input.dtype)), "IndexAddBackward0")


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` where ``mask`` is True, else ``input`` (mask broadcasts)."""
    from shenjing._ops.elementwise import where

    mask = check_tensor(mask, "masked_fill(): mask")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        value = cast_to(value, input.dtype)
    result = where(mask, value, input)
    return shown_as(cast_to(result, input.dtype) if result.dtype is not input.dtype else result, "MaskedFillBackward0")


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where ``mask`` (broadcast) is True, as a 1-D tensor."""
    from shenjing._ops.shape import broadcast_tensors

    input, mask = broadcast_tensors(input, mask)
    return shown_as(getitem(input, mask._data), "MaskedSelectBackward0")


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one tensor per dim."""
    indices = np.nonzero(input._data)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in indices)
    return Tensor._make(np.stack(indices, axis=1).astype(np.int64) if indices else np.zeros((0, 0), np.int64))


def take_along_dim(input: Tensor, indices: Tensor, dim: int) -> Tensor:
    """``gather`` that also takes negative indices (counted from the end), as PyTorch's does."""
    indices = check_tensor(indices, "take_along_dim(): indices")
    size = input._data.shape[normalize_dim(dim, input._data.ndim)] if input._data.ndim else 1
    if indices._data.size and indices._data.min() < 0:
        indices = Tensor._make(np.where(indices._data < 0, indices._data + size, indices._data))
    return gather(input, dim, indices)


