"""Scans along a dim: cumprod, cummax, cummin, logcumsumexp; differences and the trapezoid rule: diff,
gradient, trapezoid (trapz), cumulative_trapezoid.

(``cumsum`` lives with the reductions in ``reduce.py``.)
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import as_operand, cast_to, check_tensor, float_input, normalize_dim
from shenjing._ops.elementwise import exp, log, where
from shenjing._ops.index import narrow, scatter_add
from shenjing._ops.reduce import cumsum, sum
from shenjing._ops.shape import cat, flip
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["cumprod", "cummax", "cummin", "logcumsumexp", "diff", "trapezoid", "trapz", "cumulative_trapezoid",
           "gradient"]

cummax_result = collections.namedtuple("cummax", ["values", "indices"])
cummin_result = collections.namedtuple("cummin", ["values", "indices"])


class Cumprod(Op):
    """Running product along ``dim``. dx_i = sum_{j >= i} gy_j prod_{k <= j, k != i} x_k, in O(n) per row and
    exact with zeros: with z the first zero of the row, elements before z get revcumsum(gy out)_i / x_i,
    elements after z get 0, and x_z gets prod_{k<z} x_k * sum_{j >= z} gy_j prod_{z<k<=j} x_k."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        out = np.cumprod(x, axis=self.dim)
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        dim = self.dim

        def reverse_cumsum(t: Tensor) -> Tensor:
            return flip(cumsum(flip(t, dim), dim), dim)

        if x._data.size == 0 or not np.any(x._data == 0):
            return reverse_cumsum(gy * out) / x
        n = x._data.shape[dim]
        positions = np.arange(n).reshape((-1,) + (1,) * (x._data.ndim - dim - 1))
        is_zero = x._data == 0
        first_zero = np.where(np.any(is_zero, axis=dim, keepdims=True), np.argmax(is_zero, axis=dim, keepdims=True), n)
        before = Tensor._make(positions < first_zero)
        at = Tensor._make(positions == first_zero)
        after_or_at = Tensor._make(positions >= first_zero)
        grad_before = where(before, reverse_cumsum(gy * out) / where(before, x, 1.0), 0.0)
        prefix = NonzeroProduct(dim)(where(before, x, 1.0))  # prod_{k<z} x_k, kept as size 1 along dim
        running = cumprod(where(Tensor._make(positions <= first_zero), 1.0, x), dim)  # prod_{z<k<=j} x_k
        at_zero = sum(where(after_or_at, gy * running, 0.0), dim, keepdim=True) * prefix
        return grad_before + where(at, at_zero, 0.0)


class NonzeroProduct(Op):
    """The product along ``dim`` (kept as size 1) of an input without zeros: d/dx_i = out / x_i."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        out = np.prod(x, axis=self.dim, keepdims=True)
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        return gy * out / x


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running product along ``dim``: out_j = x_0 x_1 ... x_j (integers and bools give int64). The gradient
    is exact with zeros in the input."""
    check_tensor(input)
    if dtype is not None:
        input = cast_to(input, _dtype.as_dtype(dtype))
    if input._data.dtype.kind in "biu" and input._data.dtype != np.int64:
        input = cast_to(input, _dtype.int64)
    if input._data.ndim == 0:
        normalize_dim(dim, 0)
        return input.clone()
    return Cumprod(normalize_dim(dim, input._data.ndim))(input)


def _running_extreme(input: Tensor, dim: int, largest: bool, result: Any) -> Any:
    """(values, indices) of the running max (min) along ``dim``; the index is the last position holding
    the value so far (a nan, once met, stays the value, its index moving to each later nan)."""
    check_tensor(input)
    if input._data.ndim == 0:
        normalize_dim(dim, 0)
        return result(input.clone(), Tensor._make(np.zeros((), np.int64)))
    dim = normalize_dim(dim, input._data.ndim)
    data = input._data
    if data.shape[dim] == 0:
        return result(input.clone(), Tensor._make(np.zeros(data.shape, np.int64)))
    accumulate = np.maximum.accumulate if largest else np.minimum.accumulate
    values = accumulate(data, axis=dim)
    holds = data == values
    if data.dtype.kind == "f":
        holds |= np.isnan(data)
    positions = np.arange(data.shape[dim]).reshape((-1,) + (1,) * (data.ndim - dim - 1))
    indices = np.maximum.accumulate(np.where(holds, positions, -1), axis=dim).astype(np.int64)
    return result(RunningSelect(indices, dim, "Cummax" if largest else "Cummin")(input), Tensor._make(indices))


class RunningSelect(Op):
    """out_j = x[indices_j] along ``dim``; the gradient of each out_j goes to the element it copies."""

    def __init__(self, indices: np.ndarray, dim: int, kind: str) -> None:
        self.indices, self.dim, self.kind = indices, dim, kind

    def name(self) -> str:
        return f"{self.kind}Backward0"

    def forward(self, x):
        self.input_shape = x.shape
        return np.take_along_axis(x, self.indices, axis=self.dim)

    def backward(self, gy):
        zeros = Tensor._make(np.zeros(self.input_shape, gy._data.dtype))
        return scatter_add(zeros, self.dim, Tensor._make(self.indices), gy)


def cummax(input: Tensor, dim: int) -> Any:
    """(values, indices) of the running maximum along ``dim``."""
    return _running_extreme(input, dim, True, cummax_result)


def cummin(input: Tensor, dim: int) -> Any:
    """(values, indices) of the running minimum along ``dim``."""
    return _running_extreme(input, dim, False, cummin_result)


class LogCumSumExp(Op):
    """out_j = log(sum_{k <= j} e^(x_k)), accumulated with logaddexp (no overflow).
    dx_i = sum_{j >= i} gy_j e^(x_i - out_j), formed in log space for the positive and the negative parts
    of gy so that it does not overflow either."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def name(self) -> str:
        return "LogcumsumexpBackward0"

    def forward(self, x):
        out = np.logaddexp.accumulate(x, axis=self.dim) if x.size else x.copy()
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        dim = self.dim

        def reverse_logcumsumexp(t: Tensor) -> Tensor:
            return flip(LogCumSumExp(dim)(flip(t, dim)), dim)

        positive = Tensor._make(gy._data > 0)
        negative = Tensor._make(gy._data < 0)
        with np.errstate(divide="ignore"):
            log_positive = log(where(positive, gy, 1.0))
            log_negative = log(where(negative, -gy, 1.0))
        minus_inf = float("-inf")
        up = reverse_logcumsumexp(where(positive, log_positive - out, minus_inf))
        down = reverse_logcumsumexp(where(negative, log_negative - out, minus_inf))
        return exp(up + x) - exp(down + x)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log of the running sum of exp(input) along ``dim``, computed without overflow."""
    input = float_input(check_tensor(input))
    if input._data.ndim == 0:
        normalize_dim(dim, 0)
        return input.clone()
    return LogCumSumExp(normalize_dim(dim, input._data.ndim))(input)


# -- differences and the trapezoid rule -------------------------------------------------------------

def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along ``dim``: out_i = x_{i+1} - x_i, applied n times, after
    concatenating ``prepend`` and ``append`` (logical xor for bool tensors)."""
    check_tensor(input)
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = normalize_dim(dim, input._data.ndim)
    pieces = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        extra = as_operand(extra)
        if not isinstance(extra, Tensor):  # a number: one slice of that value
            shape = list(input._data.shape)
            shape[dim] = 1
            extra = Tensor._make(np.full(shape, extra, dtype=input._data.dtype))
        pieces.append(extra)
    x = cat(pieces, dim) if len(pieces) > 1 else input
    for _ in range(n):
        length = x._data.shape[dim]
        if length == 0:
            break
        later, earlier = narrow(x, dim, 1, length - 1), narrow(x, dim, 0, length - 1)
        x = Tensor._make(later._data ^ earlier._data) if x._data.dtype == np.bool_ else later - earlier
    return x


def _spacing(y: Tensor, x: Any, dx: Any, dim: int) -> Any:
    """The widths between samples: diff(x) along dim (x 1-D or of y's shape), or dx."""
    if x is None:
        return 1.0 if dx is None else dx
    x = as_operand(x)
    if not isinstance(x, Tensor):  # a number given positionally: the spacing
        return x
    if x._data.ndim == 1:
        widths = diff(x)
        shape = [1] * y._data.ndim
        shape[dim] = widths._data.shape[0]
        return widths.reshape(shape)
    return diff(x, dim=dim)


def trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The trapezoid rule along ``dim``: sum_i (y_i + y_{i+1}) / 2 * (x_{i+1} - x_i), the samples at
    ``x`` (a tensor) or spaced ``dx`` apart (1 by default)."""
    check_tensor(y)
    if x is not None and dx is not None:
        raise RuntimeError("trapezoid: received both x and dx; pass only one")
    dim = normalize_dim(dim, y._data.ndim)
    y = float_input(y) if isinstance(x, Tensor) and x._data.dtype.kind == "f" else y
    length = y._data.shape[dim]
    if length == 0:
        return sum(y, dim)
    spacing = _spacing(y, x, dx, dim)
    left, right = narrow(y, dim, 0, length - 1), narrow(y, dim, 1, length - 1)
    return sum((left + right) * spacing, dim) / 2


def trapz(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """``trapezoid`` (the older name)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The running trapezoid rule: out_j = integral from sample 0 to sample j + 1 (one element fewer)."""
    check_tensor(y)
    if x is not None and dx is not None:
        raise RuntimeError("cumulative_trapezoid: received both x and dx; pass only one")
    dim = normalize_dim(dim, y._data.ndim)
    length = y._data.shape[dim]
    if length == 0:
        return y
    spacing = _spacing(y, x, dx, dim)
    left, right = narrow(y, dim, 0, length - 1), narrow(y, dim, 1, length - 1)
    return cumsum((left + right) * spacing / 2, dim)


def _derivative_along(f: Tensor, dim: int, x: np.ndarray, edge_order: int) -> Tensor:
    """df/dx along ``dim`` at the sample points ``x`` (1-D, float64): second-order central differences
    inside, f_{i-1} (-hr / (hl (hl + hr))) + f_i (hr - hl) / (hl hr) + f_{i+1} hl / (hr (hl + hr)), and
    one-sided differences of order ``edge_order`` at the two ends."""
    n = f._data.shape[dim]
    dtype = f._data.dtype

    def along(values: np.ndarray) -> Tensor:  # coefficients shaped to broadcast along dim
        shape = [1] * f._data.ndim
        shape[dim] = -1
        return Tensor._make(np.asarray(values, dtype).reshape(shape))

    def part(start: int, length: int) -> Tensor:
        return narrow(f, dim, start, length)

    h = np.diff(x)
    hl, hr = h[:-1], h[1:]
    inner = (part(0, n - 2) * along(-hr / (hl * (hl + hr))) + part(1, n - 2) * along((hr - hl) / (hl * hr))
             + part(2, n - 2) * along(hl / (hr * (hl + hr))))
    if edge_order == 1:
        first = (part(1, 1) - part(0, 1)) * along([1 / h[0]])
        last = (part(n - 1, 1) - part(n - 2, 1)) * along([1 / h[-1]])
    else:
        h1, h2 = h[0], h[1]
        first = (part(0, 1) * along([-(2 * h1 + h2) / (h1 * (h1 + h2))]) + part(1, 1) * along([(h1 + h2) / (h1 * h2)])
                 + part(2, 1) * along([-h1 / (h2 * (h1 + h2))]))
        h1, h2 = h[-2], h[-1]
        last = (part(n - 3, 1) * along([h2 / (h1 * (h1 + h2))]) + part(n - 2, 1) * along([-(h1 + h2) / (h1 * h2)])
                + part(n - 1, 1) * along([(2 * h2 + h1) / (h2 * (h1 + h2))]))
    return cat([first, inner, last], dim)


def gradient(input: Tensor, *, spacing: Any = 1, dim: Any = None, edge_order: int = 1) -> tuple:
    """Estimates of the partial derivatives of ``input`` along each of ``dim`` (all dims by default), one
    tensor per dim: central differences inside, one-sided ones of order ``edge_order`` (1 or 2) at the ends.
    ``spacing``: a number (the same step everywhere), one number per dim, or one 1-D tensor of coordinates
    per dim."""
    check_tensor(input)
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got {edge_order}")
    f = float_input(input)
    if dim is None:
        dims = list(range(f._data.ndim))
    else:
        dims = [normalize_dim(d, f._data.ndim) for d in ((dim,) if isinstance(dim, int) else dim)]
    steps = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(steps) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or a list of length "
                           f"{len(dims)} but got a list of length {len(steps)}")
    results = []
    for d, step in zip(dims, steps):
        n = f._data.shape[d]
        if n < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least edge_order+1, "
                               f"but dimension {d} has size {n}")
        if isinstance(step, Tensor):
            if step._data.ndim != 1 or step._data.shape[0] != n:
                raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and of size "
                                   f"{n} along dim {d}, got a spacing tensor of shape {list(step.shape)}")
            coordinates = step._data.astype(np.float64)
        else:
            coordinates = np.arange(n, dtype=np.float64) * float(step)
        samples = cast_to(f, _dtype.result_type(f, step)) if isinstance(step, Tensor) else f
        results.append(_derivative_along(samples, d, coordinates, edge_order))
    return tuple(results)
