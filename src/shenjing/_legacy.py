"""Names that old tutorials still use, as PyTorch still accepts them: ``autograd.Variable`` and the typed
tensor constructors ``FloatTensor``, ``LongTensor``, ...

``Variable(t, requires_grad=True)`` is a tensor (a leaf sharing t's data), and ``isinstance(x, Variable)``
holds for every tensor. ``LongTensor([1, 2])`` is a tensor of those values as int64, ``FloatTensor(2, 3)`` a
(2, 3) float32 tensor (zeros; PyTorch leaves it uninitialised), and ``isinstance(x, FloatTensor)`` holds for
a float32 tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._tensor import Tensor

__all__ = ["Variable", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "CharTensor", "ByteTensor", "BoolTensor"]


class _AnyTensor(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_AnyTensor):
    """``Variable(data, requires_grad=False)``: the tensor ``data`` as a new leaf (PyTorch merged Variable into
    Tensor in 0.4; the name stays for old code)."""

    def __new__(cls, data: Any = None, requires_grad: bool = False, volatile: bool = False) -> Any:
        if data is None:
            return Tensor._make(np.zeros((0,), _dtype.get_default_dtype().numpy))
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        leaf = data.detach()
        return leaf.requires_grad_(requires_grad) if requires_grad else leaf


class _TypedTensor(type):
    """The metaclass of ``FloatTensor`` etc.: constructing makes a tensor of the class's dtype."""

    dtype: _dtype.dtype

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype.numpy

    def __call__(cls, *args: Any) -> Tensor:
        numpy_dtype = cls.dtype.numpy
        if not args:
            return Tensor._make(np.zeros((0,), numpy_dtype))
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0]._data.dtype != numpy_dtype:
                raise TypeError(f"expected {cls.__name__[:-6]} (got {args[0].dtype.name})")
            return args[0]
        if all(isinstance(a, (int, np.integer)) for a in args) or \
                (len(args) == 1 and type(args[0]).__name__ == "Size"):
            sizes = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], (int, np.integer)) else args
            return Tensor._make(np.zeros(tuple(int(s) for s in sizes), numpy_dtype))
        if len(args) == 1:
            return Tensor._make(np.array(args[0], dtype=numpy_dtype))
        raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of values, got {args!r}")


def _typed(name: str, d: _dtype.dtype) -> type:
    return _TypedTensor(name, (), {"dtype": d, "__doc__": f"``{name}(data)`` or ``{name}(*sizes)``: a {d.name} "
                                                           f"tensor (legacy constructor)."})


FloatTensor = _typed("FloatTensor", _dtype.float32)
DoubleTensor = _typed("DoubleTensor", _dtype.float64)
HalfTensor = _typed("HalfTensor", _dtype.float16)
LongTensor = _typed("LongTensor", _dtype.int64)
IntTensor = _typed("IntTensor", _dtype.int32)
ShortTensor = _typed("ShortTensor", _dtype.int16)
CharTensor = _typed("CharTensor", _dtype.int8)
ByteTensor = _typed("ByteTensor", _dtype.uint8)
BoolTensor = _typed("BoolTensor", _dtype.bool_)
