"""Argument normalisation shared by the ops: dims, shapes, operands."""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._tensor import Tensor


def normalize_dim(dim: Any, ndim: int) -> int:
    """A dim in [-ndim, ndim) as a non-negative int; a 0-d tensor accepts dims 0 and -1, like PyTorch."""
    size = max(ndim, 1)
    dim = int(dim)
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-size}, {size - 1}], "
                         f"but got {dim})")
    return dim % size


def normalize_dims(dim: Any, ndim: int) -> tuple[int, ...]:
    """``None`` or ``()`` mean every dim; an int or a sequence of ints becomes a sorted tuple."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(sorted(normalize_dim(d, ndim) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
        return dims if ndim else ()
    return (normalize_dim(dim, ndim),) if ndim else ()


def as_shape(args: tuple) -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)`` -> ``(2, 3)``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        shape = tuple(int(s) for s in args)
    except (TypeError, ValueError):
        raise TypeError(f"sizes must be integers, got {args!r}") from None
    return shape


def as_size(args: tuple) -> tuple[int, ...]:
    """``as_shape`` for a new tensor's size: every size must be >= 0."""
    shape = as_shape(args)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
    return shape


def kept_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``dims`` set to 1 (the keepdim shape of a reduction)."""
    return tuple(1 if d in dims else s for d, s in enumerate(shape))


def as_operand(value: Any) -> Any:
    """Tensors pass through; arrays and NumPy scalars become tensors; Python numbers stay numbers."""
    if isinstance(value, Tensor) or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, np.ndarray):
        _dtype.from_numpy_dtype(value.dtype)  # refuses unsupported dtypes by name
        return Tensor._make(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        from shenjing._creation import tensor

        return tensor(value)
    raise TypeError(f"unsupported operand type {type(value).__name__}; expected a Tensor or a number")


def cast_to(value: Any, dtype: _dtype.dtype) -> Any:
    """A tensor operand converted (differentiably) to ``dtype``; Python numbers are left alone."""
    if isinstance(value, Tensor) and value._data.dtype != dtype.numpy:
        from shenjing._ops.elementwise import cast

        return cast(value, dtype)
    return value


def float_input(x: Tensor) -> Tensor:
    """Integer and bool tensors are promoted to the default float dtype by float-valued functions."""
    if x._data.dtype.kind != "f":
        from shenjing._ops.elementwise import cast

        return cast(x, _dtype.get_default_dtype())
    return x


def check_tensor(x: Any, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(x).__name__}")
    return x


def array_of(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x
