"""Rearranging elements: roll, rot90, fliplr/flipud, repeat_interleave, tensor_split and hsplit/vsplit/dsplit,
atleast_1d/2d/3d, dstack/column_stack/row_stack, ravel, take, narrow_copy.

Most are compositions of the shape ops (their gradients come with them); roll and repeat_interleave are ops
of their own: roll's backward rolls back, repeat_interleave's sums each group of repeated entries.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._ops._util import check_tensor, normalize_dim
from shenjing._ops.index import narrow
from shenjing._ops.shape import cat, flip, hstack, reshape, transpose, vstack
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["roll", "rot90", "fliplr", "flipud", "repeat_interleave", "tensor_split", "hsplit", "vsplit", "dsplit",
           "atleast_1d", "atleast_2d", "atleast_3d", "dstack", "column_stack", "row_stack", "ravel", "take",
           "narrow_copy"]


class Roll(Op):
    """y[(i + shift) mod n] = x[i] along each dim (over the flattened tensor when no dims are given)."""

    def __init__(self, shifts: tuple[int, ...], dims: tuple[int, ...] | None) -> None:
        self.shifts, self.dims = shifts, dims

    def name(self) -> str:
        return "RollBackward0"

    def forward(self, x):
        return np.roll(x, self.shifts, self.dims)

    def backward(self, gy):
        return Roll(tuple(-s for s in self.shifts), self.dims)(gy)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift the elements by ``shifts`` along ``dims``, wrapping around; without dims, over the flattened tensor
    (the shape kept). ``roll(tensor([1, 2, 3]), 1)`` is ``tensor([3, 1, 2])``."""
    check_tensor(input)
    shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: 0")
        return Roll(shifts, None)(input)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    return Roll(shifts, tuple(normalize_dim(d, input._data.ndim) for d in dims))(input)


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first axis towards the second."""
    check_tensor(input)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    d0, d1 = (normalize_dim(d, input._data.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(transpose(input, d0, d1), (d1,))
    return input.clone()


def fliplr(input: Tensor) -> Tensor:
    """Reverse the columns (dim 1); the input must have at least 2 dims."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Reverse the rows (dim 0); the input must have at least 1 dim."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


class RepeatInterleave(Op):
    """y = each slice of x along ``dim`` repeated ``repeats[i]`` times; dx = the sum over each group."""

    def __init__(self, repeats: np.ndarray, dim: int) -> None:
        self.repeats, self.dim = repeats, dim

    def name(self) -> str:
        return "RepeatInterleaveBackward0"

    def forward(self, x):
        return np.repeat(x, self.repeats, axis=self.dim)

    def backward(self, gy):
        return GroupSum(self.repeats, self.dim)(gy)


class GroupSum(Op):
    """y_i = the sum of x over the i-th group of ``repeats[i]`` consecutive slices along ``dim``."""

    def __init__(self, repeats: np.ndarray, dim: int) -> None:
        self.repeats, self.dim = repeats, dim

    def forward(self, x):
        starts = np.concatenate([[0], np.cumsum(self.repeats)[:-1]]).astype(np.intp)
        moved = np.moveaxis(x, self.dim, 0)
        out = np.zeros((len(self.repeats),) + moved.shape[1:], x.dtype)
        nonempty = self.repeats > 0
        if nonempty.any():
            out[nonempty] = np.add.reduceat(moved, starts[nonempty], axis=0)
        return np.moveaxis(out, 0, self.dim)

    def backward(self, gy):
        return RepeatInterleave(self.repeats, self.dim)(gy)


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each element (each slice along ``dim``) ``repeats`` times, in place order:
    ``repeat_interleave(tensor([1, 2]), 2)`` is ``tensor([1, 1, 2, 2])``. Without ``dim`` the input is flattened.
    ``repeat_interleave(counts)`` alone gives ``arange(len(counts))`` repeated by the counts."""
    check_tensor(input)
    if repeats is None:  # the index form
        counts = input._data
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave: repeats must be a 1-d tensor of integers")
        return Tensor._make(np.repeat(np.arange(len(counts), dtype=np.int64), counts))
    x = reshape(input, -1) if dim is None else input
    d = 0 if dim is None else normalize_dim(dim, x._data.ndim)
    size = x._data.shape[d] if x._data.ndim else 1
    counts = np.asarray(repeats._data if isinstance(repeats, Tensor) else repeats).astype(np.int64).reshape(-1)
    if counts.size == 1:
        counts = np.full(size, counts[0], np.int64)
    if counts.size != size:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{counts.size} and input.size({d}) = {size}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return RepeatInterleave(counts, d)(x if x._data.ndim else reshape(x, 1))


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple:
    """Split along ``dim`` into n parts as equal as possible (the first ones one longer), or at the given
    indices: ``tensor_split(arange(7), 3)`` has sizes 3, 2, 2; ``tensor_split(x, [1, 4])`` cuts before 1 and 4."""
    check_tensor(input)
    d = normalize_dim(dim, input._data.ndim)
    length = input._data.shape[d]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        spec = spec.item() if spec._data.ndim == 0 else spec._data.tolist()
    if isinstance(spec, (int, np.integer)):
        n = int(spec)
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        base, extra = divmod(length, n)
        sizes = [base + 1] * extra + [base] * (n - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        cuts = [min(max(int(i) if i >= 0 else int(i) + length, 0), length) for i in spec]
        bounds = [0] + cuts + [length]
    return tuple(narrow(input, d, start, max(0, stop - start)) for start, stop in zip(bounds[:-1], bounds[1:]))


def _split_along(name: str, input: Tensor, spec: Any, dim: int, min_ndim: int) -> tuple:
    if input._data.ndim < min_ndim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension"
                           f"{'s' if min_ndim > 1 else ''}, but got a tensor with {input._data.ndim} dimensions!")
    if isinstance(spec, (int, np.integer)) and input._data.shape[dim] % int(spec):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                           f"{input._data.shape[dim]} is not divisible by the split_size {int(spec)}!")
    return tensor_split(input, spec, dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple:
    """Split along dim 1 (dim 0 for a 1-D tensor), equally or at the given indices."""
    dim = 1 if input._data.ndim > 1 else 0
    return _split_along("hsplit", input, indices_or_sections, dim, 1)


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple:
    """Split along dim 0 of a tensor with 2 or more dims."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple:
    """Split along dim 2 of a tensor with 3 or more dims."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def _each(tensors: Any) -> tuple:
    return tuple(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tuple(tensors)


def _at_least(tensors: tuple, shape_of: Any) -> Any:
    items = _each(tensors)
    results = tuple(reshape(t, shape_of(t._data.shape)) if len(shape_of(t._data.shape)) != t._data.ndim else t
                    for t in items)
    return results[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else results


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,)); one tensor in, one out."""
    return _at_least(tensors, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: (n,) becomes (1, n)."""
    return _at_least(tensors, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1)."""
    def shape_of(s: tuple) -> tuple:
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)
    return _at_least(tensors, shape_of)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 2, after ``atleast_3d``."""
    return cat(list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(tensors[0])], 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Join as columns: 0-d and 1-d tensors become columns (n, 1), then ``hstack``."""
    return hstack([reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in tensors])


def row_stack(tensors: Sequence[Tensor]) -> Tensor:
    """``vstack``: join along dim 0, 1-d tensors as rows."""
    return vstack(tensors)


def ravel(input: Tensor) -> Tensor:
    """The tensor flattened to 1-D."""
    return reshape(input, -1)


def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of the flattened input at ``index`` (any shape: the result has the index's shape)."""
    check_tensor(input)
    flat = reshape(input, -1)
    positions = index._data if isinstance(index, Tensor) else np.asarray(index)
    if positions.dtype.kind not in "iu":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {positions.dtype}")
    size = flat._data.shape[0]
    if positions.size and (positions.max() >= size or positions.min() < -size):
        bad = int(positions.max() if positions.max() >= size else positions.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {size} elements.")
    return reshape(flat[Tensor._make(positions.reshape(-1).astype(np.int64))], positions.shape)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``narrow`` as a new tensor (no shared memory)."""
    return narrow(input, dim, start, length).clone()

