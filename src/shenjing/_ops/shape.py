"""Shape ops: reshape/view, permute/transpose, expand and its adjoint sum_to, repeat, cat, flip.

Composite ops (squeeze, unsqueeze, flatten, stack, split, ...) are written with these and need no
backward of their own.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import as_shape, cast_to, check_tensor, normalize_dim, normalize_dims
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, backward_op, shown_as


__all__ = ["concatenate", "swapdims", "reshape", "view", "flatten", "unflatten",
           "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "t", "movedim", "moveaxis", "sum_to",
           "expand", "broadcast_to", "broadcast_tensors", "broadcast_shapes", "repeat", "tile", "flip",
           "cat", "concat", "stack", "hstack", "vstack", "split", "chunk", "unbind"]

def broadcast_error(op_name: str, a: Any, b: Any) -> RuntimeError:
    """PyTorch-style message naming both shapes and the first dimension that disagrees."""
    shape_a, shape_b = tuple(np.shape(getattr(a, "_data", a))), tuple(np.shape(getattr(b, "_data", b)))
    for offset in range(1, min(len(shape_a), len(shape_b)) + 1):
        size_a, size_b = shape_a[-offset], shape_b[-offset]
        if size_a != size_b and size_a != 1 and size_b != 1:
            dim = max(len(shape_a), len(shape_b)) - offset
            return RuntimeError(f"{op_name}: the size of tensor a ({size_a}) must match the size of tensor b "
                                f"({size_b}) at non-singleton dimension {dim}; shapes {list(shape_a)} and "
                                f"{list(shape_b)} cannot be broadcast together")
    return RuntimeError(f"{op_name}: shapes {list(shape_a)} and {list(shape_b)} cannot be broadcast together")


# -- reshape and view ------------------------------------------------------------------------------

class Reshape(Op):
    returns_view = True
    copied = False  # whether the result is a copy (the layout could not give a view)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def name(self) -> str:
        return "UnsafeViewBackward0" if self.copied else "ViewBackward0"  # (PyTorch: a copy, then its view)

    def forward(self, x):
        self.input_shape = x.shape
        result = x.reshape(self.shape)
        self.copied = result.size > 0 and not np.may_share_memory(result, x)
        return result

    def backward(self, gy):
        return backward_op(Reshape(self.input_shape), gy)

    def backward_arrays(self, gy):
        return gy.reshape(self.input_shape)


class View(Reshape):
    def forward(self, x):
        self.input_shape = x.shape
        result = x.view()
        try:
            result.shape = self.shape
        except AttributeError:
            raise RuntimeError(f"view size is not compatible with input tensor's size and stride (at least one "
                               f"dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
                               f"(input shape {list(x.shape)}, requested {list(self.shape)})") from None
        return result


def _resolve_shape(shape: tuple[int, ...], numel: int, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Fill in one -1 and check the element count, with a message naming both shapes."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel} "
                               f"(input shape {list(input_shape)})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(input shape {list(input_shape)})")
    return shape


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1). A view when possible, else a copy."""
    shape = _resolve_shape(as_shape(shape), input._data.size, input._data.shape)
    if shape == input._data.shape:
        return input if input.grad_fn is None and not input.requires_grad else Reshape(shape)(input)
    return Reshape(shape)(input)


def view(input: Tensor, *shape: Any) -> Tensor:
    """Like ``reshape`` but never copies: fails for shapes that the memory layout cannot express."""
    return View(_resolve_shape(as_shape(shape), input._data.size, input._data.shape))(input)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one: (N, C, H, W).flatten(1) -> (N, C*H*W)."""
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    start, end = normalize_dim(start_dim, len(shape)), normalize_dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1): the inverse of ``flatten``."""
    shape = input._data.shape
    dim = normalize_dim(dim, len(shape))
    sizes = _resolve_shape(tuple(sizes), shape[dim], (shape[dim],))
    return reshape(input, shape[:dim] + sizes + shape[dim + 1:])


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove dims of size 1 (all of them, or only those named in ``dim``)."""
    shape = input._data.shape
    dims = normalize_dims(dim, len(shape)) if dim is not None else range(len(shape))
    squeezed = reshape(input, tuple(s for d, s in enumerate(shape) if not (d in dims and s == 1)))
    overload = 0 if dim is None else 2 if isinstance(dim, (tuple, list)) else 1  # PyTorch's three squeezes
    return shown_as(squeezed, f"SqueezeBackward{overload}")


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim`` (negative counts from the end of the result)."""
    shape = input._data.shape
    dim = normalize_dim(dim, len(shape) + 1)
    return shown_as(reshape(input, shape[:dim] + (1,) + shape[dim:]), "UnsqueezeBackward0")


# -- permutations ----------------------------------------------------------------------------------

class Permute(Op):
    """y = x with its dims reordered (a view). ``label`` is PyTorch's name for the call that made it:
    Permute, Transpose (transpose, swapaxes, mT) or T (t)."""

    returns_view = True

    def __init__(self, dims: tuple[int, ...], label: str = "Permute") -> None:
        self.dims, self.label = dims, label

    def name(self) -> str:
        return f"{self.label}Backward0"

    def forward(self, x):
        return np.transpose(x, self.dims)

    def backward(self, gy):
        return permute(gy, *np.argsort(self.dims))


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dims: ``x.permute(0, 2, 3, 1)`` turns NCHW into NHWC (a view)."""
    ndim = input._data.ndim
    dims = as_shape(dims)
    normalized = tuple(normalize_dim(d, ndim) for d in dims)
    if len(dims) != ndim or sorted(normalized) != list(range(ndim)):
        raise RuntimeError(f"permute: dims {list(dims)} must be a permutation of the {ndim} dims of a tensor "
                           f"of shape {list(input.shape)}")
    return Permute(normalized)(input)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    ndim = input._data.ndim
    if ndim == 0:
        return input
    dims = list(range(ndim))
    a, b = normalize_dim(dim0, ndim), normalize_dim(dim1, ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute(tuple(dims), "Transpose")(input)


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a matrix (a 0-d or 1-d tensor is returned as is)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    return input if input._data.ndim < 2 else Permute((1, 0), "T")(input)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dims ``source`` to positions ``destination``, keeping the others in order."""
    ndim = input._data.ndim
    sources = [normalize_dim(d, ndim) for d in (source if isinstance(source, (tuple, list)) else [source])]
    targets = [normalize_dim(d, ndim) for d in (destination if isinstance(destination, (tuple, list))
                                                else [destination])]
    if len(sources) != len(targets):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({sources} dims) should "
                           f"contain the same number of dims as destination ({targets} dims)")
    order = [d for d in range(ndim) if d not in sources]
    for target, source_dim in sorted(zip(targets, sources)):
        order.insert(target, source_dim)
    return permute(input, *order) if ndim else input


moveaxis = movedim


# -- broadcasting ----------------------------------------------------------------------------------

class Expand(Op):
    returns_view = True

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.input_shape)


class SumTo(Op):
    """Sum a broadcast gradient back to ``shape``: the adjoint of ``expand``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1)
        result = x.sum(axis=axes, keepdims=True) if axes else x
        return result.reshape(self.shape)

    def backward(self, gy):
        return expand(gy, self.input_shape)


def sum_to(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum over the dims that broadcasting added or stretched, so the result has ``shape``."""
    if input._data.shape == tuple(shape):
        return input
    in_shape = input._data.shape
    lead = len(in_shape) - len(shape)
    if lead < 0 or any(s != 1 and s != n for s, n in zip(shape, in_shape[lead:])):
        raise RuntimeError(f"sum_to: shape {list(in_shape)} cannot be summed to shape {list(shape)}")
    return SumTo(tuple(shape))(input)


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size). Read-only: clone() to write."""
    sizes = as_shape(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, size in enumerate(sizes):
        current = shape[i - lead] if i >= lead else None
        if size == -1:
            if current is None:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension ({i})")
            size = current
        elif current is not None and current != 1 and current != size:
            raise RuntimeError(f"The expanded size of the tensor ({size}) must match the existing size "
                               f"({current}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
        target.append(size)
    target = tuple(target)
    return input if target == shape else Expand(target)(input)


broadcast_to = expand


def broadcast_tensors(*tensors: Tensor) -> tuple:
    shape = broadcast_shapes(*(t._data.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes: Any) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"shapes {[list(s) for s in shapes]} cannot be broadcast together") from None


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor: ``repeat(2, 1)`` stacks two copies along dim 0 (copies, unlike expand)."""
    sizes = as_shape(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           f"dimensions of tensor (repeat sizes {list(sizes)}, tensor shape {list(shape)})")
    shape = (1,) * (len(sizes) - len(shape)) + shape
    # tile as a broadcast: (r0, s0, r1, s1, ...) <- (1, s0, 1, s1, ...), then merge each pair
    paired = reshape(input, tuple(x for s in shape for x in (1, s)))
    tiled = expand(paired, tuple(x for r, s in zip(sizes, shape) for x in (r, s)))
    return shown_as(reshape(tiled, tuple(r * s for r, s in zip(sizes, shape))), "RepeatBackward0")


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(dims)
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


class Flip(Op):
    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x):
        return np.flip(x, self.dims).copy()  # a copy, as in PyTorch (NumPy's flip is a view)

    def backward(self, gy):
        return Flip(self.dims)(gy)


def flip(input: Tensor, dims: Any) -> Tensor:
    return Flip(normalize_dims(dims, input._data.ndim))(input)


# -- joining and splitting -------------------------------------------------------------------------

class Cat(Op):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        return np.concatenate(xs, axis=self.dim)

    def backward(self, gy):
        return split(gy, self.sizes, self.dim)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other sizes must agree."""
    tensors = [check_tensor(t, "cat() argument") for t in tensors]
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    tensors = [t for t in tensors if not (t._data.ndim == 1 and t._data.size == 0)] or tensors[:1]
    ndim = tensors[0]._data.ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    dim = normalize_dim(dim, ndim)
    reference = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        shape = t._data.shape
        if len(shape) != ndim or any(a != b for d, (a, b) in enumerate(zip(shape, reference)) if d != dim):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected size "
                               f"{list(reference)} but got size {list(shape)} for tensor number {i} in the list.")
    dtype = _dtype.result_type(*tensors)
    return Cat(dim)(*[cast_to(t, dtype) for t in tensors])


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    tensors = [check_tensor(t, "stack() argument") for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t._data.shape != tensors[0]._data.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} "
                               f"at entry 0 and {list(t.shape)} at entry {i}")
    dim = normalize_dim(dim, tensors[0]._data.ndim + 1)
    return shown_as(cat([unsqueeze(t, dim) for t in tensors], dim), "StackBackward0")


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([t if t._data.ndim > 1 else unsqueeze(t, 0) for t in tensors], 0)


class Split(Op):
    """Cut along ``dim`` into pieces of the given sizes: one node, so backward is one ``cat``."""

    returns_view = True

    def __init__(self, dim: int, sizes: list[int], given_sizes: bool = False) -> None:
        self.dim, self.sizes, self.given_sizes = dim, sizes, given_sizes

    def name(self) -> str:
        return "SplitWithSizesBackward0" if self.given_sizes else "SplitBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        return tuple(np.split(x, np.cumsum(self.sizes)[:-1], axis=self.dim))

    def backward(self, *gys):
        dtype = next(g for g in gys if g is not None)._data.dtype
        pieces = []
        for size, g in zip(self.sizes, gys):
            if g is None:
                shape = self.input_shape[:self.dim] + (size,) + self.input_shape[self.dim + 1:]
                g = Tensor._make(np.zeros(shape, dtype))
            pieces.append(g)
        return Cat(self.dim)(*pieces)


def split(input: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Cut along ``dim`` into pieces of a given size (the last may be smaller) or given sizes."""
    dim = normalize_dim(dim, input._data.ndim)
    length = input._data.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and length:
            raise RuntimeError(f"split expects split_size be positive, but got split_size={size}")
        sizes = [min(size, length - start) for start in range(0, length, size)] if length else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {length} (input tensor's "
                               f"size at dimension {dim}), but got split_sizes={sizes}")
    return Split(dim, sizes, not isinstance(split_size_or_sections, int))(input)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if n is small)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    length = input._data.shape[normalize_dim(dim, input._data.ndim)]
    return split(input, max(1, -(-length // chunks)), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim."""
    dim = normalize_dim(dim, input._data.ndim)
    shape = input._data.shape
    kept = shape[:dim] + shape[dim + 1:]
    return tuple(shown_as(Reshape(kept)(piece), "UnbindBackward0") for piece in split(input, 1, dim))
