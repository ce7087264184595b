"""Comparisons, logic and tests of values: never differentiable, always bool (or a Python bool).

Operands broadcast like arithmetic; a shape mismatch names both shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import array_of, as_operand, check_tensor
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
           "bitwise_not", "isnan", "isinf", "isfinite", "equal", "allclose", "isclose", "greater",
           "greater_equal", "less", "less_equal", "not_equal"]

class Compare(Op):
    """out = function(a, b) elementwise, broadcast, for a NumPy comparison or logical ``function``; bool,
    never differentiable. An op (not a bare array) so that ``shenjing.compile`` and the ONNX exporter
    see it."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def forward(self, a, b):
        try:
            return np.asarray(self.function(a, b))
        except ValueError:
            from shenjing._ops.shape import broadcast_error

            raise broadcast_error(self.function.__name__, a, b) from None


class Predicate(Op):
    """out = function(x) elementwise for a NumPy test or logical ``function`` (isnan, logical_not, ...);
    never differentiable."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def forward(self, x):
        return np.asarray(self.function(x))


class Closeness(Op):
    """out = |a - b| <= atol + rtol |b| where both are finite, a == b where either is infinite, and (with
    ``equal_nan``) True where both are NaN; broadcast, bool, never differentiable."""

    def __init__(self, rtol: float, atol: float, equal_nan: bool) -> None:
        self.rtol, self.atol, self.equal_nan = rtol, atol, equal_nan

    def forward(self, a, b):
        try:
            return np.asarray(np.isclose(a, b, rtol=self.rtol, atol=self.atol, equal_nan=self.equal_nan))
        except ValueError:
            from shenjing._ops.shape import broadcast_error

            raise broadcast_error("isclose", a, b) from None


def _compare(function: Any, a: Any, b: Any) -> Tensor:
    return Compare(function)(as_operand(a), as_operand(b))


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
    return Predicate(np.logical_not)(check_tensor(input, "logical_not(): input"))


def bitwise_not(input: Tensor) -> Tensor:
    return Predicate(np.invert)(check_tensor(input, "bitwise_not(): input"))


def isnan(input: Tensor) -> Tensor:
    return Predicate(np.isnan)(check_tensor(input, "isnan(): input"))


def isinf(input: Tensor) -> Tensor:
    return Predicate(np.isinf)(check_tensor(input, "isinf(): input"))


def isfinite(input: Tensor) -> Tensor:
    return Predicate(np.isfinite)(check_tensor(input, "isfinite(): input"))


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both have the same shape and the same values."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """|input - other| <= atol + rtol |other| everywhere."""
    return bool(np.allclose(input._data, array_of(as_operand(other)), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol |other| elementwise (infinities close only to themselves), bool.

    >>> import shenjing
    >>> shenjing.isclose(shenjing.tensor([1.0, 2.0]), shenjing.tensor([1.0 + 1e-9, 2.1]))
    tensor([ True, False])
    """
    return Closeness(rtol, atol, equal_nan)(check_tensor(input, "isclose(): input"), as_operand(other))
