"""Data types and PyTorch's type-promotion rules.

A shenjing ``dtype`` wraps a NumPy dtype and prints like PyTorch's (``shenjing.float32``). Promotion
follows PyTorch, not NumPy: categories rank bool < integer < floating; a tensor with dimensions
outranks a zero-dimensional tensor, which outranks a Python number, *within* a category; and a
Python float meeting an integer tensor gives the default float dtype (float32), never float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
           "get_default_dtype", "set_default_dtype", "as_dtype", "result_type"]

BOOL, INTEGER, FLOATING = 0, 1, 2


class dtype:
    """A tensor element type: ``shenjing.float32``, ``shenjing.int64``, ..."""

    __slots__ = ("name", "numpy", "category", "itemsize")

    def __init__(self, name: str, numpy_type: type, category: int) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_type)
        self.category = category
        self.itemsize = self.numpy.itemsize

    @property
    def is_floating_point(self) -> bool:
        return self.category == FLOATING

    @property
    def is_signed(self) -> bool:
        return self.name not in ("uint8", "bool")

    def __repr__(self) -> str:
        return f"shenjing.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float16 = dtype("float16", np.float16, FLOATING)
float32 = dtype("float32", np.float32, FLOATING)
float64 = dtype("float64", np.float64, FLOATING)
uint8 = dtype("uint8", np.uint8, INTEGER)
int8 = dtype("int8", np.int8, INTEGER)
int16 = dtype("int16", np.int16, INTEGER)
int32 = dtype("int32", np.int32, INTEGER)
int64 = dtype("int64", np.int64, INTEGER)
bool_ = dtype("bool", np.bool_, BOOL)

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NUMPY = {d.numpy: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
                 "short": int16})
_BY_PYTHON_TYPE = {float: None, int: int64, bool: bool_}

_default_float = [float32]


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(d: Any) -> None:
    """Set the default floating-point dtype: ``shenjing.float32`` or ``shenjing.float64``."""
    d = as_dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float[0] = d


def as_dtype(d: Any) -> dtype:
    """Turn a shenjing dtype, NumPy dtype, Python type or name ('float32') into a shenjing dtype."""
    if isinstance(d, dtype):
        return d
    if d in _BY_PYTHON_TYPE:
        return _BY_PYTHON_TYPE[d] or get_default_dtype()
    if isinstance(d, str):
        name = d.removeprefix("torch.").removeprefix("shenjing.")
        if name in _BY_NAME:
            return _BY_NAME[name]
    try:
        return _BY_NUMPY[np.dtype(d)]
    except (TypeError, KeyError):
        supported = ", ".join(x.name for x in _ALL)
        raise TypeError(f"unsupported dtype {d!r}; shenjing supports {supported}") from None


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        supported = ", ".join(x.name for x in _ALL)
        raise TypeError(f"can't convert an array of dtype {np_dtype} to a tensor; "
                        f"shenjing supports {supported}") from None


def _category_of_scalar(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, (int, np.integer)):
        return INTEGER
    return FLOATING


def _promote_same_priority(a: dtype | None, b: dtype) -> dtype:
    if a is None or a is b:
        return b
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NUMPY[np.promote_types(a.numpy, b.numpy)]


def result_type(*operands: Any) -> dtype:
    """The dtype PyTorch gives an op on these operands (tensors and Python numbers).

    >>> import shenjing
    >>> result_type(shenjing.tensor([1, 2], dtype=shenjing.int32), 2.5)
    shenjing.float32
    """
    dimensioned = zero_dim = None
    scalar_category = -1
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            if x.ndim:
                dimensioned = _promote_same_priority(dimensioned, d)
            else:
                zero_dim = _promote_same_priority(zero_dim, d)
        else:
            scalar_category = max(scalar_category, _category_of_scalar(x))
    result = dimensioned
    if zero_dim is not None and (result is None or zero_dim.category > result.category):
        result = zero_dim
    if result is None or scalar_category > result.category:
        result = {BOOL: bool_, INTEGER: int64, FLOATING: get_default_dtype()}[scalar_category]
    return result
