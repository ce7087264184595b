"""Comparisons, logic and tests of values: never differentiable, always bool (or a Python bool).

Operands broadcast like arithmetic; a shape mismatch names both shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import array_of, as_operand
from shenjing._tensor import Tensor

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
           "bitwise_not", "isnan", "isinf", "isfinite", "equal", "allclose", "isclose", "greater",
           "greater_equal", "less", "less_equal", "not_equal"]

def _compare(function: Any, a: Any, b: Any) -> Tensor:
    a, b = as_operand(a), as_operand(b)
    try:
        return Tensor._make(np.asarray(function(array_of(a), array_of(b))))
    except ValueError:
        from shenjing._ops.shape import broadcast_error

        raise broadcast_error(function.__name__, a, b) from None


def eq(input: Any, other: Any) -> Tensor:
    return _compare(np.equal, input, other)


def ne(input: Any, other: Any) -> Tensor:
    return _compare(np.not_equal, input, other)


def lt(input: Any, other: Any) -> Tensor:
    return _compare(np.less, input, other)


def le(input: Any, other: Any) -> Tensor:
    return _compare(np.less_equal, input, other)


def gt(input: Any, other: Any) -> Tensor:
    return _compare(np.greater, input, other)


def ge(input: Any, other: Any) -> Tensor:
    return _compare(np.greater_equal, input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_and(input: Any, other: Any) -> Tensor:
    return _compare(np.logical_and, input, other)


def logical_or(input: Any, other: Any) -> Tensor:
    return _compare(np.logical_or, input, other)


def logical_xor(input: Any, other: Any) -> Tensor:
    return _compare(np.logical_xor, input, other)


def logical_not(input: Tensor) -> Tensor:
    return Tensor._make(np.logical_not(input._data))


def bitwise_not(input: Tensor) -> Tensor:
    return Tensor._make(np.invert(input._data))


def isnan(input: Tensor) -> Tensor:
    return Tensor._make(np.isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    return Tensor._make(np.isinf(input._data))


def isfinite(input: Tensor) -> Tensor:
    return Tensor._make(np.isfinite(input._data))


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both have the same shape and the same values."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """|input - other| <= atol + rtol |other| everywhere."""
    return bool(np.allclose(input._data, array_of(as_operand(other)), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    return Tensor._make(np.isclose(input._data, array_of(as_operand(other)), rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))
